/*
 * pause.c - collection pauses on MicroPython-shaped heaps, mark and sweep
 * apart, against this machine's physical bound (issue 12, item 2).
 *
 *   mpgc-pause [--quick] [--heaps 2,8,32] [--reps N] [--ff]
 *              [--shapes trees,lists,ring,dict,bytes,chunks,spine]
 *              [--chunks 2000,16000] [--spine 1000,8000] [--bound-mib 256]
 *              [--csv FILE]
 *
 * --shapes none measures the bound alone. --quick: a smoke run (2 MiB,
 * tiny overflow layouts, 3 collections per row) for tests/run-all.sh.
 *
 * Shapes (docs/performance.md, "Collection pauses"): C versions of the
 * issue's MicroPython scripts (bench/programs/pause_*.py) with MicroPython's
 * object sizes on 64-bit: a list is a 4-word object {type, alloc, len,
 * items} plus its item array (at least 4 items, as mp_obj_list_init
 * allocates); a tuple of 2 is {type, len, a, b}; a str is {type, hash, len,
 * data} plus its data, no-scan; a bytearray is {type, free, len, items}
 * plus its items, no-scan; a dict is {type, used, alloc, table} plus an
 * open-addressing table of {key, value} that grows as py/map.c grows it.
 * Ints are tagged words (odd): MicroPython boxes only ints beyond 2^62
 * (a boxed one would be a small object), none of which the shapes use.
 * Type pointers point outside the heap, as MicroPython's point into ROM.
 *
 * The five table shapes are built at each heap size, scaled from the
 * issue's 32 MB figures by heap/32M (element counts; trees lose a level
 * per halving of the heap), so live data is the same share of every heap.
 * The overflow layouts (chunk list, spine) get a heap of their own, sized
 * to their data, at sizes doubling so the growth per doubling shows.
 *
 * Each heap is a pre-faulted malloc'd buffer; roots are one array given to
 * mpgc_add_root (no stack scan: no_stack_scan), so nothing is kept alive by
 * chance. Every collection is split as the three-step API splits it:
 *   mark   mpgc_collect_start: roots marked, the mark stack drained
 *          (overflow rescans included);
 *   end    mpgc_collect_end: finalisation and, today, the whole sweep;
 *   lazy   finish_sweep() below: the sweep left pending by a lazy sweep.
 * The pause is mark + end. Figures are the median and maximum over --reps
 * collections of the same data (the first collection after building
 * included). After the last one the heap is checked (mpgc_check) and every
 * shape is walked and counted: a collection that freed live data fails
 * the run (exit 1).
 *
 * The bound: this machine's sequential read bandwidth (a summing loop over
 * a buffer larger than the last-level cache) and the latency of one
 * dependent cache miss (a walk of a random cyclic permutation of cache
 * lines over the same buffer), measured in the same process. For every
 * shape: live bytes / bandwidth, objects x miss latency, and mark divided
 * by each.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "mpgc.h"
#include "readbw.h"

#define WORD sizeof(void *)
#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define MAX_REPS 64

/* The part of the sweep the lazy index leaves to allocation (the free-run
 * index, docs/design.md section 4), done at once: the table's "lazy"
 * column, out of the pause. */
static size_t finish_sweep(mpgc_t *gc) {
    return mpgc_finish_sweep(gc);
}

/* ---- options ------------------------------------------------------------ */

static struct {
    bool quick, ff;
    int reps;
    size_t heaps[8];
    int nheaps;
    char shapes[128];
    long chunks_lo, chunks_hi, spine_lo, spine_hi;
    size_t bound_bytes;
    FILE *csv;
} O = {.reps = 7,
       .bound_bytes = 256 * MiB,
       .heaps = {2 * MiB, 8 * MiB, 32 * MiB},
       .nheaps = 3,
       .shapes = "trees,lists,ring,dict,bytes,chunks,spine",
       .chunks_lo = 2000,
       .chunks_hi = 16000,
       .spine_lo = 1000,
       .spine_hi = 8000};

