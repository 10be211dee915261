/*
 * roots.c - the root set: ranges registered with mpgc_add_root, the
 * runtime's scan_roots callback, the object pinned by a moving realloc, and
 * (src/stack.c) the collecting thread's registers and C stack. The stack
 * scan is reached only through gc->scan_stack, which mpgc_set_stack_top
 * (stack.c) installs: a program that never calls it links without stack.c,
 * and so without setjmp.
 */
#include "internal.h"

bool mpgc_add_root(mpgc_t *gc, const void *start, size_t nbytes) {
    if (!gc || !start) return false;
    hook_lock(gc);
    /* Not during a collection: the root loop below may be running. */
    bool ok = gc->nroots < MPGC_MAX_ROOTS && gc->phase == PHASE_IDLE;
    if (ok) gc->roots[gc->nroots++] = (root_t){start, nbytes};
    hook_unlock(gc);
    return ok;
}

bool mpgc_remove_root(mpgc_t *gc, const void *start) {
    if (!gc) return false;
    hook_lock(gc);
    bool found = false;
    for (size_t i = 0; i < gc->nroots && !found && gc->phase == PHASE_IDLE; i++) {
        if (gc->roots[i].start != start) continue;
        gc->roots[i] = gc->roots[--gc->nroots];
        found = true;
    }
    hook_unlock(gc);
    return found;
}

void mpgc_mark_roots(mpgc_t *gc) {
    for (size_t i = 0; i < gc->nroots; i++)
        mpgc_mark_range(gc, gc->roots[i].start, gc->roots[i].nbytes);
    if (gc->pin) mpgc_mark_object(gc, gc->pin);
    if (gc->cfg.scan_roots) MPGC_CALLBACK(gc, gc->cfg.scan_roots(gc, gc->cfg.user));
    if (!gc->cfg.no_stack_scan && gc->scan_stack) gc->scan_stack(gc);
}
