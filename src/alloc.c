/*
 * alloc.c - allocation, explicit free, realloc and size queries.
 *
 * Fast path: round to blocks, take a run from the free index, set the
 * head/tail bits, zero. Everything rare (collect-and-retry, threshold
 * collections, bad pointers) is in named functions off that path.
 */
#include "internal.h"

/* Bytes to blocks; false for 0 and for sizes that overflow when rounded. */
static bool to_blocks(size_t n, size_t *nb) {
    if (n == 0 || n > SIZE_MAX - (BLOCK - 1)) return false;
    *nb = (n + BLOCK - 1) / BLOCK;
    return true;
}

/* Mask of bits [i, i+n) of a word; i + n <= W_BITS, n >= 1. */
static inline word_t bits_in_word(size_t i, size_t n) {
    return (n == W_BITS ? ~(word_t)0 : (((word_t)1 << n) - 1)) << i;
}

/* Sets the tail bit of blocks [b, b+n), n >= 1, a group at a time (most
 * runs lie in one group: one pass). */
static inline void tail_set(pool_t *p, size_t b, size_t n) {
    for (;;) {
        size_t in = W_BITS - b % W_BITS;
        if (in > n) in = n;
        p->groups[b / W_BITS].tail |= bits_in_word(b % W_BITS, in);
        if ((n -= in) == 0) return;
        b += in;
    }
}

/* Clears every plane of blocks [b, b+n), n >= 1, a group at a time. */
static void range_clear(pool_t *p, size_t b, size_t n) {
    for (;;) {
        size_t in = W_BITS - b % W_BITS;
        if (in > n) in = n;
        word_t keep = ~bits_in_word(b % W_BITS, in);
        group_t *g = &p->groups[b / W_BITS];
        g->head &= keep;
        g->tail &= keep;
        g->mark &= keep;
        g->fin &= keep;
        if ((n -= in) == 0) return;
        b += in;
    }
}

/* Zeroes n blocks; the common sizes with constant-size stores, no call. */
static inline void zero_blocks(uint8_t *m, size_t n) {
    if (n == 1) memset(m, 0, BLOCK);
    else if (n == 2) memset(m, 0, 2 * BLOCK);
    else memset(m, 0, n * BLOCK);
}

/* No threshold collection while a cycle in steps is open: the cycle is
 * the collection (design.md 8). */
static bool threshold_due(const mpgc_t *gc) {
    return MPGC_ENABLE_THRESHOLD && gc->threshold >= 0 && gc->enabled &&
           gc->since_collect >= (size_t)gc->threshold && cycle_of(gc) == CYCLE_NONE;
}

/* Slow path, reached when no run is long enough (the heap is full or
 * fragmented), or when the placement's reserve asks for a collection first
 * (freelist.c, at most once between collections): collect and retry, only
 * while automatic collection is enabled. In the safe order a finalised object is freed by the collection
 * after the one that ran its finaliser, so collect again while the last
 * collection found unreachable finalisable objects: the request fails only
 * once no garbage is left, finalisable or not. */
static MPGC_NOINLINE uint8_t *alloc_slow(mpgc_t *gc, size_t nb, bool growing) {
    if (!gc->enabled) return NULL;
    /* An open incremental cycle is ended first (its final step), and may
     * have kept garbage that died during it: one more collection then. */
    bool floating = cycle_of(gc) != CYCLE_NONE;
    for (;;) {
        mpgc_collect_locked(gc);
        uint8_t *m = mpgc_fl_take(gc, nb, growing);
        if (m) return m;
        if (gc->fin_pending == 0 && !floating) return NULL;
        floating = false;
    }
}

/* Makes the n free blocks at m an allocation (zeroed) with these flags. */
static inline void claim(mpgc_t *gc, uint8_t *m, size_t nb, unsigned flags) {
    pool_t *p = gc->pools; /* m is in a pool: the first whose end is above it */
    while (m >= p->end) p = p->next;
    size_t b = block_index(p, m);
    group_t *g = &p->groups[b / W_BITS];
    g->head |= bit_of(b);
    if (flags & MPGC_NO_SCAN) g->tail |= bit_of(b);
    if (MPGC_ENABLE_FINALISERS && (flags & MPGC_FINALISE)) g->fin |= bit_of(b);
    if (nb > 1) tail_set(p, b + 1, nb - 1);
    zero_blocks(m, nb);
    gc->used_blocks += nb;
    mpgc_stats_alloc(gc, nb);
}

