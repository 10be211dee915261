/*
 * finalise.c - where finalisers run: between marking and sweeping, heap
 * locked, in the order of docs/design.md section 4.
 *
 * Safe order, one collection. P = unreachable objects with a pending
 * finaliser (fin & ~mark on a head, after the roots are marked).
 *  1. gather: up to MPGC_FINALISE_BATCH members of P, in address order
 *     from fin_cursor and wrapping around, form the batch (so all of P
 *     when it is that small); their fin bits are cleared.
 *     Every other member of P is marked and traced now: it waits for a
 *     later collection, and so does any batch member it reaches ("blocked":
 *     marked by that trace).
 *  2. reach: for each unblocked member x, a pending trace visits what x's
 *     contents reach (mark.c: unmarked objects get their fin bit as a
 *     visited bit) and records which batch members it met: reach[x]. The
 *     visited bits are then cleared (fin &= mark over the visited range:
 *     garbage has no fin bit of its own at this point).
 *  3. order: repeatedly, the unblocked members that nothing left reaches,
 *     except members of their own cycle (a source of the reach graph), run
 *     their finalisers, in address order. So a referrer always runs before
 *     its referents, and everything is intact while finalisers run.
 *  4. keep: every batch member is marked and traced, so that it and all it
 *     reaches survive this collection; blocked members get their fin bit
 *     back. A finalised object still unreachable at the next collection is
 *     freed then, unless its finaliser stored it somewhere (resurrection).
 * Progress: a batch whose members are all blocked moves the window on and
 * turns its direction round, so the next collection looks from the other
 * side; a source of P (a member that nothing reaches) is unblocked in its
 * window. If two laps of windows finalise nothing, P's sources are cycles
 * longer than a batch: cycle_member() then finalises one member found on
 * a cycle, which breaks it.
 */
#include "internal.h"

#define BATCH MPGC_FINALISE_BATCH

typedef mpgc_batch_t batch_t;

static bool is_marked(const mpgc_t *gc, const uint8_t *obj) {
    word_t bit;
    const group_t *g = mpgc_group_of(gc, obj, &bit); /* sets bit: sequenced before its use */
    return (g->mark & bit) != 0;
}

static void set_fin(const mpgc_t *gc, const uint8_t *obj, bool on) {
    word_t bit;
    group_t *g = mpgc_group_of(gc, obj, &bit);
    g->fin = on ? g->fin | bit : g->fin & ~bit;
}

/* Calls f(gc, ctx, p, group index, pending bits) for every group with
 * members of P in [from, to) (NULL: no bound), in address order, reading
 * the pending bits just before the call. f returns false to stop. */
typedef bool (*pend_fn)(mpgc_t *gc, void *ctx, pool_t *p, size_t gi, word_t pend);

static bool for_pending(mpgc_t *gc, const uint8_t *from, const uint8_t *to, pend_fn f, void *ctx) {
    for (pool_t *p = gc->pools; p && (!to || p->base < to); p = p->next) {
        if (p->end <= from) continue;
        size_t first = from > p->base ? block_index(p, from) : 0;
        size_t stop = to && to < p->end ? block_index(p, to) : p->nblocks;
        for (size_t gi = first / W_BITS; gi * W_BITS < stop; gi++) {
            group_t *g = &p->groups[gi];
            word_t pend = g->head & g->fin & ~g->mark;
            if (gi == first / W_BITS) pend &= ~(word_t)0 << (first % W_BITS);
            if (stop - gi * W_BITS < W_BITS) pend &= ((word_t)1 << (stop - gi * W_BITS)) - 1;
            if (pend && !f(gc, ctx, p, gi, pend)) return false;
        }
    }
    return true;
}

/* Step 1a, one member of P after another in walk order: upwards, the first
 * BATCH; downwards, the last BATCH (a ring). */
static bool take(mpgc_t *gc, void *ctx, pool_t *p, size_t gi, word_t pend) {
    batch_t *t = ctx;
    for (; pend; pend &= pend - 1) {
        if (t->seen == BATCH && !gc->fin_down) return false;
        t->obj[t->seen++ % BATCH] = block_ptr(p, gi * W_BITS + ctz_word(pend));
    }
    return true;
}

/* The batch: the window from the cursor of the current direction, in the
 * walk [cursor, end) then [start, cursor) (wrapping around). Upwards it is
 * the first BATCH members of that walk, downwards the last BATCH (the
 * highest below the cursor, then the highest above it). Leaves the batch
 * sorted, its members' fin bits cleared, and the cursor past it. */
