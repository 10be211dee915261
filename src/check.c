/*
 * check.c - mpgc_check(): re-derives every invariant of docs/design.md
 * section 5 from scratch. One walk of the tables and of every free list.
 */
#include "internal.h"

#define REQUIRE(c)                                                             \
    do {                                                                       \
        if (!(c)) return false;                                                \
    } while (0)

/* The listed parts of the maximal free run [s, e) of pool p: all of it,
 * or with the lazy index's band cut out, the part below it and the part
 * above it (docs/design.md section 4). Returns how many (0-2) in part[]. */
static size_t listed_parts(const mpgc_t *gc, const pool_t *p, size_t s, size_t e, size_t part[2][2]) {
    size_t k = 0;
    if (!gc->idx_lo || block_ptr(p, e) <= gc->idx_lo || block_ptr(p, s) >= gc->idx_hi) {
        part[0][0] = s;
        part[0][1] = e;
        return 1;
    }
    if (block_ptr(p, s) < gc->idx_lo) {
        part[k][0] = s;
        part[k++][1] = block_index(p, gc->idx_lo);
    }
    if (block_ptr(p, e) > gc->idx_hi) {
        part[k][0] = block_index(p, gc->idx_hi);
        part[k++][1] = e;
    }
    return k;
}

/* Invariant 1 for one pool; counts allocated blocks and indexed free runs
 * (their parts outside the lazy index's band) and checks their header and boundary
 * tag; counts the current run. */
static bool check_pool(const mpgc_t *gc, const pool_t *p, size_t *used, size_t *runs,
                       size_t *current) {
    for (size_t gi = 0; gi < p->ngroups; gi++) {
        const group_t *g = &p->groups[gi];
        word_t valid = group_valid(p, gi), C = g->tail & ~g->head;
        REQUIRE(((g->head | g->tail | g->mark | g->fin) & ~valid) == 0);
        REQUIRE((g->mark & ~g->head) == 0 && (g->fin & ~g->head) == 0);
        REQUIRE(gc->phase != PHASE_IDLE || cycle_of(gc) != CYCLE_NONE || g->mark == 0);
        /* A continuation follows a head or a continuation. */
        word_t prev_alloc = (g->head | g->tail) << 1;
        if (gi > 0) prev_alloc |= (p->groups[gi - 1].head | p->groups[gi - 1].tail) >> (W_BITS - 1);
        REQUIRE((C & ~prev_alloc) == 0);
        *used += popcount_word(g->head | g->tail);
    }
    size_t b = mpgc_next_free(p, 0);
    if (b < p->nblocks) REQUIRE(block_ptr(p, b) >= gc->first_free);
    REQUIRE(!gc->idx_lo == !gc->idx_hi && gc->idx_lo <= gc->idx_hi);
    while (b < p->nblocks) {
        size_t e = mpgc_next_used(p, b), part[2][2];
        for (size_t k = 0, n = listed_parts(gc, p, b, e, part); k < n; k++) {
            size_t s = part[k][0], z = part[k][1];
            if (mpgc_fl_current_at(gc, block_ptr(p, s))) { /* exactly a listed part */
                REQUIRE(block_ptr(p, z) == gc->bump_end);
                (*current)++;
            } else {
                const run_t *r = (const run_t *)(const void *)block_ptr(p, s);
                REQUIRE(r->nblocks == z - s);
                REQUIRE(*(const size_t *)(const void *)(block_ptr(p, z) - sizeof(size_t)) == z - s);
                (*runs)++;
            }
        }
        b = mpgc_next_free(p, e);
    }
    return true;
}

/* The current run is empty or found, as a whole maximal free run, by
 * check_pool in exactly one pool; MicroPython's placement has none. */
static bool check_current(const mpgc_t *gc, size_t seen) {
    REQUIRE(gc->bump <= gc->bump_end && seen == (gc->bump != gc->bump_end));
    return !first_fit(gc) || seen == 0;
}

/* Invariants 2 and 3: lists well-formed, every entry the start of a maximal
 * free run of its class, binmap exact. An entry cannot repeat within a list
 * (it has one successor) nor across lists (its class is fixed), so equal
 * counts of listed and existing runs mean every run is listed once. */
