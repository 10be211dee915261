/*
 * gc_mpgc.c - MicroPython's py/gc.h implemented on mpgc.
 *
 * Replaces py/gc.c (see micropython.mk). MicroPython keeps its meaning of
 * everything outside the collector:
 *  - the port's gc_collect() drives collections: gc_collect_start marks the
 *    root-pointer section of mp_state_ctx (and the pystack), the port
 *    reports registers and stacks with gc_collect_root, gc_collect_end
 *    finalises and sweeps. mpgc never starts a collection by itself
 *    (mpgc_disable, no stack scan): where gc_alloc needs one, it calls the
 *    port's gc_collect(), exactly where py/gc.c does.
 *  - MP_STATE_MEM(gc_auto_collect_enabled), gc_alloc_threshold/amount (in
 *    blocks), gc_collected and the per-thread gc_lock_depth (with its
 *    GC_COLLECT_FLAG bit) are read and written here as py/gc.c does, and
 *    gc_lock() never touches mpgc: a locked thread is refused before mpgc is
 *    called.
 *  - Without a GIL, MP_STATE_MEM(gc_mutex) is taken around every call into
 *    mpgc, and from gc_collect_start to gc_collect_end; gc_collect_root
 *    takes nothing (other threads call it from a signal handler while the
 *    collecting thread holds the mutex).
 *
 * Idle-time collection (mpgc_mp_idle, at the end of the file): the port
 * calls it before it waits; a whole cycle runs in slices inside that one
 * call, its roots reported by the port's gc_collect(), and is abandoned
 * before the call returns if the wait was too short (docs/micropython.md
 * section 6).
 *
 * All state is in mp_state_mem_t (but mpgc.idle_stats()'s counts, which
 * steer nothing), which MicroPython may save and restore by copying
 * (ports/unix/coverage.c does, around 2048 throw-away heaps). mpgc
 * keeps its tables and mark stack in the control block, which mpgc_init
 * carves out of the heap memory itself, so py/gc.c's fields are free for:
 *   area.gc_alloc_table_start   the mpgc_t handle
 *   gc_block_stack[], area.gc_last_free_atb_index   the deferred frees
 *   gc_stack_overflow           collections started from a finaliser, or
 *                               IDLE_OPENING while mpgc_mp_idle takes roots
 *   area.gc_alloc_table_byte_len   free bytes after the last collection
 *   area.gc_last_used_block     microseconds a collection is expected to take
 *                               (idle-time collection, at the end of the file)
 *
 * Deferred frees: py/gc.c's gc_free only clears table bits, so a freed
 * object keeps its contents until an allocation reuses the memory, and
 * MicroPython has code that reads an object after freeing it (compile()
 * reads lex->source_name after mp_parse() freed the lexer). mpgc writes its
 * free-run links into freed blocks, so gc_free only queues the pointer; the
 * queue is given to mpgc at the next allocation, realloc, collection or
 * statistics call, and oldest first when it is full. Frees made by
 * finalisers during a collection are given to mpgc as the collection ends,
 * before gc_collect() returns, so the allocation that triggered it can use
 * that memory, as with py/gc.c.
 *
 * Weak references: MicroPython marks a weakly referenced object with
 * gc_weakref_mark and expects gc_weakref_about_to_be_freed(obj) for each
 * such object that a collection frees, then gc_weakref_sweep(). Here the
 * weakref map itself (MP_STATE_VM(mp_weakref_map), keys = address >> 1 as
 * small ints) is the record: right after the sweep, with the mutex still
 * held so no allocation can reuse an address, every key whose object is no
 * longer an allocation is reported. So __del__ finalisers (which include
 * weakref.ref's own, unlinking itself from the map) all run before any key
 * is invalidated, and the list walk in gc_weakref_sweep only meets live
 * objects: mpgc writes free-run headers into freed blocks, so nothing may
 * read a freed object after the sweep (py/gc.c's order could).
 */
#include <string.h>

#include "py/gc.h"
#include "py/mphal.h"
#include "py/mpstate.h"
#include "py/runtime.h"

#include "mpgc.h"
#include "mpgc_mp.h"
#include "mpgc_mp_trace.h"

#if MICROPY_ENABLE_GC

/* mpgc's block must be MicroPython's: gc.threshold, the coverage tests and
 * every m_new rounding assume MICROPY_BYTES_PER_GC_BLOCK. Set
 * MPGC_BLOCK_WORDS to MICROPY_BYTES_PER_GC_BLOCK / MP_BYTES_PER_OBJ_WORD. */
typedef char mpgc_block_is_micropython_block
    [MPGC_BLOCK_BYTES == MICROPY_BYTES_PER_GC_BLOCK ? 1 : -1];

/* ---- state in mp_state_mem_t ---------------------------------------------- */

static inline mpgc_t *heap(void) {
    return (mpgc_t *)(void *)MP_STATE_MEM(area).gc_alloc_table_start;
}
#define NESTED_COLLECTS (MP_STATE_MEM(gc_stack_overflow))
/* NESTED_COLLECTS while mpgc_mp_idle has the port report the roots of a
 * cycle it opens: gc_collect_start/root/end then grey instead of collect. */
