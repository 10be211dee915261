/*
 * seed004.c - seed 004's long-running loop (issue 11), in C against the API.
 *
 *   mpgc-seed004 [--policy fit|ff|both] [--iters N] [--from KIB] [--to KIB]
 *                [--heap KIB] [--seed N] [--scan] [--map]
 *                [--collect own|caller|caller-early]
 *
 * The loop, as the issue gives it (one iteration):
 *   - a short-lived buffer of 16-616 B replaces the oldest of a ring of 24
 *     (the old one stays referenced until the new one is allocated, as in
 *     `ring[i % 24] = bytearray(n)`; the same for the other rings);
 *   - every 7th iteration a medium-lived one of 512-3584 B replaces the
 *     oldest of a ring of 6;
 *   - every 97th iteration a long-lived one of 64-264 B is kept, up to 40;
 *   - every 50th iteration a transient 4-8 KiB frame buffer is allocated,
 *     written and dropped;
 * 200,000 iterations; sizes uniform, from a fixed splitmix64 generator.
 * Buffers are no-scan (bytes; --scan: scanned). The program's references
 * are one root table; the C stack is not scanned; the engine collects by
 * itself when an allocation finds no run (threshold off), as a port does.
 *
 * Figures:
 *   peak live   the largest sum of the block-rounded sizes of the buffers
 *               the program holds, counted right after each allocation
 *               (the same as collecting before every allocation);
 *   survival    for every heap size from --from to --to KiB in steps of
 *               1 KiB (the size of the region given to mpgc_init, control
 *               block and tables included): did all iterations complete?
 *               Reported: the smallest size from which every larger size
 *               tested survives, the failing sizes above the smallest
 *               survivor, and that size over the peak live.
 * --collect: who collects when no run is long enough (enum below).
 * --heap K runs one size and prints its collections and first failure
 * (--map: and the heap map after a collection at that failure).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpgc.h"

#define KiB ((size_t)1024)
#define BLK ((size_t)MPGC_BLOCK_BYTES)
#define SHORT_N 24
#define MED_N 6
#define LONG_N 40
/* refs: short ring, medium ring, long-lived, the frame buffer */
#define NREFS (SHORT_N + MED_N + LONG_N + 1)

typedef struct {
    long iters;
    uint64_t seed;
    bool scan;
    bool map; /* print the heap map when an allocation fails */
    int collect; /* COLLECT_OWN, COLLECT_CALLER or COLLECT_CALLER_EARLY */
} loop_opts_t;

/* Who collects when an allocation finds no run: mpgc (enabled, the
 * default); the program (mpgc_disable, then mpgc_collect and one retry, as
 * MicroPython's gc_alloc does); the same with cfg.caller_collects, so that
 * mpgc may ask for an early collection. */
enum { COLLECT_OWN, COLLECT_CALLER, COLLECT_CALLER_EARLY };

typedef struct {
    long failed_at;    /* -1: survived */
    size_t peak_live;  /* bytes, block-rounded */
    size_t collections;
} loop_result_t;

static size_t collections(const mpgc_t *gc) {
    mpgc_info_t in;
    mpgc_info(gc, &in);
    return in.collections;
}

static void out(void *ctx, const char *s, size_t n) { fwrite(s, 1, n, (FILE *)ctx); }

