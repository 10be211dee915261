/* Snapshots (mpgc_snapshot, read back by tools/mpgc_snapfile.c): bad
 * arguments, a write callback that refuses or touches the heap, snapshots
 * inside a collection, the reader's checks on damaged files, and the round
 * trip: every block's state as the allocations made it, as
 * mpgc_dump_alloc_table prints it, and the totals of mpgc_info. */
#include <stdint.h>
#include <stdlib.h>

#include "mpgc_snapfile.h"
#include "test.h"

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[48 * 1024];
static _Alignas(64) uint8_t mem2[8 * 1024];
static void *roots[64];

static uint8_t out[16 * 1024];
static size_t out_n;
static int writes, refuse_after = -1;
static bool oversized;
static mpgc_t *write_gc; /* set: the callback tries to use the heap */
static bool heap_refused = true;

static bool to_buf(void *ctx, const void *data, size_t n) {
    (void)ctx;
    if (refuse_after >= 0 && writes >= refuse_after) return false;
    writes++;
    if (n > 64) oversized = true;
    if (write_gc) {
        heap_refused = heap_refused && mpgc_alloc(write_gc, 16, 0) == NULL &&
                       mpgc_collect(write_gc) == 0;
    }
    if (out_n + n > sizeof out) return false;
    memcpy(out + out_n, data, n);
    out_n += n;
    return true;
}

static bool take(mpgc_t *gc) {
    out_n = 0;
    writes = 0;
    oversized = false;
    return mpgc_snapshot(gc, to_buf, NULL);
}

static mpgc_t *heap(void) {
    memset(roots, 0, sizeof roots);
    mpgc_t *gc = precise_heap(mem, sizeof mem, NULL);
    mpgc_add_root(gc, roots, sizeof roots);
    return gc;
}

static void test_bad_arguments(void) {
    mpgc_t *gc = heap();
    out_n = 0;
    writes = 0;
    CHECK(!mpgc_snapshot(NULL, to_buf, NULL));
    CHECK(!mpgc_snapshot(gc, NULL, NULL));
    CHECK_EQ(writes, 0);
    if (!MPGC_ENABLE_SNAPSHOT) {
        CHECK(!take(gc));
        CHECK_EQ(writes, 0);
        return;
    }
    /* A refusing writer stops the snapshot at once, whatever it is given. */
    for (int k = 0; k < 4; k++) {
        refuse_after = k;
        CHECK(!take(gc));
        CHECK_EQ(writes, k);
    }
    refuse_after = -1;
    CHECK(take(gc));
    CHECK(!oversized);
    CHECK(!mpgc_is_locked(gc));
    CHECK(mpgc_alloc(gc, 100, 0) != NULL);
    CHECK(mpgc_check(gc));
}

/* Block states the allocations made: expected[b] in snapfile bits. */
static uint8_t expected[sizeof mem / BLK];

/* The text map, expanded: one character per block of every pool. */
static char dump[2 * sizeof mem / BLK + 64];
static size_t dump_n;
static void dump_sink(void *ctx, const char *s, size_t n) {
    (void)ctx;
    for (size_t i = 0; i < n && dump_n < sizeof dump - 1; i++) dump[dump_n++] = s[i];
    dump[dump_n] = '\0';
}
/* Keeps the block characters of the map; "(N lines all free)" is N*64 '.'. */
static size_t expand_dump(char *blocks, size_t cap) {
    size_t k = 0;
    for (const char *l = dump; *l;) {
        const char *e = strchr(l, '\n');
        if (!e) e = l + strlen(l);
        const char *colon = memchr(l, ':', (size_t)(e - l));
        unsigned long lines;
        if (sscanf(l, " (%lu lines all free)", &lines) == 1) {
            for (unsigned long i = 0; i < 64 * lines && k < cap; i++) blocks[k++] = '.';
        } else if (colon && strncmp(l, "GC memory", 9) != 0) {
            for (const char *c = colon + 2; c < e && k < cap; c++) blocks[k++] = *c;
        }
        l = *e ? e + 1 : e;
    }
    return k;
}

static char state_char(uint8_t bits) {
    static const char chars[SNAP_NSTATES] = {'.', 'h', '=', 'n', 'f', 'm'};
    return chars[snap_state(bits)];
}

