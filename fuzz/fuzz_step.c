/*
 * fuzz_step.c - differential fuzzer of collection in steps (include/mpgc.h,
 * "Collection in steps"; docs/design.md section 8), written from the
 * contract, not from the engine.
 *
 * The input is a mutator program over a model object graph that lives in
 * the heap: allocations (scanned or MPGC_NO_SCAN, with or without
 * MPGC_FINALISE), pointer stores into slots (each followed by
 * mpgc_write_barrier), clears, moves of a reference between roots and
 * slots, realloc (in place or moving: every reference is rewritten, through
 * the barrier), explicit frees (of an object whose references were all
 * cleared), finaliser flags, locks, thresholds, regions, interleaved with
 * mpgc_collect_step (small random budgets), mpgc_idle_step (no store while
 * an idle cycle is open: the program aborts it first, as a runtime that
 * resumes does; the calls that change the heap abandon it themselves),
 * mpgc_collect_abort, mpgc_collect, three-step collections and
 * mpgc_sweep_all.
 *
 * Roots: a registered array and an array reported by scan_roots; no stack
 * scan, so reachability is exact. Every object carries its id in word 0,
 * and the model keeps a copy of its contents. Checked after every
 * operation: mpgc_check, every reachable object allocated with its size and
 * contents, the cycle state (mpgc_in_cycle) against what the contract says
 * each call does to an open cycle, and no collection (threshold) while an
 * incremental cycle stays open. Checked when a cycle ends (a step returns
 * true, or an allocation that found no room ended it) and after every full
 * collection: every object unreachable when the cycle (collection) began
 * is freed, as a stop-the-world collection would, except what an
 * unreachable object with a pending finaliser reaches in the safe order.
 * Finalisers: only for unreachable objects, once each, never in a step
 * that does not end the cycle. At the end, full collections must bring
 * mpgc_mem_alloc down to exactly the bytes of the reachable objects (no
 * grey-set segment left behind), and mpgc_sweep_all to 0.
 *
 * -DFUZZ_PLANT_MISSING_BARRIER=1 plants a runtime bug: the stores of the
 * store and move operations skip the barrier (those of allocation,
 * realloc and free keep it). The fuzzer must
 * find it (tests/fuzz-planted.sh; docs/reliability.md).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpgc.h"

#ifndef FUZZ_PLANT_MISSING_BARRIER
#define FUZZ_PLANT_MISSING_BARRIER 0
#endif

#define BLK ((size_t)MPGC_BLOCK_BYTES)
#define W sizeof(void *)
#define NOBJ 64                         /* live objects in the model */
#define NDEAD 192                       /* unreachable ones it remembers */
#define MAXB 32                         /* blocks per object */
#define MAXW (MAXB * MPGC_BLOCK_WORDS) /* words per object */
#define NROOT 8

#ifdef FUZZ_TRACE /* -DFUZZ_TRACE: print every operation */
#define TRACE(...) fprintf(stderr, __VA_ARGS__)
#else
#define TRACE(...) ((void)0)
#endif

#define FAIL(...)                                                              \
    do {                                                                       \
        fprintf(stderr, "fuzz_step: " __VA_ARGS__);                            \
        fprintf(stderr, "\n");                                                 \
        abort();                                                               \
    } while (0)

typedef struct {
    uintptr_t *p;  /* NULL: slot unused */
    size_t words;  /* mpgc_size / W */
    uintptr_t id;  /* word 0 is 2 id + 1 (an odd small number: no pointer) */
    bool noscan;
    bool fin;      /* finaliser armed */
    uintptr_t shadow[MAXW];
} obj_t;

typedef struct {
    uintptr_t *p;
    size_t words;
    bool noscan;
    bool pending;   /* finaliser armed, not run yet */
    bool finalised; /* its finaliser ran */
    uintptr_t shadow[MAXW];
} dead_t;

static _Alignas(64) uint8_t arena[64 * 1024];
static _Alignas(64) uint8_t arena2[16 * 1024];
static mpgc_t *gc;
static mpgc_finalise_order_t order;
static obj_t live[NOBJ];
static dead_t dead[NDEAD];
static size_t ndead;
static void *rootA[NROOT]; /* registered */
static void *rootS[NROOT]; /* reported by scan_roots */
static void *rootM[NROOT]; /* given to mpgc_mark_range (live pointers only) */
static uintptr_t next_id;
static bool region_on;
static unsigned user_locks;

/* Cycle state as the model knows it. */
enum { K_NONE, K_INC, K_IDLE };
static int kind;
static const uintptr_t *must_free[NDEAD]; /* unreachable at the cycle's start */
static size_t nmust;
static bool must_valid;
static const void *born[4 * NOBJ]; /* allocated during the incremental cycle */
static size_t nborn;

