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
 * and the index of a heap keeps only the classes up to one past its first
 * pool's longest run (gc->last_class, mpgc_fl_classes): that last class
 * then holds every longer run (of pools added later) as the last class
 * above does, searched whole.
 * binmap has bit c set iff class c is non-empty, so the smallest non-empty
 * class at or above any size is a few count-trailing-zeros away: finding
 * space costs O(number of classes / word bits), never O(heap).
 *
 * The current run, one maximal free run outside the lists:
 *
 *   allocated | [bump ........... bump_end) | allocated or pool end
 *
 * Small requests without an exact-size run take its low end (bump += n).
 * It is empty when bump == bump_end, wherever they point (the fast path
 * does not reset them); an empty current run is never a neighbour.
 *
 * After a sweep the lists are empty and the free runs of a band of the
 * heap [idx_lo, idx_hi) are indexed by allocation as it needs them, from
 * the band's low end (the lazy index, the last section of this file).
 */
#include "internal.h"

/* Runs of a ranged class looked at before moving to a class that surely fits. */
#define FIT_PROBES 8u
/* Blocks the lazy index passes per step, at least. */
#define INDEX_STEP (16u * W_BITS)
/* Larger non-empty classes whose heads a small request compares. */
#define SMALL_SCAN 4u
/* Large requests under 1/MID_DIV of recent_large are placed low (rule 2). */
#define MID_DIV 8u
/* recent_large loses 1/RECENT_DECAY of itself at every large request. */
#define RECENT_DECAY 64u

size_t mpgc_class_of(const mpgc_t *gc, size_t n) {
    if (n < MPGC_CLASS_EXACT) return n - 1; /* the common case: no clamp */
    size_t c = MPGC_CLASS_RANGED(n, floor_log2(n));
    return c < gc->last_class ? c : gc->last_class;
}

static size_t *run_tag(uint8_t *start, size_t n) {
    return (size_t *)(void *)(start + n * BLOCK - sizeof(size_t));
}

/* Links run r of n blocks (header and boundary tag written) into class c.
 * at_tail: append (the sweep, which inserts in address order); otherwise
 * r becomes the head only if it is lower than the head, so that heads stay
 * low runs. */
static inline void link_run(mpgc_t *gc, run_t *r, size_t n, size_t c, bool at_tail) {
    r->nblocks = n;
    *run_tag((uint8_t *)r, n) = n;
    if (gc->max_run_valid && n > gc->max_run) gc->max_run = n;
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
    if (!at_tail && r < first) gc->bins[c] = r;
}

static inline void unlink_run(mpgc_t *gc, run_t *r, size_t c) {
    if (r->nblocks == gc->max_run) gc->max_run_valid = false;
    if (r->next == r) {
        gc->bins[c] = NULL;
        gc->binmap[c / W_BITS] &= ~bit_of(c);
        return;
    }
    r->prev->next = r->next;
    r->next->prev = r->prev;
    if (gc->bins[c] == r) gc->bins[c] = r->next;
}

void mpgc_fl_insert(mpgc_t *gc, uint8_t *start, size_t n, bool at_tail) {
    link_run(gc, (run_t *)(void *)start, n, mpgc_class_of(gc, n), at_tail);
}

void mpgc_fl_remove(mpgc_t *gc, run_t *r) { unlink_run(gc, r, mpgc_class_of(gc, r->nblocks)); }

/* The control block is a valid address to subtract, and never a block. */
static void current_clear(mpgc_t *gc) { gc->bump = gc->bump_end = (uint8_t *)gc; }

/* Does the (non-empty) current run end at `at` (its last block's end)? */
static bool current_ends(const mpgc_t *gc, const uint8_t *at) {
    return at == gc->bump_end && gc->bump != gc->bump_end;
}

/* Indexes the current run again (it is maximal: no coalescing needed). */
static void current_retire(mpgc_t *gc) {
    size_t n = mpgc_fl_current(gc);
    if (n > 0) link_run(gc, (run_t *)(void *)gc->bump, n, mpgc_class_of(gc, n), false);
    current_clear(gc);
}