static void gather(mpgc_t *gc, batch_t *t) {
    const uint8_t **cursor = gc->fin_down ? &gc->fin_below : &gc->fin_cursor;
    t->seen = 0;
    if (for_pending(gc, *cursor, NULL, take, t) && *cursor) for_pending(gc, NULL, *cursor, take, t);
    t->n = t->seen < BATCH ? t->seen : BATCH;
    if (t->n == 0) return;
    /* Upwards the next window starts past the last member taken; downwards
     * it lies below the first one kept. */
    *cursor = gc->fin_down ? t->obj[t->seen % t->n] : t->obj[(t->seen - 1) % BATCH] + BLOCK;
    for (size_t i = 0; i < t->n; i++) {
        set_fin(gc, t->obj[i], false);
        for (size_t j = i; j > 0 && t->obj[j - 1] > t->obj[j]; j--) { /* sort */
            const uint8_t *x = t->obj[j];
            t->obj[j] = t->obj[j - 1];
            t->obj[j - 1] = x;
        }
    }
}

/* Counts the members of P (the rest of it, after gather). */
static bool count(mpgc_t *gc, void *ctx, pool_t *p, size_t gi, word_t pend) {
    (void)gc, (void)p, (void)gi;
    *(size_t *)ctx += popcount_word(pend);
    return true;
}

/* Step 1b: every other member of P waits, marked and traced; counted. */
static bool defer(mpgc_t *gc, void *ctx, pool_t *p, size_t gi, word_t pend) {
    size_t *found = ctx;
    for (; pend; pend &= pend - 1) {
        mpgc_mark_object(gc, block_ptr(p, gi * W_BITS + ctz_word(pend)));
        ++*found;
    }
    return true;
}

/* Clears the visited (fin) bits of unmarked heads in [lo, hi]. */
static void clear_visits(mpgc_t *gc, batch_t *t) {
    const uint8_t *lo = t->visit_lo, *hi = t->visit_hi;
    t->visit_lo = t->visit_hi = NULL;
    if (!lo) return;
    for (pool_t *p = gc->pools; p && p->base <= hi; p = p->next) {
        if (p->end <= lo) continue;
        size_t b0 = lo > p->base ? block_index(p, lo) : 0;
        size_t b1 = hi < p->end ? block_index(p, hi) : p->nblocks - 1;
        for (size_t gi = b0 / W_BITS; gi <= b1 / W_BITS; gi++)
            p->groups[gi].fin &= p->groups[gi].mark;
    }
}

/* Step 2: reach[i] for each unblocked member; returns their bits. */
static uint32_t compute_reach(mpgc_t *gc, batch_t *t) {
    uint32_t unblocked = 0;
    t->visit_lo = t->visit_hi = NULL;
    for (size_t i = 0; i < t->n; i++) {
        t->reach[i] = 0;
        if (is_marked(gc, t->obj[i])) continue;
        unblocked |= (uint32_t)1 << i;
        t->hits = 0;
        gc->batch = t;
        mpgc_trace_contents(gc, t->obj[i]);
        gc->batch = NULL;
        clear_visits(gc, t);
        t->reach[i] = t->hits & ~((uint32_t)1 << i);
    }
    return unblocked;
}

/* Members of `left` that no other member of `left` reaches, except members
 * that they reach too (their own cycle). Never empty if `left` is not: the
 * reach relation is transitive, so some cycle (or single member) is a
 * source. */
static uint32_t sources(const batch_t *t, uint32_t left) {
    uint32_t ready = 0;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t bi = (uint32_t)1 << i;
        if (!(left & bi)) continue;
        bool source = true;
        for (size_t j = 0; j < t->n && source; j++)
            if (j != i && (left >> j & 1u) && (t->reach[j] & bi)) source = (t->reach[i] >> j & 1u) != 0;
        if (source) ready |= bi;
    }
    return ready;
}

static void run_finaliser(mpgc_t *gc, const uint8_t *obj) {
    MPGC_CALLBACK(gc, gc->cfg.finaliser(gc, (void *)(uintptr_t)obj, gc->cfg.user));
}

/* One batch, steps 1-4. Returns the number of finalisers run. */
/* After two laps of stalled windows, P holds no member that nothing else
 * in P reaches: its sources are cycles that no batch holds whole. One batch
 * member found on a cycle is finalised alone (a cycle's members may run in
 * any order; finalising one breaks the cycle, and the rest then runs as a
 * chain). The members' contents are traced in address order, marking: a
 * trace that comes back to its member shows a cycle. Members a trace
 * reaches are kept, as they would be anyway, and are not traced again, so
 * the last member traced is downstream of none of the others: it is taken
 * if it is on a cycle, else none is (a member upstream of the cycles is
 * then left to the unforced windows). Runs before the rest of P is marked,
 * so that the traces pass through it. Returns the member's bit, or 0. */
