/*
 * fuzz_heap.c - differential fuzzer: random operation sequences against a
 * model written from the contract (include/mpgc.h, docs/design.md,
 * docs/reliability.md "What each call does inside a collection"), not from
 * the engine's code.
 *
 * The model keeps a shadow copy of every allocation and the root arrays,
 * and computes reachability itself: a word keeps an allocation alive iff it
 * equals its start (or lies inside it, with MPGC_INTERIOR_POINTERS);
 * no-scan allocations are never read. The heap runs in precise mode (no C
 * stack scan), so reachability is exact. What the contract leaves to the
 * engine (how many finalisers one collection runs, when unreachable garbage
 * that is not finalisable goes in the safe order) is not predicted: the
 * engine's choice is observed and checked against properties.
 *
 * Each collection is seen through the scan_roots callback (the roots as it
 * saw them), the finaliser callback and, at its end, mpgc_size of every
 * object the model holds (what it freed). Checked:
 *  - a collection frees no object reachable from its roots (registered
 *    ranges, scan_roots' ranges, mark_range between collect_start and
 *    collect_end, a realloc's own object), none marked with mpgc_mark_range
 *    during finalisation, none with a finaliser still pending; in the safe
 *    order none finalised in that collection nor reachable from one, and
 *    none reachable from an object whose finaliser is still pending; in
 *    MicroPython's order every unreachable object goes in that collection;
 *  - a finaliser runs once per MPGC_FINALISE flag, only for an object
 *    unreachable from the roots, with the heap locked and mpgc_check()
 *    true, and (safe order) with the object and all it reaches intact and
 *    no unreachable object that reaches it (outside a cycle) still pending;
 *  - with no allocation, N + 4 * ceil(N / MPGC_FINALISE_BATCH) + 4
 *    collections free everything unreachable (N: unreachable finalisable
 *    objects; docs/design.md section 4a, "Bounds": chains take about one
 *    collection per batch, cycles longer than a batch one per member);
 *  - a failed mpgc_alloc (enabled, unlocked, no fault injected, a size one
 *    pool could hold) leaves only reachable objects allocated;
 *  - mpgc_sweep_all runs every pending finaliser once (safe order: every
 *    object intact meanwhile, referrers first) and frees everything;
 *  - from inside the finaliser, scan_roots and progress callbacks and
 *    between collect_start and collect_end, a fuzz-chosen public call gets
 *    its defined result (alloc/realloc NULL, free/collect/sweep_all/finish_sweep/
 *    collect_end nothing, region/root/finaliser changes refused, lock
 *    nesting, readers and switches working);
 *  - after every step: mpgc_check(), every object's size and bytes, the
 *    counters, the lock state and the lock/unlock hooks balanced.
 *
 * Built as a libFuzzer target (LLVMFuzzerTestOneInput) or, with
 * fuzz/driver.c, as a plain program for CTest and non-clang compilers.
 * FUZZ_OFF (a bit mask, default 0) leaves parts out, to time how fast each
 * part finds a bug: 1 nested collect_start/collect_end in callbacks,
 * 2 mpgc_sweep_all, 4 the finaliser order check, 8 the failed-allocation
 * check, 16 region/root/finaliser changes from callbacks, 32 mark_range
 * from the progress callback, 64 the progress bound (for MPGC_FINALISE_BATCH
 * values that do not keep it).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpgc.h"

#ifndef FUZZ_OFF
#define FUZZ_OFF 0
#endif

#define BLK ((size_t)MPGC_BLOCK_BYTES)
#define W sizeof(void *)
#define NOBJ 48
#define NROOT 8

/* The model's word-by-word loops are left out of libFuzzer's coverage and
 * comparison tracing: they cost most of the time and guide nothing. */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

typedef uint64_t set_t;
#define BIT(i) ((set_t)1 << (i))

typedef struct {
    uint8_t *p;      /* NULL: slot unused */
    size_t blocks;
    bool noscan;
    bool fin;        /* MPGC_FINALISE armed (finaliser still to run) */
    uint8_t *shadow; /* blocks * BLK bytes */
} obj_t;

static _Alignas(64) uint8_t arena[48 * 1024];
static _Alignas(64) uint8_t arena2[12 * 1024];
static _Alignas(64) uint8_t arena3[4 * 1024]; /* scratch heaps */
static mpgc_t *gc;
static mpgc_config_t cfg;
static size_t heap_bytes;
static int user_token;

static obj_t objs[NOBJ];
static void *rootA[NROOT]; /* registered at init */
static void *rootB[NROOT]; /* registered or not (toggled) */
static void *rootC[NROOT]; /* reported by scan_roots when rootC_on */
static void *rootD[NROOT]; /* reported between collect_start and collect_end */
static void *rootE[NROOT]; /* never registered (refused add_root) */
static bool rootB_on, rootC_on;

/* The heap's state as the model knows it. */
static unsigned user_depth;  /* mpgc_lock()s the user holds */
static bool enabled;
static ptrdiff_t threshold;
static bool region2_on;
static uint8_t *region2; /* where arena2's pool starts */
static size_t region2_len;
static size_t pool1_bytes, pool2_bytes; /* usable bytes of each pool */
static mpgc_finalise_order_t order;
#define SAFE (order == MPGC_FINALISE_SAFE)

/* Hooks. */
static long hook_depth;
static unsigned reports;
static mpgc_bad_t last_report;
static bool fail_mode;
static unsigned prog_every, prog_calls;
static int resurrect_slot = -1;
static bool quiet; /* callbacks keep liveness unchanged (progress check) */

/* The current operation and its collections. A segment runs from one
 * scan_roots call to the next (or to the end of the operation); a
 * collection is one segment (or more, if the engine rescans roots). */
typedef struct {
    bool open, valid;
    size_t coll;                 /* mpgc_info().collections at its start */
    set_t strict;                /* reachable from its roots */
    set_t late;                  /* marked with mark_range in a finaliser */
    set_t maykeep;               /* marked with mark_range in progress */
    set_t finalised, protect;    /* finalised in this collection, and their reach */
} seg_t;
static seg_t seg;
static unsigned op_nseg, op_fins, op_freed;
static const uint8_t *op_newp; /* the op's new allocation, not yet in the model */
static int op_target = -1;     /* realloc's object (the op handles it) */
static const void *pinned;     /* realloc's object: the caller holds it */
static bool op_perturbed;      /* a callback changed liveness or policy */
static bool in_sweep_all;
static int cur_fin = -1;       /* object whose finaliser runs */
static int cb_nest;

static const uint8_t *in;
static size_t in_left;

#ifdef FUZZ_TRACE /* -DFUZZ_TRACE: print every operation */
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) ((void)0)
#endif

#ifdef FUZZ_STATS /* -DFUZZ_STATS: count what the checks saw, print at exit */
enum { S_COLL, S_FIN, S_ORDER, S_FREED, S_C, S_DRAIN, S_SWEEPALL, S_C3, S_PROG, S_INSIDE, S_REGION, S_RESUR, S_N };
static const char *stat_names[S_N] = {"collections", "finalisers", "order checks with a pending referrer candidate",
    "objects freed by collections", "failed-allocation checks", "drains", "sweep_all", "collect_start accepted",
    "progress calls acted on", "calls inside collections", "regions given back", "resurrections"};
