/*
 * internal.h - mpgc's private types and the helpers shared by the src files.
 *
 * Invariants (docs/design.md section 5 has the full list; mpgc_check()
 * re-derives each):
 *  - A block is free (head=0, tail=0), a head (head=1), or a continuation
 *    (head=0, tail=1) of the allocation before it. On a head, tail=1 means
 *    "no-scan". mark and fin are only ever set on heads; mark only during a
 *    collection.
 *  - Every maximal free run is in the class list of its length, with a
 *    header (first block) and a boundary tag (last word of last block);
 *    except the current run [bump, bump_end), maximal too, in no list and
 *    without header or tag (freelist.c).
 *  - used_blocks counts allocated blocks; binmap mirrors non-empty lists.
 *  - No block below first_free is free.
 * Functions ending in _locked assume the caller holds the thread hook.
 */
#ifndef MPGC_INTERNAL_H
#define MPGC_INTERNAL_H

#include <string.h>

#include "mpgc.h"

typedef uintptr_t word_t;

#define W_BITS MPGC_GROUP_BLOCKS
#define BLOCK MPGC_BLOCK_BYTES
#define BINMAP_WORDS ((MPGC_NUM_CLASSES + W_BITS - 1) / W_BITS)

#if defined(__GNUC__) || defined(__clang__)
#define MPGC_LIKELY(x) __builtin_expect(!!(x), 1)
#define MPGC_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MPGC_NOINLINE __attribute__((noinline))
#define MPGC_NO_SANITIZE                                                       \
    __attribute__((no_sanitize_address)) __attribute__((noinline))
#else
#define MPGC_LIKELY(x) (x)
#define MPGC_UNLIKELY(x) (x)
#define MPGC_NOINLINE
#define MPGC_NO_SANITIZE
#endif

#if MPGC_DEBUG
#include <assert.h>
#define MPGC_ASSERT(c, why) assert((c) && why)
#else
#define MPGC_ASSERT(c, why) ((void)0)
#endif

/* The metadata of W_BITS consecutive blocks; bit i is block g*W_BITS+i. */
typedef struct {
    word_t head; /* first block of an allocation */
    word_t tail; /* non-head: continues the allocation; head: no-scan */
    word_t mark; /* head reached in the current collection */
    word_t fin;  /* head whose finaliser has not run */
} group_t;

typedef struct pool {
    struct pool *next;   /* pools in ascending address order */
    uint8_t *region_lo;  /* what the pool owns: [region_lo, region_hi) */
    uint8_t *region_hi;
    uint8_t *base;       /* block 0, aligned to BLOCK */
    uint8_t *end;        /* base + nblocks * BLOCK */
    size_t nblocks;
    size_t ngroups;
    group_t *groups;
} pool_t;

/* Header kept in the first block of every free run. */
typedef struct run {
    struct run *next; /* circular list of the run's class */
    struct run *prev;
    size_t nblocks;
} run_t;

typedef struct {
    const void *start;
    size_t nbytes;
} root_t;

struct mpgc {
    mpgc_config_t cfg;
    pool_t *pools;         /* address-ordered */
    uint8_t *lo, *hi;      /* lowest pool base, highest pool end */
    size_t npools;
    size_t total_blocks;
    size_t used_blocks;
    size_t meta_bytes;     /* control block + pool headers + groups + padding */
    uint8_t *first_free;   /* no free block below this address */

    word_t binmap[BINMAP_WORDS]; /* bit c: bins[c] non-empty */
    uint8_t *idx_lo;       /* the lazy index's band [idx_lo, idx_hi): free */
    uint8_t *idx_hi;       /* blocks there are in no list yet (both NULL:
                              none; freelist.c, design.md 4) */
    uint8_t *bump;         /* the current run [bump, bump_end): small */
    uint8_t *bump_end;     /* requests take its low end (empty: equal) */
    size_t recent_large;   /* blocks: the largest recent large request,
                              decaying (freelist.c, the reserve) */
    size_t declined_in;    /* collections + 1 when the reserve last asked
                              for a collection (at most once per cycle) */

