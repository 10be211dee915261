/* Marking: its work is linear in the live data whatever the layout (the
 * mark stack spills into free runs), it stays correct when free memory
 * cannot hold the grey set (the overflow rescan), and the free-run index
 * stays intact while the stack borrows free memory.
 *
 * Work is measured, not time: the progress callback runs once per
 * MPGC_PROGRESS_WORDS words of collection work (words scanned by marking,
 * rescans included, plus four per group swept), so its calls count the
 * collection's work deterministically. */
#include "test.h"

#include <stdint.h>

#define WORDS (MPGC_BLOCK_BYTES / sizeof(void *))
/* 2 MiB on 64-bit hosts; 1 MiB on 32-bit targets (the qemu boards' RAM). */
#define HEAP (UINTPTR_MAX > 0xffffffffu ? 2u << 20 : 1u << 20)
static _Alignas(64) uint8_t mem[HEAP];
static void *roots[2];

static unsigned long ticks;
static int check_failures, info_failures;
static bool check_in_progress;
static void on_progress(mpgc_t *gc, void *user) {
    (void)user;
    ticks++;
    if (!check_in_progress) return;
    /* The index must be intact while the mark stack uses free memory. */
    if (!mpgc_check(gc)) check_failures++;
    mpgc_info_t i;
    mpgc_info(gc, &i);
    if (i.free + i.used != i.total || i.max_free > i.free) info_failures++;
}

static mpgc_t *heap(void) {
    mpgc_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.no_stack_scan = true;
    cfg.progress = on_progress;
    mpgc_t *gc = mpgc_init(mem, sizeof mem, &cfg);
    roots[0] = roots[1] = NULL;
    mpgc_add_root(gc, roots, sizeof roots);
    mpgc_disable(gc); /* nothing collects while a shape is built */
    return gc;
}

/* The work of one collection of the current heap. */
static unsigned long work(mpgc_t *gc) {
    ticks = 0;
    mpgc_collect(gc);
    return ticks;
}

/* A chunk list: chunks of 128 words, each holding 127 fresh one-block
 * objects and a link to the next chunk (word 127). Appending puts the link
 * on the stack last, so each chunk's 127 objects wait below the next
 * chunk: the grey set grows by 127 per chunk. Returns the chunks built. */
static size_t chunk_list(mpgc_t *gc, size_t n, bool append) {
    void **head = NULL, **tail = NULL;
    for (size_t i = 0; i < n; i++) {
        void **c = mpgc_alloc(gc, 128 * sizeof(void *), 0);
        if (!c) return i;
        for (size_t j = 0; j < 127; j++) {
            c[j] = mpgc_alloc(gc, sizeof(void *), 0);
            if (!c[j]) return i;
        }
        if (append) {
            if (tail) tail[127] = c;
            else head = c;
            tail = c;
        } else {
            c[127] = head;
            head = c;
        }
        roots[0] = head;
    }
    return n;
}

/* Leaves of every node at the lowest addresses, then node i (64 fillers, a
 * leaf, a link) and its 64 one-block fillers, node i+1 above node i.
 * Descending: the root is the highest node and each links to the node
 * below (an overflow rescan would restart below its position at every
 * node); ascending: the same graph walked upwards. */
static size_t spine(mpgc_t *gc, size_t n, bool descending) {
    void **leaf = mpgc_alloc(gc, n * sizeof(void *), MPGC_NO_SCAN); /* a table of them */
    if (!leaf) return 0;
    roots[1] = leaf;
    for (size_t i = 0; i < n; i++)
        if (!(leaf[i] = mpgc_alloc(gc, sizeof(void *), 0))) return 0;
    void **prev = NULL;
    for (size_t i = 0; i < n; i++) {
        void **node = mpgc_alloc(gc, 66 * sizeof(void *), 0);
        if (!node) return i;
        for (size_t j = 0; j < 64; j++)
            if (!(node[j] = mpgc_alloc(gc, sizeof(void *), 0))) return i;
        node[64] = leaf[i];
        if (descending) {
            node[65] = prev;
            roots[0] = node;
        } else {
            if (prev) prev[65] = node;
            else roots[0] = node;
        }
        prev = node;
    }
    roots[1] = NULL; /* only the nodes hold the leaves now */
    return n;
}

typedef size_t (*shape_fn)(mpgc_t *, size_t, bool);

/* Work at n, 2n and 4n: each doubling at most 2.2x (the bound);
 * before the spill, the chunk list grew 3.3-4x and the spine was hundreds
 * of times slower descending than ascending. */
