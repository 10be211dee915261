/*
 * sysmem_none.c - the gc.sys_* queries on a target without an OS.
 *
 * A board port that knows its memory map supplies its own file instead
 * (see docs/porting.md); this one reports "unavailable": sys_total() is 0
 * and the tuple queries return false.
 */
#include "mpgc.h"

uint64_t mpgc_sys_total(void) { return 0; }
bool mpgc_sys_heap(mpgc_sysmem_t *out) { (void)out; return false; }
bool mpgc_sys_page(mpgc_sysmem_t *out) { (void)out; return false; }
bool mpgc_sys_mmz(mpgc_sysmem_t *out) { (void)out; return false; }