static bool want(const char *shape) {
    size_t n = strlen(shape);
    for (const char *s = O.shapes; (s = strstr(s, shape)); s += n)
        if ((s == O.shapes || s[-1] == ',') && (s[n] == ',' || s[n] == 0)) return true;
    return false;
}

/* ---- time, random numbers ---------------------------------------------- */

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The scripts' generator (bench/programs/pause_ring.py uses the same), so
 * that the C ring and the Python ring replace the same slots. */
static uint32_t lcg;
static uint32_t lcg_next(void) {
    lcg = (lcg * 1103515245u + 12345u) & 0x7fffffffu;
    return lcg;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* ---- the physical bound ------------------------------------------------- */

/* Bytes per ns of a sequential read of `bytes`, best of `reps` passes. */
static double read_bandwidth(size_t bytes, int reps) {
    return bench_read_bandwidth(bytes, reps, now_ns);
}

/* ns per dependent miss: a random cyclic permutation of the 64-byte lines
 * of `bytes` (Sattolo's shuffle: one cycle through every line), walked
 * `hops` times, best of `reps`. huge: on 2 MiB pages where the kernel gives
 * them (madvise), so that a hop is a cache miss and not also a TLB miss
 * (a microcontroller's heap has no TLB); otherwise on 4 KiB pages, as the
 * heaps of this bench and of MicroPython's unix port are. */
static double miss_latency(size_t bytes, size_t hops, int reps, bool huge) {
    size_t n = bytes / 64;
    uint64_t *b = aligned_alloc(2 * MiB, n * 64);
    size_t *perm = malloc(n * sizeof *perm);
    if (!b || !perm) abort();
    (void)madvise(b, n * 64, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = n - 1; i > 0; i--) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        size_t j = (size_t)(x % i); /* j < i: one cycle */
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++) b[perm[i] * 8] = perm[(i + 1) % n] * 8;
    free(perm);
    double best = 1e300;
    volatile uint64_t sink = 0;
    for (int r = 0; r < reps; r++) {
        uint64_t p = 0;
        double t0 = now_ns();
        for (size_t h = 0; h < hops; h++) p = b[p];
        double t = now_ns() - t0;
        sink += p;
        if (t < best) best = t;
    }
    (void)sink;
    free(b);
    return best / (double)hops;
}

static double bw_bytes_per_ns, miss_ns, miss_4k_ns;

/* ---- the heap and MicroPython's objects -------------------------------- */

#define NROOTS 48
#define PATH 16 /* roots[PATH + d]: the tree node being built at depth d */
static struct {
    mpgc_t *gc;
    void *mem;
    size_t heap;
    void *roots[NROOTS]; /* [0] the shape, [1..] objects being built */
    size_t objects;      /* allocations made for the live shape */
} H;

/* Type words: addresses outside the heap, as MicroPython's ROM types. */
static const char types[8];
enum { T_LIST, T_TUPLE, T_STR, T_BYTEARRAY, T_DICT, T_NODE };
#define TYPE(t) ((void *)&types[t])
#define SMALL_INT(i) ((void *)(((uintptr_t)(i) << 1) | 1u))
#define INT_OF(p) ((long)((uintptr_t)(p) >> 1))

static void heap_open(size_t heap) {
    memset(&H, 0, sizeof H);
    H.heap = heap;
    H.mem = aligned_alloc(64, (heap + 63) & ~(size_t)63);
    if (!H.mem) abort();
    memset(H.mem, 0, heap); /* pre-fault: an embedded heap is already there */
    mpgc_config_t cfg = {0};
    cfg.no_stack_scan = true;
    cfg.policy = O.ff ? MPGC_POLICY_FIRST_FIT : MPGC_POLICY_FIT;
    H.gc = mpgc_init(H.mem, heap, &cfg);
    if (!H.gc || !mpgc_add_root(H.gc, H.roots, sizeof H.roots)) abort();
}

