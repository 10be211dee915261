/*
 * mpgc_trace.h - records what a C program does with an mpgc heap as a
 * trace for `mpgc replay` (format: docs/fragmentation.md, "Trace format").
 *
 * A program calls these instead of mpgc_alloc/realloc/free/collect; each
 * wrapper calls the engine and writes one line. Objects are named by
 * sequence numbers (1, 2, 3, ...). Deaths come from two places:
 *  - mpgc_trace_dead(t, p): the program says it dropped its last
 *    reference to p (exact: the line is written at that moment);
 *  - a collection, explicit (mpgc_trace_collect) or automatic (inside an
 *    allocation, when the heap is enabled): every recorded object that the
 *    collection freed gets a `d` line just before the collection's `c`
 *    line (late by up to one collection interval).
 *
 * Host-side code for tools and benchmarks: it uses stdio and malloc, so it
 * is not part of the engine (src/ stays libc-free beyond string.h).
 */
#ifndef MPGC_TRACE_H
#define MPGC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mpgc.h"

typedef struct mpgc_trace mpgc_trace_t;

/* Starts a trace of gc's allocations on out (not closed by the recorder).
 * source: written into the header (source=...; no spaces), may be NULL.
 * NULL when out of memory. */
mpgc_trace_t *mpgc_trace_open(mpgc_t *gc, FILE *out, const char *source);
/* Writes the end line, frees the recorder; returns false if any write
 * failed. */
bool mpgc_trace_close(mpgc_trace_t *t);

/* The engine's calls, recorded. A failed allocation is recorded as a
 * comment (the replay does not repeat it). */
void *mpgc_trace_alloc(mpgc_trace_t *t, size_t n, unsigned flags);
void *mpgc_trace_realloc(mpgc_trace_t *t, void *p, size_t n, bool allow_move);
void mpgc_trace_free(mpgc_trace_t *t, void *p);
size_t mpgc_trace_collect(mpgc_trace_t *t);
void mpgc_trace_set_threshold(mpgc_trace_t *t, ptrdiff_t amount);

/* The program dropped its last reference to p (it must really drop it). */
void mpgc_trace_dead(mpgc_trace_t *t, void *p);
/* Stores a pointer to `to` (or NULL) in the first word of `from` and
 * records it: the replay keeps `to` alive while `from` is. */
void mpgc_trace_link(mpgc_trace_t *t, void *from, void *to);
/* A comment line (no newline in text). */
void mpgc_trace_comment(mpgc_trace_t *t, const char *text);

#endif /* MPGC_TRACE_H */
