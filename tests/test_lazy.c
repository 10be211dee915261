/* The sweep is lazy (docs/design.md section 4): a collection frees in the
 * tables only and writes nothing into the memory it frees; the free-run
 * index is rebuilt by the allocations that need it. What must hold at
 * every moment: the counters and mpgc_info are exact, every free block can
 * be allocated, explicit frees and reallocs anywhere keep the heap
 * consistent, and free memory that is never needed is never written. */
#include "test.h"

#include <stdint.h>

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[256 * 1024];
static void *roots[512];

static mpgc_t *heap(void) {
    memset(roots, 0, sizeof roots);
    mpgc_t *gc = precise_heap(mem, sizeof mem, NULL);
    mpgc_add_root(gc, roots, sizeof roots);
    return gc;
}

static bool all_bytes(const uint8_t *p, size_t n, uint8_t v) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return false;
    return true;
}

static size_t untouched(uint8_t **garbage, size_t n, size_t gap) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += all_bytes(garbage[i], gap * BLK, 0xA5);
    return k;
}

/* Live one-block objects rooted in roots[], each followed by a garbage
 * object of `gap` blocks filled with 0xA5. Returns how many were made. */
static size_t interleave(mpgc_t *gc, size_t n, size_t gap, uint8_t **garbage) {
    for (size_t i = 0; i < n; i++) {
        roots[i] = mpgc_alloc(gc, BLK, 0);
        garbage[i] = mpgc_alloc(gc, gap * BLK, MPGC_NO_SCAN);
        if (!roots[i] || !garbage[i]) return i;
        memset(garbage[i], 0xA5, gap * BLK);
    }
    return n;
}

/* The collection frees 300 runs and writes none of them; a few small
 * allocations afterwards need a few runs and write only those. (Before the
 * lazy index, the sweep wrote a header and a tag into each of the 300.) */
static void collection_writes_no_free_memory(void) {
    mpgc_t *gc = heap();
    static uint8_t *garbage[300];
    CHECK_EQ(interleave(gc, 300, 3, garbage), 300);
    size_t used = mpgc_mem_alloc(gc);
    CHECK_EQ(mpgc_collect(gc), 300);
    CHECK_EQ(mpgc_mem_alloc(gc), used - 300 * 3 * BLK);
    CHECK_EQ(untouched(garbage, 300, 3), 300);
    CHECK(mpgc_check(gc));
    for (int i = 0; i < 6; i++) CHECK(mpgc_alloc(gc, BLK, 0) != NULL); /* two 3-block runs */
    CHECK(untouched(garbage, 300, 3) >= 290);
    CHECK(mpgc_check(gc));
}

/* Right after a collection, mem_free and max_free describe the freed space
 * exactly: 297 gaps of 3 blocks, one of 7 (two garbage objects and the
 * dead live one between them), and the top of the heap with the last
 * garbage object below it. */
static void info_exact_after_collection(void) {
    mpgc_t *gc = heap();
    static uint8_t *garbage[300];
    CHECK_EQ(interleave(gc, 300, 3, garbage), 300);
    roots[100] = NULL; /* live 100 dies: garbage 99, it, garbage 100 merge */
    mpgc_info_t before, after;
    mpgc_info(gc, &before);
    mpgc_collect(gc);
    mpgc_info(gc, &after);
    CHECK_EQ(after.used, before.used - (300 * 3 + 1) * BLK);
    CHECK_EQ(after.free, after.total - after.used);
    CHECK_EQ((size_t)mpgc_mem_free(gc), after.free);
    size_t top = before.max_free + 3 * BLK; /* the never-used top, and garbage 299 */
    CHECK_EQ(after.max_free, top);
    /* Fill the top: now the 7-block gap is the longest. */
    roots[511] = mpgc_alloc(gc, top, MPGC_NO_SCAN);
    CHECK(roots[511] != NULL);
    mpgc_info(gc, &after);
    CHECK_EQ(after.max_free, 7 * BLK);
    CHECK(mpgc_check(gc));
    /* Every freed block can be allocated again: 297 x 3 blocks and 7. */
    mpgc_disable(gc); /* these are not rooted: no collection may free them */
    size_t got = 0;
    while (got < 10000 && mpgc_alloc(gc, BLK, 0)) got++;
    CHECK_EQ(got, 297 * 3 + 7);
    CHECK_EQ(mpgc_mem_free(gc), 0);
    CHECK(mpgc_check(gc));
}

/* Frees, growing and shrinking reallocs right after a collection, at low
 * and high addresses (either side of wherever the index has got to), with
 * the heap checked after each and the used bytes tracked by the test. */
