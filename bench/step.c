/*
 * step.c - the incremental mode's demo (issue 13, item 4): a small VM's
 * heap, collected stop-the-world and in steps over the same deterministic
 * workload; pauses (p50, p99, max) and throughput of each.
 *
 *   mpgc-step [--quick] [--heaps 1,4,32] [--runs N] [--frames N]
 *             [--modes stw,incr,stw+barrier] [--step-kib K] [--span D]
 *             [--budget W] [--show-over MS] [--csv FILE]
 *
 * The VM (what an author of a small interpreter in C builds on mpgc): a
 * world array of records; a record {hdr, list, vec, name} owns a linked
 * list of L cells {hdr, leaf, next, owner}, a vector of VEC pointers to
 * its cells, and its name (no-scan bytes); a leaf {hdr, value, name, id}
 * points at the name of the record that made it. Every object is a few
 * words and most of its words are pointers. Ints are tagged (odd) words.
 * The world holds heap/2 bytes of records: 16 MiB in a 32 MiB heap.
 *
 * A frame is a fixed amount of mutator work, drawn from a generator with
 * the same seed in every mode: N_NEW records replaced by new ones (their
 * old cells and leaves become garbage), N_SWAP leaves swapped between the
 * cells of two records (old objects made to point at other old objects:
 * what a missing barrier gets wrong), N_MOVE cells moved to the front of
 * their list, N_BUMP leaves replaced by new ones, N_TEMP short-lived
 * temporaries (a vector of cells and a byte buffer), N_WALK lists walked
 * and hashed. Every pointer store into a heap object goes through put(),
 * which calls mpgc_write_barrier in the modes that need it.
 *
 * Roots: the VM's root array (the world and the objects under
 * construction), reported by the scan_roots callback, and the C stack
 * (mpgc_set_stack_top), which the final step of a cycle rescans. Nothing
 * is left to the stack alone: correctness does not depend on what the
 * compiler keeps in registers.
 *
 * Modes:
 *   stw          automatic collections only (collection when an allocation
 *                finds no room; no threshold); no barrier calls. Pauses are
 *                the collections.
 *   incr         mpgc_collect_step every step_bytes allocated, paced as
 *                below; put() calls mpgc_write_barrier. Pauses are the steps
 *                and any collection an allocation still makes (a fallback:
 *                the heap filled before the cycle ended).
 *   stw+barrier  stw, but put() calls mpgc_write_barrier (outside a cycle it
 *                returns at once): the barrier's call cost alone.
 *
 * Pacing (incr). After each cycle, room = total - mem_alloc. The next
 * cycle is meant to end within span = room / D bytes of allocation
 * (--span D, default 8): it opens when mem_alloc reaches total - 2 span
 * (the second span is the margin, for an estimate twice too small). A
 * step comes every step_bytes = min(K, span / 16) bytes allocated
 * (--step-kib K, default 16: at least 16 steps per cycle on small heaps),
 * and each gets budget = W / (span / step_bytes) words, where
 * W = mem_alloc / word at its opening: every word that could need
 * scanning, an overestimate (dead and no-scan objects are not scanned).
 * Like Lua's stepmul, the work per allocated byte is fixed for the cycle,
 * W / span, enough to finish before the heap fills. --budget W replaces
 * the paced budget by W words per step (to show what a runtime that paces
 * too slowly gets: fallback collections).
 *
 * Timing: CLOCK_MONOTONIC. A step is timed around mpgc_collect_step. A
 * collection inside an allocation is timed from its first callback (the
 * scan_roots callback, which comes before any marking since the VM
 * registers no root ranges, or the progress callback, every 4096 words of
 * work) to the allocation's return. Throughput: frames per second of wall
 * time, pauses included. --runs N runs of each mode; the table shows the
 * run with the median throughput, and the range of the maximum pause over
 * the runs. --show-over MS prints every pause longer than MS, in wall or
 * CPU time, as it happens: a preempted step shows a short CPU time.
 *
 * Correctness, in every run: the hash of every frame's walks and the
 * checksum of the whole world at the end (values, ids, names, structure)
 * must be the same in every mode and every run, and mpgc_check must hold
 * at the end; --quick also checks the heap every 16 frames, mid-cycle
 * included. A failure exits 1.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpgc.h"

#define WORD sizeof(void *)
#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define MAX_RUNS 15
#define MAX_HEAPS 8
#define MIN_STEPS 16 /* steps per cycle at least (the step interval shrinks) */