    unsigned lock_depth;   /* user locks + 1 during a collection */
    bool enabled;
    uint8_t phase;         /* PHASE_*: where a collection is (collect.c) */
    uint8_t callbacks;     /* user callbacks running, nested (MPGC_CALLBACK) */
    uint8_t last_class;    /* the index's last class, sized to the first
                              pool: longer runs of later pools share it */
    ptrdiff_t threshold;   /* bytes; -1 disabled */
    size_t since_collect;  /* bytes allocated since the last collection */
    size_t collections;

    size_t num_1block;     /* live allocations of 1 and 2 blocks */
    size_t num_2block;
    size_t max_block;      /* largest allocation, valid iff max_block_valid */
    size_t max_block_count; /* allocations of max_block blocks (when valid) */
    bool max_block_valid;
    size_t max_run;        /* longest indexed free run, valid iff max_run_valid */
    bool max_run_valid;

    void *stack_top;
    void (*scan_stack)(mpgc_t *gc); /* stack.c's scan, installed with
                              stack_top; NULL: none (stack.c not linked) */
    const void *pin;       /* kept alive by collections (realloc moving) */
    root_t roots[MPGC_MAX_ROOTS];
    size_t nroots;

    const void *mark_stack[MPGC_MARK_STACK_SIZE];
    size_t msp;
    word_t *seg;           /* the spill segment with the newest entries
                              (NULL: nothing spilled; markstack.c) */
    size_t seg_fill;       /* entries in it */
    const uint8_t *ovf_lo; /* grey objects that did not fit anywhere */
    const uint8_t *ovf_hi; /* (NULL: none) */
    const uint8_t *rescan_pos; /* during an overflow rescan: its position */
    const uint8_t *rescan_hi;  /* and its end, extended by later overflows */
    size_t work;               /* collection work since the last progress call */

    /* Collection in steps (step.c, design.md 8). Between the steps of an
     * open cycle phase is IDLE and the grey set (stack, segments, part,
     * overflow range) persists. */
    uint8_t cycle;             /* CYCLE_*: the open cycle's mode */
    bool grey_only;            /* marking greys without tracing (a cycle's
                                  roots; mpgc_mark_range between steps) */
    const uint8_t *part_obj;   /* an object a step's budget cut (NULL: */
    const word_t *part_lo;     /* none), and where its scan resumes */

    /* Ordered finalisation (finalise.c). While `batch` is set, tracing
     * visits unreachable objects through their fin bit instead of marking
     * them, and records which of the batch's members it reached. */
    struct mpgc_batch *batch;
    const uint8_t *fin_cursor;   /* upwards, the next batch starts at or after this */
    const uint8_t *fin_below;    /* downwards, it lies below this (NULL: the top) */
    bool fin_down;               /* which way the windows move */
    size_t fin_stalls;           /* collections in a row that finalised nothing */
    size_t fin_pending;          /* unreachable finalisable objects last found */

    /* The free-run index: one list per size class, last_class + 1 of them,
     * carved with the control block (heap.c): classes the first pool can
     * never use cost nothing. Last, as a flexible array member. */
    run_t *bins[];
};

_Static_assert(MPGC_NUM_CLASSES <= 256, "last_class is a uint8_t");

/* Where a collection is. Calls that would change the heap's shape are
 * refused in every phase but IDLE (mpgc.h, "Inside a collection"). */
enum {
    PHASE_IDLE = 0, /* no collection */
    PHASE_ROOTS,    /* marking the roots (collect, collect_start) */
    PHASE_OPEN,     /* between a successful collect_start and its end */
    PHASE_FINALISE, /* running finalisers: marking still allowed */
    PHASE_SWEEP     /* freeing: the tables are mid-update */
};

/* The open cycle of a collection in steps (step.c). */
enum {
    CYCLE_NONE = 0,
    CYCLE_INCREMENTAL, /* the runtime runs between steps, with the barrier */
    CYCLE_IDLE         /* the runtime does not run between slices */
};

/* The open cycle's mode: always CYCLE_NONE when steps are compiled out, so
 * that every test for an open cycle compiles out with them. */
static inline unsigned cycle_of(const mpgc_t *gc) {
    return MPGC_ENABLE_STEPS ? gc->cycle : (unsigned)CYCLE_NONE;
}

