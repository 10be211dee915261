/*
 * collect.c - one collection (roots, mark, finalise, sweep) and the `gc`
 * module's switches: enable/disable, threshold, lock/unlock.
 */
#include "internal.h"

/* Phase 1: the heap is locked (finalisers and root callbacks cannot
 * allocate) and marking is open. */
static void begin_locked(mpgc_t *gc) {
    gc->lock_depth++;
    gc->collecting = true;
    gc->msp = 0;
    gc->ovf_lo = gc->ovf_hi = NULL;
    gc->rescan_pos = NULL;
}

/* Phase 3: finalise, sweep, unlock. */
static size_t end_locked(mpgc_t *gc) {
    mpgc_mark_drain(gc);
    mpgc_finalise(gc);
    size_t freed = mpgc_sweep(gc);
    gc->collecting = false;
    gc->lock_depth--;
    gc->since_collect = 0;
    gc->collections++;
    return freed;
}

size_t mpgc_collect_locked(mpgc_t *gc) {
    begin_locked(gc);
    mpgc_mark_roots(gc);
    return end_locked(gc);
}

size_t mpgc_collect(mpgc_t *gc) {
    if (!gc) return 0;
    hook_lock(gc);
    size_t freed = gc->lock_depth > 0 ? 0 : mpgc_collect_locked(gc);
    hook_unlock(gc);
    return freed;
}

bool mpgc_collect_start(mpgc_t *gc) {
    if (!gc) return false;
    hook_lock(gc);
    if (gc->lock_depth > 0) {
        hook_unlock(gc);
        return false;
    }
    begin_locked(gc);
    mpgc_mark_roots(gc);
    return true; /* the thread hook stays held until mpgc_collect_end */
}

size_t mpgc_collect_end(mpgc_t *gc) {
    if (!gc || !gc->collecting) return 0;
    size_t freed = end_locked(gc);
    hook_unlock(gc);
    return freed;
}

size_t mpgc_sweep_all(mpgc_t *gc) {
    if (!gc) return 0;
    hook_lock(gc);
    size_t freed = 0;
    if (gc->lock_depth == 0) {
        begin_locked(gc); /* no roots: everything is unreachable */
        freed = end_locked(gc);
    }
    hook_unlock(gc);
    return freed;
}

bool mpgc_set_finaliser(mpgc_t *gc, const void *p, bool on) {
    if (!gc || !MPGC_ENABLE_FINALISERS) return false;
    hook_lock(gc);
    size_t b;
    pool_t *pool = mpgc_find_head(gc, p, &b);
    if (pool) {
        group_t *g = &pool->groups[b / W_BITS];
        g->fin = on ? g->fin | bit_of(b) : g->fin & ~bit_of(b);
    }
    hook_unlock(gc);
    return pool != NULL;
}

void mpgc_enable(mpgc_t *gc) { gc->enabled = true; }
void mpgc_disable(mpgc_t *gc) { gc->enabled = false; }
bool mpgc_isenabled(const mpgc_t *gc) { return gc->enabled; }

ptrdiff_t mpgc_threshold(const mpgc_t *gc) { return gc->threshold; }

void mpgc_set_threshold(mpgc_t *gc, ptrdiff_t amount) {
    gc->threshold = MPGC_ENABLE_THRESHOLD && amount >= 0 ? amount : -1;
}

void mpgc_lock(mpgc_t *gc) {
    hook_lock(gc);
    gc->lock_depth++;
    hook_unlock(gc);
}

void mpgc_unlock(mpgc_t *gc) {
    hook_lock(gc);
    if (gc->lock_depth > (gc->collecting ? 1u : 0u)) gc->lock_depth--;
    hook_unlock(gc);
}

bool mpgc_is_locked(const mpgc_t *gc) { return gc->lock_depth > 0; }