static unsigned long stats[S_N];
#define STAT(k) (stats[k]++)
__attribute__((destructor)) static void print_stats(void) {
    for (int k = 0; k < S_N; k++) fprintf(stderr, "%12lu %s\n", stats[k], stat_names[k]);
}
#else
#define STAT(k) ((void)0)
#endif

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "fuzz_heap: " __VA_ARGS__);                            \
        fprintf(stderr, "\n");                                                 \
        abort();                                                               \
    } while (0)

static uint8_t byte(void) {
    if (!in_left) return 0;
    in_left--;
    return *in++;
}
static uint32_t u32(void) {
    uint32_t v = byte();
    v |= (uint32_t)byte() << 8;
    v |= (uint32_t)byte() << 16;
    return v | (uint32_t)byte() << 24;
}
static int popc(set_t s) {
    int n = 0;
    for (; s; s &= s - 1) n++;
    return n;
}

/* ---- the model's object graph ------------------------------------------ */

static set_t edges[NOBJ];
static set_t reach[NOBJ], reach_known; /* reach_of(i), computed on demand */
static bool edges_stale[NOBJ]; /* object i's contents changed */
static bool reach_ok;

NOCOV static bool in_heap_arenas(const uint8_t *a) {
    return (a >= arena && a < arena + sizeof arena) || (a >= arena2 && a < arena2 + sizeof arena2);
}

/* The object a word designates, or -1. */
NOCOV static int find(const void *v) {
    const uint8_t *a = v;
    if (!in_heap_arenas(a)) return -1;
    for (int i = 0; i < NOBJ; i++) {
        const obj_t *o = &objs[i];
        if (!o->p) continue;
        if (a == o->p) return i;
        if (MPGC_INTERIOR_POINTERS && a > o->p && a < o->p + o->blocks * BLK) return i;
    }
    return -1;
}
NOCOV static int find_start(const void *v) {
    if (!v) return -1;
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p && objs[i].p == v) return i;
    return -1;
}

/* The graph is kept up to date incrementally: an object whose contents
 * change is rescanned; an object that appears (or moves) is looked for in
 * every other object; one that goes is taken out of every edge set. */
static void obj_changed(int i) {
    edges_stale[i] = true;
    reach_ok = false;
}
static void obj_removed(int j) {
    for (int i = 0; i < NOBJ; i++) edges[i] &= ~BIT(j);
    edges[j] = 0;
    edges_stale[j] = false;
    reach_ok = false;
}
NOCOV static void obj_added(int j) {
    const uint8_t *p = objs[j].p, *e = p + objs[j].blocks * BLK;
    for (int i = 0; i < NOBJ; i++) {
        const obj_t *o = &objs[i];
        if (i == j || !o->p || o->noscan || edges_stale[i]) continue;
        for (size_t k = 0; k + W <= o->blocks * BLK; k += W) {
            const uint8_t *w;
            memcpy(&w, o->shadow + k, W);
            if (w == p || (MPGC_INTERIOR_POINTERS && w > p && w < e)) {
                edges[i] |= BIT(j);
                break;
            }
        }
    }
    obj_changed(j);
}

NOCOV static void graph(void) {
    if (reach_ok) return;
    for (int i = 0; i < NOBJ; i++) {
        obj_t *o = &objs[i];
        if (!edges_stale[i]) continue;
        edges_stale[i] = false;
        edges[i] = 0;
        if (!o->p || o->noscan) continue;
        for (size_t k = 0; k + W <= o->blocks * BLK; k += W) {
            void *w;
            memcpy(&w, o->shadow + k, W);
            int j = find(w);
            if (j >= 0) edges[i] |= BIT(j);
        }
    }
    reach_known = 0;
    reach_ok = true;
}

/* Everything reachable from the objects in seeds (seeds included). */
NOCOV static set_t closure(set_t seeds) {
    graph();
    set_t seen = seeds, todo = seeds;
    while (todo) {
        int k = __builtin_ctzll(todo);
        todo &= todo - 1;
        set_t fresh = edges[k] & ~seen;
        seen |= fresh;
        todo |= fresh;
    }
    return seen;
}

/* Everything reachable from object i (i included). */
static set_t reach_of(int i) {
    graph();
    if (!(reach_known & BIT(i))) {
        reach[i] = closure(BIT(i));
        reach_known |= BIT(i);
    }
    return reach[i];
}

static set_t values_reach(void *const *v, size_t n) {
    set_t s = 0;
    for (size_t i = 0; i < n; i++) {
        int j = find(v[i]);
        if (j >= 0) s |= BIT(j);
    }
    return closure(s);
}

/* Reachable from the roots every collection sees now. */
static set_t roots_reach(void) {
    set_t s = values_reach(rootA, NROOT);
    if (rootB_on) s |= values_reach(rootB, NROOT);
    if (rootC_on) s |= values_reach(rootC, NROOT);
    return s;
}

NOCOV static set_t present(void) {
    set_t s = 0;
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p) s |= BIT(i);
    return s;
}

static void model_drop(int i) {
    free(objs[i].shadow);
    memset(&objs[i], 0, sizeof objs[i]);
    obj_removed(i);
}

static size_t collections(void) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    return i.collections;
}

NOCOV static bool intact(int i) {
    const obj_t *o = &objs[i];
    return mpgc_size(gc, o->p) == o->blocks * BLK && memcmp(o->p, o->shadow, o->blocks * BLK) == 0;
}

/* ---- collections, as observed ------------------------------------------ */

static void seg_begin(void) {
    size_t c = collections();
    if (!(seg.valid && c == seg.coll)) /* a new collection */
        seg.late = seg.finalised = seg.protect = 0;
    seg.valid = seg.open = true;
    seg.coll = c;
    seg.strict = roots_reach();
    if (pinned) seg.strict |= values_reach((void *const *)&pinned, 1);
    op_nseg++;
    STAT(S_COLL);
    TRACE("  collection %zu: reachable %llx of %llx\n", c, (unsigned long long)seg.strict,
          (unsigned long long)present());
#ifdef FUZZ_TRACE
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p && !(seg.strict & BIT(i)))
            TRACE("    #%d %p%s -> %llx\n", i, (void *)objs[i].p, objs[i].fin ? " (fin)" : "",
                  (unsigned long long)(edges[i]));
#endif
}

/* The segment is over: what did the engine free, and was it allowed? */
static void seg_end(bool ended) {
    seg.open = false;
    graph();
    set_t alive = 0, freed = 0;
    for (int i = 0; i < NOBJ; i++) {
        const obj_t *o = &objs[i];
        if (!o->p) continue;
        if (i == op_target || (o->p != op_newp && mpgc_size(gc, o->p) == o->blocks * BLK))
            alive |= BIT(i);
        else
            freed |= BIT(i);
    }
    set_t keep = seg.strict | (SAFE ? seg.protect | seg.late : 0);
    for (int i = 0; i < NOBJ; i++) {
        if (!(freed & BIT(i))) continue;
        const void *p = objs[i].p;
        if (seg.strict & BIT(i)) FAIL("a collection freed %p, reachable from its roots", p);
        if (keep & BIT(i))
            FAIL("a collection freed %p, finalised or marked in it or reachable from such an object", p);
        if (objs[i].fin) FAIL("a collection freed %p without running its finaliser", p);
    }
    if (SAFE)
        for (int x = 0; x < NOBJ; x++)
            if ((alive & BIT(x)) && objs[x].fin && (reach_of(x) & freed))
                FAIL("a collection freed a referent of %p, whose finaliser is pending", (void *)objs[x].p);
    if (!SAFE && ended) {
        set_t stay = alive & ~(seg.strict | seg.late | seg.maykeep);
        if (op_target >= 0) stay &= ~BIT(op_target);
        if (stay) FAIL("MicroPython order: unreachable %p survived a collection", (void *)objs[__builtin_ctzll(stay)].p);
    }
    TRACE("  collection %zu %s: freed %llx\n", seg.coll, ended ? "ended" : "goes on", (unsigned long long)freed);
    for (int i = 0; i < NOBJ; i++)
        if (freed & BIT(i)) model_drop(i);
    op_freed += (unsigned)popc(freed);
#ifdef FUZZ_STATS
    stats[S_FREED] += (unsigned)popc(freed);
#endif
}

