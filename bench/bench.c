/*
 * bench.c - mpgc against MicroPython's placement, bdwgc and glibc malloc.
 *
 *   mpgc-bench [--quick] [--csv FILE] [--series FILE] [--only 1,3]
 *              [--impl mpgc,bdwgc] [--max-heap MIB] [--seed N]
 *              [--bdw-markers N] [--timeout S]
 *
 * Implementations (columns of the table):
 *   mpgc     mpgc with its default placement (MPGC_POLICY_FIT)
 *   mpgc-ff  mpgc with MicroPython's placement (MPGC_POLICY_FIRST_FIT)
 *   bdwgc    Boehm-Demers-Weiser GC (Debian libgc), GC_MALLOC / GC_MALLOC_ATOMIC,
 *            GC_set_max_heap_size and GC_expand_hp to the same heap size
 *   malloc   glibc malloc/free with explicit frees: the floor of what any
 *            allocator costs (no collection, no heap limit)
 *
 * Workloads (docs/performance.md describes each and what it shows):
 *   1 small-object churn    2 fragmentation (seed 004's loop)
 *   3 collection pause      4 mem_free/info cost
 *   5 realloc growth        6 worst-case allocation latency
 *
 * Method. Every (workload, case, implementation) runs in its own forked
 * child, so each starts from a fresh process and a fresh bdwgc heap of
 * exactly the requested size; results come back through a pipe. Every case
 * draws from a generator seeded with --seed and the case number, so every
 * implementation sees the same sequence of requests. mpgc heaps are a
 * malloc'd buffer, pre-faulted; mpgc roots are explicit (no_stack_scan and
 * mpgc_add_root on the bench's root arrays), and mpgc's automatic
 * collection is disabled: when an allocation fails, the bench times an
 * mpgc_collect and retries, which is what the engine's own slow path does,
 * but measured. bdwgc collects on its own; its collections are timed
 * through GC_set_on_collection_event. The root arrays are registered with
 * GC_add_roots so the same live set is reachable for bdwgc. The machine may
 * be shared, so short workloads run 3 times (fresh children) and keep the
 * run with the best first metric (run_best); workload 3 takes the best of
 * several collections inside one run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <gc.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpgc.h"
#include "readbw.h"

#define BLOCK ((size_t)MPGC_BLOCK_BYTES)
#define WORD sizeof(void *)
#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

/* ---- options and cases ------------------------------------------------ */

typedef enum { IMPL_FIT, IMPL_FF, IMPL_BDW, IMPL_MALLOC, NIMPL } impl_t;
static const char *const impl_names[NIMPL] = {"mpgc", "mpgc-ff", "bdwgc", "malloc"};

typedef struct {
    bool quick;
    const char *csv;
    const char *series;
    unsigned only;      /* bit w: run workload w (all when 0) */
    unsigned impls;     /* bit i: run implementation i */
    size_t max_heap;    /* skip cases with a larger heap */
    uint64_t seed;
    unsigned bdw_markers;
    unsigned timeout;   /* seconds per child */
    const char *match;  /* only cases whose label contains this */
    int reps;           /* runs per case and implementation; 0: per workload */
} opts_t;

typedef struct {
    int w;          /* workload 1..6 */
    size_t heap;    /* bytes given to every implementation */
    size_t size;    /* workload 3: data size */
    double p;       /* workload 1: live fraction */
    int kind;       /* workload 3: W3_LIVE, W3_DEAD, W3_NOSCAN */
    long n;         /* operations (churn, iterations, appends, samples) */
    char label[48];
} case_t;

enum { W3_LIVE, W3_DEAD, W3_NOSCAN };
static const char *const w3_kinds[] = {"live", "dead", "no-scan"};

#define MAXM 8
typedef struct {
    char name[40];
    bool higher_better;
    double v; /* NAN: not applicable */
} metric_t;

typedef struct {
    int n;
    bool failed;
    char note[64];
    metric_t m[MAXM];
} result_t;

static opts_t O;

/* ---- time, random numbers --------------------------------------------- */

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double urand(void) { return (double)(rnd() >> 11) * 0x1p-53; }
/* Log-uniform in [lo, hi]: as many requests in 16..32 B as in 32..64 KiB. */
static size_t logrand(size_t lo, size_t hi) {
    size_t v = (size_t)((double)lo * exp(urand() * log((double)(hi + 1) / (double)lo)));
    return v < lo ? lo : v > hi ? hi : v;
}

