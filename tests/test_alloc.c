/* Allocation, free, realloc and size, including every bad input. */
#include <stdint.h>

#include "test.h"

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[32 * 1024];
static _Alignas(64) uint8_t mem2[4 * 1024];

static int reports[5];
static const void *last_bad;
static void on_report(mpgc_t *gc, mpgc_bad_t what, const void *ptr, void *user) {
    (void)gc, (void)user;
    reports[what]++;
    last_bad = ptr;
}

static mpgc_t *fresh(void) {
    mpgc_config_t cfg = {0};
    cfg.report = on_report;
    memset(reports, 0, sizeof reports);
    return precise_heap(mem, sizeof mem, &cfg);
}

static void test_init_sizes(void) {
    CHECK(mpgc_init(NULL, 4096, NULL) == NULL);
    CHECK(mpgc_init(mem, 0, NULL) == NULL);
    CHECK(mpgc_init(mem, 16, NULL) == NULL);
    CHECK(mpgc_init(mem, sizeof(void *) * 8, NULL) == NULL);
    /* The smallest heap that works holds one block. */
    size_t n = 1;
    mpgc_t *gc = NULL;
    while (!(gc = mpgc_init(mem, n, NULL))) n++;
    CHECK(mpgc_mem_free(gc) == (ptrdiff_t)BLK);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_alloc(gc, 1, 0) != NULL);
    CHECK(mpgc_mem_free(gc) == 0);
    /* Misaligned memory is aligned inside. */
    gc = mpgc_init(mem + 3, sizeof mem - 3, NULL);
    CHECK(gc != NULL && ((uintptr_t)gc % sizeof(void *)) == 0);
    void *p = mpgc_alloc(gc, 1, 0);
    CHECK(p && (uintptr_t)p % BLK == 0);
    CHECK(mpgc_check(gc));
}

static void test_alloc_zeroed_and_rounded(void) {
    mpgc_t *gc = fresh();
    size_t total = (size_t)mpgc_mem_free(gc);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    uint8_t *a = mpgc_alloc(gc, 1, 0);
    CHECK(a != NULL);
    CHECK_EQ(mpgc_size(gc, a), BLK);
    CHECK_EQ(mpgc_mem_alloc(gc), BLK);
    memset(a, 0xAB, BLK);
    mpgc_free(gc, a);
    uint8_t *b = mpgc_alloc(gc, BLK + 1, 0);
    CHECK_EQ(mpgc_size(gc, b), 2 * BLK);
    int zero = 1;
    for (size_t i = 0; i < 2 * BLK; i++) zero &= b[i] == 0;
    CHECK(zero);
    CHECK_EQ((size_t)mpgc_mem_alloc(gc) + (size_t)mpgc_mem_free(gc), total);
    CHECK(mpgc_check(gc));
}

static void test_bad_sizes(void) {
    mpgc_t *gc = fresh();
    size_t before = mpgc_mem_alloc(gc);
    CHECK(mpgc_alloc(gc, 0, 0) == NULL);
    CHECK(mpgc_alloc(gc, SIZE_MAX, 0) == NULL);
    CHECK(mpgc_alloc(gc, SIZE_MAX - BLK + 2, 0) == NULL);
    CHECK(mpgc_alloc(gc, SIZE_MAX / 2, 0) == NULL);
    CHECK(mpgc_alloc(gc, sizeof mem, 0) == NULL);
    CHECK(mpgc_alloc(NULL, 8, 0) == NULL);
    CHECK_EQ(mpgc_mem_alloc(gc), before);
    void *p = mpgc_alloc(gc, 10, 0);
    CHECK(mpgc_realloc(gc, p, SIZE_MAX, true) == NULL);
    CHECK_EQ(mpgc_size(gc, p), BLK);
    CHECK(mpgc_check(gc));
}

