/* The gc module: enable/disable/isenabled/collect/mem_alloc/mem_free/
 * threshold, mpgc_info, the heap map, and the seeds' examples. */
#include <stdint.h>

#include "test.h"

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[64 * 1024];
static void *roots[64];

static mpgc_t *heap(size_t size) {
    memset(roots, 0, sizeof roots);
    mpgc_t *gc = precise_heap(mem, size, NULL);
    mpgc_add_root(gc, roots, sizeof roots);
    return gc;
}

static size_t total_of(const mpgc_t *gc) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    return i.total;
}

static size_t collections(const mpgc_t *gc) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    return i.collections;
}

/* Seed 002, on a static 8 KiB heap: the figures move exactly as shown. */
static void test_seed_002_walkthrough(void) {
    mpgc_t *gc = heap(8 * 1024);
    roots[0] = mpgc_alloc(gc, 1000, 0); /* what the interpreter already holds */
    size_t free0 = (size_t)mpgc_mem_free(gc), alloc0 = mpgc_mem_alloc(gc);
    size_t rounded = (1000 + BLK - 1) / BLK * BLK;
    roots[1] = mpgc_alloc(gc, 1000, MPGC_NO_SCAN); /* foo = bytearray(1000) */
    CHECK_EQ(mpgc_mem_free(gc), free0 - rounded);
    CHECK_EQ(mpgc_mem_alloc(gc), alloc0 + rounded);
    roots[1] = NULL; /* del foo */
    CHECK_EQ(mpgc_mem_free(gc), free0 - rounded); /* collection hasn't run yet */
    CHECK_EQ(mpgc_mem_alloc(gc), alloc0 + rounded);
    mpgc_collect(gc);
    CHECK_EQ(mpgc_mem_free(gc), free0); /* reclaimed */
    CHECK_EQ(mpgc_mem_alloc(gc), alloc0);
    CHECK(mpgc_check(gc));
}

static void test_enable_disable(void) {
    mpgc_t *gc = heap(16 * 1024);
    CHECK(mpgc_isenabled(gc));
    mpgc_disable(gc);
    CHECK(!mpgc_isenabled(gc));
    /* While disabled, allocation works until memory runs out... */
    size_t n = 0;
    while (mpgc_alloc(gc, BLK, 0)) n++;
    CHECK(n > 0);
    CHECK_EQ(mpgc_mem_free(gc), 0);
    CHECK_EQ(collections(gc), 0);
    /* ...and a manual collect still works. */
    CHECK_EQ(mpgc_collect(gc), n);
    CHECK_EQ(collections(gc), 1);
    while (mpgc_alloc(gc, BLK, 0)) {}
    /* Enabled again: the failing allocation collects and retries. */
    mpgc_enable(gc);
    CHECK(mpgc_isenabled(gc));
    CHECK(mpgc_alloc(gc, BLK, 0) != NULL);
    CHECK_EQ(collections(gc), 2);
    CHECK(mpgc_check(gc));
}

static void test_out_of_memory(void) {
    mpgc_t *gc = heap(16 * 1024);
    size_t n = 0;
    while ((roots[n % 64] = mpgc_alloc(gc, 256, 0)) != NULL && n < 63) n++;
    /* Everything reachable: collect-and-retry still fails, heap intact. */
    void *big = mpgc_alloc(gc, 15 * 1024, 0);
    CHECK(big == NULL);
    CHECK(mpgc_check(gc));
    CHECK_EQ(mpgc_mem_alloc(gc) + (size_t)mpgc_mem_free(gc), total_of(gc));
}

/* Threshold compiled out: always -1, allocation never collects early. */
static void test_threshold_off(void) {
    mpgc_t *gc = heap(32 * 1024);
    mpgc_set_threshold(gc, 10 * BLK);
    CHECK_EQ(mpgc_threshold(gc), -1);
    for (int i = 0; i < 100; i++) mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), 0);
}