static void heap_close(void) {
    free(H.mem);
    H.mem = NULL;
}

/* An allocation (the engine collects and retries by itself when full).
 * Objects under construction sit in H.roots[1..] while they allocate. */
static void **obj(size_t nbytes, unsigned flags) {
    void **p = mpgc_alloc(H.gc, nbytes, flags);
    if (!p) {
        fprintf(stderr, "mpgc-pause: heap of %zu bytes full\n", H.heap);
        exit(1);
    }
    H.objects++;
    return p;
}

/* A list of n items with room for cap (MicroPython: at least 4). */
static void **new_list(size_t n, size_t cap) {
    if (cap < 4) cap = 4;
    void **l = obj(4 * WORD, 0);
    l[0] = TYPE(T_LIST);
    l[1] = (void *)cap;
    l[2] = (void *)n;
    H.roots[7] = l;
    l[3] = obj(cap * WORD, 0);
    H.roots[7] = NULL;
    return l;
}
#define ITEMS(l) ((void **)(l)[3])

/* list.append: the item array doubles when full, as py/objlist.c. */
static void list_append(void **l, void *v) {
    size_t cap = (size_t)l[1], n = (size_t)l[2];
    if (n == cap) {
        void *items = mpgc_realloc(H.gc, l[3], 2 * cap * WORD, true);
        if (!items) abort();
        l[3] = items;
        l[1] = (void *)(2 * cap);
    }
    ITEMS(l)[n] = v;
    l[2] = (void *)(n + 1);
}

static void **new_tuple2(void *a, void *b) {
    void **t = obj(4 * WORD, 0);
    t[0] = TYPE(T_TUPLE);
    t[1] = (void *)2;
    t[2] = a;
    t[3] = b;
    return t;
}

/* str(i): the str object and its bytes (no-scan). */
static void **new_str_of(long i) {
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%ld", i);
    void **s = obj(4 * WORD, 0);
    s[0] = TYPE(T_STR);
    s[1] = (void *)(uintptr_t)(i * 2654435761u);
    s[2] = (void *)(uintptr_t)len;
    H.roots[6] = s;
    char *data = (char *)obj((size_t)len + 1, MPGC_NO_SCAN);
    memcpy(data, digits, (size_t)len + 1);
    s[3] = data;
    H.roots[6] = NULL;
    return s;
}

/* ---- the five shapes of the table ------------------------------ */

/* Scale of a shape at heap size h: h / 32 MiB. */
static double scale;
static long scaled(long n) {
    long v = (long)((double)n * scale); /* as the scripts' n >> -shift */
    return v < 1 ? 1 : v;
}

/* [tree(d-1), tree(d-1), d] down to None. */
static void *tree(int d) {
    if (d == 0) return NULL;
    void **l = new_list(3, 3);
    H.roots[PATH + d] = l; /* rooted while its children allocate */
    ITEMS(l)[0] = tree(d - 1);
    ITEMS(l)[1] = tree(d - 1);
    ITEMS(l)[2] = SMALL_INT(d);
    H.roots[PATH + d] = NULL;
    return l;
}
static long tree_count(void **l) {
    if (!l) return 0;
    if (l[0] != TYPE(T_LIST) || (size_t)l[2] != 3) return -1000000000;
    return 1 + tree_count(ITEMS(l)[0]) + tree_count(ITEMS(l)[1]);
}
static int tree_depth(void) {
    /* depth 14 at 32 MiB (2^14 - 1 nodes of 64 B per tree), one less per
     * halving of the heap */
    int d = 14 + (int)lround(log2(scale));
    return d < 1 ? 1 : d > NROOTS - PATH - 1 ? NROOTS - PATH - 1 : d;
}
static void build_trees(void) {
    void **all = new_list(0, 4);
    H.roots[0] = all;
    for (int t = 0; t < 4; t++) list_append(all, tree(tree_depth()));
}
static bool check_trees(void) {
    void **all = H.roots[0];
    long want_n = 4 * ((1L << tree_depth()) - 1), n = 0;
    for (int t = 0; t < 4; t++) n += tree_count(ITEMS(all)[t]);
    return n == want_n;
}

