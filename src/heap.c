/*
 * heap.c - carving the control block and pools out of caller memory.
 *
 *  region start                                                region end
 *  [struct mpgc + bins (first region only)][pool_t][groups ...][pad][blocks ...]
 *                                                           ^ BLOCK-aligned
 *
 * pool_layout() is the one place that decides how many blocks fit; init and
 * mpgc_add_region both call it. Each block costs BLOCK bytes plus 4 bits
 * (one word in each of a group's four planes per W_BITS blocks).
 */
#include "internal.h"

static uintptr_t align_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }

/* Bytes of group metadata for n blocks. */
static size_t groups_bytes(size_t n) {
    return (n + W_BITS - 1) / W_BITS * sizeof(group_t);
}

/* pool_layout's inverse, at the worst alignment: up to a word before the
 * header and a block after the last block are lost to alignment. */
size_t mpgc_region_bytes(size_t nbytes) {
    size_t n = nbytes / BLOCK + (nbytes % BLOCK != 0) + (nbytes == 0);
    size_t fixed = (sizeof(word_t) - 1) + sizeof(pool_t) + (BLOCK - 1);
    if (n > (SIZE_MAX - fixed) / (BLOCK + sizeof(group_t))) return 0;
    return fixed + groups_bytes(n) + n * BLOCK;
}

/* Lays a pool out in [lo, hi). Returns NULL when not even one block fits. */
static pool_t *pool_layout(uint8_t *lo, uint8_t *hi) {
    uintptr_t hdr = align_up((uintptr_t)lo, sizeof(word_t));
    if (hi < lo || (uintptr_t)hi < hdr + sizeof(pool_t)) return NULL;
    uintptr_t tables = hdr + sizeof(pool_t);
    uintptr_t end = (uintptr_t)hi & ~(uintptr_t)(BLOCK - 1);
    if (end <= tables) return NULL;
    /* Start from the ratio bound and step down until groups+pad+blocks fit. */
    size_t avail = end - tables;
    size_t n = avail / (8u * BLOCK + 4u) * 8u; /* 4 bits per block */
    while (n > 0 && groups_bytes(n) + n * BLOCK > avail) n--;
    while (groups_bytes(n + 1) + (n + 1) * BLOCK <= avail) n++;
    if (n == 0) return NULL;

    pool_t *p = (pool_t *)hdr;
    p->next = NULL;
    p->region_lo = lo;
    p->region_hi = hi;
    p->nblocks = n;
    p->ngroups = (n + W_BITS - 1) / W_BITS;
    p->groups = (group_t *)tables;
    p->base = (uint8_t *)(end - n * BLOCK);
    p->end = (uint8_t *)end;
    memset(p->groups, 0, p->ngroups * sizeof(group_t));
    return p;
}

static void pool_link(mpgc_t *gc, pool_t *p) {
    mpgc_fl_index_all(gc); /* the new pool's run goes straight into the lists */
    pool_t **at = &gc->pools;
    while (*at && (*at)->base < p->base) at = &(*at)->next;
    p->next = *at;
    *at = p;
    gc->npools++;
    gc->total_blocks += p->nblocks;
    gc->meta_bytes += (size_t)(p->base - p->region_lo) + (size_t)(p->region_hi - p->end);
    if (!gc->lo || p->base < gc->lo) gc->lo = p->base;
    if (!gc->hi || p->end > gc->hi) gc->hi = p->end;
    if (!gc->first_free || p->base < gc->first_free) gc->first_free = p->base;
    mpgc_fl_insert(gc, p->base, p->nblocks, true);
}

mpgc_t *mpgc_init(void *mem, size_t size, const mpgc_config_t *cfg) {
    if (!mem) return NULL;
    uint8_t *lo = (uint8_t *)mem, *hi = lo + size;
    if ((uintptr_t)hi < (uintptr_t)lo) return NULL; /* wraps the address space */
    uintptr_t at = align_up((uintptr_t)lo, sizeof(word_t));
    if ((uintptr_t)hi < at || (uintptr_t)hi - at < sizeof(mpgc_t)) return NULL;
    mpgc_t *gc = (mpgc_t *)at;
    memset(gc, 0, sizeof *gc);
    /* The index's classes, for an upper bound of the pool's blocks (more
     * classes than it needs are harmless; fewer would not be), classed
     * among all of them first. */
    size_t ub = ((uintptr_t)hi - at - sizeof(mpgc_t)) / BLOCK;
    gc->last_class = MPGC_NUM_CLASSES - 1u;
    size_t classes = MPGC_FL_CLASSES(mpgc_class_of(gc, ub ? ub : 1));
    size_t cb = sizeof(mpgc_t) + classes * sizeof(run_t *);
    if ((uintptr_t)hi - at < cb) return NULL;
    pool_t *p = pool_layout((uint8_t *)(at + cb), hi);
    if (!p) return NULL;

    gc->last_class = (uint8_t)(classes - 1u);
    mpgc_fl_reset(gc);
    if (cfg) gc->cfg = *cfg;
    gc->enabled = true;
    gc->threshold = -1;
    gc->max_block_valid = true;
    p->region_lo = lo; /* the first pool owns the control block too */
    pool_link(gc, p);
    return gc;
}

