/*
 * test.h - the small CHECK harness shared by the C tests.
 *
 * Each test program runs its cases, prints one line per failed CHECK, then
 * "N passed, N failed" and exits non-zero on any failure. No OS is needed
 * (the same programs run under qemu on bare-metal targets).
 */
#ifndef MPGC_TEST_H
#define MPGC_TEST_H

#include <stdio.h>
#include <string.h>

#include "mpgc.h"

static int t_pass, t_fail;

#define CHECK(c)                                                               \
    do {                                                                       \
        if (c) {                                                               \
            t_pass++;                                                          \
        } else {                                                               \
            t_fail++;                                                          \
            printf("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c);       \
        }                                                                      \
    } while (0)

#define CHECK_EQ(a, b)                                                         \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ == b_) {                                                        \
            t_pass++;                                                          \
        } else {                                                               \
            t_fail++;                                                          \
            printf("%s:%d: CHECK_EQ failed: %s == %lld, %s == %lld\n",         \
                   __FILE__, __LINE__, #a, a_, #b, b_);                        \
        }                                                                      \
    } while (0)

#define RUN(fn)                                                                \
    do {                                                                       \
        printf("-- %s\n", #fn);                                                \
        fn();                                                                  \
    } while (0)

/* Expected value of a statistic, 0 when statistics are compiled out. */
#define STAT(x) (MPGC_ENABLE_STATS ? (x) : 0)

static inline int test_done(void) {
    printf("%d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}

/* A heap with explicit roots only: no stale C stack word can keep garbage
 * alive, so "freed" is exact. */
static inline mpgc_t *precise_heap(void *mem, size_t size, mpgc_config_t *cfg) {
    mpgc_config_t c = {0};
    if (cfg) c = *cfg;
    c.no_stack_scan = true;
    return mpgc_init(mem, size, &c);
}

#endif