/* l = []; for i in range(300000): l.append([i]) */
static void build_lists(void) {
    void **l = new_list(0, 4);
    H.roots[0] = l;
    long n = scaled(300000);
    for (long i = 0; i < n; i++) {
        void **one = new_list(1, 1);
        ITEMS(one)[0] = SMALL_INT(i);
        H.roots[1] = one;
        list_append(l, one);
        H.roots[1] = NULL;
    }
}
static bool check_lists(void) {
    void **l = H.roots[0];
    long n = scaled(300000);
    if ((long)(size_t)l[2] != n) return false;
    for (long i = 0; i < n; i++) {
        void **one = ITEMS(l)[i];
        if (one[0] != TYPE(T_LIST) || INT_OF(ITEMS(one)[0]) != i) return false;
    }
    return true;
}

/* ring = [None] * 200000; 800,000 times: ring[rand] = [i, (i, i)] */
static void build_ring(void) {
    long n = scaled(200000), k = scaled(800000);
    void **ring = new_list((size_t)n, (size_t)n);
    H.roots[0] = ring;
    lcg = 12345;
    for (long i = 0; i < k; i++) {
        void **t = new_tuple2(SMALL_INT(i), SMALL_INT(i));
        H.roots[1] = t;
        void **l = new_list(2, 2);
        ITEMS(l)[0] = SMALL_INT(i);
        ITEMS(l)[1] = t;
        H.roots[1] = NULL;
        ITEMS(ring)[lcg_next() % (uint32_t)n] = l;
    }
    /* the live objects: the ring and three per filled slot */
    H.objects = 2;
    for (long s = 0; s < n; s++) H.objects += ITEMS(ring)[s] ? 3 : 0;
}
static bool check_ring(void) {
    void **ring = H.roots[0];
    size_t n = 2;
    for (long s = 0; s < scaled(200000); s++) {
        void **l = ITEMS(ring)[s];
        if (!l) continue;
        void **t = ITEMS(l)[1];
        if (l[0] != TYPE(T_LIST) || t[0] != TYPE(T_TUPLE) || t[2] != ITEMS(l)[0]) return false;
        n += 3;
    }
    return n == H.objects;
}

/* d = {}; for i in range(200000): d[i] = (i, str(i)). The table grows as
 * py/map.c grows it (the next size up when full; old table freed). */