/* ---- the workload -------------------------------------------------------- */

#define L 12        /* cells per record */
#define VEC 6       /* vector entries per record */
#define NAME 16     /* bytes of a record's name */
#define TEMP_VEC 8  /* pointers in a temporary vector */
#define TEMP_BUF 64 /* bytes of a temporary buffer */
#define N_NEW 4
#define N_SWAP 48
#define N_MOVE 16
#define N_BUMP 32
#define N_TEMP 32
#define N_WALK 8

enum { K_WORLD = 1, K_REC, K_CELL, K_LEAF, K_VEC };
#define TAG(i) ((void *)(((uintptr_t)(i) << 1) | 1u))
#define UNTAG(p) ((uintptr_t)(p) >> 1)
#define HDR(kind, n) TAG(((uintptr_t)(n) << 4) | (uintptr_t)(kind))
#define KIND(o) (UNTAG((o)[0]) & 15u)
#define ARG(o) (UNTAG((o)[0]) >> 4)

/* Object layouts, in words. */
enum { REC_LIST = 1, REC_VEC, REC_NAME, REC_WORDS };
enum { CELL_LEAF = 1, CELL_NEXT, CELL_OWNER, CELL_WORDS };
enum { LEAF_VALUE = 1, LEAF_NAME, LEAF_ID, LEAF_WORDS };

typedef enum { MODE_STW, MODE_INCR, MODE_STW_BARRIER, NMODES } vm_mode_t;
static const char *const mode_names[NMODES] = {"stw", "incr", "stw+barrier"};

/* ---- options ----------------------------------------------------------- */

static struct {
    bool quick;
    int runs;
    size_t heaps[MAX_HEAPS];
    int nheaps;
    long frames; /* 0: heap / 512 */
    bool modes[NMODES];
    size_t step_bytes;
    size_t span_div;
    size_t fixed_budget; /* --budget: words per step, not paced (0: paced) */
    double show_over;    /* --show-over MS: print every pause longer (ns) */
    FILE *csv;
} O = {.runs = 5,
       .heaps = {1 * MiB, 4 * MiB, 32 * MiB},
       .nheaps = 3,
       .modes = {true, true, false},
       .step_bytes = 16 * KiB,
       .span_div = 8};

/* ---- the VM's state ------------------------------------------------------- */

#define NROOTS 8
static struct {
    mpgc_t *gc;
    void *mem;
    void *roots[NROOTS]; /* [0] the world; [1..] objects under construction */
    size_t nslots, total;
    uint64_t rng, hash, serial;
    bool barrier, incr;
    /* pacing */
    size_t debt, budget, span, trigger, step_bytes;
    /* measurements */
    double *pauses;
    size_t npauses, cap;
    double coll_t0, coll_c0, final_max, cpu_max;
    bool in_step;
    size_t steps, cycles, colls, max_used;
} V;

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* This thread's CPU time: a pause without the time the machine gave to
 * other processes (the machine is shared). */
static double cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static uint64_t rnd(void) { /* xorshift64 */
    V.rng ^= V.rng << 13;
    V.rng ^= V.rng >> 7;
    V.rng ^= V.rng << 17;
    return V.rng;
}
static size_t below(size_t n) { return (size_t)(rnd() % n); }

static void fold(uint64_t x) { V.hash = (V.hash ^ x) * 0x100000001b3u; }

static void record_pause(double ns, double cpu, const char *kind) {
    if (cpu > V.cpu_max) V.cpu_max = cpu;
    if (O.show_over > 0 && (ns > O.show_over || cpu > O.show_over))
        printf("  pause %zu (%s): wall %.3f ms, cpu %.3f ms, heap use %.2f MiB\n", V.npauses, kind,
               ns / 1e6, cpu / 1e6, (double)mpgc_mem_alloc(V.gc) / (double)MiB);
    if (V.npauses == V.cap) {
        V.cap = V.cap ? 2 * V.cap : 4096;
        V.pauses = realloc(V.pauses, V.cap * sizeof *V.pauses);
        if (!V.pauses) abort();
    }
    V.pauses[V.npauses++] = ns;
}