#define IDLE_OPENING (-1)
#define IDLE_FREE_AFTER (MP_STATE_MEM(area).gc_alloc_table_byte_len)
#define IDLE_NEED_US (MP_STATE_MEM(area).gc_last_used_block)

#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
#define GC_MUTEX_INIT() mp_thread_recursive_mutex_init(&MP_STATE_MEM(gc_mutex))
#define GC_ENTER() mp_thread_recursive_mutex_lock(&MP_STATE_MEM(gc_mutex), 1)
#define GC_EXIT() mp_thread_recursive_mutex_unlock(&MP_STATE_MEM(gc_mutex))
#else
/* No threads, or every caller holds the GIL. */
#define GC_MUTEX_INIT()
#define GC_ENTER()
#define GC_EXIT()
#endif

/* Records the heap in MicroPython's area fields so that code outside the
 * collector that looks at the pool bounds keeps working. */
#if MICROPY_GC_SPLIT_HEAP
static void note_first_region(mpgc_t *gc, byte *start, byte *end) {
    MP_STATE_MEM(area).next = NULL;
    MP_STATE_MEM(area_pool_min) = start;
    MP_STATE_MEM(area_pool_max) = end;
    MP_STATE_MEM(gc_last_free_area) = &MP_STATE_MEM(area);
    MP_STATE_MEM(area).gc_alloc_table_start = (byte *)gc;
    MP_STATE_MEM(area).gc_pool_start = start;
    MP_STATE_MEM(area).gc_pool_end = end;
}
static void note_region(byte *start, byte *end) {
    MP_STATE_MEM(area_pool_min) = MIN(MP_STATE_MEM(area_pool_min), start);
    MP_STATE_MEM(area_pool_max) = MAX(MP_STATE_MEM(area_pool_max), end);
}
static byte *heap_lowest(void) { return MP_STATE_MEM(area_pool_min); }
#else
static void note_first_region(mpgc_t *gc, byte *start, byte *end) {
    MP_STATE_MEM(area).gc_alloc_table_start = (byte *)gc;
    MP_STATE_MEM(area).gc_pool_start = start;
    MP_STATE_MEM(area).gc_pool_end = end;
}
static byte *heap_lowest(void) { return MP_STATE_MEM(area).gc_pool_start; }
#endif

/* gc.threshold: counted in blocks, as py/gc.c counts. */
#if MICROPY_GC_ALLOC_THRESHOLD
static void threshold_init(void) {
    MP_STATE_MEM(gc_alloc_threshold) = MPGC_MP_THRESHOLD_OFF;
    MP_STATE_MEM(gc_alloc_amount) = 0;
}
static void threshold_restart(void) { MP_STATE_MEM(gc_alloc_amount) = 0; }
static bool threshold_reached(void) {
    return MP_STATE_MEM(gc_alloc_amount) >= MP_STATE_MEM(gc_alloc_threshold);
}
static void threshold_count(size_t n_blocks) { MP_STATE_MEM(gc_alloc_amount) += n_blocks; }
#else
static void threshold_init(void) {}
static void threshold_restart(void) {}
static bool threshold_reached(void) { return false; }
static void threshold_count(size_t n_blocks) { (void)n_blocks; }
#endif

#if MICROPY_PY_GC_COLLECT_RETVAL
static void set_collected(size_t n) { MP_STATE_MEM(gc_collected) = n; }
#else
static void set_collected(size_t n) { (void)n; }
#endif

/* ---- deferred frees --------------------------------------------------------- */

typedef MICROPY_GC_STACK_ENTRY_TYPE pending_t;
#define PENDING (MP_STATE_MEM(gc_block_stack))
#define NPENDING (MP_STATE_MEM(area).gc_last_free_atb_index)
#define PENDING_MAX MICROPY_ALLOC_GC_STACK_SIZE

/* A pointer as a queue entry: the pointer itself when an entry can hold
 * one; otherwise (ports with 16-bit entries) 1 + its block number counted
 * from the lowest heap address. 0: cannot be queued. */
static pending_t pending_encode(void *p) {
    if (sizeof(pending_t) >= sizeof(void *)) return (pending_t)(uintptr_t)p;
    uintptr_t base = (uintptr_t)heap_lowest() & ~(uintptr_t)(MICROPY_BYTES_PER_GC_BLOCK - 1);
    uintptr_t k = ((uintptr_t)p - base) / MICROPY_BYTES_PER_GC_BLOCK + 1;
    return (uintptr_t)p < base || k != (pending_t)k ? 0 : (pending_t)k;
}

static void *pending_decode(pending_t e) {
    if (sizeof(pending_t) >= sizeof(void *)) return (void *)(uintptr_t)e;
    uintptr_t base = (uintptr_t)heap_lowest() & ~(uintptr_t)(MICROPY_BYTES_PER_GC_BLOCK - 1);
    return (void *)(base + ((uintptr_t)e - 1) * MICROPY_BYTES_PER_GC_BLOCK);
}