static void test_round_trip(void) {
    if (!MPGC_ENABLE_SNAPSHOT) return;
    mpgc_t *gc = heap();
    bool two = mpgc_add_region(gc, mem2, sizeof mem2);
    CHECK(two == (MPGC_ENABLE_SPLIT_HEAP != 0));
    /* Objects of every kind and size, some dropped, then a collection. */
    unsigned x = 9;
    unsigned flags_of[64];
    for (int i = 0; i < 64; i++) {
        x = x * 1103515245u + 12345u;
        unsigned fl = (x >> 20) % 3 == 0 ? MPGC_NO_SCAN : (x >> 20) % 3 == 1 ? MPGC_FINALISE : 0;
        roots[i] = mpgc_alloc(gc, 8 + (x >> 8) % (12 * BLK), fl);
        flags_of[i] = fl;
        CHECK(roots[i] != NULL);
        if ((x >> 16) % 3 == 0) roots[i] = NULL;
    }
    mpgc_collect(gc);
    /* Fill the second pool's space too, if there is one. */
    void *big = two ? mpgc_alloc(gc, sizeof mem2 / 2, MPGC_NO_SCAN) : NULL;
    roots[63] = big;
    flags_of[63] = MPGC_NO_SCAN;
    CHECK(mpgc_check(gc));
    CHECK(take(gc));
    snap_t s;
    const char *why = "";
    CHECK(snap_parse(&s, out, out_n, &why));
    if (why) printf("   %s\n", why);
    if (why) return;
    CHECK_EQ(s.version, 1);
    CHECK_EQ(s.block_bytes, BLK);
    CHECK(!s.in_collection);
    CHECK_EQ(s.npools, two ? 2 : 1);
    CHECK_EQ(s.collections, 1);
    mpgc_info_t info;
    mpgc_info(gc, &info);
    snap_sum_t sum;
    snap_summary(&s, &sum);
    CHECK_EQ(sum.total * BLK, info.total);
    CHECK_EQ(sum.used * BLK, mpgc_mem_alloc(gc));
    CHECK_EQ(sum.free * BLK, (size_t)mpgc_mem_free(gc));
    CHECK_EQ(sum.run * BLK, info.max_free);
    /* Every block as the live objects make it; nothing else allocated. */
    size_t objects = 0, bad = 0;
    for (size_t pi = 0; pi < s.npools; pi++) {
        const snap_pool_t *p = &s.pools[pi];
        memset(expected, 0, p->nblocks);
        for (int i = 0; i < 64; i++) {
            uintptr_t a = (uintptr_t)roots[i];
            if (!a || a < p->base || a >= p->base + p->nblocks * BLK) continue;
            size_t b = (size_t)((a - p->base) / BLK), n = mpgc_size(gc, roots[i]) / BLK;
            unsigned fl = flags_of[i];
            expected[b] = (uint8_t)(SNAP_HEAD | ((fl & MPGC_NO_SCAN) ? SNAP_TAIL : 0) |
                                    ((fl & MPGC_FINALISE) && MPGC_ENABLE_FINALISERS ? SNAP_FIN : 0));
            for (size_t k = 1; k < n; k++) expected[b + k] = SNAP_TAIL;
            objects++;
        }
        for (size_t b = 0; b < p->nblocks; b++) bad += p->bits[b] != expected[b];
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(sum.objects, objects);
    CHECK(sum.count[SNAP_S_NOSCAN] > 0 && sum.count[SNAP_S_HEAD] > 0 && sum.count[SNAP_S_TAIL] > 0);
    CHECK_EQ(sum.count[SNAP_S_FIN] > 0, MPGC_ENABLE_FINALISERS != 0);
    /* The same states as the text map prints (when it is compiled in). */
    dump_n = 0;
    dump[0] = '\0';
    mpgc_dump_alloc_table(gc, dump_sink, NULL);
    if (MPGC_ENABLE_STATS) {
        static char blocks[sizeof dump];
        size_t n = expand_dump(blocks, sizeof blocks), k = 0, diff = 0;
        for (size_t pi = 0; pi < s.npools; pi++)
            for (size_t b = 0; b < s.pools[pi].nblocks; b++, k++)
                diff += k >= n || blocks[k] != state_char(s.pools[pi].bits[b]);
        CHECK_EQ(n, sum.total);
        CHECK_EQ(diff, 0);
    }
    snap_free(&s);
}

/* Inside a collection the marks so far are written, and the header says so. */
static void test_in_collection(void) {
    if (!MPGC_ENABLE_SNAPSHOT) return;
    mpgc_t *gc = heap();
    roots[0] = mpgc_alloc(gc, 3 * BLK, 0);
    void *garbage = mpgc_alloc(gc, 2 * BLK, 0);
    CHECK(garbage != NULL);
    CHECK(mpgc_collect_start(gc));
    CHECK(take(gc));
    snap_t s;
    const char *why;
    CHECK(snap_parse(&s, out, out_n, &why));
    if (!why) {
        const snap_pool_t *p = &s.pools[0];
        size_t r = (size_t)(((uintptr_t)roots[0] - p->base) / BLK);
        size_t g = (size_t)(((uintptr_t)garbage - p->base) / BLK);
        CHECK(s.in_collection);
        CHECK_EQ(p->bits[r], SNAP_HEAD | SNAP_MARK);
        CHECK_EQ(snap_state(p->bits[r]), SNAP_S_MARKED);
        CHECK_EQ(p->bits[g], SNAP_HEAD);
        snap_free(&s);
    }
    CHECK_EQ(mpgc_collect_end(gc), 1);
    CHECK(!mpgc_is_locked(gc));
}

/* The writer cannot change the heap under the snapshot. */
static void test_writer_touches_heap(void) {
    if (!MPGC_ENABLE_SNAPSHOT) return;
    mpgc_t *gc = heap();
    roots[0] = mpgc_alloc(gc, 100, 0);
    mpgc_alloc(gc, 100, 0); /* garbage a collection would free */
    size_t used = mpgc_mem_alloc(gc);
    write_gc = gc;
    heap_refused = true;
    CHECK(take(gc));
    write_gc = NULL;
    CHECK(heap_refused);
    CHECK_EQ(mpgc_mem_alloc(gc), used);
    CHECK(!mpgc_is_locked(gc));
    CHECK(mpgc_alloc(gc, 16, 0) != NULL);
    CHECK(mpgc_check(gc));
}

/* The reader refuses what no heap wrote: every cut, a wrong magic or
 * version, trailing bytes, a mark on a free block, a continuation after a
 * free block. */
static void test_reader_rejects(void) {
    if (!MPGC_ENABLE_SNAPSHOT) return;
    mpgc_t *gc = heap();
    for (int i = 0; i < 5; i++) roots[i] = mpgc_alloc(gc, 2 * BLK, 0);
    CHECK(take(gc));
    static uint8_t good[sizeof out];
    size_t n = out_n;
    memcpy(good, out, n);
    snap_t s;
    const char *why;
    size_t accepted = 0;
    for (size_t cut = 0; cut < n; cut++) accepted += snap_parse(&s, good, cut, &why);
    CHECK_EQ(accepted, 0);
    CHECK(snap_parse(&s, good, n, &why));
    if (!why) snap_free(&s);
    static uint8_t bad[sizeof out + 1];
#define DAMAGED(off, val, len)                                                 \
    (memcpy(bad, good, n), bad[off] = (uint8_t)(val), !snap_parse(&s, bad, len, &why))
    CHECK(DAMAGED(0, 'X', n));
    CHECK(DAMAGED(8, 2, n));           /* version 2 */
    CHECK(DAMAGED(12, 3, n));          /* block size 3 */
    CHECK(DAMAGED(20, 2, n));          /* unknown flag */
    CHECK(DAMAGED(n - 4, 0, n + 1));   /* a trailing byte */
    /* The heap's last blocks are free: records at the end of pool 0. */
    size_t rec = n - 4;
    CHECK(DAMAGED(rec + 2, 0x80, n));  /* mark on a free block */
    CHECK(DAMAGED(rec + 1, 0x80, n));  /* continuation after a free block */
    /* Block 0 is a head (first allocation): mark it, and mark it only. */
    CHECK(!DAMAGED(32 + 16 + 2, 1, n));
    if (!why) snap_free(&s);
#undef DAMAGED
}

int main(void) {
    RUN(test_bad_arguments);
    RUN(test_round_trip);
    RUN(test_in_collection);
    RUN(test_writer_touches_heap);
    RUN(test_reader_rejects);
    return test_done();
}