/* ---- callbacks: roots, and the start of a collection inside an allocation */

static void collection_began(void) {
    if (!V.in_step && V.coll_t0 == 0) {
        V.coll_c0 = cpu_ns();
        V.coll_t0 = now_ns();
    }
}
static void scan_roots(mpgc_t *gc, void *user) {
    (void)user;
    collection_began();
    mpgc_mark_range(gc, V.roots, sizeof V.roots);
}
static void progress(mpgc_t *gc, void *user) {
    (void)gc;
    (void)user;
    collection_began();
}

/* ---- pacing -------------------------------------------------------------- */

/* After a cycle (or a collection): when the next one opens and how long it
 * may take, in bytes allocated. */
static void plan_cycle(void) {
    size_t used = mpgc_mem_alloc(V.gc), room = V.total > used ? V.total - used : 0;
    V.span = room / O.span_div;
    V.trigger = V.total - 2 * V.span;
    /* at least MIN_STEPS steps per cycle (small heaps), at least a block */
    V.step_bytes = V.span / MIN_STEPS < O.step_bytes ? V.span / MIN_STEPS : O.step_bytes;
    V.step_bytes = V.step_bytes < MPGC_BLOCK_BYTES ? MPGC_BLOCK_BYTES : V.step_bytes;
}

/* Every step_bytes allocated: sample the heap's use; in incr mode, open a
 * cycle when its time has come and do a step of the open one. */
static void pace(void) {
    V.debt = 0;
    size_t used = mpgc_mem_alloc(V.gc);
    if (used > V.max_used) V.max_used = used;
    if (!V.incr) return;
    if (!mpgc_in_cycle(V.gc)) {
        if (used < V.trigger) return;
        size_t steps = V.span / V.step_bytes;
        steps = steps ? steps : 1;
        V.budget = O.fixed_budget ? O.fixed_budget : (used / WORD + steps - 1) / steps;
    }
    V.in_step = true;
    double c0 = cpu_ns(), t0 = now_ns();
    bool done = mpgc_collect_step(V.gc, V.budget);
    double t = now_ns() - t0, c = cpu_ns() - c0;
    V.in_step = false;
    record_pause(t, c, done ? "final step" : "step");
    V.steps++;
    if (done) {
        V.cycles++;
        if (t > V.final_max) V.final_max = t;
        plan_cycle();
    }
}

/* ---- the VM's heap operations ------------------------------------------- */

static void *vm_alloc(size_t n, unsigned flags) {
    void *p = mpgc_alloc(V.gc, n, flags);
    if (V.coll_t0 != 0) { /* this allocation collected */
        double t = now_ns() - V.coll_t0;
        record_pause(t, cpu_ns() - V.coll_c0, V.incr ? "fallback collection" : "collection");
        V.coll_t0 = 0;
        V.colls++;
        plan_cycle();
    }
    if (!p) {
        fprintf(stderr, "mpgc-step: heap full (%zu bytes asked, %zu in use)\n", n,
                mpgc_mem_alloc(V.gc));
        exit(1);
    }
    V.debt += (n + MPGC_BLOCK_BYTES - 1) / MPGC_BLOCK_BYTES * MPGC_BLOCK_BYTES;
    if (V.debt >= V.step_bytes) pace();
    return p;
}

/* Every pointer store into a heap object. */
static inline void put(void **obj, size_t i, void *v) {
    obj[i] = v;
    if (V.barrier) mpgc_write_barrier(V.gc, obj, v);
}

static void **world(void) { return V.roots[0]; }
static void **slot(size_t s) { return world()[1 + s]; }

static void **cell_at(void **rec, size_t i) {
    void **c = rec[REC_LIST];
    while (i--) c = c[CELL_NEXT];
    return c;
}

/* A record's name, "r<id>": fits NAME bytes while id < 10^14. */
static void name_of(char out[24], uint64_t id) {
    snprintf(out, 24, "r%llu", (unsigned long long)id);
}

