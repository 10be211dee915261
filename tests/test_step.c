/* Collection in steps (include/mpgc.h, "Collection in steps"; docs/design.md
 * section 8), tested clause by clause from the contract, not from the
 * engine: every test names the wrong engine it catches.
 *
 * The heaps are precise (no C stack scan, roots registered or reported by
 * scan_roots) unless a test is about the stack, so "freed" and "kept" are
 * exact. "Unscanned" objects are made by position: a linked list is traced
 * in list order whatever the engine, so after a few small steps its head
 * has been scanned and its tail has not (each test also checks that the
 * steps stayed small, which is what makes that true). */
#include <stdint.h>

#include "test.h"

#define BLK ((size_t)MPGC_BLOCK_BYTES)
#define W sizeof(void *)
#define HEAP (UINTPTR_MAX > 0xffffffffu ? 2u << 20 : 1u << 20)
static _Alignas(64) uint8_t mem[HEAP];
static _Alignas(64) uint8_t extra[16 * 1024];
static void *roots[16];  /* registered with mpgc_add_root */
static void *sroots[4];  /* reported by scan_roots */
static void *marked[4];  /* reported with mpgc_mark_range between steps */

typedef struct node {
    struct node *next;
    void *payload;
    uintptr_t id;
    uintptr_t check; /* ~id while intact */
} node_t;

/* ---- callbacks and their counters -------------------------------------- */

#define MAX_FIN 256
static struct {
    const void *fin[MAX_FIN]; /* objects finalised, in order */
    size_t nfin;
    int twice;             /* a finaliser ran again for the same object */
    int fin_alloc_ok;      /* allocations from a finaliser that returned NULL */
    int fin_unlocked;      /* finalisers that ran with the heap unlocked */
    size_t progress;       /* progress calls */
    int locks, unlocks;    /* lock hook calls */
    int reports_locked;    /* MPGC_BAD_LOCKED reports */
    bool battery;          /* callbacks call every public function */
    int battery_runs[3];   /* scan_roots, finaliser, progress */
    int battery_bad;       /* calls that did not give their defined result */
    void *held;            /* a live object the battery may poke */
    size_t held_size;
} ts;

static void on_lock(void *u) { (void)u; ts.locks++; }
static void on_unlock(void *u) { (void)u; ts.unlocks++; }
static void on_report(mpgc_t *gc, mpgc_bad_t what, const void *p, void *u) {
    (void)gc, (void)p, (void)u;
    ts.reports_locked += what == MPGC_BAD_LOCKED;
}
static void sink(void *ctx, const char *s, size_t n) { (void)ctx, (void)s, (void)n; }

/* "Inside a collection" (include/mpgc.h), plus the step calls: a step's
 * callbacks are inside one. `where`: 0 scan_roots, 1 finaliser, 2 progress.
 * Runs at most a few times per test (it is slow only in what it checks). */
static void battery(mpgc_t *gc, int where) {
    if (!ts.battery || ts.battery_runs[where] >= 3) return;
    ts.battery_runs[where]++;
    int bad = 0;
    size_t used = mpgc_mem_alloc(gc);
    bad += mpgc_alloc(gc, 16, 0) != NULL;
    if (ts.held) {
        int r0 = ts.reports_locked;
        bad += mpgc_realloc(gc, ts.held, 8 * BLK, true) != NULL;
        mpgc_free(gc, ts.held);
        bad += ts.reports_locked != r0 + 2;
        bad += mpgc_size(gc, ts.held) != ts.held_size;
        bad += mpgc_set_finaliser(gc, ts.held, true);
        mpgc_write_barrier(gc, ts.held, ts.held); /* greying more: harmless */
    }
    bad += mpgc_collect(gc) != 0;
    bad += mpgc_sweep_all(gc) != 0;
    bad += mpgc_finish_sweep(gc) != 0;
    bad += mpgc_collect_start(gc);
    bad += mpgc_collect_end(gc) != 0;
    bad += mpgc_add_region(gc, extra + 8192, 8192);
    bad += mpgc_remove_region(gc, extra); /* added empty by the test */
    static int slot;
    bad += mpgc_add_root(gc, &slot, sizeof slot);
    bad += mpgc_remove_root(gc, roots);
    /* The step calls: the heap is locked (a step does nothing), and abort
     * is refused inside a step's callbacks. */
    bad += mpgc_collect_step(gc, 100);
    bad += mpgc_idle_step(gc, 100);
    bad += mpgc_collect_abort(gc);
    mpgc_lock(gc);
    bad += !mpgc_is_locked(gc);
    mpgc_unlock(gc);
    mpgc_unlock(gc); /* never drops the collection's own lock */
    bad += !mpgc_is_locked(gc);
    bad += mpgc_alloc(gc, 16, 0) != NULL;
    mpgc_disable(gc);
    bad += mpgc_isenabled(gc);
    mpgc_enable(gc);
    bad += !mpgc_isenabled(gc);
    mpgc_info_t info;
    mpgc_info(gc, &info);
    bad += mpgc_mem_alloc(gc) + (size_t)mpgc_mem_free(gc) != info.total;
    bad += mpgc_mem_alloc(gc) != used; /* nothing above allocated or freed */
    mpgc_dump_alloc_table(gc, sink, NULL);
    if (where != 2) bad += !mpgc_check(gc); /* progress may come mid-sweep */
    if (bad) printf("   battery from callback %d: %d wrong results\n", where, bad);
    ts.battery_bad += bad;
}

static void on_fin(mpgc_t *gc, void *obj, void *u) {
    (void)u;
    for (size_t i = 0; i < ts.nfin; i++) ts.twice += ts.fin[i] == obj;
    if (ts.nfin < MAX_FIN) ts.fin[ts.nfin++] = obj;
    ts.fin_alloc_ok += mpgc_alloc(gc, 16, 0) == NULL;
    ts.fin_unlocked += !mpgc_is_locked(gc);
    battery(gc, 1);
}
static void on_scan(mpgc_t *gc, void *u) {
    (void)u;
    mpgc_mark_range(gc, sroots, sizeof sroots);
    battery(gc, 0);
}
static void on_progress(mpgc_t *gc, void *u) {
    (void)u;
    ts.progress++;
    battery(gc, 2);
}

static mpgc_t *heap_cfg(size_t size, mpgc_finalise_order_t order, bool stack) {
    memset(&ts, 0, sizeof ts);
    memset(roots, 0, sizeof roots);
    memset(sroots, 0, sizeof sroots);
    memset(marked, 0, sizeof marked);
    mpgc_config_t cfg = {0};
    cfg.finaliser = on_fin;
    cfg.scan_roots = on_scan;
    cfg.progress = on_progress;
    cfg.lock = on_lock;
    cfg.unlock = on_unlock;
    cfg.report = on_report;
    cfg.finalise_order = order;
    mpgc_t *gc = stack ? mpgc_init(mem, size, &cfg) : precise_heap(mem, size, &cfg);
    CHECK(gc != NULL);
    CHECK(mpgc_add_root(gc, roots, sizeof roots));
    return gc;
}
static mpgc_t *heap(size_t size) { return heap_cfg(size, MPGC_FINALISE_SAFE, false); }

/* ---- helpers ------------------------------------------------------------ */

static node_t *mk(mpgc_t *gc, uintptr_t id, unsigned flags) {
    node_t *n = mpgc_alloc(gc, sizeof(node_t), flags);
    if (n) n->id = id, n->check = ~id;
    return n;
}
static bool intact(mpgc_t *gc, const node_t *n, uintptr_t id) {
    return n && mpgc_size(gc, n) >= sizeof(node_t) && n->id == id && n->check == ~id;
}
static size_t node_bytes(void) { return (sizeof(node_t) + BLK - 1) / BLK * BLK; }
static bool in_extra(const void *p) {
    return (const uint8_t *)p >= extra && (const uint8_t *)p < extra + sizeof extra;
}