/* Calls a user callback. While any runs, mpgc_collect_end does nothing: it
 * pairs only with a collect_start that returned true outside callbacks. */
#define MPGC_CALLBACK(gc, call)                                                \
    do {                                                                       \
        (gc)->callbacks++;                                                     \
        call;                                                                  \
        (gc)->callbacks--;                                                     \
    } while (0)

/* ---- bit helpers ----------------------------------------------------- */

static inline unsigned ctz_word(word_t x) {
    return (unsigned)(sizeof(word_t) == sizeof(unsigned long long)
                          ? __builtin_ctzll((unsigned long long)x)
                          : __builtin_ctzl((unsigned long)x));
}
static inline unsigned popcount_word(word_t x) {
    return (unsigned)(sizeof(word_t) == sizeof(unsigned long long)
                          ? __builtin_popcountll((unsigned long long)x)
                          : __builtin_popcountl((unsigned long)x));
}
static inline unsigned clz_word(word_t x) {
    return (unsigned)(sizeof(word_t) == sizeof(unsigned long long)
                          ? __builtin_clzll((unsigned long long)x)
                          : __builtin_clzl((unsigned long)x));
}
static inline unsigned floor_log2(size_t x) {
    return (unsigned)(sizeof(size_t) * 8u - 1u -
                      (sizeof(size_t) == sizeof(unsigned long long)
                           ? (unsigned)__builtin_clzll((unsigned long long)x)
                           : (unsigned)__builtin_clzl((unsigned long)x)));
}
static inline word_t bit_of(size_t b) { return (word_t)1 << (b % W_BITS); }

/* Bits of group g that describe real blocks (the last group may be short). */
static inline word_t group_valid(const pool_t *p, size_t g) {
    size_t left = p->nblocks - g * W_BITS;
    return left >= W_BITS ? ~(word_t)0 : (((word_t)1 << left) - 1);
}

static inline uint8_t *block_ptr(const pool_t *p, size_t b) {
    return p->base + b * BLOCK;
}
static inline size_t block_index(const pool_t *p, const void *ptr) {
    return (size_t)((const uint8_t *)ptr - p->base) / BLOCK;
}
static inline bool block_is_free(const pool_t *p, size_t b) {
    const group_t *g = &p->groups[b / W_BITS];
    return ((g->head | g->tail) & bit_of(b)) == 0;
}

/* MicroPython's placement selected (and compiled in)? */
static inline bool first_fit(const mpgc_t *gc) {
    return MPGC_ENABLE_FIRST_FIT && gc->cfg.policy == MPGC_POLICY_FIRST_FIT;
}

/* Counts collection work; calls the progress callback each
 * MPGC_PROGRESS_WORDS words of it. */
static inline void progress_add(mpgc_t *gc, size_t words) {
    if (!MPGC_ENABLE_PROGRESS || !gc->cfg.progress) return;
    if ((gc->work += words) < MPGC_PROGRESS_WORDS) return;
    gc->work = 0;
    MPGC_CALLBACK(gc, gc->cfg.progress(gc, gc->cfg.user));
}

/* ---- locking hooks ----------------------------------------------------- */

static inline void hook_lock(const mpgc_t *gc) {
    if (MPGC_ENABLE_LOCK_HOOKS && gc->cfg.lock) gc->cfg.lock(gc->cfg.user);
}
static inline void hook_unlock(const mpgc_t *gc) {
    if (MPGC_ENABLE_LOCK_HOOKS && gc->cfg.unlock) gc->cfg.unlock(gc->cfg.user);
}

/* ---- heap.c: pools ---------------------------------------------------- */
/* The pool whose blocks contain ptr; NULL if outside every pool. Inline:
 * every pointer the API is given is looked up (mark.c has its own). */
