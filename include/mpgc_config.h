/*
 * mpgc_config.h - every build-time option of mpgc, in one place.
 *
 * Precedence: a -D on the compiler command line beats a file named by
 * MPGC_CONFIG_FILE (included first, below), which beats the defaults here.
 * Options that change the heap's layout (block size, size classes) must be
 * the same for the library and for every program that links it; the public
 * API itself never changes shape with configuration.
 *
 * Part 1 lists what users may tune, each with its default and its cost.
 * Part 2 derives private constants from them: do not set those.
 */
#ifndef MPGC_CONFIG_H
#define MPGC_CONFIG_H

#ifdef MPGC_CONFIG_FILE
#include MPGC_CONFIG_FILE
#endif

/* ---- Part 1: tunables ------------------------------------------------ */

/* Machine words per block. Every allocation is a whole number of blocks.
 * Default 4, as MicroPython: 16 B on 32-bit, 32 B on 64-bit. Must be a
 * power of two and at least 4: a free run keeps three words of links and a
 * one-word size tag in its first and last block. */
#ifndef MPGC_BLOCK_WORDS
#define MPGC_BLOCK_WORDS 4
#endif

/* 1: a word pointing anywhere inside an allocation keeps it alive.
 * 0 (default, as MicroPython): only a pointer to the first byte does.
 * Cost of 1: one backward bitmap search per candidate word while marking,
 * and more false retention. */
#ifndef MPGC_INTERIOR_POINTERS
#define MPGC_INTERIOR_POINTERS 0
#endif

/* 1 (default): MPGC_FINALISE is honoured and the finaliser callback runs.
 * 0: the flag is ignored and the sweep's finaliser pass is compiled out. */
#ifndef MPGC_ENABLE_FINALISERS
#define MPGC_ENABLE_FINALISERS 1
#endif

/* 1 (default): mpgc_config_t.finalise_order may select MPGC_FINALISE_SAFE
 * (the default order: referrers first, every object intact while
 * finalisers run, docs/design.md section 4a). 0: that order is compiled
 * out (src/finalise.c's batches and mark.c's pending trace, about 1.9 KB
 * of Cortex-M text) and the field is ignored: MicroPython's order is used,
 * as MicroPython's adapter selects anyway (its fragment sets 0). */
#ifndef MPGC_ENABLE_SAFE_ORDER
#define MPGC_ENABLE_SAFE_ORDER 1
#endif

/* Unreachable finalisable objects ordered and finalised per collection in
 * the safe order (docs/design.md section 4): referrers before referents,
 * all of a batch in one collection. Costs two words of C stack per entry
 * during finalisation, and one trace of the batch's garbage per entry.
 * 1..32; default 32. */
#ifndef MPGC_FINALISE_BATCH
#define MPGC_FINALISE_BATCH 32
#endif

/* 1 (default): mpgc_set_threshold works. 0: the threshold is always -1 and
 * allocation never counts bytes. */
#ifndef MPGC_ENABLE_THRESHOLD
#define MPGC_ENABLE_THRESHOLD 1
#endif

/* 1 (default): mpgc_add_region can add pools beyond the first one.
 * 0: one pool only; pointer lookup is a single range test. */
#ifndef MPGC_ENABLE_SPLIT_HEAP
#define MPGC_ENABLE_SPLIT_HEAP 1
#endif

/* 1 (default): the config's lock/unlock hooks are called around every
 * operation that reads or writes heap state (threads without a GIL).
 * 0: the hooks are never called and cost nothing. */
#ifndef MPGC_ENABLE_LOCK_HOOKS
#define MPGC_ENABLE_LOCK_HOOKS 1
#endif

/* 1 (default): mpgc_info reports num_1block/num_2block/max_block and the
 * heap dump is compiled in. 0: those fields are 0, the dump prints nothing. */
#ifndef MPGC_ENABLE_STATS
#define MPGC_ENABLE_STATS 1
#endif

/* 1 (default): mpgc_snapshot writes the heap's tables for `mpgc report`
 * (docs/report.md). 0: it returns false and writes nothing. */
#ifndef MPGC_ENABLE_SNAPSHOT
#define MPGC_ENABLE_SNAPSHOT 1
#endif

/* 1 (default): mpgc_config_t.policy may select MPGC_POLICY_FIRST_FIT,
 * MicroPython's placement (for side-by-side comparisons, bench/).
 * 0: that placement is compiled out and the policy field is ignored
 * (MPGC_POLICY_FIT is used). */
#ifndef MPGC_ENABLE_FIRST_FIT
#define MPGC_ENABLE_FIRST_FIT 1
#endif

/* 1 (default): the config's progress callback is called during long
 * collections, every MPGC_PROGRESS_WORDS words of collection work (words
 * scanned while marking, table words swept). 0: it is never called. */
#ifndef MPGC_ENABLE_PROGRESS
#define MPGC_ENABLE_PROGRESS 1
#endif
#ifndef MPGC_PROGRESS_WORDS
#define MPGC_PROGRESS_WORDS 4096
#endif

/* 1 (default): collection in steps, incremental (mpgc_collect_step with
 * mpgc_write_barrier) and idle-time (mpgc_idle_step); docs/design.md
 * section 8. 0: those calls return false and do nothing, and the checks
 * for an open cycle on the allocation path compile out. */
