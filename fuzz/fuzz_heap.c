/*
 * fuzz_heap.c - differential fuzzer: random operation sequences against a
 * reference model of a conservative heap.
 *
 * The model keeps a shadow copy of every live allocation's blocks and the
 * root arrays, and marks the way the engine must: a word keeps an
 * allocation alive iff it equals its start (or lies inside it, with
 * MPGC_INTERIOR_POINTERS); scannable allocations are scanned over all their
 * blocks; no-scan ones never. The heap runs in precise mode (no C stack
 * scan), so the model's answer is exact. After every step:
 *   - mpgc_check() holds;
 *   - every allocation the model holds live has its size and its bytes
 *     (compared with the shadow);
 *   - mem_alloc() equals the model's total, so nothing the model freed is
 *     still allocated and nothing live was lost;
 *   - finalisers ran for exactly the objects, and in the order, the model
 *     predicts for the configured finaliser order.
 * Collections that happen inside an allocation (threshold, out of memory)
 * are noticed through mpgc_info().collections and replayed on the model.
 *
 * Built as a libFuzzer target (LLVMFuzzerTestOneInput) or, with
 * fuzz/driver.c, as a plain program for CTest and non-clang compilers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpgc.h"

#define BLK ((size_t)MPGC_BLOCK_BYTES)
#define W sizeof(void *)
#define NOBJ 48
#define NROOT 8
#define MAX_FIN 256

typedef struct {
    uint8_t *p;      /* NULL: slot unused */
    size_t blocks;
    unsigned flags;  /* MPGC_NO_SCAN | MPGC_FINALISE (as the engine keeps it) */
    uint8_t *shadow; /* blocks * BLK bytes */
    bool mark;       /* model marking */
} obj_t;

static _Alignas(64) uint8_t arena[48 * 1024];
static _Alignas(64) uint8_t arena2[12 * 1024];
static mpgc_t *gc;
static obj_t objs[NOBJ];
static void *rootA[NROOT], *rootB[NROOT];
static bool rootB_on, locked_now;
static bool region2_on; /* arena2 is a pool of the heap */
static mpgc_finalise_order_t order;
static const void *pinned; /* realloc's old object during its allocation */

/* The roots as each engine collection saw them (taken in scan_roots, which
 * runs at the start of every collection): a finaliser may store into the
 * root arrays during the collection. */
typedef struct {
    void *a[NROOT], *b[NROOT];
    bool b_on;
} snap_t;
static snap_t snaps[64]; /* an allocation may collect several times */
static size_t nsnap;

/* Finaliser log, engine side, and what the finaliser does. */
static void *fin_log[MAX_FIN];
static size_t fin_coll[MAX_FIN]; /* the collection (snapshot index) of each */
static size_t fin_n;
static int resurrect_slot = -1;

static const uint8_t *in;
static size_t in_left;

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

/* ---- the model ---------------------------------------------------------- */

static obj_t *model_find(const void *v) {
    for (int i = 0; i < NOBJ; i++) {
        obj_t *o = &objs[i];
        if (!o->p) continue;
        if (v == o->p) return o;
        if (MPGC_INTERIOR_POINTERS && (const uint8_t *)v > o->p &&
            (const uint8_t *)v < o->p + o->blocks * BLK)
            return o;
    }
    return NULL;
}

/* Marks what v designates and everything reachable from it. */
static void model_mark_value(const void *v) {
    obj_t *stack[NOBJ];
    size_t sp = 0;
    obj_t *o = model_find(v);
    if (!o || o->mark) return;
    o->mark = true;
    stack[sp++] = o;
    while (sp) {
        obj_t *x = stack[--sp];
        if (x->flags & MPGC_NO_SCAN) continue;
        for (size_t i = 0; i + W <= x->blocks * BLK; i += W) {
            void *w;
            memcpy(&w, x->shadow + i, W);
            obj_t *y = model_find(w);
            if (y && !y->mark) {
                y->mark = true;
                stack[sp++] = y;
            }
        }
    }
}

