/*
 * ring.c - a known failure (docs/reliability.md section 2, "Open"): a ring
 * of n finalisable objects, one of which points at a finalisable z
 * (allocated first, lowest address). The contract: z's finaliser runs after
 * every ring member's (they all reach z, z reaches none of them).
 *   cc -Iinclude fuzz/known/ring.c src/[a-z]*.c port/sysmem_linux.c -o ring
 *   ./ring 40          # repeated mpgc_collect
 *   ./ring 40 sweep    # mpgc_sweep_all
 * Exit status 0 when z runs last. On e2c879c: fine up to n = 32, broken
 * from n = 33 (more than MPGC_FINALISE_BATCH).
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "mpgc.h"
static _Alignas(64) unsigned char mem[256 * 1024];
static void *order[512];
static int nfin;
static void fin(mpgc_t *g, void *o, void *u) { (void)g, (void)u; order[nfin++] = o; }
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 40;
    mpgc_config_t cfg = {0};
    cfg.no_stack_scan = true;
    cfg.finaliser = fin;
    mpgc_t *gc = mpgc_init(mem, sizeof mem, &cfg);
    void **z = mpgc_alloc(gc, 32, MPGC_FINALISE);
    void **r[512];
    for (int i = 0; i < n; i++) r[i] = mpgc_alloc(gc, 32, MPGC_FINALISE);
    for (int i = 0; i < n; i++) r[i][0] = r[(i + 1) % n];
    r[n / 2][1] = z;
    int c = 0;
    if (argc > 2) { mpgc_sweep_all(gc); c = -1; }
    while (mpgc_mem_alloc(gc) && c >= 0 && c < 1000) mpgc_collect(gc), c++;
    int zpos = -1;
    for (int i = 0; i < nfin; i++) if (order[i] == z) zpos = i;
    printf("n=%d: %d collections, %d finalisers, z finalised at position %d (%s)\n", n, c, nfin, zpos,
           zpos == nfin - 1 ? "after the ring: ok" : "BEFORE ring members: order broken");
    return zpos == nfin - 1 ? 0 : 1;
}
