/*
 * freelist.c - the free-run index: where free space is found.
 *
 *   first block of a free run:  [next][prev][nblocks] ...
 *   last block of a free run:   ...                   [nblocks]  (boundary tag)
 *
 * Runs are kept in circular doubly-linked lists, one per size class:
 *   class c < 7:       runs of exactly c+1 blocks
 *   7 <= c < last:     runs in [2^f + s*2^(f-S), 2^f + (s+1)*2^(f-S)),
 *                      f = 3 + (c-7)/2^S, s = (c-7)%2^S, S = MPGC_CLASS_SPLIT_LOG2
 *   last class:        runs of 2^MPGC_CLASS_MAX_LOG2 blocks or more
 * binmap has bit c set iff class c is non-empty, so the smallest non-empty
 * class at or above any size is a few count-trailing-zeros away: finding
 * space costs O(number of classes / word bits), never O(heap).
 */
#include "internal.h"

#define LAST_CLASS (MPGC_NUM_CLASSES - 1u)
/* Smallest request carved from the high end of a run (none when 0). */
#define LARGE_MIN (MPGC_LARGE_BLOCKS ? (size_t)MPGC_LARGE_BLOCKS : SIZE_MAX)
/* Runs of a ranged class looked at before moving to a class that surely fits. */
#define FIT_PROBES 8u

size_t mpgc_class_of(size_t n) {
    if (n < MPGC_CLASS_EXACT) return n - 1;
    unsigned f = floor_log2(n);
    if (f >= MPGC_CLASS_MAX_LOG2) return LAST_CLASS;
    size_t s = (n >> (f - MPGC_CLASS_SPLIT_LOG2)) & (MPGC_CLASS_SPLIT - 1u);
    return (MPGC_CLASS_EXACT - 1u) + (f - 3u) * MPGC_CLASS_SPLIT + s;
}

static size_t *run_tag(uint8_t *start, size_t n) {
    return (size_t *)(void *)(start + n * BLOCK - sizeof(size_t));
}

void mpgc_fl_insert(mpgc_t *gc, uint8_t *start, size_t n, bool at_tail) {
    run_t *r = (run_t *)(void *)start;
    size_t c = mpgc_class_of(n);
    r->nblocks = n;
    *run_tag(start, n) = n;
    run_t *first = gc->bins[c];
    if (!first) {
        r->next = r->prev = r;
        gc->bins[c] = r;
        gc->binmap[c / W_BITS] |= bit_of(c);
        return;
    }
    r->next = first;
    r->prev = first->prev;
    first->prev->next = r;
    first->prev = r;
    if (!at_tail) gc->bins[c] = r;
}

void mpgc_fl_remove(mpgc_t *gc, run_t *r) {
    size_t c = mpgc_class_of(r->nblocks);
    if (r->next == r) {
        gc->bins[c] = NULL;
        gc->binmap[c / W_BITS] &= ~bit_of(c);
        return;
    }
    r->prev->next = r->next;
    r->next->prev = r->prev;
    if (gc->bins[c] == r) gc->bins[c] = r->next;
}

void mpgc_fl_reset(mpgc_t *gc) {
    memset(gc->bins, 0, sizeof gc->bins);
    memset(gc->binmap, 0, sizeof gc->binmap);
}

/* Smallest non-empty class >= c, or MPGC_NUM_CLASSES. */
static size_t next_class(const mpgc_t *gc, size_t c) {
    for (size_t w = c / W_BITS; w < BINMAP_WORDS; w++) {
        word_t m = gc->binmap[w];
        if (w == c / W_BITS) m &= ~(word_t)0 << (c % W_BITS);
        if (m) return w * W_BITS + ctz_word(m);
    }
    return MPGC_NUM_CLASSES;
}

/* Takes n blocks out of run r: small requests from its low end, large ones
 * from its high end; the rest goes back to the index. */
