/*
 * mpgc_snapfile.c - the snapshot reader (format: src/snapshot.c and
 * docs/report.md section 2). Every field is checked before it is used:
 * the file may come from a board, over a serial line, cut short.
 */
#include "mpgc_snapfile.h"

#include <stdlib.h>
#include <string.h>

const char *const snap_state_names[SNAP_NSTATES] = {"free", "head", "tail", "no-scan", "finaliser",
                                                     "marked"};

typedef struct {
    const uint8_t *p, *end;
} in_t;

static bool get(in_t *in, unsigned bytes, uint64_t *v) {
    if ((size_t)(in->end - in->p) < bytes) return false;
    *v = 0;
    for (unsigned i = 0; i < bytes; i++) *v |= (uint64_t)in->p[i] << (8 * i);
    in->p += bytes;
    return true;
}

void snap_free(snap_t *s) {
    for (size_t i = 0; s->pools && i < s->npools; i++) free(s->pools[i].bits);
    free(s->pools);
    memset(s, 0, sizeof *s);
}

/* One pool's records; the bits must describe a heap: mark and fin on heads
 * only, a continuation after an allocated block, nothing past the end. */
static const char *read_pool(in_t *in, snap_pool_t *p) {
    uint64_t base, nb;
    if (!get(in, 8, &base) || !get(in, 8, &nb)) return "truncated pool header";
    size_t records = (size_t)((nb + 7) / 8);
    if (nb == 0 || nb > SIZE_MAX / 2 || records > (size_t)(in->end - in->p) / 4)
        return "pool larger than the file";
    p->base = base;
    p->nblocks = (size_t)nb;
    p->bits = malloc(p->nblocks);
    if (!p->bits) return "out of memory";
    for (size_t r = 0; r < records; r++) {
        const uint8_t *rec = in->p + 4 * r;
        for (unsigned i = 0; i < 8; i++) {
            size_t b = 8 * r + i;
            uint8_t v = (uint8_t)(((rec[0] >> i) & 1) * SNAP_HEAD | ((rec[1] >> i) & 1) * SNAP_TAIL |
                                  ((rec[2] >> i) & 1) * SNAP_MARK | ((rec[3] >> i) & 1) * SNAP_FIN);
            if (b >= p->nblocks) {
                if (v) return "bits past the end of a pool";
                continue;
            }
            if ((v & (SNAP_MARK | SNAP_FIN)) && !(v & SNAP_HEAD)) return "mark or fin on a non-head";
            if (v == SNAP_TAIL && (b == 0 || p->bits[b - 1] == 0)) return "continuation after a free block";
            p->bits[b] = v;
        }
    }
    in->p += 4 * records;
    return NULL;
}

bool snap_parse(snap_t *s, const uint8_t *data, size_t n, const char **why) {
    memset(s, 0, sizeof *s);
    in_t in = {data, data + n};
    uint64_t version, block, npools, flags, coll;
    *why = NULL;
    if (n < 8 || memcmp(data, "MPGCSNAP", 8) != 0) *why = "not an mpgc snapshot (magic)";
    else if (in.p += 8, !get(&in, 4, &version) || !get(&in, 4, &block) || !get(&in, 4, &npools) ||
             !get(&in, 4, &flags) || !get(&in, 8, &coll))
        *why = "truncated header";
    else if (version != 1) *why = "unknown snapshot version (this reader knows 1)";
    else if (block == 0 || (block & (block - 1)) != 0) *why = "bad block size";
    else if (npools == 0 || npools > (uint64_t)(in.end - in.p) / 16) *why = "bad pool count";
    else if (flags & ~(uint64_t)1) *why = "unknown flags";
    if (*why) return false;
    s->version = (unsigned)version;
    s->block_bytes = (unsigned)block;
    s->in_collection = flags & 1;
    s->collections = coll;
    s->pools = calloc((size_t)npools, sizeof *s->pools);
    if (!s->pools) {
        *why = "out of memory";
        return false;
    }
    s->npools = (size_t)npools;
    for (size_t i = 0; i < s->npools && !*why; i++) {
        *why = read_pool(&in, &s->pools[i]);
        if (!*why && i > 0 && s->pools[i].base < s->pools[i - 1].base + s->pools[i - 1].nblocks * block)
            *why = "pools overlap or are out of order";
    }
    if (!*why && in.p != in.end) *why = "trailing bytes after the last pool";
    if (*why) snap_free(s);
    return *why == NULL;
}

void snap_summary(const snap_t *s, snap_sum_t *sum) {
    memset(sum, 0, sizeof *sum);
    for (size_t pi = 0; pi < s->npools; pi++) {
        const snap_pool_t *p = &s->pools[pi];
        sum->total += p->nblocks;
        for (size_t b = 0; b < p->nblocks;) {
            if (p->bits[b] & SNAP_HEAD) sum->objects++;
            if (p->bits[b]) {
                sum->count[snap_state(p->bits[b])]++;
                sum->used++;
                b++;
                continue;
            }
            size_t e = b;
            while (e < p->nblocks && p->bits[e] == 0) e++;
            sum->count[SNAP_S_FREE] += e - b;
            sum->free += e - b;
            sum->runs++;
            if (e - b > sum->run) {
                sum->run = e - b;
                sum->run_pool = pi;
                sum->run_start = b;
            }
            b = e;
        }
    }
}