static bool check_bins(const mpgc_t *gc, size_t *listed) {
    REQUIRE(gc->last_class >= MPGC_CLASS_EXACT - 1u && gc->last_class < MPGC_NUM_CLASSES);
    for (size_t c = 0; c <= gc->last_class; c++) {
        const run_t *first = gc->bins[c];
        REQUIRE(((gc->binmap[c / W_BITS] & bit_of(c)) != 0) == (first != NULL));
        if (!first) continue;
        const run_t *q = first;
        size_t guard = gc->total_blocks + 1;
        do {
            REQUIRE(guard-- > 0);
            const pool_t *p = mpgc_pool_of(gc, q);
            REQUIRE(p != NULL);
            REQUIRE(((const uint8_t *)q - p->base) % BLOCK == 0);
            size_t b = block_index(p, q);
            REQUIRE(q->nblocks > 0 && b + q->nblocks <= p->nblocks);
            REQUIRE(mpgc_class_of(gc, q->nblocks) == c);
            REQUIRE(block_is_free(p, b));
            size_t u = mpgc_prev_used(p, b), part[2][2], k = 0;
            size_t n = listed_parts(gc, p, u == SIZE_MAX ? 0 : u + 1, mpgc_next_used(p, b), part);
            while (k < n && part[k][0] != b) k++;
            REQUIRE(k < n && part[k][1] == b + q->nblocks); /* a whole listed part */
            REQUIRE(q->next->prev == q && q->prev->next == q);
            (*listed)++;
            q = q->next;
        } while (q != first);
    }
    for (size_t c = gc->last_class + 1u; c < BINMAP_WORDS * W_BITS; c++)
        REQUIRE((gc->binmap[c / W_BITS] & bit_of(c)) == 0);
    return true;
}

/* The caches mpgc_info reads: max_run (longest free run) and max_block
 * with its count (largest allocation, and how many have that size) must
 * equal what a walk finds, whenever they are marked valid. */
static bool check_caches(const mpgc_t *gc) {
    size_t run = 0, big = 0, count = 0;
    for (const pool_t *p = gc->pools; p; p = p->next) {
        for (size_t b = mpgc_next_free(p, 0), e; b < p->nblocks; b = mpgc_next_free(p, e)) {
            e = mpgc_next_used(p, b);
            size_t part[2][2];
            for (size_t k = 0, n = listed_parts(gc, p, b, e, part); k < n; k++) {
                size_t len = part[k][1] - part[k][0]; /* the cache is of listed runs */
                if (len > run && !mpgc_fl_current_at(gc, block_ptr(p, part[k][0]))) run = len;
            }
        }
        for (size_t b = 0, n; (b = mpgc_next_used(p, b)) < p->nblocks; b += n) {
            n = mpgc_object_blocks(p, b);
            if (n > big) count = 0;
            if (n >= big) {
                big = n;
                count++;
            }
        }
    }
    REQUIRE(!gc->max_run_valid || gc->max_run == run);
    REQUIRE(!MPGC_ENABLE_STATS || !gc->max_block_valid ||
            (gc->max_block == big && gc->max_block_count == count));
    return true;
}

static bool check_locked(const mpgc_t *gc) {
    size_t used = 0, runs = 0, listed = 0, total = 0, pools = 0, current = 0;
    const pool_t *prev = NULL;
    for (const pool_t *p = gc->pools; p; p = p->next) {
        REQUIRE(!prev || prev->end <= p->base);
        REQUIRE(p->base >= gc->lo && p->end <= gc->hi);
        REQUIRE((uintptr_t)p->base % BLOCK == 0 && p->end == p->base + p->nblocks * BLOCK);
        REQUIRE(check_pool(gc, p, &used, &runs, &current));
        total += p->nblocks;
        pools++;
        prev = p;
    }
    REQUIRE(check_current(gc, current));
    REQUIRE(check_bins(gc, &listed));
    REQUIRE(check_caches(gc));
    REQUIRE(listed == runs);
    REQUIRE(pools == gc->npools && total == gc->total_blocks && used == gc->used_blocks);
    REQUIRE(gc->nroots <= MPGC_MAX_ROOTS && gc->msp <= MPGC_MARK_STACK_SIZE);
    /* Outside collections and cycles in steps the grey set is empty. */
    bool between = gc->phase == PHASE_IDLE && cycle_of(gc) == CYCLE_NONE;
    REQUIRE(!between || (gc->msp == 0 && gc->seg == NULL && !gc->part_lo && !gc->ovf_hi));
    REQUIRE(gc->cycle <= CYCLE_IDLE && (gc->part_lo == NULL) == (gc->part_obj == NULL));
    REQUIRE(gc->phase != PHASE_IDLE || !gc->grey_only);
    REQUIRE(gc->phase == PHASE_IDLE || gc->lock_depth > 0);
    REQUIRE(!gc->batch && gc->phase != PHASE_SWEEP); /* mid-update then */
    return true;
}

bool mpgc_check(const mpgc_t *gc) {
    if (!gc) return false;
    hook_lock(gc);
    bool ok = check_locked(gc);
    hook_unlock(gc);
    return ok;
}