/* Gives every queued free to mpgc. Mutex held. */
static MP_NOINLINE void flush_frees_now(void) {
    for (size_t i = 0; i < NPENDING; i++) mpgc_free(heap(), pending_decode(PENDING[i]));
    NPENDING = 0;
}
static inline void flush_frees(void) {
    if (NPENDING) flush_frees_now();
}

/* Mutex held. */
static void defer_free(void *ptr) {
    pending_t e = pending_encode(ptr);
    if (e == 0) {
        mpgc_free(heap(), ptr);
        return;
    }
    if (NPENDING == PENDING_MAX) {
        mpgc_free(heap(), pending_decode(PENDING[0]));
        memmove(&PENDING[0], &PENDING[1], (PENDING_MAX - 1) * sizeof(pending_t));
        NPENDING--;
    }
    PENDING[NPENDING++] = e;
}

/* ---- finalisers ------------------------------------------------------------ */

#if MICROPY_ENABLE_SCHEDULER
#define SCHED_LOCK() mp_sched_lock()
#define SCHED_UNLOCK() mp_sched_unlock()
#else
#define SCHED_LOCK()
#define SCHED_UNLOCK()
#endif

#if MICROPY_ENABLE_FINALISER
/* mpgc calls this once for each unreachable object allocated with
 * GC_ALLOC_FLAG_HAS_FINALISER, during gc_collect_end with the heap locked.
 * As py/gc.c: only an object whose type is set and has __del__, called in a
 * protected environment with the scheduler locked. */
static void run_finaliser(mpgc_t *gc, void *ptr, void *user) {
    (void)gc;
    (void)user;
    mp_obj_base_t *obj = (mp_obj_base_t *)ptr;
    if (obj->type == NULL) return;
    mp_obj_t dest[2];
    mp_load_method_maybe(MP_OBJ_FROM_PTR(obj), MP_QSTR___del__, dest);
    if (dest[0] == MP_OBJ_NULL) return;
    SCHED_LOCK();
    mp_call_function_1_protected(dest[0], dest[1]);
    SCHED_UNLOCK();
}
#define FINALISER run_finaliser
#define ALLOC_FLAGS(f) (((f) & GC_ALLOC_FLAG_HAS_FINALISER) ? MPGC_FINALISE : 0u)
#else
#define FINALISER NULL
#define ALLOC_FLAGS(f) 0u
#endif

/* ---- weak references -------------------------------------------------------- */

#if MICROPY_PY_WEAKREF
/* The object a weakref map key designates (see py/modweakref.c). */
static void *weakref_key_object(mp_obj_t key) {
    return (void *)((uintptr_t)MP_OBJ_SMALL_INT_VALUE(key) << 1);
}

/* Reports every weakly referenced object that is no longer allocated. Call
 * right after a sweep, before anything can allocate. all: every object
 * (the heap is about to be torn down). */
static void weakrefs_note_freed(bool all) {
    mp_map_t *map = &MP_STATE_VM(mp_weakref_map);
    for (size_t i = 0; i < map->alloc; i++) {
        mp_obj_t key = map->table[i].key;
        if (!mp_obj_is_small_int(key)) continue; /* empty, deleted, or noted */
        void *obj = weakref_key_object(key);
        if (all || mpgc_size(heap(), obj) == 0) gc_weakref_about_to_be_freed(obj);
    }
}

/* Nothing to record: the map entry that py/modweakref.c creates before
 * calling this is the mark (see the file comment). */
void gc_weakref_mark(void *ptr) { (void)ptr; }

static void weakrefs_sweep(void) { gc_weakref_sweep(); }
#else
static void weakrefs_note_freed(bool all) { (void)all; }
static void weakrefs_sweep(void) {}
#endif

/* ---- trace recording (MPGC_MP_TRACE=1) ------------------------------------ */

/* Every gc_alloc, gc_free, gc_realloc and collection, written as a trace
 * for `mpgc replay` (docs/fragmentation.md). Off by default, and then each
 * hook below is an empty inline function. On unix the trace goes to the
 * file named by $MPGC_TRACE (no variable: nothing is recorded, the heap is
 * as without the option); $MPGC_TRACE_COLLECT_EVERY=N makes the heap
 * collect after every N bytes allocated (as gc.threshold(N)), so that
 * deaths are found sooner (0: before every allocation, so every death is
 * found before the next allocation). Elsewhere the port supplies
 * mpgc_mp_trace_port_write(). The recorder's bitmap (one bit per block)
 * is taken from the end of the heap area. The state is global: this is a
 * measurement build. */
#ifndef MPGC_MP_TRACE
#define MPGC_MP_TRACE 0
#endif

#if MPGC_MP_TRACE
static mpgc_mp_trace_t trace;
static bool trace_automatic; /* the collection in progress was started by gc_alloc */

/* 1: the file named by $MPGC_TRACE (unix); 0: mpgc_mp_trace_port_write(). */
#ifndef MPGC_MP_TRACE_STDIO
#if defined(__unix__) || defined(__APPLE__)
#define MPGC_MP_TRACE_STDIO 1
#else
#define MPGC_MP_TRACE_STDIO 0
#endif
#endif