void mpgc_fl_reset(mpgc_t *gc) {
    memset(gc->bins, 0, (gc->last_class + 1u) * sizeof gc->bins[0]);
    memset(gc->binmap, 0, sizeof gc->binmap);
    gc->max_run = 0;
    gc->max_run_valid = true;
    current_clear(gc);
}

/* Takes n blocks out of run r: from its low end, or from its high end for
 * large requests. The remainder keeps r's place in its list when it keeps
 * r's class (only r's neighbours are touched), else moves to its class. */
static uint8_t *carve(mpgc_t *gc, run_t *r, size_t n, bool high) {
    uint8_t *start = (uint8_t *)r;
    size_t have = r->nblocks, c = mpgc_class_of(gc, have), left = have - n;
    if (left == 0) {
        unlink_run(gc, r, c);
        return start;
    }
    uint8_t *rest = high ? start : start + n * BLOCK;
    size_t c2 = mpgc_class_of(gc, left);
    run_t *q = (run_t *)(void *)rest;
    if (c2 != c) {
        unlink_run(gc, r, c);
        link_run(gc, q, left, c2, false);
    } else {
        if (have == gc->max_run) gc->max_run_valid = false;
        if (q != r) {
            if (r->next == r) {
                q->next = q->prev = q;
            } else {
                q->next = r->next;
                q->prev = r->prev;
                q->prev->next = q;
                q->next->prev = q;
            }
            if (gc->bins[c] == r) gc->bins[c] = q;
        }
        q->nblocks = left;
        *run_tag(rest, left) = left;
    }
    return high ? start + left * BLOCK : start;
}

/* The lowest-addressed run of at least n blocks, found by walking runs
 * upwards from the lowest free block. O(runs below it). Moves first_free up
 * to the lowest run. */
static run_t *lowest_fit(mpgc_t *gc, size_t n) {
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
            if (r->nblocks >= n) return r;
            b += r->nblocks;
        }
    }
    return NULL;
}

/* MPGC_POLICY_FIT: small requests fill the heap from the bottom, the
 * largest requests from the top, so that long-lived small objects do not
 * split the long runs large buffers need.
 *  - high (the largest requests): the first run of n's own class that
 *    fits, looking from the list's tail; else the highest-addressed tail of
 *    all larger non-empty classes.
 *  - low (small and mid-size requests): the lowest-addressed of: the first
 *    run of n's own class that fits (exact class: its head; ranged: the
 *    first of FIT_PROBES from the head) and the heads of the next
 *    SMALL_SCAN non-empty classes (mid-size: of all larger classes), which
 *    all fit.
 * Heads are low runs and tails high ones because lists are kept roughly
 * address-ordered: the sweep rebuilds them in order, and a run inserted
 * later goes to the head only when it is lower than the head.
 * Cost: O(classes), whatever the heap size. */
/* Out of line: two callers, and inlined into both at MicroPython's -O3
 * it cost 450 B of firmware for no measurable speed. */
static MPGC_NOINLINE run_t *find_fit(const mpgc_t *gc, size_t n, bool high) {
    size_t c = mpgc_class_of(gc, n);
    run_t *best = NULL;
    run_t *r = gc->bins[c];
    if (r) {
        run_t *first = high ? r->prev : r, *q = first;
        if (c < MPGC_CLASS_EXACT - 1u) {
            best = first; /* exact class: exact fit */
        } else {
            size_t probes = c == gc->last_class ? SIZE_MAX : FIT_PROBES;
            do {
                if (q->nblocks >= n) {
                    best = q;
                    break;
                }
                q = high ? q->prev : q->next;
            } while (q != first && --probes);
        }
        if (best && high) return best;
    }
    size_t k = high || n >= LARGE_MIN ? SIZE_MAX : SMALL_SCAN;
    for (size_t w = (c + 1) / W_BITS; w < BINMAP_WORDS && k > 0; w++) {
        word_t m = gc->binmap[w];
        if (w == (c + 1) / W_BITS) m &= ~(word_t)0 << ((c + 1) % W_BITS);
        for (; m && k > 0; m &= m - 1, k--) {
            run_t *h = gc->bins[w * W_BITS + ctz_word(m)];
            run_t *q = high ? h->prev : h;
            if (!best || (high ? q > best : q < best)) best = q;
        }
    }
    if (best) return best;
    /* Rare: nothing larger exists, but a run of n's own class beyond the
     * probes may still fit. Never fail while a long enough run exists. */
    for (run_t *q = r ? r->next : NULL; q && q != r; q = q->next)
        if (q->nblocks >= n) return q;
    return NULL;
}

