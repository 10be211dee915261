/*
 * mpgc_replay.h - loads an allocation trace (docs/fragmentation.md, "Trace
 * format") and replays it on a fresh mpgc heap of a given size under a
 * given placement policy. Used by `mpgc replay` (tools/mpgc.c).
 *
 * Loading resolves the trace's object names to dense root slots (a name is
 * reused only after its object is freed or dead), so a replay is a loop
 * over an array: every object the trace holds is in a root array that the
 * heap scans; a death clears its slot, a free frees it. Nothing else holds
 * a pointer (no stack scan), so objects live exactly as long as the trace
 * says.
 */
#ifndef MPGC_REPLAY_H
#define MPGC_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mpgc.h"

/* Placement policies by name. Add a row here for each new mpgc_policy_t:
 * `mpgc replay --policy NAME` and tools/frag-table.sh pick it up. */
typedef struct {
    const char *name;
    mpgc_policy_t policy;
    const char *what;
} replay_policy_t;
extern const replay_policy_t replay_policies[];
extern const size_t replay_npolicies;
const replay_policy_t *replay_policy_named(const char *name);

enum {
    OP_ALLOC, OP_REALLOC, OP_FREE, OP_DEAD, OP_LINK, OP_UNLINK, OP_COLLECT,
    OP_COLLECT_AUTO, OP_THRESHOLD, OP_ENABLE, OP_INFO, OP_MAP
};

typedef struct {
    uint8_t kind;
    uint8_t flags;   /* OP_ALLOC: MPGC_NO_SCAN | MPGC_FINALISE */
    uint32_t slot;   /* the object's root slot */
    uint32_t line;   /* in the trace file */
    int64_t arg;     /* size, second slot, threshold, 0/1 */
} replay_op_t;

typedef struct {
    replay_op_t *ops;
    size_t nops, cap;
    size_t nslots;        /* root slots a replay needs */
    size_t peak_live;     /* most block-granular bytes held at once: the floor */
    size_t peak_objects;
    size_t allocs, reallocs, frees, deaths, collects, auto_collects;
    uint64_t alloc_bytes; /* requested, in total */
    unsigned long warnings;
    char source[64];      /* the header's source= */
} replay_trace_t;

/* Reads a whole trace. False (and a message on stderr) on a syntax error. */
bool replay_load(replay_trace_t *t, FILE *f, const char *name);
void replay_free(replay_trace_t *t);

typedef struct {
    bool recorded_collections; /* also collect at `c a` lines */
    bool check;                /* mpgc_check after every collection */
    bool verbose;              /* print `i`/`m` lines and failures */
    bool timeline;             /* print the free space after every collection */
    /* Observers for `mpgc report` (each optional; ctx is theirs): after
     * every operation; after every collection, with its processor time,
     * the objects and bytes it freed; and once before the heap goes, at
     * the end or at the failing operation. */
    void (*on_op)(void *ctx, mpgc_t *gc, size_t op, uint32_t line);
    void (*on_collect)(void *ctx, mpgc_t *gc, size_t op, uint32_t line, double us,
                       size_t objects, size_t bytes);
    void (*on_end)(void *ctx, mpgc_t *gc);
    void *ctx;
} replay_opts_t;

typedef struct {
    bool ok;              /* every operation succeeded */
    bool too_small;       /* mpgc_init refused the size */
    size_t fail_op;       /* index of the failing operation */
    size_t fail_bytes;    /* what it asked for */
    size_t fail_free, fail_max_free; /* the heap when it failed (after a collection) */
    size_t collections;
    size_t samples;       /* collections where some memory was free */
    double run_sum, run_min; /* largest free run / free, after each collection */
    size_t peak_used;     /* most bytes allocated in the heap at once */
    bool check_ok;
} replay_result_t;

bool replay_run(const replay_trace_t *t, size_t heap_bytes, mpgc_policy_t policy,
                const replay_opts_t *o, replay_result_t *r);

#endif /* MPGC_REPLAY_H */
