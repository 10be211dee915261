/*
 * sweep.c - finalisers, then freeing everything unmarked, a word at a time.
 *
 * For W_BITS blocks at once, with C the continuation bits and LH the live
 * (marked) heads, the blocks owned by live objects are
 *     LH | (((C + S + carry_in) ^ C) & C),   S = (LH << 1) & C
 * Adding S (each live object's first continuation bit) to C carries through
 * exactly that object's run of continuation bits; the carry stops at the next
 * head or free block, which are not in C, and leaves the word through the
 * add's carry out when the object crosses into the next group. Everything
 * allocated and not owned is garbage. The object contents are never read.
 */
#include "internal.h"

/* Runs the finaliser of every unreachable MPGC_FINALISE object, in address
 * order, with the heap locked. MPGC_FINALISE_SAFE first marks and traces the
 * object, so that it and all it references survive this collection. */
void mpgc_finalise(mpgc_t *gc) {
    if (!MPGC_ENABLE_FINALISERS) return;
    /* Without a callback nothing can look at or resurrect the object. */
    bool safe = gc->cfg.finalise_order == MPGC_FINALISE_SAFE && gc->cfg.finaliser;
    for (pool_t *p = gc->pools; p; p = p->next) {
        for (size_t gi = 0; gi < p->ngroups; gi++) {
            group_t *g = &p->groups[gi];
            word_t above = ~(word_t)0;
            word_t pend;
            /* Re-read each time: tracing may mark later objects (they are
             * then finalised by a later collection, after this one). */
            while ((pend = g->fin & ~g->mark & above) != 0) {
                unsigned i = ctz_word(pend);
                uint8_t *obj = block_ptr(p, gi * W_BITS + i);
                if (safe) mpgc_mark_object(gc, obj);
                g->fin &= ~((word_t)1 << i);
                if (gc->cfg.finaliser) gc->cfg.finaliser(gc, obj, gc->cfg.user);
                above = i + 1 < W_BITS ? ~(word_t)0 << (i + 1) : 0;
            }
        }
    }
}

/* Re-indexes every free run of p, in address order. */
static void rebuild_runs(mpgc_t *gc, pool_t *p) {
    size_t b = mpgc_next_free(p, 0);
    if (b < p->nblocks && block_ptr(p, b) < gc->first_free) gc->first_free = block_ptr(p, b);
    while (b < p->nblocks) {
        size_t e = mpgc_next_used(p, b);
        mpgc_fl_insert(gc, block_ptr(p, b), e - b, true);
        b = mpgc_next_free(p, e);
    }
}

size_t mpgc_sweep(mpgc_t *gc) {
    size_t objs = 0, blocks = 0, ones = 0, twos = 0;
    mpgc_fl_reset(gc);
    gc->first_free = gc->hi;
    for (pool_t *p = gc->pools; p; p = p->next) {
        word_t carry = 0, lh_top = 0;
        for (size_t gi = 0; gi < p->ngroups; gi++) {
            group_t *g = &p->groups[gi];
            word_t H = g->head, T = g->tail, M = g->mark;
            word_t C = T & ~H, LH = H & M;
            word_t S = ((LH << 1) | lh_top) & C;
            word_t t = C + S, u = t + carry;
            carry = (word_t)(t < C) | (word_t)(u < t);
            lh_top = LH >> (W_BITS - 1);
            word_t live = LH | ((u ^ C) & C);
            word_t dead = H & ~M;
            if (dead) {
                /* Sizes of dead heads: is the next / next-but-one block a
                 * continuation? (For num_1block / num_2block.) */
                const group_t *n = gi + 1 < p->ngroups ? g + 1 : NULL;
                word_t nc = n ? n->tail & ~n->head : 0;
                word_t c1 = (C >> 1) | (nc << (W_BITS - 1));
                word_t c2 = (C >> 2) | (nc << (W_BITS - 2));
                ones += popcount_word(dead & ~c1);
                twos += popcount_word(dead & c1 & ~c2);
                objs += popcount_word(dead);
            }
            blocks += popcount_word((H | C) & ~live);
            g->head = LH;
            g->tail = T & live;
            g->fin &= LH;
            g->mark = 0;
        }
        rebuild_runs(gc, p);
    }
    gc->used_blocks -= blocks;
    gc->num_1block -= ones;
    gc->num_2block -= twos;
    if (blocks) gc->max_block_valid = false;
    return objs;
}