#if MPGC_MP_TRACE_STDIO
#include <stdio.h>
#include <stdlib.h>
static void trace_write(void *ctx, const char *s, size_t n) { fwrite(s, 1, n, (FILE *)ctx); }
/* The writer, or false: nothing to record. */
static bool trace_writer(void (**write)(void *, const char *, size_t), void **ctx) {
    const char *path = getenv("MPGC_TRACE");
    FILE *f = path && *path ? fopen(path, "w") : NULL;
    *write = trace_write;
    *ctx = f;
    return f != NULL;
}
/* -1: not set. 0: collect before every allocation (exact death times). */
static ptrdiff_t trace_collect_every(void) {
    const char *s = getenv("MPGC_TRACE_COLLECT_EVERY");
    return s && *s ? (ptrdiff_t)strtol(s, NULL, 0) : -1;
}
#else
static void trace_write(void *ctx, const char *s, size_t n) { (void)ctx; mpgc_mp_trace_port_write(s, n); }
static bool trace_writer(void (**write)(void *, const char *, size_t), void **ctx) {
    *write = trace_write;
    *ctx = NULL;
    return true;
}
static ptrdiff_t trace_collect_every(void) { return -1; }
#endif

/* Before mpgc_init: starts recording and returns the new end of the area. */
static void *trace_open(void *start, void *end) {
    void (*write)(void *, const char *, size_t);
    void *ctx;
    if (!trace_writer(&write, &ctx)) return end;
    size_t area = (size_t)((byte *)end - (byte *)start);
    size_t bytes = mpgc_mp_trace_bitmap_bytes(area, MICROPY_BYTES_PER_GC_BLOCK);
    if (bytes >= area) return end;
    end = (byte *)end - bytes;
    char extra[64] = "heap=";
    size_t n = strlen(extra), v = area, k;
    char d[24];
    for (k = sizeof d; k == sizeof d || v; v /= 10) d[--k] = (char)('0' + v % 10);
    memcpy(extra + n, d + k, sizeof d - k);
    extra[n + sizeof d - k] = '\0';
    mpgc_mp_trace_begin(&trace, write, ctx, start, (unsigned char *)end, bytes,
                        MICROPY_BYTES_PER_GC_BLOCK, extra);
    return end;
}
/* After the threshold is set up: $MPGC_TRACE_COLLECT_EVERY. */
static void trace_opened(void) {
    ptrdiff_t every = trace_collect_every();
    #if MICROPY_GC_ALLOC_THRESHOLD
    if (trace.write && every >= 0) {
        MP_STATE_MEM(gc_alloc_threshold) = mpgc_mp_threshold_blocks(every,
            MICROPY_BYTES_PER_GC_BLOCK);
        mpgc_mp_trace_comment(&trace, "the recording heap collects every MPGC_TRACE_COLLECT_EVERY bytes");
    }
    #else
    (void)every;
    #endif
}
static void trace_alloc(void *p, size_t n, unsigned flags) {
    if (p) mpgc_mp_trace_alloc(&trace, p, n, flags);
    else mpgc_mp_trace_alloc_failed(&trace, n);
}
static void trace_free(void *p) { mpgc_mp_trace_free(&trace, p); }
static void trace_realloc(void *old, void *now, size_t n) {
    if (now) mpgc_mp_trace_realloc(&trace, old, now, n);
}
static void trace_auto(bool on) { trace_automatic = on; }
static void trace_collected(void) { mpgc_mp_trace_collected(&trace, heap(), trace_automatic); }
void gc_mpgc_trace_threshold(ptrdiff_t bytes) { mpgc_mp_trace_threshold(&trace, bytes); }
void gc_mpgc_trace_enable(bool on) { mpgc_mp_trace_enable(&trace, on); }
#else
static inline void *trace_open(void *start, void *end) { (void)start; return end; }
static inline void trace_opened(void) {}
static inline void trace_alloc(void *p, size_t n, unsigned flags) { (void)p; (void)n; (void)flags; }
static inline void trace_free(void *p) { (void)p; }
static inline void trace_realloc(void *old, void *now, size_t n) { (void)old; (void)now; (void)n; }
static inline void trace_auto(bool on) { (void)on; }
static inline void trace_collected(void) {}
#endif

/* ---- heap set-up -------------------------------------------------------------- */

/* MICROPY_GC_HOOK_LOOP(i), the port's hook in py/gc.c's long loops (a
 * watchdog, an event loop), runs every MPGC_PROGRESS_WORDS words of
 * collection work, with i = 0: each call already stands for a few
 * thousand words of work, where py/gc.c passes a block or table index. */
static void hook_loop(mpgc_t *gc, void *user) {
    (void)gc;
    (void)user;
    MICROPY_GC_HOOK_LOOP(0);
}

