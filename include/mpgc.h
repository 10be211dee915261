/*
 * mpgc.h - MicroPython's `gc` heap as a standalone C library.
 *
 * A conservative mark-and-sweep heap in memory you give it (static arrays,
 * several physical pools), with the whole API of MicroPython's `gc` module:
 * enable/disable/isenabled/collect/mem_alloc/mem_free/threshold, plus the
 * K230 system-memory queries. The engine never calls malloc and keeps no
 * global state: every call takes the heap handle.
 *
 * Functions are grouped: heap set-up, allocation, roots and collection, the
 * `gc` module, diagnostics, locking, system memory. The layout and the
 * invariants are in docs/design.md.
 */
#ifndef MPGC_H
#define MPGC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpgc_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mpgc mpgc_t;

/* Allocation flags. */
#define MPGC_FINALISE 0x1u /* run the config's finaliser when found unreachable */
#define MPGC_NO_SCAN 0x2u  /* contents never scanned for pointers (byte buffers) */

/* Placement of new allocations (mpgc_config_t.policy). */
typedef enum {
    MPGC_POLICY_FIT = 0,      /* default: segregated good fit, O(1) search */
    MPGC_POLICY_FIRST_FIT = 1 /* MicroPython's: address-ordered first fit
                                 (ignored if MPGC_ENABLE_FIRST_FIT is 0) */
} mpgc_policy_t;

/* When an unreachable object with a finaliser is freed (mpgc_config_t). */
typedef enum {
    /* Default. Everything an unreachable finalisable object points to is
     * kept alive while its finaliser runs, and the object itself is freed
     * by the next collection only if it is still unreachable then: a
     * finaliser may read its object's referents and may resurrect it.
     * Referrers run first: when unreachable finalisable x reaches y, x's
     * finaliser runs before y's, whatever their addresses (objects on a
     * cycle: in address order). Up to MPGC_FINALISE_BATCH objects are
     * finalised per collection (docs/design.md section 4). */
    MPGC_FINALISE_SAFE = 0,
    /* MicroPython's order: finalise every unreachable object, then free
     * them all in the same collection. */
    MPGC_FINALISE_MICROPYTHON = 1
} mpgc_finalise_order_t;

/* What the report hook is told about a rejected pointer. */
typedef enum {
    MPGC_BAD_FOREIGN = 1,  /* not inside any pool's blocks */
    MPGC_BAD_INTERIOR = 2, /* inside a pool but not the start of an allocation */
    MPGC_BAD_FREED = 3,    /* block-aligned, but no allocation starts there */
    MPGC_BAD_LOCKED = 4    /* free/realloc while the heap is locked */
} mpgc_bad_t;

typedef struct mpgc_config {
    /* Called once for each unreachable MPGC_FINALISE object, during the
     * collection, with the heap locked (allocation returns NULL). */
    void (*finaliser)(mpgc_t *gc, void *obj, void *user);
    /* Called at the start of every collection; report each root range with
     * mpgc_mark_range(). */
    void (*scan_roots)(mpgc_t *gc, void *user);
    /* Called for each bad pointer given to free/realloc/size (optional). */
    void (*report)(mpgc_t *gc, mpgc_bad_t what, const void *ptr, void *user);
    /* Thread hooks: a recursive mutex taken around every call that reads
     * or writes heap state (all but mpgc_mark_range, mpgc_region_bytes and
     * the mpgc_sys_* queries). */
    void (*lock)(void *user);
    void (*unlock)(void *user);
    /* Fault injection: return true to make this allocation fail as if the
     * heap were full (no collection is attempted). For tests. */
    bool (*fail_alloc)(mpgc_t *gc, size_t nbytes, void *user);
    void *user;
    mpgc_policy_t policy;
    mpgc_finalise_order_t finalise_order;
    /* Do not scan the calling thread's C stack and registers when
     * collecting (runtimes that report every root through scan_roots). */
    bool no_stack_scan;
    /* The caller retries an allocation that returned NULL, collecting
     * first when it may (MicroPython's gc_alloc does, with mpgc's own
     * collections disabled). MPGC_POLICY_FIT may then return NULL once
     * before the heap is full, to have it collected early rather than cut
     * the longest free run (MPGC_RESERVE_LARGE); the next attempt succeeds
     * if a run is long enough, collection or not. While mpgc's collections
     * are enabled it does this by itself and the flag changes nothing. */
    bool caller_collects;
    /* Called now and then during a collection: after every
     * MPGC_PROGRESS_WORDS words of marking and sweeping work (optional;
     * ignored if MPGC_ENABLE_PROGRESS is 0). For a watchdog or an event
     * loop on a long pause; the heap is locked and must not be touched. */
    void (*progress)(mpgc_t *gc, void *user);
} mpgc_config_t;