static int by_address(const void *a, const void *b) {
    const obj_t *x = *(obj_t *const *)a, *y = *(obj_t *const *)b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static void model_drop(obj_t *o) {
    free(o->shadow);
    memset(o, 0, sizeof *o);
}

/* The objects reachable from x's contents (not x itself unless a cycle
 * leads back to it), as a bit set over objs[]. */
static uint64_t model_reach(const obj_t *x) {
    uint64_t seen = 0;
    const obj_t *stack[NOBJ];
    size_t sp = 0;
    stack[sp++] = x;
    while (sp) {
        const obj_t *o = stack[--sp];
        if (o->flags & MPGC_NO_SCAN) continue;
        for (size_t i = 0; i + W <= o->blocks * BLK; i += W) {
            void *w;
            memcpy(&w, o->shadow + i, W);
            obj_t *y = model_find(w);
            uint64_t bit = y ? (uint64_t)1 << (y - objs) : 0;
            if (y && !(seen & bit)) {
                seen |= bit;
                stack[sp++] = y;
            }
        }
    }
    return seen;
}

/* One collection on the model, from the roots it saw (snapshot k); returns
 * the number of objects freed and checks the finalisers the engine ran in
 * that collection (fin_log entries with fin_coll == k, from *at on).
 * The contract (docs/design.md section 4), not the engine's rule:
 *  - only unreachable MPGC_FINALISE objects are finalised, each once;
 *  - MicroPython's order: all of them, in address order, freed now;
 *  - safe order: referrers before referents (if x reaches y and y does not
 *    reach x, x runs first); all of them when there are at most
 *    MPGC_FINALISE_BATCH, at least one otherwise; everything they reach
 *    survives this collection. */
static size_t model_collect(const snap_t *s, size_t k, size_t *at) {
    for (int i = 0; i < NOBJ; i++) objs[i].mark = false;
    for (int i = 0; i < NROOT; i++) model_mark_value(s->a[i]);
    if (s->b_on)
        for (int i = 0; i < NROOT; i++) model_mark_value(s->b[i]);
    if (pinned) model_mark_value(pinned);
    obj_t *fin[NOBJ];
    size_t nf = 0;
    if (MPGC_ENABLE_FINALISERS)
        for (int i = 0; i < NOBJ; i++)
            if (objs[i].p && (objs[i].flags & MPGC_FINALISE) && !objs[i].mark) fin[nf++] = &objs[i];
    qsort(fin, nf, sizeof fin[0], by_address);
    size_t ran = 0;
    uint64_t done = 0;
    for (; *at + ran < fin_n && fin_coll[*at + ran] == k; ran++) {
        obj_t *o = NULL;
        for (size_t j = 0; j < nf; j++)
            if (fin[j]->p == fin_log[*at + ran]) o = fin[j];
        if (!o || !(o->flags & MPGC_FINALISE))
            FAIL("finaliser %zu ran for %p: not unreachable and pending", ran, fin_log[*at + ran]);
        if (order == MPGC_FINALISE_MICROPYTHON && o != fin[ran])
            FAIL("finaliser %zu: MicroPython's order is by address", ran);
        uint64_t reach = order == MPGC_FINALISE_SAFE ? model_reach(o) : 0;
        for (size_t j = 0; j < NOBJ && reach; j++)
            if ((done >> j & 1u) && (reach >> j & 1u) && !(model_reach(&objs[j]) >> (o - objs) & 1u))
                FAIL("finaliser of %p ran after its referent %p's", (void *)o->p, (void *)objs[j].p);
        done |= (uint64_t)1 << (o - objs);
        o->flags &= ~MPGC_FINALISE;
    }
    size_t expect = order == MPGC_FINALISE_SAFE && nf > MPGC_FINALISE_BATCH ? 1 : nf;
    if (ran < expect) FAIL("%zu finalisers ran, the contract asks for %zu", ran, expect);
    if (order == MPGC_FINALISE_SAFE)
        for (size_t j = 0; j < nf; j++) model_mark_value(fin[j]->p);
    *at += ran;
    size_t freed = 0;
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p && !objs[i].mark) {
            model_drop(&objs[i]);
            freed++;
        }
    return freed;
}

/* ---- engine callbacks ---------------------------------------------------- */