static void born_add(const void *p) {
    if (kind == K_INC && nborn < sizeof born / sizeof born[0]) born[nborn++] = p;
}
static void born_drop(const void *p) {
    for (size_t i = 0; i < nborn; i++)
        if (born[i] == p) born[i--] = born[--nborn];
}

/* Finaliser bookkeeping. */
static bool fin_allowed; /* inside a call that may finalise */
static unsigned fins_in_call;
static bool in_sweep_all;

static const uint8_t *in;
static size_t in_left;

static uint8_t byte(void) {
    if (!in_left) return 0;
    in_left--;
    return *in++;
}

static uintptr_t canary(uintptr_t id) { return 2 * id + 1; }

/* ---- the model's graph --------------------------------------------------- */

/* Does word v designate the allocation at p of `words` words? */
static bool designates(uintptr_t v, const uintptr_t *p, size_t words) {
    uintptr_t a = (uintptr_t)p;
    if (v == a) return true;
    return MPGC_INTERIOR_POINTERS && v > a && v < a + words * W;
}
static int find_live(uintptr_t v) {
    uintptr_t a1 = (uintptr_t)arena, a2 = (uintptr_t)arena2;
    if (!((v >= a1 && v < a1 + sizeof arena) || (v >= a2 && v < a2 + sizeof arena2))) return -1;
    for (int i = 0; i < NOBJ; i++)
        if (live[i].p && designates(v, live[i].p, live[i].words)) return i;
    return -1;
}

static size_t live_bytes(void) {
    size_t s = 0;
    for (int i = 0; i < NOBJ; i++)
        if (live[i].p) s += live[i].words * W;
    return s;
}

/* Objects reachable from the roots; the rest move to the dead list. */
static void settle(void) {
    uint64_t seen = 0, todo = 0;
    for (int r = 0; r < NROOT; r++) {
        int a = find_live((uintptr_t)rootA[r]), s = find_live((uintptr_t)rootS[r]);
        if (a >= 0) todo |= 1ull << a;
        if (s >= 0) todo |= 1ull << s;
    }
    seen = todo;
    while (todo) {
        int i = __builtin_ctzll(todo);
        todo &= todo - 1;
        if (live[i].noscan) continue;
        for (size_t k = 1; k < live[i].words; k++) {
            int j = find_live(live[i].shadow[k]);
            if (j >= 0 && !(seen & (1ull << j))) seen |= 1ull << j, todo |= 1ull << j;
        }
    }
    for (int i = 0; i < NOBJ; i++) {
        obj_t *o = &live[i];
        if (!o->p || (seen & (1ull << i))) continue;
        if (ndead == NDEAD) FAIL("model: dead list full");
        dead_t *d = &dead[ndead++];
        d->p = o->p;
        d->words = o->words;
        d->noscan = o->noscan;
        d->pending = o->fin && MPGC_ENABLE_FINALISERS;
        d->finalised = false;
        memcpy(d->shadow, o->shadow, o->words * W);
        TRACE("  dies: #%lu %p%s\n", (unsigned long)o->id, (void *)o->p, d->pending ? " (fin)" : "");
        o->p = NULL;
    }
}

/* The address p was handed out again: the dead object that was there is
 * gone (its finaliser must have run). */
static void reused(const void *p) {
    for (size_t i = 0; i < nmust; i++)
        if (must_free[i] == p) must_free[i--] = must_free[--nmust];
    for (size_t i = 0; i < ndead; i++) {
        if ((const void *)dead[i].p != p) continue;
        if (dead[i].pending) FAIL("%p was freed (and reused) without running its finaliser", p);
        dead[i] = dead[--ndead];
        i--;
    }
}

/* Forget dead objects the engine has freed (and that no pending one needs
 * as a link: a freed one cannot be reached by a pending one). */
static void prune_dead(void) {
    for (size_t i = 0; i < ndead; i++) {
        if (dead[i].pending || mpgc_size(gc, dead[i].p) != 0) continue;
        dead[i] = dead[--ndead];
        i--;
    }
}

/* What a stop-the-world collection starting now must free: every dead
 * object, except (safe order) those with a pending finaliser and what they
 * reach through dead objects. */