/* MicroPython's placement: the lowest-addressed run that fits, found by
 * walking runs upwards from the lowest free block. O(runs below it). */
static uint8_t *take_first_fit(mpgc_t *gc, size_t n) {
    mpgc_fl_index_all(gc); /* lowest_fit reads every run's header */
    run_t *r = lowest_fit(gc, n);
    return r ? carve(gc, r, n, false) : NULL;
}

/* The highest non-empty class (MPGC_NUM_CLASSES if none). */
static size_t top_class(const mpgc_t *gc) {
    for (size_t w = BINMAP_WORDS; w-- > 0;)
        if (gc->binmap[w]) return w * W_BITS + W_BITS - 1 - clz_word(gc->binmap[w]);
    return MPGC_NUM_CLASSES;
}

/* The highest non-empty class below c that is at least cmin
 * (MPGC_NUM_CLASSES if none). */
static size_t class_below(const mpgc_t *gc, size_t c, size_t cmin) {
    while (c-- > cmin) {
        word_t m = gc->binmap[c / W_BITS] & (~(word_t)0 >> (W_BITS - 1 - c % W_BITS));
        if (m) {
            c = c / W_BITS * W_BITS + W_BITS - 1 - clz_word(m);
            return c >= cmin ? c : MPGC_NUM_CLASSES;
        }
        c = c / W_BITS * W_BITS; /* the rest of this binmap word is empty */
    }
    return MPGC_NUM_CLASSES;
}

const run_t *mpgc_fl_walk(const mpgc_t *gc, const run_t *after, size_t cmin) {
    size_t c;
    if (after) {
        c = mpgc_class_of(gc, after->nblocks);
        if (after->next != gc->bins[c]) return after->next;
    } else {
        c = MPGC_NUM_CLASSES;
    }
    c = class_below(gc, c, cmin);
    return c < MPGC_NUM_CLASSES ? gc->bins[c] : NULL;
}

/* Where a growing object moves (a realloc that could not grow in place):
 * the low end of the highest run of the top non-empty class, so that the
 * longest free space lies above it to grow into. NULL if that run is too
 * short (then the usual placement applies). */
static run_t *roomiest(const mpgc_t *gc, size_t n) {
    size_t top = top_class(gc);
    if (top == MPGC_NUM_CLASSES) return NULL;
    run_t *r = gc->bins[top]->prev;
    return r->nblocks >= n ? r : NULL;
}

/* Would giving n blocks of run r to a small request eat into the reserve:
 * r is of the top non-empty class (the longest runs) and fewer than
 * MPGC_RESERVE_LARGE times the recent large request would be left? */
static bool in_reserve(const mpgc_t *gc, const run_t *r, size_t n) {
    return r->nblocks - n < (size_t)MPGC_RESERVE_LARGE * gc->recent_large &&
           mpgc_class_of(gc, r->nblocks) == top_class(gc);
}

/* Should a request that would cut into the reserve fail, so that the heap
 * is collected first? Only if a collection follows a NULL (mpgc's own,
 * while enabled; the caller's, with cfg.caller_collects), at most once
 * between two collections (a retry without collecting then succeeds), and
 * once at least one recent large request's worth was allocated since the
 * last collection (collecting sooner would not free that much). */
static bool collect_first(mpgc_t *gc) {
    /* Not while a cycle in steps is open: it is the collection, and ending
     * it for a request that fits would be its whole rest in one pause. */
    if (cycle_of(gc) != CYCLE_NONE) return false;
    if (!(gc->enabled || gc->cfg.caller_collects) || gc->declined_in == gc->collections + 1 ||
        gc->since_collect < gc->recent_large * BLOCK)
        return false;
    gc->declined_in = gc->collections + 1;
    return true;
}

/* The lazy index's step (below, with the band it shrinks). */
static size_t index_up(mpgc_t *gc, size_t want);
static void band_close_if_empty(mpgc_t *gc);