static void **new_leaf(uintptr_t value, void *name, uintptr_t id) {
    void **leaf = vm_alloc(LEAF_WORDS * WORD, 0);
    leaf[0] = HDR(K_LEAF, 0);
    leaf[LEAF_VALUE] = TAG(value);
    put(leaf, LEAF_NAME, name);
    leaf[LEAF_ID] = TAG(id);
    return leaf;
}

/* A record with its name, L cells and leaves, and its vector. Objects
 * under construction are held in roots[1..2]. */
static void **new_record(void) {
    uint64_t id = V.serial++;
    void **rec = vm_alloc(REC_WORDS * WORD, 0);
    rec[0] = HDR(K_REC, id);
    V.roots[1] = rec;
    char *name = vm_alloc(NAME, MPGC_NO_SCAN), text[24];
    name_of(text, id);
    memcpy(name, text, NAME);
    put(rec, REC_NAME, name);
    void **prev = NULL;
    for (size_t i = 0; i < L; i++) {
        void **leaf = new_leaf((uintptr_t)below(1000), name, (uintptr_t)id);
        V.roots[2] = leaf;
        void **cell = vm_alloc(CELL_WORDS * WORD, 0);
        cell[0] = HDR(K_CELL, 0);
        put(cell, CELL_LEAF, leaf);
        put(cell, CELL_OWNER, rec);
        if (prev)
            put(prev, CELL_NEXT, cell);
        else
            put(rec, REC_LIST, cell);
        prev = cell;
    }
    V.roots[2] = NULL;
    void **vec = vm_alloc((1 + VEC) * WORD, 0);
    vec[0] = HDR(K_VEC, VEC);
    for (size_t j = 0; j < VEC; j++) put(vec, 1 + j, cell_at(rec, below(L)));
    put(rec, REC_VEC, vec);
    V.roots[1] = NULL;
    return rec;
}

static void op_new(void) {
    size_t s = below(V.nslots);
    void **rec = new_record();
    put(world(), 1 + s, rec);
}

static void op_swap(void) {
    void **a = cell_at(slot(below(V.nslots)), below(L));
    void **b = cell_at(slot(below(V.nslots)), below(L));
    void *t = a[CELL_LEAF];
    put(a, CELL_LEAF, b[CELL_LEAF]);
    put(b, CELL_LEAF, t);
}

static void op_move(void) {
    void **rec = slot(below(V.nslots));
    void **prev = cell_at(rec, below(L - 1)), **c = prev[CELL_NEXT];
    put(prev, CELL_NEXT, c[CELL_NEXT]);
    put(c, CELL_NEXT, rec[REC_LIST]);
    put(rec, REC_LIST, c);
}

static void op_bump(void) {
    void **c = cell_at(slot(below(V.nslots)), below(L));
    void **old = c[CELL_LEAF];
    void **leaf = new_leaf(UNTAG(old[LEAF_VALUE]) + 1, old[LEAF_NAME], UNTAG(old[LEAF_ID]));
    put(c, CELL_LEAF, leaf);
}

static void op_temp(void) {
    void **tv = vm_alloc((1 + TEMP_VEC) * WORD, 0);
    tv[0] = HDR(K_VEC, TEMP_VEC);
    V.roots[3] = tv;
    for (size_t k = 0; k < TEMP_VEC; k++) put(tv, 1 + k, cell_at(slot(below(V.nslots)), below(L)));
    unsigned char *buf = vm_alloc(TEMP_BUF, MPGC_NO_SCAN);
    for (size_t k = 0; k < TEMP_BUF; k++) {
        void **leaf = ((void **)tv[1 + k % TEMP_VEC])[CELL_LEAF];
        buf[k] = (unsigned char)(UNTAG(leaf[LEAF_VALUE]) + k);
    }
    uint64_t h = 0;
    for (size_t k = 0; k < TEMP_BUF; k++) h = h * 31 + buf[k];
    fold(h);
    V.roots[3] = NULL;
}