/* ---- Heap set-up ---------------------------------------------------- */

/* Carves the control block, the block tables and the first pool out of
 * mem. NULL when mem is too small (or NULL). cfg may be NULL (defaults);
 * it is copied. The heap starts enabled, threshold -1. */
mpgc_t *mpgc_init(void *mem, size_t size, const mpgc_config_t *cfg);
/* Adds another pool (its own tables). False if too small, overlapping an
 * existing pool, during a collection, or the split heap is compiled out. */
bool mpgc_add_region(mpgc_t *gc, void *mem, size_t size);
/* Gives back the pool that mpgc_add_region made of mem, if none of its
 * blocks is allocated (e.g. right after a collection): the memory is the
 * caller's again. False, and nothing changes, if mem is not the start of
 * an added region (the first region, holding the heap itself, never is),
 * if the pool holds an allocation, or during a collection. */
bool mpgc_remove_region(mpgc_t *gc, void *mem);
/* The size of a region, at any alignment, whose pool is sure to hold an
 * allocation of nbytes (its tables and alignment included); 0 if that
 * overflows. For growing a heap by mpgc_add_region on demand. */
size_t mpgc_region_bytes(size_t nbytes);
/* The address given to mpgc_set_stack_top(): the top of the C stack of the
 * thread that collects; take it from a local of main(). NULL: no scan.
 * Only this call links in the stack scan (src/stack.c, which needs the C
 * library's setjmp): a program that never calls it needs no libc. */
void mpgc_set_stack_top(mpgc_t *gc, void *top);

/* ---- Allocation ----------------------------------------------------- */

/* n bytes, zeroed, aligned to a block. NULL for n == 0, for n too large to
 * round up, while locked, and when no memory is left after collecting:
 * while collection is enabled, a failing request collects and retries, and
 * collects again while the last collection found unreachable finalisable
 * objects (in the safe order they are freed a collection after their
 * finaliser ran), so it fails only when no garbage is left. */
void *mpgc_alloc(mpgc_t *gc, size_t n, unsigned flags);
/* Resizes in place when the following blocks allow; otherwise moves (keeping
 * the flags) only if allow_move. realloc(NULL, n) allocates; n == 0 frees
 * and returns NULL. Returns NULL and leaves p untouched on failure. */
void *mpgc_realloc(mpgc_t *gc, void *p, size_t n, bool allow_move);
/* Frees now, without running the finaliser. Bad pointers are ignored. */
void mpgc_free(mpgc_t *gc, void *p);
/* Usable bytes of the allocation starting at p; 0 for any other pointer. */
size_t mpgc_size(const mpgc_t *gc, const void *p);

/* ---- Roots and collection ------------------------------------------- */

/* A range of words scanned conservatively at every collection. False when
 * all MPGC_MAX_ROOTS slots are taken, or during a collection. */
bool mpgc_add_root(mpgc_t *gc, const void *start, size_t nbytes);
/* Removes the range registered with this start address (false if none,
 * or during a collection). */
bool mpgc_remove_root(mpgc_t *gc, const void *start);
/* Marks from every pointer-sized, pointer-aligned word in the range. Only
 * meaningful during a collection (from scan_roots, or between
 * mpgc_collect_start and mpgc_collect_end) or while a cycle in steps is
 * open (then it only greys: the steps trace); ignored otherwise. Takes no
 * lock: call it from the thread that collects, or from another thread
 * while the collector waits for it under the runtime's own handshake. */
void mpgc_mark_range(mpgc_t *gc, const void *start, size_t nbytes);

/* A collection in three steps, for runtimes that gather roots themselves
 * (MicroPython's gc_collect_start / gc_collect_root / gc_collect_end):
 * start locks the heap and marks the registered roots, scan_roots and the
 * stack (unless no_stack_scan); the caller then reports more ranges with
 * mpgc_mark_range; end finalises, sweeps and returns the objects freed.
 * start returns false when the heap is locked (by the user, or because a
 * collection is running). end acts only when it pairs with a start that
 * returned true and is called outside every callback; otherwise it returns
 * 0 and does nothing. The thread hook is held from start to end. */
bool mpgc_collect_start(mpgc_t *gc);
size_t mpgc_collect_end(mpgc_t *gc);
/* Runtime shutdown: runs every pending finaliser exactly once (in the safe
 * order referrers first, every object intact until the last has run), then
 * frees every allocation, rooted or not. Returns the objects freed. */
size_t mpgc_sweep_all(mpgc_t *gc);
/* A collection frees in the block tables only; the free-run index it
 * empties is rebuilt by the allocations that need it, from the lowest
 * address up (docs/design.md section 4). This rebuilds the rest now, say
 * from an idle loop, so that no later allocation pays for it. Returns the
 * number of free runs it indexed: 0 when none was left, inside a
 * collection, or for NULL. */