bool mpgc_add_region(mpgc_t *gc, void *mem, size_t size) {
    if (!MPGC_ENABLE_SPLIT_HEAP || !gc || !mem) return false;
    uint8_t *lo = (uint8_t *)mem, *hi = lo + size;
    if ((uintptr_t)hi < (uintptr_t)lo) return false;
    bool ok = false;
    hook_lock(gc);
    bool overlaps = false;
    for (pool_t *q = gc->pools; q; q = q->next)
        overlaps |= lo < q->region_hi && q->region_lo < hi;
    if (!overlaps && gc->phase == PHASE_IDLE) {
        mpgc_idle_abort(gc);
        pool_t *p = pool_layout(lo, hi);
        if (p) {
            pool_link(gc, p);
            ok = true;
        }
    }
    hook_unlock(gc);
    return ok;
}

/* Unlinks p, all free and not the first pool, and recomputes what the
 * pool list bounds: lo/hi, the counters, and first_free if it was in p. */
static void pool_unlink(mpgc_t *gc, pool_t *p) {
    pool_t **at = &gc->pools;
    while (*at != p) at = &(*at)->next;
    *at = p->next;
    gc->npools--;
    gc->total_blocks -= p->nblocks;
    gc->meta_bytes -= (size_t)(p->base - p->region_lo) + (size_t)(p->region_hi - p->end);
    gc->lo = gc->pools->base;
    for (pool_t *q = gc->pools; q; q = q->next) gc->hi = q->end;
    if (gc->first_free >= p->base && gc->first_free < p->end)
        gc->first_free = p->next ? p->next->base : gc->hi;
}

bool mpgc_remove_region(mpgc_t *gc, void *mem) {
    if (!MPGC_ENABLE_SPLIT_HEAP || !gc || !mem) return false;
    bool ok = false;
    hook_lock(gc);
    pool_t *p = gc->pools;
    while (p && p->region_lo != (uint8_t *)mem) p = p->next;
    bool first = p && (uint8_t *)gc >= p->region_lo && (uint8_t *)gc < p->region_hi;
    /* An open cycle's grey set may point into p: abandoned first. */
    if (p && !first && gc->phase == PHASE_IDLE && cycle_of(gc) != CYCLE_NONE) mpgc_cycle_abort(gc);
    if (p && !first && gc->phase == PHASE_IDLE && mpgc_next_used(p, 0) == p->nblocks) {
        mpgc_fl_forget(gc, p);
        pool_unlink(gc, p);
        ok = true;
    }
    hook_unlock(gc);
    return ok;
}

/* Length in blocks of the allocation whose head is block `head`: one plus
 * the run of continuation bits after it, found a word at a time. */
size_t mpgc_object_blocks(const pool_t *p, size_t head) {
    size_t b = head + 1;
    while (b < p->nblocks) {
        const group_t *g = &p->groups[b / W_BITS];
        word_t stop = ~(g->tail & ~g->head) & (~(word_t)0 << (b % W_BITS));
        if (stop) return b - b % W_BITS + ctz_word(stop) - head;
        b += W_BITS - b % W_BITS;
    }
    return p->nblocks - head;
}

/* First block at or after b that is free (want_free) or allocated, a word
 * at a time; p->nblocks if there is none. */
static size_t next_block(const pool_t *p, size_t b, bool want_free) {
    while (b < p->nblocks) {
        size_t gi = b / W_BITS;
        const group_t *g = &p->groups[gi];
        word_t used = g->head | g->tail;
        word_t m = (want_free ? ~used : used) & group_valid(p, gi) &
                   (~(word_t)0 << (b % W_BITS));
        if (m) return gi * W_BITS + ctz_word(m);
        b = (gi + 1) * W_BITS;
    }
    return p->nblocks;
}

size_t mpgc_next_free(const pool_t *p, size_t b) { return next_block(p, b, true); }
size_t mpgc_next_used(const pool_t *p, size_t b) { return next_block(p, b, false); }

/* Last allocated block before b, a word at a time; SIZE_MAX if there is
 * none. */
size_t mpgc_prev_used(const pool_t *p, size_t b) {
    while (b > 0) {
        size_t gi = (b - 1) / W_BITS;
        const group_t *g = &p->groups[gi];
        word_t m = (g->head | g->tail) & (~(word_t)0 >> (W_BITS - 1 - (b - 1) % W_BITS));
        if (m) return gi * W_BITS + (W_BITS - 1 - clz_word(m));
        b = gi * W_BITS;
    }
    return SIZE_MAX;
}