static void metric(result_t *r, const char *name, bool higher_better, double v) {
    if (r->n >= MAXM) return;
    metric_t *m = &r->m[r->n++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->higher_better = higher_better;
    m->v = v;
}

/* ---- the implementation under test (one per child process) ----------- */

static struct {
    impl_t impl;
    mpgc_t *gc;
    void *mem;
    size_t heap;
    bool oom;
    /* collections, whoever triggered them */
    unsigned long ncoll;
    double gc_ns, max_pause_ns, mark_ns, reclaim_ns;
    double t_start, t_mark, t_reclaim;
    void (*after_collect)(void); /* workload 2's fragmentation probe */
} X;

static bool is_mpgc(void) { return X.impl == IMPL_FIT || X.impl == IMPL_FF; }

static void GC_CALLBACK bdw_event(GC_EventType e) {
    double t = now_ns();
    switch (e) {
    case GC_EVENT_START: X.t_start = t; break;
    case GC_EVENT_MARK_START: X.t_mark = t; break;
    case GC_EVENT_MARK_END: X.mark_ns += t - X.t_mark; break;
    case GC_EVENT_RECLAIM_START: X.t_reclaim = t; break;
    case GC_EVENT_RECLAIM_END: X.reclaim_ns += t - X.t_reclaim; break;
    case GC_EVENT_END: {
        double d = t - X.t_start;
        X.ncoll++;
        X.gc_ns += d;
        if (d > X.max_pause_ns) X.max_pause_ns = d;
        break;
    }
    default: break;
    }
}

static void heap_open(impl_t impl, size_t heap) {
    memset(&X, 0, sizeof X);
    X.impl = impl;
    X.heap = heap;
    if (impl == IMPL_FIT || impl == IMPL_FF) {
        X.mem = aligned_alloc(64, (heap + 63) & ~(size_t)63);
        if (!X.mem) abort();
        memset(X.mem, 0, heap); /* pre-fault: an embedded heap is already there */
        mpgc_config_t cfg = {0};
        cfg.policy = impl == IMPL_FF ? MPGC_POLICY_FIRST_FIT : MPGC_POLICY_FIT;
        cfg.no_stack_scan = true;
        X.gc = mpgc_init(X.mem, heap, &cfg);
        if (!X.gc) abort();
        mpgc_disable(X.gc); /* the bench collects (timed) when an allocation fails */
    } else if (impl == IMPL_BDW) {
        char m[16];
        snprintf(m, sizeof m, "%u", O.bdw_markers);
        if (O.bdw_markers) setenv("GC_MARKERS", m, 1);
        GC_set_max_heap_size(heap);
        GC_INIT();
        GC_set_warn_proc(GC_ignore_warn_proc);
        size_t have = GC_get_heap_size();
        if (have < heap) GC_expand_hp(heap - have);
        GC_set_on_collection_event(bdw_event);
    } else {
        /* Keep freed memory instead of returning it to the kernel and
         * faulting it back in: the collectors keep their heaps too. */
        mallopt(M_TRIM_THRESHOLD, INT_MAX);
        mallopt(M_TOP_PAD, (int)(heap < INT_MAX ? heap : INT_MAX));
        mallopt(M_MMAP_THRESHOLD, 1 << 25);
    }
}

static void collect(void) {
    if (is_mpgc()) {
        double t0 = now_ns();
        mpgc_collect(X.gc);
        double d = now_ns() - t0;
        X.ncoll++;
        X.gc_ns += d;
        if (d > X.max_pause_ns) X.max_pause_ns = d;
        if (X.after_collect) X.after_collect();
    } else if (X.impl == IMPL_BDW) {
        GC_gcollect();
    }
}

/* An allocation as the workload sees it: collect-and-retry on failure. */
static void *xalloc(size_t n, bool noscan) {
    void *p = NULL;
    switch (X.impl) {
    case IMPL_FIT:
    case IMPL_FF:
        p = mpgc_alloc(X.gc, n, noscan ? MPGC_NO_SCAN : 0);
        if (!p) {
            collect();
            p = mpgc_alloc(X.gc, n, noscan ? MPGC_NO_SCAN : 0);
        }
        break;
    case IMPL_BDW: p = noscan ? GC_MALLOC_ATOMIC(n) : GC_MALLOC(n); break;
    default: p = malloc(n); break;
    }
    if (!p) X.oom = true;
    return p;
}

/* An allocation that never collects (workload 6's latency, set-up phases). */
static void *xalloc_nogc(size_t n, bool noscan) {
    if (is_mpgc()) return mpgc_alloc(X.gc, n, noscan ? MPGC_NO_SCAN : 0);
    return xalloc(n, noscan);
}

/* Explicit free: part of the workload for everyone (workloads 4, 6). */
static void xfree_explicit(void *p) {
    if (is_mpgc()) mpgc_free(X.gc, p);
    else if (X.impl == IMPL_BDW) GC_FREE(p);
    else free(p);
}

static void *xrealloc(void *p, size_t n) {
    void *q = NULL;
    switch (X.impl) {
    case IMPL_FIT:
    case IMPL_FF:
        q = mpgc_realloc(X.gc, p, n, true);
        if (!q) {
            collect();
            q = mpgc_realloc(X.gc, p, n, true);
        }
        break;
    case IMPL_BDW: q = GC_REALLOC(p, n); break;
    default: q = realloc(p, n); break;
    }
    if (!q) X.oom = true;
    return q;
}

/* A zeroed array of n pointers that the collector treats as a root. */
static void **roots_new(size_t n) {
    void **r = calloc(n ? n : 1, WORD);
    if (!r) abort();
    if (is_mpgc()) {
        if (!mpgc_add_root(X.gc, r, n * WORD)) abort();
    } else if (X.impl == IMPL_BDW) {
        GC_add_roots(r, r + n);
    }
    return r;
}

static void reset_gc_counters(void) {
    X.ncoll = 0;
    X.gc_ns = X.max_pause_ns = X.mark_ns = X.reclaim_ns = 0;
}

/* ---- object graphs (workloads 1 and 3) -------------------------------- */

/* A node is 1..4 blocks: word 0 and 1 link to children (a list uses word
 * 0), word 2 points to one of a few "type" objects, the rest is payload:
 * odd integers (workload 1) or pointers to earlier nodes of the same
 * structure (workload 3's pointer-dense data). */
#define NTYPES 8
#define RECENT 64
static void **types;
static void **recent[RECENT];
static size_t nrecent;
static bool dense;        /* payload words are pointers */
static long nodes_made;
static uint8_t *layout;   /* workload 3: block counts, in allocation order */
static size_t layout_n, layout_cap;

static void **new_node(void) {
    size_t nb = 1 + rnd() % 4;
    void **n = xalloc(nb * BLOCK, false);
    if (!n) return NULL;
    nodes_made++;
    size_t words = nb * BLOCK / WORD;
    n[0] = n[1] = NULL;
    n[2] = types[rnd() % NTYPES];
    for (size_t i = 3; i < words; i++)
        n[i] = dense && nrecent ? (void *)recent[rnd() % nrecent] : (void *)(uintptr_t)(2 * i + 1);
    if (dense) recent[nrecent < RECENT ? nrecent++ : rnd() % RECENT] = n;
    if (layout && layout_n < layout_cap) layout[layout_n++] = (uint8_t)nb;
    return n;
}

/* Every new node is stored into a reachable slot before the next
 * allocation, so a collection in the middle of a build keeps it. */
static bool build_tree(void **slot, int depth) {
    void **n = new_node();
    if (!n) return false;
    *slot = n;
    if (depth > 1) return build_tree(&n[0], depth - 1) && build_tree(&n[1], depth - 1);
    return true;
}

static bool build_list(void **slot, int len) {
    for (int i = 0; i < len; i++) {
        void **n = new_node();
        if (!n) return false;
        *slot = n;
        slot = &n[0];
    }
    return true;
}

static void free_struct(void **n) { /* malloc only */
    while (n) {
        void **next = n[0];
        if (n[1]) free_struct(n[1]);
        free(n);
        n = next;
    }
}

static void make_types(void **slots) {
    types = slots;
    for (int i = 0; i < NTYPES; i++) {
        types[i] = xalloc(4 * WORD, false);
        if (!types[i]) abort();
    }
}

/* ---- workload 1: small-object churn ----------------------------------- */

#define W1_DEPTH 3 /* trees of 7 nodes */
#define W1_LIST 8  /* lists of 8 nodes */

static bool w1_build(void **slot, size_t s) {
    nrecent = 0;
    return s % 2 ? build_list(slot, W1_LIST) : build_tree(slot, W1_DEPTH);
}

static void w1(const case_t *c, result_t *r) {
    /* Mean structure: 7.5 nodes of 2.5 blocks. */
    double per = 7.5 * 2.5 * (double)BLOCK;
    size_t R = (size_t)(c->p * (double)c->heap / per);
    if (R < 2) R = 2;
    void **slots = roots_new(R + 1 + NTYPES);
    make_types(slots + R + 1);
    for (size_t s = 0; s < R && !X.oom; s++) w1_build(&slots[s], s);
    if (X.oom) {
        snprintf(r->note, sizeof r->note, "OOM building the live set");
        r->failed = true;
        return;
    }
    reset_gc_counters();
    nodes_made = 0;
    double t0 = now_ns();
    while (nodes_made < c->n) {
        size_t s = rnd() % R;
        if (!w1_build(&slots[R], s)) break;
        void **old = slots[s];
        slots[s] = slots[R];
        slots[R] = NULL;
        if (X.impl == IMPL_MALLOC) free_struct(old);
    }
    double t = now_ns() - t0;
    if (X.oom) {
        snprintf(r->note, sizeof r->note, "OOM after %ld allocations", nodes_made);
        r->failed = true;
        return;
    }
    double n = (double)nodes_made;
    metric(r, "ns/alloc incl. collections", false, t / n);
    metric(r, "ns/alloc excl. collections", false, (t - X.gc_ns) / n);
    metric(r, "collections", false, X.impl == IMPL_MALLOC ? NAN : (double)X.ncoll);
    metric(r, "max pause ms", false, X.impl == IMPL_MALLOC ? NAN : X.max_pause_ns / 1e6);
}

/* ---- workload 2: fragmentation (seed 004's long-running loop) --------- */

/* Each iteration allocates a temporary buffer (16 B..64 KiB, dropped at
 * once), a medium-lived one (16 B..8 KiB, kept for W2_RING iterations) and,
 * one time in four, a small "reading" (16..512 B) that replaces a random one
 * of a table of readings sized to hold 45% of the heap: long but random
 * lifetimes, a steady state. Start-up objects (10% of the heap, 16 B..1 KiB)
 * live forever. The live data stays near 60% of the heap, so a failed
 * allocation means free space exists but no run is long enough: it is
 * fragmentation, not exhaustion. */
#define W2_RING 32
static struct {
    long iter;
    double frag_sum, frag_last, max_free_last, max_free_min;
    long samples;
    FILE *series;
    double probe_ns;
} W2;

static void w2_probe(void) {
    double t0 = now_ns();
    mpgc_info_t i;
    mpgc_info(X.gc, &i);
    double f = i.free ? 1.0 - (double)i.max_free / (double)i.free : 0.0;
    W2.frag_sum += f;
    W2.frag_last = f;
    W2.max_free_last = (double)i.max_free;
    if (W2.samples == 0 || (double)i.max_free < W2.max_free_min) W2.max_free_min = (double)i.max_free;
    W2.samples++;
    if (W2.series)
        fprintf(W2.series, "%s,%zu,%ld,%zu,%zu\n", impl_names[X.impl], X.heap, W2.iter, i.free,
                i.max_free);
    W2.probe_ns += now_ns() - t0;
}

static void w2(const case_t *c, result_t *r) {
    memset(&W2, 0, sizeof W2);
    /* mean of logrand(16, 512) is 496 / ln 32 = 143 B */
    size_t nread = (size_t)(0.45 * (double)c->heap / 143.0);
    size_t nperm = c->heap / 10 / 16 + 1; /* 10% of the heap in objects of >= 16 B */
    /* slots: [0] temporary, [1..RING] medium-lived, readings, start-up objects */
    void **slots = roots_new(1 + W2_RING + nread + nperm);
    void **ring = slots + 1, **reading = ring + W2_RING, **perm = reading + nread;
    if (is_mpgc()) {
        X.after_collect = w2_probe;
        if (O.series) W2.series = fopen(O.series, "a");
    }
    size_t np = 0;
    for (size_t made = 0; made < c->heap / 10 && np < nperm && !X.oom;) {
        size_t n = logrand(16, 1024);
        perm[np++] = xalloc(n, false);
        made += n;
    }
    for (size_t i = 0; i < nread && !X.oom; i++) reading[i] = xalloc(logrand(16, 512), false);
    if (X.oom) {
        snprintf(r->note, sizeof r->note, "OOM at start-up");
        r->failed = true;
        return;
    }
    long fail = -1;
    double t0 = now_ns();
    for (long i = 0; i < c->n && !X.oom; i++) {
        W2.iter = i;
        void *t = xalloc(logrand(16, 64 * KiB), true); /* temporary buffer */
        if (!t) break;
        slots[0] = t;
        memset(t, 1, 16);
        void *m = xalloc(logrand(16, 8 * KiB), true); /* lives RING iterations */
        if (!m) break;
        if (X.impl == IMPL_MALLOC) free(ring[i % W2_RING]);
        ring[i % W2_RING] = m;
        if (rnd() % 4 == 0) { /* a reading replaces a random older one */
            size_t k = rnd() % nread;
            void *v = xalloc(logrand(16, 512), false);
            if (!v) break;
            if (X.impl == IMPL_MALLOC) free(reading[k]);
            reading[k] = v;
        }
        slots[0] = NULL;
        if (X.impl == IMPL_MALLOC) free(t);
    }
    if (X.oom) fail = W2.iter;
    double t = now_ns() - t0 - W2.probe_ns;
    if (W2.series) fclose(W2.series);
    X.after_collect = NULL;
    long iters = fail < 0 ? c->n : fail + 1;
    if (fail < 0 && X.impl != IMPL_MALLOC)
        snprintf(r->note, sizeof r->note, "no failure in %ld iterations", c->n);
    bool frag = is_mpgc() && W2.samples > 0;
    metric(r, "first failed iteration", true,
           X.impl == IMPL_MALLOC ? NAN : (double)(fail < 0 ? c->n : fail));
    metric(r, "fragmentation mean %", false, frag ? 100.0 * W2.frag_sum / (double)W2.samples : NAN);
    metric(r, "fragmentation at end %", false, frag ? 100.0 * W2.frag_last : NAN);
    metric(r, "largest free, lowest KiB", true, frag ? W2.max_free_min / 1024.0 : NAN);
    metric(r, "largest free at end KiB", true, frag ? W2.max_free_last / 1024.0 : NAN);
    metric(r, "ns/iteration", false, t / (double)iters);
}

/* ---- workload 3: collection pause against live size ------------------- */

/* Sequential read bandwidth over a buffer of `bytes`, bytes per ns. */
static double read_bw(size_t bytes) {
    int reps = (int)(512 * MiB / bytes);
    return bench_read_bandwidth(bytes, reps < 3 ? 3 : reps > 200 ? 200 : reps, now_ns);
}

/* MicroPython's sweep, block at a time over a 2-bit table (4 blocks per
 * byte: free, head, tail, mark), up to the last used block. Written here
 * from the table format alone, as the baseline for the 4x sweep target. */
enum { AT_FREE, AT_HEAD, AT_TAIL, AT_MARK };
static unsigned atb_get(const uint8_t *t, size_t b) { return (t[b >> 2] >> ((b & 3) * 2)) & 3u; }
static void atb_set(uint8_t *t, size_t b, unsigned k) {
    unsigned s = (unsigned)(b & 3) * 2;
    t[b >> 2] = (uint8_t)((t[b >> 2] & ~(3u << s)) | (k << s));
}
static size_t block_walk_sweep(uint8_t *t, size_t nblocks) {
    size_t freed = 0;
    bool free_tail = false;
    for (size_t b = 0; b < nblocks; b++) {
        switch (atb_get(t, b)) {
        case AT_HEAD:
            freed++;
            free_tail = true;
            atb_set(t, b, AT_FREE);
            break;
        case AT_TAIL:
            if (free_tail) atb_set(t, b, AT_FREE);
            break;
        case AT_MARK:
            atb_set(t, b, AT_HEAD);
            free_tail = false;
            break;
        default: break;
        }
    }
    return freed;
}

/* Block walk over the recorded layout (objects end to end from block 0, as
 * mpgc placed them in the empty heap), ns, best of 3. */
static double time_block_walk(size_t heap_blocks) {
    size_t used = 0;
    for (size_t i = 0; i < layout_n; i++) used += layout[i];
    size_t bytes = (heap_blocks + 3) / 4;
    uint8_t *t = malloc(bytes), *orig = calloc(bytes, 1);
    if (!t || !orig) abort();
    size_t b = 0;
    for (size_t i = 0; i < layout_n; i++) {
        atb_set(orig, b++, AT_HEAD);
        for (unsigned k = 1; k < layout[i]; k++) atb_set(orig, b++, AT_TAIL);
    }
    double best = 1e300;
    volatile size_t sink = 0;
    for (int r = 0; r < 3; r++) {
        memcpy(t, orig, bytes);
        double t0 = now_ns();
        sink += block_walk_sweep(t, used);
        double d = now_ns() - t0;
        if (d < best) best = d;
    }
    (void)sink;
    free(t);
    free(orig);
    return best;
}

#define W3_DEPTH 6 /* trees of 63 nodes */
#define W3_LIST 64 /* lists of 64 nodes */

/* Fills `slots` with `bytes` of data of the case's kind. */
static size_t w3_fill(const case_t *c, void **slots, size_t nslots) {
    size_t s = 0;
    if (c->kind == W3_NOSCAN) {
        size_t chunk = c->size / 4 < 64 * KiB ? c->size / 4 : 64 * KiB;
        for (size_t made = 0; made + chunk <= c->size && s < nslots; made += chunk) {
            if (!(slots[s++] = xalloc(chunk, true))) return s;
            memset(slots[s - 1], 7, chunk);
        }
        return s;
    }
    dense = true;
    long target = (long)(c->size / (2 * BLOCK + BLOCK / 2));
    nodes_made = 0;
    while (nodes_made < target && s < nslots && !X.oom) {
        nrecent = 0;
        if (s % 2) build_list(&slots[s], W3_LIST);
        else build_tree(&slots[s], W3_DEPTH);
        s++;
    }
    memset(recent, 0, sizeof recent); /* no stray references in the bench's data */
    nrecent = 0;
    return s;
}

static void w3_free_all(void **slots, size_t n) { /* malloc only */
    for (size_t i = 0; i < n; i++) {
        if (slots[i]) free_struct(slots[i]);
        slots[i] = NULL;
    }
}

static void w3(const case_t *c, result_t *r) {
    if (X.impl == IMPL_MALLOC && c->kind != W3_DEAD) {
        snprintf(r->note, sizeof r->note, "no collector");
        metric(r, "pause ms", false, NAN);
        return;
    }
    size_t nslots = c->size / (32 * BLOCK) + 16;
    void **slots = roots_new(nslots + NTYPES);
    make_types(slots + nslots);
    /* best of several: at least 3 (live, no-scan: the collection repeats
     * the same work) or 2 (dead: the data is rebuilt each time) */
    int reps = (int)(16 * MiB / c->size), least = c->kind == W3_DEAD ? 2 : 3;
    reps = reps < least ? least : reps > 20 ? 20 : reps;
    double pause = 1e300, mark = 0, sweep = 0;
    if (c->kind == W3_DEAD && is_mpgc()) {
        layout_cap = c->heap / BLOCK;
        layout = malloc(layout_cap);
    }
    size_t n = 0;
    for (int rep = 0; rep < reps; rep++) {
        if (rep == 0 || c->kind == W3_DEAD) {
            layout_n = 0;
            n = w3_fill(c, slots, nslots);
            if (X.oom) {
                snprintf(r->note, sizeof r->note, "OOM filling %zu bytes", c->size);
                r->failed = true;
                return;
            }
        }
        if (c->kind == W3_DEAD) {
            if (X.impl == IMPL_MALLOC) {
                double t0 = now_ns();
                w3_free_all(slots, n);
                double d = now_ns() - t0;
                if (d < pause) pause = sweep = d;
                continue;
            }
            memset(slots, 0, nslots * WORD);
        } else if (rep == 0) {
            collect(); /* warm up: bdwgc finishes its lazy sweeps */
        }
        if (is_mpgc()) {
            double t0 = now_ns();
            mpgc_collect_start(X.gc);
            double t1 = now_ns();
            mpgc_collect_end(X.gc);
            double t2 = now_ns();
            if (t2 - t0 < pause) {
                pause = t2 - t0;
                mark = t1 - t0;
                sweep = t2 - t1;
            }
        } else {
            reset_gc_counters();
            double t0 = now_ns();
            GC_gcollect();
            double d = now_ns() - t0;
            if (d < pause) {
                pause = d;
                mark = X.mark_ns;
                sweep = X.reclaim_ns;
            }
        }
    }
    double mib = (double)c->size / (double)MiB;
    metric(r, "pause ms", false, pause / 1e6);
    if (c->kind == W3_DEAD) {
        metric(r, X.impl == IMPL_MALLOC ? "sweep ms/MiB (malloc: free())" : "sweep ms/MiB", false,
               sweep / 1e6 / mib);
        double walk = NAN;
        if (is_mpgc() && layout) walk = time_block_walk(c->heap / BLOCK);
        metric(r, "block-walk sweep ms/MiB", false, walk / 1e6 / mib);
        metric(r, "speed-up over block walk x", true, walk / sweep);
    } else {
        metric(r, "mark ms", false, X.impl == IMPL_MALLOC ? NAN : mark / 1e6);
        metric(r, "sweep ms", false, X.impl == IMPL_MALLOC ? NAN : sweep / 1e6);
        if (c->kind == W3_LIVE && X.impl != IMPL_MALLOC) {
            double bw = read_bw(c->size);
            metric(r, "read bandwidth GB/s", true, bw);
            metric(r, "mark GB/s", true, (double)c->size / mark);
            metric(r, "mark / read bandwidth %", true, 100.0 * (double)c->size / mark / bw);
        }
    }
    free(layout);
    layout = NULL;
}

/* ---- workload 4: mem_free / info cost --------------------------------- */

static volatile size_t sink4;

static double time_calls(void (*f)(void), long n) {
    double t0 = now_ns();
    for (long i = 0; i < n; i++) f();
    return (now_ns() - t0) / (double)n;
}
static void call_mem_free(void) {
    if (is_mpgc()) sink4 += (size_t)mpgc_mem_free(X.gc);
    else if (X.impl == IMPL_BDW) sink4 += GC_get_free_bytes();
    else sink4 += mallinfo2().fordblks;
}
static void call_info(void) {
    if (is_mpgc()) {
        mpgc_info_t i;
        mpgc_info(X.gc, &i);
        sink4 += i.max_free + i.max_block;
    } else if (X.impl == IMPL_BDW) {
        GC_word a, b, c, d, e;
        GC_get_heap_usage_safe(&a, &b, &c, &d, &e);
        sink4 += a + b;
    } else {
        struct mallinfo2 m = mallinfo2();
        sink4 += m.fordblks + m.uordblks;
    }
}

/* Fragments the heap: objects (1..16 blocks uniform, or 1..32 log-uniform)
 * into objs[] until `bytes` are allocated or cap objects made, then a random
 * half freed explicitly. Returns the number of objects made. */
static size_t fragment(void **objs, size_t cap, size_t bytes, bool log_sizes) {
    size_t n = 0;
    for (size_t made = 0; made < bytes && n < cap; n++) {
        size_t sz = (log_sizes ? logrand(1, 32) : 1 + rnd() % 16) * BLOCK;
        if (!(objs[n] = xalloc_nogc(sz, false))) break;
        made += sz;
    }
    for (size_t i = 0; i < n; i++)
        if (rnd() % 2) {
            xfree_explicit(objs[i]);
            objs[i] = NULL;
        }
    return n;
}

static void w4(const case_t *c, result_t *r) {
    /* A fragmented heap: objects of 1..16 blocks up to 60% of it, then a
     * random half freed explicitly. */
    size_t cap = c->heap / (4 * BLOCK);
    void **objs = roots_new(cap);
    size_t n = fragment(objs, cap, c->heap * 6 / 10, false);
    long calls = O.quick ? 20000 : 200000;
    if (X.impl == IMPL_MALLOC) calls /= 100; /* mallinfo walks the free bins */
    metric(r, "mem_free ns/call", false, time_calls(call_mem_free, calls));
    /* info between allocations: one alloc and one free between calls */
    double sum = 0;
    long k = calls / 10;
    for (long i = 0; i < k; i++) {
        size_t j = rnd() % n;
        if (objs[j]) xfree_explicit(objs[j]);
        objs[j] = xalloc_nogc((1 + rnd() % 16) * BLOCK, false);
        double t0 = now_ns();
        call_info();
        sum += now_ns() - t0;
    }
    metric(r, "info ns/call (after alloc+free)", false, sum / (double)k);
    if (X.impl == IMPL_MALLOC) return;
    /* info right after a collection */
    sum = 0;
    int samples = O.quick ? 5 : 20;
    for (int i = 0; i < samples; i++) {
        size_t j = rnd() % n;
        objs[j] = NULL; /* some garbage for the collection to find */
        collect();
        double t0 = now_ns();
        call_info();
        sum += now_ns() - t0;
    }
    metric(r, "info ns/call (after collect)", false, sum / samples);
    if (is_mpgc()) { /* the whole cost of the tables: control block, pool header, groups */
        mpgc_info_t i;
        mpgc_info(X.gc, &i);
        metric(r, "metadata bytes", false, (double)i.meta_bytes);
        metric(r, "metadata bits per block", false, 8.0 * (double)i.meta_bytes * (double)BLOCK / (double)i.total);
    }
}

/* ---- workload 5: growing buffers with realloc ------------------------- */

#define W5_LISTS 8
#define W5_STEP 4 /* items added per realloc, like a bytearray growing */

static void w5(const case_t *c, result_t *r) {
    /* A list and its items reach 1/32 of the heap before being dropped. */
    size_t max_items = c->heap / (32 * (WORD + 3 * BLOCK / 2));
    void **slots = roots_new(W5_LISTS);
    size_t len[W5_LISTS] = {0}, cap[W5_LISTS] = {0};
    long moves = 0, reallocs = 0;
    reset_gc_counters();
    double t0 = now_ns();
    for (long i = 0; i < c->n && !X.oom; i++) {
        size_t k = rnd() % W5_LISTS;
        void **list = slots[k];
        if (len[k] == cap[k]) {
            size_t ncap = cap[k] + W5_STEP;
            void **nl = xrealloc(list, ncap * WORD);
            if (!nl) break;
            reallocs++;
            moves += list && nl != list;
            slots[k] = list = nl;
            for (size_t j = len[k]; j < ncap; j++) list[j] = NULL; /* malloc does not zero */
            cap[k] = ncap;
        }
        void **item = xalloc((1 + rnd() % 2) * BLOCK, false); /* the appended object */
        if (!item) break;
        item[0] = (void *)(uintptr_t)(2 * i + 1);
        list[len[k]++] = item;
        if (len[k] == max_items) { /* the list is done with: dropped */
            if (X.impl == IMPL_MALLOC) {
                for (size_t j = 0; j < len[k]; j++) free(list[j]);
                free(list);
            }
            slots[k] = NULL;
            len[k] = cap[k] = 0;
        }
    }
    double t = now_ns() - t0;
    if (X.oom) {
        snprintf(r->note, sizeof r->note, "OOM");
        r->failed = true;
        return;
    }
    metric(r, "ns/append", false, t / (double)c->n);
    metric(r, "reallocs that moved %", false, 100.0 * (double)moves / (double)reallocs);
    metric(r, "collections", false, X.impl == IMPL_MALLOC ? NAN : (double)X.ncoll);
}

/* ---- workload 6: worst-case allocation latency ------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void w6(const case_t *c, result_t *r) {
    /* Fragment: objects of 1..32 blocks (log-uniform) up to 80% of the heap,
     * then a random half freed explicitly. */
    size_t cap = c->heap / (2 * BLOCK);
    void **objs = roots_new(cap);
    fragment(objs, cap, c->heap * 8 / 10, true);
    if (X.impl == IMPL_BDW) GC_disable();
    /* Timed: requests of 1..64 blocks, log-uniform, no collection, kept.
     * Stops at the first failure or after c->n requests (sized to use
     * about a quarter of the free space). */
    double *lat = malloc((size_t)c->n * sizeof *lat);
    void **kept = roots_new((size_t)c->n);
    long k = 0, failed = 0;
    double t_over = 1e300; /* one clock read, subtracted below: the least seen */
    for (int i = 0; i < 1000; i++) {
        double a = now_ns(), b = now_ns();
        if (b - a < t_over) t_over = b - a;
    }
    for (long i = 0; i < c->n; i++) {
        size_t sz = logrand(1, 64) * BLOCK;
        double t0 = now_ns();
        void *p = xalloc_nogc(sz, false);
        double d = now_ns() - t0;
        if (!p) {
            failed++;
            X.oom = false;
            continue;
        }
        kept[i] = p;
        lat[k++] = d - t_over > 0 ? d - t_over : 0;
    }
    qsort(lat, (size_t)k, sizeof *lat, cmp_double);
    double sum = 0;
    for (long i = 0; i < k; i++) sum += lat[i];
    metric(r, "mean ns", false, k ? sum / (double)k : NAN);
    metric(r, "p99 ns", false, k ? lat[(size_t)((double)(k - 1) * 0.99)] : NAN);
    metric(r, "max ns", false, k ? lat[k - 1] : NAN);
    metric(r, "failed requests", false, (double)failed);
    free(lat);
}

