/*
 * step.c - collection in steps (docs/design.md section 8): incremental
 * cycles, for runtimes that call the write barrier, and idle-time cycles,
 * for runtimes that do not run between the slices.
 *
 *   open_cycle: grey the roots       (no tracing; phase back to IDLE)
 *   step:       trace <= budget      (the runtime runs in between)
 *   last step:  the grey set is empty: mpgc_collect_locked on the open
 *               cycle is the final step (roots again, trace, finalise, sweep)
 *
 * Invariant between the steps of an incremental cycle (Dijkstra): every
 * pointer from a marked object to an unmarked one was either there when
 * the marked object was greyed (it is still to be scanned: on the mark
 * stack, in a segment, the rest of part_obj or in the overflow range) or
 * was reported to mpgc_write_barrier, which greyed its target. Objects
 * allocated during the cycle are marked (alloc.c), so the sweep keeps
 * them. The roots and the stack are taken again in the final step.
 */
#include "internal.h"

static void open_cycle(mpgc_t *gc, uint8_t mode) {
    gc->cycle = mode;
    gc->lock_depth++;
    gc->phase = PHASE_ROOTS;
    mpgc_grey_reset(gc);
    gc->grey_only = true;
    mpgc_mark_roots(gc);
    gc->grey_only = false;
    gc->phase = PHASE_IDLE;
    gc->lock_depth--;
}

/* Traces up to budget words; a step that empties the grey set with budget
 * to spare ends the cycle (budget 0 only opens one). */
static bool step_locked(mpgc_t *gc, size_t budget) {
    if (budget == 0) return false;
    gc->lock_depth++;
    gc->phase = PHASE_ROOTS;
    size_t left = mpgc_mark_some(gc, budget);
    gc->phase = PHASE_IDLE;
    gc->lock_depth--;
    if (left == 0) return false;
    mpgc_collect_locked(gc);
    return true;
}

static bool step(mpgc_t *gc, size_t budget, uint8_t mode) {
    if (!MPGC_ENABLE_STEPS || !gc) return false;
    hook_lock(gc);
    bool ended = false;
    if (gc->lock_depth == 0) {
        if (mode == CYCLE_INCREMENTAL && gc->cycle == CYCLE_IDLE) mpgc_cycle_abort(gc);
        if (gc->cycle == CYCLE_NONE) open_cycle(gc, mode);
        ended = step_locked(gc, budget);
    }
    hook_unlock(gc);
    return ended;
}

bool mpgc_collect_step(mpgc_t *gc, size_t budget) {
    return step(gc, budget, CYCLE_INCREMENTAL);
}

bool mpgc_idle_step(mpgc_t *gc, size_t budget) { return step(gc, budget, CYCLE_IDLE); }

/* Greys value unless obj is certainly white: an allocation's start whose
 * mark is clear (it will be scanned later, with value in it). Anything
 * else counts as marked, so a wrong obj costs retention, never an object.
 * Ignored inside a step's callbacks (phase not IDLE): the final step is
 * atomic there, as a stop-the-world collection is. */
void mpgc_write_barrier(mpgc_t *gc, const void *obj, const void *value) {
    if (!MPGC_ENABLE_STEPS || !gc) return;
    hook_lock(gc);
    if (gc->cycle == CYCLE_INCREMENTAL && gc->phase == PHASE_IDLE) {
        const pool_t *p = mpgc_pool_of(gc, obj);
        bool white = false;
        if (p && ((size_t)((const uint8_t *)obj - p->base)) % BLOCK == 0) {
            size_t b = block_index(p, obj);
            const group_t *g = &p->groups[b / W_BITS];
            white = (g->head & ~g->mark & bit_of(b)) != 0;
        }
        if (!white) mpgc_mark_grey(gc, value);
    }
    hook_unlock(gc);
}

/* Marks are cleared a table word at a time; nothing else was written to
 * the heap by the cycle except segments, which are given back. */
void mpgc_cycle_abort(mpgc_t *gc) {
    if (!MPGC_ENABLE_STEPS) return;
    mpgc_ms_discard(gc);
    mpgc_grey_reset(gc);
    for (pool_t *p = gc->pools; p; p = p->next)
        for (size_t gi = 0; gi < p->ngroups; gi++) p->groups[gi].mark = 0;
    gc->cycle = CYCLE_NONE;
}

bool mpgc_collect_abort(mpgc_t *gc) {
    if (!MPGC_ENABLE_STEPS || !gc) return false;
    hook_lock(gc);
    bool open = gc->cycle != CYCLE_NONE && gc->phase == PHASE_IDLE;
    if (open) mpgc_cycle_abort(gc);
    hook_unlock(gc);
    return open;
}

bool mpgc_in_cycle(const mpgc_t *gc) {
    if (!MPGC_ENABLE_STEPS || !gc) return false;
    hook_lock(gc);
    bool open = gc->cycle != CYCLE_NONE;
    hook_unlock(gc);
    return open;
}