/* A list of n nodes (ids base..base+n-1 from the head), in roots[slot];
 * nodes[] gets them in list order when given. */
static node_t *list(mpgc_t *gc, size_t n, uintptr_t base, int slot, node_t **nodes) {
    node_t *head = NULL;
    for (size_t i = n; i-- > 0;) {
        node_t *x = mk(gc, base + i, 0);
        CHECK(x != NULL);
        if (!x) break;
        x->next = head;
        head = x;
        roots[slot] = head; /* kept while built: no collection sees it half-rooted */
        if (nodes) nodes[i] = x;
    }
    return head;
}
static bool list_intact(mpgc_t *gc, node_t *head, size_t n, uintptr_t base) {
    size_t i = 0;
    for (node_t *x = head; x; x = x->next, i++)
        if (i >= n || !intact(gc, x, base + i)) return false;
    return i == n;
}

/* The dump writes each line of the map in one piece: pieces made of map
 * characters only are counted (the headers have words with an 'm'). */
static void count_m(void *ctx, const char *s, size_t n) {
    size_t *c = ctx, m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!strchr(".=hmfn", s[i])) return;
        m += s[i] == 'm';
    }
    *c += m;
}
/* Marked heads as the dump shows them ('m'); 0 with statistics off. */
static size_t marks(mpgc_t *gc) {
    size_t c = 0;
    mpgc_dump_alloc_table(gc, count_m, &c);
    return c;
}
typedef struct {
    char *buf;
    size_t n, cap;
} text_t;
static void to_text(void *ctx, const char *s, size_t n) {
    text_t *t = ctx;
    for (size_t i = 0; i < n && t->n < t->cap; i++) t->buf[t->n++] = s[i];
}

static size_t collections(mpgc_t *gc) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    return i.collections;
}

/* Steps until one ends the cycle (at most cap); mpgc_check after every
 * step, the cycle open between them. Returns the steps taken, or 0. */
static size_t finish(mpgc_t *gc, size_t budget, bool idle, size_t cap) {
    for (size_t k = 1; k <= cap; k++) {
        bool end = idle ? mpgc_idle_step(gc, budget) : mpgc_collect_step(gc, budget);
        if (!mpgc_check(gc)) {
            CHECK(!"mpgc_check after a step");
            return 0;
        }
        if (end) {
            CHECK(!mpgc_in_cycle(gc));
            return k;
        }
        if (!mpgc_in_cycle(gc)) {
            CHECK(!"a step that ended no cycle left none open");
            return 0;
        }
    }
    CHECK(!"the cycle did not end");
    return 0;
}
/* The first k steps of a cycle, which must stay open. */
static void steps(mpgc_t *gc, size_t budget, bool idle, size_t k) {
    for (size_t i = 0; i < k; i++) {
        bool end = idle ? mpgc_idle_step(gc, budget) : mpgc_collect_step(gc, budget);
        CHECK(!end);
        CHECK(mpgc_in_cycle(gc));
        CHECK(mpgc_check(gc));
    }
}

static uint32_t rng = 12345;
static uint32_t rnd(void) {
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    return rng;
}

/* ---- 1. a cycle in steps frees what stop-the-world frees ---------------- */

/* A random graph: objects of 1..6 blocks (some no-scan, whose pointers
 * keep nothing), word 0 an id, up to 3 pointers each; roots in roots[] and
 * in scan_roots' sroots[]. Run as a cycle of steps of `budget` words, the
 * heap checked after every step: everything reachable at the start stays,
 * everything else goes, the marks are gone, mem_alloc is the live bytes
 * (no grey segment left allocated). Catches: a step that frees or misses
 * part of the grey set, a sweep of the wrong mark state, segments leaked,
 * marks left set; and (steps counted) a step that ignores its budget. */
#define GN 300
static void *gobj[GN];
static size_t gwords[GN];
static bool gnoscan[GN];
static int gedge[GN][3];

static void graph_case(mpgc_finalise_order_t order, size_t budget, bool idle) {
    mpgc_t *gc = heap_cfg(256 * 1024, order, false);
    rng = 777u + (uint32_t)budget;
    for (int i = 0; i < GN; i++) {
        size_t nb = 1 + rnd() % 6;
        gnoscan[i] = rnd() % 5 == 0;
        gobj[i] = mpgc_alloc(gc, nb * BLK, gnoscan[i] ? MPGC_NO_SCAN : 0);
        CHECK(gobj[i] != NULL);
        gwords[i] = nb * BLK / W;
        ((uintptr_t *)gobj[i])[0] = 2u * (uintptr_t)i + 1;
    }
    for (int i = 0; i < GN; i++)
        for (int e = 0; e < 3; e++) {
            gedge[i][e] = rnd() % 3 == 0 ? -1 : (int)(rnd() % GN);
            if (gedge[i][e] >= 0 && gwords[i] > 1 + (size_t)e)
                ((void **)gobj[i])[1 + e] = gobj[gedge[i][e]];
            else
                gedge[i][e] = -1;
        }
    bool reach[GN] = {0};
    int todo[GN], nt = 0;
    for (int r = 0; r < 4; r++) {
        int a = (int)(rnd() % GN), b = (int)(rnd() % GN);
        roots[r] = gobj[a], sroots[r] = gobj[b];
        if (!reach[a]) reach[a] = true, todo[nt++] = a;
        if (!reach[b]) reach[b] = true, todo[nt++] = b;
    }
    size_t scan_words = 0, live_bytes = 0;
    while (nt) {
        int i = todo[--nt];
        live_bytes += gwords[i] * W;
        if (gnoscan[i]) continue;
        scan_words += gwords[i];
        for (int e = 0; e < 3; e++) {
            int j = gedge[i][e];
            if (j >= 0 && !reach[j]) reach[j] = true, todo[nt++] = j;
        }
    }
    size_t c0 = collections(gc);
    /* The first step greys the roots (and may trace up to its budget): with
     * less budget than there is to trace, the cycle stays open. */
    bool ended = idle ? mpgc_idle_step(gc, budget) : mpgc_collect_step(gc, budget);
    if (budget < scan_words) CHECK(!ended && mpgc_in_cycle(gc));
    CHECK(mpgc_check(gc));
    size_t n = ended ? 1 : 1 + finish(gc, budget, idle, 1000000);
    CHECK(n > 1 || ended);
    /* About `budget` words per step: at least scan_words / (2 budget + one
     * block) steps (generous: the bound is what a step that ignores its
     * budget breaks, e.g. tracing the whole graph at once). */
    if (budget < scan_words) CHECK(n >= scan_words / (2 * budget + 2 * MPGC_BLOCK_WORDS));
    int wrong = 0;
    for (int i = 0; i < GN; i++) {
        bool alive = mpgc_size(gc, gobj[i]) == gwords[i] * W && ((uintptr_t *)gobj[i])[0] == 2u * (uintptr_t)i + 1;
        bool gone = mpgc_size(gc, gobj[i]) == 0;
        wrong += reach[i] ? !alive : !gone;
    }
    CHECK_EQ(wrong, 0);
    CHECK_EQ(mpgc_mem_alloc(gc), live_bytes);
    CHECK_EQ(marks(gc), 0);
    CHECK(!mpgc_in_cycle(gc));
    CHECK_EQ(collections(gc), c0 + 1);
    /* The same graph, stop-the-world, frees nothing more. */
    CHECK_EQ(mpgc_collect(gc), 0);
    CHECK_EQ(mpgc_mem_alloc(gc), live_bytes);
    CHECK(mpgc_check(gc));
    CHECK_EQ(ts.nfin, 0);
}