void gc_init(void *start, void *end) {
    end = (void *)((uintptr_t)end & ~(uintptr_t)(MICROPY_BYTES_PER_GC_BLOCK - 1));
    end = trace_open(start, end);
    mpgc_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.finaliser = FINALISER;
    cfg.finalise_order = MPGC_FINALISE_MICROPYTHON; /* MicroPython's tests rely on it */
    cfg.no_stack_scan = true;                       /* the port reports stacks */
    cfg.caller_collects = true; /* gc_alloc collects and retries on NULL */
    cfg.progress = hook_loop;
    mpgc_t *gc = mpgc_init(start, (size_t)((byte *)end - (byte *)start), &cfg);
    if (gc) mpgc_disable(gc); /* collections come from gc_collect() only */
    note_first_region(gc, (byte *)start, (byte *)end);
    NESTED_COLLECTS = 0;
    NPENDING = 0;
    IDLE_FREE_AFTER = gc ? (size_t)mpgc_mem_free(gc) : 0;
    IDLE_NEED_US = 0;
    MP_STATE_THREAD(gc_lock_depth) = 0;
    MP_STATE_MEM(gc_auto_collect_enabled) = 1;
    threshold_init();
    trace_opened();
    GC_MUTEX_INIT();
}

#if MICROPY_GC_SPLIT_HEAP
void gc_add(void *start, void *end) {
    end = (void *)((uintptr_t)end & ~(uintptr_t)(MICROPY_BYTES_PER_GC_BLOCK - 1));
    GC_ENTER();
    if (mpgc_add_region(heap(), start, (size_t)((byte *)end - (byte *)start)))
        note_region((byte *)start, (byte *)end);
    GC_EXIT();
}
#endif

/* MICROPY_GC_SPLIT_HEAP_AUTO (esp32, webassembly): when an allocation fails
 * even after a collection, an area is taken from the system heap
 * (MP_PLAT_ALLOC_HEAP, sized by mpgc_mp_area_bytes with py/gc.c's policy)
 * and added as a pool; an area left empty by a collection goes back
 * (MP_PLAT_FREE_HEAP). Each area starts with an mp_state_mem_area_t linked
 * from MP_STATE_MEM(area).next, as py/gc.c links its areas, recording the
 * pool's bounds; mpgc gets the rest of the area. */
#if MICROPY_GC_SPLIT_HEAP_AUTO
#define AREA_HEADER ((sizeof(mp_state_mem_area_t) + MICROPY_BYTES_PER_GC_BLOCK - 1) & \
                     ~(size_t)(MICROPY_BYTES_PER_GC_BLOCK - 1))

/* Mutex held. The queue of deferred frees is emptied first: its entries
 * may be encoded relative to area_pool_min, which a new area can lower. */
static bool try_add_area(size_t failed_alloc) {
    flush_frees();
    mpgc_info_t i;
    mpgc_info(heap(), &i);
    size_t bytes = mpgc_mp_area_bytes(failed_alloc, i.total + i.meta_bytes,
                                      gc_get_max_new_split(), AREA_HEADER);
    mp_state_mem_area_t *area = bytes ? MP_PLAT_ALLOC_HEAP(bytes) : NULL;
    if (area == NULL) return false; /* too little left, or taken meanwhile */
    memset(area, 0, sizeof *area);
    area->gc_pool_start = (byte *)area + AREA_HEADER;
    area->gc_pool_end = (byte *)area + bytes;
    if (!mpgc_add_region(heap(), area->gc_pool_start, bytes - AREA_HEADER)) {
        MP_PLAT_FREE_HEAP(area);
        return false;
    }
    note_region(area->gc_pool_start, area->gc_pool_end);
    area->next = MP_STATE_MEM(area).next;
    MP_STATE_MEM(area).next = area;
    return true;
}

/* Mutex held. Gives back every added area that holds no allocation. */
static void free_empty_areas(void) {
    for (mp_state_mem_area_t **at = &MP_STATE_MEM(area).next; *at != NULL;) {
        mp_state_mem_area_t *area = *at;
        if (mpgc_remove_region(heap(), area->gc_pool_start)) {
            *at = area->next;
            MP_PLAT_FREE_HEAP(area);
        } else {
            at = &area->next;
        }
    }
}

/* gc_info_t has max_new_split only in this configuration. */
static void set_max_new_split(gc_info_t *info) { info->max_new_split = gc_get_max_new_split(); }
static size_t get_max_new_split(const gc_info_t *info) { return info->max_new_split; }
#else
static bool try_add_area(size_t failed_alloc) { (void)failed_alloc; return false; }
static void free_empty_areas(void) {}
static void set_max_new_split(gc_info_t *info) { (void)info; }
static size_t get_max_new_split(const gc_info_t *info) { (void)info; return 0; }
#endif

/* ---- locking: per thread, as py/gc.c ------------------------------------------- */

void gc_lock(void) {
    MP_STATE_THREAD(gc_lock_depth) += (1 << GC_LOCK_DEPTH_SHIFT);
}

void gc_unlock(void) {
    MP_STATE_THREAD(gc_lock_depth) -= (1 << GC_LOCK_DEPTH_SHIFT);
}

bool gc_is_locked(void) {
    return MP_STATE_THREAD(gc_lock_depth) != 0;
}

/* ---- collection ------------------------------------------------------------------ */

#if MICROPY_ENABLE_PYSTACK
static void mark_pystack(void) {
    mpgc_mark_range(heap(), MP_STATE_THREAD(pystack_start),
        (size_t)(MP_STATE_THREAD(pystack_cur) - MP_STATE_THREAD(pystack_start)));
}
#else
static void mark_pystack(void) {}
#endif