static size_t map_next_alloc(size_t alloc) {
    static const uint16_t sizes[] = {0,    2,    4,    6,    8,     10,    12,    17,    23,
                                     29,   37,   47,   59,   73,    97,    127,   167,   223,
                                     293,  389,  521,  691,  919,   1223,  1627,  2161,  3229,
                                     4831, 7243, 10861, 16273, 24407, 36607, 54907};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i] >= alloc + 1) return sizes[i];
    return ((alloc + 1) + (alloc + 1) / 2) | 1u;
}
static void dict_store(void **d, long key, void *value) {
    size_t alloc = (size_t)d[2];
    void **tab = d[3];
    for (size_t pos = (size_t)key % alloc;; pos = (pos + 1) % alloc)
        if (!tab[2 * pos]) {
            tab[2 * pos] = SMALL_INT(key);
            tab[2 * pos + 1] = value;
            d[1] = (void *)((size_t)d[1] + 1);
            return;
        }
}
static void dict_grow(void **d) {
    size_t old = (size_t)d[2], alloc = map_next_alloc(old);
    void **old_tab = d[3];
    H.roots[5] = old_tab;
    d[3] = obj(alloc * 2 * WORD, 0);
    d[2] = (void *)alloc;
    d[1] = 0;
    for (size_t i = 0; i < old; i++)
        if (old_tab[2 * i]) dict_store(d, INT_OF(old_tab[2 * i]), old_tab[2 * i + 1]);
    H.roots[5] = NULL;
    if (old_tab) {
        mpgc_free(H.gc, old_tab);
        H.objects--;
    }
}
static void build_dict(void) {
    void **d = obj(4 * WORD, 0);
    d[0] = TYPE(T_DICT);
    H.roots[0] = d;
    long n = scaled(200000);
    for (long i = 0; i < n; i++) {
        void **s = new_str_of(i);
        H.roots[1] = s;
        void **t = new_tuple2(SMALL_INT(i), s);
        H.roots[1] = t;
        if ((size_t)d[1] >= (size_t)d[2]) dict_grow(d);
        dict_store(d, i, t);
        H.roots[1] = NULL;
    }
}
static bool check_dict(void) {
    void **d = H.roots[0], **tab = d[3];
    size_t alloc = (size_t)d[2];
    long n = scaled(200000), found = 0;
    char digits[24];
    for (size_t p = 0; p < alloc; p++) {
        if (!tab[2 * p]) continue;
        long k = INT_OF(tab[2 * p]);
        void **t = tab[2 * p + 1], **s = t[3];
        snprintf(digits, sizeof digits, "%ld", k);
        if (t[0] != TYPE(T_TUPLE) || INT_OF(t[2]) != k || s[0] != TYPE(T_STR) ||
            strcmp(s[3], digits) != 0)
            return false;
        found++;
    }
    return found == n && (long)(size_t)d[1] == n;
}

/* l = [bytearray(40000) for _ in range(200)] */
#define BA_BYTES 40000
static void build_bytes(void) {
    long n = scaled(200);
    void **l = new_list(0, 4);
    H.roots[0] = l;
    for (long i = 0; i < n; i++) {
        void **b = obj(4 * WORD, 0);
        b[0] = TYPE(T_BYTEARRAY);
        b[2] = (void *)(size_t)BA_BYTES;
        H.roots[1] = b;
        b[3] = obj(BA_BYTES, MPGC_NO_SCAN);
        memset(b[3], (int)(i & 0x7f) | 1, BA_BYTES);
        list_append(l, b);
        H.roots[1] = NULL;
    }
}
static bool check_bytes(void) {
    void **l = H.roots[0];
    long n = scaled(200);
    for (long i = 0; i < n; i++) {
        void **b = ITEMS(l)[i];
        const unsigned char *d = b[3];
        if (b[0] != TYPE(T_BYTEARRAY) || d[0] != ((i & 0x7f) | 1) || d[BA_BYTES - 1] != d[0])
            return false;
    }
    return true;
}

/* ---- the overflow layouts ---------------------------------------------- */

/* Chunk list: 1 KiB chunks {127 fresh small objects, next}, linked by
 * appending (each chunk points at the next one made) or by prepending (the
 * newest is the head and points at the one made before). A chunk is a
 * large request (32 blocks on 64-bit), so the default placement cuts chunks
 * downwards from the top of the heap while the small objects go up from
 * the bottom: appended, each next chunk lies below the one before. */
#define CHUNK_WORDS (KiB / WORD)
static long n_chunks;
static bool chunks_append;
static void build_chunks(void) {
    void **last = NULL;
    for (long c = 0; c < n_chunks; c++) {
        void **ch = obj(KiB, 0);
        H.roots[1] = ch;
        for (size_t i = 0; i < CHUNK_WORDS - 1; i++) ch[i] = obj(WORD, 0);
        if (chunks_append) {
            if (last) last[CHUNK_WORDS - 1] = ch;
            else H.roots[0] = ch;
            last = ch;
        } else {
            ch[CHUNK_WORDS - 1] = H.roots[0];
            H.roots[0] = ch;
        }
        H.roots[1] = NULL;
    }
}
static bool check_chunks(void) {
    size_t n = 0;
    for (void **ch = H.roots[0]; ch; ch = ch[CHUNK_WORDS - 1])
        for (size_t i = 0; i < CHUNK_WORDS; i++) n += i == CHUNK_WORDS - 1 || ch[i];
    return n == H.objects;
}