static void begin_op(void) {
    op_nseg = op_fins = op_freed = 0;
    op_newp = NULL;
    op_target = -1;
    op_perturbed = false;
    seg.open = seg.valid = false;
    seg.maykeep = 0; /* progress may mark before scan_roots: kept for the op */
}

static void end_op(void) {
    if (seg.open) seg_end(true);
    op_newp = NULL;
}

/* ---- calls from inside a collection ------------------------------------ */

enum { K_SCAN, K_FIN, K_PROG, K_BETWEEN };

static obj_t *some_obj(void) { return &objs[byte() % NOBJ]; }

/* A pointer value for stores and bad-pointer calls. */
static void *pick_value(void) {
    obj_t *o = some_obj();
    switch (byte() % 7) {
    case 0: return NULL;
    case 1: return o->p ? o->p + byte() % (o->blocks * BLK) : NULL;
    case 2: return (void *)(arena + u32() % sizeof arena);
    case 3: return (void *)(uintptr_t)u32();
    case 4: return (void *)(arena2 + u32() % sizeof arena2);
    default: return o->p;
    }
}

static void count_writer(void *ctx, const char *s, size_t n) {
    size_t *sum = ctx;
    for (size_t i = 0; i < n; i++) *sum += (unsigned char)s[i];
}

/* An object sure to be allocated throughout this call, or -1. */
static int held_obj(int kind) {
    if (kind == K_FIN && cur_fin >= 0) return cur_fin;
    if (in_sweep_all || !seg.open) return -1;
    set_t s = seg.strict & present();
    if (!s) return -1;
    int k = byte() % popc(s);
    while (k--) s &= s - 1;
    return __builtin_ctzll(s);
}

static void inside_call(int kind) {
    if (cb_nest > 2) return;
    cb_nest++;
    const char *where = kind == K_SCAN ? "scan_roots" : kind == K_FIN ? "finaliser"
                        : kind == K_PROG ? "progress" : "collect_start..end";
    size_t c0 = collections(), used0 = mpgc_mem_alloc(gc);
    unsigned nseg0 = op_nseg, fins0 = op_fins;
    uint8_t c = byte();
    STAT(S_INSIDE);
    TRACE("    %s: call %u\n", where, c % 22u);
    switch (c % 22) {
    case 0: break;
    case 1: {
        size_t n = 1 + byte() % (4 * BLK);
        if (mpgc_alloc(gc, n, byte() & 3u)) FAIL("alloc succeeded in %s", where);
        break;
    }
    case 2: {
        int i = held_obj(kind);
        unsigned r0 = reports;
        void *v = i >= 0 ? objs[i].p : byte() & 1 ? NULL : pick_value();
        size_t n = 1 + byte() % (8 * BLK);
        if (mpgc_realloc(gc, v, n, byte() & 1)) FAIL("realloc succeeded in %s", where);
        if (i >= 0 && (reports != r0 + 1 || last_report != MPGC_BAD_LOCKED))
            FAIL("realloc in %s: not reported as MPGC_BAD_LOCKED", where);
        if (i >= 0 && !intact(i)) FAIL("realloc in %s changed its object", where);
        break;
    }
    case 3: {
        int i = held_obj(kind);
        if (i < 0) break;
        unsigned r0 = reports;
        mpgc_free(gc, objs[i].p);
        if (reports != r0 + 1 || last_report != MPGC_BAD_LOCKED)
            FAIL("free in %s: not reported as MPGC_BAD_LOCKED", where);
        if (!intact(i)) FAIL("free in %s freed its object", where);
        break;
    }
    case 4:
        if (mpgc_collect(gc) != 0) FAIL("collect in %s returned non-zero", where);
        break;
    case 5:
        if (FUZZ_OFF & 1) break;
        if (mpgc_collect_start(gc)) FAIL("collect_start in %s returned true", where);
        if (kind != K_BETWEEN && mpgc_collect_end(gc) != 0) FAIL("collect_end after a refused start returned non-zero");
        break;
    case 6:
        if (FUZZ_OFF & 1) break;
        if (kind != K_BETWEEN && mpgc_collect_end(gc) != 0) FAIL("collect_end in %s returned non-zero", where);
        break;
    case 7:
        if (mpgc_sweep_all(gc) != 0) FAIL("sweep_all in %s returned non-zero", where);
        if (mpgc_finish_sweep(gc) != 0) FAIL("finish_sweep in %s returned non-zero", where);
        break;
    case 8:
        if (FUZZ_OFF & 16) break;
        if (region2_on ? mpgc_remove_region(gc, region2) : mpgc_add_region(gc, arena2, sizeof arena2))
            FAIL("region %s accepted in %s", region2_on ? "removal" : "addition", where);
        break;
    case 9:
        if (FUZZ_OFF & 16) break;
        if (mpgc_add_root(gc, rootE, sizeof rootE)) FAIL("add_root accepted in %s", where);
        if (mpgc_remove_root(gc, byte() & 1 ? rootA : rootE)) FAIL("remove_root accepted in %s", where);
        break;
    case 10: {
        int i = held_obj(kind);
        if (i < 0 || (FUZZ_OFF & 16) != 0) break;
        if (mpgc_set_finaliser(gc, objs[i].p, !objs[i].fin)) FAIL("set_finaliser accepted in %s", where);
        break;
    }
    case 11:
        mpgc_lock(gc);
        if (!mpgc_is_locked(gc)) FAIL("not locked in %s", where);
        mpgc_unlock(gc);
        if (!mpgc_is_locked(gc)) FAIL("an unlock in %s dropped the collection's lock", where);
        break;
    case 12:
        if (quiet) break;
        mpgc_unlock(gc); /* a lone unlock: gives back a user lock, if any */
        if (user_depth) user_depth--;
        if (!mpgc_is_locked(gc)) FAIL("a lone unlock in %s dropped the collection's lock", where);
        break;
    case 13:
        if (quiet) break;
        mpgc_lock(gc); /* kept: the heap stays locked after the collection */
        user_depth++;
        op_perturbed = true;
        break;
    case 14:
        if (byte() & 1) {
            mpgc_enable(gc);
            enabled = true;
        } else {
            mpgc_disable(gc);
            enabled = false;
            op_perturbed = true;
        }
        if (mpgc_isenabled(gc) != enabled) FAIL("isenabled wrong in %s", where);
        break;
    case 15: {
        ptrdiff_t t = byte() % 4 == 0 ? -1 : (ptrdiff_t)(byte() * BLK);
        mpgc_set_threshold(gc, t);
        threshold = MPGC_ENABLE_THRESHOLD && t >= 0 ? t : -1;
        if (mpgc_threshold(gc) != threshold) FAIL("threshold wrong in %s", where);
        break;
    }
    case 16: {
        mpgc_info_t i;
        mpgc_info(gc, &i);
        size_t a = mpgc_mem_alloc(gc);
        ptrdiff_t f = mpgc_mem_free(gc);
        if (kind != K_PROG && (a != i.used || (size_t)f != i.free || i.used + i.free != i.total))
            FAIL("counters disagree in %s", where);
        size_t sum = 0;
        mpgc_dump_alloc_table(gc, count_writer, &sum);
        (void)mpgc_size(gc, pick_value());
        break;
    }
    case 17: { /* mark_range: a root in scan_roots and between start and end,
                  keeps alive in a finaliser, may or may not in progress */
        if (quiet || in_sweep_all || (kind == K_PROG && (FUZZ_OFF & 32) != 0)) break;
        void *vals[4]; /* its own array: a progress callback may come inside mark_range */
        for (int k = 0; k < 4; k++) vals[k] = pick_value();
        set_t r = values_reach(vals, 4);
        TRACE("      mark_range: %llx\n", (unsigned long long)r);
        mpgc_mark_range(gc, vals, sizeof vals);
        op_perturbed = true; /* roots that are gone after this collection */
        if (kind == K_SCAN || kind == K_BETWEEN) seg.strict |= r; /* this collection's */
        else if (kind == K_FIN) seg.late |= r;
        else seg.maykeep |= r;
        break;
    }
    case 18: {
        bool ok = mpgc_check(gc);
        if (!ok && kind != K_PROG) FAIL("mpgc_check false in %s", where);
        break;
    }
    case 19:
        if (!mpgc_is_locked(gc)) FAIL("not locked in %s", where);
        break;
    case 20: {
        size_t n = u32();
        size_t r = mpgc_region_bytes(n);
        if (r != 0 && r < n) FAIL("region_bytes(%zu) = %zu", n, r);
        break;
    }
    default: { /* the bad-pointer paths while locked */
        (void)mpgc_size(gc, pick_value());
        mpgc_free(gc, pick_value());
        void *v = pick_value();
        if (mpgc_realloc(gc, v, 1 + byte(), true)) FAIL("realloc succeeded in %s", where);
        break;
    }
    }
    if (collections() != c0 || op_nseg != nseg0 || op_fins != fins0)
        FAIL("a collection ran inside %s (call %u)", where, c % 22u);
    if (kind != K_PROG && mpgc_mem_alloc(gc) != used0) FAIL("call %u in %s changed mem_alloc", c % 22u, where);
    if (!mpgc_is_locked(gc)) FAIL("heap unlocked in %s after call %u", where, c % 22u);
    cb_nest--;
}