/* The root pointers of mp_state_ctx, as py/gc.c takes them: from
 * thread.dict_locals to vm.qstr_last_chunk; and the pystack. */
static void mark_state_roots(void) {
    size_t root_start = offsetof(mp_state_ctx_t, thread.dict_locals);
    size_t root_end = offsetof(mp_state_ctx_t, vm.qstr_last_chunk);
    mpgc_mark_range(heap(), (byte *)&mp_state_ctx + root_start, root_end - root_start);
    mark_pystack();
}

void gc_collect_start(void) {
    GC_ENTER();
    if (NESTED_COLLECTS == IDLE_OPENING) {
        /* mpgc_mp_idle's root report: open the cycle (its first step greys
         * mpgc's own roots, none here) and grey these; the port's
         * gc_collect_root calls grey the rest. */
        mpgc_idle_step(heap(), 0);
        mark_state_roots();
        return;
    }
    if (MP_STATE_THREAD(gc_lock_depth) & GC_COLLECT_FLAG) {
        /* Called from a finaliser of the collection in progress (py/gc.c
         * would re-enter its sweep): nothing to do. */
        NESTED_COLLECTS++;
        return;
    }
    MP_STATE_THREAD(gc_lock_depth) |= GC_COLLECT_FLAG;
    threshold_restart();
    flush_frees();
    mpgc_collect_start(heap()); /* abandons an open idle cycle, if any */
    mark_state_roots();
}

void gc_collect_root(void **ptrs, size_t len) {
    if (NESTED_COLLECTS > 0) return;
    mpgc_mark_range(heap(), ptrs, len * sizeof(void *));
}

/* After a collection's sweep, the mutex held: what gc_collect_end does
 * for every collection, idle ones included. Releases the mutex. */
static void after_collection(void) {
    trace_collected();          /* before anything can reuse an address */
    weakrefs_note_freed(false); /* before GC_EXIT: no address is reused yet */
    flush_frees();              /* what the finalisers freed */
    free_empty_areas();
    IDLE_FREE_AFTER = (size_t)mpgc_mem_free(heap());
    GC_EXIT();
    weakrefs_sweep();
}

void gc_collect_end(void) {
    if (NESTED_COLLECTS == IDLE_OPENING) { /* the cycle stays open */
        GC_EXIT();
        return;
    }
    if (NESTED_COLLECTS > 0) {
        NESTED_COLLECTS--;
        GC_EXIT();
        return;
    }
    set_collected(mpgc_collect_end(heap()));
    MP_STATE_THREAD(gc_lock_depth) &= ~GC_COLLECT_FLAG;
    after_collection();
}

void gc_sweep_all(void) {
    /* Every weakly referenced object dies: run their callbacks while the heap
     * is still intact (py/gc.c runs them after its sweep, from freed memory). */
    weakrefs_note_freed(true);
    weakrefs_sweep();
    GC_ENTER();
    flush_frees();
    MP_STATE_THREAD(gc_lock_depth) |= GC_COLLECT_FLAG;
    set_collected(mpgc_sweep_all(heap()));
    MP_STATE_THREAD(gc_lock_depth) &= ~GC_COLLECT_FLAG;
    flush_frees();
    free_empty_areas();
    GC_EXIT();
}

/* ---- allocation ------------------------------------------------------------------ */

/* One attempt: a new allocation (ptr == NULL) or a moving realloc of ptr. */
static void *attempt(void *ptr, size_t n_bytes, unsigned flags) {
    return ptr ? mpgc_realloc(heap(), ptr, n_bytes, true) : mpgc_alloc(heap(), n_bytes, flags);
}

/* With the GC mutex held: an allocation (or a moving realloc of ptr) that
 * collects first when the threshold says so, and once more when the heap
 * cannot satisfy it, only while automatic collection is on, as py/gc.c
 * does; then, with MICROPY_GC_SPLIT_HEAP_AUTO, grows the heap once. A moved
 * ptr stays alive across the collection: it is on this stack. */
/* With the GC mutex held: a collection that gc_alloc needs. Its length
 * is what mpgc_mp_idle expects a collection to take. */
static void collect_for_alloc(void) {
    GC_EXIT();
    trace_auto(true);
    uint32_t t0 = (uint32_t)mp_hal_ticks_us();
    gc_collect();
    IDLE_NEED_US = mpgc_mp_idle_need((uint32_t)IDLE_NEED_US, (uint32_t)mp_hal_ticks_us() - t0, true);
    trace_auto(false);
    GC_ENTER();
}

static void *alloc_collecting(void *ptr, size_t n_bytes, unsigned flags) {
    bool collected = !MP_STATE_MEM(gc_auto_collect_enabled);
    if (!collected && threshold_reached()) {
        collect_for_alloc();
        collected = true;
    }
    void *p = attempt(ptr, n_bytes, flags);
    if (p == NULL) { /* full, fragmented, or mpgc asks for a collection first */
        if (!collected) collect_for_alloc();
        /* Also without collecting: mpgc's placement may decline once
         * between collections to have the heap collected early
         * (cfg.caller_collects); the retry then succeeds if a run fits. */
        p = attempt(ptr, n_bytes, flags);
    }
    if (p == NULL && try_add_area(n_bytes)) p = attempt(ptr, n_bytes, flags);
    if (p) threshold_count(mpgc_mp_blocks(n_bytes, MICROPY_BYTES_PER_GC_BLOCK));
    return p;
}

