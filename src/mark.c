/*
 * mark.c - where marking happens: the pointer test, the mark stack, and the
 * recovery when the stack overflows.
 *
 * Marking never recurses on the C stack. A newly marked, scannable object is
 * pushed on the mark stack: its top in the control block, the rest spilled
 * into free runs (markstack.c), so marking is linear in the live data. Only
 * when free memory is used up too does an object stay marked but unscanned
 * ("grey"), and the address range of such objects is widened. Once the
 * stack drains, only that range is rescanned for marked objects, in address
 * order; a grey object found ahead of the rescan position just extends the
 * current pass (MicroPython rescans the whole heap after every overflow).
 */
#include "internal.h"

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)(p))
#endif

/* Objects popped from the mark stack wait in a small FIFO, prefetched, so
 * that the memory of the next few objects is on its way while the current
 * one is scanned (marking is bound by cache misses on object contents). */
#define PREFETCH_DEPTH 8u
/* Marked root targets gathered before tracing them (see mpgc_mark_words). */
#define ROOT_BATCH 4u

/* No room left for obj on the stack or in free memory: it stays grey
 * (marked, unscanned) and is found again by a rescan of its range. */
static MPGC_NOINLINE void overflow(mpgc_t *gc, const uint8_t *obj) {
    if (gc->rescan_pos && obj > gc->rescan_pos) {
        if (obj > gc->rescan_hi) gc->rescan_hi = obj;
        return;
    }
    if (!gc->ovf_hi || obj < gc->ovf_lo) gc->ovf_lo = obj;
    if (!gc->ovf_hi || obj > gc->ovf_hi) gc->ovf_hi = obj;
}

static inline void push(mpgc_t *gc, const uint8_t *obj) {
    if (MPGC_UNLIKELY(gc->msp == MPGC_MARK_STACK_SIZE) && !mpgc_ms_spill(gc)) {
        overflow(gc, obj);
        return;
    }
    gc->mark_stack[gc->msp++] = obj;
}

/* Is there an entry to pop (taking spilled ones back when the in-block
 * part is empty)? */
static inline bool can_pop(mpgc_t *gc) {
    return gc->msp > 0 || (MPGC_UNLIKELY(gc->seg != NULL) && mpgc_ms_refill(gc));
}

/* Interior pointers: the head of the allocation containing block b, or
 * SIZE_MAX when b is free. Searches the head plane backwards a word at a
 * time. */
static inline size_t head_before(const pool_t *p, size_t b) {
    const group_t *g = &p->groups[b / W_BITS];
    if (((g->head | g->tail) & bit_of(b)) == 0) return SIZE_MAX;
    size_t gi = b / W_BITS;
    word_t m = g->head & (~(word_t)0 >> (W_BITS - 1 - b % W_BITS));
    while (!m) m = p->groups[--gi].head; /* a continuation always has a head */
    return gi * W_BITS + (W_BITS - 1 - clz_word(m));
}

/* Pending traces (finalise.c): an unmarked object is visited once, through
 * its fin bit (which only batch members and live objects have, and batch
 * members lose theirs while they are traced), and a batch member reached
 * is recorded. False if already visited. */
static MPGC_NOINLINE bool visit(mpgc_t *gc, group_t *g, word_t bit, const uint8_t *obj) {
    mpgc_batch_t *t = gc->batch;
    if (g->fin & bit) return false;
    g->fin |= bit;
    if (!t->visit_lo || obj < t->visit_lo) t->visit_lo = obj;
    if (!t->visit_hi || obj > t->visit_hi) t->visit_hi = obj;
    size_t lo = 0, hi = t->n; /* the batch is sorted by address */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t->obj[mid] < obj) lo = mid + 1;
        else hi = mid;
    }
    if (lo < t->n && t->obj[lo] == obj) t->hits |= (uint32_t)1 << lo;
    return true;
}

/* The allocation that the word v designates, if any: its pool (NULL if
 * none) and its head block in *bp. Hot. */