/* ---- engine callbacks ---------------------------------------------------- */

static void check_user(void *user) {
    if (user != &user_token) FAIL("callback got user %p", user);
}

static void on_finalise(mpgc_t *g, void *obj, void *user) {
    check_user(user);
    if (g != gc) FAIL("finaliser for another heap");
    int i = find_start(obj);
    if (i < 0) FAIL("finaliser for %p, not an object of the model", obj);
    if (!objs[i].fin) FAIL("finaliser for %p ran twice, or without MPGC_FINALISE", obj);
    if (!mpgc_is_locked(g)) FAIL("finaliser runs unlocked");
    TRACE("   finaliser #%d %p\n", i, obj);
    graph();
    set_t strict = 0, late = 0, maykeep = 0;
    if (!in_sweep_all) {
        if (!seg.open) FAIL("finaliser outside a collection");
        strict = seg.strict, late = seg.late, maykeep = seg.maykeep;
        if (strict & BIT(i)) FAIL("finaliser for %p, reachable from the roots", obj);
    }
    if (SAFE) {
        set_t need = in_sweep_all ? present() : reach_of(i);
        for (int j = 0; j < NOBJ; j++)
            if ((need & BIT(j)) && !intact(j))
                FAIL("finaliser of %p: %p (%s) is not intact", obj, (void *)objs[j].p,
                     j == i ? "itself" : in_sweep_all ? "sweep_all" : "a referent");
        if (!(FUZZ_OFF & 4)) {
            set_t pending = 0;
            for (int x = 0; x < NOBJ; x++)
                if (objs[x].p && objs[x].fin && x != i) pending |= BIT(x);
            pending &= ~(strict | late | maykeep);
            if (pending) STAT(S_ORDER);
            /* The documented limit (design.md 4a): when more unreachable
             * finalisable objects than a batch are all reached by one
             * another (their sources are cycles no batch holds whole), the
             * order between cycles is not guaranteed. */
            set_t p_all = pending | BIT(i);
            bool all_reached = true;
            for (int x = 0; x < NOBJ && all_reached; x++) {
                if (!(p_all & BIT(x))) continue;
                bool by_other = false;
                for (int y = 0; y < NOBJ && !by_other; y++)
                    by_other = y != x && (p_all & BIT(y)) && (reach_of(y) & BIT(x));
                all_reached = by_other;
            }
            if (all_reached && __builtin_popcountll(p_all) > MPGC_FINALISE_BATCH) pending = 0;
            for (int x = 0; x < NOBJ; x++)
                if ((pending & BIT(x)) && (reach_of(x) & BIT(i)) && !(reach_of(i) & BIT(x)))
                    FAIL("finaliser of %p runs before that of %p, which reaches it (order)", obj,
                         (void *)objs[x].p);
        }
    } else if (!intact(i)) {
        FAIL("finaliser of %p: object not intact", obj);
    }
    objs[i].fin = false;
    op_fins++;
    STAT(S_FIN);
    if (!in_sweep_all) {
        seg.finalised |= BIT(i);
        if (SAFE) seg.protect |= reach_of(i);
    }
    int saved = cur_fin;
    cur_fin = i;
    inside_call(K_FIN);
    cur_fin = saved;
    if (resurrect_slot >= 0 && !quiet) {
        void *old = rootA[resurrect_slot];
        if (old && old != obj) op_perturbed = true;
        rootA[resurrect_slot] = obj;
        STAT(S_RESUR);
    }
}

static void on_scan_roots(mpgc_t *g, void *user) {
    check_user(user);
    if (g != gc) FAIL("scan_roots for another heap");
    if (!mpgc_is_locked(g)) FAIL("scan_roots runs unlocked");
    if (rootC_on) mpgc_mark_range(g, rootC, sizeof rootC);
    if (!in_sweep_all) {
        if (seg.open) seg_end(collections() != seg.coll);
        seg_begin();
    }
    inside_call(K_SCAN);
}

static void on_progress(mpgc_t *g, void *user) {
    check_user(user);
    if (!mpgc_is_locked(g)) FAIL("progress callback runs unlocked");
    if (!prog_every || ++prog_calls % prog_every) return;
    STAT(S_PROG);
    (void)mpgc_check(g); /* may come during the sweep, where it is false */
    inside_call(K_PROG);
}

static void on_report(mpgc_t *g, mpgc_bad_t what, const void *ptr, void *user) {
    (void)g, (void)ptr;
    check_user(user);
    reports++;
    last_report = what;
}

static void on_lock(void *user) {
    check_user(user);
    hook_depth++;
}
static void on_unlock(void *user) {
    check_user(user);
    if (--hook_depth < 0) FAIL("unlock hook ran more often than the lock hook");
}