static void test_fill_until_full(void) {
    mpgc_t *gc = fresh();
    size_t n = 0;
    mpgc_disable(gc); /* else the full heap collects and the loop never ends */
    while (mpgc_alloc(gc, 1, 0)) n++;
    CHECK_EQ(n * BLK, mpgc_mem_alloc(gc));
    CHECK_EQ(mpgc_mem_free(gc), 0);
    CHECK(mpgc_check(gc));
    mpgc_info_t info;
    mpgc_info(gc, &info);
    CHECK_EQ(info.num_1block, STAT(n));
    CHECK_EQ(info.max_free, 0);
    CHECK_EQ(info.max_block, STAT(1));
    /* With only explicit roots (none), a collection frees them all. */
    CHECK_EQ(mpgc_collect(gc), n);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    mpgc_info(gc, &info);
    CHECK_EQ(info.num_1block, 0);
    CHECK_EQ(info.max_free, info.total);
    CHECK(mpgc_check(gc));
}

static void test_bad_pointers(void) {
    mpgc_t *gc = fresh();
    uint8_t *p = mpgc_alloc(gc, 3 * BLK, 0);
    uint8_t *q = mpgc_alloc(gc, BLK, 0);
    size_t used = mpgc_mem_alloc(gc);
    static int outside;
    /* Outside every pool. */
    mpgc_free(gc, &outside);
    CHECK_EQ(reports[MPGC_BAD_FOREIGN], 1);
    CHECK_EQ(mpgc_size(gc, &outside), 0);
    CHECK(mpgc_realloc(gc, &outside, 8, true) == NULL);
    CHECK_EQ(reports[MPGC_BAD_FOREIGN], 3);
    /* Into the control block / tables at the start of the region. */
    mpgc_free(gc, mem + 8);
    CHECK_EQ(mpgc_size(gc, mem + 8), 0);
    CHECK_EQ(reports[MPGC_BAD_FOREIGN], 5);
    /* Into the middle of an allocation, aligned and not. */
    mpgc_free(gc, p + BLK);
    mpgc_free(gc, p + 1);
    CHECK_EQ(mpgc_size(gc, p + BLK), 0);
    CHECK(mpgc_realloc(gc, p + 2 * BLK, 1, true) == NULL);
    CHECK_EQ(reports[MPGC_BAD_INTERIOR], 4);
    CHECK(last_bad == p + 2 * BLK);
    CHECK_EQ(mpgc_mem_alloc(gc), used);
    CHECK_EQ(mpgc_size(gc, p), 3 * BLK);
    /* Double free. */
    mpgc_free(gc, q);
    CHECK_EQ(mpgc_mem_alloc(gc), used - BLK);
    mpgc_free(gc, q);
    CHECK_EQ(reports[MPGC_BAD_FREED], 1);
    CHECK_EQ(mpgc_size(gc, q), 0); /* size reports too */
    CHECK_EQ(mpgc_mem_alloc(gc), used - BLK);
    /* Free block never allocated. */
    mpgc_free(gc, q + 10 * BLK);
    CHECK_EQ(reports[MPGC_BAD_FREED], 3);
    mpgc_free(gc, NULL); /* no-op, no report */
    CHECK_EQ(reports[MPGC_BAD_FREED], 3);
    CHECK(mpgc_check(gc));
}

static void test_free_coalesces(void) {
    mpgc_t *gc = fresh();
    mpgc_info_t info;
    mpgc_info(gc, &info);
    size_t total = info.total;
    void *a = mpgc_alloc(gc, 2 * BLK, 0);
    void *b = mpgc_alloc(gc, 3 * BLK, 0);
    void *c = mpgc_alloc(gc, 1 * BLK, 0);
    void *d = mpgc_alloc(gc, 5 * BLK, 0);
    mpgc_free(gc, a);
    mpgc_free(gc, c);
    CHECK(mpgc_check(gc));
    mpgc_free(gc, b); /* joins a and c */
    CHECK(mpgc_check(gc));
    mpgc_free(gc, d); /* joins everything */
    CHECK(mpgc_check(gc));
    mpgc_info(gc, &info);
    CHECK_EQ(info.max_free, total);
    CHECK_EQ(info.used, 0);
}