/* ---- running a case in a child ---------------------------------------- */

static void run_child(const case_t *c, impl_t impl, int fd) {
    result_t r;
    memset(&r, 0, sizeof r);
    rng = O.seed * 0x100000001b3ull + (uint64_t)c->w * 1000003u + (uint64_t)c->heap +
          (uint64_t)(c->p * 1000) + (uint64_t)c->kind * 7919u + c->size;
    heap_open(impl, c->heap);
    switch (c->w) {
    case 1: w1(c, &r); break;
    case 2: w2(c, &r); break;
    case 3: w3(c, &r); break;
    case 4: w4(c, &r); break;
    case 5: w5(c, &r); break;
    case 6: w6(c, &r); break;
    default: break;
    }
    if (is_mpgc() && !mpgc_check(X.gc)) {
        snprintf(r.note, sizeof r.note, "mpgc_check failed");
        r.failed = true;
    }
    const char *p = (const char *)&r;
    size_t left = sizeof r;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w <= 0) _exit(3);
        p += w;
        left -= (size_t)w;
    }
    _exit(0);
}

static bool run_case(const case_t *c, impl_t impl, result_t *r) {
    memset(r, 0, sizeof *r);
    int fds[2];
    if (pipe(fds) != 0) abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) abort();
    if (pid == 0) {
        close(fds[0]);
        alarm(O.timeout);
        run_child(c, impl, fds[1]);
    }
    close(fds[1]);
    char *p = (char *)r;
    size_t got = 0;
    while (got < sizeof *r) {
        ssize_t n = read(fds[0], p + got, sizeof *r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    if (got != sizeof *r) {
        memset(r, 0, sizeof *r);
        r->failed = true;
        if (WIFSIGNALED(st))
            snprintf(r->note, sizeof r->note, "%s", WTERMSIG(st) == SIGALRM ? "timeout" : strsignal(WTERMSIG(st)));
        else
            snprintf(r->note, sizeof r->note, "exit %d", WEXITSTATUS(st));
        return false;
    }
    return true;
}

/* How many times a case runs (the machine may be shared: a run that was
 * preempted is an outlier). Workloads 2 (long, and its figures are counts)
 * and 3 and 4 (which take the best of repeated measurements inside) run
 * once. */
static int reps_of(const case_t *c) {
    static const int per_workload[] = {1, 3, 1, 1, 1, 3, 3};
    return O.reps > 0 ? O.reps : O.quick ? 1 : per_workload[c->w];
}

/* Folds repetition r into *best: keeps the run with the best first metric,
 * all of its figures together. A crash or a failed heap check is kept and
 * reported, never outvoted (returns false; the caller runs that cell no
 * more). */
static bool merge_rep(result_t *best, const result_t *r, bool crashed, int rep) {
    if (crashed || strcmp(r->note, "mpgc_check failed") == 0) {
        *best = *r;
        return false;
    }
    if (r->failed) { /* e.g. out of memory: kept only if nothing better */
        if (rep == 0 || best->failed) *best = *r;
        return true;
    }
    bool hb = r->n > 0 && r->m[0].higher_better;
    double v = r->n > 0 ? r->m[0].v : NAN, b = best->n > 0 ? best->m[0].v : NAN;
    if (rep == 0 || best->failed || isnan(b) || (hb ? v > b : v < b)) *best = *r;
    return true;
}

/* ---- the plan ----------------------------------------------------------- */

#define MAXCASES 128
static case_t cases[MAXCASES];
static int ncases;

static case_t *add_case(int w, size_t heap, long n, const char *fmt, ...) {
    if (ncases >= MAXCASES || heap > O.max_heap) return NULL;
    if (O.only && !(O.only & (1u << w))) return NULL;
    case_t *c = &cases[ncases];
    memset(c, 0, sizeof *c);
    c->w = w;
    c->heap = heap;
    c->n = n;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->label, sizeof c->label, fmt, ap);
    va_end(ap);
    if (O.match && !strstr(c->label, O.match)) return NULL;
    ncases++;
    return c;
}

