/*
 * markstack.c - the mark stack's spill into free memory (docs/design.md
 * section 3).
 *
 * The top MPGC_MARK_STACK_SIZE entries live in the control block (mark.c
 * pushes and pops there). When that part is full its older half moves into
 * a segment: the inside of a free run. Free runs hold no live data and
 * nothing allocates until the collection ends, so they are scratch space
 * for the collection. An indexed run keeps its header and boundary tag, so
 * the index stays valid throughout:
 *
 *   [next][prev][nblocks][prev seg][its fill][blocks][next seg][entry 0 ...][tag]
 *    \___ run header ___/ \_______ segment words (SEG_*) _____/
 *
 * Segments are used in one fixed order: the current run, indexed runs from
 * the top class down (freelist.c), only of classes whose every run holds
 * half the in-block stack, then free runs in the lazy index's band, found
 * in the tables. A spill is one copy into one segment. `seg` is the
 * segment holding the newest spilled entries; it is NULL exactly when
 * nothing is spilled. A segment's successor, once found, is kept in it, so
 * going back and forth between two segments costs O(1).
 *
 * In an incremental cycle the runtime allocates between steps, so free
 * runs are not scratch space: segments are then allocations of their own
 * (mpgc_alloc_internal, no-scan, OWN_BLOCKS blocks, same layout, the run
 * header words unused), given back as soon as they are emptied. A segment
 * is one of those exactly when its first block is a head.
 */
#include "internal.h"

#define HALF (MPGC_MARK_STACK_SIZE / 2u)
#define WORD_BYTES sizeof(word_t)
#define HEADER_WORDS 3u /* run_t: next, prev, nblocks */
enum { SEG_PREV = HEADER_WORDS, SEG_PREV_FILL, SEG_BLOCKS, SEG_NEXT, SEG_ENTRIES };
#define SEG_OVERHEAD (SEG_ENTRIES + 1u /* tag */)
/* Blocks a run needs to hold HALF entries. */
#define SEG_MIN ((((size_t)HALF + SEG_OVERHEAD) * WORD_BYTES + BLOCK - 1u) / BLOCK)

_Static_assert(sizeof(run_t) == HEADER_WORDS * WORD_BYTES, "segment layout assumes a 3-word run header");
_Static_assert(sizeof(void *) == WORD_BYTES, "entries are stored as words");

/* An incremental cycle's segments: at least a large request, so that they
 * are carved from the high ends of runs, away from small objects. */
#define OWN_BLOCKS (MPGC_LARGE_BLOCKS > SEG_MIN ? (size_t)MPGC_LARGE_BLOCKS : SEG_MIN)

static word_t *entries(word_t *seg) { return seg + SEG_ENTRIES; }

static size_t capacity(const word_t *seg) {
    return seg[SEG_BLOCKS] * (BLOCK / WORD_BYTES) - SEG_OVERHEAD;
}

/* The smallest class all of whose runs have at least SEG_MIN blocks. */
static size_t min_class(const mpgc_t *gc) {
    size_t c = mpgc_class_of(gc, SEG_MIN);
    return SEG_MIN > 1 && mpgc_class_of(gc, SEG_MIN - 1) == c ? c + 1 : c;
}

/* The first free stretch of at least SEG_MIN blocks in the lazy index's
 * band (freelist.c) at or after address `from`, found in the tables (runs
 * there have no header) and cut at the band's top; its length in *n. NULL
 * if none. */
static word_t *stretch_from(const mpgc_t *gc, const uint8_t *from, size_t *n) {
    for (const pool_t *p = gc->pools; p && p->base < gc->idx_hi; p = p->next) {
        if (p->end <= from) continue;
        size_t b = from > p->base ? block_index(p, from) : 0;
        size_t lim = gc->idx_hi < p->end ? block_index(p, gc->idx_hi) : p->nblocks;
        while ((b = mpgc_next_free(p, b)) < lim) {
            size_t e = mpgc_next_used(p, b);
            if (e > lim) e = lim;
            if (e - b >= SEG_MIN) {
                *n = e - b;
                return (word_t *)(void *)block_ptr(p, b);
            }
            b = e;
        }
    }
    return NULL;
}