static uint64_t next_rand(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static size_t uniform(uint64_t *s, size_t lo, size_t hi) {
    return lo + (size_t)(next_rand(s) % (hi - lo + 1));
}
static size_t rounded(size_t n) { return (n + BLK - 1) / BLK * BLK; }

/* One run of the loop on a heap of `heap` bytes under `policy`. */
static loop_result_t run_loop(size_t heap, mpgc_policy_t policy, const loop_opts_t *o) {
    loop_result_t res = {-1, 0, 0};
    static _Alignas(64) unsigned char mem[4096 * 1024];
    static void *refs[NREFS];
    static size_t sizes[NREFS];
    if (heap > sizeof mem) {
        res.failed_at = 0;
        return res;
    }
    mpgc_config_t cfg = {0};
    cfg.policy = policy;
    cfg.no_stack_scan = true;
    cfg.caller_collects = o->collect == COLLECT_CALLER_EARLY;
    mpgc_t *gc = mpgc_init(mem, heap, &cfg);
    if (!gc) {
        res.failed_at = 0;
        return res;
    }
    if (o->collect != COLLECT_OWN) mpgc_disable(gc);
    memset(refs, 0, sizeof refs);
    memset(sizes, 0, sizeof sizes);
    mpgc_add_root(gc, refs, sizeof refs);
    unsigned flags = o->scan ? 0u : MPGC_NO_SCAN;
    uint64_t rng = o->seed;
    size_t live = 0, nlong = 0;
    void **shorts = refs, **meds = refs + SHORT_N, **longs = meds + MED_N, **frame = longs + LONG_N;
    size_t *ss = sizes, *ms = sizes + SHORT_N, *ls = ms + MED_N, *fs = ls + LONG_N;
/* slot = a new buffer of n bytes, as `ring[k] = bytearray(n)` does: the old
 * buffer is still referenced while the new one is allocated. */
#define PUT(slot, sz, n)                                                       \
    do {                                                                       \
        size_t n_ = (n);                                                       \
        void *p_ = mpgc_alloc(gc, n_, flags);                                  \
        if (!p_ && o->collect != COLLECT_OWN) {                                \
            mpgc_collect(gc);                                                  \
            p_ = mpgc_alloc(gc, n_, flags);                                    \
        }                                                                      \
        if (!p_) goto failed;                                                  \
        memset(p_, 0xA5, 8);                                                   \
        live += rounded(n_);                                                   \
        if (live > res.peak_live) res.peak_live = live;                        \
        live -= (sz);                                                          \
        (slot) = p_;                                                           \
        (sz) = rounded(n_);                                                    \
    } while (0)
    long i;
    for (i = 0; i < o->iters; i++) {
        PUT(shorts[i % SHORT_N], ss[i % SHORT_N], uniform(&rng, 16, 616));
        if (i % 7 == 0) PUT(meds[(i / 7) % MED_N], ms[(i / 7) % MED_N], uniform(&rng, 512, 3584));
        if (i % 97 == 0 && nlong < LONG_N) {
            PUT(longs[nlong], ls[nlong], uniform(&rng, 64, 264));
            nlong++;
        }
        if (i % 50 == 0) {
            PUT(*frame, *fs, uniform(&rng, 4096, 8192));
            live -= *fs;
            *frame = NULL;
            *fs = 0;
        }
    }
    res.collections = collections(gc);
    if (!mpgc_check(gc)) {
        fprintf(stderr, "mpgc_check failed at heap %zu\n", heap);
        exit(1);
    }
    return res;
failed:
    if (o->map) {
        mpgc_collect(gc);
        mpgc_info_t in;
        mpgc_info(gc, &in);
        printf("iteration %ld: free %zu, largest free run %zu bytes\n", i, in.free, in.max_free);
        mpgc_dump_alloc_table(gc, out, stdout);
        printf("long-lived at (KiB from the first):");
        const unsigned char *base = (const unsigned char *)longs[0];
        for (size_t k = 0; k < nlong; k++)
            printf(" %.1f", ((const unsigned char *)longs[k] - base) / 1024.0);
        printf("\nshort ring at:");
        for (size_t k = 0; k < SHORT_N; k++)
            if (shorts[k]) printf(" %.1f", ((const unsigned char *)shorts[k] - base) / 1024.0);
        printf("\n");
    }
    res.failed_at = i;
    res.collections = collections(gc);
    return res;
#undef PUT
}

static const char *policy_name(mpgc_policy_t p) {
    return p == MPGC_POLICY_FIRST_FIT ? "first-fit" : "fit";
}

static void sweep(mpgc_policy_t policy, size_t from, size_t to, const loop_opts_t *o) {
    static bool ok[4097];
    size_t peak = 0;
    for (size_t k = from; k <= to; k++) {
        loop_result_t r = run_loop(k * KiB, policy, o);
        ok[k] = r.failed_at < 0;
        if (ok[k] && r.peak_live > peak) peak = r.peak_live;
    }
    size_t floor_k = to + 1, lowest_ok = to + 1;
    for (size_t k = to + 1; k-- > from && ok[k];) floor_k = k;
    for (size_t k = from; k <= to; k++)
        if (ok[k]) {
            lowest_ok = k;
            break;
        }
    printf("%-10s peak live %.1f KiB; survives from %zu KiB (%.2fx peak live)", policy_name(policy),
           (double)peak / 1024.0, floor_k, peak ? (double)(floor_k * KiB) / (double)peak : 0.0);
    printf("; fails above %zu KiB at:", lowest_ok);
    int nfail = 0;
    for (size_t k = lowest_ok; k < floor_k; k++)
        if (!ok[k]) printf(" %zu", k), nfail++;
    printf("%s\n", nfail ? "" : " none");
}

int main(int argc, char **argv) {
    loop_opts_t o = {200000, 4, false, false, COLLECT_OWN};
    size_t from = 44, to = 256, one = 0;
    int which = 2; /* 0 fit, 1 ff, 2 both */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--scan") == 0) o.scan = true;
        else if (strcmp(a, "--map") == 0) o.map = true;
        else if (strcmp(a, "--collect") == 0 && v) {
            o.collect = strcmp(v, "caller") == 0 ? COLLECT_CALLER
                        : strcmp(v, "caller-early") == 0 ? COLLECT_CALLER_EARLY : COLLECT_OWN;
            i++;
        }
        else if (strcmp(a, "--policy") == 0 && v) {
            which = strcmp(v, "fit") == 0 ? 0 : strcmp(v, "ff") == 0 ? 1 : 2;
            i++;
        } else if (strcmp(a, "--iters") == 0 && v) o.iters = atol(argv[++i]);
        else if (strcmp(a, "--from") == 0 && v) from = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--to") == 0 && v) to = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--heap") == 0 && v) one = (size_t)atol(argv[++i]);
        else if (strcmp(a, "--seed") == 0 && v) o.seed = strtoull(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: mpgc-seed004 [--policy fit|ff|both] [--iters N] [--from KIB]\n"
                            "                    [--to KIB] [--heap KIB] [--seed N] [--scan] [--map]\n"
                            "                    [--collect own|caller|caller-early]\n");
            return 2;
        }
    }
    if (to > 4096) to = 4096;
    printf("seed 004 loop: %ld iterations, seed %llu, %s buffers, block %zu B\n", o.iters,
           (unsigned long long)o.seed, o.scan ? "scanned" : "no-scan", BLK);
    for (int p = 0; p < 2; p++) {
        if (which != 2 && which != p) continue;
        mpgc_policy_t pol = p ? MPGC_POLICY_FIRST_FIT : MPGC_POLICY_FIT;
        if (one) {
            loop_result_t r = run_loop(one * KiB, pol, &o);
            printf("%-10s heap %zu KiB: %s %ld, peak live %.1f KiB, %zu collections\n",
                   policy_name(pol), one, r.failed_at < 0 ? "survives" : "fails at iteration",
                   r.failed_at < 0 ? o.iters : r.failed_at, (double)r.peak_live / 1024.0,
                   r.collections);
        } else {
            sweep(pol, from, to, &o);
        }
    }
    return 0;
}