static void test_cycle_equals_stop_the_world(void) {
    static const size_t budgets[] = {1, 3, 16, 100, 5000, (size_t)-1};
    for (int o = 0; o < 2; o++)
        for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
            graph_case((mpgc_finalise_order_t)o, budgets[b], false);
            graph_case((mpgc_finalise_order_t)o, budgets[b], true);
        }
}

/* ---- 2. allocation and realloc between steps --------------------------- */

/* Allocations during a cycle are kept by it (allocated marked): one that
 * nothing references survives the cycle and goes with the next collection;
 * one initialised with a pointer moved out of an unscanned object (through
 * the barrier) keeps it. Catches: allocating white (the unreferenced one
 * freed by this cycle), mark bits left on new objects after the cycle. */
static void test_alloc_between_steps(void) {
    mpgc_t *gc = heap(256 * 1024);
    static node_t *nodes[2000];
    node_t *head = list(gc, 2000, 0, 0, nodes);
    node_t *z = mk(gc, 7777, 0);
    nodes[1999]->payload = z; /* z: only from the tail */
    steps(gc, 8, false, 10);
    node_t *floating = mk(gc, 5555, 0); /* referenced by nothing */
    node_t *fresh = mk(gc, 6666, 0);
    CHECK(mpgc_in_cycle(gc));            /* allocation does not end it */
    fresh->payload = z;
    mpgc_write_barrier(gc, fresh, z);
    nodes[1999]->payload = NULL;
    roots[1] = fresh;                    /* a root: no barrier needed */
    CHECK(finish(gc, 8, false, 100000) > 0);
    CHECK(intact(gc, floating, 5555));
    CHECK(intact(gc, fresh, 6666));
    CHECK(intact(gc, z, 7777));
    CHECK(list_intact(gc, head, 2000, 0));
    CHECK_EQ(marks(gc), 0);
    CHECK_EQ(mpgc_collect(gc), 1);       /* floating garbage: the next one */
    CHECK_EQ(mpgc_size(gc, floating), 0);
    CHECK(intact(gc, z, 7777));
    CHECK(mpgc_check(gc));
}

/* A moving realloc of an unscanned object whose copy holds the only
 * pointer to z: the copy is allocated marked and never scanned unless the
 * engine pushes it grey. Catches: a copy that is marked but not traced
 * (z freed), a copy left white (it is referenced, so that alone is safe,
 * but the old object's marking state must not be reused). */
static void test_realloc_between_steps(void) {
    mpgc_t *gc = heap(256 * 1024);
    static node_t *nodes[2000];
    node_t *head = list(gc, 2000, 0, 0, nodes);
    node_t *z = mk(gc, 7777, 0);
    node_t *tail = nodes[1999];
    tail->payload = z;
    steps(gc, 8, false, 10);
    node_t *moved = mpgc_realloc(gc, tail, 8 * BLK, true);
    CHECK(moved != NULL && moved != tail); /* the setup needs a move */
    if (!moved) return;
    CHECK(mpgc_in_cycle(gc));
    nodes[1998]->next = moved;
    mpgc_write_barrier(gc, nodes[1998], moved);
    CHECK(intact(gc, moved, 1999) && moved->payload == z);
    CHECK(finish(gc, 8, false, 100000) > 0);
    CHECK(intact(gc, z, 7777));
    CHECK(intact(gc, moved, 1999));
    CHECK_EQ(mpgc_size(gc, moved), 8 * BLK);
    CHECK(list_intact(gc, head, 2000, 0));
    /* And an in-place realloc (shrink) between steps: still one object. */
    node_t *big = mpgc_alloc(gc, 8 * BLK, 0);
    big->id = 42, big->check = ~(uintptr_t)42;
    big->payload = z;
    roots[1] = big;
    steps(gc, 8, false, 5);
    CHECK(mpgc_realloc(gc, big, sizeof(node_t), false) == big);
    CHECK(finish(gc, 8, false, 100000) > 0);
    CHECK(intact(gc, big, 42) && intact(gc, z, 7777));
    CHECK_EQ(mpgc_collect(gc), 0);
    CHECK(mpgc_check(gc));
}

/* ---- 3. the barrier, and stores that need none --------------------------- */

/* A pointer moved from the unscanned tail of a list into its scanned head,
 * with the barrier: the classic lost object of an incremental collector.
 * Also into objects in the middle (scanned or not: either way it must
 * survive), and a barrier whose obj is no allocation (counts as marked).
 * Catches: a barrier that does nothing, one that greys obj instead of
 * value, one that treats "not an allocation" as unmarked. The step count
 * shows the tail was still unscanned when the pointer moved. */
static void test_barrier(void) {
    mpgc_t *gc = heap(512 * 1024);
    static node_t *nodes[4000];
    node_t *head = list(gc, 4000, 0, 0, nodes);
    node_t *z1 = mk(gc, 1001, 0), *z2 = mk(gc, 1002, 0), *z3 = mk(gc, 1003, 0);
    nodes[3999]->payload = z1;
    nodes[3998]->payload = z2;
    nodes[3997]->payload = z3;
    steps(gc, 8, false, 10);
    head->payload = z1; /* into the scanned head */
    mpgc_write_barrier(gc, head, z1);
    nodes[3999]->payload = NULL;
    steps(gc, 8, false, 10);
    nodes[2000]->payload = z2; /* into the middle */
    mpgc_write_barrier(gc, nodes[2000], z2);
    nodes[3998]->payload = NULL;
    /* obj not the start of an allocation: value is greyed; z3 is then
     * referenced by nothing, and must still survive this cycle. */
    mpgc_write_barrier(gc, roots, z3);
    nodes[3997]->payload = NULL;
    size_t n = finish(gc, 8, false, 1000000);
    CHECK(n + 20 >= 4000 * MPGC_BLOCK_WORDS / (2 * 8 + 2 * MPGC_BLOCK_WORDS));
    CHECK(intact(gc, z1, 1001));
    CHECK(intact(gc, z2, 1002));
    CHECK(intact(gc, z3, 1003));
    CHECK(list_intact(gc, head, 4000, 0));
    CHECK_EQ(marks(gc), 0);
    CHECK_EQ(mpgc_collect(gc), 1); /* z3 */
    CHECK(intact(gc, z1, 1001) && intact(gc, z2, 1002));
    /* Outside a cycle the barrier does nothing: no mark stays set. */
    mpgc_write_barrier(gc, head, z1);
    mpgc_write_barrier(gc, roots, z2);
    mpgc_write_barrier(gc, head, (void *)(uintptr_t)12345);
    CHECK_EQ(marks(gc), 0);
    CHECK(mpgc_check(gc));
    CHECK(!mpgc_in_cycle(gc));
}

/* Stores into roots need no barrier: pointers moved from unscanned heap
 * objects into a registered root, into scan_roots' array, and into an
 * array given to mpgc_mark_range between steps (which greys). Catches: a
 * final step that does not rescan the registered roots or scan_roots, a
 * mark_range that is ignored between steps. */