void *gc_alloc(size_t n_bytes, unsigned int alloc_flags) {
    size_t n_blocks = mpgc_mp_blocks(n_bytes, MICROPY_BYTES_PER_GC_BLOCK);
    if (n_blocks == 0 || MP_STATE_THREAD(gc_lock_depth) > 0) return NULL;
    unsigned flags = ALLOC_FLAGS(alloc_flags);

    GC_ENTER();
    flush_frees();
    void *p = alloc_collecting(NULL, n_bytes, flags);
    trace_alloc(p, n_bytes, flags);
    GC_EXIT();
    return p;
}

void gc_free(void *ptr) {
    /* As py/gc.c: refused while locked, except by a finaliser during a
     * collection. */
    if ((MP_STATE_THREAD(gc_lock_depth) & ~GC_COLLECT_FLAG) || ptr == NULL) return;
    GC_ENTER();
    trace_free(ptr);
    defer_free(ptr);
    GC_EXIT();
}

size_t gc_nbytes(const void *ptr) {
    GC_ENTER();
    size_t n = mpgc_size(heap(), ptr);
    GC_EXIT();
    return n;
}

void *gc_realloc(void *ptr, size_t n_bytes, bool allow_move) {
    if (ptr == NULL) return gc_alloc(n_bytes, 0);
    if (n_bytes == 0) {
        gc_free(ptr);
        return NULL;
    }
    if (MP_STATE_THREAD(gc_lock_depth) > 0) return NULL;
    GC_ENTER();
    flush_frees();
    void *q = mpgc_realloc(heap(), ptr, n_bytes, false); /* in place */
    if (q == NULL && allow_move) q = alloc_collecting(ptr, n_bytes, 0);
    trace_realloc(ptr, q, n_bytes);
    GC_EXIT();
    return q;
}

/* ---- statistics ---------------------------------------------------------------- */

static void fill_info(gc_info_t *info, bool fast) {
    mpgc_mp_info_t i;
    GC_ENTER();
    flush_frees();
    mpgc_mp_info(heap(), fast, &i);
    GC_EXIT();
    memset(info, 0, sizeof *info);
    info->total = i.total;
    info->used = i.used;
    info->free = i.free;
    info->max_free = i.max_free;
    info->num_1block = i.num_1block;
    info->num_2block = i.num_2block;
    info->max_block = i.max_block;
    set_max_new_split(info);
}

void gc_info(gc_info_t *info) { fill_info(info, false); }
void gc_info_fast(gc_info_t *info) { fill_info(info, true); }

void gc_dump_info(const mp_print_t *print) {
    gc_info_t info;
    gc_info(&info);
    mpgc_mp_info_t i = {.total = info.total, .used = info.used, .free = info.free,
                        .max_free = info.max_free, .num_1block = info.num_1block,
                        .num_2block = info.num_2block, .max_block = info.max_block,
                        .split_auto = MICROPY_GC_SPLIT_HEAP_AUTO,
                        .max_new_split = get_max_new_split(&info)};
    char text[200];
    size_t n = mpgc_mp_info_text(text, sizeof text, &i);
    print->print_strn(print->data, text, n < sizeof text ? n : sizeof text - 1);
}

static void print_piece(void *ctx, const char *s, size_t n) {
    const mp_print_t *print = (const mp_print_t *)ctx;
    print->print_strn(print->data, s, n);
}

/* The letter py/gc.c prints for an allocation: its object type. */
static const struct {
    const void *type;
    char letter;
} head_letters[] = {
    {&mp_type_tuple, 'T'},
    {&mp_type_list, 'L'},
    {&mp_type_dict, 'D'},
    {&mp_type_str, 'S'},
    {&mp_type_bytes, 'S'},
    #if MICROPY_PY_BUILTINS_BYTEARRAY
    {&mp_type_bytearray, 'A'},
    #endif
    #if MICROPY_PY_ARRAY
    {&mp_type_array, 'A'},
    #endif
    #if MICROPY_PY_BUILTINS_FLOAT
    {&mp_type_float, 'F'},
    #endif
    {&mp_type_fun_bc, 'B'},
    {&mp_type_module, 'M'},
};

static char head_letter(void *ctx, const void *head) {
    (void)ctx;
    const void *type = *(const void *const *)head;
    for (size_t i = 0; i < MP_ARRAY_SIZE(head_letters); i++)
        if (head_letters[i].type == type) return head_letters[i].letter;
    return 'h';
}

void gc_dump_alloc_table(const mp_print_t *print) {
    mpgc_mp_dump_t d;
    mpgc_mp_dump_begin(&d, print_piece, (void *)print, head_letter, MICROPY_BYTES_PER_GC_BLOCK);
    GC_ENTER();
    flush_frees();
    mpgc_dump_alloc_table(heap(), mpgc_mp_dump_write, &d);
    mpgc_mp_dump_finish(&d);
    GC_EXIT();
}