/* Spine: nodes of {64 fillers, a leaf, next}; every leaf made first (low
 * addresses), then each node followed by its fillers. Descending: the
 * root is the last node made and each node's next is the one made before
 * it, below; ascending: the same graph, the root the first node made. */
#define SPINE_FILL 64
static long n_spine;
static bool spine_desc;
static void build_spine(void) {
    /* the bench's index of the leaves, outside the heap, a root while the
     * nodes are made */
    void **leaves = calloc((size_t)n_spine, WORD);
    if (!leaves || !mpgc_add_root(H.gc, leaves, (size_t)n_spine * WORD)) abort();
    for (long i = 0; i < n_spine; i++) leaves[i] = obj(WORD, 0);
    void **prev = NULL;
    H.roots[0] = NULL;
    for (long i = 0; i < n_spine; i++) {
        void **node = obj((SPINE_FILL + 2) * WORD, 0);
        H.roots[2] = node;
        for (int f = 0; f < SPINE_FILL; f++) node[f] = obj(WORD, 0);
        node[SPINE_FILL] = leaves[i];
        if (spine_desc) {
            node[SPINE_FILL + 1] = prev; /* the node made before, below */
            H.roots[0] = node;
        } else if (prev) {
            prev[SPINE_FILL + 1] = node;
        } else {
            H.roots[0] = node;
        }
        prev = node;
        H.roots[2] = NULL;
    }
    /* the leaves now live only through their nodes */
    mpgc_remove_root(H.gc, leaves);
    free(leaves);
}
static bool check_spine(void) {
    size_t n = 0;
    for (void **node = H.roots[0]; node; node = node[SPINE_FILL + 1]) {
        for (int f = 0; f < SPINE_FILL; f++) n += node[f] != NULL;
        n += 1 + (node[SPINE_FILL] != NULL);
    }
    return n == H.objects;
}

/* ---- measuring ----------------------------------------------------------- */

typedef struct {
    double mark_med, mark_max, end_med, end_max, lazy_med, lazy_max, pause_med, pause_max;
    size_t live, objects;
} figures_t;

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
static double maximum(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
    return m;
}

static bool failed;

/* Builds a shape on a fresh heap and times O.reps collections of it. */
static figures_t measure(const char *name, size_t heap, void (*build)(void), bool (*check)(void)) {
    double mark[MAX_REPS], end[MAX_REPS], lazy[MAX_REPS], pause[MAX_REPS];
    figures_t f = {0};
    heap_open(heap);
    build();
    for (int r = 0; r < O.reps; r++) {
        double t0 = now_ns();
        if (!mpgc_collect_start(H.gc)) abort();
        double t1 = now_ns();
        mpgc_collect_end(H.gc);
        double t2 = now_ns();
        finish_sweep(H.gc);
        double t3 = now_ns();
        mark[r] = (t1 - t0) / 1e6;
        end[r] = (t2 - t1) / 1e6;
        lazy[r] = (t3 - t2) / 1e6;
        pause[r] = (t2 - t0) / 1e6;
    }
    f.live = mpgc_mem_alloc(H.gc);
    f.objects = H.objects;
    if (!mpgc_check(H.gc) || !check()) {
        fprintf(stderr, "mpgc-pause: %s at %zu bytes: heap check or shape walk failed\n", name, heap);
        failed = true;
    }
    heap_close();
    f.mark_max = maximum(mark, O.reps);
    f.end_max = maximum(end, O.reps);
    f.lazy_max = maximum(lazy, O.reps);
    f.pause_max = maximum(pause, O.reps);
    f.mark_med = median(mark, O.reps);
    f.end_med = median(end, O.reps);
    f.lazy_med = median(lazy, O.reps);
    f.pause_med = median(pause, O.reps);
    return f;
}

