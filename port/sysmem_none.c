/*
 * sysmem_none.c - the gc.sys_* queries on a target that reports no system
 * memory (bare metal, an RTOS without such figures).
 *
 * Contract (shared by every port/sysmem_*.c): a query returns false only
 * when it failed (a NULL out, or an OS source that could not be read);
 * MicroPython's gc.sys_mmz() raises OSError then, as on CanMV. Having no
 * such memory is not a failure: this file answers every query with zeros,
 * sys_total() is 0, so gc.sys_heap()/sys_page()/sys_mmz() give (0, 0, 0)
 * as Linux does for a kernel without CMA. A board port that knows its
 * memory map supplies its own file instead (see docs/porting.md).
 */
#include "mpgc.h"

static bool zeros(mpgc_sysmem_t *out) {
    if (!out) return false;
    out->total = out->free = out->used = 0;
    return true;
}

uint64_t mpgc_sys_total(void) { return 0; }
bool mpgc_sys_heap(mpgc_sysmem_t *out) { return zeros(out); }
bool mpgc_sys_page(mpgc_sysmem_t *out) { return zeros(out); }
bool mpgc_sys_mmz(mpgc_sysmem_t *out) { return zeros(out); }
