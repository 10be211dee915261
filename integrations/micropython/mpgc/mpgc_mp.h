/*
 * mpgc_mp.h - the parts of the MicroPython adapter that need no MicroPython
 * header: unit conversions, the K230 tuple order, and the text that
 * micropython.mem_info() prints. gc_mpgc.c and modgc_mpgc.c call them;
 * tests/test_mp_adapter.c tests them without a MicroPython tree.
 */
#ifndef MPGC_MP_H
#define MPGC_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpgc.h"

/* ---- gc.threshold([amount]) ------------------------------------------- */

/* MicroPython keeps the threshold in MP_STATE_MEM(gc_alloc_threshold) as a
 * number of blocks, (size_t)-1 meaning "disabled". Setting rounds down to
 * whole blocks; any negative amount disables. */
#define MPGC_MP_THRESHOLD_OFF ((size_t)-1)
size_t mpgc_mp_threshold_blocks(ptrdiff_t amount, size_t block_bytes);
/* What gc.threshold() returns: -1 when disabled, else blocks * block_bytes
 * (so a value set with gc.threshold(n) reads back as n rounded down). */
ptrdiff_t mpgc_mp_threshold_bytes(size_t blocks, size_t block_bytes);

/* Whole blocks for n bytes, as py/gc.c rounds: 0 for n == 0 and for sizes
 * that wrap when rounded up (gc_alloc then returns NULL). */
static inline size_t mpgc_mp_blocks(size_t n, size_t block_bytes) {
    return ((n + block_bytes - 1) & ~(block_bytes - 1)) / block_bytes;
}

/* ---- gc.sys_heap() / sys_page() / sys_mmz() --------------------------- */

/* Fills out[] in the order the K230 documentation gives (the seed):
 * total, free, used. query is one of mpgc_sys_heap/page/mmz. When the query
 * fails, out[] is all zeros and the result is !raise_on_failure: CanMV
 * returns zeros for sys_heap and sys_page and raises OSError for sys_mmz. */
bool mpgc_mp_sys_tuple(bool (*query)(mpgc_sysmem_t *), bool raise_on_failure,
                       uint64_t out[3]);

/* ---- gc_info() and micropython.mem_info() ----------------------------- */

/* The fields of MicroPython's gc_info_t, in its units: bytes for total,
 * used and free; blocks for max_free and max_block. */
typedef struct mpgc_mp_info {
    size_t total, used, free;
    size_t max_free;  /* largest free run, blocks */
    size_t num_1block, num_2block;
    size_t max_block; /* largest allocation, blocks */
    bool split_auto;  /* MICROPY_GC_SPLIT_HEAP_AUTO: print max_new_split */
    size_t max_new_split; /* bytes the system could still add */
} mpgc_mp_info_t;

/* Full statistics (gc_info) or only total/used/free, the rest 0
 * (gc_info_fast). Both O(1) except max_block after a free of the largest
 * allocation (one walk of the tables). gc may be NULL: all zeros. */
void mpgc_mp_info(const mpgc_t *gc, bool fast, mpgc_mp_info_t *out);

/* The two lines of gc_dump_info(), exactly as py/gc.c prints them:
 *   "GC: total: T, used: U, free: F\n No. of 1-blocks: A, 2-blocks: B, max blk sz: M, max free sz: X\n"
 * (with split_auto, ", max new split: S" ends the first line).
 * MicroPython's tests match them with regexes. Writes at most cap bytes
 * including the terminating NUL; returns the length it needed. */
size_t mpgc_mp_info_text(char *buf, size_t cap, const mpgc_mp_info_t *info);

/* ---- MICROPY_GC_SPLIT_HEAP_AUTO ---------------------------------------- */

/* Bytes to take from the system heap for a new area after an allocation of
 * failed_alloc bytes failed even after a collection, with py/gc.c's policy:
 * the new area is as large as the heap so far (heap_bytes: so the heap at
 * least doubles each time) or as large as the failed allocation needs,
 * whichever is larger, but no larger than avail (what the system can give,
 * gc_get_max_new_split()). header: bytes the adapter keeps at the area's
 * start. 0 when even the failed allocation would not fit in avail. */
size_t mpgc_mp_area_bytes(size_t failed_alloc, size_t heap_bytes, size_t avail, size_t header);

/* ---- gc_dump_alloc_table() --------------------------------------------- */

/* Turns mpgc_dump_alloc_table()'s output into MicroPython's: the header
 * "GC memory layout; from <hex>:" without "0x" or leading zeros (py/gc.c
 * prints it with %p, and tests match [0-9a-f]+), and each allocated head
 * shown by the letter classify() returns for it (MicroPython prints the
 * object's type: T tuple, L list, D dict, S str/bytes, ...). Lines are
 * rewritten as they complete; call mpgc_mp_dump_finish() at the end. */