static void linear(shape_fn shape, bool variant, size_t n) {
    unsigned long w[3];
    for (int k = 0; k < 3; k++) {
        mpgc_t *gc = heap();
        size_t built = shape(gc, n << k, variant);
        CHECK_EQ(built, n << k);
        mpgc_collect(gc); /* frees what building left (the spine's leaf table) */
        size_t used = mpgc_mem_alloc(gc);
        w[k] = work(gc);
        CHECK_EQ(mpgc_mem_alloc(gc), used); /* all of it reachable, all kept */
        CHECK(mpgc_check(gc));
    }
    printf("  work at n, 2n, 4n: %lu %lu %lu\n", w[0], w[1], w[2]);
    CHECK(w[1] * 10 <= w[0] * 22);
    CHECK(w[2] * 10 <= w[1] * 22);
}

/* The two variants of a shape at size n cost the same work, within 10 %. */
static void same_work(shape_fn shape, size_t n) {
    unsigned long w[2];
    for (int k = 0; k < 2; k++) {
        mpgc_t *gc = heap();
        CHECK_EQ(shape(gc, n, k == 0), n);
        mpgc_collect(gc); /* frees what building left */
        w[k] = work(gc);
    }
    CHECK(w[0] * 10 <= w[1] * 11 && w[1] * 10 <= w[0] * 11);
}

static void chunk_list_is_linear(void) {
    /* 4n chunks (159 blocks each) fill two thirds of the heap: the free
     * third holds the grey set (docs/design.md section 3; a heap too full
     * for it falls back to overflow rescans, see full_heap_keeps_everything). */
    size_t n = HEAP / (159 * MPGC_BLOCK_BYTES) / 6;
    linear(chunk_list, true, n);
    linear(chunk_list, false, n);
    /* Appending costs what prepending costs (before the spill: 3x at 4n,
     * and 16x with 16,000 chunks). */
    same_work(chunk_list, 4 * n);
}

static void spine_is_linear(void) {
    size_t n = HEAP / (84 * MPGC_BLOCK_BYTES) / 6; /* 4n: two thirds (84 blocks each) */
    linear(spine, true, n);
    same_work(spine, 2 * n); /* descending costs what ascending costs */
}

/* The stack borrows free runs: mpgc_check and mpgc_info, called from the
 * progress callback in the middle of marking (the heap is large enough
 * that the sweep's own progress calls come after many marking ones), and
 * between the two steps of a collection, see an intact index. */
static void index_intact_while_spilled(void) {
    mpgc_t *gc = heap();
    size_t n = HEAP / (170 * MPGC_BLOCK_BYTES) / 2;
    CHECK_EQ(chunk_list(gc, n, true), n);
    for (int i = 0; i < 50; i++) mpgc_alloc(gc, 3 * MPGC_BLOCK_BYTES, 0); /* garbage: more runs */
    check_failures = info_failures = 0;
    check_in_progress = true;
    CHECK(mpgc_collect_start(gc));
    check_in_progress = false;
    CHECK(ticks > 10);
    CHECK_EQ(check_failures, 0);
    CHECK_EQ(info_failures, 0);
    CHECK(mpgc_check(gc)); /* after the spill, before the sweep */
    CHECK(mpgc_collect_end(gc) == 50);
    CHECK(mpgc_check(gc));
}

/* A heap filled to the last block by a chunk list has no free run for the
 * stack: the overflow rescan must still keep everything. */
static void full_heap_keeps_everything(void) {
    mpgc_t *gc = heap();
    size_t n = chunk_list(gc, SIZE_MAX, true); /* until allocation fails */
    CHECK(n > 10);
    while (mpgc_alloc(gc, 1, 0)) {
    } /* the last blocks: garbage, freed */
    size_t before = mpgc_mem_alloc(gc);
    CHECK_EQ(mpgc_mem_free(gc), 0);
    mpgc_collect(gc);
    size_t kept = mpgc_mem_alloc(gc);
    CHECK(kept < before);
    /* Every chunk and every object of the list is still allocated. */
    size_t chunks = 0, objs = 0;
    for (void **c = roots[0]; c; c = c[127]) {
        chunks += mpgc_size(gc, c) == 128 * sizeof(void *);
        for (size_t j = 0; j < 127; j++) objs += mpgc_size(gc, c[j]) == MPGC_BLOCK_BYTES;
    }
    CHECK_EQ(chunks, n);
    CHECK_EQ(objs, 127 * n);
    CHECK(mpgc_check(gc));
}

int main(void) {
    if (MPGC_ENABLE_PROGRESS) { /* the work counter */
        RUN(chunk_list_is_linear);
        RUN(spine_is_linear);
        RUN(index_intact_while_spilled);
    }
    RUN(full_heap_keeps_everything);
    return test_done();
}