static inline pool_t *mpgc_pool_of(const mpgc_t *gc, const void *ptr) {
    const uint8_t *a = (const uint8_t *)ptr;
    if (a < gc->lo || a >= gc->hi) return NULL;
    for (pool_t *p = gc->pools; p; p = p->next)
        if (a < p->end) return a >= p->base ? p : NULL;
    return NULL;
}
/* The group and bit of the block at ptr, which must lie in a pool. */
static inline group_t *mpgc_group_of(const mpgc_t *gc, const void *ptr, word_t *bit) {
    const pool_t *p = mpgc_pool_of(gc, ptr);
    size_t b = block_index(p, ptr);
    *bit = bit_of(b);
    return &p->groups[b / W_BITS];
}
size_t mpgc_object_blocks(const pool_t *p, size_t head);
size_t mpgc_next_free(const pool_t *p, size_t b); /* p->nblocks if none */
size_t mpgc_next_used(const pool_t *p, size_t b);
size_t mpgc_prev_used(const pool_t *p, size_t b); /* before b; SIZE_MAX if none */

/* ---- freelist.c: the free-run index ---------------------------------- */
/* Smallest request carved from the high end of a run (none when 0). */
#define LARGE_MIN (MPGC_LARGE_BLOCKS ? (size_t)MPGC_LARGE_BLOCKS : SIZE_MAX)
/* The class of a run of n >= 8 blocks among all MPGC_NUM_CLASSES, where
 * f = floor_log2(n); a macro so that a size probe (tools/size-report.sh)
 * evaluates it at compile time. */
#define MPGC_CLASS_RANGED(n, f)                                                \
    ((f) >= MPGC_CLASS_MAX_LOG2                                                \
         ? MPGC_NUM_CLASSES - 1u                                               \
         : (MPGC_CLASS_EXACT - 1u) + ((f) - 3u) * MPGC_CLASS_SPLIT +           \
               (((n) >> ((f) - MPGC_CLASS_SPLIT_LOG2)) & (MPGC_CLASS_SPLIT - 1u)))
/* The classes the index of a heap needs, from the class c (among all
 * MPGC_NUM_CLASSES) of its first pool's longest run: every run of that pool
 * gets its own class as if the index had them all, and one more class holds
 * the longer runs of pools added later. At least the exact classes (the
 * fast path's). */
#define MPGC_FL_CLASSES(c)                                                     \
    ((c) + 2u < MPGC_CLASS_EXACT    ? MPGC_CLASS_EXACT                         \
     : (c) + 2u > MPGC_NUM_CLASSES ? MPGC_NUM_CLASSES                         \
                                   : (c) + 2u)
/* The class of a run of nblocks blocks in gc's index. */
size_t mpgc_class_of(const mpgc_t *gc, size_t nblocks);

/* Is block b of p in the lazy index's band (its free runs in no list
 * yet)? Pools are address-ordered, so the band is an address range; b may
 * be p->nblocks (p->end, never another pool's block). */
static inline bool unindexed(const mpgc_t *gc, const pool_t *p, size_t b) {
    const uint8_t *a = block_ptr(p, b);
    return a >= gc->idx_lo && a < gc->idx_hi; /* both NULL: never */
}
/* After the sweep: empties the index; the band of unindexed blocks is
 * then the whole heap, and allocation indexes free runs at its low end
 * (small requests) or its high end (large ones) as it needs them. */
void mpgc_fl_reindex(mpgc_t *gc);
/* Finishes the lazy index; returns the number of free runs it indexed. */
size_t mpgc_fl_index_all(mpgc_t *gc);
void mpgc_fl_insert(mpgc_t *gc, uint8_t *start, size_t nblocks, bool at_tail);
void mpgc_fl_remove(mpgc_t *gc, run_t *r);
void mpgc_fl_reset(mpgc_t *gc);
/* mpgc_fl_take's slow path: the whole placement policy (design.md 2). */
uint8_t *mpgc_fl_take_slow(mpgc_t *gc, size_t n, bool growing);
/* mpgc_alloc_internal's placement: the high end of a run of n's class or
 * above, the whole index considered; leaves the reserve's state alone. */
uint8_t *mpgc_fl_take_high(mpgc_t *gc, size_t n);
/* Takes the head of exact class n-1, which must be non-empty. */
uint8_t *mpgc_fl_take_exact(mpgc_t *gc, size_t n);
/* Frees [b, b+n) of pool p (bits already cleared): coalesces and indexes. */
void mpgc_fl_release(mpgc_t *gc, pool_t *p, size_t b, size_t n);
/* Drops p's one free run (p is all free) from the free space. */
void mpgc_fl_forget(mpgc_t *gc, pool_t *p);
/* Takes the n free blocks starting at block b of p out of the free space,
 * if the free run starting there is that long (an in-place realloc). */