static bool on_fail_alloc(mpgc_t *g, size_t n, void *user) {
    (void)g, (void)n;
    check_user(user);
    return fail_mode;
}

/* ---- checks ------------------------------------------------------------- */

NOCOV static void check_all(const char *op) {
    if (hook_depth != 0) FAIL("after %s: lock hook ran %ld more times than unlock", op, hook_depth);
    if (!mpgc_check(gc)) FAIL("mpgc_check failed after %s", op);
    if (mpgc_is_locked(gc) != (user_depth > 0))
        FAIL("after %s: is_locked %d, the user holds %u locks", op, mpgc_is_locked(gc), user_depth);
    if (mpgc_isenabled(gc) != enabled) FAIL("after %s: isenabled wrong", op);
    if (mpgc_threshold(gc) != threshold) FAIL("after %s: threshold wrong", op);
    size_t sum = 0;
    for (int i = 0; i < NOBJ; i++) {
        obj_t *o = &objs[i];
        if (!o->p) continue;
        sum += o->blocks * BLK;
        if (mpgc_size(gc, o->p) != o->blocks * BLK)
            FAIL("after %s: object %p has size %zu, model %zu", op, (void *)o->p,
                 mpgc_size(gc, o->p), o->blocks * BLK);
        if (memcmp(o->p, o->shadow, o->blocks * BLK) != 0)
            FAIL("after %s: contents of %p changed", op, (void *)o->p);
    }
    if (mpgc_mem_alloc(gc) != sum) FAIL("after %s: mem_alloc %zu, model %zu", op, mpgc_mem_alloc(gc), sum);
    mpgc_info_t info;
    mpgc_info(gc, &info);
    if (info.used + info.free != info.total || (size_t)mpgc_mem_free(gc) != info.free ||
        info.used != sum || info.max_free > info.free)
        FAIL("after %s: counters disagree", op);
}

/* ---- operations ---------------------------------------------------------- */

static size_t pick_size(void) {
    switch (byte() % 8) {
    case 0: return 0;
    case 1: return SIZE_MAX - (byte() % 64);
    case 2: return (size_t)u32() % (sizeof arena * 2);
    case 3: return 1 + byte() % 8 * BLK;
    default: return 1 + byte() % (6 * BLK);
    }
}

static bool too_big(size_t n) { return n == 0 || n > SIZE_MAX - (BLK - 1); }

static bool in_region2(const uint8_t *p) { return region2_on && p >= region2 && p < region2 + region2_len; }

static int free_slot(void) {
    int i = byte() % NOBJ;
    if (!objs[i].p) return i;
    for (i = 0; i < NOBJ; i++)
        if (!objs[i].p) return i;
    return -1;
}

static void adopt(int i, uint8_t *p, size_t n, bool noscan, bool fin) {
    if (!(p >= arena && p < arena + heap_bytes) && !in_region2(p))
        FAIL("allocation %p outside the heap's pools", (void *)p);
    obj_t *o = &objs[i];
    o->p = p;
    o->blocks = (n + BLK - 1) / BLK;
    o->noscan = noscan;
    o->fin = fin && MPGC_ENABLE_FINALISERS;
    o->shadow = malloc(o->blocks * BLK);
    if (!o->shadow) abort();
    memcpy(o->shadow, p, o->blocks * BLK);
    obj_added(i);
}

/* Contract C: a failed allocation leaves only reachable objects allocated. */
static void check_failed_alloc(size_t n) {
    size_t need = (n + BLK - 1) / BLK * BLK;
    if (need > pool1_bytes && !(region2_on && need <= pool2_bytes)) return; /* fits no pool */
    STAT(S_C);
    set_t r = roots_reach(), dead = present() & ~r;
    if (dead) {
        int i = __builtin_ctzll(dead);
        FAIL("alloc(%zu) failed while unreachable %p (%zu bytes%s) is still allocated", n,
             (void *)objs[i].p, objs[i].blocks * BLK, objs[i].fin ? ", finaliser pending" : "");
    }
}

/* Frees an allocation the model has no slot for (unlocking first: a
 * finaliser may have taken a lock during the allocation). */
static void give_back(void *p) {
    while (user_depth) {
        mpgc_unlock(gc);
        user_depth--;
    }
    mpgc_free(gc, p);
}

static void op_alloc(void) {
    int slot = free_slot();
    size_t n = pick_size();
    unsigned flags = byte() & 3u;
    fail_mode = byte() % 16 == 0;
    bool locked = user_depth > 0, en = enabled;
    begin_op();
    uint8_t *p = mpgc_alloc(gc, n, flags);
    TRACE("  alloc(%zu, %u) = %p -> #%d%s\n", n, flags, (void *)p, slot, fail_mode ? " (fail_alloc)" : "");
    op_newp = p;
    end_op();
    bool failing = fail_mode;
    fail_mode = false;
    if (!en && op_nseg) FAIL("alloc collected while collection is disabled");
    if (!p) {
        if (!(FUZZ_OFF & 8) && !too_big(n) && !locked && !failing && en && !op_perturbed && user_depth == 0)
            check_failed_alloc(n);
        if (!too_big(n) && !locked && !failing) {
            mpgc_info_t i;
            mpgc_info(gc, &i);
            if (i.max_free >= (n + BLK - 1) / BLK * BLK) FAIL("alloc(%zu) failed with a %zu run free", n, i.max_free);
        }
        return;
    }
    if (too_big(n) || locked || failing) FAIL("alloc(%zu) succeeded where it must fail", n);
    for (size_t i = 0; i < (n + BLK - 1) / BLK * BLK; i++)
        if (p[i]) FAIL("alloc returned memory that is not zeroed");
    if (slot < 0) slot = free_slot(); /* the collections may have made room */
    if (slot < 0) { /* the model is full: give it back at once */
        give_back(p);
        return;
    }
    adopt(slot, p, n, flags & MPGC_NO_SCAN, flags & MPGC_FINALISE);
    uint8_t where = byte();
    if (where < 128) rootA[where % NROOT] = p;
    else if (where < 160) rootB[where % NROOT] = p;
}

/* free/realloc/size of a pointer that is no allocation's start: reported. */
static void check_bad_report(const void *v, unsigned r0, const char *what) {
    if (reports != r0 + 1) FAIL("%s(%p): %u reports", what, v, reports - r0);
    const uint8_t *a = v;
    bool foreign = !(a >= arena && a < arena + heap_bytes) && !in_region2(a);
    int j = find(v);
    if (user_depth == 0 && foreign && last_report != MPGC_BAD_FOREIGN)
        FAIL("%s(%p): reported %d, not MPGC_BAD_FOREIGN", what, v, last_report);
    if (user_depth == 0 && j >= 0 && objs[j].p != v && last_report != MPGC_BAD_INTERIOR)
        FAIL("%s(%p): reported %d, not MPGC_BAD_INTERIOR", what, v, last_report);
}

static void op_free(void) {
    void *v = pick_value();
    int i = find_start(v);
    unsigned r0 = reports;
    mpgc_free(gc, v);
    if (!v) return;
    if (i >= 0 && user_depth == 0) {
        if (reports != r0) FAIL("free(%p) of an object reported", v);
        model_drop(i);
    } else if (i >= 0) {
        if (reports != r0 + 1 || last_report != MPGC_BAD_LOCKED) FAIL("free while locked not reported");
    } else {
        check_bad_report(v, r0, "free");
    }
}