typedef struct mpgc_mp_dump {
    void (*write)(void *ctx, const char *s, size_t n);
    void *ctx;
    char (*classify)(void *ctx, const void *head);
    size_t block_bytes;
    uintptr_t base; /* block 0 of the pool being printed */
    size_t len;
    char line[96];  /* one engine line: at most 64 blocks and a header */
} mpgc_mp_dump_t;

void mpgc_mp_dump_begin(mpgc_mp_dump_t *d, void (*write)(void *, const char *, size_t),
                        void *ctx, char (*classify)(void *, const void *),
                        size_t block_bytes);
/* The write callback to give mpgc_dump_alloc_table (self is the dump_t). */
void mpgc_mp_dump_write(void *self, const char *s, size_t n);
void mpgc_mp_dump_finish(mpgc_mp_dump_t *d);

/* gc_mpgc.c: mpgc_snapshot of MicroPython's heap, under its GC mutex
 * (for modmpgc.c's mpgc.snapshot). */
bool gc_mpgc_snapshot(mpgc_write_fn write, void *ctx);

/* ---- idle-time collection ----------------------------------------------- */

/* For the port (docs/micropython.md, "Idle-time collection"): call it where
 * the runtime is about to wait (a sleep, the poll that asyncio waits in),
 * with the time the wait may take, in microseconds (UINT32_MAX: no limit).
 * When a collection is worth it (mpgc_mp_idle_worth), it reports the roots
 * through the port's gc_collect(), runs the collection in slices of
 * MPGC_MP_IDLE_SLICE_WORDS words until it ends or the budget is used, and
 * abandons an unfinished cycle before it returns: no cycle is ever open
 * when the runtime resumes. Returns true when it completed a collection.
 * Call it only where no Python code can run until it returns: from the
 * thread that holds the GIL; without a GIL, only while the caller is the
 * only MicroPython thread, which the port tells with
 * MICROPY_MPGC_IDLE_ALONE() (without that macro, it does nothing in such
 * a build). It does nothing while the heap is locked, inside a collection
 * (a finaliser that sleeps) or while gc.disable() is in force.
 * Implemented in gc_mpgc.c. */
bool mpgc_mp_idle(uint32_t budget_us);
/* For mpgc.idle_stats(): idle collections completed, idle cycles
 * abandoned, all collections (mpgc_info's count), the longest slice and
 * the longest final slice (the one that ended a cycle: the final step) in
 * microseconds, and the least time left of a budget when an idle
 * collection ended (0: one ended after its budget; UINT32_MAX: none yet). */
void gc_mpgc_idle_stats(size_t out[6]);

/* Words of collection work between two looks at the clock: a slice. */
#ifndef MPGC_MP_IDLE_SLICE_WORDS
#define MPGC_MP_IDLE_SLICE_WORDS 8192u
#endif
/* A collection is worth starting in idle time once this share (percent) of
 * the memory that was free after the last collection is used again: the
 * heap is collected about twice as often as out-of-memory collections
 * would (at 50), while enough is left for the idle time to come before
 * the heap is full. */
#ifndef MPGC_MP_IDLE_PERCENT
#define MPGC_MP_IDLE_PERCENT 50u
#endif
/* No cycle is opened with less time than this: the root report and the
 * first slices would be thrown away. */
#ifndef MPGC_MP_IDLE_MIN_US
#define MPGC_MP_IDLE_MIN_US 1000u
#endif

/* The policy of mpgc_mp_idle, without MicroPython. free_now: bytes free
 * now; free_after: bytes free after the last collection; need_us: what a
 * collection is expected to take (0: not known yet). Worth it when at
 * least MPGC_MP_IDLE_PERCENT of free_after has been used since, and the
 * budget holds need_us with a quarter to spare (and MPGC_MP_IDLE_MIN_US). */
bool mpgc_mp_idle_worth(size_t free_now, size_t free_after, uint32_t budget_us,
                        uint32_t need_us);
/* The expectation after a collection that took took_us. ended, a
 * collection done (idle, or stop-the-world for an allocation): the
 * smaller of the old expectation and took_us (took_us if none yet);
 * !ended, an idle cycle abandoned after took_us: at least took_us, so the
 * next try waits for an idle time of 1.25x that, and each abandon raises
 * it. Biased low on purpose: a low guess costs an abandoned cycle (idle
 * time, and clearing the marks), a high one skips the idle times that
 * would have done, and a run the OS slowed down (tens of ms on a loaded
 * machine) must not shut them out. */
uint32_t mpgc_mp_idle_need(uint32_t need_us, uint32_t took_us, bool ended);

#endif /* MPGC_MP_H */