/* Slow path of mpgc_fl_take: rules 1-4 of docs/design.md section 2, over
 * the whole free space (the current run is indexed again first, so it can
 * never make a request fail). A small request's run leaves the index whole
 * and its rest becomes the current run, unless that run is the reserve
 * (rule 4): then NULL when collect_first() says so (the heap is collected
 * and the request retried); else n blocks are cut from its low end and
 * there is no current run, so the next small request looks again. */
uint8_t *mpgc_fl_take_slow(mpgc_t *gc, size_t n, bool growing) {
    if (first_fit(gc)) return take_first_fit(gc, n);
    current_retire(gc);
    bool high = n >= LARGE_MIN && n * MID_DIV >= gc->recent_large;
    /* Requests placed high (and growing ones) are placed against the whole
     * index: their rule picks by class first, then address, among all runs
     * (indexing from the top only until one fits took big runs apart:
     * bench workload 2 at 16 MiB, 90 % mean fragmentation against 42 %).
     * The others take the lowest run that fits, indexing upwards until one
     * is in. */
    if ((high || growing) && gc->idx_lo) mpgc_fl_index_all(gc);
    run_t *r = growing ? roomiest(gc, n) : NULL;
    if (r) return carve(gc, r, n, false);
    while (!(r = find_fit(gc, n, high)) && gc->idx_lo) index_up(gc, n);
    if (!r) return NULL;
    if (n >= LARGE_MIN) { /* mid-size: the low end of a low run */
        size_t decayed = gc->recent_large - gc->recent_large / RECENT_DECAY;
        gc->recent_large = n > decayed ? n : decayed;
        return carve(gc, r, n, high);
    }
    if (in_reserve(gc, r, n) && gc->idx_lo) { /* judged on the whole index */
        mpgc_fl_index_all(gc);
        r = find_fit(gc, n, false);
    }
    if (in_reserve(gc, r, n)) {
        if (collect_first(gc)) return NULL;
        return carve(gc, r, n, false);
    }
    unlink_run(gc, r, mpgc_class_of(gc, r->nblocks));
    uint8_t *m = (uint8_t *)r;
    gc->bump_end = m + r->nblocks * BLOCK;
    gc->bump = m + n * BLOCK;
    return m;
}

uint8_t *mpgc_fl_take_high(mpgc_t *gc, size_t n) {
    if (!MPGC_ENABLE_STEPS) return NULL;
    if (first_fit(gc)) return take_first_fit(gc, n);
    current_retire(gc);
    /* Indexing upwards only until a run fits, as small requests do: this
     * is called inside a collection step, which must stay short (indexing
     * the whole band after a sweep of 32 MiB took 1-2 ms). */
    run_t *r;
    while (!(r = find_fit(gc, n, true)) && gc->idx_lo) index_up(gc, n);
    return r ? carve(gc, r, n, true) : NULL;
}

uint8_t *mpgc_fl_take_exact(mpgc_t *gc, size_t n) {
    run_t *r = gc->bins[n - 1];
    unlink_run(gc, r, n - 1);
    return (uint8_t *)r;
}

/* p is all free. Inside the lazy index's band its run is in no list, and
 * only the band's ends may have to leave it (a pool given back right after
 * a collection, as MICROPY_GC_SPLIT_HEAP_AUTO does, indexes nothing). */
void mpgc_fl_forget(mpgc_t *gc, pool_t *p) {
    if (gc->idx_lo && gc->idx_lo <= p->base && gc->idx_hi >= p->end) {
        const pool_t *prev = NULL;
        for (const pool_t *q = gc->pools; q != p; q = q->next) prev = q;
        if (gc->idx_lo == p->base) gc->idx_lo = p->next ? p->next->base : p->end;
        if (gc->idx_hi == p->end) gc->idx_hi = prev ? prev->end : p->base;
        band_close_if_empty(gc);
        return;
    }
    mpgc_fl_index_all(gc);
    if (mpgc_fl_current_at(gc, p->base)) current_clear(gc);
    else mpgc_fl_remove(gc, (run_t *)(void *)p->base);
}