static void test_roots_need_no_barrier(void) {
    for (int idle = 0; idle < 2; idle++) {
        mpgc_t *gc = heap(512 * 1024);
        static node_t *nodes[4000];
        node_t *head = list(gc, 4000, 0, 0, nodes);
        node_t *z[3];
        for (int i = 0; i < 3; i++) z[i] = mk(gc, 2001u + (unsigned)i, 0), nodes[3999 - i]->payload = z[i];
        /* idle: the runtime does not run between slices, so the stores
         * are made before the cycle's first step in that case */
        if (!idle) steps(gc, 8, false, 10);
        roots[5] = z[0];
        sroots[2] = z[1];
        marked[1] = z[2];
        for (int i = 0; i < 3; i++) nodes[3999 - i]->payload = NULL;
        if (idle) steps(gc, 8, true, 10);
        mpgc_mark_range(gc, marked, sizeof marked);
        marked[1] = NULL;
        CHECK(finish(gc, 8, idle, 1000000) > 0);
        for (int i = 0; i < 3; i++) CHECK(intact(gc, z[i], 2001u + (unsigned)i));
        CHECK(list_intact(gc, head, 4000, 0));
        CHECK_EQ(mpgc_collect(gc), 1); /* z[2]: greyed once, not a root */
        CHECK(intact(gc, z[0], 2001) && intact(gc, z[1], 2002));
    }
}

/* The C stack: a pointer moved from an unscanned heap object into a local
 * is found by the final step's stack scan. Catches: a final step without
 * the stack (conservative: other stale copies could hide it, so the heap
 * is fresh and the pointer stored only in a volatile local). */
static node_t *volatile stack_held;
/* Overwrites the dead stack below the caller, where stale copies of z
 * (in mk's and mpgc_alloc's old frames) would keep it alive regardless. */
__attribute__((noinline)) static void scrub_stack(void) {
    volatile char buf[8192];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = 0;
}
/* z made and stored in a frame that is gone before the cycle begins. */
__attribute__((noinline)) static void hide_z(mpgc_t *gc, node_t *tail) { tail->payload = mk(gc, 3001, 0); }
__attribute__((noinline)) static void stack_case(mpgc_t *gc) {
    static node_t *nodes[4000];
    node_t *head = list(gc, 4000, 0, 0, nodes);
    hide_z(gc, nodes[3999]);
    node_t *volatile local = NULL;
    scrub_stack();
    steps(gc, 8, false, 10);
    local = nodes[3999]->payload;
    nodes[3999]->payload = NULL;
    scrub_stack();
    CHECK(finish(gc, 8, false, 1000000) > 0);
    CHECK(intact(gc, (node_t *)local, 3001));
    CHECK(list_intact(gc, head, 4000, 0));
    stack_held = local;
}
static void test_stack_needs_no_barrier(void) {
    mpgc_t *gc = heap_cfg(512 * 1024, MPGC_FINALISE_SAFE, true);
    int top;
    mpgc_set_stack_top(gc, &top);
    stack_case(gc);
    mpgc_set_stack_top(gc, NULL);
}

/* ---- 4. calls that abandon a cycle, and abort ---------------------------- */

/* Each of mpgc_collect, collect_start, sweep_all, remove_region and
 * collect_abort during an incremental cycle abandons it first, then acts as
 * usual. The heap holds a rooted list, 50 garbage nodes, and one node
 * allocated during the cycle and dropped (marked by the cycle): an engine
 * that does not clear the cycle's marks first keeps that node (the counts
 * are off by one) or leaves marks set (dump, mpgc_check). */
enum { AB_COLLECT, AB_START, AB_SWEEP_ALL, AB_REMOVE_REGION, AB_ABORT, AB_N };
static void abandon_case(int what) {
    mpgc_t *gc = heap(512 * 1024);
    node_t *head = list(gc, 3000, 0, 0, NULL);
    for (int i = 0; i < 50; i++) mk(gc, 9000u + (unsigned)i, 0);
    bool region = mpgc_add_region(gc, extra, sizeof extra); /* empty: removable */
    CHECK(region || !MPGC_ENABLE_SPLIT_HEAP);
    size_t live = 3000 * node_bytes();
    steps(gc, 8, false, 5);
    node_t *dropped = mk(gc, 1, 0);
    steps(gc, 8, false, 5);
    size_t all = mpgc_mem_alloc(gc);
    CHECK(all >= live + 51 * node_bytes()); /* grey segments may add to it */
    switch (what) {
    case AB_COLLECT:
        CHECK_EQ(mpgc_collect(gc), 51);
        break;
    case AB_START:
        CHECK(mpgc_collect_start(gc));
        CHECK(!mpgc_in_cycle(gc));
        mpgc_mark_range(gc, &dropped, sizeof dropped); /* kept this time */
        CHECK_EQ(mpgc_collect_end(gc), 50);
        CHECK(intact(gc, dropped, 1));
        live += node_bytes();
        break;
    case AB_SWEEP_ALL:
        CHECK_EQ(mpgc_sweep_all(gc), 3051);
        live = 0;
        break;
    case AB_REMOVE_REGION:
        if (!region) return;
        if (in_extra(dropped)) { /* the cycle's allocation went there: legitimately held */
            printf("   (the node allocated mid-cycle went to the added pool: removal case skipped)\n");
            CHECK(!mpgc_remove_region(gc, extra));
            (void)mpgc_collect_abort(gc); /* closed now, whether removal abandoned it or not */
        } else {
            CHECK(mpgc_remove_region(gc, extra)); /* grey segments there or not */
        }
        live = 3051 * node_bytes(); /* nothing freed: the garbage stays */
        break;
    case AB_ABORT:
        CHECK(mpgc_collect_abort(gc));
        CHECK(!mpgc_collect_abort(gc)); /* none open any more */
        live = 3051 * node_bytes();     /* frees nothing */
        CHECK(intact(gc, dropped, 1));
        break;
    }
    CHECK(!mpgc_in_cycle(gc));
    CHECK_EQ(marks(gc), 0);
    CHECK(mpgc_check(gc));
    /* The grey set's segments were given back: only objects are left. */
    CHECK_EQ(mpgc_mem_alloc(gc), live);
    if (what != AB_SWEEP_ALL) CHECK(list_intact(gc, head, 3000, 0));
    /* The heap works on: a new cycle runs to the end. */
    CHECK(finish(gc, 64, false, 1000000) > 0);
    if (what != AB_SWEEP_ALL) CHECK(list_intact(gc, head, 3000, 0));
    CHECK_EQ(marks(gc), 0);
}
static void test_abandoning_calls(void) {
    for (int w = 0; w < AB_N; w++) abandon_case(w);
}

/* Abort while the grey set has spilled (a wide tree: many grey objects at
 * once), then every mark is gone and nothing was freed. */
static void test_abort_wide(void) {
    mpgc_t *gc = heap(512 * 1024);
    /* A root array object of 2000 pointers: 2000 grey nodes at once. */
    void **fan = mpgc_alloc(gc, 2000 * W, 0);
    roots[0] = fan;
    for (int i = 0; i < 2000; i++) fan[i] = mk(gc, (uintptr_t)i, 0);
    for (int i = 0; i < 200; i++) mk(gc, 50000u + (unsigned)i, 0); /* garbage */
    size_t objs = mpgc_mem_alloc(gc);
    steps(gc, 3000, false, 3);
    CHECK(marks(gc) > 0 || !MPGC_ENABLE_STATS);
    CHECK(mpgc_collect_abort(gc));
    CHECK_EQ(marks(gc), 0);
    CHECK_EQ(mpgc_mem_alloc(gc), objs);
    CHECK(mpgc_check(gc));
    int bad = 0;
    for (int i = 0; i < 2000; i++) bad += !intact(gc, fan[i], (uintptr_t)i);
    CHECK_EQ(bad, 0);
    CHECK_EQ(mpgc_collect(gc), 200);
}

/* ---- 5. out of memory and the threshold between steps ------------------- */

/* A request that finds no room between steps ends the cycle and collects as
 * usual: it succeeds when garbage exists, whether the garbage was there at
 * the cycle's start (the final step frees it) or died during the cycle
 * (floating: only a full collection after it frees it). Catches: an
 * allocation that fails while a cycle is open, one that collects with the
 * cycle's marks still set, one that frees live objects. */