static const char *size_str(size_t b) {
    static char buf[8][24];
    static int k;
    char *s = buf[k++ % 8];
    if (b >= MiB && b % MiB == 0) snprintf(s, 24, "%zuM", b / MiB);
    else snprintf(s, 24, "%zuK", b / KiB);
    return s;
}

static void plan(void) {
    bool q = O.quick;
    case_t *c;
    /* 1: churn, heap x live fraction */
    static const size_t w1h[] = {1 * MiB, 256 * MiB}, w1q[] = {256 * KiB};
    static const double fr[] = {0.3, 0.6, 0.9};
    for (size_t h = 0; h < (q ? 1u : 2u); h++) {
        size_t heap = q ? w1q[h] : w1h[h];
        for (int f = 0; f < 3; f++) {
            if (q && f == 1) continue;
            /* 3 heaps' worth of allocation, and at least 64 MiB (quick: 1 heap) */
            double bytes = q ? (double)heap : fmax(3.0 * (double)heap, 64.0 * (double)MiB);
            long n = (long)(bytes / (2.5 * (double)BLOCK));
            if ((c = add_case(1, heap, n, "%s heap, %d%% live", size_str(heap), (int)(fr[f] * 100 + 0.5))))
                c->p = fr[f];
        }
    }
    /* 2: fragmentation */
    static const size_t w2h[] = {1 * MiB, 2 * MiB, 4 * MiB, 16 * MiB}, w2q[] = {1 * MiB};
    for (size_t h = 0; h < (q ? 1u : 4u); h++) {
        size_t heap = q ? w2q[h] : w2h[h];
        add_case(2, heap, q ? 5000 : 1000000, "%s heap", size_str(heap));
    }
    /* 3: pause against data size; heap = 2 x data + 256 KiB */
    static const size_t w3s[] = {64 * KiB, 256 * KiB, 1 * MiB, 4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB};
    for (int kind = 0; kind < 3; kind++)
        for (size_t s = 0; s < 7; s++) {
            if (q && s != 0 && s != 2) continue;
            size_t heap = 2 * w3s[s] + 256 * KiB;
            if ((c = add_case(3, heap, 0, "%s %s", size_str(w3s[s]), w3_kinds[kind]))) {
                c->size = w3s[s];
                c->kind = kind;
            }
        }
    /* 4: mem_free / info against heap size */
    static const size_t w4h[] = {64 * KiB, 1 * MiB, 16 * MiB, 256 * MiB};
    for (size_t h = 0; h < (q ? 2u : 4u); h++) add_case(4, w4h[h], 0, "%s heap", size_str(w4h[h]));
    /* 5: realloc */
    static const size_t w5h[] = {1 * MiB, 16 * MiB}, w5q[] = {256 * KiB};
    for (size_t h = 0; h < (q ? 1u : 2u); h++) {
        size_t heap = q ? w5q[h] : w5h[h];
        add_case(5, heap, q ? 50000 : 4000000, "%s heap", size_str(heap));
    }
    /* 6: latency; requests for about a quarter of the free space */
    static const size_t w6h[] = {1 * MiB, 256 * MiB}, w6q[] = {256 * KiB};
    for (size_t h = 0; h < (q ? 1u : 2u); h++) {
        size_t heap = q ? w6q[h] : w6h[h];
        long n = (long)(heap / 10 / (12 * BLOCK));
        add_case(6, heap, n > 100000 ? 100000 : n, "%s heap", size_str(heap));
    }
}