bool mpgc_fl_take_at(mpgc_t *gc, pool_t *p, size_t b, size_t n) {
    if (b >= p->nblocks || !block_is_free(p, b)) return false;
    if (unindexed(gc, p, b)) { /* in no list: the band's own blocks, up to its top */
        size_t top = gc->idx_hi < p->end ? block_index(p, gc->idx_hi) : p->nblocks;
        return n <= top - b && mpgc_next_used(p, b) - b >= n; /* (n may be huge) */
    }
    uint8_t *at = block_ptr(p, b);
    if (mpgc_fl_current_at(gc, at)) {
        if (mpgc_fl_current(gc) < n) return false;
        gc->bump = at + n * BLOCK;
        return true;
    }
    run_t *r = (run_t *)(void *)at;
    size_t len = r->nblocks;
    if (len < n) return false;
    mpgc_fl_remove(gc, r);
    if (len > n) mpgc_fl_insert(gc, at + n * BLOCK, len - n, false);
    return true;
}

/* Indexes the free blocks [b, b+n) of pool p, coalescing with both free
 * neighbours: an indexed run (found through the next run's header or the
 * previous run's boundary tag) or the current run (found by its address).
 * A merge with the current run extends it. Both neighbours must be
 * indexed (or be the current run) if free. Returns the merged length. */
static size_t index_range(mpgc_t *gc, pool_t *p, size_t b, size_t n) {
    uint8_t *lo = block_ptr(p, b), *hi = block_ptr(p, b + n);
    bool current = false;
    if (b + n < p->nblocks && block_is_free(p, b + n)) {
        if (mpgc_fl_current_at(gc, hi)) {
            hi = gc->bump_end;
            current = true;
        } else {
            run_t *next = (run_t *)(void *)hi;
            hi += next->nblocks * BLOCK;
            mpgc_fl_remove(gc, next);
        }
    }
    if (b > 0 && block_is_free(p, b - 1)) {
        if (current_ends(gc, lo)) {
            lo = gc->bump;
            current = true;
        } else {
            lo -= *(size_t *)(void *)(lo - sizeof(size_t)) * BLOCK;
            mpgc_fl_remove(gc, (run_t *)(void *)lo);
        }
    }
    if (current) {
        gc->bump = lo;
        gc->bump_end = hi;
    } else {
        mpgc_fl_insert(gc, lo, (size_t)(hi - lo) / BLOCK, false);
    }
    if (lo < gc->first_free) gc->first_free = lo;
    return (size_t)(hi - lo) / BLOCK;
}

/* Blocks freed in or next to the lazy index's band join the band instead
 * of the lists: the band's free blocks beside them have no header or tag
 * to merge with. The band only ever grows over freed blocks. */
void mpgc_fl_release(mpgc_t *gc, pool_t *p, size_t b, size_t n) {
    uint8_t *lo = block_ptr(p, b), *hi = block_ptr(p, b + n);
    if (lo < gc->first_free) gc->first_free = lo;
    if (gc->idx_lo && lo <= gc->idx_hi && hi >= gc->idx_lo) {
        if (lo < gc->idx_lo) gc->idx_lo = lo;
        if (hi > gc->idx_hi) gc->idx_hi = hi;
        return;
    }
    index_range(gc, p, b, n);
}

/* ---- the lazy index (design.md section 4) ----------------------------- */
/*
 *   [ indexed runs ][ band: free runs in no list ][ indexed runs ]
 *                   ^ idx_lo                      ^ idx_hi
 *
 * A run that crosses idx_lo or idx_hi is listed cut there (its part in the
 * band is not); a step indexes the runs at the band's low end, merging
 * with the cut part below, and moves idx_lo over them (requests placed
 * high index the whole band: mpgc_fl_take_slow). An object may cross
 * idx_lo (in-place growth from below into the band), never idx_hi
 * (in-place growth in the band stops there); freeing one in or next to the
 * band widens the band over it (mpgc_fl_release), which is how idx_hi can
 * lie below a pool's end. */

static void band_close_if_empty(mpgc_t *gc) {
    if (gc->idx_lo >= gc->idx_hi) gc->idx_lo = gc->idx_hi = NULL;
}