/* The current run (docs/design.md section 2): small requests bump through
 * one free run held outside the index. It must never cost an allocation,
 * must stay a maximal run as neighbours are freed, and must count in
 * max_free. */
static void test_current_run(void) {
    mpgc_t *gc = fresh();
    mpgc_info_t info;
    mpgc_info(gc, &info);
    size_t total = info.total;
    /* Consecutive small requests are consecutive blocks. */
    uint8_t *a = mpgc_alloc(gc, BLK, 0);
    uint8_t *b = mpgc_alloc(gc, 2 * BLK, 0);
    uint8_t *c = mpgc_alloc(gc, BLK, 0);
    CHECK(b == a + BLK && c == b + 2 * BLK);
    mpgc_info(gc, &info);
    CHECK_EQ(info.max_free, total - 4 * BLK); /* the rest is the current run */
    CHECK(mpgc_check(gc));
    /* Freeing the last one gives its blocks back to the current run. */
    mpgc_free(gc, c);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_alloc(gc, BLK, 0) == c);
    /* Freeing a lower object makes an exact-size run, reused first. */
    mpgc_free(gc, b);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_alloc(gc, 2 * BLK, 0) == b);
    /* A request for all the rest is met from the current run, without
     * collecting: the current run never makes an allocation fail. */
    size_t before = info.collections;
    size_t rest = total - 4 * BLK;
    uint8_t *big = mpgc_alloc(gc, rest, 0);
    CHECK(big == c + BLK);
    mpgc_info(gc, &info);
    CHECK_EQ(info.collections, before);
    CHECK_EQ(mpgc_mem_free(gc), 0);
    CHECK(mpgc_check(gc));
    /* Both neighbours freed around a middle object: one run again. */
    mpgc_free(gc, big);
    mpgc_free(gc, a);
    CHECK(mpgc_check(gc));
    mpgc_free(gc, c); /* joins the current run (above) and a's run (below) */
    CHECK(mpgc_check(gc));
    mpgc_free(gc, b);
    CHECK(mpgc_check(gc));
    mpgc_info(gc, &info);
    CHECK_EQ(info.max_free, total);
    /* A realloc grows in place into the current run. */
    uint8_t *g = mpgc_alloc(gc, BLK, 0);
    uint8_t *h = mpgc_alloc(gc, BLK, 0);
    mpgc_free(gc, h);
    CHECK(mpgc_realloc(gc, g, 5 * BLK, false) == g);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_alloc(gc, BLK, 0) == g + 5 * BLK);
    CHECK(mpgc_check(gc));
}