/* ---- the table ---------------------------------------------------------- */

static const char *const wnames[] = {"", "1 churn", "2 fragmentation", "3 pause", "4 mem_free/info",
                                     "5 realloc", "6 latency"};

static result_t results[MAXCASES][NIMPL];

static void fmt_val(char *b, size_t n, double v) {
    if (isnan(v)) snprintf(b, n, "-");
    else if (v != 0 && fabs(v) < 0.01) snprintf(b, n, "%.4f", v);
    else if (fabs(v) < 10) snprintf(b, n, "%.2f", v);
    else if (fabs(v) < 1000) snprintf(b, n, "%.1f", v);
    else snprintf(b, n, "%.0f", v);
}

static void print_table(FILE *f, FILE *csv) {
    fprintf(f, "%-16s %-18s %-32s", "workload", "case", "metric");
    for (int i = 0; i < NIMPL; i++)
        if (O.impls & (1u << i)) fprintf(f, " %18s", impl_names[i]);
    fprintf(f, "\n");
    if (csv) fprintf(csv, "workload,case,metric,higher_better,impl,value,ratio_to_mpgc,note\n");
    for (int ci = 0; ci < ncases; ci++) {
        const case_t *c = &cases[ci];
        int nm = 0;
        for (int i = 0; i < NIMPL; i++)
            if (results[ci][i].n > nm) nm = results[ci][i].n;
        for (int k = 0; k < nm; k++) {
            const char *name = NULL;
            bool hb = false;
            for (int i = 0; i < NIMPL && !name; i++)
                if (results[ci][i].n > k) {
                    name = results[ci][i].m[k].name;
                    hb = results[ci][i].m[k].higher_better;
                }
            fprintf(f, "%-16s %-18s %-32s", wnames[c->w], c->label, name);
            const result_t *base = &results[ci][IMPL_FIT];
            double b = base->n > k && !base->failed ? base->m[k].v : NAN;
            for (int i = 0; i < NIMPL; i++) {
                if (!(O.impls & (1u << i))) continue;
                const result_t *r = &results[ci][i];
                double v = r->n > k && !r->failed ? r->m[k].v : NAN;
                char cell[48], vs[24];
                if (r->failed) snprintf(cell, sizeof cell, "%.18s", r->note);
                else {
                    fmt_val(vs, sizeof vs, v);
                    if (i != IMPL_FIT && !isnan(v) && !isnan(b) && b != 0)
                        snprintf(cell, sizeof cell, "%s (%.2fx)", vs, v / b);
                    else
                        snprintf(cell, sizeof cell, "%s", vs);
                }
                fprintf(f, " %18s", cell);
                if (csv) {
                    fprintf(csv, "\"%s\",\"%s\",\"%s\",%d,%s,", wnames[c->w], c->label, name, hb,
                            impl_names[i]);
                    if (isnan(v)) fprintf(csv, ",");
                    else fprintf(csv, "%.6g,", v);
                    if (!isnan(v) && !isnan(b) && b != 0) fprintf(csv, "%.4g", v / b);
                    fprintf(csv, ",\"%s\"\n", r->note);
                }
            }
            fprintf(f, "\n");
        }
        for (int i = 0; i < NIMPL; i++)
            if ((O.impls & (1u << i)) && results[ci][i].note[0] && !results[ci][i].failed)
                fprintf(f, "%-16s %-18s   note (%s): %s\n", "", "", impl_names[i], results[ci][i].note);
    }
}