/* The deferred frees go first: the snapshot shows them as free, as
 * gc.mem_free() counts them. */
bool gc_mpgc_snapshot(mpgc_write_fn write, void *ctx) {
    GC_ENTER();
    flush_frees();
    bool ok = mpgc_snapshot(heap(), write, ctx);
    GC_EXIT();
    return ok;
}

/* ---- idle-time collection ------------------------------------------------------ */

/* Between the slices of a cycle nothing may store into the heap
 * (docs/design.md section 8). The caller's own thread runs no Python code
 * until mpgc_mp_idle returns; other threads must not either. */
#if MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL && defined(MICROPY_MPGC_IDLE_ALONE)
static bool idle_alone(void) { return MICROPY_MPGC_IDLE_ALONE(); }
#elif MICROPY_PY_THREAD && !MICROPY_PY_THREAD_GIL
/* Threads without a GIL, and the port cannot tell whether others exist. */
static bool idle_alone(void) { return false; }
#else
/* No threads, or the caller holds the GIL: no other thread runs Python. */
static bool idle_alone(void) { return true; }
#endif

static uint32_t now_us(void) { return (uint32_t)mp_hal_ticks_us(); }

/* Counts for mpgc.idle_stats() (bench/programs/idle_asyncio.py): kept
 * outside mp_state_mem_t, which has no field left for them; they count
 * events and steer nothing. */
static size_t idle_done, idle_abandoned;
static uint32_t idle_longest_slice, idle_longest_final, idle_least_left = UINT32_MAX;

void gc_mpgc_idle_stats(size_t out[6]) {
    mpgc_info_t i;
    GC_ENTER();
    mpgc_info(heap(), &i);
    out[0] = idle_done;
    out[1] = idle_abandoned;
    out[2] = i.collections;
    out[3] = idle_longest_slice;
    out[4] = idle_longest_final;
    out[5] = idle_least_left;
    GC_EXIT();
}

/* Mutex held. Has the port's gc_collect() report the roots while
 * NESTED_COLLECTS says so: gc_collect_start opens the cycle, every root
 * is greyed, nothing is traced. False if no cycle could be opened. */
static bool idle_open(void) {
    NESTED_COLLECTS = IDLE_OPENING;
    gc_collect();
    NESTED_COLLECTS = 0;
    return mpgc_in_cycle(heap());
}

/* Mutex held. One slice: about MPGC_MP_IDLE_SLICE_WORDS words of
 * marking, or the final step (the rest of the trace, the finalisers, the
 * sweep of the tables), as inside gc_collect_start/end: finalisers may
 * free, and nothing may allocate. True when the cycle ended. */
static bool idle_slice(void) {
    MP_STATE_THREAD(gc_lock_depth) |= GC_COLLECT_FLAG;
    bool done = mpgc_idle_step(heap(), MPGC_MP_IDLE_SLICE_WORDS);
    MP_STATE_THREAD(gc_lock_depth) &= ~GC_COLLECT_FLAG;
    return done;
}

bool mpgc_mp_idle(uint32_t budget_us) {
    uint32_t t0 = now_us();
    if (!idle_alone() || MP_STATE_THREAD(gc_lock_depth) != 0 ||
        !MP_STATE_MEM(gc_auto_collect_enabled) || heap() == NULL)
        return false;
    GC_ENTER();
    flush_frees(); /* before the cycle: a free would abandon it */
    if (!mpgc_mp_idle_worth((size_t)mpgc_mem_free(heap()), IDLE_FREE_AFTER, budget_us,
                            (uint32_t)IDLE_NEED_US) || !idle_open()) {
        GC_EXIT();
        return false;
    }
    /* Stop before a slice that could end after the budget: the longest
     * slice so far, twice (the final step is about as long). */
    uint32_t longest = 0, spent, t;
    for (;;) {
        t = now_us();
        if (idle_slice()) break;
        uint32_t end = now_us();
        spent = end - t0;
        if (end - t > longest) longest = end - t;
        if (longest > idle_longest_slice) idle_longest_slice = longest;
        if (!mpgc_in_cycle(heap()) ||
            (budget_us != UINT32_MAX && (uint64_t)spent + 2u * longest > budget_us)) {
            mpgc_collect_abort(heap()); /* nothing freed; marks cleared */
            IDLE_NEED_US = mpgc_mp_idle_need((uint32_t)IDLE_NEED_US, spent, false);
            idle_abandoned++;
            GC_EXIT();
            return false;
        }
    }
    uint32_t end = now_us();
    IDLE_NEED_US = mpgc_mp_idle_need((uint32_t)IDLE_NEED_US, end - t0, true);
    idle_done++;
    if (end - t > idle_longest_final) idle_longest_final = end - t;
    /* 0 when it ended after the budget */
    uint32_t left = budget_us > end - t0 ? budget_us - (end - t0) : 0;
    if (left < idle_least_left) idle_least_left = left;
    threshold_restart();
    trace_auto(true);
    after_collection(); /* releases the mutex */
    trace_auto(false);
    return true;
}

#endif /* MICROPY_ENABLE_GC */