bool mpgc_fl_take_at(mpgc_t *gc, pool_t *p, size_t b, size_t n);
/* Indexed runs from the largest class down, among classes >= cmin: the
 * run after `after` (NULL: the first); NULL after the last. O(1) per step
 * but for a binmap scan. */
const run_t *mpgc_fl_walk(const mpgc_t *gc, const run_t *after, size_t cmin);
/* The longest free run, in blocks. */
size_t mpgc_fl_max_run(const mpgc_t *gc);
/* The current run's length in blocks (0 when empty). */
static inline size_t mpgc_fl_current(const mpgc_t *gc) {
    return (size_t)(gc->bump_end - gc->bump) / BLOCK;
}
/* Does the (non-empty) current run start at `at`? */
static inline bool mpgc_fl_current_at(const mpgc_t *gc, const uint8_t *at) {
    return at == gc->bump && gc->bump != gc->bump_end;
}
/* Takes n free blocks out of the free space and returns the first; NULL if
 * no run is long enough, or once between two collections when the
 * placement's reserve asks for a collection first (only while collection
 * is enabled or cfg.caller_collects: a collection or a retry follows;
 * design.md section 2, rule 4). The caller marks the blocks allocated. Inline because
 * it is the allocation fast path: a small request takes a run of exactly n
 * blocks if one lies below the current run, else the current run's low
 * end. (An exact run above it is left for the slow path, which compares
 * addresses: taking exact runs wherever they are pins small objects high
 * in the heap, and bench workload 2's fragmentation rose from 61 to 73 %
 * at 2 MiB.) */
static inline uint8_t *mpgc_fl_take(mpgc_t *gc, size_t n, bool growing) {
    if (MPGC_LIKELY(!growing && n < LARGE_MIN && !first_fit(gc))) {
        uint8_t *m = gc->bump;
        if (n < MPGC_CLASS_EXACT && gc->bins[n - 1] && (uint8_t *)gc->bins[n - 1] < m)
            return mpgc_fl_take_exact(gc, n);
        if (MPGC_LIKELY((size_t)(gc->bump_end - m) >= n * BLOCK)) {
            gc->bump = m + n * BLOCK;
            return m;
        }
    }
    return mpgc_fl_take_slow(gc, n, growing);
}

/* ---- alloc.c ------------------------------------------------------------ */
/* Internal allocation flag, beside MPGC_FINALISE and MPGC_NO_SCAN: a moving
 * realloc of a growing object (placed where it has room to grow). */
#define MPGC_GROWING 0x100u
void *mpgc_alloc_locked(mpgc_t *gc, size_t nblocks, unsigned flags);
/* Blocks for the collector itself (the grey set's segments in an
 * incremental cycle): a no-scan allocation taken from the high end of a
 * run, without collecting, counting toward the threshold or feeding the
 * placement's reserve. NULL when no run is long enough. */
void *mpgc_alloc_internal(mpgc_t *gc, size_t nblocks);
void mpgc_free_internal(mpgc_t *gc, void *p);
/* Validates p as the start of an allocation; reports and returns NULL. */
pool_t *mpgc_find_head(const mpgc_t *gc, const void *p, size_t *head);

/* ---- finalise.c: a batch of unreachable finalisable objects ------------ */
typedef struct mpgc_batch {
    const uint8_t *obj[MPGC_FINALISE_BATCH]; /* ascending addresses */
    uint32_t reach[MPGC_FINALISE_BATCH]; /* members reached from obj[i]'s contents */
    size_t n;
    size_t seen;                         /* members of P met while gathering */
    uint32_t hits;                       /* the current trace: bit i, obj[i] reached */
    const uint8_t *visit_lo, *visit_hi;  /* heads visited by it (NULL: none) */
} mpgc_batch_t;

/* Is a pending trace running (mark.c)? Never, without finalisers or
 * without the safe order. */
