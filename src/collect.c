/*
 * collect.c - one collection (roots, mark, finalise, sweep) and the `gc`
 * module's switches: enable/disable, threshold, lock/unlock.
 */
#include "internal.h"

size_t mpgc_collect_locked(mpgc_t *gc) {
    gc->lock_depth++; /* finalisers run locked: no allocation inside */
    gc->collecting = true;
    gc->msp = 0;
    gc->ovf_lo = gc->ovf_hi = NULL;
    gc->rescan_pos = NULL;
    mpgc_mark_roots(gc);
    mpgc_finalise(gc);
    size_t freed = mpgc_sweep(gc);
    gc->collecting = false;
    gc->lock_depth--;
    gc->since_collect = 0;
    gc->collections++;
    return freed;
}

size_t mpgc_collect(mpgc_t *gc) {
    if (!gc) return 0;
    hook_lock(gc);
    size_t freed = gc->lock_depth > 0 ? 0 : mpgc_collect_locked(gc);
    hook_unlock(gc);
    return freed;
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
