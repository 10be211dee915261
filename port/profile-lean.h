/*
 * profile-lean.h - mpgc with the feature set of MicroPython's py/gc.c in
 * its minimal build (no finalisers, threshold, split heap or thread hooks),
 * for the smallest flash. Select it with
 *     -DMPGC_CONFIG_FILE='"profile-lean.h"' -I<mpgc>/port
 * (CMake: -DMPGC_DEFINES='MPGC_CONFIG_FILE="profile-lean.h"' and port/ on
 * the include path). A -D of any option below still beats this file.
 * Its size, by function, is in docs/porting.md ("Size and overhead").
 *
 * What it keeps that py/gc.c's minimal build has: allocation, free,
 * realloc, the collection (mark from the port's roots, sweep), enable and
 * disable, mem_free/mem_alloc/info, the dump. What it keeps beyond
 * py/gc.c: the size-class index (O(1) allocation, no scan of the table),
 * the placement of docs/design.md section 2, the lazy sweep, and
 * mpgc_check for test builds (linked only when called).
 * What it drops against the default profile: the options below, and the
 * mark stack's spill into free memory (a full stack falls back to
 * rescanning, as py/gc.c does).
 */
#ifndef MPGC_PROFILE_LEAN_H
#define MPGC_PROFILE_LEAN_H

#ifndef MPGC_ENABLE_FINALISERS
#define MPGC_ENABLE_FINALISERS 0
#endif
#ifndef MPGC_ENABLE_THRESHOLD
#define MPGC_ENABLE_THRESHOLD 0
#endif
#ifndef MPGC_ENABLE_SPLIT_HEAP
#define MPGC_ENABLE_SPLIT_HEAP 0
#endif
#ifndef MPGC_ENABLE_LOCK_HOOKS
#define MPGC_ENABLE_LOCK_HOOKS 0
#endif
#ifndef MPGC_ENABLE_STATS
#define MPGC_ENABLE_STATS 0
#endif
#ifndef MPGC_ENABLE_SNAPSHOT
#define MPGC_ENABLE_SNAPSHOT 0
#endif
#ifndef MPGC_ENABLE_FIRST_FIT
#define MPGC_ENABLE_FIRST_FIT 0
#endif
#ifndef MPGC_ENABLE_PROGRESS
#define MPGC_ENABLE_PROGRESS 0
#endif
#ifndef MPGC_ENABLE_STEPS
#define MPGC_ENABLE_STEPS 0
#endif
#ifndef MPGC_ENABLE_SPILL
#define MPGC_ENABLE_SPILL 0
#endif

#endif /* MPGC_PROFILE_LEAN_H */
