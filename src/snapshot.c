/*
 * snapshot.c - mpgc_snapshot(): the heap's tables, written through a
 * callback for `mpgc report` (format v1, docs/report.md section 2).
 *
 *   header   "MPGCSNAP" | u32 version=1 | u32 block bytes | u32 pools
 *            | u32 flags (bit 0: taken inside a collection) | u64 collections
 *   per pool u64 base address | u64 blocks
 *            | one 4-byte record per 8 blocks: head, tail, mark, fin bytes
 *              (bit i of each byte is block 8k+i; bits past the end are 0)
 *
 * Every integer is little-endian, whatever the target: the file is read on
 * another machine. A record is the group words (internal.h) cut into
 * bytes, so one pass over the groups writes it, through a 64-byte buffer
 * on the stack (no malloc, no copy of the tables).
 */
#include "internal.h"

#define SNAP_VERSION 1u
#define SNAP_IN_COLLECTION 1u

typedef struct {
    mpgc_t *gc;
    mpgc_write_fn write;
    void *ctx;
    size_t n;    /* bytes waiting in buf */
    bool ok;     /* false once write() refused: nothing more is written */
    uint8_t buf[64];
} out_t;

static void flush(out_t *o) {
    if (o->ok && o->n) MPGC_CALLBACK(o->gc, o->ok = o->write(o->ctx, o->buf, o->n));
    o->n = 0;
}

/* The buffer holds whole fields: 64 is a multiple of every field size. */
static void put(out_t *o, uint64_t v, unsigned bytes) {
    if (o->n + bytes > sizeof o->buf) flush(o);
    for (unsigned i = 0; i < bytes; i++) o->buf[o->n++] = (uint8_t)(v >> (8 * i));
}

static void put_pool(out_t *o, const pool_t *p) {
    put(o, (uint64_t)(uintptr_t)p->base, 8);
    put(o, (uint64_t)p->nblocks, 8);
    for (size_t gi = 0; gi < p->ngroups && o->ok; gi++) {
        const group_t *g = &p->groups[gi];
        size_t left = p->nblocks - gi * W_BITS;
        unsigned bytes = left >= W_BITS ? W_BITS / 8 : (unsigned)((left + 7) / 8);
        for (unsigned k = 0; k < bytes; k++) {
            unsigned s = 8 * k;
            put(o, ((g->head >> s) & 0xff) | ((g->tail >> s) & 0xff) << 8 |
                       ((g->mark >> s) & 0xff) << 16 | (uint64_t)((g->fin >> s) & 0xff) << 24,
                4);
        }
    }
}

bool mpgc_snapshot(mpgc_t *gc, mpgc_write_fn write, void *ctx) {
    if (!MPGC_ENABLE_SNAPSHOT || !gc || !write) return false;
    hook_lock(gc);
    /* The sweep and a pending trace leave the tables mid-update. */
    if (gc->phase == PHASE_SWEEP || tracing_pending(gc)) {
        hook_unlock(gc);
        return false;
    }
    gc->lock_depth++; /* write() cannot allocate, free or collect */
    out_t o = {gc, write, ctx, 0, true, {0}};
    static const uint8_t magic[8] = {'M', 'P', 'G', 'C', 'S', 'N', 'A', 'P'};
    for (unsigned i = 0; i < 8; i++) put(&o, magic[i], 1);
    put(&o, SNAP_VERSION, 4);
    put(&o, BLOCK, 4);
    put(&o, gc->npools, 4);
    put(&o, gc->phase != PHASE_IDLE ? SNAP_IN_COLLECTION : 0, 4);
    put(&o, gc->collections, 8);
    /* At most the pools announced, should write() add one regardless. */
    size_t left = gc->npools;
    for (const pool_t *p = gc->pools; p && left && o.ok; p = p->next, left--) put_pool(&o, p);
    flush(&o);
    gc->lock_depth--;
    hook_unlock(gc);
    return o.ok;
}