static uint32_t cycle_member(mpgc_t *gc, const batch_t *t) {
    uint32_t last = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (is_marked(gc, t->obj[i])) continue;
        mpgc_trace_contents(gc, t->obj[i]);
        last = is_marked(gc, t->obj[i]) ? (uint32_t)1 << i : 0;
    }
    return last;
}

static size_t finalise_batch(mpgc_t *gc) {
    batch_t t;
    /* (A P that fits in a batch is ordered exactly: never forced.) */
    bool forced = gc->fin_pending > BATCH &&
                  gc->fin_stalls > 2 * ((gc->fin_pending + BATCH - 1) / BATCH);
    gather(gc, &t);
    size_t found = t.n;
    uint32_t left = 0;
    if (forced) { /* P is counted first: the traces mark some of it */
        for_pending(gc, NULL, NULL, count, &found);
        left = cycle_member(gc, &t);
        if (left) gc->fin_stalls = SIZE_MAX / 2; /* more cycles: stay forced */
    }
    size_t waiting = 0;
    for_pending(gc, NULL, NULL, defer, &waiting);
    if (!forced) found += waiting;
    gc->fin_pending = found;
    if (t.n == 0) return 0;

    if (forced) memset(t.reach, 0, sizeof t.reach);
    else left = compute_reach(gc, &t);
    if (!left) { /* every member blocked: the next window, the other way */
        gc->fin_down = !gc->fin_down;
        gc->fin_stalls = forced ? 0 : gc->fin_stalls + 1;
    } else if (!forced) {
        gc->fin_stalls = 0;
    }
    uint32_t run = left;
    while (left) {
        uint32_t ready = sources(&t, left);
        for (size_t i = 0; i < t.n; i++)
            if (ready >> i & 1u) run_finaliser(gc, t.obj[i]);
        left &= ~ready;
    }
    for (size_t i = 0; i < t.n; i++) {
        if (!(run >> i & 1u)) set_fin(gc, t.obj[i], true); /* blocked: waits */
        mpgc_mark_object(gc, t.obj[i]);
    }
    return (size_t)popcount_word(run);
}

/* MicroPython's order (and the order when there is no finaliser to run):
 * every member of P, in address order, freed by this collection's sweep. */
static void finalise_unordered(mpgc_t *gc) {
    for (pool_t *p = gc->pools; p; p = p->next) {
        for (size_t gi = 0; gi < p->ngroups; gi++) {
            group_t *g = &p->groups[gi];
            word_t pend;
            while ((pend = g->head & g->fin & ~g->mark) != 0) {
                unsigned i = ctz_word(pend);
                g->fin &= ~((word_t)1 << i);
                if (gc->cfg.finaliser) run_finaliser(gc, block_ptr(p, gi * W_BITS + i));
            }
        }
    }
    gc->fin_pending = 0;
}

static bool ordered(const mpgc_t *gc) {
    return MPGC_ENABLE_SAFE_ORDER && gc->cfg.finalise_order == MPGC_FINALISE_SAFE &&
           gc->cfg.finaliser;
}

void mpgc_finalise(mpgc_t *gc) {
    if (!MPGC_ENABLE_FINALISERS) return;
    gc->phase = PHASE_FINALISE;
    if (ordered(gc)) finalise_batch(gc);
    else finalise_unordered(gc);
}

static void clear_marks(mpgc_t *gc) {
    for (pool_t *p = gc->pools; p; p = p->next)
        for (size_t gi = 0; gi < p->ngroups; gi++) p->groups[gi].mark = 0;
}

/* Nothing is a root: batches until no finaliser is pending, each batch's
 * marks cleared before the next (they only kept objects for a collection
 * that will not come). Every batch finalises at least one object or moves
 * the cursor, and a lap without progress forces one. */
void mpgc_finalise_all(mpgc_t *gc) {
    if (!MPGC_ENABLE_FINALISERS) return;
    gc->phase = PHASE_FINALISE;
    if (ordered(gc)) {
        gc->fin_stalls = 0;
        do {
            clear_marks(gc);
            finalise_batch(gc);
        } while (gc->fin_pending > 0);
    } else {
        finalise_unordered(gc);
    }
    clear_marks(gc);
    gc->fin_pending = 0;
}