size_t mpgc_finish_sweep(mpgc_t *gc);
/* Sets or clears the finaliser flag of an existing allocation (false for a
 * bad pointer, during a collection, or when finalisers are compiled out). */
bool mpgc_set_finaliser(mpgc_t *gc, const void *p, bool on);

/* Inside a collection: from the finaliser, scan_roots and progress
 * callbacks, and between a successful mpgc_collect_start and its end.
 * Every call has a defined result there, and none can free a live object,
 * leave the heap locked or unbalance the thread hooks:
 *  - mpgc_alloc: NULL. mpgc_realloc: NULL, p untouched, reported as
 *    MPGC_BAD_LOCKED. mpgc_free: nothing, reported as MPGC_BAD_LOCKED.
 *  - mpgc_collect, mpgc_sweep_all, mpgc_finish_sweep: 0, nothing done. mpgc_collect_start:
 *    false. mpgc_collect_step, mpgc_idle_step, mpgc_collect_abort: false,
 *    nothing done; mpgc_write_barrier: nothing (the step is atomic);
 *    mpgc_in_cycle reads. mpgc_collect_end: 0 and nothing, except the caller's own end of
 *    a three-step collection (never from a callback).
 *  - mpgc_add_region, mpgc_remove_region, mpgc_add_root, mpgc_remove_root,
 *    mpgc_set_finaliser: false, nothing changed.
 *  - mpgc_lock/unlock nest as usual; unlock never drops the collection's
 *    own lock, so mpgc_is_locked is true.
 *  - mpgc_enable/disable, threshold and set_threshold act as outside.
 *  - mpgc_size, mpgc_mem_alloc/mem_free, mpgc_info, mpgc_dump_alloc_table
 *    read (the dump shows the marks of the collection); so does
 *    mpgc_snapshot, except during the sweep and while finalisation orders
 *    objects (false, nothing written).
 *  - mpgc_check: true from scan_roots, a finaliser and the caller between
 *    start and end when the heap is consistent; false during the sweep and
 *    while finalisation orders objects (a progress callback may come then):
 *    the tables are mid-update.
 *  - mpgc_mark_range: marks while the roots are taken, between start and
 *    end, and from a finaliser (keeping more alive is always safe); ignored
 *    during the sweep and while finalisation traces its batch (a progress
 *    callback may come then). */

/* ---- Collection in steps (docs/design.md section 8) ------------------- */

/* Incremental mode, for runtimes that call mpgc_write_barrier. Each call
 * does about `budget` words of collection work (words of objects scanned;
 * one large object is scanned in pieces) and returns true when it ended a
 * cycle. The first step of a cycle greys the roots (registered ranges,
 * scan_roots, the stack), which costs one pass over them whatever the
 * budget, then traces like any step (budget 0: it only opens the cycle);
 * the runtime runs between steps; the step that finds nothing left to trace ends the cycle in one
 * atomic final step: the roots and the stack again, the rest of the
 * trace, finalisers, the sweep of the tables. Between steps:
 *  - every store of a pointer into a heap object must be followed by
 *    mpgc_write_barrier (stores into roots and the stack need none);
 *  - allocations are kept by the cycle (allocated marked); a moving
 *    realloc's copy is traced again;
 *  - mpgc_collect, mpgc_collect_start, mpgc_sweep_all and
 *    mpgc_remove_region abandon the cycle first (mpgc_collect_abort);
 *  - an allocation that finds no room ends the cycle (the final step)
 *    before it collects as usual; the threshold starts no collection, nor
 *    does the placement's reserve (MPGC_RESERVE_LARGE) ask for one;
 *  - every other call acts as outside a cycle; mpgc_check holds.
 * While the heap is locked a step does nothing and returns false. NULL:
 * false. A runtime that never calls a step function never opens a cycle
 * and needs no barrier. */
bool mpgc_collect_step(mpgc_t *gc, size_t budget);
/* Dijkstra's barrier: call after storing `value` (any word) into the heap
 * object starting at obj. During a cycle it marks (greys) the allocation
 * value designates unless obj is an allocation not yet marked; outside a
 * cycle it does nothing. */
void mpgc_write_barrier(mpgc_t *gc, const void *obj, const void *value);
/* Idle mode, for runtimes without a barrier (MicroPython): the same
 * cycle, in slices, while the runtime is idle. The caller guarantees that
 * nothing stores into the heap between the slices of a cycle; every call
 * that could change the heap (allocation, realloc, free, the collect and
 * sweep calls, regions, set_finaliser) abandons an idle cycle first, and
 * the runtime calls mpgc_collect_abort when it resumes with a cycle
 * still open. Nothing is allocated marked. A call continues any open
 * cycle; mpgc_collect_step abandons an open idle cycle and opens an
 * incremental one. Returns true when it ended a cycle. */