static void snapshot_must_free(void) {
    bool prot[NDEAD] = {0};
    if (order == MPGC_FINALISE_SAFE) {
        size_t todo[NDEAD], nt = 0;
        for (size_t i = 0; i < ndead; i++)
            if (dead[i].pending) prot[i] = true, todo[nt++] = i;
        while (nt) {
            dead_t *d = &dead[todo[--nt]];
            if (d->noscan) continue;
            for (size_t k = 0; k < d->words; k++)
                for (size_t j = 0; j < ndead; j++)
                    if (!prot[j] && designates(d->shadow[k], dead[j].p, dead[j].words)) prot[j] = true, todo[nt++] = j;
        }
    }
    nmust = 0;
    for (size_t i = 0; i < ndead; i++)
        if (!prot[i]) must_free[nmust++] = dead[i].p;
    must_valid = true;
}

/* The collection (cycle) that began at snapshot_must_free has ended:
 * everything unreachable then is gone. `except`: an allocation made just
 * after it, which may sit at a freed address. */
static void check_must_free(const void *except, const char *what) {
    if (!must_valid) FAIL("model: no snapshot for %s", what);
    for (size_t i = 0; i < nmust; i++) {
        const void *p = must_free[i];
        if (p == except) continue;
        if (find_live((uintptr_t)p) >= 0 && (const void *)live[find_live((uintptr_t)p)].p == p) continue; /* reused */
        if (mpgc_size(gc, p) != 0) FAIL("%s: %p, unreachable when it began, was not freed", what, p);
    }
    must_valid = false;
}

/* ---- callbacks ------------------------------------------------------------ */

static void on_scan(mpgc_t *g, void *u) {
    (void)u;
    mpgc_mark_range(g, rootS, sizeof rootS);
}

static void on_fin(mpgc_t *g, void *obj, void *u) {
    (void)u;
    if (!fin_allowed) FAIL("finaliser for %p outside a call that may run it", obj);
    if (!mpgc_is_locked(g)) FAIL("finaliser with the heap unlocked");
    if (mpgc_alloc(g, 16, 0)) FAIL("allocation succeeded in a finaliser");
    fins_in_call++;
    int li = -1;
    for (int i = 0; i < NOBJ; i++)
        if (live[i].p == obj) li = i;
    if (li >= 0) {
        if (!in_sweep_all) FAIL("finaliser for %p, reachable", obj);
        if (!live[li].fin) FAIL("finaliser for %p, not armed", obj);
        live[li].fin = false;
        return;
    }
    for (size_t i = 0; i < ndead; i++) {
        if (dead[i].p != obj) continue;
        if (dead[i].finalised) FAIL("finaliser for %p ran twice", obj);
        if (!dead[i].pending) FAIL("finaliser for %p, never armed", obj);
        if (mpgc_size(g, obj) != dead[i].words * W || memcmp(obj, dead[i].shadow, dead[i].words * W) != 0)
            FAIL("finaliser for %p: the object is not intact", obj);
        dead[i].pending = false;
        dead[i].finalised = true;
        return;
    }
    FAIL("finaliser for %p, an object the program never armed", obj);
}

static void on_progress(mpgc_t *g, void *u) {
    (void)u;
    if (mpgc_alloc(g, 16, 0)) FAIL("allocation succeeded in progress");
    if (mpgc_collect_step(g, 10) || mpgc_idle_step(g, 10)) FAIL("a step from progress ended a cycle");
    if (mpgc_collect_abort(g)) FAIL("abort accepted from progress");
    if (mpgc_collect(g) != 0) FAIL("collect from progress");
}

/* ---- checks after every operation ---------------------------------------- */

static size_t collections(void) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    return i.collections;
}

static void check_all(const char *what) {
    if (!mpgc_check(gc)) FAIL("mpgc_check after %s", what);
    for (int i = 0; i < NOBJ; i++) {
        const obj_t *o = &live[i];
        if (!o->p) continue;
        if (mpgc_size(gc, o->p) != o->words * W)
            FAIL("after %s: reachable #%lu %p has size %zu, model %zu", what, (unsigned long)o->id, (void *)o->p,
                 mpgc_size(gc, o->p), o->words * W);
        if (memcmp(o->p, o->shadow, o->words * W) != 0)
            FAIL("after %s: reachable #%lu %p was overwritten", what, (unsigned long)o->id, (void *)o->p);
    }
    bool open = mpgc_in_cycle(gc);
    if (open != (kind != K_NONE)) FAIL("after %s: in_cycle %d, model kind %d", what, open, kind);
    if (kind == K_NONE) nborn = 0;
    /* No cycle open, so no grey-set segment: every allocated byte is an
     * object of the model (reachable, or unreachable and not freed yet). */
    if (!open) {
        size_t acc = live_bytes();
        for (size_t i = 0; i < ndead; i++)
            if (mpgc_size(gc, dead[i].p) == dead[i].words * W) acc += dead[i].words * W;
        if (mpgc_mem_alloc(gc) != acc)
            FAIL("after %s: %zu bytes allocated, the model's objects hold %zu", what, mpgc_mem_alloc(gc), acc);
    }
    if (mpgc_is_locked(gc) != (user_locks > 0)) FAIL("after %s: lock state", what);
}