static uint8_t *carve(mpgc_t *gc, run_t *r, size_t n, bool high) {
    uint8_t *start = (uint8_t *)r;
    size_t have = r->nblocks;
    mpgc_fl_remove(gc, r);
    if (have == n) return start;
    if (high) {
        mpgc_fl_insert(gc, start, have - n, false);
        return start + (have - n) * BLOCK;
    }
    mpgc_fl_insert(gc, start + n * BLOCK, have - n, false);
    return start;
}

static run_t *find_fit(const mpgc_t *gc, size_t n) {
    size_t c = mpgc_class_of(n);
    run_t *r = gc->bins[c];
    if (r) {
        if (c < MPGC_CLASS_EXACT - 1u) return r; /* exact class: exact fit */
        size_t probes = c == LAST_CLASS ? SIZE_MAX : FIT_PROBES;
        run_t *q = r;
        do {
            if (q->nblocks >= n) return q;
            q = q->next;
        } while (q != r && --probes);
    }
    if (c == LAST_CLASS) return NULL;
    size_t c2 = next_class(gc, c + 1);
    if (c2 < MPGC_NUM_CLASSES) return gc->bins[c2];
    /* Rare: nothing larger exists, but a run of n's own class beyond the
     * probes may still fit. Never fail while a long enough run exists. */
    for (run_t *q = r ? r->next : NULL; q && q != r; q = q->next)
        if (q->nblocks >= n) return q;
    return NULL;
}

/* MicroPython's placement: the lowest-addressed run that fits, found by
 * walking runs upwards from the lowest free block. O(runs below it). */
static uint8_t *take_first_fit(mpgc_t *gc, size_t n) {
    bool lowest = true;
    for (pool_t *p = gc->pools; p; p = p->next) {
        if (p->end <= gc->first_free) continue;
        size_t b = gc->first_free > p->base ? block_index(p, gc->first_free) : 0;
        for (;;) {
            b = mpgc_next_free(p, b);
            if (b >= p->nblocks) break;
            run_t *r = (run_t *)(void *)block_ptr(p, b);
            if (lowest) gc->first_free = (uint8_t *)r;
            lowest = false;
            if (r->nblocks >= n) return carve(gc, r, n, false);
            b += r->nblocks;
        }
    }
    return NULL;
}

uint8_t *mpgc_fl_take(mpgc_t *gc, size_t n) {
    if (gc->cfg.policy == MPGC_POLICY_FIRST_FIT) return take_first_fit(gc, n);
    run_t *r = find_fit(gc, n);
    if (!r) return NULL;
    return carve(gc, r, n, n >= LARGE_MIN);
}

void mpgc_fl_release(mpgc_t *gc, pool_t *p, size_t b, size_t n) {
    size_t start = b, len = n;
    if (b + n < p->nblocks && block_is_free(p, b + n)) {
        run_t *next = (run_t *)(void *)block_ptr(p, b + n);
        len += next->nblocks;
        mpgc_fl_remove(gc, next);
    }
    if (b > 0 && block_is_free(p, b - 1)) {
        size_t before = *(size_t *)(void *)(block_ptr(p, b) - sizeof(size_t));
        start -= before;
        len += before;
        mpgc_fl_remove(gc, (run_t *)(void *)block_ptr(p, start));
    }
    mpgc_fl_insert(gc, block_ptr(p, start), len, false);
    if (block_ptr(p, start) < gc->first_free) gc->first_free = block_ptr(p, start);
}

size_t mpgc_fl_max_run(const mpgc_t *gc) {
    size_t top = MPGC_NUM_CLASSES;
    for (size_t w = BINMAP_WORDS; w-- > 0 && top == MPGC_NUM_CLASSES;)
        if (gc->binmap[w])
            top = w * W_BITS + W_BITS - 1 - clz_word(gc->binmap[w]);
    if (top == MPGC_NUM_CLASSES) return 0;
    if (top < MPGC_CLASS_EXACT - 1u) return top + 1;
    size_t best = 0;
    const run_t *r = gc->bins[top], *q = r;
    do {
        if (q->nblocks > best) best = q->nblocks;
        q = q->next;
    } while (q != r);
    return best;
}