static void test_threshold(void) {
    mpgc_t *gc = heap(32 * 1024);
    CHECK_EQ(mpgc_threshold(gc), -1);
    mpgc_set_threshold(gc, 10 * BLK);
    CHECK_EQ(mpgc_threshold(gc), (ptrdiff_t)(10 * BLK));
    size_t c0 = collections(gc);
    for (int i = 0; i < 10; i++) mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), c0); /* exactly 10*BLK allocated: not yet */
    mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), c0 + 1); /* the next allocation collects first */
    for (int i = 0; i < 9; i++) mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), c0 + 1);
    mpgc_alloc(gc, 3 * BLK, 0);
    CHECK_EQ(collections(gc), c0 + 2);
    /* A manual collection restarts the count. */
    for (int i = 0; i < 5; i++) mpgc_alloc(gc, BLK, 0);
    mpgc_collect(gc);
    for (int i = 0; i < 8; i++) mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), c0 + 3);
    /* Disabled collection: the threshold does nothing. */
    mpgc_disable(gc);
    for (int i = 0; i < 50; i++) mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), c0 + 3);
    mpgc_enable(gc);
    mpgc_set_threshold(gc, -1);
    CHECK_EQ(mpgc_threshold(gc), -1);
    mpgc_set_threshold(gc, -12345);
    CHECK_EQ(mpgc_threshold(gc), -1);
    size_t c1 = collections(gc);
    for (int i = 0; i < 100; i++) mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), c1);
    /* threshold(0): every allocation collects first. */
    mpgc_set_threshold(gc, 0);
    mpgc_alloc(gc, BLK, 0);
    mpgc_alloc(gc, BLK, 0);
    CHECK_EQ(collections(gc), c1 + 2);
    CHECK(mpgc_check(gc));
}

static void test_counters_sum(void) {
    mpgc_t *gc = heap(sizeof mem);
    size_t total = total_of(gc);
    unsigned x = 12345;
    for (int i = 0; i < 5000; i++) {
        x = x * 1103515245u + 12345u;
        size_t sz = 1 + (x >> 8) % 700;
        void *p = mpgc_alloc(gc, sz, (x & 1) ? MPGC_NO_SCAN : 0);
        if (p && (x & 6) == 0) roots[(x >> 4) % 64] = p;
        if ((x & 0x70) == 0x70 && roots[(x >> 12) % 64]) {
            mpgc_free(gc, roots[(x >> 12) % 64]);
            roots[(x >> 12) % 64] = NULL;
        }
        if ((x & 0x3ff) == 0x155) mpgc_collect(gc);
        CHECK(mpgc_mem_alloc(gc) + (size_t)mpgc_mem_free(gc) == total);
        if (i % 500 == 0) CHECK(mpgc_check(gc));
    }
    CHECK(mpgc_check(gc));
}

static void test_info(void) {
    mpgc_t *gc = heap(16 * 1024);
    mpgc_info_t i;
    mpgc_info(gc, &i);
    CHECK_EQ(i.used, 0);
    CHECK_EQ(i.free, i.total);
    CHECK_EQ(i.max_free, i.total);
    CHECK_EQ(i.block_bytes, BLK);
    CHECK_EQ(i.pools, 1);
    CHECK(i.meta_bytes > 0 && i.meta_bytes + i.total <= 16 * 1024);
    roots[0] = mpgc_alloc(gc, 1, 0);
    roots[1] = mpgc_alloc(gc, 1, 0);
    roots[2] = mpgc_alloc(gc, BLK + 1, 0);
    roots[3] = mpgc_alloc(gc, 7 * BLK, 0);
    mpgc_alloc(gc, 9 * BLK, 0); /* garbage */
    mpgc_info(gc, &i);
    CHECK_EQ(i.num_1block, STAT(2));
    CHECK_EQ(i.num_2block, STAT(1));
    CHECK_EQ(i.max_block, STAT(9));
    CHECK_EQ(i.used, 20 * BLK);
    mpgc_collect(gc);
    mpgc_info(gc, &i);
    CHECK_EQ(i.max_block, STAT(7));
    CHECK_EQ(i.used, 11 * BLK);
    CHECK_EQ(i.collections, 1);
    mpgc_free(gc, roots[3]);
    mpgc_free(gc, roots[1]);
    mpgc_info(gc, &i);
    CHECK_EQ(i.num_1block, STAT(1));
    CHECK_EQ(i.max_block, STAT(2));
    CHECK(mpgc_check(gc));
}