static void oom_case(bool floating) {
    mpgc_t *gc = heap(64 * 1024);
    node_t *head = list(gc, 200, 0, 0, NULL);
    if (!floating) {
        mpgc_disable(gc); /* garbage up to the top */
        while (mk(gc, 1, 0)) {}
        mpgc_enable(gc);
    }
    steps(gc, 8, false, 3);
    if (floating) {
        mpgc_disable(gc); /* fill it during the cycle without collecting */
        while (mk(gc, 1, 0)) {}
        mpgc_enable(gc);
        CHECK(mpgc_in_cycle(gc));
    }
    size_t c0 = collections(gc);
    void *big = mpgc_alloc(gc, 16 * 1024, 0);
    CHECK(big != NULL);
    CHECK(!mpgc_in_cycle(gc));
    CHECK(collections(gc) > c0);
    CHECK(list_intact(gc, head, 200, 0));
    CHECK_EQ(marks(gc), 0);
    CHECK(mpgc_check(gc));
}
static void test_out_of_memory(void) {
    oom_case(false);
    oom_case(true);
}

/* With a threshold, allocations between steps start no collection: the
 * collection count stays put and the cycle stays open. The control run
 * first shows that the same allocations without a cycle do collect.
 * Catches: a threshold collection inside a cycle. */
static void test_threshold(void) {
    if (!MPGC_ENABLE_THRESHOLD) return;
    mpgc_t *gc = heap(256 * 1024);
    node_t *head = list(gc, 500, 0, 0, NULL);
    mpgc_set_threshold(gc, 1024);
    size_t c0 = collections(gc);
    for (int i = 0; i < 200; i++) mk(gc, 1, 0);
    CHECK(collections(gc) > c0); /* the control */
    CHECK(mpgc_collect_step(gc, 8) == false);
    size_t c1 = collections(gc);
    for (int i = 0; i < 200; i++) {
        mk(gc, 1, 0);
        if (i % 10 == 0) CHECK(!mpgc_collect_step(gc, 8));
    }
    CHECK_EQ(collections(gc), c1);
    CHECK(mpgc_in_cycle(gc));
    CHECK(finish(gc, 1000, false, 100000) > 0);
    CHECK(collections(gc) <= c1 + 1);
    CHECK(list_intact(gc, head, 500, 0));
    mpgc_set_threshold(gc, -1);
}

/* Nor does the placement's reserve: after a 64 KiB request, a small one
 * that would cut the longest run (less than 8 such requests long) has the
 * heap collected first outside a cycle (the control), and not inside one,
 * where the space is there. Catches: a reserve that ends the cycle (its
 * whole rest in one pause) for a request that fits. */
static void test_reserve_in_cycle(void) {
    if (!MPGC_RESERVE_LARGE || !MPGC_LARGE_BLOCKS) return; /* no reserve then */
    for (int cycle = 0; cycle < 2; cycle++) {
        mpgc_t *gc = heap(256 * 1024);
        node_t *head = list(gc, 500, 0, 0, NULL);
        roots[1] = mpgc_alloc(gc, 64 * 1024, MPGC_NO_SCAN);
        CHECK(roots[1] != NULL);
        if (cycle) steps(gc, 8, false, 3);
        size_t c0 = collections(gc);
        node_t *x = mk(gc, 5, 0);
        CHECK(x != NULL);
        if (cycle) {
            CHECK(mpgc_in_cycle(gc));
            CHECK_EQ(collections(gc), c0);
            CHECK(finish(gc, 64, false, 1000000) > 0);
        } else {
            CHECK_EQ(collections(gc), c0 + 1); /* the control: it did collect */
        }
        CHECK(list_intact(gc, head, 500, 0));
    }
}

/* ---- 6. a huge object is scanned in pieces ------------------------------- */

/* A fresh heap whose root 0 is one scannable object of `bytes` (NULL if
 * it could not be allocated). */
static void **huge_rooted(mpgc_t **gc, size_t bytes) {
    *gc = heap(HEAP);
    void **huge = mpgc_alloc(*gc, bytes, 0);
    CHECK(huge != NULL);
    roots[0] = huge;
    return huge;
}

/* Half the heap in one object full of pointers (most to one node, the
 * last words to nodes found nowhere else). With budget B, no step but the
 * last scans much more than B words: measured by the number of steps
 * (>= words / 2B) and, when progress is compiled in, by the progress
 * calls of each step (every MPGC_PROGRESS_WORDS words of work). Between
 * steps the object is written (with the barrier) ahead of and behind the
 * scan position. Catches: an object scanned whole by one step; a piece
 * position lost (the last nodes freed); a barrier store into the scanned
 * part of a partly scanned object lost. */
static void test_huge_object(void) {
    mpgc_t *gc;
    size_t bytes = HEAP / 2, words = bytes / W;
    void **huge = huge_rooted(&gc, bytes);
    if (!huge) return;
    node_t *common = mk(gc, 1, 0), *last[4], *moved = mk(gc, 99, 0);
    static node_t *nodes[2000];
    node_t *head = list(gc, 2000, 1000, 1, nodes);
    nodes[1999]->payload = moved;
    for (size_t i = 0; i < words; i++) huge[i] = common;
    for (int i = 0; i < 4; i++) last[i] = mk(gc, 10u + (unsigned)i, 0), huge[words - 1 - (size_t)i] = last[i];
    size_t budget = 1024;
    CHECK(!mpgc_collect_step(gc, budget));
    size_t n = 1, worst = 0, p0 = ts.progress;
    bool moved_done = false;
    for (;;) {
        size_t before = ts.progress;
        bool end = mpgc_collect_step(gc, budget);
        n++;
        if (end) break;
        if (ts.progress - before > worst) worst = ts.progress - before;
        CHECK(mpgc_check(gc));
        if (n == 8 && !moved_done) { /* a few pieces in: the front is scanned */
            huge[3] = moved;
            mpgc_write_barrier(gc, huge, moved);
            nodes[1999]->payload = NULL;
            moved_done = true;
        }
        if (n > 100000) break;
    }
    CHECK(moved_done);
    CHECK(!mpgc_in_cycle(gc));
    CHECK(n >= words / (2 * budget));
    if (MPGC_ENABLE_PROGRESS) {
        CHECK(worst <= budget / MPGC_PROGRESS_WORDS + 2);
        CHECK(ts.progress - p0 + 2 >= words / MPGC_PROGRESS_WORDS); /* the work was counted */
    }
    printf("   %zu words in %zu steps of budget %zu; at most %zu progress calls in one step\n",
           words, n, budget, worst);
    CHECK(intact(gc, common, 1) && intact(gc, moved, 99));
    for (int i = 0; i < 4; i++) CHECK(intact(gc, last[i], 10u + (unsigned)i));
    CHECK(list_intact(gc, head, 2000, 1000));
    CHECK_EQ(mpgc_size(gc, huge), bytes);
    CHECK_EQ(mpgc_collect(gc), 0);
}

/* The huge object shrunk in place, or freed, while partly scanned: the
 * rest of the cycle must not scan past its new end as if it were still
 * there (the freed space is reused at once by a list that the cycle must
 * keep). Catches: a piece position that outlives its object. */
