/*
 * stats.c - the numbers: mem_alloc/mem_free (O(1) counters), mpgc_info,
 * and the heap map.
 *
 * num_1block/num_2block are counters kept by alloc and free (the inline
 * mpgc_stats_alloc/_free of internal.h: they are on the fast paths) and by
 * the sweep.
 * max_block is cached with the number of allocations of that size: the
 * sweep computes both; freeing the last allocation of that size invalidates
 * them and the next mpgc_info recomputes them with one word-at-a-time walk
 * of the tables.
 */
#include "internal.h"

size_t mpgc_mem_alloc(const mpgc_t *gc) {
    hook_lock(gc);
    size_t used = gc->used_blocks * BLOCK;
    hook_unlock(gc);
    return used;
}

ptrdiff_t mpgc_mem_free(const mpgc_t *gc) {
    hook_lock(gc);
    ptrdiff_t left = (ptrdiff_t)((gc->total_blocks - gc->used_blocks) * BLOCK);
    hook_unlock(gc);
    return left;
}

/* Largest allocation, in blocks: the longest head+continuation run; and
 * how many allocations have that size. */
static size_t walk_max_block(const mpgc_t *gc, size_t *count) {
    size_t best = 0;
    *count = 0;
    for (const pool_t *p = gc->pools; p; p = p->next) {
        size_t b = 0;
        while ((b = mpgc_next_used(p, b)) < p->nblocks) {
            size_t n = mpgc_object_blocks(p, b);
            if (n > best) *count = 0;
            if (n >= best) {
                best = n;
                ++*count;
            }
            b += n;
        }
    }
    return best;
}

void mpgc_info(const mpgc_t *gc, mpgc_info_t *info) {
    hook_lock(gc);
    memset(info, 0, sizeof *info);
    info->total = gc->total_blocks * BLOCK;
    info->used = gc->used_blocks * BLOCK;
    info->free = info->total - info->used;
    info->max_free = mpgc_fl_max_run(gc) * BLOCK;
    info->collections = gc->collections;
    info->block_bytes = BLOCK;
    info->pools = gc->npools;
    info->meta_bytes = gc->meta_bytes;
    if (MPGC_ENABLE_STATS) {
        mpgc_t *mut = (mpgc_t *)(uintptr_t)gc; /* the cache is not state */
        if (!mut->max_block_valid) {
            mut->max_block = walk_max_block(gc, &mut->max_block_count);
            mut->max_block_valid = true;
        }
        info->num_1block = gc->num_1block;
        info->num_2block = gc->num_2block;
        info->max_block = gc->max_block;
    }
    hook_unlock(gc);
}

/* ---- heap map ---------------------------------------------------------- */

#define DUMP_PER_LINE 64u

static void put_hex(void (*write)(void *, const char *, size_t), void *ctx, uintptr_t v,
                    unsigned digits) {
    char buf[2 * sizeof(uintptr_t)];
    for (unsigned i = 0; i < digits; i++) buf[digits - 1 - i] = "0123456789abcdef"[(v >> (4 * i)) & 15];
    write(ctx, buf, digits);
}

static char block_char(const pool_t *p, size_t b) {
    const group_t *g = &p->groups[b / W_BITS];
    word_t bit = bit_of(b);
    if (!(g->head & bit)) return (g->tail & bit) ? '=' : '.';
    if (g->mark & bit) return 'm';
    if (g->fin & bit) return 'f';
    return (g->tail & bit) ? 'n' : 'h';
}

void mpgc_dump_alloc_table(const mpgc_t *gc, void (*write)(void *ctx, const char *s, size_t n),
                           void *ctx) {
    if (!MPGC_ENABLE_STATS || !gc || !write) return;
    hook_lock(gc);
    for (const pool_t *p = gc->pools; p; p = p->next) {
        write(ctx, "GC memory layout; from 0x", 25);
        put_hex(write, ctx, (uintptr_t)p->base, 2 * sizeof(uintptr_t));
        write(ctx, ":", 1);
        for (size_t b = 0; b < p->nblocks; b += DUMP_PER_LINE) {
            size_t n = p->nblocks - b < DUMP_PER_LINE ? p->nblocks - b : DUMP_PER_LINE;
            /* Whole free lines are summarised, as MicroPython does. */
            size_t e = mpgc_next_used(p, b);
            if (e >= b + 2 * DUMP_PER_LINE) {
                size_t lines = (e - b) / DUMP_PER_LINE;
                char num[24];
                size_t k = sizeof num;
                size_t v = lines;
                do num[--k] = (char)('0' + v % 10); while ((v /= 10) != 0);
                write(ctx, "\n       (", 9);
                write(ctx, num + k, sizeof num - k);
                write(ctx, " lines all free)", 16);
                b += (lines - 1) * DUMP_PER_LINE;
                continue;
            }
            char line[DUMP_PER_LINE];
            for (size_t i = 0; i < n; i++) line[i] = block_char(p, b + i);
            write(ctx, "\n", 1);
            put_hex(write, ctx, (uintptr_t)(b * BLOCK), 8);
            write(ctx, ": ", 2);
            write(ctx, line, n);
        }
        write(ctx, "\n", 1);
    }
    hook_unlock(gc);
}
