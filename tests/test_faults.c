/*
 * Out of memory everywhere: each scenario is run again and again with the
 * k-th allocation made to fail (the config's fail_alloc hook), for every k
 * until a run completes. After every run the heap must be consistent, the
 * objects the scenario still holds intact, and a final collection must give
 * back everything it dropped.
 */
#include <stdint.h>

#include "test.h"

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[64 * 1024];
static void *roots[32];
static long fail_at, seen;

static bool fail_hook(mpgc_t *gc, size_t nbytes, void *user) {
    (void)gc, (void)nbytes, (void)user;
    return seen++ == fail_at;
}

typedef struct vec {
    size_t len, cap;
    void **items;
} vec_t;

/* A growing vector of strings with finalisable handles and byte buffers,
 * the way an interpreter builds a list: returns false where an allocation
 * failed (the scenario stops there, as a MemoryError would). */
static bool scenario(mpgc_t *gc) {
    vec_t *v = mpgc_alloc(gc, sizeof(vec_t), 0);
    if (!v) return false;
    roots[0] = v;
    for (size_t i = 0; i < 40; i++) {
        if (v->len == v->cap) {
            size_t cap = v->cap ? 2 * v->cap : 2;
            void **items = mpgc_realloc(gc, v->items, cap * sizeof(void *), true);
            if (!items) return false;
            v->items = items;
            v->cap = cap;
        }
        unsigned flags = i % 5 == 0 ? MPGC_FINALISE : i % 3 == 0 ? MPGC_NO_SCAN : 0;
        char *s = mpgc_alloc(gc, 8 + i * 7, flags);
        if (!s) return false;
        memset(s, 'a' + (int)(i % 26), 8 + i * 7);
        v->items[v->len++] = s;
        if (i % 4 == 0 && !mpgc_alloc(gc, 100, MPGC_NO_SCAN)) return false; /* temporaries */
        if (i % 9 == 8) mpgc_collect(gc);
    }
    /* Drop half, shrink, collect. */
    for (size_t i = 0; i < v->len; i += 2) v->items[i] = NULL;
    if (!mpgc_realloc(gc, v->items, v->len * sizeof(void *), false)) return false;
    mpgc_collect(gc);
    return true;
}

static int verify(const mpgc_t *gc) {
    vec_t *v = roots[0];
    int bad = 0;
    if (!v) return 0;
    for (size_t i = 0; i < v->len; i++) {
        char *s = v->items[i];
        if (!s) continue;
        bad += mpgc_size(gc, s) < 8 + i * 7;
        for (size_t k = 0; k < 8 + i * 7; k++) bad += s[k] != 'a' + (int)(i % 26);
    }
    return bad;
}

static void test_every_allocation_fails_once(void) {
    long runs = 0;
    for (fail_at = 0;; fail_at++) {
        mpgc_config_t cfg = {0};
        cfg.fail_alloc = fail_hook;
        memset(roots, 0, sizeof roots);
        mpgc_t *gc = precise_heap(mem, sizeof mem, &cfg);
        mpgc_add_root(gc, roots, sizeof roots);
        seen = 0;
        bool done = scenario(gc);
        runs++;
        CHECK(mpgc_check(gc));
        CHECK_EQ(verify(gc), 0);
        roots[0] = NULL;
        mpgc_collect(gc);
        CHECK(mpgc_check(gc));
        CHECK_EQ(mpgc_mem_alloc(gc), 0);
        if (done) {
            CHECK(seen <= fail_at); /* completed only when no failure was injected */
            break;
        }
        CHECK(seen > fail_at); /* it stopped at the injected failure */
        if (fail_at > 10000) break;
    }
    printf("%ld runs\n", runs);
    CHECK(runs > 50);
}

/* Real exhaustion, not injected: a heap too small for the scenario. */
static void test_real_exhaustion(void) {
    for (size_t size = 2048; size <= 16 * 1024; size += 1024) {
        memset(roots, 0, sizeof roots);
        mpgc_t *gc = precise_heap(mem, size, NULL);
        if (!gc) continue;
        mpgc_add_root(gc, roots, sizeof roots);
        (void)scenario(gc);
        CHECK(mpgc_check(gc));
        CHECK_EQ(verify(gc), 0);
        roots[0] = NULL;
        mpgc_collect(gc);
        CHECK_EQ(mpgc_mem_alloc(gc), 0);
    }
}

int main(void) {
    RUN(test_every_allocation_fails_once);
    RUN(test_real_exhaustion);
    return test_done();
}