static void op_realloc(void) {
    void *v = byte() % 8 == 0 ? NULL : pick_value();
    size_t n = pick_size();
    bool move = byte() & 1;
    fail_mode = byte() % 16 == 0;
    int i = find_start(v);
    bool locked = user_depth > 0, en = enabled;
    begin_op();
    op_target = i;
    pinned = i >= 0 ? v : NULL;
    unsigned r0 = reports;
    uint8_t *q = mpgc_realloc(gc, v, n, move);
    TRACE("  realloc(%p #%d, %zu, %d) = %p\n", v, i, n, move, (void *)q);
    op_newp = q != v ? q : NULL;
    end_op();
    pinned = NULL;
    fail_mode = false;
    if (!en && op_nseg) FAIL("realloc collected while collection is disabled");
    if (!v) { /* an allocation, flags 0 */
        if (q && (locked || too_big(n))) FAIL("realloc(NULL, %zu) succeeded where it must fail", n);
        int s = q ? free_slot() : -1;
        if (q && s < 0) give_back(q);
        if (s >= 0) {
            adopt(s, q, n, false, false);
            rootA[byte() % NROOT] = q;
        }
        return;
    }
    if (i < 0) {
        if (q) FAIL("realloc of a bad pointer returned %p", (void *)q);
        if (n != 0 && !too_big(n)) check_bad_report(v, r0, "realloc");
        return;
    }
    obj_t *o = &objs[i];
    if (locked && n && !too_big(n)) {
        if (q) FAIL("realloc while locked returned %p", (void *)q);
        if (reports != r0 + 1 || last_report != MPGC_BAD_LOCKED) FAIL("realloc while locked not reported");
        return;
    }
    if (n == 0) {
        if (q) FAIL("realloc(p, 0) returned non-NULL");
        if (!locked) model_drop(i);
        return;
    }
    if (!q) return; /* could not: p untouched (check_all) */
    size_t want = (n + BLK - 1) / BLK, keep = want < o->blocks ? want : o->blocks;
    if (q != v && !move) FAIL("realloc moved without allow_move");
    if (q != v && !(q >= arena && q < arena + heap_bytes) && !in_region2(q))
        FAIL("realloc to %p, outside the heap's pools", (void *)q);
    if (memcmp(q, o->shadow, keep * BLK) != 0) FAIL("realloc lost the contents");
    uint8_t *sh = malloc(want * BLK);
    if (!sh) abort();
    memcpy(sh, q, want * BLK); /* the grown part: whatever the engine put there */
    obj_removed(i); /* then added again, at its new place and size */
    free(o->shadow);
    o->shadow = sh;
    o->blocks = want;
    o->p = q;
    obj_added(i);
    for (int k = 0; k < NROOT; k++)
        if (rootA[k] == v && q != v) rootA[k] = q;
}

static void op_store(void) {
    obj_t *o = some_obj();
    void *v = pick_value();
    if (!o->p) return;
    size_t at = (byte() % (o->blocks * BLK / W)) * W;
    memcpy(o->p + at, &v, W);
    memcpy(o->shadow + at, &v, W);
    TRACE("  #%d[%zu] = %p (#%d)\n", (int)(o - objs), at, v, find(v));
    obj_changed((int)(o - objs));
}

/* Links up to NOBJ scannable objects, in slot order from a fuzz-chosen
 * slot, into a chain or a ring (word 0 of each points at the next), with or
 * without a tail (word 1 of one member points at the object in the slot
 * before the first), arming their finalisers or not: long chains and cycles
 * of finalisable objects, which single stores seldom build, for the order
 * and progress checks. */
static void store_word(int i, size_t word, const void *v) {
    memcpy(objs[i].p + word * W, &v, W);
    memcpy(objs[i].shadow + word * W, &v, W);
    obj_changed(i);
}
static void arm(int i) {
    if (user_depth == 0 && mpgc_set_finaliser(gc, objs[i].p, true)) objs[i].fin = true;
}
static void op_link(void) {
    int from = byte() % NOBJ, len = 2 + byte() % (NOBJ - 1);
    uint8_t mode = byte();
    bool ring = mode & 1, tail = mode & 2, armed = mode & 4;
    int first = -1, prev = -1, n = 0;
    for (int k = 0; k < len; k++) {
        int i = (from + k) % NOBJ;
        if (!objs[i].p || objs[i].noscan) continue;
        if (prev >= 0) store_word(prev, 0, objs[i].p);
        else first = i;
        if (armed) arm(i);
        prev = i;
        if (++n == len / 2 && tail) {
            int t = (from + NOBJ - 1) % NOBJ;
            if (objs[t].p && BLK >= 2 * W) {
                store_word(i, 1, objs[t].p);
                if (armed) arm(t);
            }
        }
    }
    if (ring && prev >= 0 && prev != first) store_word(prev, 0, objs[first].p);
    TRACE("  link %d..%d, %d objects, mode %u\n", first, prev, n, mode & 7u);
}

static void op_fill(void) {
    obj_t *o = some_obj();
    if (!o->p) return;
    size_t at = byte() % (o->blocks * BLK), len = byte() % 64;
    if (at + len > o->blocks * BLK) len = o->blocks * BLK - at;
    uint8_t b = byte();
    memset(o->p + at, b, len);
    memset(o->shadow + at, b, len);
    obj_changed((int)(o - objs));
}

static void op_collect(void) {
    bool locked = user_depth > 0;
    size_t c0 = collections();
    begin_op();
    size_t freed = mpgc_collect(gc);
    end_op();
    if (locked) {
        if (freed || op_nseg || collections() != c0) FAIL("collect while locked did something");
        return;
    }
    if (!op_nseg || collections() == c0) FAIL("collect did not collect");
    if (freed != op_freed) FAIL("collect returned %zu, it freed %u", freed, op_freed);
}

/* mpgc_collect_start, ranges and calls, mpgc_collect_end. */
static void op_collect3(void) {
    bool locked = user_depth > 0;
    size_t c0 = collections();
    begin_op();
    if (!mpgc_collect_start(gc)) {
        if (!locked) FAIL("collect_start refused on an unlocked heap");
        if (hook_depth) FAIL("a refused collect_start kept the thread hook");
        if (mpgc_collect_end(gc) != 0 || op_nseg || collections() != c0)
            FAIL("collect_end after a refused start did something");
        end_op();
        return;
    }
    if (locked) FAIL("collect_start accepted while locked");
    STAT(S_C3);
    if (!seg.open) FAIL("collect_start did not scan the roots");
    if (MPGC_ENABLE_LOCK_HOOKS && hook_depth < 1) FAIL("collect_start did not keep the thread hook");
    if (!mpgc_is_locked(gc)) FAIL("not locked between collect_start and collect_end");
    for (int k = byte() % 4; k > 0; k--) {
        if (byte() & 1) {
            size_t off = byte() % NROOT, len = byte() % (NROOT - off + 1);
            mpgc_mark_range(gc, rootD + off, len * W);
            seg.strict |= values_reach(rootD + off, len);
        } else {
            inside_call(K_BETWEEN);
        }
    }
    size_t freed = mpgc_collect_end(gc);
    end_op();
    if (freed != op_freed) FAIL("collect_end returned %zu, it freed %u", freed, op_freed);
    if (collections() == c0) FAIL("collect_end did not count a collection");
}

static void init_heap(void);