static inline const pool_t *head_of(const mpgc_t *gc, word_t v, size_t *bp) {
    const uint8_t *a = (const uint8_t *)v;
    if (a < gc->lo || a >= gc->hi) return NULL;
    const pool_t *p = gc->pools;
    if (MPGC_ENABLE_SPLIT_HEAP)
        while (a >= p->end) p = p->next;
    if (a < p->base) return NULL;
    size_t off = (size_t)(a - p->base);
    if (!MPGC_INTERIOR_POINTERS && off % BLOCK != 0) return NULL;
    size_t b = off / BLOCK;
    if (!(p->groups[b / W_BITS].head & bit_of(b))) {
        if (!MPGC_INTERIOR_POINTERS) return NULL;
        b = head_before(p, b);
        if (b == SIZE_MAX) return NULL;
    }
    *bp = b;
    return p;
}

/* Marks the allocation that the word v designates, if any. Hot. */
static inline void mark_candidate(mpgc_t *gc, word_t v) {
    size_t b;
    const pool_t *p = head_of(gc, v, &b);
    if (!p) return;
    group_t *g = &p->groups[b / W_BITS];
    word_t bit = bit_of(b);
    if (g->mark & bit) return;
    g->mark |= bit;
    if (g->tail & bit) return; /* no-scan: marked, never read */
    push(gc, block_ptr(p, b));
}

/* The same in a pending trace (finalise.c): visits instead of marking. */
static void visit_candidate(mpgc_t *gc, word_t v) {
    size_t b;
    const pool_t *p = head_of(gc, v, &b);
    if (!p) return;
    group_t *g = &p->groups[b / W_BITS];
    word_t bit = bit_of(b);
    if ((g->mark & bit) || !visit(gc, g, bit, block_ptr(p, b))) return;
    if (g->tail & bit) return;
    push(gc, block_ptr(p, b));
}

static void drain_to_end(mpgc_t *gc);

/* Every aligned word in [lo, hi). Not instrumented: it reads whole stacks.
 * Root words are taken ROOT_BATCH at a time and what they reach is traced
 * before the next batch, so a root range with more pointers than the mark
 * stack holds does not overflow it, while the prefetch FIFO still has a
 * few independent objects in flight (tracing one root word at a time
 * leaves it one object at a time: measured 1.5x longer pauses on a 256 MiB
 * heap of small structures, bench workload 1; batches of 8 overflow on
 * dense ones, workload 3). */
MPGC_NO_SANITIZE void mpgc_mark_words(mpgc_t *gc, const void *lo, const void *hi) {
    uintptr_t a = ((uintptr_t)lo + sizeof(word_t) - 1) & ~(uintptr_t)(sizeof(word_t) - 1);
    for (const volatile word_t *w = (const word_t *)a; (const void *)(w + 1) <= hi; w++) {
        mark_candidate(gc, *w);
        if (gc->msp >= ROOT_BATCH && !gc->grey_only) drain_to_end(gc);
    }
}

/* Length in blocks of the allocation at block b: the common case (it ends
 * in the same group) inline, the rest in heap.c. */
static inline size_t object_blocks(const pool_t *p, size_t b) {
    size_t i = b % W_BITS;
    if (i + 1 < W_BITS && b + 1 < p->nblocks) {
        const group_t *g = &p->groups[b / W_BITS];
        word_t stop = ~(g->tail & ~g->head) & (~(word_t)0 << (i + 1));
        if (stop) return ctz_word(stop) - i;
    }
    return mpgc_object_blocks(p, b);
}

/* The words of the object at obj, as candidates: marking (hot), or
 * visiting in a pending trace. `checked`, in a cycle in steps: a grey
 * entry may be stale, the runtime having freed or shrunk its object since
 * it was greyed, and the space may now hold a no-scan buffer or part of
 * another object. Then only a scannable head counts, to its current end
 * (0 words otherwise). A new object allocated there during the cycle is
 * black and its stores went through the barrier: scanning it keeps
 * nothing more alive. */
static inline const word_t *object_words(const mpgc_t *gc, const uint8_t *obj, size_t *n,
                                         const bool checked) {
    const pool_t *p = gc->pools;
    if (MPGC_ENABLE_SPLIT_HEAP)
        while (obj >= p->end) p = p->next;
    size_t b = block_index(p, obj);
    const group_t *g = &p->groups[b / W_BITS];
    *n = checked && !(g->head & ~g->tail & bit_of(b)) ? 0
                                                     : object_blocks(p, b) * (BLOCK / sizeof(word_t));
    return (const word_t *)(const void *)obj;
}