static void test_realloc(void) {
    mpgc_t *gc = fresh();
    uint8_t *p = mpgc_realloc(gc, NULL, 10, true);
    CHECK(p && mpgc_size(gc, p) == BLK);
    memset(p, 7, 10);
    /* Grow in place into the free run that follows. */
    uint8_t *q = mpgc_realloc(gc, p, 4 * BLK, false);
    CHECK(q == p);
    CHECK_EQ(mpgc_size(gc, p), 4 * BLK);
    CHECK(p[9] == 7 && p[BLK] == 0 && p[4 * BLK - 1] == 0);
    CHECK(mpgc_check(gc));
    /* Shrink in place gives the blocks back. */
    size_t used = mpgc_mem_alloc(gc);
    CHECK(mpgc_realloc(gc, p, BLK, false) == p);
    CHECK_EQ(mpgc_mem_alloc(gc), used - 3 * BLK);
    CHECK(mpgc_check(gc));
    /* A neighbour blocks growth: no move allowed -> NULL, untouched. */
    uint8_t *wall = mpgc_alloc(gc, BLK, 0);
    CHECK(wall == p + BLK);
    CHECK(mpgc_realloc(gc, p, 2 * BLK, false) == NULL);
    CHECK_EQ(mpgc_size(gc, p), BLK);
    CHECK(p[0] == 7);
    /* Moving keeps contents and flags, frees the old one. */
    uint8_t *f = mpgc_alloc(gc, BLK, MPGC_NO_SCAN);
    uint8_t *fwall = mpgc_alloc(gc, BLK, 0);
    (void)fwall;
    memset(f, 0x5A, BLK);
    uint8_t *g = mpgc_realloc(gc, f, 3 * BLK, true);
    CHECK(g != NULL && g != f);
    CHECK(g[0] == 0x5A && g[BLK - 1] == 0x5A && g[BLK] == 0);
    CHECK_EQ(mpgc_size(gc, f), 0);
    CHECK(mpgc_check(gc));
    /* Same size: same pointer. */
    CHECK(mpgc_realloc(gc, g, 3 * BLK - 1, false) == g);
    /* n == 0 frees. */
    size_t before = mpgc_mem_alloc(gc);
    CHECK(mpgc_realloc(gc, g, 0, true) == NULL);
    CHECK_EQ(mpgc_mem_alloc(gc), before - 3 * BLK);
    /* Moving realloc when the heap has no room returns NULL, p intact. */
    mpgc_disable(gc);
    while (mpgc_alloc(gc, BLK, 0)) {}
    CHECK(mpgc_realloc(gc, p, 8 * BLK, true) == NULL);
    CHECK(p[0] == 7 && mpgc_size(gc, p) == BLK);
    CHECK(mpgc_check(gc));
}

static int fin_calls;
static void *fin_last;
static void on_fin(mpgc_t *gc, void *obj, void *user) {
    (void)gc, (void)user;
    fin_calls++;
    fin_last = obj;
}

static void test_realloc_keeps_finaliser(void) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = on_fin;
    mpgc_t *gc = precise_heap(mem, sizeof mem, &cfg);
    uint8_t *p = mpgc_alloc(gc, BLK, MPGC_FINALISE);
    mpgc_alloc(gc, BLK, 0); /* wall: forces the move */
    uint8_t *q = mpgc_realloc(gc, p, 4 * BLK, true);
    CHECK(q && q != p);
    fin_calls = 0;
    mpgc_free(gc, q); /* explicit free: no finaliser */
    mpgc_collect(gc);
    CHECK_EQ(fin_calls, 0);
    p = mpgc_alloc(gc, BLK, MPGC_FINALISE);
    mpgc_alloc(gc, BLK, 0);
    q = mpgc_realloc(gc, p, 4 * BLK, true);
    mpgc_collect(gc);
    CHECK_EQ(fin_calls, MPGC_ENABLE_FINALISERS); /* once, for the moved object only */
    CHECK(!MPGC_ENABLE_FINALISERS || fin_last == q);
    mpgc_collect(gc);
    CHECK_EQ(fin_calls, MPGC_ENABLE_FINALISERS);
    CHECK(mpgc_check(gc));
}

static void test_split_heap(void) {
    mpgc_t *gc = fresh();
    size_t total = (size_t)mpgc_mem_free(gc);
    CHECK(!mpgc_add_region(gc, mem + 100, 1000)); /* overlaps the first pool */
    CHECK(!mpgc_add_region(gc, mem2, 8));          /* too small */
    if (!MPGC_ENABLE_SPLIT_HEAP) {                 /* compiled out: refused */
        CHECK(!mpgc_add_region(gc, mem2, sizeof mem2));
        CHECK(mpgc_check(gc));
        return;
    }
    CHECK(mpgc_add_region(gc, mem2, sizeof mem2));
    CHECK(!mpgc_add_region(gc, mem2 + 64, 512));   /* overlaps the second */
    mpgc_info_t info;
    mpgc_info(gc, &info);
    CHECK_EQ(info.pools, 2);
    CHECK(info.total > total);
    CHECK(mpgc_check(gc));
    /* Fill both pools; allocations land in each. */
    int in1 = 0, in2 = 0;
    uint8_t *p;
    mpgc_disable(gc);
    while ((p = mpgc_alloc(gc, 2 * BLK, 0)) != NULL) {
        in1 += p >= mem && p < mem + sizeof mem;
        in2 += p >= mem2 && p < mem2 + sizeof mem2;
    }
    CHECK(in1 > 0 && in2 > 0);
    CHECK(mpgc_check(gc));
    /* Pointers into the second pool's tables are foreign. */
    mpgc_free(gc, mem2 + sizeof(void *));
    CHECK(reports[MPGC_BAD_FOREIGN] >= 1);
    CHECK_EQ(mpgc_collect(gc), (size_t)(in1 + in2));
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    CHECK(mpgc_check(gc));
}

