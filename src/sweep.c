/*
 * sweep.c - freeing everything unmarked, a word at a time (finalisers have
 * run before: finalise.c).
 *
 * For W_BITS blocks at once, with C the continuation bits and LH the live
 * (marked) heads, the blocks owned by live objects are
 *     LH | (((C + S + carry_in) ^ C) & C),   S = (LH << 1) & C
 * Adding S (each live object's first continuation bit) to C carries through
 * exactly that object's run of continuation bits; the carry stops at the next
 * head or free block, which are not in C, and leaves the word through the
 * add's carry out when the object crosses into the next group. Everything
 * allocated and not owned is garbage. The object contents are never read,
 * and free memory is not written: the free-run index (headers and tags in
 * the free runs themselves) is rebuilt lazily by allocation, from the
 * lowest address up (freelist.c), so the pause is the mark plus one pass
 * over the tables.
 */
#include "internal.h"

/* The largest live allocation, found while sweeping: allocations are a head
 * and a run of continuation bits, so the longest run of set bits in the
 * stream of live continuation bits (live & C), plus one, is the largest
 * allocation. The runs are measured a word at a time: the run left open at
 * the top of the previous word, the prefix and suffix runs of this one, and
 * interior runs only when they can reach the longest so far, tested with
 * shifted ANDs (O(log length) per word). `count` counts the runs of the
 * longest length, so that freeing one of several largest allocations does
 * not invalidate max_block. */
typedef struct {
    size_t best, count; /* longest run so far, and how many have that length */
    size_t open;        /* run still open at the top of the last word */
} runs_t;

static void run_done(runs_t *s, size_t len) {
    if (len > s->best) {
        s->best = len;
        s->count = 1;
    } else if (len == s->best && len > 0) {
        s->count++;
    }
}

/* Bits i of x such that bits i .. i+k-1 are all set (k >= 1). */
static word_t windows(word_t x, size_t k) {
    size_t s = 1;
    while (2 * s <= k) {
        x &= x >> s;
        s *= 2;
    }
    return k > s ? x & (x >> (k - s)) : x;
}

static void runs_word(runs_t *s, word_t x) {
    if (x == 0) {
        if (s->open) run_done(s, s->open);
        s->open = 0;
        return;
    }
    if (x == ~(word_t)0) {
        s->open += W_BITS;
        return;
    }
    unsigned pre = ctz_word(~x), suf = clz_word(~x); /* both < W_BITS */
    if (s->open + pre > 0) run_done(s, s->open + pre);
    s->open = suf;
    word_t inner = x & ~(((word_t)1 << pre) - 1) & (~(word_t)0 >> suf);
    size_t k = s->best ? s->best : 1;
    if (!inner || k > W_BITS - 2) return; /* no interior run can be longer */
    word_t a = windows(inner, k);
    if (!a) return;
    for (word_t b; (b = a & (inner >> k)) != 0; k++) a = b;
    if (k > s->best) {
        s->best = k;
        s->count = 0;
    }
    s->count += popcount_word(a); /* one window per run of exactly k */
}

size_t mpgc_sweep(mpgc_t *gc) {
    size_t objs = 0, blocks = 0, ones = 0, twos = 0, heads = 0;
    runs_t runs = {0, 0, 0};
    for (pool_t *p = gc->pools; p; p = p->next) {
        word_t carry = 0, lh_top = 0;
        for (size_t gi = 0; gi < p->ngroups; gi++) {
            progress_add(gc, 4); /* a group's four table words */
            group_t *g = &p->groups[gi];
            word_t H = g->head, T = g->tail, M = g->mark;
            if ((H | T) == 0) { /* all free: nothing to free, nothing live */
                carry = lh_top = 0;
                if (MPGC_ENABLE_STATS) runs_word(&runs, 0);
                continue;
            }
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
                ones += MPGC_ENABLE_STATS ? popcount_word(dead & ~c1) : 0;
                twos += MPGC_ENABLE_STATS ? popcount_word(dead & c1 & ~c2) : 0;
                objs += popcount_word(dead);
            }
            if (MPGC_ENABLE_STATS) {
                heads += popcount_word(LH);
                runs_word(&runs, live & C);
            }
            blocks += popcount_word((H | C) & ~live);
            g->head = LH;
            g->tail = T & live;
            g->fin &= LH;
            g->mark = 0;
        }
        runs_word(&runs, 0); /* allocations never cross pools */
    }
    mpgc_fl_reindex(gc);
    gc->used_blocks -= blocks;
    gc->num_1block -= ones;
    gc->num_2block -= twos;
    if (MPGC_ENABLE_STATS) {
        gc->max_block = runs.best ? runs.best + 1 : heads ? 1 : 0;
        gc->max_block_count = runs.best ? runs.count : heads;
        gc->max_block_valid = true;
    }
    return objs;
}

size_t mpgc_finish_sweep(mpgc_t *gc) {
    if (!gc) return 0;
    hook_lock(gc);
    size_t runs = 0;
    if (gc->phase == PHASE_IDLE) {
        mpgc_idle_abort(gc); /* its grey set may lie in the band's free runs */
        runs = mpgc_fl_index_all(gc);
    }
    hook_unlock(gc);
    return runs;
}