static inline bool tracing_pending(const mpgc_t *gc) {
    return MPGC_ENABLE_FINALISERS && MPGC_ENABLE_SAFE_ORDER && MPGC_UNLIKELY(gc->batch != NULL);
}

/* ---- mark.c ------------------------------------------------------------ */
void mpgc_mark_words(mpgc_t *gc, const void *lo, const void *hi);
void mpgc_mark_object(mpgc_t *gc, const void *obj); /* mark and trace */
void mpgc_mark_drain(mpgc_t *gc);
/* Traces what the head obj's contents reach, not obj itself: marking, or
 * visiting while a pending trace runs (gc->batch set). */
void mpgc_trace_contents(mpgc_t *gc, const void *obj);

/* Traces from the grey set until it is empty or about `budget` words of
 * objects are scanned; returns what is left of the budget: 0 when the
 * budget ran out first (the grey set may not be empty). */
size_t mpgc_mark_some(mpgc_t *gc, size_t budget);
/* Empties the grey set (nothing traced, marks kept). */
void mpgc_grey_reset(mpgc_t *gc);
/* Marks and greys the allocation the word v designates (the barrier). */
void mpgc_mark_grey(mpgc_t *gc, const void *v);
/* Greys obj, a marked scannable head, to be scanned (again). */
void mpgc_mark_push(mpgc_t *gc, const void *obj);

/* ---- markstack.c: the mark stack's spill into free runs ---------------- */
/* The in-block stack is full: moves its older half into free memory. False
 * when free memory is used up (mark.c then falls back to overflow rescans). */
bool mpgc_ms_spill(mpgc_t *gc);
/* The in-block stack is empty: takes back the newest spilled entries.
 * False when nothing is spilled. */
bool mpgc_ms_refill(mpgc_t *gc);
/* Drops every spilled entry, giving back the segments that are
 * allocations (an abandoned cycle). */
void mpgc_ms_discard(mpgc_t *gc);

/* ---- step.c ------------------------------------------------------------ */
/* Abandons the open cycle: marks cleared, grey set emptied, nothing freed. */
void mpgc_cycle_abort(mpgc_t *gc);
/* Entry points that could change the heap call this first: an idle cycle
 * relies on the heap not changing between its slices. */
static inline void mpgc_idle_abort(mpgc_t *gc) {
    if (MPGC_UNLIKELY(cycle_of(gc) == CYCLE_IDLE)) mpgc_cycle_abort(gc);
}

/* ---- roots.c ----------------------------------------------------------- */
void mpgc_mark_roots(mpgc_t *gc);

/* ---- finalise.c / sweep.c ---------------------------------------------- */
void mpgc_finalise(mpgc_t *gc);
/* Runs every pending finaliser (sweep_all), referrers first in the safe
 * order; leaves every mark bit clear. */
void mpgc_finalise_all(mpgc_t *gc);
size_t mpgc_sweep(mpgc_t *gc);

/* ---- collect.c --------------------------------------------------------- */
size_t mpgc_collect_locked(mpgc_t *gc);

/* ---- stats.c ----------------------------------------------------------- */
/* Without MPGC_ENABLE_STATS nothing reads the counters: not kept. */
static inline void mpgc_stats_alloc(mpgc_t *gc, size_t nb) {
    if (!MPGC_ENABLE_STATS) return;
    if (nb == 1) gc->num_1block++;
    else if (nb == 2) gc->num_2block++;
    if (MPGC_UNLIKELY(nb >= gc->max_block)) {
        gc->max_block_count = nb == gc->max_block ? gc->max_block_count + 1 : 1;
        gc->max_block = nb;
    }
}
static inline void mpgc_stats_free(mpgc_t *gc, size_t nb) {
    if (!MPGC_ENABLE_STATS) return;
    if (nb == 1) gc->num_1block--;
    else if (nb == 2) gc->num_2block--;
    /* Only freeing the last allocation of the largest size invalidates. */
    if (MPGC_UNLIKELY(nb >= gc->max_block) && (nb > gc->max_block || gc->max_block_count-- <= 1))
        gc->max_block_valid = false;
}

#endif /* MPGC_INTERNAL_H */