static inline void *alloc_unlocked(mpgc_t *gc, size_t nb, unsigned flags) {
    if (MPGC_UNLIKELY(gc->cfg.fail_alloc != NULL) &&
        gc->cfg.fail_alloc(gc, nb * BLOCK, gc->cfg.user))
        return NULL;
    if (MPGC_UNLIKELY(threshold_due(gc))) mpgc_collect_locked(gc);
    bool growing = (flags & MPGC_GROWING) != 0;
    uint8_t *m = mpgc_fl_take(gc, nb, growing);
    if (MPGC_UNLIKELY(!m)) m = alloc_slow(gc, nb, growing);
    if (MPGC_UNLIKELY(!m)) return NULL;
    claim(gc, m, nb, flags);
    gc->since_collect += nb * BLOCK;
    return m;
}

/* With a cycle in steps open: an idle cycle is abandoned (the heap is
 * about to change); in an incremental one the allocation is black, kept
 * by the cycle and never scanned (its stores go through the barrier),
 * unless the allocation had to end the cycle. */
static MPGC_NOINLINE void *alloc_in_cycle(mpgc_t *gc, size_t nb, unsigned flags) {
    mpgc_idle_abort(gc);
    void *m = alloc_unlocked(gc, nb, flags);
    if (m && cycle_of(gc) != CYCLE_NONE) {
        word_t bit;
        group_t *g = mpgc_group_of(gc, m, &bit); /* sets bit: sequenced before its use */
        g->mark |= bit;
    }
    return m;
}

void *mpgc_alloc_locked(mpgc_t *gc, size_t nb, unsigned flags) {
    if (MPGC_UNLIKELY(gc->lock_depth > 0)) return NULL;
    if (MPGC_UNLIKELY(cycle_of(gc) != CYCLE_NONE)) return alloc_in_cycle(gc, nb, flags);
    return alloc_unlocked(gc, nb, flags);
}

void *mpgc_alloc_internal(mpgc_t *gc, size_t nb) {
    if (!MPGC_ENABLE_STEPS) return NULL;
    uint8_t *m = mpgc_fl_take_high(gc, nb);
    if (m) claim(gc, m, nb, MPGC_NO_SCAN);
    return m;
}

void *mpgc_alloc(mpgc_t *gc, size_t n, unsigned flags) {
    size_t nb;
    if (!gc || !to_blocks(n, &nb)) return NULL;
    hook_lock(gc);
    void *m = mpgc_alloc_locked(gc, nb, flags & (MPGC_FINALISE | MPGC_NO_SCAN));
    hook_unlock(gc);
    return m;
}

static void report(const mpgc_t *gc, mpgc_bad_t what, const void *ptr) {
    if (gc->cfg.report) gc->cfg.report((mpgc_t *)(uintptr_t)gc, what, ptr, gc->cfg.user);
}

pool_t *mpgc_find_head(const mpgc_t *gc, const void *ptr, size_t *head) {
    pool_t *p = mpgc_pool_of(gc, ptr);
    if (!p) {
        report(gc, MPGC_BAD_FOREIGN, ptr);
        return NULL;
    }
    size_t off = (size_t)((const uint8_t *)ptr - p->base);
    size_t b = off / BLOCK;
    const group_t *g = &p->groups[b / W_BITS];
    if (off % BLOCK != 0 || (!(g->head & bit_of(b)) && (g->tail & bit_of(b)))) {
        report(gc, MPGC_BAD_INTERIOR, ptr);
        return NULL;
    }
    if (!(g->head & bit_of(b))) {
        report(gc, MPGC_BAD_FREED, ptr);
        return NULL;
    }
    *head = b;
    return p;
}

static void free_object(mpgc_t *gc, pool_t *p, size_t b) {
    size_t n = mpgc_object_blocks(p, b);
    range_clear(p, b, n);
    gc->used_blocks -= n;
    mpgc_stats_free(gc, n);
    mpgc_fl_release(gc, p, b, n);
}

void mpgc_free_internal(mpgc_t *gc, void *ptr) {
    if (!MPGC_ENABLE_STEPS) return;
    size_t b;
    pool_t *p = mpgc_find_head(gc, ptr, &b);
    if (p) free_object(gc, p, b);
}