/* Seed 004: after churn, plenty is free in total but a big allocation
 * fails; pre-allocating the long-lived buffer first avoids it. The heap is
 * filled with pairs (a small long-lived object, a 6-block temporary), the
 * temporaries are dropped: 6/7 of the heap is free in 6-block holes. */
static void test_seed_004_fragmentation(void) {
    mpgc_t *gc = heap(sizeof mem);
    size_t total = total_of(gc), nk = 0;
    static void *keep[8192];
    void *p;
    mpgc_disable(gc);
    while (nk < 8192 && (p = mpgc_alloc(gc, BLK, 0)) != NULL && mpgc_alloc(gc, 6 * BLK, 0))
        keep[nk++] = p;
    mpgc_add_root(gc, keep, sizeof keep);
    mpgc_enable(gc);
    mpgc_collect(gc);
    mpgc_info_t i;
    mpgc_info(gc, &i);
    CHECK(i.free >= total / 2);
    /* Holes of 6 blocks, and at most 13 at the end where the loop stopped. */
    CHECK(i.max_free >= 6 * BLK && i.max_free < 16 * BLK);
    CHECK(mpgc_alloc(gc, 16 * BLK, MPGC_NO_SCAN) == NULL); /* MemoryError */
    CHECK(mpgc_check(gc));
    mpgc_remove_root(gc, keep);
    /* Pre-allocation: the same program with the buffer taken first. */
    gc = heap(sizeof mem);
    void *buf = mpgc_alloc(gc, total / 4, MPGC_NO_SCAN);
    CHECK(buf != NULL);
    roots[63] = buf;
    nk = 0;
    mpgc_disable(gc);
    while (nk < 8192 && (p = mpgc_alloc(gc, BLK, 0)) != NULL && mpgc_alloc(gc, 6 * BLK, 0))
        keep[nk++] = p;
    mpgc_add_root(gc, keep, sizeof keep);
    mpgc_collect(gc);
    CHECK(mpgc_size(gc, buf) >= total / 4);
    CHECK(mpgc_check(gc));
    mpgc_remove_root(gc, keep);
}

typedef struct {
    char buf[8192];
    size_t len;
} sink_t;
static void sink(void *ctx, const char *s, size_t n) {
    sink_t *k = ctx;
    if (k->len + n < sizeof k->buf) memcpy(k->buf + k->len, s, n), k->len += n;
    k->buf[k->len] = 0;
}

static void test_dump(void) {
    mpgc_t *gc = heap(8 * 1024);
    roots[0] = mpgc_alloc(gc, 3 * BLK, 0);
    roots[1] = mpgc_alloc(gc, BLK, MPGC_NO_SCAN);
    roots[2] = mpgc_alloc(gc, BLK, MPGC_FINALISE);
    static sink_t k;
    k.len = 0;
    mpgc_dump_alloc_table(gc, sink, &k);
    if (!MPGC_ENABLE_STATS) { /* compiled out: prints nothing */
        CHECK_EQ(k.len, 0);
        return;
    }
    CHECK(strncmp(k.buf, "GC memory layout; from 0x", 25) == 0);
    CHECK(strstr(k.buf, MPGC_ENABLE_FINALISERS ? "\n00000000: h==nf..." : "\n00000000: h==nh...") != NULL);
    CHECK(mpgc_check(gc));
}

int main(void) {
    RUN(test_seed_002_walkthrough);
    RUN(test_enable_disable);
    RUN(test_out_of_memory);
    if (MPGC_ENABLE_THRESHOLD) RUN(test_threshold);
    else RUN(test_threshold_off);
    RUN(test_counters_sum);
    RUN(test_info);
    RUN(test_seed_004_fragmentation);
    RUN(test_dump);
    return test_done();
}