/* After a call that must abandon an idle cycle (or leave an incremental
 * one open). */
static void after_mutating_call(int kind0, const char *what) {
    bool open = mpgc_in_cycle(gc);
    if (user_locks) {
        if (open != (kind0 != K_NONE)) FAIL("%s while locked changed the cycle", what);
        return;
    }
    if (kind0 == K_IDLE && open) FAIL("%s left an idle cycle open", what);
    if (kind0 == K_INC && !open) FAIL("%s ended an incremental cycle", what);
    if (kind0 == K_IDLE) kind = K_NONE, must_valid = false;
}

/* ---- the mutator ----------------------------------------------------------- */

/* A pointer-holding place: a root slot or a slot of a live scanned object. */
typedef struct {
    void **root; /* or */
    int obj;
    size_t slot;
} place_t;

static int pick_live(void) {
    int n = byte() % NOBJ;
    for (int k = 0; k < NOBJ; k++) {
        int i = (n + k) % NOBJ;
        if (live[i].p) return i;
    }
    return -1;
}

static bool pick_place(place_t *pl) {
    uint8_t c = byte();
    pl->root = NULL, pl->obj = -1, pl->slot = 0;
    if (c % 4 == 0) { pl->root = &rootA[byte() % NROOT]; return true; }
    if (c % 4 == 1) { pl->root = &rootS[byte() % NROOT]; return true; }
    int i = pick_live();
    if (i < 0 || live[i].words < 2) return false;
    pl->obj = i;
    pl->slot = 1 + byte() % (live[i].words - 1);
    return true;
}
static uintptr_t place_get(const place_t *pl) {
    return pl->root ? (uintptr_t)*pl->root : live[pl->obj].shadow[pl->slot];
}
/* Store v; a store into the heap is followed by the barrier. */
static void place_set(const place_t *pl, uintptr_t v, bool barrier) {
    if (pl->root) {
        *pl->root = (void *)v;
        return;
    }
    obj_t *o = &live[pl->obj];
    o->p[pl->slot] = v;
    o->shadow[pl->slot] = v;
    if (barrier) mpgc_write_barrier(gc, o->p, (const void *)v);
}

/* The runtime resumes with an idle cycle open: it aborts it. */
static void resume(void) {
    if (kind != K_IDLE) return;
    if (!mpgc_collect_abort(gc)) FAIL("abort refused an open idle cycle");
    kind = K_NONE;
    must_valid = false;
}

/* Ends the open cycle, if an allocation just did (no room), and checks it.
 * Otherwise: no collection started while an incremental cycle is open. */
static void after_alloc(int kind0, size_t coll0, const void *newp, const char *what) {
    bool open = mpgc_in_cycle(gc);
    if (user_locks) return;
    if (kind0 == K_IDLE) {
        if (open) FAIL("%s left an idle cycle open", what);
        kind = K_NONE, must_valid = false;
    } else if (kind0 == K_INC) {
        if (open) {
            if (collections() != coll0) FAIL("%s collected while an incremental cycle was open", what);
        } else {
            check_must_free(newp, what); /* the final step ran */
            kind = K_NONE;
        }
    }
}