static unsigned parse_impls(const char *s) {
    unsigned m = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
        for (int i = 0; i < NIMPL; i++)
            if (strcmp(t, impl_names[i]) == 0) m |= 1u << i;
    return m;
}

static void usage(void) {
    fprintf(stderr,
            "usage: mpgc-bench [--quick] [--csv FILE] [--series FILE] [--only 1,3,...]\n"
            "                  [--impl mpgc,mpgc-ff,bdwgc,malloc] [--max-heap MIB]\n"
            "                  [--seed N] [--bdw-markers N] [--timeout SECONDS] [--match TEXT]\n"
            "                  [--reps N]\n"
            "  --quick        small sizes, a few seconds (what the test run's bench stage uses)\n"
            "  --csv FILE     also write every figure as CSV\n"
            "  --series FILE  workload 2: free and largest free run after every mpgc collection\n"
            "  --bdw-markers  bdwgc marker threads (default 1: single-threaded like mpgc; 0: its choice)\n"
            "  --reps N       runs per case and implementation, best kept (default: 3 for\n"
            "                 workloads 1, 5, 6; 1 for the others, which repeat inside)\n"
            "  --match TEXT   only the cases whose label contains TEXT\n");
    exit(2);
}

int main(int argc, char **argv) {
    O.impls = (1u << NIMPL) - 1;
    O.max_heap = SIZE_MAX;
    O.seed = 42;
    O.bdw_markers = 1;
    O.timeout = 1200;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--quick") == 0) O.quick = true;
        else if (strcmp(a, "--full") == 0) O.quick = false;
        else if (strcmp(a, "--csv") == 0 && v) O.csv = argv[++i];
        else if (strcmp(a, "--series") == 0 && v) O.series = argv[++i];
        else if (strcmp(a, "--only") == 0 && v) {
            O.only = 0;
            for (const char *p = argv[++i]; *p; p++)
                if (*p >= '1' && *p <= '6') O.only |= 1u << (*p - '0');
        } else if (strcmp(a, "--impl") == 0 && v) O.impls = parse_impls(argv[++i]) | 1u << IMPL_FIT;
        else if (strcmp(a, "--max-heap") == 0 && v) O.max_heap = (size_t)strtoull(argv[++i], NULL, 0) * MiB;
        else if (strcmp(a, "--seed") == 0 && v) O.seed = strtoull(argv[++i], NULL, 0);
        else if (strcmp(a, "--bdw-markers") == 0 && v) O.bdw_markers = (unsigned)strtoul(argv[++i], NULL, 0);
        else if (strcmp(a, "--match") == 0 && v) O.match = argv[++i];
        else if (strcmp(a, "--reps") == 0 && v) O.reps = atoi(argv[++i]);
        else if (strcmp(a, "--timeout") == 0 && v) O.timeout = (unsigned)strtoul(argv[++i], NULL, 0);
        else usage();
    }
    if (O.series) {
        FILE *f = fopen(O.series, "w");
        if (f) {
            fprintf(f, "impl,heap,iteration,free,max_free\n");
            fclose(f);
        }
    }
    plan();
    fprintf(stderr, "mpgc-bench: %d cases, block %zu B, %s run\n", ncases, BLOCK, O.quick ? "quick" : "full");
    double t0 = now_ns();
    int broken = 0; /* mpgc children that crashed or failed mpgc_check */
    static bool bad[MAXCASES][NIMPL];
    /* Repetitions go round the whole plan, so that a burst of load from
     * elsewhere does not hit every repetition of one case. */
    for (int rep = 0, more = 1; more; rep++) {
        more = 0;
        for (int ci = 0; ci < ncases; ci++) {
            if (rep >= reps_of(&cases[ci])) continue;
            more |= rep + 1 < reps_of(&cases[ci]);
            for (int i = 0; i < NIMPL; i++) {
                if (!(O.impls & (1u << i)) || bad[ci][i]) continue;
                double t = now_ns();
                result_t r;
                bool crashed = !run_case(&cases[ci], (impl_t)i, &r);
                if (!merge_rep(&results[ci][i], &r, crashed, rep)) {
                    bad[ci][i] = true;
                    if (i == IMPL_FIT || i == IMPL_FF) broken++;
                }
                fprintf(stderr, "  %-16s %-18s %-8s %6.1f s%s%s\n", wnames[cases[ci].w],
                        cases[ci].label, impl_names[i], (now_ns() - t) / 1e9, r.note[0] ? "  " : "",
                        r.note);
            }
        }
    }
    FILE *csv = NULL;
    if (O.csv && !(csv = fopen(O.csv, "w"))) perror(O.csv);
    printf("\nmpgc-bench (%s run, seed %llu, block %zu B, bdwgc markers %u); ratios are to mpgc\n",
           O.quick ? "quick" : "full", (unsigned long long)O.seed, BLOCK, O.bdw_markers);
    print_table(stdout, csv);
    if (csv) fclose(csv);
    fprintf(stderr, "mpgc-bench: %.1f s\n", (now_ns() - t0) / 1e9);
    if (broken) fprintf(stderr, "mpgc-bench: %d mpgc runs crashed or failed mpgc_check\n", broken);
    return broken ? 1 : 0;
}