static void on_finalise(mpgc_t *g, void *obj, void *user) {
    (void)user;
    if (fin_n == MAX_FIN) FAIL("finaliser log full");
    fin_coll[fin_n] = nsnap - 1;
    fin_log[fin_n++] = obj;
    if (!mpgc_is_locked(g)) FAIL("finaliser runs unlocked");
    if (mpgc_alloc(g, 16, 0) != NULL) FAIL("allocation inside a finaliser");
    if (mpgc_collect(g) != 0) FAIL("collection inside a finaliser");
    mpgc_free(g, obj); /* ignored: locked */
    obj_t *o = NULL;
    for (int i = 0; i < NOBJ; i++)
        if (objs[i].p == obj) o = &objs[i];
    if (!o) FAIL("finaliser for an object the model does not know: %p", obj);
    if (memcmp(o->p, o->shadow, o->blocks * BLK) != 0) FAIL("finalised object corrupted");
    if (resurrect_slot >= 0) rootA[resurrect_slot] = obj;
}

static void on_scan_roots(mpgc_t *g, void *user) {
    (void)g, (void)user;
    if (nsnap == sizeof snaps / sizeof snaps[0]) FAIL("too many collections in one step");
    snap_t *sn = &snaps[nsnap++];
    memcpy(sn->a, rootA, sizeof rootA);
    memcpy(sn->b, rootB, sizeof rootB);
    sn->b_on = rootB_on;
}

static size_t collections(void) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    return i.collections;
}

/* Replays on the model the collections the engine ran since `before` and
 * the finaliser log from fin0; returns the objects the model freed. */
static size_t catch_up(size_t before, size_t fin0) {
    size_t ran = collections() - before, at = fin0, freed = 0;
    if (ran != nsnap) FAIL("%zu collections but %zu root scans", ran, nsnap);
    for (size_t k = 0; k < nsnap; k++) freed += model_collect(&snaps[k], k, &at);
    if (at != fin_n) FAIL("%zu finalisers ran, the model expects %zu", fin_n - fin0, at - fin0);
    nsnap = 0;
    return freed;
}

/* ---- checks ------------------------------------------------------------- */

