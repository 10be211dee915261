/*
 * mpgc_mp_trace.h - the MicroPython adapter's trace recorder (build option
 * MPGC_MP_TRACE=1): every gc_alloc, gc_free, gc_realloc and collection, in
 * the trace format of docs/fragmentation.md, for `mpgc replay`. No
 * MicroPython header and nothing from libc beyond string.h: the text is
 * assembled by hand and handed to a writer, so it runs on bare metal too.
 *
 * Object names are block numbers counted from the start of the heap area,
 * so a name is reused only once its object is gone. Deaths: the recorder
 * keeps one bit per block of the area ("a recorded object starts here and
 * has been neither freed nor found dead"); after every collection, each
 * such object that is no longer an allocation (mpgc_size 0) was freed by
 * that collection, and gets a `d` line just before the collection's `c`
 * line. Objects in areas added later (split heap) are named too, but their
 * deaths are not found (counted in `outside`, noted in the trace).
 */
#ifndef MPGC_MP_TRACE_H
#define MPGC_MP_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpgc.h"

typedef struct mpgc_mp_trace {
    void (*write)(void *ctx, const char *s, size_t n); /* NULL: not recording */
    void *ctx;
    uintptr_t base;       /* block 0 of the bitmap */
    size_t block_bytes;
    unsigned char *live;  /* one bit per block from base */
    size_t nblocks;
    unsigned long outside; /* objects recorded outside [base, base + nblocks blocks) */
    char line[96];
    size_t len;
} mpgc_mp_trace_t;

/* Bytes of bitmap for an area of area_bytes (one bit per block, rounded up
 * to whole blocks so that what is left stays block-aligned). */
size_t mpgc_mp_trace_bitmap_bytes(size_t area_bytes, size_t block_bytes);

/* Starts recording: the bitmap (bitmap_bytes, from mpgc_mp_trace_bitmap_bytes)
 * covers the blocks from base. Writes the header line; source and extra
 * (key=value words, may be NULL) go into it. */
void mpgc_mp_trace_begin(mpgc_mp_trace_t *t, void (*write)(void *, const char *, size_t),
                         void *ctx, const void *base, unsigned char *bitmap, size_t bitmap_bytes,
                         size_t block_bytes, const char *extra);

/* The calls, after they succeeded (flags: MPGC_NO_SCAN | MPGC_FINALISE). */
void mpgc_mp_trace_alloc(mpgc_mp_trace_t *t, const void *p, size_t n, unsigned flags);
void mpgc_mp_trace_alloc_failed(mpgc_mp_trace_t *t, size_t n);
void mpgc_mp_trace_free(mpgc_mp_trace_t *t, const void *p);
void mpgc_mp_trace_realloc(mpgc_mp_trace_t *t, const void *old, const void *now, size_t n);
/* Right after a collection's sweep, before anything can allocate:
 * automatic: made by the heap (out of memory, threshold), not gc.collect(). */
void mpgc_mp_trace_collected(mpgc_mp_trace_t *t, const mpgc_t *gc, bool automatic);
void mpgc_mp_trace_threshold(mpgc_mp_trace_t *t, ptrdiff_t bytes); /* < 0: off */
void mpgc_mp_trace_enable(mpgc_mp_trace_t *t, bool on);
void mpgc_mp_trace_comment(mpgc_mp_trace_t *t, const char *text);

/* ---- in a MicroPython build (gc_mpgc.c) ------------------------------------ */

/* Where the text goes on a port without stdio: the port supplies this
 * function when it builds with MPGC_MP_TRACE=1 (unix: the adapter writes
 * to the file named by $MPGC_TRACE instead). */
void mpgc_mp_trace_port_write(const char *s, size_t n);

/* gc.threshold() and gc.enable()/disable(), recorded (modgc_mpgc.c calls
 * them; empty inline functions unless MPGC_MP_TRACE=1). */
#if defined(MPGC_MP_TRACE) && MPGC_MP_TRACE
void gc_mpgc_trace_threshold(ptrdiff_t bytes);
void gc_mpgc_trace_enable(bool on);
#else
static inline void gc_mpgc_trace_threshold(ptrdiff_t bytes) { (void)bytes; }
static inline void gc_mpgc_trace_enable(bool on) { (void)on; }
#endif

#endif /* MPGC_MP_TRACE_H */