static void op_alloc(void) {
    uint8_t c = byte();
    size_t blocks = c & 0x80 ? 1 + byte() % MAXB : 1 + c % 8;
    size_t n = blocks * BLK - byte() % BLK;
    unsigned flags = 0;
    uint8_t f = byte();
    if (f % 5 == 0) flags |= MPGC_NO_SCAN;
    if (f % 7 == 0) flags |= MPGC_FINALISE;
    int slot = -1;
    for (int i = 0; i < NOBJ; i++)
        if (!live[i].p) slot = i;
    if (slot < 0) return;
    int kind0 = kind;
    size_t coll0 = collections();
    fin_allowed = true;
    uintptr_t *p = mpgc_alloc(gc, n, flags);
    fin_allowed = false;
    TRACE("  alloc %zu -> %p\n", n, (void *)p);
    if (!p) {
        after_alloc(kind0, coll0, NULL, "alloc");
        return;
    }
    if (user_locks) FAIL("alloc succeeded while locked");
    reused(p);
    after_alloc(kind0, coll0, p, "alloc");
    born_add(p);
    size_t words = mpgc_size(gc, p) / W;
    if (words * W != blocks * BLK) FAIL("alloc(%zu) gave %zu bytes", n, words * W);
    for (size_t k = 0; k < words; k++)
        if (p[k]) FAIL("alloc returned memory not zeroed");
    obj_t *o = &live[slot];
    memset(o, 0, sizeof *o);
    o->p = p;
    o->words = words;
    o->id = ++next_id;
    o->noscan = flags & MPGC_NO_SCAN;
    o->fin = (flags & MPGC_FINALISE) && MPGC_ENABLE_FINALISERS;
    p[0] = o->shadow[0] = canary(o->id);
    /* Initialising stores go through the barrier like any other. */
    for (int k = byte() % 4; k > 0 && words > 1; k--) {
        int j = pick_live();
        if (j < 0) break;
        size_t s = 1 + byte() % (words - 1);
        p[s] = o->shadow[s] = (uintptr_t)live[j].p;
        mpgc_write_barrier(gc, p, live[j].p);
    }
    place_t pl;
    if (byte() % 8 && pick_place(&pl) && !(pl.obj == slot)) place_set(&pl, (uintptr_t)p, true);
    /* else: garbage at once (floating, if a cycle is open) */
}

static void op_store(void) {
    place_t pl;
    if (!pick_place(&pl)) return;
    if (!pl.root) resume(); /* roots may change between idle slices: rescanned */
    uint8_t c = byte();
    uintptr_t v = 0;
    if (c % 8 == 0) v = ((uintptr_t)byte() << 1) | 1; /* a scalar */
    else if (c % 8 != 1) {
        int j = pick_live();
        if (j >= 0) v = (uintptr_t)live[j].p;
    }
    place_set(&pl, v, !FUZZ_PLANT_MISSING_BARRIER);
    TRACE("  store %#lx into %s\n", (unsigned long)v, pl.root ? "a root" : "an object");
}

/* A place that holds a reference to a live object (an object's only if it
 * is scanned: that reference is an edge), or false. */
static bool pick_source(place_t *pl) {
    for (int t = 0; t < 4; t++)
        if (pick_place(pl) && (pl->root || !live[pl->obj].noscan) && find_live(place_get(pl)) >= 0) return true;
    int s = byte() % NOBJ;
    for (int k = 0; k < NOBJ; k++) {
        int i = (s + k) % NOBJ;
        if (!live[i].p || live[i].noscan) continue;
        for (size_t j = 1; j < live[i].words; j++)
            if (find_live(live[i].shadow[j]) >= 0) {
                pl->root = NULL, pl->obj = i, pl->slot = j;
                return true;
            }
    }
    return false;
}

/* A reference moved from one place to another (the source cleared): the
 * pattern that loses objects when a barrier is missing. */
static void op_move(void) {
    place_t from, to;
    if (!pick_source(&from) || !pick_place(&to)) return;
    uintptr_t v = place_get(&from);
    if (!from.root || !to.root) resume();
    bool barrier = !FUZZ_PLANT_MISSING_BARRIER;
    place_set(&to, v, barrier);
    if (!(from.root == to.root && from.obj == to.obj && from.slot == to.slot)) place_set(&from, 0, false);
    TRACE("  move %#lx\n", (unsigned long)v);
}

static void op_clear_root(void) {
    void **r = byte() & 1 ? &rootA[byte() % NROOT] : &rootS[byte() % NROOT];
    *r = NULL;
}

/* Every reference to old in roots and live objects set to v (with the
 * barrier for heap stores). */
static void rewrite_refs(uintptr_t old, uintptr_t v) {
    for (int r = 0; r < NROOT; r++) {
        if ((uintptr_t)rootA[r] == old) rootA[r] = (void *)v;
        if ((uintptr_t)rootS[r] == old) rootS[r] = (void *)v;
        if ((uintptr_t)rootM[r] == old) rootM[r] = (void *)v;
    }
    for (int j = 0; j < NOBJ; j++) {
        obj_t *o = &live[j];
        if (!o->p) continue;
        for (size_t k = 1; k < o->words; k++)
            if (o->shadow[k] == old) {
                place_t pl = {NULL, j, k};
                place_set(&pl, v, true);
            }
    }
}