#ifndef MPGC_ENABLE_STEPS
#define MPGC_ENABLE_STEPS 1
#endif
/* Entries of the mark stack kept in the control block (one pointer each).
 * When they are full, their older half moves into free memory
 * (src/markstack.c, at least half of them per free run used); only when
 * free memory cannot hold the grey set does marking fall back to
 * rescanning the range of blocks that overflowed (src/mark.c). Default 64,
 * as MicroPython. */
#ifndef MPGC_MARK_STACK_SIZE
#define MPGC_MARK_STACK_SIZE 64
#endif

/* 1 (default): when the in-block mark stack is full, its older half moves
 * into free runs (src/markstack.c), which keeps marking linear in the live
 * data. 0: that code (about 500 B of Cortex-M text) is compiled out and a
 * full stack falls back at once to rescanning the range of blocks that
 * overflowed, as MicroPython's py/gc.c does: correct, but marking a long
 * list or a deep structure can then take time quadratic in its length. */
#ifndef MPGC_ENABLE_SPILL
#define MPGC_ENABLE_SPILL 1
#endif

/* Slots for mpgc_add_root ranges, in the control block (two words each). */
#ifndef MPGC_MAX_ROOTS
#define MPGC_MAX_ROOTS 8
#endif

/* Size classes of the free-run index: runs of 1..7 blocks have one exact
 * class each; above that every power of two is cut into 2^MPGC_CLASS_SPLIT_LOG2
 * classes, up to runs of 2^MPGC_CLASS_MAX_LOG2 blocks; longer runs share the
 * last class. Cost: one pointer per class in the control block, for the
 * classes the first region's pool can use (mpgc_init carves them after
 * struct mpgc; the runs of larger pools added later share its last class). */
#ifndef MPGC_CLASS_SPLIT_LOG2
#define MPGC_CLASS_SPLIT_LOG2 2
#endif
#ifndef MPGC_CLASS_MAX_LOG2
#define MPGC_CLASS_MAX_LOG2 24
#endif

/* Allocations of at least this many blocks are carved from the high end of
 * the free run they are taken from, small ones from the low end: long-lived
 * buffers then settle away from the churn of small objects. 0 disables. */
#ifndef MPGC_LARGE_BLOCKS
#define MPGC_LARGE_BLOCKS 32
#endif

/* The reserve of MPGC_POLICY_FIT: a small request does not cut a run of
 * the longest class when fewer than this many times the recent large
 * request (a decaying maximum) would be left. It has the heap collected
 * first (when collection is enabled or the config's caller_collects is
 * set, at least that large request's size was allocated since the last
 * collection, and at most once per collection), else takes the run's low
 * end without bumping through it. Keeps long-lived small objects from
 * splitting the space large buffers need, at the cost of earlier
 * collections in a nearly full heap (docs/design.md section 2, rule 4;
 * seed 004's loop: 68 KiB instead of 107 KiB). 0 disables. */
#ifndef MPGC_RESERVE_LARGE
#define MPGC_RESERVE_LARGE 8
#endif

/* 1: tell valgrind memcheck that the C stack words read by the conservative
 * scan are defined (needs <valgrind/memcheck.h>). Host builds only. */
#ifndef MPGC_VALGRIND
#define MPGC_VALGRIND 0
#endif

/* Internal assertions: 0 none (default), 1 cheap preconditions. The full
 * invariant check is always available as mpgc_check(). */
#ifndef MPGC_DEBUG
#define MPGC_DEBUG 0
#endif

/* ---- Part 2: derived, private: do not modify ------------------------- */

#define MPGC_WORD_BYTES ((unsigned)sizeof(void *))
#define MPGC_BLOCK_BYTES (MPGC_BLOCK_WORDS * MPGC_WORD_BYTES)
/* Blocks described by one group of bitmap words (one bit each). */
#define MPGC_GROUP_BLOCKS (MPGC_WORD_BYTES * 8u)
#define MPGC_CLASS_EXACT 8u /* runs 1..7 have exact classes */
#define MPGC_CLASS_SPLIT (1u << MPGC_CLASS_SPLIT_LOG2)
/* 7 exact classes, SPLIT classes per power of two from 8 to 2^MAX_LOG2 - 1,
 * and one last class for longer runs. */
#define MPGC_NUM_CLASSES                                                       \
    (MPGC_CLASS_EXACT + (MPGC_CLASS_MAX_LOG2 - 3u) * MPGC_CLASS_SPLIT)

#if MPGC_BLOCK_WORDS < 4 || (MPGC_BLOCK_WORDS & (MPGC_BLOCK_WORDS - 1)) != 0
#error "MPGC_BLOCK_WORDS must be a power of two and at least 4"
#endif
#if MPGC_CLASS_SPLIT_LOG2 < 0 || MPGC_CLASS_SPLIT_LOG2 > 3
#error "MPGC_CLASS_SPLIT_LOG2 must be 0..3 (classes start at 8 blocks)"
#endif
#if MPGC_CLASS_MAX_LOG2 < 4 || MPGC_CLASS_MAX_LOG2 > 31
#error "MPGC_CLASS_MAX_LOG2 must be 4..31"
#endif
#if MPGC_MARK_STACK_SIZE < 4
#error "MPGC_MARK_STACK_SIZE must be at least 4"
#endif
#if MPGC_FINALISE_BATCH < 1 || MPGC_FINALISE_BATCH > 32
#error "MPGC_FINALISE_BATCH must be 1..32"
#endif
#if MPGC_MAX_ROOTS < 1
#error "MPGC_MAX_ROOTS must be at least 1"
#endif

#endif /* MPGC_CONFIG_H */
