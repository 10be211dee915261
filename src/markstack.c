/*
 * markstack.c - the mark stack's spill into free memory (docs/design.md
 * section 3).
 *
 * The top MPGC_MARK_STACK_SIZE entries live in the control block (mark.c
 * pushes and pops there). When that part is full its older half moves into
 * a segment: the inside of a free run that existed when the collection
 * started. Free runs hold no live data and nothing allocates until the
 * collection ends, so they are scratch space for the collection; their
 * header and boundary tag are kept, so the index stays valid throughout:
 *
 *   [next][prev][nblocks][prev segment][its fill][entry 0 ... entry k-1 ...][tag]
 *    \___ run header ___/ \__ SEG_LINK words __/  \___ SEG_CAP(run) ___/
 *
 * Segments are used in one fixed order: the current run, then indexed runs
 * from the top class down (freelist.c), only of classes whose every run
 * holds half the in-block stack (so a spill is one copy into one segment
 * and finding the next segment is O(1)). `seg` is the segment holding the
 * newest spilled entries; it is NULL exactly when nothing is spilled.
 */
#include "internal.h"

#define HALF (MPGC_MARK_STACK_SIZE / 2u)
#define WORD_BYTES sizeof(word_t)
#define HEADER_WORDS 3u /* run_t: next, prev, nblocks */
#define SEG_LINK 2u     /* previous segment, its fill */
#define SEG_OVERHEAD (HEADER_WORDS + SEG_LINK + 1u /* tag */)
/* Blocks a run needs to hold HALF entries. */
#define SEG_MIN ((((size_t)HALF + SEG_OVERHEAD) * WORD_BYTES + BLOCK - 1u) / BLOCK)

_Static_assert(sizeof(run_t) == HEADER_WORDS * WORD_BYTES, "segment layout assumes a 3-word run header");

static size_t seg_blocks(const mpgc_t *gc, const word_t *seg) {
    if (mpgc_fl_current_at(gc, (const uint8_t *)seg)) return mpgc_fl_current(gc);
    return ((const run_t *)(const void *)seg)->nblocks;
}

static size_t seg_cap(const mpgc_t *gc, const word_t *seg) {
    return seg_blocks(gc, seg) * (BLOCK / WORD_BYTES) - SEG_OVERHEAD;
}

static word_t *entries(word_t *seg) { return seg + HEADER_WORDS + SEG_LINK; }

/* The smallest class all of whose runs have at least SEG_MIN blocks. */
static size_t min_class(void) {
    size_t c = mpgc_class_of(SEG_MIN);
    return SEG_MIN > 1 && mpgc_class_of(SEG_MIN - 1) == c ? c + 1 : c;
}

/* The segment after seg in the fixed order (NULL seg: the first); NULL
 * when free memory is used up. */
static word_t *next_segment(const mpgc_t *gc, const word_t *seg) {
    const run_t *after = NULL;
    if (!seg) {
        if (mpgc_fl_current(gc) >= SEG_MIN) return (word_t *)(void *)gc->bump;
    } else if (!mpgc_fl_current_at(gc, (const uint8_t *)seg)) {
        after = (const run_t *)(const void *)seg;
    }
    return (word_t *)(void *)mpgc_fl_walk(gc, after, min_class());
}

bool mpgc_ms_spill(mpgc_t *gc) {
    word_t *seg = gc->seg;
    if (!seg || gc->seg_fill + HALF > seg_cap(gc, seg)) {
        word_t *next = next_segment(gc, seg);
        if (!next) return false;
        next[HEADER_WORDS] = (word_t)seg;
        next[HEADER_WORDS + 1] = gc->seg_fill;
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
    if (!seg) return false;
    size_t k = gc->seg_fill < HALF ? gc->seg_fill : HALF;
    gc->seg_fill -= k;
    memcpy(gc->mark_stack, entries(seg) + gc->seg_fill, k * sizeof gc->mark_stack[0]);
    gc->msp = k;
    if (gc->seg_fill == 0) {
        gc->seg = (word_t *)seg[HEADER_WORDS];
        gc->seg_fill = seg[HEADER_WORDS + 1];
    }
    return true;
}