static void op_walk(void) {
    void **rec = slot(below(V.nslots));
    uint64_t h = 0, pos = 1;
    for (void **c = rec[REC_LIST]; c; c = c[CELL_NEXT], pos++) {
        void **leaf = c[CELL_LEAF];
        const char *name = leaf[LEAF_NAME];
        h += pos * UNTAG(leaf[LEAF_VALUE]) + (unsigned char)name[1];
    }
    fold(h);
}

static void frame(void) {
    for (int i = 0; i < N_NEW; i++) op_new();
    for (int i = 0; i < N_SWAP; i++) op_swap();
    for (int i = 0; i < N_MOVE; i++) op_move();
    for (int i = 0; i < N_BUMP; i++) op_bump();
    for (int i = 0; i < N_TEMP; i++) op_temp();
    for (int i = 0; i < N_WALK; i++) op_walk();
}

/* The whole world: its structure checked, its contents hashed. 0 when
 * anything is wrong (a live object freed and reused shows here). */
static uint64_t world_checksum(void) {
    uint64_t h = 0xcbf29ce484222325u;
    char want[24];
    void **w = world();
    if (KIND(w) != K_WORLD || ARG(w) != V.nslots) return 0;
    for (size_t s = 0; s < V.nslots; s++) {
        void **rec = slot(s);
        if (!rec || KIND(rec) != K_REC) return 0;
        name_of(want, ARG(rec));
        if (strcmp(rec[REC_NAME], want) != 0) return 0;
        size_t n = 0;
        for (void **c = rec[REC_LIST]; c; c = c[CELL_NEXT], n++) {
            void **leaf = c[CELL_LEAF];
            if (n >= L || KIND(c) != K_CELL || c[CELL_OWNER] != rec || KIND(leaf) != K_LEAF)
                return 0;
            name_of(want, UNTAG(leaf[LEAF_ID]));
            if (strcmp(leaf[LEAF_NAME], want) != 0) return 0;
            h = (h ^ (UNTAG(leaf[LEAF_VALUE]) * 1000003u + UNTAG(leaf[LEAF_ID]))) * 0x100000001b3u;
        }
        void **vec = rec[REC_VEC];
        if (n != L || KIND(vec) != K_VEC || ARG(vec) != VEC) return 0;
        for (size_t j = 0; j < VEC; j++) {
            void **c = vec[1 + j];
            if (KIND(c) != K_CELL || c[CELL_OWNER] != rec) return 0;
            h = (h ^ UNTAG(((void **)c[CELL_LEAF])[LEAF_VALUE])) * 0x100000001b3u;
        }
        h = (h ^ ARG(rec)) * 0x100000001b3u;
    }
    return h ? h : 1;
}

/* ---- one run ----------------------------------------------------------- */

/* The timed part of a run: the frames, and in --quick a heap check every
 * 16 frames. Returns the frame after which a check failed, or -1. Called
 * through a volatile pointer so that it stays a function of its own:
 * `valgrind --tool=callgrind --toggle-collect=run_frames` counts the
 * instructions of the frames alone (docs/performance.md). */
static long run_frames(long frames) {
    for (long f = 0; f < frames; f++) {
        frame();
        if (O.quick && f % 16 == 15 && !mpgc_check(V.gc)) return f;
    }
    return -1;
}
static long (*volatile run_frames_fn)(long) = run_frames;

typedef struct {
    double secs, fps, p50, p99, max, final_max, cpu_max;
    size_t live, max_used, steps, cycles, colls, npauses;
    uint64_t hash, checksum;
    bool ok;
} run_t;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank: the smallest value with at least p of the values at or
 * below it. */
static double percentile(const double *v, size_t n, double p) {
    if (n == 0) return 0;
    size_t k = (size_t)((double)n * p + 0.999999);
    return v[(k ? k : 1) - 1];
}

static size_t blocks_of(size_t bytes) {
    return (bytes + MPGC_BLOCK_BYTES - 1) / MPGC_BLOCK_BYTES * MPGC_BLOCK_BYTES;
}

static long frames_for(size_t heap) {
    if (O.frames > 0) return O.frames;
    long f = (long)(heap / 512);
    return f < 2000 ? 2000 : f;
}