static void op_realloc(void) {
    int i = pick_live();
    if (i < 0) return;
    obj_t *o = &live[i];
    size_t blocks = 1 + byte() % MAXB;
    size_t n = blocks * BLK - byte() % BLK;
    bool move = byte() & 1;
    int kind0 = kind;
    size_t coll0 = collections();
    fin_allowed = true;
    uintptr_t *q = mpgc_realloc(gc, o->p, n, move);
    fin_allowed = false;
    TRACE("  realloc %p to %zu -> %p\n", (void *)o->p, n, (void *)q);
    if (!q) {
        after_alloc(kind0, coll0, NULL, "realloc");
        return;
    }
    if (user_locks) FAIL("realloc succeeded while locked");
    if (q != o->p) reused(q);
    after_alloc(kind0, coll0, q, "realloc");
    if (q != o->p) born_drop(o->p), born_add(q);
    size_t words = mpgc_size(gc, q) / W;
    if (words * W != blocks * BLK) FAIL("realloc(%zu) gave %zu bytes", n, words * W);
    size_t keep = words < o->words ? words : o->words;
    if (memcmp(q, o->shadow, keep * W) != 0) FAIL("realloc lost the contents");
    for (size_t k = keep; k < words; k++) q[k] = 0; /* unspecified: the model sets them */
    memset(o->shadow + keep, 0, (MAXW - keep) * W);
    o->words = words;
    if (q != o->p) { /* the old copy is freed: every reference moves */
        uintptr_t old = (uintptr_t)o->p;
        o->p = q;
        rewrite_refs(old, (uintptr_t)q);
    }
}

static void op_free(void) {
    int i = pick_live();
    if (i < 0 || user_locks) return;
    int kind0 = kind;
    bool heap_refs = false;
    for (int j = 0; j < NOBJ; j++)
        for (size_t k = 1; live[j].p && k < live[j].words; k++) heap_refs |= live[j].shadow[k] == (uintptr_t)live[i].p;
    if (kind0 == K_IDLE && heap_refs) { /* clearing those is the runtime resuming */
        resume();
        kind0 = K_NONE;
    }
    rewrite_refs((uintptr_t)live[i].p, 0);
    uintptr_t *p = live[i].p;
    live[i].p = NULL;
    mpgc_free(gc, p);
    born_drop(p);
    after_mutating_call(kind0, "free");
    TRACE("  free %p\n", (void *)p);
}

/* ---- the collector --------------------------------------------------------- */

static size_t pick_budget(void) {
    uint8_t c = byte();
    switch (c % 8) {
    case 0: return 0;
    case 1: return (size_t)-1;
    case 2: return 1 + byte() * 8u;
    default: return 1 + c % 32;
    }
}

static void op_step(bool idle, size_t budget) {
    int kind0 = kind;
    bool starts = kind0 == K_NONE || (!idle && kind0 == K_IDLE);
    if (user_locks) {
        if (idle ? mpgc_idle_step(gc, budget) : mpgc_collect_step(gc, budget)) FAIL("a step ran while locked");
        return;
    }
    if (starts) snapshot_must_free();
    fins_in_call = 0;
    fin_allowed = true;
    bool end = idle ? mpgc_idle_step(gc, budget) : mpgc_collect_step(gc, budget);
    fin_allowed = false;
    if (!MPGC_ENABLE_STEPS) { /* compiled out: nothing happens */
        if (end || mpgc_in_cycle(gc) || fins_in_call) FAIL("a step compiled out did something");
        must_valid = false;
        return;
    }
    TRACE("  %s step %zu -> %d\n", idle ? "idle" : "incremental", budget, end);
    if (end) {
        if (mpgc_in_cycle(gc)) FAIL("a step ended the cycle, yet one is open");
        check_must_free(NULL, "a cycle in steps");
        /* Allocations during the cycle were kept by it (allocated marked),
         * reachable or not: the next collection frees the dead ones. */
        for (size_t i = 0; i < nborn; i++)
            if (mpgc_size(gc, born[i]) == 0) FAIL("%p, allocated during the cycle, was freed by it", born[i]);
        kind = K_NONE;
    } else {
        if (fins_in_call) FAIL("%u finalisers ran in a step that did not end the cycle", fins_in_call);
        if (!mpgc_in_cycle(gc)) FAIL("a step that ended nothing left no cycle open");
        if (starts) kind = idle ? K_IDLE : K_INC;
    }
}

static void op_full(uint8_t how) {
    if (user_locks) {
        if (mpgc_collect(gc) != 0) FAIL("collect while locked");
        return;
    }
    prune_dead();
    snapshot_must_free();
    fin_allowed = true;
    if (how % 3 == 0) {
        if (!mpgc_collect_start(gc)) FAIL("collect_start refused");
        if (mpgc_in_cycle(gc)) FAIL("collect_start left the cycle open");
        for (int r = 0; r < NROOT; r++) rootM[r] = NULL;
        int j = pick_live();
        if (j >= 0) rootM[0] = live[j].p;
        mpgc_mark_range(gc, rootM, sizeof rootM);
        (void)mpgc_collect_end(gc);
    } else {
        (void)mpgc_collect(gc);
    }
    fin_allowed = false;
    if (mpgc_in_cycle(gc)) FAIL("a full collection left a cycle open");
    kind = K_NONE;
    check_must_free(NULL, "a full collection");
}