bool mpgc_idle_step(mpgc_t *gc, size_t budget);
/* Abandons the open cycle, if any: its marks are cleared, a table word at
 * a time, and nothing is freed. False if none was open (or NULL, or inside
 * a collection step's callbacks). */
bool mpgc_collect_abort(mpgc_t *gc);
/* Is a cycle open (between its first step and the one that ends it)? */
bool mpgc_in_cycle(const mpgc_t *gc);

/* ---- The gc module -------------------------------------------------- */

void mpgc_enable(mpgc_t *gc);
void mpgc_disable(mpgc_t *gc);
bool mpgc_isenabled(const mpgc_t *gc);
size_t mpgc_collect(mpgc_t *gc);           /* number of objects freed */
size_t mpgc_mem_alloc(const mpgc_t *gc);   /* bytes in use, block-granular */
ptrdiff_t mpgc_mem_free(const mpgc_t *gc); /* bytes free, -1 if it cannot be known */
ptrdiff_t mpgc_threshold(const mpgc_t *gc); /* -1 when disabled */
void mpgc_set_threshold(mpgc_t *gc, ptrdiff_t amount); /* < 0 disables */

/* ---- Diagnostics ---------------------------------------------------- */

typedef struct mpgc_info {
    size_t total;        /* usable bytes in all pools */
    size_t used;         /* bytes in allocated blocks */
    size_t free;         /* bytes in free blocks */
    size_t max_free;     /* largest allocatable run, bytes */
    size_t num_1block;   /* allocations of one block */
    size_t num_2block;   /* allocations of two blocks */
    size_t max_block;    /* largest allocation, blocks */
    size_t collections;  /* collections so far */
    size_t block_bytes;  /* bytes per block */
    size_t pools;        /* number of pools */
    size_t meta_bytes;   /* control block, pool headers and block tables */
} mpgc_info_t;

void mpgc_info(const mpgc_t *gc, mpgc_info_t *info);

/* A block-per-character map of every pool, as MicroPython prints it:
 * '.' free, 'h' head, '=' tail, 'm' marked, 'n' no-scan head, 'f' head with
 * a finaliser. write() receives the text in pieces. */
void mpgc_dump_alloc_table(const mpgc_t *gc,
                           void (*write)(void *ctx, const char *s, size_t n),
                           void *ctx);

/* Re-derives every invariant of the tables, the free-run index and the
 * counters. True when the heap is consistent. Cost: one walk of the heap. */
bool mpgc_check(const mpgc_t *gc);

/* Writes a snapshot of the heap's tables (format: docs/report.md): per
 * pool its base, its size and the head/tail/mark/fin bits of every block;
 * no object contents. write() receives it in pieces of at most 64 bytes and
 * returns false to stop (the snapshot then returns false). The heap is
 * locked meanwhile: write() must not use the heap (an allocation from it
 * returns NULL, a collection does nothing). Also from a finaliser or
 * scan_roots callback or between mpgc_collect_start and its end, where the
 * marks so far are written (the header says so); false, nothing written,
 * for a NULL argument, during the sweep and while finalisation orders
 * objects, or when MPGC_ENABLE_SNAPSHOT is 0. `mpgc report` draws it. */
typedef bool (*mpgc_write_fn)(void *ctx, const void *data, size_t n);
bool mpgc_snapshot(mpgc_t *gc, mpgc_write_fn write, void *ctx);

/* ---- Locking (interrupt handlers, finalisers) ------------------------ */

/* Nesting. While locked, allocation returns NULL, free and collect do
 * nothing. */
void mpgc_lock(mpgc_t *gc);
void mpgc_unlock(mpgc_t *gc);
bool mpgc_is_locked(const mpgc_t *gc);

/* ---- System memory (K230 gc.sys_*), implemented in port/ ------------- */

typedef struct mpgc_sysmem {
    uint64_t total; /* bytes */
    uint64_t free;
    uint64_t used;
} mpgc_sysmem_t;

/* false only when the query fails (NULL out, an unreadable OS source); a
 * port without such memory fills in zeros (port/sysmem_none.c). */
uint64_t mpgc_sys_total(void);          /* 0 when unknown */
bool mpgc_sys_heap(mpgc_sysmem_t *out); /* kernel heap (slab on Linux) */
bool mpgc_sys_page(mpgc_sysmem_t *out); /* user pages */
bool mpgc_sys_mmz(mpgc_sysmem_t *out);  /* media zone (CMA on Linux) */

#ifdef __cplusplus
}
#endif

#endif /* MPGC_H */