static run_t run(size_t heap, vm_mode_t mode, long frames, void *stack_top) {
    run_t r = {0};
    free(V.pauses);
    memset(&V, 0, sizeof V);
    V.mem = aligned_alloc(64, (heap + 63) & ~(size_t)63);
    if (!V.mem) abort();
    memset(V.mem, 0, heap); /* pre-fault: an embedded heap is already there */
    mpgc_config_t cfg = {0};
    cfg.scan_roots = scan_roots;
    cfg.progress = progress;
    V.gc = mpgc_init(V.mem, heap, &cfg);
    if (!V.gc) abort();
    mpgc_set_stack_top(V.gc, stack_top);
    mpgc_info_t info;
    mpgc_info(V.gc, &info);
    V.total = info.total;
    V.rng = 0x9e3779b97f4a7c15u;
    V.hash = 0xcbf29ce484222325u;

    /* The world: heap/2 bytes of records, built before the clock starts. */
    size_t rec_bytes = blocks_of(REC_WORDS * WORD) + L * blocks_of(CELL_WORDS * WORD) +
                       L * blocks_of(LEAF_WORDS * WORD) + blocks_of((1 + VEC) * WORD) +
                       blocks_of(NAME);
    V.nslots = (heap / 2) / (rec_bytes + WORD);
    void **w = vm_alloc((1 + V.nslots) * WORD, 0);
    w[0] = HDR(K_WORLD, V.nslots);
    V.roots[0] = w;
    for (size_t s = 0; s < V.nslots; s++) put(w, 1 + s, new_record());
    mpgc_collect(V.gc);
    V.coll_t0 = 0; /* that collection is not the workload's */
    V.npauses = V.steps = V.cycles = V.colls = 0;
    V.max_used = mpgc_mem_alloc(V.gc);
    V.final_max = 0;
    V.debt = 0;

    V.barrier = mode != MODE_STW;
    V.incr = mode == MODE_INCR;
    plan_cycle();
    double t0 = now_ns();
    long bad = run_frames_fn(frames);
    r.secs = (now_ns() - t0) / 1e9;
    if (bad >= 0) {
        fprintf(stderr, "mpgc-step: %s, heap %zu: mpgc_check failed after frame %ld%s\n",
                mode_names[mode], heap, bad, mpgc_in_cycle(V.gc) ? " (mid-cycle)" : "");
        free(V.mem);
        V.mem = NULL;
        return r; /* r.ok is false */
    }
    V.incr = false;

    r.fps = (double)frames / r.secs;
    qsort(V.pauses, V.npauses, sizeof *V.pauses, cmp_double);
    r.npauses = V.npauses;
    r.p50 = percentile(V.pauses, V.npauses, 0.50) / 1e6;
    r.p99 = percentile(V.pauses, V.npauses, 0.99) / 1e6;
    r.max = V.npauses ? V.pauses[V.npauses - 1] / 1e6 : 0;
    r.final_max = V.final_max / 1e6;
    r.cpu_max = V.cpu_max / 1e6;
    r.steps = V.steps;
    r.cycles = V.cycles;
    r.colls = V.colls;
    r.max_used = V.max_used;
    r.hash = V.hash;
    r.checksum = world_checksum();
    /* Live: what a full collection leaves (the cycle open, if any, is
     * abandoned by it). */
    mpgc_collect(V.gc);
    r.live = mpgc_mem_alloc(V.gc);
    r.ok = r.checksum != 0 && mpgc_check(V.gc) && world_checksum() == r.checksum;
    if (!r.ok)
        fprintf(stderr, "mpgc-step: %s, heap %zu: world walk or mpgc_check failed\n",
                mode_names[mode], heap);
    free(V.mem);
    V.mem = NULL;
    return r;
}

/* ---- the table ------------------------------------------------------------ */

static int cmp_run_fps(const void *a, const void *b) {
    double x = ((const run_t *)a)->fps, y = ((const run_t *)b)->fps;
    return (x > y) - (x < y);
}

static void print_header(void) {
    printf("%-12s %5s %8s %7s %10s %6s %8s %8s %8s %15s %8s %8s %7s %8s %5s %8s\n", "mode", "heap",
           "live MiB", "frames", "frames/s", "ratio", "p50 ms", "p99 ms", "max ms", "max range ms",
           "cpu max", "final ms", "steps", "coll/cyc", "fallb", "use MiB");
}