static void op_abort(void) {
    bool r = mpgc_collect_abort(gc);
    if (r != (kind != K_NONE)) FAIL("abort returned %d, model kind %d", r, kind);
    if (mpgc_in_cycle(gc)) FAIL("abort left the cycle open");
    kind = K_NONE;
    must_valid = false;
}

static void op_sweep_all(void) {
    if (user_locks) return;
    fin_allowed = in_sweep_all = true;
    (void)mpgc_sweep_all(gc);
    fin_allowed = in_sweep_all = false;
    if (mpgc_in_cycle(gc)) FAIL("sweep_all left a cycle open");
    kind = K_NONE;
    must_valid = false;
    if (mpgc_mem_alloc(gc) != 0) FAIL("sweep_all left %zu bytes", mpgc_mem_alloc(gc));
    for (int i = 0; i < NOBJ; i++) {
        if (live[i].p && live[i].fin) FAIL("sweep_all did not finalise %p", (void *)live[i].p);
        live[i].p = NULL;
    }
    for (size_t i = 0; i < ndead; i++)
        if (dead[i].pending) FAIL("sweep_all did not finalise %p", (void *)dead[i].p);
    ndead = 0;
    memset(rootA, 0, sizeof rootA);
    memset(rootS, 0, sizeof rootS);
}

static void op_misc(void) {
    uint8_t c = byte();
    int kind0 = kind;
    switch (c % 10) {
    case 0: /* locked: steps do nothing, allocation fails */
        mpgc_lock(gc);
        user_locks++;
        op_step(byte() & 1, 100);
        if (mpgc_alloc(gc, 16, 0)) FAIL("alloc while locked");
        mpgc_unlock(gc);
        user_locks--;
        break;
    case 1: {
        uint8_t t = byte();
        mpgc_set_threshold(gc, t % 4 == 0 ? -1 : (ptrdiff_t)(t * BLK));
        break;
    }
    case 2:
        if (byte() & 1) mpgc_enable(gc);
        else mpgc_disable(gc);
        break;
    case 3: {
        int i = pick_live();
        if (i < 0 || !MPGC_ENABLE_FINALISERS) break;
        bool on = byte() & 1;
        if (!mpgc_set_finaliser(gc, live[i].p, on)) FAIL("set_finaliser refused");
        live[i].fin = on;
        after_mutating_call(kind0, "set_finaliser");
        break;
    }
    case 4: { /* greys live objects only: keeps nothing that must go */
        for (int r = 0; r < NROOT; r++) {
            int j = pick_live();
            rootM[r] = j >= 0 ? live[j].p : NULL;
        }
        mpgc_mark_range(gc, rootM, sizeof rootM);
        break;
    }
    case 5:
        (void)mpgc_finish_sweep(gc);
        after_mutating_call(kind0, "finish_sweep");
        break;
    case 6:
        if (!MPGC_ENABLE_SPLIT_HEAP) break;
        if (!region_on) {
            region_on = mpgc_add_region(gc, arena2, sizeof arena2);
            if (!region_on) FAIL("add_region refused");
            after_mutating_call(kind0, "add_region");
        } else {
            bool holds = false;
            for (int i = 0; i < NOBJ; i++)
                holds |= live[i].p && (uint8_t *)live[i].p >= arena2 && (uint8_t *)live[i].p < arena2 + sizeof arena2;
            bool gone = mpgc_remove_region(gc, arena2);
            if (gone && holds) FAIL("remove_region gave back a pool holding a reachable object");
            if (gone) {
                if (mpgc_in_cycle(gc)) FAIL("remove_region left a cycle open");
                kind = K_NONE, must_valid = false;
                for (size_t i = 0; i < ndead; i++) {
                    uint8_t *p = (uint8_t *)dead[i].p;
                    if (p < arena2 || p >= arena2 + sizeof arena2) continue;
                    if (dead[i].pending) FAIL("remove_region: %p's finaliser never ran", (void *)p);
                    dead[i--] = dead[--ndead];
                }
                region_on = false;
            } else if (!mpgc_in_cycle(gc)) { /* refused; abandoned first (or none was open) */
                kind = K_NONE, must_valid = false;
            }
        }
        break;
    case 7: op_abort(); break;
    case 8: if (byte() % 8 == 0) op_sweep_all(); break;
    default: {
        /* a barrier with words that designate nothing: harmless */
        int i = pick_live();
        if (i >= 0) mpgc_write_barrier(gc, live[i].p, (const void *)(((uintptr_t)byte() << 1) | 1));
        mpgc_write_barrier(gc, rootA, NULL);
        break;
    }
    }
}

