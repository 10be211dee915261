/*
 * step_reserve.c - reproducer (not part of the test run; it fails on the
 * engine of fd3dbdc and passes since 9c76123, where the reserve asks for
 * no collection while a cycle is open): during an open incremental cycle, a small allocation
 * that fits ends the cycle and collects the heap, because the placement's
 * reserve for large requests (MPGC_RESERVE_LARGE times the recent large
 * request, docs/design.md section 2) asks for a collection first: here a
 * 64 KiB request makes 512 KiB the reserve, and with 240 KiB free in one
 * run a 4-word request collects.
 *
 * mpgc.h says that in a cycle "an allocation that finds no room ends the
 * cycle (the final step) before it collects as usual; the threshold
 * starts no collection". Here there is room, yet the allocation ends the
 * cycle at once: the final step traces all the cycle had left, in one
 * pause. In mpgc-step (bench/step.c, --span 16 on a 32 MiB heap, where the
 * world array is the recent large request) these pauses took 15-18 ms of
 * CPU time, where the steps take 0.1-0.4 ms.
 *
 *   cc -std=c11 -Iinclude tests/repro/step_reserve.c build/libmpgc.a -o /tmp/step_reserve
 *   /tmp/step_reserve    # exit 0: fixed; exit 1: reproduced
 */
#include <stdio.h>

#include "mpgc.h"

static _Alignas(64) unsigned char mem[4u << 20];
static void *roots[2];

int main(void) {
    mpgc_config_t cfg = {0};
    cfg.no_stack_scan = true;
    mpgc_t *gc = mpgc_init(mem, sizeof mem, &cfg);
    if (!gc || !mpgc_add_root(gc, roots, sizeof roots)) return 2;
    /* One large request: the reserve is 8 x 64 KiB from now on. */
    roots[0] = mpgc_alloc(gc, 64u << 10, 0);
    /* Live small objects in a list until less than the reserve is free,
     * but far more than one small request needs. */
    while (mpgc_mem_free(gc) > (ptrdiff_t)(300u << 10)) {
        void **o = mpgc_alloc(gc, 4 * sizeof(void *), 0);
        if (!o) return 2;
        o[0] = roots[1];
        roots[1] = o;
    }
    /* A collection (frees nothing): the next small requests go to the
     * index, whose top run is now inside the reserve. */
    mpgc_collect(gc);
    mpgc_info_t before, after;
    mpgc_info(gc, &before);
    /* A cycle opens and stays open (one word of work per step). */
    if (mpgc_collect_step(gc, 1) || !mpgc_in_cycle(gc)) return 2;
    /* 64 KiB of small live requests, each with room to spare. */
    size_t n = 0;
    bool open = true;
    for (; n < (64u << 10) / (4 * sizeof(void *)) + 16 && open; n++) {
        void **o = mpgc_alloc(gc, 4 * sizeof(void *), 0);
        if (!o) return 2;
        o[0] = roots[1];
        mpgc_write_barrier(gc, o, roots[1]);
        roots[1] = o;
        open = mpgc_in_cycle(gc);
    }
    mpgc_info(gc, &after);
    printf("%zu small allocations with %td B free (largest run %zu B at the start): cycle %s, "
           "collections %zu -> %zu\n",
           n, mpgc_mem_free(gc), before.max_free, open ? "still open" : "ended",
           before.collections, after.collections);
    bool ok = open && after.collections == before.collections && mpgc_check(gc);
    printf("step_reserve: %s\n", ok ? "ok" : "REPRODUCED (the allocation collected during the cycle)");
    return ok ? 0 : 1;
}