static bool failed;

static void table_row(size_t heap, vm_mode_t mode, run_t *runs, int n, long frames,
                      double stw_fps) {
    double lo = runs[0].max, hi = runs[0].max;
    for (int i = 1; i < n; i++) {
        lo = runs[i].max < lo ? runs[i].max : lo;
        hi = runs[i].max > hi ? runs[i].max : hi;
    }
    run_t sorted[MAX_RUNS];
    memcpy(sorted, runs, (size_t)n * sizeof *runs);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_run_fps);
    const run_t *m = &sorted[n / 2];
    char range[32], ratio[16], fallb[16];
    snprintf(range, sizeof range, "%.3f-%.3f", lo, hi);
    if (stw_fps > 0)
        snprintf(ratio, sizeof ratio, "%.3f", m->fps / stw_fps);
    else
        snprintf(ratio, sizeof ratio, "-");
    if (mode == MODE_INCR)
        snprintf(fallb, sizeof fallb, "%zu", m->colls);
    else
        snprintf(fallb, sizeof fallb, "-");
    printf("%-12s %4zuM %8.2f %7ld %10.0f %6s %8.3f %8.3f %8.3f %15s %8.3f %8.3f %7zu %8zu %5s "
           "%8.2f\n",
           mode_names[mode], heap / MiB, (double)m->live / (double)MiB, frames, m->fps, ratio,
           m->p50, m->p99, m->max, range, m->cpu_max, m->final_max, m->steps,
           mode == MODE_INCR ? m->cycles : m->colls, fallb, (double)m->max_used / (double)MiB);
    fflush(stdout);
    if (O.csv)
        for (int i = 0; i < n; i++)
            fprintf(
                O.csv,
                "%s,%zu,%d,%d,%zu,%ld,%.6f,%.1f,%.6f,%.6f,%.6f,%.6f,%.6f,%zu,%zu,%zu,%zu,%zu,%zu\n",
                mode_names[mode], heap, i, runs[i].fps == m->fps, runs[i].live, frames,
                runs[i].secs, runs[i].fps, runs[i].p50, runs[i].p99, runs[i].max, runs[i].cpu_max,
                runs[i].final_max, runs[i].npauses, runs[i].steps, runs[i].cycles, runs[i].colls,
                runs[i].max_used, O.step_bytes);
}

static void run_heap(size_t heap, void *stack_top) {
    static run_t runs[NMODES][MAX_RUNS];
    long frames = frames_for(heap);
    uint64_t hash = 0, checksum = 0;
    /* Modes interleaved run by run, so that a noisy spell of the machine
     * falls on all of them. */
    for (int i = 0; i < O.runs; i++)
        for (int m = 0; m < NMODES; m++) {
            if (!O.modes[m]) continue;
            run_t *r = &runs[m][i];
            *r = run(heap, (vm_mode_t)m, frames, stack_top);
            if (!hash) {
                hash = r->hash;
                checksum = r->checksum;
            }
            bool same = r->hash == hash && r->checksum == checksum;
            /* Steps ended cycles (with a fixed --budget, fallbacks may end them all) */
            bool plumbed = m == MODE_INCR
                               ? r->steps > r->cycles && (r->cycles > 0 || O.fixed_budget)
                               : r->colls > 0;
            if (!r->ok || !same || !plumbed) {
                fprintf(stderr,
                        "mpgc-step: %s, heap %zu, run %d: %s (hash %016llx/%016llx, "
                        "checksum %016llx/%016llx, %zu steps, %zu cycles, %zu collections)\n",
                        mode_names[m], heap, i,
                        !r->ok  ? "heap check failed"
                        : !same ? "results differ from the first run"
                                : "no collection work done",
                        (unsigned long long)r->hash, (unsigned long long)hash,
                        (unsigned long long)r->checksum, (unsigned long long)checksum, r->steps,
                        r->cycles, r->colls);
                failed = true;
            }
        }
    double stw_fps = 0;
    for (int m = 0; m < NMODES; m++) {
        if (!O.modes[m]) continue;
        table_row(heap, (vm_mode_t)m, runs[m], O.runs, frames, m == MODE_STW ? 0 : stw_fps);
        if (m == MODE_STW) {
            run_t sorted[MAX_RUNS];
            memcpy(sorted, runs[m], (size_t)O.runs * sizeof *sorted);
            qsort(sorted, (size_t)O.runs, sizeof *sorted, cmp_run_fps);
            stw_fps = sorted[O.runs / 2].fps;
        }
    }
}