/* Finish: the cycle ends (by steps or abort), then full collections free
 * everything unreachable, leaving exactly the reachable bytes; then
 * sweep_all frees the rest. */
static void drain(void) {
    while (user_locks) mpgc_unlock(gc), user_locks--;
    if (kind != K_NONE) {
        if (byte() & 1) {
            op_abort();
        } else {
            for (int k = 0; k < 1000000 && kind != K_NONE; k++) op_step(kind == K_IDLE, 64);
            if (kind != K_NONE) FAIL("a cycle did not end in 1000000 steps");
        }
    }
    check_all("the end of the cycle");
    size_t want = live_bytes();
    for (int k = 0; k < 400 && mpgc_mem_alloc(gc) != want; k++) {
        op_full(1);
        prune_dead();
        check_all("a final collection");
    }
    if (mpgc_mem_alloc(gc) != want)
        FAIL("full collections leave %zu bytes allocated, %zu reachable", mpgc_mem_alloc(gc), want);
    op_sweep_all();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (FUZZ_PLANT_MISSING_BARRIER && !MPGC_ENABLE_STEPS) { /* no cycle: nothing to find */
        printf("planted: the steps are compiled out (MPGC_ENABLE_STEPS=0)\n");
        exit(77);
    }
    in = data;
    in_left = size;
    uint8_t setup = byte();
    mpgc_config_t cfg = {0};
    cfg.no_stack_scan = true;
    cfg.scan_roots = on_scan;
    cfg.finaliser = on_fin;
    cfg.progress = setup & 1 ? on_progress : NULL;
    cfg.finalise_order = setup & 2 ? MPGC_FINALISE_MICROPYTHON : MPGC_FINALISE_SAFE;
    /* with the safe order compiled out, asking for it gives MicroPython's */
    order = MPGC_ENABLE_SAFE_ORDER ? cfg.finalise_order : MPGC_FINALISE_MICROPYTHON;
    cfg.policy = setup & 4 ? MPGC_POLICY_FIRST_FIT : MPGC_POLICY_FIT;
    size_t heap_bytes = 8192 + (size_t)(setup >> 3) * (sizeof arena - 8192) / 31;
    memset(live, 0, sizeof live);
    ndead = 0;
    memset(rootA, 0, sizeof rootA);
    memset(rootS, 0, sizeof rootS);
    memset(rootM, 0, sizeof rootM);
    next_id = 0;
    kind = K_NONE;
    must_valid = false;
    nmust = nborn = 0;
    user_locks = 0;
    region_on = false;
    fin_allowed = in_sweep_all = false;
    gc = mpgc_init(arena, heap_bytes, &cfg);
    if (!gc) FAIL("init");
    if (!mpgc_add_root(gc, rootA, sizeof rootA)) FAIL("add_root");
    static const char *names[] = {"alloc", "store", "move", "clear root", "realloc", "free",
                                  "step", "idle step", "collect", "misc"};
    while (in_left) {
        uint8_t op = byte() % 32;
        int k = op < 6 ? 0 : op < 10 ? 1 : op < 14 ? 2 : op < 15 ? 3 : op < 17 ? 4 : op < 18 ? 5
              : op < 25 ? 6 : op < 27 ? 7 : op < 28 ? 8 : 9;
        TRACE("%s\n", names[k]);
        switch (k) {
        case 0: op_alloc(); break;
        case 1: op_store(); break;
        case 2: op_move(); break;
        case 3: op_clear_root(); break;
        case 4: op_realloc(); break;
        case 5: op_free(); break;
        case 6: op_step(false, pick_budget()); break;
        case 7: op_step(true, pick_budget()); break;
        case 8: op_full(byte()); break;
        default: op_misc(); break;
        }
        settle();
        if (ndead > NDEAD - NOBJ) prune_dead();
        /* Too many unreachable objects remembered (finalisable ones stay
         * until their finaliser ran, and a collection later in the safe
         * order): collect. */
        check_all(names[k]);
        for (int c = 0; c < 40 && ndead > NDEAD - NOBJ && !user_locks; c++) {
            op_full(1);
            prune_dead();
            check_all("a collection for the model");
        }
        if (ndead > NDEAD - NOBJ) FAIL("model: too many unreachable objects kept");
    }
    drain();
    return 0;
}