static void huge_cut_case(bool free_it) {
    mpgc_t *gc;
    size_t bytes = HEAP / 2, words = bytes / W;
    void **huge = huge_rooted(&gc, bytes);
    if (!huge) return;
    node_t *common = mk(gc, 1, 0);
    for (size_t i = 0; i < words; i++) huge[i] = common;
    steps(gc, 1024, false, 6);
    if (free_it) {
        roots[0] = NULL;
        mpgc_free(gc, huge);
        huge = NULL;
    } else {
        CHECK(mpgc_realloc(gc, huge, 4 * BLK, false) == huge);
    }
    CHECK(mpgc_in_cycle(gc));
    roots[2] = common;
    node_t *head = list(gc, 5000, 100, 1, NULL); /* reuses the space */
    CHECK(finish(gc, 1024, false, 1000000) > 0);
    CHECK(list_intact(gc, head, 5000, 100));
    CHECK(intact(gc, common, 1));
    if (huge) CHECK_EQ(mpgc_size(gc, huge), 4 * BLK);
    CHECK_EQ(marks(gc), 0);
    CHECK_EQ(mpgc_collect(gc), 0);
    CHECK(mpgc_check(gc));
}
static void test_huge_object_cut(void) {
    huge_cut_case(false);
    huge_cut_case(true);
}

/* Grey objects freed or cut before the steps scan them: their space is
 * taken by no-scan buffers holding the address of an object that was
 * unreachable when the cycle began. The buffers' bytes must not be
 * scanned (MPGC_NO_SCAN), so that object goes with the cycle, as it would
 * stop-the-world. Catches: a piece position (part of a large object still
 * to scan) that outlives the object's end, a mark-stack entry of a freed
 * object scanned as whatever now lies there. (Found by fuzz_step.) */
static void stale_grey_case(bool piece, bool end_by_alloc) {
    mpgc_t *gc = heap(256 * 1024);
    node_t *dead = mk(gc, 99, 0); /* unreachable from the start */
    roots[2] = mk(gc, 98, 0);     /* kept: the 4 KiB below cannot take dead's block */
    void *garbage = end_by_alloc ? mpgc_alloc(gc, 4096, MPGC_NO_SCAN) : NULL; /* unreachable too */
    size_t bufw = 0;
    void **big = NULL, **fan = NULL;
    if (piece) { /* one large object, partly scanned, then cut to one block */
        big = mpgc_alloc(gc, 64 * 1024, 0);
        roots[0] = big;
    } else { /* 200 one-block objects, grey, then freed */
        fan = mpgc_alloc(gc, 200 * W, 0);
        roots[0] = fan;
        for (int i = 0; i < 200; i++) fan[i] = mk(gc, (uintptr_t)i, 0);
    }
    /* Fill the rest of the heap, so that the buffers below can only go
     * where the freed or cut object was. */
    mpgc_disable(gc);
    static void *filler[256 * 1024 / (4 * sizeof(void *))]; /* a block each: more than fit */
    size_t nf = 0, cap = sizeof filler / sizeof filler[0];
    void *f;
    while (nf < cap && (f = mpgc_alloc(gc, BLK, MPGC_NO_SCAN)) != NULL) filler[nf++] = f;
    CHECK(nf < cap); /* the heap is full */
    mpgc_enable(gc);
    CHECK(mpgc_add_root(gc, filler, nf * W));
    steps(gc, piece ? 512 : 16, false, 3);
    void **buf[200];
    int nbuf = 0;
    /* (collection off: the placement's reserve would otherwise have the
     * heap collected, ending the cycle, though there is room) */
    mpgc_disable(gc);
    if (piece) {
        CHECK(mpgc_realloc(gc, big, BLK, false) == big);
        bufw = (64 * 1024 - BLK) / W;
        buf[nbuf++] = mpgc_alloc(gc, bufw * W, MPGC_NO_SCAN);
    } else {
        for (int i = 0; i < 200; i++) {
            void *x = fan[i];
            fan[i] = NULL;
            mpgc_free(gc, x);
        }
        bufw = BLK / W;
        for (int i = 0; i < 200; i++) buf[nbuf++] = mpgc_alloc(gc, BLK, MPGC_NO_SCAN);
    }
    mpgc_enable(gc);
    CHECK(mpgc_in_cycle(gc)); /* the space was there: no allocation ended it */
    static void *bufroots[200];
    int got = 0;
    for (int i = 0; i < nbuf; i++) {
        bufroots[i] = buf[i];
        if (!buf[i]) continue;
        got++;
        for (size_t k = 0; k < bufw; k++) buf[i][k] = dead;
    }
    CHECK(got == nbuf);
    CHECK(mpgc_add_root(gc, bufroots, sizeof bufroots));
    if (end_by_alloc) {
        /* No room: the final step ends the cycle with the stale entries
         * still on the mark stack, and frees the 4 KiB this takes. */
        CHECK(garbage != NULL);
        size_t c0 = collections(gc);
        CHECK(mpgc_alloc(gc, 4096, MPGC_NO_SCAN) != NULL);
        CHECK(!mpgc_in_cycle(gc));
        CHECK_EQ(collections(gc), c0 + 1); /* the final step alone */
    } else {
        CHECK(finish(gc, 64, false, 1000000) > 0);
    }
    CHECK_EQ(mpgc_size(gc, dead), 0);
    for (int i = 0; i < nbuf; i++) CHECK(!buf[i] || mpgc_size(gc, buf[i]) == bufw * W);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_remove_root(gc, filler));
    CHECK(mpgc_remove_root(gc, bufroots));
    if (mpgc_size(gc, dead) != 0)
        printf("   %s%s: kept through a no-scan buffer\n", piece ? "cut piece" : "freed grey objects",
               end_by_alloc ? ", cycle ended by an allocation" : "");
}
static void test_stale_grey(void) {
    stale_grey_case(true, false);
    stale_grey_case(false, false);
    stale_grey_case(false, true);
}

/* ---- 7. finalisers and calls from callbacks ----------------------------- */

/* Finalisable garbage (a chain of 10, and one allocated during the cycle
 * and dropped) in both orders: no finaliser runs in a step that does not
 * end the cycle; the final step runs each unreachable one once, with the
 * heap locked (an allocation gets NULL); the one allocated during the
 * cycle is kept by it and finalised by the next collection. Catches:
 * finalisers run mid-cycle (the runtime runs between steps: they would see
 * a half-marked heap), twice, or for objects the cycle keeps. */
static void fin_case(mpgc_finalise_order_t order, bool idle) {
    mpgc_t *gc = heap_cfg(256 * 1024, order, false);
    node_t *head = list(gc, 1000, 0, 0, NULL);
    node_t *prev = NULL;
    node_t *chain[10];
    for (int i = 0; i < 10; i++) {
        chain[i] = mk(gc, 500u + (unsigned)i, MPGC_FINALISE);
        chain[i]->next = prev;
        prev = chain[i];
    }
    steps(gc, 8, idle, 5);
    node_t *late = NULL;
    if (!idle) late = mk(gc, 600, MPGC_FINALISE); /* dropped at once */
    size_t k = 0;
    for (;;) {
        size_t before = ts.nfin;
        bool end = idle ? mpgc_idle_step(gc, 8) : mpgc_collect_step(gc, 8);
        k++;
        if (!end) {
            CHECK_EQ(ts.nfin, before);
            CHECK_EQ(ts.nfin, 0);
        }
        if (end || k > 100000) break;
    }
    CHECK_EQ(ts.nfin, 10);
    CHECK_EQ(ts.twice, 0);
    CHECK_EQ(ts.fin_alloc_ok, (int)ts.nfin);
    CHECK_EQ(ts.fin_unlocked, 0);
    int bad = 0;
    for (size_t i = 0; i < ts.nfin; i++) bad += ts.fin[i] == late;
    CHECK_EQ(bad, 0);
    /* Safe order: chain[9] is the head (referrers first). */
    if (order == MPGC_FINALISE_SAFE && MPGC_ENABLE_SAFE_ORDER) CHECK(ts.fin[0] == chain[9]);
    if (late) CHECK(intact(gc, late, 600));
    mpgc_collect(gc);
    mpgc_collect(gc);
    CHECK_EQ(ts.nfin, 10u + (late != NULL));
    CHECK_EQ(ts.twice, 0);
    for (int i = 0; i < 10; i++) CHECK_EQ(mpgc_size(gc, chain[i]), 0);
    CHECK(list_intact(gc, head, 1000, 0));
    CHECK_EQ(mpgc_mem_alloc(gc), 1000 * node_bytes());
}
static void test_finalisers(void) {
    if (!MPGC_ENABLE_FINALISERS) return;
    for (int o = 0; o < 2; o++) {
        fin_case((mpgc_finalise_order_t)o, false);
        fin_case((mpgc_finalise_order_t)o, true);
    }
}

