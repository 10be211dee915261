/*
 * collect.c - one collection (roots, mark, finalise, sweep) and the `gc`
 * module's switches: enable/disable, threshold, lock/unlock.
 */
#include "internal.h"

/* Phase 1: the heap is locked (finalisers and root callbacks cannot
 * allocate) and marking is open. */
static void begin_locked(mpgc_t *gc) {
    gc->lock_depth++;
    gc->phase = PHASE_ROOTS;
    mpgc_grey_reset(gc);
}

/* Phase 3: sweep, unlock. */
static size_t sweep_locked(mpgc_t *gc) {
    gc->phase = PHASE_SWEEP;
    size_t freed = mpgc_sweep(gc);
    gc->cycle = CYCLE_NONE;
    gc->phase = PHASE_IDLE;
    gc->lock_depth--;
    gc->since_collect = 0;
    gc->collections++;
    return freed;
}

static size_t end_locked(mpgc_t *gc) {
    mpgc_mark_drain(gc);
    mpgc_finalise(gc);
    return sweep_locked(gc);
}

/* A collection; with a cycle in steps open, that cycle's final step: its
 * grey set is kept, the roots are taken again (step.c). */
size_t mpgc_collect_locked(mpgc_t *gc) {
    if (cycle_of(gc) == CYCLE_NONE) {
        begin_locked(gc);
    } else {
        gc->lock_depth++;
        gc->phase = PHASE_ROOTS;
    }
    mpgc_mark_roots(gc);
    return end_locked(gc);
}

/* Calls that need every collection whole abandon an open cycle first. */
static bool whole_locked(mpgc_t *gc) {
    if (gc->lock_depth > 0) return false;
    if (cycle_of(gc) != CYCLE_NONE) mpgc_cycle_abort(gc);
    return true;
}

size_t mpgc_collect(mpgc_t *gc) {
    if (!gc) return 0;
    hook_lock(gc);
    size_t freed = whole_locked(gc) ? mpgc_collect_locked(gc) : 0;
    hook_unlock(gc);
    return freed;
}

bool mpgc_collect_start(mpgc_t *gc) {
    if (!gc) return false;
    hook_lock(gc);
    if (!whole_locked(gc)) {
        hook_unlock(gc);
        return false;
    }
    begin_locked(gc);
    mpgc_mark_roots(gc);
    gc->phase = PHASE_OPEN;
    return true; /* the thread hook stays held until mpgc_collect_end */
}

/* Acts only on the collection opened by a successful collect_start, and
 * not from a callback of the engine (which would be inside a collection
 * step). Another thread's end waits on the hook until the owner's end has
 * run, and then finds nothing open. */
size_t mpgc_collect_end(mpgc_t *gc) {
    if (!gc) return 0;
    hook_lock(gc);
    size_t freed = 0;
    if (gc->phase == PHASE_OPEN && gc->callbacks == 0) {
        freed = end_locked(gc);
        hook_unlock(gc); /* the hold taken by collect_start */
    }
    hook_unlock(gc);
    return freed;
}

/* No roots: every finaliser runs (finalise.c, referrers first in the safe
 * order, all objects intact until the last one has run), then the sweep
 * frees everything. */
size_t mpgc_sweep_all(mpgc_t *gc) {
    if (!gc) return 0;
    hook_lock(gc);
    size_t freed = 0;
    if (whole_locked(gc)) {
        begin_locked(gc);
        mpgc_finalise_all(gc);
        freed = sweep_locked(gc);
    }
    hook_unlock(gc);
    return freed;
}

bool mpgc_set_finaliser(mpgc_t *gc, const void *p, bool on) {
    if (!gc || !MPGC_ENABLE_FINALISERS) return false;
    hook_lock(gc);
    size_t b;
    /* Refused during a collection: a finaliser that re-armed an object
     * could make the one being finalised run twice. */
    if (gc->phase == PHASE_IDLE) mpgc_idle_abort(gc);
    pool_t *pool = gc->phase == PHASE_IDLE ? mpgc_find_head(gc, p, &b) : NULL;
    if (pool) {
        group_t *g = &pool->groups[b / W_BITS];
        g->fin = on ? g->fin | bit_of(b) : g->fin & ~bit_of(b);
    }
    hook_unlock(gc);
    return pool != NULL;
}

/* The switches take the thread hook too: a plain read or write racing with
 * another thread's allocation is a data race in C11. */
void mpgc_enable(mpgc_t *gc) {
    hook_lock(gc);
    gc->enabled = true;
    hook_unlock(gc);
}

void mpgc_disable(mpgc_t *gc) {
    hook_lock(gc);
    gc->enabled = false;
    hook_unlock(gc);
}

bool mpgc_isenabled(const mpgc_t *gc) {
    hook_lock(gc);
    bool on = gc->enabled;
    hook_unlock(gc);
    return on;
}

ptrdiff_t mpgc_threshold(const mpgc_t *gc) {
    hook_lock(gc);
    ptrdiff_t t = gc->threshold;
    hook_unlock(gc);
    return t;
}

void mpgc_set_threshold(mpgc_t *gc, ptrdiff_t amount) {
    hook_lock(gc);
    gc->threshold = MPGC_ENABLE_THRESHOLD && amount >= 0 ? amount : -1;
    hook_unlock(gc);
}

void mpgc_lock(mpgc_t *gc) {
    hook_lock(gc);
    gc->lock_depth++;
    hook_unlock(gc);
}

/* Never drops the collection's own hold (lock_depth counts it). */
void mpgc_unlock(mpgc_t *gc) {
    hook_lock(gc);
    if (gc->lock_depth > (gc->phase != PHASE_IDLE ? 1u : 0u)) gc->lock_depth--;
    hook_unlock(gc);
}

bool mpgc_is_locked(const mpgc_t *gc) {
    hook_lock(gc);
    bool locked = gc->lock_depth > 0;
    hook_unlock(gc);
    return locked;
}