/* Contract D: every pending finaliser once, then everything freed. */
static void op_sweep_all(void) {
    bool locked = user_depth > 0;
    set_t all = present(), pend = 0;
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p && objs[i].fin) pend |= BIT(i);
    size_t used0 = mpgc_mem_alloc(gc);
    begin_op();
    in_sweep_all = true;
    size_t r = mpgc_sweep_all(gc);
    in_sweep_all = false;
    end_op();
    if (locked && r == 0 && op_fins == 0 && mpgc_mem_alloc(gc) == used0) { /* refused while locked */
        check_all("sweep_all (locked)");
        return;
    }
    for (int i = 0; i < NOBJ; i++)
        if ((pend & BIT(i)) && objs[i].fin) FAIL("sweep_all did not run the finaliser of %p", (void *)objs[i].p);
    STAT(S_SWEEPALL);
    if (op_fins != (unsigned)popc(pend)) FAIL("sweep_all ran %u finalisers, %d pending", op_fins, popc(pend));
    if (mpgc_mem_alloc(gc) != 0) FAIL("sweep_all left %zu bytes allocated", mpgc_mem_alloc(gc));
    if (r != (size_t)popc(all)) FAIL("sweep_all returned %zu for %d objects", r, popc(all));
    if (!mpgc_check(gc)) FAIL("mpgc_check failed after sweep_all");
    if (hook_depth) FAIL("sweep_all: hooks unbalanced");
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p) model_drop(i);
    init_heap(); /* a fresh heap, as after a runtime's shutdown and restart */
}

/* Contract B's progress: with no allocation, N + 4 * ceil(N / BATCH) + 4
 * collections free every unreachable object (N: the unreachable
 * finalisable ones). */
static void op_drain(void) {
    while (user_depth) {
        mpgc_unlock(gc);
        user_depth--;
    }
    quiet = true;
    STAT(S_DRAIN);
    set_t r = roots_reach();
    int n = 0;
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p && objs[i].fin && !(r & BIT(i))) n++;
    int bound = n + 4 * ((n + MPGC_FINALISE_BATCH - 1) / MPGC_FINALISE_BATCH) + 4;
    for (int k = 0; k < bound; k++) {
        op_collect();
        check_all("drain");
        if (user_depth) break; /* cannot happen while quiet */
    }
    quiet = false;
    set_t dead = present() & ~roots_reach();
    if (dead && !(FUZZ_OFF & 64)) {
        int i = __builtin_ctzll(dead);
        FAIL("%d collections left unreachable %p (%zu bytes%s)", bound, (void *)objs[i].p, objs[i].blocks * BLK,
             objs[i].fin ? ", finaliser pending" : "");
    }
}

static void op_region(void) {
    if (!region2_on) {
        size_t off = byte() % 64, len = sizeof arena2 - off;
        if (byte() & 1) { /* exactly what region_bytes says an allocation needs */
            size_t n = 1 + (size_t)u32() % (8 * 1024);
            size_t rb = mpgc_region_bytes(n);
            if (MPGC_ENABLE_SPLIT_HEAP && rb == 0) FAIL("region_bytes(%zu) = 0", n);
            if (rb && rb <= len) len = rb;
            else n = 0;
            region2_on = mpgc_add_region(gc, arena2 + off, len);
            mpgc_info_t i1;
            mpgc_info(gc, &i1);
            if (MPGC_ENABLE_SPLIT_HEAP && n && user_depth == 0 &&
                (!region2_on || i1.max_free < (n + BLK - 1) / BLK * BLK))
                FAIL("a region of region_bytes(%zu) = %zu bytes cannot hold it", n, len);
        } else {
            region2_on = mpgc_add_region(gc, arena2 + off, len);
        }
        if (MPGC_ENABLE_SPLIT_HEAP && !region2_on && user_depth == 0 && len >= 1024)
            FAIL("add_region(%zu bytes) refused", len);
        if (region2_on) {
            region2 = arena2 + off;
            region2_len = len;
            mpgc_info_t i;
            mpgc_info(gc, &i);
            pool2_bytes = i.total - pool1_bytes;
            if (mpgc_add_region(gc, region2, region2_len)) FAIL("add_region accepted a region twice");
        }
        return;
    }
    bool empty = true;
    for (int i = 0; i < NOBJ; i++) empty &= !(objs[i].p && in_region2(objs[i].p));
    if (mpgc_remove_region(gc, arena)) FAIL("remove_region accepted the first region");
    if (mpgc_remove_region(gc, region2 + BLK)) FAIL("remove_region accepted a pointer into a region");
    bool gone = mpgc_remove_region(gc, region2);
    if (gone && !empty) FAIL("remove_region gave back a pool holding an allocation");
    if (!gone && empty && user_depth == 0) FAIL("remove_region refused an empty pool");
    region2_on = !gone;
    if (gone) STAT(S_REGION);
}

static void op_info(void) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    if (i.block_bytes != BLK) FAIL("info.block_bytes %zu", i.block_bytes);
    if (i.pools != 1u + region2_on) FAIL("info.pools %zu, model %d", i.pools, 1 + region2_on);
    if (i.total != pool1_bytes + (region2_on ? pool2_bytes : 0)) FAIL("info.total changed");
    if (MPGC_ENABLE_STATS) {
        size_t n1 = 0, n2 = 0, mx = 0;
        for (int k = 0; k < NOBJ; k++) {
            if (!objs[k].p) continue;
            n1 += objs[k].blocks == 1;
            n2 += objs[k].blocks == 2;
            if (objs[k].blocks > mx) mx = objs[k].blocks;
        }
        if (i.num_1block != n1 || i.num_2block != n2 || i.max_block != mx)
            FAIL("info: %zu/%zu/%zu one-block/two-block/largest, model %zu/%zu/%zu", i.num_1block,
                 i.num_2block, i.max_block, n1, n2, mx);
    }
    size_t sum = 0;
    mpgc_dump_alloc_table(gc, count_writer, &sum);
}

/* A second, short-lived heap in arena3: init's size limits and a shutdown. */
static void op_scratch(void) {
    if (mpgc_init(NULL, 4096, NULL) || mpgc_init(arena3, 0, NULL)) FAIL("init accepted no memory");
    size_t off = byte() % 64, len = byte();
    len = (len | (size_t)byte() << 8) % (sizeof arena3 - off + 1);
    mpgc_config_t c = {0};
    c.no_stack_scan = true;
    mpgc_t *h = mpgc_init(arena3 + off, len, byte() & 1 ? &c : NULL);
    if (!h) return;
    mpgc_disable(h); /* no collection: nothing is rooted */
    if (!mpgc_check(h)) FAIL("scratch heap: check after init");
    size_t n = 0;
    for (int k = byte() % 8; k > 0; k--) {
        size_t m = 1 + byte();
        n += mpgc_alloc(h, m, byte() & 3u) != NULL;
    }
    if (!mpgc_check(h)) FAIL("scratch heap: check");
    if (mpgc_sweep_all(h) != n || mpgc_mem_alloc(h) != 0) FAIL("scratch heap: sweep_all");
}