/* scan_roots, finaliser and progress callbacks of a cycle in steps call
 * every public function (the battery above): each gets its result from
 * "Inside a collection", the steps from them do nothing, abort is refused;
 * afterwards the heap is unlocked, the lock hooks balanced, everything
 * live intact. Catches: a step that is not "inside a collection" for its
 * callbacks (nested collection, allocation, abort mid-step). */
static void battery_case(bool idle) {
    mpgc_t *gc = heap(512 * 1024);
    /* Work for the progress callback: 4 x MPGC_PROGRESS_WORDS words. */
    size_t n = 4 * MPGC_PROGRESS_WORDS / MPGC_BLOCK_WORDS;
    node_t *head = list(gc, n, 0, 0, NULL);
    node_t *held = mk(gc, 77, 0);
    roots[1] = held;
    ts.held = held;
    ts.held_size = mpgc_size(gc, held);
    for (int i = 0; i < 5; i++) mk(gc, 300u + (unsigned)i, MPGC_FINALISE);
    bool region = mpgc_add_region(gc, extra, 8192); /* the battery tries to remove it */
    ts.locks = ts.unlocks = 0;
    ts.battery = true;
    CHECK(finish(gc, 256, idle, 1000000) > 0);
    ts.battery = false;
    CHECK(ts.battery_runs[0] >= 1);
    if (MPGC_ENABLE_FINALISERS) CHECK(ts.battery_runs[1] >= 1);
    if (MPGC_ENABLE_PROGRESS) CHECK(ts.battery_runs[2] >= 1);
    CHECK_EQ(ts.battery_bad, 0);
    CHECK(!mpgc_is_locked(gc));
    CHECK(!mpgc_in_cycle(gc));
    CHECK_EQ(ts.locks, ts.unlocks);
    CHECK(list_intact(gc, head, n, 0));
    CHECK(intact(gc, held, 77));
    CHECK(mpgc_check(gc));
    CHECK(!region || mpgc_remove_region(gc, extra));
}
static void test_callbacks_inside_steps(void) {
    battery_case(false);
    battery_case(true);
}

/* ---- 8. idle mode -------------------------------------------------------- */

/* Every call that could change the heap abandons an open idle cycle: the
 * cycle is closed, its marks are gone, and (for the calls that collect
 * nothing) nothing was freed. Catches: a call that changes the heap under
 * an idle cycle's marks (an allocation placed over... or left unmarked in a
 * cycle that then frees it, a free of a grey object the slices then scan). */
enum { IA_ALLOC, IA_REALLOC, IA_FREE, IA_COLLECT, IA_START, IA_SWEEP_ALL, IA_FINISH_SWEEP, IA_ADD_REGION,
       IA_REMOVE_REGION, IA_SET_FINALISER, IA_N };
static const char *ia_names[IA_N] = {"alloc", "realloc", "free", "collect", "collect_start", "sweep_all",
                                     "finish_sweep", "add_region", "remove_region", "set_finaliser"};
static void idle_case(int what) {
    if (!MPGC_ENABLE_SPLIT_HEAP && (what == IA_ADD_REGION || what == IA_REMOVE_REGION)) return;
    if (!MPGC_ENABLE_FINALISERS && what == IA_SET_FINALISER) return;
    mpgc_t *gc = heap(512 * 1024);
    node_t *head = list(gc, 3000, 0, 0, NULL);
    node_t *other = mk(gc, 42, 0);
    roots[1] = other;
    for (int i = 0; i < 50; i++) mk(gc, 9000u + (unsigned)i, 0); /* garbage */
    if (what == IA_REMOVE_REGION) CHECK(mpgc_add_region(gc, extra, sizeof extra)); /* empty */
    size_t all = mpgc_mem_alloc(gc);
    steps(gc, 16, true, 8);
    CHECK(marks(gc) > 0 || !MPGC_ENABLE_STATS);
    size_t expect = all;
    switch (what) {
    case IA_ALLOC: {
        node_t *x = mk(gc, 43, 0);
        CHECK(x != NULL);
        roots[2] = x;
        expect += node_bytes();
        break;
    }
    case IA_REALLOC: {
        node_t *x = mpgc_realloc(gc, other, 4 * BLK, true);
        CHECK(x != NULL);
        roots[1] = other = x;
        expect += 4 * BLK - node_bytes();
        break;
    }
    case IA_FREE:
        roots[1] = NULL;
        mpgc_free(gc, other);
        other = NULL;
        expect -= node_bytes();
        break;
    case IA_COLLECT: CHECK_EQ(mpgc_collect(gc), 50); expect -= 50 * node_bytes(); break;
    case IA_START:
        CHECK(mpgc_collect_start(gc));
        CHECK(!mpgc_in_cycle(gc));
        CHECK_EQ(mpgc_collect_end(gc), 50);
        expect -= 50 * node_bytes();
        break;
    case IA_SWEEP_ALL: CHECK_EQ(mpgc_sweep_all(gc), 3051); expect = 0; break;
    case IA_FINISH_SWEEP: (void)mpgc_finish_sweep(gc); break;
    case IA_ADD_REGION: CHECK(mpgc_add_region(gc, extra, sizeof extra)); break;
    case IA_REMOVE_REGION: CHECK(mpgc_remove_region(gc, extra)); break;
    case IA_SET_FINALISER: CHECK(mpgc_set_finaliser(gc, other, true)); break;
    }
    bool open = mpgc_in_cycle(gc);
    if (open) printf("   idle cycle still open after %s\n", ia_names[what]);
    CHECK(!open);
    CHECK_EQ(marks(gc), 0);
    CHECK(mpgc_check(gc));
    CHECK_EQ(mpgc_mem_alloc(gc), expect);
    if (what != IA_SWEEP_ALL) {
        CHECK(list_intact(gc, head, 3000, 0));
        CHECK(!other || intact(gc, other, 42));
    }
    CHECK(finish(gc, 64, true, 1000000) > 0);
    if (what != IA_SWEEP_ALL) CHECK(list_intact(gc, head, 3000, 0));
}
static void test_idle_abandon(void) {
    for (int w = 0; w < IA_N; w++) idle_case(w);
}

/* A runtime that resumes calls mpgc_collect_abort; an idle cycle left
 * alone runs to the end and frees the garbage of its start. */
static void test_idle_complete_and_abort(void) {
    mpgc_t *gc = heap(256 * 1024);
    node_t *head = list(gc, 2000, 0, 0, NULL);
    for (int i = 0; i < 30; i++) mk(gc, 1, 0);
    steps(gc, 32, true, 5);
    CHECK(mpgc_collect_abort(gc));
    CHECK(!mpgc_in_cycle(gc));
    CHECK_EQ(marks(gc), 0);
    CHECK_EQ(mpgc_mem_alloc(gc), 2030 * node_bytes());
    size_t n = finish(gc, 32, true, 1000000);
    CHECK(n >= 2000 * MPGC_BLOCK_WORDS / (2 * 32 + 2 * MPGC_BLOCK_WORDS));
    CHECK_EQ(mpgc_mem_alloc(gc), 2000 * node_bytes());
    CHECK(list_intact(gc, head, 2000, 0));
}

