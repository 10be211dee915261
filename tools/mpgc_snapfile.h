/*
 * mpgc_snapfile.h - reads a heap snapshot (mpgc_snapshot, format v1:
 * docs/report.md section 2) into one byte per block, and the figures a
 * report draws from it. Host side (malloc), used by `mpgc report` and the
 * tests; the engine only writes snapshots.
 */
#ifndef MPGC_SNAPFILE_H
#define MPGC_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A block's table bits, as stored per block by the reader. */
#define SNAP_HEAD 1u
#define SNAP_TAIL 2u
#define SNAP_MARK 4u
#define SNAP_FIN 8u

/* What a block is drawn as; a head shows the first that applies of marked
 * (only inside a collection), finaliser, no-scan, head, as the text map of
 * mpgc_dump_alloc_table does. */
typedef enum {
    SNAP_S_FREE, SNAP_S_HEAD, SNAP_S_TAIL, SNAP_S_NOSCAN, SNAP_S_FIN, SNAP_S_MARKED, SNAP_NSTATES
} snap_state_t;
extern const char *const snap_state_names[SNAP_NSTATES];

typedef struct {
    uint64_t base;   /* address of block 0 in the program that wrote it */
    size_t nblocks;
    uint8_t *bits;   /* nblocks entries of SNAP_HEAD | SNAP_TAIL | ... */
} snap_pool_t;

typedef struct {
    unsigned version;
    unsigned block_bytes;
    bool in_collection;    /* taken inside a collection: marks are meaningful */
    uint64_t collections;  /* the heap's count when it was taken */
    size_t npools;
    snap_pool_t *pools;
} snap_t;

/* Parses a whole snapshot; false, with *why set, if it is not one (bad
 * magic, unknown version, truncated, trailing bytes, bits that no heap
 * has). s needs no set-up; on success free it with snap_free. */
bool snap_parse(snap_t *s, const uint8_t *data, size_t n, const char **why);
void snap_free(snap_t *s);

static inline snap_state_t snap_state(uint8_t bits) {
    if (!(bits & SNAP_HEAD)) return (bits & SNAP_TAIL) ? SNAP_S_TAIL : SNAP_S_FREE;
    if (bits & SNAP_MARK) return SNAP_S_MARKED;
    if (bits & SNAP_FIN) return SNAP_S_FIN;
    return (bits & SNAP_TAIL) ? SNAP_S_NOSCAN : SNAP_S_HEAD;
}

/* Totals over every pool, in blocks. The largest free run is the first
 * (lowest pool, lowest address) of the longest. */
typedef struct {
    size_t total, used, free, objects;
    size_t run, run_pool, run_start; /* largest free run: length, where */
    size_t runs;                     /* maximal free runs */
    size_t count[SNAP_NSTATES];      /* blocks drawn in each state */
} snap_sum_t;
void snap_summary(const snap_t *s, snap_sum_t *sum);

#endif /* MPGC_SNAPFILE_H */