/* The free-run index has classes only up to the first pool's size
 * (mpgc_fl_classes): the longer runs of a larger pool added later share its
 * last class, which is searched whole. Ten runs of distinct lengths, each
 * longer than the whole first pool, in the second; each request fits only
 * the runs at least as long, so every one must find its run among them,
 * the longest asked for first. */
static _Alignas(64) uint8_t big[16 * 1024 * sizeof(void *)];

static void test_region_larger_than_first(void) {
    enum { FIRST = 256 * sizeof(void *), RUNS = 10 };
    mpgc_config_t cfg = {0};
    mpgc_t *gc = precise_heap(mem, FIRST, &cfg);
    CHECK(gc != NULL);
    if (!gc || !MPGC_ENABLE_SPLIT_HEAP) return;
    CHECK(mpgc_add_region(gc, big, sizeof big));
    mpgc_disable(gc);
    /* Every block an object of one block; then runs are freed in the
     * second pool, one block apart. */
    uint8_t *p, *low = NULL;
    while ((p = mpgc_alloc(gc, BLK, 0)) != NULL)
        if (p >= big && (!low || p < low)) low = p;
    size_t len[RUNS];
    uint8_t *run[RUNS];
    for (int i = 0; i < RUNS; i++) {
        /* At least twice the first pool: two classes above its longest run. */
        len[i] = (2 * FIRST / BLK + 3 * (size_t)i) * BLK;
        run[i] = i ? run[i - 1] + len[i - 1] + BLK : low;
        CHECK(run[i] + len[i] <= big + sizeof big);
        for (size_t k = 0; k < len[i]; k += BLK) mpgc_free(gc, run[i] + k);
    }
    CHECK(mpgc_check(gc));
    mpgc_info_t info;
    mpgc_info(gc, &info);
    CHECK_EQ(info.max_free, len[RUNS - 1]);
    for (int i = RUNS; i-- > 0;) {
        CHECK(mpgc_alloc(gc, len[i], 0) == (void *)run[i]); /* the only run that fits */
        CHECK(mpgc_check(gc));
    }
    CHECK(mpgc_alloc(gc, BLK, 0) == NULL);
}

/* Giving an added pool back (MicroPython's MICROPY_GC_SPLIT_HEAP_AUTO frees
 * empty areas after a collection), both when the pool's free run is indexed
 * and when it is the current run. */
static bool in_mem2(const void *p) {
    return (const uint8_t *)p >= mem2 && (const uint8_t *)p < mem2 + sizeof mem2;
}