static void print_header(void) {
    printf("%-22s %7s %9s %9s %15s %15s %15s %9s %9s %7s %7s\n", "shape", "heap", "live MiB",
           "objects", "mark med/max ms", "end med/max ms", "lazy med/max", "bw bnd", "miss bnd",
           "mark/bw", "/miss");
}

static void print_row(const char *name, size_t heap, const figures_t *f) {
    double bw_ms = (double)f->live / bw_bytes_per_ns / 1e6;
    double miss_ms = (double)f->objects * miss_ns / 1e6;
    char mk[32], en[32], lz[32];
    snprintf(mk, sizeof mk, "%.3f/%.3f", f->mark_med, f->mark_max);
    snprintf(en, sizeof en, "%.3f/%.3f", f->end_med, f->end_max);
    snprintf(lz, sizeof lz, "%.3f/%.3f", f->lazy_med, f->lazy_max);
    printf("%-22s %6zuM %9.2f %9zu %15s %15s %15s %9.3f %9.3f %7.2f %7.2f\n", name, heap / MiB,
           (double)f->live / (double)MiB, f->objects, mk, en, lz, bw_ms, miss_ms,
           f->mark_med / bw_ms, f->mark_med / miss_ms);
    if (O.csv)
        fprintf(O.csv, "%s,%zu,%zu,%zu,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", name,
                heap, f->live, f->objects, f->mark_med, f->mark_max, f->end_med, f->end_max,
                f->lazy_med, f->lazy_max, f->pause_med, f->pause_max, bw_ms, miss_ms);
    fflush(stdout);
}

static void run_table(void) {
    static const struct {
        const char *name;
        void (*build)(void);
        bool (*check)(void);
    } shapes[] = {{"trees", build_trees, check_trees},
                  {"lists", build_lists, check_lists},
                  {"ring", build_ring, check_ring},
                  {"dict", build_dict, check_dict},
                  {"bytes", build_bytes, check_bytes}};
    for (int h = 0; h < O.nheaps; h++) {
        scale = (double)O.heaps[h] / (double)(32 * MiB);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            if (!want(shapes[s].name)) continue;
            figures_t f = measure(shapes[s].name, O.heaps[h], shapes[s].build, shapes[s].check);
            print_row(shapes[s].name, O.heaps[h], &f);
        }
    }
}

/* Heap for a layout of `bytes`: a quarter more, and a MiB for the tables. */
static size_t heap_for(size_t bytes) { return (bytes + bytes / 4 + MiB) & ~(MiB - 1); }

static void run_overflow(const char *kind, long lo, long hi, size_t bytes_each, void (*build)(void),
                         bool (*check)(void), long *n, bool *variant, const char *names[2]) {
    if (!want(kind)) return;
    for (int v = 0; v < 2; v++) {
        double prev = 0;
        for (*n = lo; *n <= hi; *n *= 2) {
            *variant = v == 0;
            char name[48];
            snprintf(name, sizeof name, "%s %ld", names[v], *n);
            size_t heap = heap_for((size_t)*n * bytes_each);
            figures_t f = measure(name, heap, build, check);
            print_row(name, heap, &f);
            if (prev > 0) printf("%-22s   mark x%.2f per doubling\n", "", f.mark_med / prev);
            prev = f.mark_med;
        }
    }
}