/* collect_step on an open idle cycle abandons it and opens an incremental
 * one (an allocation no longer abandons it); idle_step continues any cycle
 * (an object allocated marked in the incremental part is still kept when
 * idle steps end it: a restart would have cleared its mark). Catches: the
 * mode of a cycle not switching, idle_step restarting a cycle. */
static void test_mode_switches(void) {
    mpgc_t *gc = heap(256 * 1024);
    node_t *head = list(gc, 2000, 0, 0, NULL);
    steps(gc, 16, true, 5);
    CHECK(!mpgc_collect_step(gc, 16));
    CHECK(mpgc_in_cycle(gc));
    node_t *floating = mk(gc, 5, 0);
    CHECK(mpgc_in_cycle(gc)); /* incremental now: allocation keeps it open */
    steps(gc, 16, false, 3);
    CHECK(finish(gc, 16, true, 1000000) > 0);
    CHECK(intact(gc, floating, 5));
    CHECK(list_intact(gc, head, 2000, 0));
    CHECK_EQ(mpgc_collect(gc), 1);
    /* idle_step continuing an incremental cycle does not make it idle. */
    CHECK(!mpgc_collect_step(gc, 16));
    CHECK(!mpgc_idle_step(gc, 16));
    node_t *f2 = mk(gc, 6, 0);
    CHECK(mpgc_in_cycle(gc));
    CHECK(finish(gc, 16, true, 1000000) > 0);
    CHECK(intact(gc, f2, 6));
    CHECK_EQ(mpgc_collect(gc), 1);
    CHECK(mpgc_check(gc));
}

/* ---- 9. locked heap, NULL, state ---------------------------------------- */

/* While locked a step does nothing (the dump is unchanged) and returns
 * false; NULL gives false or nothing; mpgc_in_cycle follows the cycle.
 * Catches: a step that runs under the user's lock (e.g. from an interrupt
 * handler's lock), a crash on NULL. */
static void test_locked_and_null(void) {
    CHECK(!mpgc_collect_step(NULL, 100));
    CHECK(!mpgc_idle_step(NULL, 100));
    CHECK(!mpgc_collect_abort(NULL));
    CHECK(!mpgc_in_cycle(NULL));
    mpgc_write_barrier(NULL, roots, roots);
    mpgc_t *gc = heap(256 * 1024);
    node_t *head = list(gc, 2000, 0, 0, NULL);
    CHECK(!mpgc_in_cycle(gc));
    CHECK(!mpgc_collect_abort(gc));
    mpgc_lock(gc);
    CHECK(!mpgc_collect_step(gc, 100));
    CHECK(!mpgc_idle_step(gc, 100));
    CHECK(!mpgc_in_cycle(gc));
    mpgc_unlock(gc);
    steps(gc, 16, false, 4);
    static char a[HEAP / 64], b[HEAP / 64];
    text_t ta = {a, 0, sizeof a}, tb = {b, 0, sizeof b};
    mpgc_lock(gc);
    mpgc_dump_alloc_table(gc, to_text, &ta);
    for (int i = 0; i < 10; i++) {
        CHECK(!mpgc_collect_step(gc, 100000));
        CHECK(!mpgc_idle_step(gc, 100000));
    }
    mpgc_dump_alloc_table(gc, to_text, &tb);
    CHECK(mpgc_in_cycle(gc));
    mpgc_unlock(gc);
    CHECK(ta.n == tb.n && memcmp(a, b, ta.n) == 0);
    CHECK(finish(gc, 100000, false, 1000) > 0);
    CHECK(!mpgc_in_cycle(gc));
    CHECK(list_intact(gc, head, 2000, 0));
    /* Never calling a step never opens a cycle. */
    for (int i = 0; i < 100; i++) mk(gc, 1, 0);
    mpgc_collect(gc);
    CHECK(!mpgc_in_cycle(gc));
}

/* Roots and regions change between steps as outside a cycle: a root added
 * mid-cycle is scanned by the final step, a region added mid-cycle takes
 * allocations that the cycle keeps. Catches: add_root/add_region refused
 * between steps (they are not inside a collection), the final step using
 * the root set of the first step. */
static void test_roots_and_regions_mid_cycle(void) {
    mpgc_t *gc = heap(256 * 1024);
    static node_t *nodes[2000];
    node_t *head = list(gc, 2000, 0, 0, nodes);
    node_t *z = mk(gc, 88, 0);
    nodes[1999]->payload = z;
    steps(gc, 8, false, 5);
    static void *late_roots[2];
    CHECK(mpgc_add_root(gc, late_roots, sizeof late_roots));
    late_roots[1] = z;
    nodes[1999]->payload = NULL;
    bool region = mpgc_add_region(gc, extra, sizeof extra);
    CHECK(region || !MPGC_ENABLE_SPLIT_HEAP);
    CHECK(mpgc_in_cycle(gc));
    void *r[8];
    for (int i = 0; i < 8; i++) r[i] = mpgc_alloc(gc, 1024, MPGC_NO_SCAN); /* some go to the region */
    CHECK(finish(gc, 8, false, 1000000) > 0);
    CHECK(intact(gc, z, 88));
    for (int i = 0; i < 8; i++) CHECK(r[i] && mpgc_size(gc, r[i]) == 1024);
    CHECK(list_intact(gc, head, 2000, 0));
    CHECK(mpgc_remove_root(gc, late_roots));
    mpgc_collect(gc);
    CHECK_EQ(mpgc_size(gc, z), 0);
    CHECK(!region || mpgc_remove_region(gc, extra));
    CHECK(mpgc_check(gc));
}

/* MPGC_ENABLE_STEPS=0: the calls return false and do nothing; the heap
 * collects as before. */
static void test_compiled_out(void) {
    mpgc_t *gc = heap(64 * 1024);
    node_t *head = list(gc, 100, 0, 0, NULL);
    mk(gc, 1, 0);
    for (int i = 0; i < 10; i++) {
        CHECK(!mpgc_collect_step(gc, 10));
        CHECK(!mpgc_idle_step(gc, (size_t)-1));
        CHECK(!mpgc_in_cycle(gc));
        mpgc_write_barrier(gc, head, head->next);
    }
    CHECK(!mpgc_collect_abort(gc));
    CHECK_EQ(marks(gc), 0);
    CHECK(mpgc_check(gc));
    CHECK_EQ(mpgc_collect(gc), 1);
    CHECK(list_intact(gc, head, 100, 0));
}

int main(void) {
    if (!MPGC_ENABLE_STEPS) {
        RUN(test_compiled_out);
        return test_done();
    }
    RUN(test_cycle_equals_stop_the_world);
    RUN(test_alloc_between_steps);
    RUN(test_realloc_between_steps);
    RUN(test_barrier);
    RUN(test_roots_need_no_barrier);
    RUN(test_stack_needs_no_barrier);
    RUN(test_abandoning_calls);
    RUN(test_abort_wide);
    RUN(test_out_of_memory);
    RUN(test_threshold);
    RUN(test_reserve_in_cycle);
    RUN(test_huge_object);
    RUN(test_huge_object_cut);
    RUN(test_stale_grey);
    RUN(test_finalisers);
    RUN(test_callbacks_inside_steps);
    RUN(test_idle_abandon);
    RUN(test_idle_complete_and_abort);
    RUN(test_mode_switches);
    RUN(test_locked_and_null);
    RUN(test_roots_and_regions_mid_cycle);
    return test_done();
}