static void test_remove_region(void) {
    mpgc_t *gc = fresh();
    size_t total = (size_t)mpgc_mem_free(gc);
    CHECK(!mpgc_remove_region(gc, mem)); /* the first region holds the heap */
    CHECK(!mpgc_remove_region(gc, NULL));
    CHECK(!mpgc_remove_region(NULL, mem2));
    CHECK(!mpgc_remove_region(gc, mem2)); /* not a region */
    if (!MPGC_ENABLE_SPLIT_HEAP) return;
    CHECK(mpgc_add_region(gc, mem2, sizeof mem2));
    CHECK(!mpgc_remove_region(gc, mem2 + BLK)); /* not its start */
    /* Allocate until an object lands in the second pool (at once if it is
     * the lower one): the rest of that pool is then the current run. */
    mpgc_disable(gc);
    uint8_t *p, *in2 = NULL;
    while (!in2 && (p = mpgc_alloc(gc, BLK, 0)) != NULL)
        if (in_mem2(p)) in2 = p;
    CHECK(in2 != NULL);
    CHECK(!mpgc_remove_region(gc, mem2)); /* holds an allocation */
    mpgc_free(gc, in2); /* the whole pool is the current run again */
    CHECK(mpgc_check(gc));
    size_t used = mpgc_mem_alloc(gc);
    CHECK(mpgc_remove_region(gc, mem2));
    CHECK(mpgc_check(gc));
    CHECK_EQ(mpgc_mem_alloc(gc), used);
    CHECK_EQ(mpgc_mem_free(gc), (ptrdiff_t)(total - used));
    mpgc_info_t info;
    mpgc_info(gc, &info);
    CHECK_EQ(info.pools, 1);
    CHECK(!mpgc_remove_region(gc, mem2)); /* already gone */
    /* Its memory is foreign now, and never handed out. */
    mpgc_free(gc, in2);
    CHECK(reports[MPGC_BAD_FOREIGN] >= 1);
    while ((p = mpgc_alloc(gc, BLK, 0)) != NULL) CHECK(!in_mem2(p));
    CHECK(mpgc_check(gc));
    /* Added again, then emptied by a collection: its run is indexed. */
    CHECK(mpgc_add_region(gc, mem2, sizeof mem2));
    CHECK(in_mem2(mpgc_alloc(gc, BLK, 0)));
    mpgc_collect(gc);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_remove_region(gc, mem2));
    CHECK(mpgc_check(gc));
    CHECK_EQ((size_t)mpgc_mem_free(gc), total);
    mpgc_info(gc, &info);
    CHECK_EQ(info.max_free, total);
}

/* mpgc_region_bytes: a region of that size, at any alignment, holds the
 * allocation (MicroPython's split-heap-auto sizes new areas with it). */
static void test_region_bytes(void) {
    CHECK_EQ(mpgc_region_bytes(SIZE_MAX), 0);
    size_t half = mpgc_region_bytes(SIZE_MAX / 2); /* fits or not, never wraps */
    CHECK(half == 0 || half > SIZE_MAX / 2);
    static const size_t sizes[] = {0, 1, BLK, BLK + 1, 100, 1000, 2048, 3000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t need = mpgc_region_bytes(sizes[i]);
        CHECK(need > sizes[i] && need <= sizes[i] + sizes[i] / 16 + 256);
        CHECK(need <= sizeof mem2 - 16);
        for (size_t off = 0; off < 16; off++) {
            mpgc_t *gc = fresh();
            if (!MPGC_ENABLE_SPLIT_HEAP) break;
            mpgc_disable(gc);
            while (mpgc_alloc(gc, BLK, 0)) {} /* the first pool is full */
            CHECK(mpgc_add_region(gc, mem2 + off, need));
            uint8_t *p = mpgc_alloc(gc, sizes[i] ? sizes[i] : 1, 0);
            CHECK(p != NULL && in_mem2(p));
            CHECK(mpgc_check(gc));
        }
    }
}

int main(void) {
    RUN(test_init_sizes);
    RUN(test_alloc_zeroed_and_rounded);
    RUN(test_bad_sizes);
    RUN(test_fill_until_full);
    RUN(test_bad_pointers);
    RUN(test_free_coalesces);
    RUN(test_current_run);
    RUN(test_realloc);
    RUN(test_realloc_keeps_finaliser);
    RUN(test_split_heap);
    RUN(test_region_larger_than_first);
    RUN(test_remove_region);
    RUN(test_region_bytes);
    return test_done();
}