static void usage(void) {
    fprintf(stderr, "usage: mpgc-step [--quick] [--heaps 1,4,32] [--runs N] [--frames N]\n"
                    "  [--modes stw,incr,stw+barrier] [--step-kib K] [--span D] [--budget W]\n"
                    "  [--show-over MS] [--csv FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int stack_top;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            O.quick = true;
            O.runs = 1;
            O.heaps[0] = 1 * MiB;
            O.nheaps = 1;
            O.frames = 1500;
            O.modes[MODE_STW_BARRIER] = true;
        } else if (!strcmp(a, "--runs") && v) {
            O.runs = atoi(v);
            i++;
        } else if (!strcmp(a, "--frames") && v) {
            O.frames = atol(v);
            i++;
        } else if (!strcmp(a, "--heaps") && v) {
            O.nheaps = 0;
            for (char *e, *s = (char *)v; *s && O.nheaps < MAX_HEAPS; s = *e ? e + 1 : e)
                O.heaps[O.nheaps++] = (size_t)strtoul(s, &e, 10) * MiB;
            i++;
        } else if (!strcmp(a, "--modes") && v) {
            memset(O.modes, 0, sizeof O.modes);
            for (int m = 0; m < NMODES; m++) {
                size_t n = strlen(mode_names[m]);
                for (const char *s = v; (s = strstr(s, mode_names[m])); s += n)
                    if ((s == v || s[-1] == ',') && (s[n] == ',' || s[n] == 0)) O.modes[m] = true;
            }
            i++;
        } else if (!strcmp(a, "--step-kib") && v) {
            O.step_bytes = (size_t)strtoul(v, NULL, 10) * KiB;
            i++;
        } else if (!strcmp(a, "--budget") && v) {
            O.fixed_budget = (size_t)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--show-over") && v) {
            O.show_over = strtod(v, NULL) * 1e6;
            i++;
        } else if (!strcmp(a, "--span") && v) {
            O.span_div = (size_t)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--csv") && v) {
            if (!(O.csv = fopen(v, "w"))) {
                perror(v);
                return 2;
            }
            fprintf(O.csv,
                    "mode,heap,run,median,live,frames,secs,frames_per_s,p50_ms,p99_ms,"
                    "max_ms,cpu_max_ms,final_max_ms,pauses,steps,cycles,collections,max_used,"
                    "step_bytes_max\n");
            i++;
        } else {
            usage();
        }
    }
    if (O.runs < 1 || O.runs > MAX_RUNS || O.nheaps < 1 || O.step_bytes == 0 || O.span_div < 2)
        usage();
    for (int h = 0; h < O.nheaps; h++)
        if (O.heaps[h] < MiB) usage();
    double load[1] = {0};
    (void)getloadavg(load, 1);
    char budget[48];
    if (O.fixed_budget)
        snprintf(budget, sizeof budget, "budget %zu words", O.fixed_budget);
    else
        snprintf(budget, sizeof budget, "span room/%zu", O.span_div);
    printf("mpgc-step: block %d B, %d run(s) per mode, step every min(%zu KiB, span/%d) allocated, "
           "%s, "
           "load %.2f; times in ms\n",
           (int)MPGC_BLOCK_BYTES, O.runs, O.step_bytes / KiB, MIN_STEPS, budget, load[0]);
    print_header();
    for (int h = 0; h < O.nheaps; h++) run_heap(O.heaps[h], &stack_top);
    if (O.csv) fclose(O.csv);
    printf("mpgc-step: %s\n", failed ? "FAILED" : "ok");
    return failed ? 1 : 0;
}