static void scan_words(mpgc_t *gc, const word_t *w, size_t n) {
    for (size_t i = 0; i < n; i++) mark_candidate(gc, w[i]);
    progress_add(gc, n);
}

static void scan_object(mpgc_t *gc, const uint8_t *obj) {
    size_t n;
    const word_t *w = object_words(gc, obj, &n, false);
    scan_words(gc, w, n);
}

static void scan_pending(mpgc_t *gc, const uint8_t *obj) {
    size_t n;
    const word_t *w = object_words(gc, obj, &n, false);
    for (size_t i = 0; i < n; i++) visit_candidate(gc, w[i]);
    progress_add(gc, n);
}

/* Pending traces are rare and small: no prefetching. */
static void drain_pending(mpgc_t *gc) {
    while (can_pop(gc)) scan_pending(gc, gc->mark_stack[--gc->msp]);
}

/* Traces from the stack until it is empty or, when `budgeted` (in a cycle
 * in steps, whose entries are checked), `budget` words have been scanned;
 * returns what is left of the budget (0: the stack may not be empty). An
 * object longer than what is left is scanned in part and the rest kept in
 * part_obj/part_lo; the objects waiting in the FIFO go back on the stack.
 * Inline twice, so that stop-the-world marking (drain_all) pays nothing
 * for the budget. */
static inline size_t drain(mpgc_t *gc, size_t budget, const bool budgeted) {
    const uint8_t *fifo[PREFETCH_DEPTH];
    unsigned head = 0, n = 0;
    for (;;) {
        while (n < PREFETCH_DEPTH && can_pop(gc)) {
            const uint8_t *o = gc->mark_stack[--gc->msp];
            PREFETCH(o);
            fifo[(head + n++) % PREFETCH_DEPTH] = o;
        }
        if (n == 0) return budget;
        const uint8_t *o = fifo[head];
        head = (head + 1) % PREFETCH_DEPTH;
        n--;
        size_t words;
        const word_t *w = object_words(gc, o, &words, budgeted);
        if (budgeted && words >= budget) {
            scan_words(gc, w, budget);
            if (words > budget) {
                gc->part_obj = o;
                gc->part_lo = w + budget;
            }
            while (n > 0) push(gc, fifo[(head + --n) % PREFETCH_DEPTH]);
            return 0;
        }
        scan_words(gc, w, words);
        if (budgeted) budget -= words;
    }
}

static MPGC_NOINLINE void drain_all(mpgc_t *gc) { (void)drain(gc, SIZE_MAX, false); }

static MPGC_NOINLINE size_t drain_budget(mpgc_t *gc, size_t budget) {
    return drain(gc, budget, MPGC_ENABLE_STEPS);
}

/* To the end: checking the entries while a cycle in steps is open. */
static void drain_to_end(mpgc_t *gc) {
    if (cycle_of(gc) != CYCLE_NONE) (void)drain_budget(gc, SIZE_MAX);
    else drain_all(gc);
}

/* One pass over [lo, hi]: rescan every marked (in a pending trace:
 * visited) scannable object there. */
static void rescan_range(mpgc_t *gc, const uint8_t *lo, const uint8_t *hi) {
    gc->rescan_hi = hi;
    for (pool_t *p = gc->pools; p && p->base <= gc->rescan_hi; p = p->next) {
        if (p->end <= lo) continue;
        size_t b = lo > p->base ? block_index(p, lo) : 0;
        for (;;) {
            size_t last = gc->rescan_hi < p->end ? block_index(p, gc->rescan_hi) : p->nblocks - 1;
            if (b > last) break;
            size_t gi = b / W_BITS;
            const group_t *g = &p->groups[gi];
            word_t grey = tracing_pending(gc) ? g->fin & ~g->mark : g->mark;
            word_t m = g->head & grey & ~g->tail & (~(word_t)0 << (b % W_BITS));
            progress_add(gc, 4); /* the group's table words, as the sweep counts them */
            if (!m) {
                b = (gi + 1) * W_BITS;
                continue;
            }
            b = gi * W_BITS + ctz_word(m);
            if (b > last) break;
            gc->rescan_pos = block_ptr(p, b);
            if (tracing_pending(gc)) {
                scan_pending(gc, block_ptr(p, b));
                drain_pending(gc);
            } else {
                scan_object(gc, block_ptr(p, b));
                drain_to_end(gc);
            }
            b++;
        }
    }
    gc->rescan_pos = NULL;
}

