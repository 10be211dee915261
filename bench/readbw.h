/*
 * readbw.h - this machine's sequential read bandwidth, shared by the two
 * bench programs (mpgc-bench's workload 3 and mpgc-pause's bound): a
 * summing loop over `bytes` with four accumulators, best of `reps` passes.
 * `now` is the caller's clock in ns.
 */
#ifndef MPGC_BENCH_READBW_H
#define MPGC_BENCH_READBW_H

#include <stdint.h>
#include <stdlib.h>

/* Bytes per ns. */
static inline double bench_read_bandwidth(size_t bytes, int reps, double (*now)(void)) {
    size_t n = bytes / sizeof(uint64_t);
    uint64_t *b = malloc(n * sizeof *b);
    if (!b) abort();
    for (size_t i = 0; i < n; i++) b[i] = i;
    double best = 1e300;
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i + 4 <= n; i += 4) {
            s0 += b[i];
            s1 += b[i + 1];
            s2 += b[i + 2];
            s3 += b[i + 3];
        }
        sink += s0 + s1 + s2 + s3;
        double t = now() - t0;
        if (t < best) best = t;
    }
    (void)sink;
    free(b);
    return (double)bytes / best;
}

#endif