static void mutation_after_collection(void) {
    mpgc_t *gc = heap();
    static uint8_t *garbage[400];
    CHECK_EQ(interleave(gc, 400, 2, garbage), 400);
    mpgc_collect(gc);
    size_t used = mpgc_mem_alloc(gc), bad = 0;
    CHECK_EQ(used, 400 * BLK);
    /* High first: free live objects whose neighbours the collection freed. */
    for (size_t i = 399; i > 300; i -= 3) {
        mpgc_free(gc, roots[i]);
        roots[i] = NULL;
        used -= BLK;
        bad += !mpgc_check(gc) || mpgc_mem_alloc(gc) != used;
    }
    /* Growing into the band by a size that no heap holds: refused, with
     * no arithmetic overflow on the way (the sanitizer stage checks). */
    CHECK(mpgc_realloc(gc, roots[300], SIZE_MAX - 64, false) == NULL);
    CHECK(mpgc_realloc(gc, roots[300], SIZE_MAX / 2, false) == NULL);
    bad += !mpgc_check(gc) || mpgc_mem_alloc(gc) != used;
    /* Grow in place into the 2 freed blocks after an object (no move
     * allowed), then shrink some back, low and high. */
    for (size_t i = 0; i < 300; i += 7) {
        CHECK(mpgc_realloc(gc, roots[i], 3 * BLK, false) == roots[i]);
        used += 2 * BLK;
        bad += !mpgc_check(gc) || mpgc_mem_alloc(gc) != used;
        if (i % 2) {
            CHECK(mpgc_realloc(gc, roots[i], BLK, false) == roots[i]);
            used -= 2 * BLK;
            bad += !mpgc_check(gc) || mpgc_mem_alloc(gc) != used;
        }
    }
    /* Allocations of many sizes in between, and frees of low objects. */
    mpgc_disable(gc); /* so that `used` stays the test's own count */
    for (size_t i = 0; i < 120; i++) {
        size_t nb = 1 + (i * 37) % 40;
        void *p = mpgc_alloc(gc, nb * BLK, 0);
        if (p) {
            roots[400 + i % 100] = p;
            used += nb * BLK;
        }
        if (i % 5 == 0 && roots[i]) {
            used -= mpgc_size(gc, roots[i]);
            mpgc_free(gc, roots[i]);
            roots[i] = NULL;
        }
        bad += !mpgc_check(gc) || mpgc_mem_alloc(gc) != used;
    }
    CHECK_EQ(bad, 0);
    mpgc_collect(gc);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_mem_alloc(gc) < used); /* the replaced objects were garbage */
}

/* A large request right after a collection lands at the top of the heap
 * (placement rule 2: the highest run of its class that fits), and it is
 * placed against the whole index: nothing is left to index after it (its
 * rule chooses by class first among all runs; indexing from the top only
 * until a run fits took long runs apart, docs/design.md section 4). */
static void large_request_after_collection(void) {
    if (MPGC_LARGE_BLOCKS == 0) return; /* no large requests */
    mpgc_t *gc = heap();
    static uint8_t *garbage[300];
    CHECK_EQ(interleave(gc, 300, 3, garbage), 300);
    mpgc_collect(gc);
    CHECK_EQ(untouched(garbage, 300, 3), 300);
    size_t n = 4 * MPGC_LARGE_BLOCKS * BLK;
    uint8_t *big = mpgc_alloc(gc, n, 0);
    CHECK(big != NULL);
    CHECK(big > garbage[299]); /* above everything the loop made: the top run */
    CHECK_EQ(mpgc_finish_sweep(gc), 0);
    CHECK(mpgc_check(gc));
}

/* A region given back right after a collection (MicroPython's
 * MICROPY_GC_SPLIT_HEAP_AUTO does so) costs no indexing of the others. */
static void region_given_back_after_collection(void) {
    if (!MPGC_ENABLE_SPLIT_HEAP) return;
    static _Alignas(64) uint8_t region2[16 * 1024];
    mpgc_t *gc = heap();
    static uint8_t *garbage[300];
    CHECK_EQ(interleave(gc, 300, 3, garbage), 300);
    CHECK(mpgc_add_region(gc, region2, sizeof region2));
    mpgc_collect(gc);
    size_t total = mpgc_mem_alloc(gc) + (size_t)mpgc_mem_free(gc);
    CHECK(mpgc_remove_region(gc, region2));
    CHECK(mpgc_check(gc));
    CHECK_EQ(untouched(garbage, 300, 3), 300);
    CHECK(mpgc_mem_alloc(gc) + (size_t)mpgc_mem_free(gc) < total);
    CHECK(mpgc_alloc(gc, BLK, 0) != NULL);
    CHECK(mpgc_check(gc));
}

/* mpgc_finish_sweep indexes every run left (and writes them all), once;
 * it does nothing inside a collection or for NULL. */
static void finish_sweep_indexes_the_rest(void) {
    mpgc_t *gc = heap();
    static uint8_t *garbage[300];
    CHECK_EQ(interleave(gc, 300, 3, garbage), 300);
    CHECK_EQ(mpgc_finish_sweep(NULL), 0);
    mpgc_collect(gc);
    CHECK(mpgc_collect_start(gc));
    CHECK_EQ(mpgc_finish_sweep(gc), 0); /* inside the collection */
    mpgc_collect_end(gc);
    CHECK_EQ(untouched(garbage, 300, 3), 300);
    /* 299 gaps, and the last garbage object merged with the top. */
    CHECK_EQ(mpgc_finish_sweep(gc), 300);
    CHECK_EQ(untouched(garbage, 300, 3), 0);
    CHECK_EQ(mpgc_finish_sweep(gc), 0);
    CHECK(mpgc_check(gc));
    mpgc_disable(gc);
    size_t got = 0;
    while (got < 10000 && mpgc_alloc(gc, 3 * BLK, 0)) got++;
    CHECK(got >= 299); /* every gap and the top */
    CHECK(mpgc_check(gc));
}

int main(void) {
    RUN(collection_writes_no_free_memory);
    RUN(info_exact_after_collection);
    RUN(mutation_after_collection);
    RUN(large_request_after_collection);
    RUN(region_given_back_after_collection);
    RUN(finish_sweep_indexes_the_rest);
    return test_done();
}