void mpgc_free(mpgc_t *gc, void *ptr) {
    if (!gc || !ptr) return;
    hook_lock(gc);
    size_t b;
    if (gc->lock_depth > 0) {
        report(gc, MPGC_BAD_LOCKED, ptr);
    } else {
        mpgc_idle_abort(gc);
        pool_t *p = mpgc_find_head(gc, ptr, &b);
        if (p) free_object(gc, p, b);
    }
    hook_unlock(gc);
}

size_t mpgc_size(const mpgc_t *gc, const void *ptr) {
    if (!gc || !ptr) return 0;
    hook_lock(gc);
    size_t b, n = 0;
    pool_t *p = mpgc_find_head(gc, ptr, &b);
    if (p) n = mpgc_object_blocks(p, b) * BLOCK;
    hook_unlock(gc);
    return n;
}

/* Grows the allocation at block b from `have` to `want` blocks using the
 * free run right after it, if that run is long enough. */
static bool grow_in_place(mpgc_t *gc, pool_t *p, size_t b, size_t have, size_t want) {
    size_t e = b + have, need = want - have;
    if (!mpgc_fl_take_at(gc, p, e, need)) return false;
    tail_set(p, e, need);
    zero_blocks(block_ptr(p, e), need);
    gc->used_blocks += need;
    mpgc_stats_free(gc, have);
    mpgc_stats_alloc(gc, want);
    return true;
}

static void shrink_in_place(mpgc_t *gc, pool_t *p, size_t b, size_t have, size_t want) {
    range_clear(p, b + want, have - want);
    gc->used_blocks -= have - want;
    mpgc_stats_free(gc, have);
    mpgc_stats_alloc(gc, want);
    mpgc_fl_release(gc, p, b + want, have - want);
}

/* Moving realloc: a new allocation with the same flags, the contents
 * copied, the old one freed without its finaliser (the flag moved). The old
 * object is pinned so that a collection inside the allocation keeps it. */
static void *realloc_move(mpgc_t *gc, void *ptr, pool_t *p, size_t b, size_t have, size_t want) {
    const group_t *g = &p->groups[b / W_BITS];
    unsigned flags = ((g->tail & bit_of(b)) ? MPGC_NO_SCAN : 0u) |
                     ((g->fin & bit_of(b)) ? MPGC_FINALISE : 0u);
    const void *saved_pin = gc->pin;
    gc->pin = ptr;
    void *q = mpgc_alloc_locked(gc, want, flags | MPGC_GROWING);
    gc->pin = saved_pin;
    if (!q) return NULL;
    memcpy(q, ptr, have * BLOCK);
    /* Allocated black, with words the barrier never saw: scan it. */
    if (cycle_of(gc) != CYCLE_NONE && !(flags & MPGC_NO_SCAN)) mpgc_mark_push(gc, q);
    free_object(gc, p, b);
    return q;
}

/* want blocks for the allocation at ptr: in place when it shrinks, or
 * grows into the free run after it; else moved if allowed. */
static void *realloc_locked(mpgc_t *gc, void *ptr, size_t want, bool allow_move) {
    if (gc->lock_depth > 0) {
        report(gc, MPGC_BAD_LOCKED, ptr);
        return NULL;
    }
    mpgc_idle_abort(gc);
    size_t b;
    pool_t *p = mpgc_find_head(gc, ptr, &b);
    if (!p) return NULL;
    size_t have = mpgc_object_blocks(p, b);
    if (want == have) return ptr;
    if (want < have) {
        shrink_in_place(gc, p, b, have, want);
        return ptr;
    }
    if (grow_in_place(gc, p, b, have, want)) return ptr;
    return allow_move ? realloc_move(gc, ptr, p, b, have, want) : NULL;
}

void *mpgc_realloc(mpgc_t *gc, void *ptr, size_t n, bool allow_move) {
    if (!gc) return NULL;
    if (!ptr) return mpgc_alloc(gc, n, 0);
    if (n == 0) {
        mpgc_free(gc, ptr);
        return NULL;
    }
    size_t want;
    if (!to_blocks(n, &want)) return NULL;
    hook_lock(gc);
    void *res = realloc_locked(gc, ptr, want, allow_move);
    hook_unlock(gc);
    return res;
}