/* The rest of an object a step's budget cut, first: it is the oldest
 * grey entry. */
static size_t scan_part(mpgc_t *gc, size_t budget) {
    const uint8_t *obj = gc->part_obj;
    const word_t *w = gc->part_lo;
    gc->part_obj = NULL;
    gc->part_lo = NULL;
    size_t n;
    const word_t *end = object_words(gc, obj, &n, true) + n;
    if (w >= end) return budget; /* freed or cut since: nothing left of it */
    size_t left = (size_t)(end - w), k = left < budget ? left : budget;
    if (k < left) {
        gc->part_obj = obj;
        gc->part_lo = w + k;
    }
    scan_words(gc, w, k);
    return budget - k;
}

size_t mpgc_mark_some(mpgc_t *gc, size_t budget) {
    if (MPGC_ENABLE_STEPS && MPGC_UNLIKELY(gc->part_lo != NULL)) budget = scan_part(gc, budget);
    while (budget > 0) {
        if (tracing_pending(gc)) drain_pending(gc);
        else if (budget == SIZE_MAX) drain_to_end(gc);
        else budget = drain_budget(gc, budget);
        if (budget == 0 || !gc->ovf_hi) break;
        /* The fallback rescans are not cut by the budget (design.md 3). */
        const uint8_t *lo = gc->ovf_lo, *hi = gc->ovf_hi;
        gc->ovf_lo = gc->ovf_hi = NULL;
        rescan_range(gc, lo, hi);
    }
    return budget;
}

/* Traces to the end, except while a cycle's roots are only greyed. */
void mpgc_mark_drain(mpgc_t *gc) {
    if (!gc->grey_only) (void)mpgc_mark_some(gc, SIZE_MAX);
}

void mpgc_grey_reset(mpgc_t *gc) {
    gc->msp = 0;
    gc->seg = NULL;
    gc->seg_fill = 0;
    gc->ovf_lo = gc->ovf_hi = NULL;
    gc->rescan_pos = NULL;
    gc->part_obj = NULL;
    gc->part_lo = NULL;
}

void mpgc_mark_grey(mpgc_t *gc, const void *v) { mark_candidate(gc, (word_t)v); }

void mpgc_mark_push(mpgc_t *gc, const void *obj) { push(gc, (const uint8_t *)obj); }

void mpgc_mark_object(mpgc_t *gc, const void *obj) {
    mark_candidate(gc, (word_t)obj);
    mpgc_mark_drain(gc);
}

void mpgc_trace_contents(mpgc_t *gc, const void *obj) {
    if (!MPGC_ENABLE_FINALISERS) return; /* only finalise.c needs it */
    word_t bit;
    const group_t *g = mpgc_group_of(gc, obj, &bit); /* sets bit: sequenced before its use */
    if (g->tail & bit) return; /* no-scan: reaches nothing */
    if (tracing_pending(gc)) scan_pending(gc, (const uint8_t *)obj);
    else scan_object(gc, (const uint8_t *)obj);
    mpgc_mark_drain(gc);
}

/* Marking is open while roots are taken and while finalisers run (marking
 * more only keeps more alive); the sweep has started clearing marks, and a
 * pending trace uses the tables differently: ignored then. Between the
 * steps of a cycle it greys, under the thread hook (the steps trace). */
void mpgc_mark_range(mpgc_t *gc, const void *start, size_t nbytes) {
    if (!gc || !start || tracing_pending(gc) || gc->phase == PHASE_SWEEP) return;
    const uint8_t *lo = (const uint8_t *)start;
    const uint8_t *hi = (uintptr_t)lo + nbytes < (uintptr_t)lo ? (const uint8_t *)UINTPTR_MAX
                                                             : lo + nbytes;
    if (gc->phase != PHASE_IDLE) {
        mpgc_mark_words(gc, lo, hi);
        mpgc_mark_drain(gc);
        return;
    }
    if (!MPGC_ENABLE_STEPS) return;
    hook_lock(gc);
    if (cycle_of(gc) != CYCLE_NONE && gc->phase == PHASE_IDLE) {
        gc->grey_only = true;
        mpgc_mark_words(gc, lo, hi);
        gc->grey_only = false;
    }
    hook_unlock(gc);
}