static void parse_list(const char *s, long *lo, long *hi) {
    if (sscanf(s, "%ld,%ld", lo, hi) != 2 || *lo < 1 || *hi < *lo) {
        fprintf(stderr, "mpgc-pause: want LO,HI, got %s\n", s);
        exit(2);
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) {
            O.quick = true;
            O.bound_bytes = 16 * MiB;
            O.reps = 3;
            O.heaps[0] = 2 * MiB;
            O.nheaps = 1;
            O.chunks_lo = 128;
            O.chunks_hi = 256;
            O.spine_lo = 64;
            O.spine_hi = 128;
        } else if (!strcmp(a, "--ff")) {
            O.ff = true;
        } else if (!strcmp(a, "--reps") && v) {
            O.reps = atoi(v);
            i++;
        } else if (!strcmp(a, "--heaps") && v) {
            O.nheaps = 0;
            for (char *e, *s = (char *)v; *s && O.nheaps < 8; s = *e ? e + 1 : e)
                O.heaps[O.nheaps++] = (size_t)strtoul(s, &e, 10) * MiB;
            i++;
        } else if (!strcmp(a, "--shapes") && v) {
            snprintf(O.shapes, sizeof O.shapes, "%s", v);
            i++;
        } else if (!strcmp(a, "--chunks") && v) {
            parse_list(v, &O.chunks_lo, &O.chunks_hi);
            i++;
        } else if (!strcmp(a, "--spine") && v) {
            parse_list(v, &O.spine_lo, &O.spine_hi);
            i++;
        } else if (!strcmp(a, "--bound-mib") && v) {
            O.bound_bytes = (size_t)strtoul(v, NULL, 10) * MiB;
            i++;
        } else if (!strcmp(a, "--csv") && v) {
            if (!(O.csv = fopen(v, "w"))) {
                perror(v);
                return 2;
            }
            fprintf(O.csv, "shape,heap,live,objects,mark_med,mark_max,end_med,end_max,lazy_med,"
                           "lazy_max,pause_med,pause_max,bw_bound,miss_bound\n");
            i++;
        } else {
            fprintf(stderr, "usage: mpgc-pause [--quick] [--heaps 2,8,32] [--reps N] [--ff]\n"
                            "  [--shapes trees,lists,ring,dict,bytes,chunks,spine]\n"
                            "  [--chunks LO,HI] [--spine LO,HI] [--bound-mib N] [--csv FILE]\n");
            return 2;
        }
    }
    if (O.reps < 1 || O.reps > MAX_REPS || O.nheaps < 1) {
        fprintf(stderr, "mpgc-pause: bad --reps or --heaps\n");
        return 2;
    }
    size_t bound_bytes = O.quick ? 16 * MiB : O.bound_bytes < MiB ? MiB : O.bound_bytes;
    bw_bytes_per_ns = read_bandwidth(bound_bytes, O.quick ? 2 : 10);
    miss_ns = miss_latency(bound_bytes, O.quick ? 100000 : 1000000, O.quick ? 1 : 8, true);
    miss_4k_ns = miss_latency(bound_bytes, O.quick ? 100000 : 1000000, O.quick ? 1 : 8, false);
    printf("mpgc-pause: block %d B, placement %s, %d collections per row; over %zu MiB: read "
           "bandwidth %.2f GB/s, dependent miss %.1f ns on huge pages (%.1f ns on 4 KiB pages)\n",
           (int)MPGC_BLOCK_BYTES, O.ff ? "first fit" : "fit", O.reps, bound_bytes / MiB,
           bw_bytes_per_ns, miss_ns, miss_4k_ns);
    print_header();
    run_table();
    static const char *chunk_names[2] = {"chunks append", "chunks prepend"};
    static const char *spine_names[2] = {"spine descending", "spine ascending"};
    run_overflow("chunks", O.chunks_lo, O.chunks_hi, KiB + (CHUNK_WORDS - 1) * MPGC_BLOCK_BYTES,
                 build_chunks, check_chunks, &n_chunks, &chunks_append, chunk_names);
    run_overflow("spine", O.spine_lo, O.spine_hi,
                 ((SPINE_FILL + 2) * WORD + MPGC_BLOCK_BYTES - 1) / MPGC_BLOCK_BYTES * MPGC_BLOCK_BYTES +
                     (SPINE_FILL + 1) * MPGC_BLOCK_BYTES,
                 build_spine, check_spine, &n_spine, &spine_desc, spine_names);
    if (O.csv) fclose(O.csv);
    printf("mpgc-pause: %s\n", failed ? "FAILED (a heap check or a shape walk)" : "ok");
    return failed ? 1 : 0;
}