static void check_all(const char *op) {
    if (!mpgc_check(gc)) FAIL("mpgc_check failed after %s", op);
    size_t sum = 0;
    for (int i = 0; i < NOBJ; i++) {
        obj_t *o = &objs[i];
        if (!o->p) continue;
        sum += o->blocks * BLK;
        if (mpgc_size(gc, o->p) != o->blocks * BLK)
            FAIL("after %s: live object %p has size %zu, model %zu", op, (void *)o->p,
                 mpgc_size(gc, o->p), o->blocks * BLK);
        if (memcmp(o->p, o->shadow, o->blocks * BLK) != 0)
            FAIL("after %s: contents of %p changed", op, (void *)o->p);
    }
    if (mpgc_mem_alloc(gc) != sum)
        FAIL("after %s: mem_alloc %zu, model %zu", op, mpgc_mem_alloc(gc), sum);
    mpgc_info_t info;
    mpgc_info(gc, &info);
    if (info.used + info.free != info.total || (size_t)mpgc_mem_free(gc) != info.free)
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

static obj_t *free_slot(void) {
    obj_t *o = &objs[byte() % NOBJ];
    return o->p ? NULL : o;
}

static obj_t *any_free_slot(void) {
    for (int i = 0; i < NOBJ; i++)
        if (!objs[i].p) return &objs[i];
    return NULL;
}

static obj_t *some_obj(void) { return &objs[byte() % NOBJ]; }

/* A pointer value for stores and bad-pointer calls. */
static void *pick_value(void) {
    obj_t *o = some_obj();
    switch (byte() % 6) {
    case 0: return NULL;
    case 1: return o->p ? o->p + byte() % (o->blocks * BLK) : NULL;
    case 2: return (void *)(arena + u32() % sizeof arena);
    case 3: return (void *)(uintptr_t)u32();
    default: return o->p;
    }
}

static bool too_big(size_t n) { return n == 0 || n > SIZE_MAX - (BLK - 1); }

static bool in_arena2(const uint8_t *p) { return p >= arena2 && p < arena2 + sizeof arena2; }

static void adopt(obj_t *o, uint8_t *p, size_t n, unsigned flags) {
    if (!region2_on && in_arena2(p)) FAIL("allocation %p in a pool that was given back", (void *)p);
    o->p = p;
    o->blocks = (n + BLK - 1) / BLK;
    o->flags = flags & (MPGC_NO_SCAN | (MPGC_ENABLE_FINALISERS ? MPGC_FINALISE : 0u));
    o->shadow = calloc(o->blocks, BLK);
    if (!o->shadow) abort();
}

static void op_alloc(void) {
    obj_t *o = free_slot();
    size_t n = pick_size();
    unsigned flags = byte() & 3u;
    size_t c0 = collections(), f0 = fin_n;
    uint8_t *p = mpgc_alloc(gc, n, flags);
    catch_up(c0, f0);
    if (!p) {
        if (!too_big(n) && !locked_now) {
            mpgc_info_t i;
            mpgc_info(gc, &i);
            if (i.max_free >= (n + BLK - 1) / BLK * BLK) FAIL("alloc(%zu) failed with a %zu run free", n, i.max_free);
        }
        return;
    }
    if (too_big(n) || locked_now) FAIL("alloc(%zu) succeeded where it must fail", n);
    for (size_t i = 0; i < (n + BLK - 1) / BLK * BLK; i++)
        if (p[i]) FAIL("alloc returned memory that is not zeroed");
    if (!o) o = any_free_slot();
    if (!o) { /* the model is full: give it back at once */
        mpgc_free(gc, p);
        return;
    }
    adopt(o, p, n, flags);
    uint8_t where = byte();
    if (where < 128) rootA[where % NROOT] = p;
}

static void op_free(void) {
    void *v = pick_value();
    obj_t *o = v ? model_find(v) : NULL;
    mpgc_free(gc, v);
    if (o && o->p == v && !locked_now) model_drop(o);
}

static void op_realloc(void) {
    void *v = byte() % 8 == 0 ? NULL : pick_value();
    size_t n = pick_size();
    bool move = byte() & 1;
    obj_t *o = v ? model_find(v) : NULL;
    bool valid = !v || (o && o->p == v);
    size_t c0 = collections(), f0 = fin_n;
    pinned = v && valid && !locked_now && !too_big(n) ? v : NULL;
    uint8_t *q = mpgc_realloc(gc, v, n, move);
    catch_up(c0, f0);
    pinned = NULL;
    if (!v) { /* plain allocation, flags 0 */
        obj_t *s = q ? any_free_slot() : NULL;
        if (q && !s) mpgc_free(gc, q);
        if (s) {
            adopt(s, q, n, 0);
            rootA[byte() % NROOT] = q;
        }
        return;
    }
    if (!valid || locked_now) {
        if (q) FAIL("realloc of a bad pointer or while locked returned %p", (void *)q);
        return;
    }
    if (n == 0) {
        if (q) FAIL("realloc(p, 0) returned non-NULL");
        model_drop(o);
        return;
    }
    if (!q) return; /* could not: p untouched (checked by check_all) */
    size_t want = (n + BLK - 1) / BLK;
    if (q != v && !move) FAIL("realloc moved without allow_move");
    if (!region2_on && in_arena2(q)) FAIL("realloc to %p, in a pool that was given back", (void *)q);
    uint8_t *sh = calloc(want, BLK);
    if (!sh) abort();
    memcpy(sh, o->shadow, (want < o->blocks ? want : o->blocks) * BLK);
    free(o->shadow);
    o->shadow = sh;
    o->blocks = want;
    o->p = q;
    for (int i = 0; i < NROOT; i++)
        if (rootA[i] == v && q != v) rootA[i] = q;
}

static void op_store(void) {
    obj_t *o = some_obj();
    void *v = pick_value();
    if (!o->p) return;
    size_t at = (byte() % (o->blocks * BLK / W)) * W;
    memcpy(o->p + at, &v, W);
    memcpy(o->shadow + at, &v, W);
}

static void op_fill(void) {
    obj_t *o = some_obj();
    if (!o->p) return;
    size_t at = byte() % (o->blocks * BLK), len = byte() % 64;
    if (at + len > o->blocks * BLK) len = o->blocks * BLK - at;
    uint8_t b = byte();
    memset(o->p + at, b, len);
    memset(o->shadow + at, b, len);
}

static void op_collect(void) {
    size_t c0 = collections(), f0 = fin_n;
    size_t freed = mpgc_collect(gc);
    size_t model_freed = catch_up(c0, f0);
    if (locked_now && c0 != collections()) FAIL("collected while locked");
    if (freed != model_freed) FAIL("collect freed %zu, model %zu", freed, model_freed);
}

static void op_misc(void) {
    switch (byte() % 11) {
    case 0: rootA[byte() % NROOT] = pick_value(); break;
    case 1: rootB[byte() % NROOT] = pick_value(); break;
    case 2:
        if (rootB_on) rootB_on = !mpgc_remove_root(gc, rootB);
        else rootB_on = mpgc_add_root(gc, rootB, sizeof rootB);
        break;
    case 3: mpgc_lock(gc); locked_now = true; break;
    case 4: mpgc_unlock(gc); locked_now = mpgc_is_locked(gc); break;
    case 5: mpgc_set_threshold(gc, byte() % 4 == 0 ? -1 : (ptrdiff_t)(byte() * BLK)); break;
    case 6: if (byte() & 1) mpgc_enable(gc); else mpgc_disable(gc); break;
    case 7: resurrect_slot = byte() % 3 == 0 ? (int)(byte() % NROOT) : -1; break;
    case 8: {
        void *v = pick_value();
        obj_t *o = v ? model_find(v) : NULL;
        size_t s = mpgc_size(gc, v);
        size_t want = o && o->p == v ? o->blocks * BLK : 0;
        if (s != want) FAIL("size(%p) = %zu, model %zu", v, s, want);
        break;
    }
    case 10: { /* give arena2 back, or add it again */
        if (!region2_on) {
            region2_on = mpgc_add_region(gc, arena2, sizeof arena2);
            if (MPGC_ENABLE_SPLIT_HEAP && !region2_on) FAIL("add_region(arena2) refused");
            break;
        }
        bool empty = true;
        for (int i = 0; i < NOBJ; i++) empty &= !(objs[i].p && in_arena2(objs[i].p));
        bool gone = mpgc_remove_region(gc, arena2);
        if (gone != empty) FAIL("remove_region = %d, model: pool empty = %d", gone, empty);
        region2_on = !gone;
        break;
    }
    default: {
        mpgc_info_t i;
        mpgc_info(gc, &i);
        if (i.max_free > i.free) FAIL("max_free > free");
    }
    }
}

static void reset(void) {
    for (int i = 0; i < NOBJ; i++) model_drop(&objs[i]);
    memset(rootA, 0, sizeof rootA);
    memset(rootB, 0, sizeof rootB);
    rootB_on = locked_now = false;
    fin_n = 0;
    nsnap = 0;
    resurrect_slot = -1;
    pinned = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    in = data;
    in_left = size;
    reset();
    uint8_t setup = byte();
    mpgc_config_t cfg = {0};
    cfg.no_stack_scan = true;
    cfg.finaliser = on_finalise;
    cfg.scan_roots = on_scan_roots;
    cfg.policy = (setup & 1) ? MPGC_POLICY_FIRST_FIT : MPGC_POLICY_FIT;
    order = cfg.finalise_order = (setup & 2) ? MPGC_FINALISE_MICROPYTHON : MPGC_FINALISE_SAFE;
    size_t heap = 4096 + (size_t)(setup >> 3) * (sizeof arena - 4096) / 31;
    gc = mpgc_init(arena, heap, &cfg);
    if (!gc) FAIL("init failed for %zu bytes", heap);
    mpgc_add_root(gc, rootA, sizeof rootA);
    region2_on = (setup & 4) && mpgc_add_region(gc, arena2, sizeof arena2);
    check_all("init");
    static const char *names[] = {"alloc", "free", "realloc", "store", "fill", "collect", "misc"};
    while (in_left) {
        fin_n = 0; /* the log holds one step (<= 4 collections x NOBJ) */
        uint8_t op = byte() % 16;
        int k = op < 5 ? 0 : op < 6 ? 1 : op < 8 ? 2 : op < 11 ? 3 : op < 12 ? 4 : op < 13 ? 5 : 6;
        switch (k) {
        case 0: op_alloc(); break;
        case 1: op_free(); break;
        case 2: op_realloc(); break;
        case 3: op_store(); break;
        case 4: op_fill(); break;
        case 5: op_collect(); break;
        default: op_misc(); break;
        }
        check_all(names[k]);
    }
    /* Finally everything unreachable must go. */
    while (mpgc_is_locked(gc)) mpgc_unlock(gc);
    locked_now = false;
    op_collect();
    check_all("final collect");
    reset();
    return 0;
}