static void op_misc(void) {
    uint8_t m = byte();
    TRACE("  misc %u\n", m % 25u);
    switch (m % 25) {
    case 0: { int k = byte() % NROOT; rootA[k] = pick_value(); } break;
    case 1: { int k = byte() % NROOT; rootB[k] = pick_value(); } break;
    case 2: { int k = byte() % NROOT; rootC[k] = pick_value(); } break;
    case 3: { int k = byte() % NROOT; rootD[k] = pick_value(); } break;
    case 4:
        if (rootB_on) rootB_on = !mpgc_remove_root(gc, rootB);
        else rootB_on = mpgc_add_root(gc, rootB, sizeof rootB);
        break;
    case 5: rootC_on = !rootC_on; break;
    case 6: mpgc_lock(gc); user_depth++; break;
    case 7:
        mpgc_unlock(gc);
        if (user_depth) user_depth--;
        break;
    case 8: {
        ptrdiff_t t = byte() % 4 == 0 ? -1 : (ptrdiff_t)(byte() * BLK);
        mpgc_set_threshold(gc, t);
        threshold = MPGC_ENABLE_THRESHOLD && t >= 0 ? t : -1;
        break;
    }
    case 9:
        if ((enabled = byte() & 1)) mpgc_enable(gc);
        else mpgc_disable(gc);
        break;
    case 10: resurrect_slot = byte() % 3 == 0 ? (int)(byte() % NROOT) : -1; break;
    case 11: {
        void *v = pick_value();
        int i = find_start(v);
        unsigned r0 = reports;
        size_t s = mpgc_size(gc, v);
        size_t want = i >= 0 ? objs[i].blocks * BLK : 0;
        if (s != want) FAIL("size(%p) = %zu, model %zu", v, s, want);
        if (v && i < 0) check_bad_report(v, r0, "size");
        break;
    }
    case 12: op_region(); break;
    case 13: {
        void *v = pick_value();
        bool on = byte() & 1;
        int i = find_start(v);
        bool ok = mpgc_set_finaliser(gc, v, on);
        if (ok && i < 0) FAIL("set_finaliser accepted a bad pointer");
        if (MPGC_ENABLE_FINALISERS && !ok && i >= 0 && user_depth == 0) FAIL("set_finaliser refused an object");
        if (ok) objs[i].fin = on;
        break;
    }
    case 14: op_info(); break;
    case 15: {
        int top;
        mpgc_set_stack_top(gc, byte() & 1 ? NULL : &top); /* no_stack_scan: never read */
        break;
    }
    case 16: { /* no collection to end; the lazy index finished */
        size_t c0 = collections();
        if (mpgc_collect_end(gc) != 0 || collections() != c0) FAIL("collect_end without start did something");
        size_t a = mpgc_mem_alloc(gc);
        (void)mpgc_finish_sweep(gc);
        if (mpgc_mem_alloc(gc) != a) FAIL("finish_sweep changed mem_alloc");
        if (mpgc_finish_sweep(gc) != 0) FAIL("a second finish_sweep indexed runs");
        break;
    }
    case 17: /* outside a collection: ignored (no mark bit may stay set) */
        mpgc_mark_range(gc, rootD, sizeof rootD);
        break;
    case 18:
        if (!(FUZZ_OFF & 2) && byte() % 4 == 0) op_sweep_all();
        break;
    case 19: op_drain(); break;
    case 20: op_scratch(); break;
    case 21:
        if (byte() == 0) { /* port functions: read /proc, so rarely */
            mpgc_sysmem_t sm;
            (void)mpgc_sys_total();
            (void)mpgc_sys_heap(&sm), (void)mpgc_sys_page(&sm), (void)mpgc_sys_mmz(&sm);
        }
        break;
    case 22: if (byte() & 1) op_collect3(); break;
    case 23: op_link(); break;
    default: prog_every = byte() % 8; break;
    }
}

static void reset_model(void) {
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p) model_drop(i);
    user_depth = 0;
    enabled = true;
    threshold = -1;
    region2_on = false;
    rootB_on = false;
    seg.open = seg.valid = false;
    pinned = NULL;
    cur_fin = -1;
    cb_nest = 0;
    quiet = in_sweep_all = fail_mode = false;
}

static void init_heap(void) {
    reset_model();
    gc = mpgc_init(arena, heap_bytes, &cfg);
    if (!gc) FAIL("init failed for %zu bytes", heap_bytes);
    if (!mpgc_add_root(gc, rootA, sizeof rootA)) FAIL("add_root refused");
    mpgc_info_t i;
    mpgc_info(gc, &i);
    pool1_bytes = i.total;
    pool2_bytes = 0;
    if (i.pools != 1 || i.used != 0 || !mpgc_isenabled(gc) || mpgc_threshold(gc) != -1)
        FAIL("a new heap is not empty, enabled, threshold -1");
    check_all("init");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    in = data;
    in_left = size;
    uint8_t setup = byte(), setup2 = byte();
    memset(&cfg, 0, sizeof cfg);
    cfg.no_stack_scan = true;
    cfg.finaliser = on_finalise;
    cfg.scan_roots = on_scan_roots;
    cfg.report = on_report;
    cfg.lock = on_lock;
    cfg.unlock = on_unlock;
    cfg.fail_alloc = on_fail_alloc;
    cfg.progress = setup2 & 1 ? on_progress : NULL;
    cfg.user = &user_token;
    cfg.policy = (setup & 1) ? MPGC_POLICY_FIRST_FIT : MPGC_POLICY_FIT;
    cfg.finalise_order = (setup & 2) ? MPGC_FINALISE_MICROPYTHON : MPGC_FINALISE_SAFE;
    /* The model follows the order the engine uses: without the safe order
     * compiled in, the field is ignored (MicroPython's). */
    order = MPGC_ENABLE_SAFE_ORDER ? cfg.finalise_order : MPGC_FINALISE_MICROPYTHON;
    heap_bytes = 4096 + (size_t)(setup >> 3) * (sizeof arena - 4096) / 31;
    prog_every = (setup2 >> 1) % 8;
    prog_calls = 0;
    rootC_on = setup2 & 16;
    memset(rootA, 0, sizeof rootA);
    memset(rootB, 0, sizeof rootB);
    memset(rootC, 0, sizeof rootC);
    memset(rootD, 0, sizeof rootD);
    resurrect_slot = -1;
    hook_depth = 0;
    init_heap();
    if (setup & 4) {
        region2_on = mpgc_add_region(gc, arena2, sizeof arena2);
        if (MPGC_ENABLE_SPLIT_HEAP && !region2_on) FAIL("add_region(arena2) refused");
        if (region2_on) {
            region2 = arena2, region2_len = sizeof arena2;
            mpgc_info_t i;
            mpgc_info(gc, &i);
            pool2_bytes = i.total - pool1_bytes;
        }
    }
    static const char *names[] = {"alloc", "free", "realloc", "store", "fill", "collect", "collect3", "misc"};
    while (in_left) {
        uint8_t op = byte() % 32;
        int k = op < 9 ? 0 : op < 11 ? 1 : op < 14 ? 2 : op < 19 ? 3 : op < 21 ? 4 : op < 23 ? 5 : op < 25 ? 6 : 7;
        TRACE("%s\n", names[k]);
        switch (k) {
        case 0: op_alloc(); break;
        case 1: op_free(); break;
        case 2: op_realloc(); break;
        case 3: op_store(); break;
        case 4: op_fill(); break;
        case 5: op_collect(); break;
        case 6: op_collect3(); break;
        default: op_misc(); break;
        }
        if (k != 3 && k != 4) check_all(names[k]); /* a store or fill touches only its object */
    }
    /* Finally everything unreachable must go, then everything. */
    op_drain();
    check_all("final collections");
    if (!(FUZZ_OFF & 2)) op_sweep_all();
    reset_model();
    return 0;
}