void mpgc_fl_reindex(mpgc_t *gc) {
    mpgc_fl_reset(gc);
    pool_t *last = gc->pools;
    while (last->next) last = last->next;
    gc->idx_lo = gc->pools->base;
    gc->idx_hi = last->end;
    gc->first_free = gc->lo; /* a lower bound: "no free block below" holds */
}

/* The pool holding the lowest band block (the band starts at a block). */
static pool_t *band_low_pool(const mpgc_t *gc) {
    pool_t *p = gc->pools;
    while (gc->idx_lo >= p->end) p = p->next;
    return p;
}

/* Indexes free runs at the band's low end, upwards, until one of at least
 * `want` blocks (after merging) is in, INDEX_STEP blocks have been passed,
 * or the band's part in this pool is done. A small request indexes about
 * one run. Returns the runs indexed. */
static size_t index_up(mpgc_t *gc, size_t want) {
    pool_t *p = band_low_pool(gc);
    size_t b = block_index(p, gc->idx_lo);
    size_t lim = gc->idx_hi <= p->end ? block_index(p, gc->idx_hi) : p->nblocks;
    size_t stop = lim - b > INDEX_STEP ? b + INDEX_STEP : lim, runs = 0;
    while (b < stop) {
        size_t s = mpgc_next_free(p, b);
        if (s >= lim) {
            b = lim;
            break;
        }
        size_t e = mpgc_next_used(p, s);
        if (e > lim) e = lim;
        gc->idx_lo = block_ptr(p, e); /* [s, e) leaves the band first */
        b = e;
        runs++;
        if (index_range(gc, p, s, e - s) >= want) break;
    }
    gc->idx_lo = b < p->nblocks ? block_ptr(p, b) : p->next ? p->next->base : p->end;
    band_close_if_empty(gc);
    return runs;
}

size_t mpgc_fl_index_all(mpgc_t *gc) {
    size_t runs = 0;
    while (gc->idx_lo) runs += index_up(gc, SIZE_MAX);
    return runs;
}

/* The longest indexed run: cached, exact while max_run_valid (an insert
 * can only raise it; removing or shrinking a run of that length invalidates
 * it); else the runs of the top non-empty class are compared, and cached. */
static size_t max_indexed_run(const mpgc_t *gc) {
    if (gc->max_run_valid) return gc->max_run;
    size_t top = top_class(gc), best = 0;
    if (top < MPGC_CLASS_EXACT - 1u) {
        best = top + 1;
    } else if (top < MPGC_NUM_CLASSES) {
        const run_t *r = gc->bins[top], *q = r;
        do {
            if (q->nblocks > best) best = q->nblocks;
            q = q->next;
        } while (q != r);
    }
    mpgc_t *mut = (mpgc_t *)(uintptr_t)gc; /* the cache is not state */
    mut->max_run = best;
    mut->max_run_valid = true;
    return best;
}

/* The longest free run with blocks in the lazy index's band, read from
 * the tables only (so that it is safe inside a collection, while the mark
 * stack uses free runs): O(groups in the band). Runs are measured whole,
 * with their listed parts beyond the band's ends. */
static size_t max_band_run(const mpgc_t *gc) {
    size_t best = 0;
    for (const pool_t *p = gc->pools; p; p = p->next) {
        if (p->end <= gc->idx_lo || p->base >= gc->idx_hi) continue;
        size_t b = gc->idx_lo > p->base ? block_index(p, gc->idx_lo) : 0;
        size_t lim = gc->idx_hi < p->end ? block_index(p, gc->idx_hi) : p->nblocks;
        while ((b = mpgc_next_free(p, b)) < lim) {
            size_t u = mpgc_prev_used(p, b), e = mpgc_next_used(p, b);
            size_t len = e - (u == SIZE_MAX ? 0 : u + 1);
            if (len > best) best = len;
            b = e;
        }
    }
    return best;
}

size_t mpgc_fl_max_run(const mpgc_t *gc) {
    size_t indexed = max_indexed_run(gc), current = mpgc_fl_current(gc);
    size_t best = indexed > current ? indexed : current;
    if (gc->idx_lo) {
        size_t rest = max_band_run(gc);
        if (rest > best) best = rest;
    }
    return best;
}