/* The segment after seg (NULL: the first) in the fixed order, and its
 * length in blocks in *n; NULL when free memory is used up. */
static word_t *next_segment(const mpgc_t *gc, const word_t *seg, size_t *n) {
    if (seg) {
        const pool_t *p = mpgc_pool_of(gc, seg);
        size_t b = block_index(p, seg);
        if (unindexed(gc, p, b)) return stretch_from(gc, block_ptr(p, b + seg[SEG_BLOCKS]), n);
    }
    const run_t *after = NULL;
    if (!seg) {
        if ((*n = mpgc_fl_current(gc)) >= SEG_MIN) return (word_t *)(void *)gc->bump;
    } else if (!mpgc_fl_current_at(gc, (const uint8_t *)seg)) {
        after = (const run_t *)(const void *)seg;
    }
    const run_t *r = mpgc_fl_walk(gc, after, min_class(gc));
    if (r) {
        *n = r->nblocks;
        return (word_t *)(uintptr_t)r;
    }
    return gc->idx_lo ? stretch_from(gc, gc->idx_lo, n) : NULL;
}

static bool owned(const mpgc_t *gc, const word_t *seg) {
    word_t bit;
    const group_t *g = mpgc_group_of(gc, seg, &bit); /* sets bit: sequenced before its use */
    return (g->head & bit) != 0;
}

static word_t *own_segment(mpgc_t *gc, size_t *n) {
    *n = OWN_BLOCKS;
    return (word_t *)mpgc_alloc_internal(gc, OWN_BLOCKS);
}

bool mpgc_ms_spill(mpgc_t *gc) {
    if (!MPGC_ENABLE_SPILL) return false; /* overflow rescans only */
    word_t *seg = gc->seg;
    if (!seg || gc->seg_fill + HALF > capacity(seg)) {
        word_t *next = seg ? (word_t *)seg[SEG_NEXT] : NULL;
        if (!next) {
            size_t n;
            next = cycle_of(gc) == CYCLE_INCREMENTAL ? own_segment(gc, &n) : next_segment(gc, seg, &n);
            if (!next) return false;
            next[SEG_BLOCKS] = n;
            next[SEG_NEXT] = 0;
            if (seg) seg[SEG_NEXT] = (word_t)next;
        }
        next[SEG_PREV] = (word_t)seg;
        next[SEG_PREV_FILL] = gc->seg_fill;
        gc->seg = seg = next;
        gc->seg_fill = 0;
    }
    memcpy(entries(seg) + gc->seg_fill, gc->mark_stack, HALF * sizeof gc->mark_stack[0]);
    gc->seg_fill += HALF;
    gc->msp -= HALF;
    memmove(gc->mark_stack, gc->mark_stack + HALF, gc->msp * sizeof gc->mark_stack[0]);
    return true;
}

bool mpgc_ms_refill(mpgc_t *gc) {
    word_t *seg = gc->seg;
    if (!MPGC_ENABLE_SPILL || !seg) return false;
    size_t k = gc->seg_fill < HALF ? gc->seg_fill : HALF;
    gc->seg_fill -= k;
    memcpy(gc->mark_stack, entries(seg) + gc->seg_fill, k * sizeof gc->mark_stack[0]);
    gc->msp = k;
    if (gc->seg_fill == 0) {
        word_t *prev = (word_t *)seg[SEG_PREV];
        gc->seg = prev;
        gc->seg_fill = seg[SEG_PREV_FILL];
        if (cycle_of(gc) == CYCLE_INCREMENTAL && owned(gc, seg)) { /* given back: the chain forgets it */
            if (prev) prev[SEG_NEXT] = 0;
            mpgc_free_internal(gc, seg);
        }
    }
    return true;
}

void mpgc_ms_discard(mpgc_t *gc) {
    if (!MPGC_ENABLE_STEPS) return;
    for (word_t *seg = gc->seg, *prev; seg; seg = prev) {
        prev = (word_t *)seg[SEG_PREV];
        if (owned(gc, seg)) mpgc_free_internal(gc, seg);
    }
    gc->seg = NULL;
    gc->seg_fill = 0;
}
