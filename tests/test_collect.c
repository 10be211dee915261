/* Collection: roots, reachability, no-scan, mark-stack overflow,
 * finalisers (both orders), locking. */
#include <stdint.h>

#include "test.h"

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[256 * 1024];
static void *roots[16];

typedef struct node {
    struct node *next;
    struct node *other;
    uintptr_t value;
} node_t;

static mpgc_t *heap(mpgc_config_t *cfg) {
    memset(roots, 0, sizeof roots);
    mpgc_t *gc = precise_heap(mem, sizeof mem, cfg);
    mpgc_add_root(gc, roots, sizeof roots);
    return gc;
}

static void test_roots_keep_objects(void) {
    mpgc_t *gc = heap(NULL);
    roots[0] = mpgc_alloc(gc, 100, 0);
    void *dead = mpgc_alloc(gc, 100, 0);
    CHECK(dead != NULL);
    CHECK_EQ(mpgc_collect(gc), 1);
    CHECK(mpgc_size(gc, roots[0]) >= 100);
    CHECK_EQ(mpgc_size(gc, dead), 0);
    /* Only the exact start keeps an allocation (no interior pointers). */
    uint8_t *p = roots[0];
    roots[0] = p + (MPGC_INTERIOR_POINTERS ? 8 : 0);
    CHECK_EQ(mpgc_collect(gc), 0);
    roots[0] = p + 8;
    CHECK_EQ(mpgc_collect(gc), MPGC_INTERIOR_POINTERS ? 0 : 1);
    CHECK(mpgc_check(gc));
}

static void test_chains_and_cycles(void) {
    mpgc_t *gc = heap(NULL);
    /* A list of 1000 nodes from one root, and a cycle not reachable. */
    node_t *head = NULL;
    for (int i = 0; i < 1000; i++) {
        node_t *n = mpgc_alloc(gc, sizeof(node_t), 0);
        n->next = head;
        n->value = (uintptr_t)i;
        head = n;
        roots[0] = head;
    }
    node_t *a = mpgc_alloc(gc, sizeof(node_t), 0);
    node_t *b = mpgc_alloc(gc, sizeof(node_t), 0);
    a->next = b;
    b->next = a;
    a = b = NULL;
    head = NULL;
    CHECK_EQ(mpgc_collect(gc), 2);
    size_t count = 0;
    for (node_t *n = roots[0]; n; n = n->next) count++;
    CHECK_EQ(count, 1000);
    CHECK(mpgc_check(gc));
    roots[0] = NULL;
    CHECK_EQ(mpgc_collect(gc), 1000);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
}

static void test_no_scan(void) {
    mpgc_t *gc = heap(NULL);
    void **buf = mpgc_alloc(gc, 8 * sizeof(void *), MPGC_NO_SCAN);
    void **obj = mpgc_alloc(gc, 8 * sizeof(void *), 0);
    roots[0] = buf;
    roots[1] = obj;
    buf[0] = mpgc_alloc(gc, 10, 0); /* only referenced from a no-scan buffer */
    obj[0] = mpgc_alloc(gc, 10, 0); /* referenced from a scanned object */
    void *hidden = buf[0];
    CHECK_EQ(mpgc_collect(gc), 1);
    CHECK_EQ(mpgc_size(gc, hidden), 0);
    CHECK(mpgc_size(gc, obj[0]) > 0);
    CHECK(mpgc_size(gc, buf) > 0); /* the buffer itself lives */
    CHECK(mpgc_check(gc));
}

/* A wide fan-out and a deep tree overflow the 64-entry mark stack; nothing
 * reachable may be lost. */
static void test_mark_stack_overflow(void) {
    mpgc_t *gc = heap(NULL);
    size_t n = (size_t)mpgc_mem_free(gc) / BLK / 5; /* half the heap in nodes */
    if (n > 2000) n = 2000;
    void **fan = mpgc_alloc(gc, n * sizeof(void *), 0);
    roots[0] = fan;
    for (size_t i = 0; i < n; i++) {
        node_t *x = mpgc_alloc(gc, sizeof(node_t), 0);
        x->value = i;
        x->other = mpgc_alloc(gc, sizeof(node_t), 0); /* grandchildren */
        fan[i] = x;
    }
    /* A binary tree of depth 9 hanging off the last node. */
    node_t *level[512];
    size_t width = 1;
    level[0] = mpgc_alloc(gc, sizeof(node_t), 0);
    roots[1] = level[0];
    size_t tree = 1;
    for (int d = 0; d < 8; d++) {
        node_t *next[512];
        for (size_t i = 0; i < width; i++) {
            level[i]->next = next[2 * i] = mpgc_alloc(gc, sizeof(node_t), 0);
            level[i]->other = next[2 * i + 1] = mpgc_alloc(gc, sizeof(node_t), 0);
            tree += 2;
        }
        width *= 2;
        memcpy(level, next, width * sizeof(node_t *));
    }
    for (size_t i = 0; i < 300; i++) mpgc_alloc(gc, 24, 0); /* garbage */
    size_t used = mpgc_mem_alloc(gc);
    CHECK_EQ(mpgc_collect(gc), 300);
    CHECK_EQ(mpgc_mem_alloc(gc), used - 300 * ((24 + BLK - 1) / BLK * BLK));
    size_t alive = 0;
    for (size_t i = 0; i < n; i++) {
        node_t *x = fan[i];
        alive += mpgc_size(gc, x) > 0 && x->value == i && mpgc_size(gc, x->other) > 0;
    }
    CHECK_EQ(alive, n);
    CHECK(mpgc_check(gc));
    (void)tree;
}

static int fin_count;
static void *fin_seen[64];
static void *fin_alloc_result = (void *)1;
static int fin_bad_read;

static void finaliser(mpgc_t *gc, void *obj, void *user) {
    (void)user;
    if (fin_count < 64) fin_seen[fin_count] = obj;
    fin_count++;
    CHECK(mpgc_is_locked(gc));
    fin_alloc_result = mpgc_alloc(gc, 16, 0);   /* must fail: locked */
    CHECK_EQ(mpgc_collect(gc), 0);              /* no re-entry */
    node_t *n = obj;
    /* Objects with value 42 point to a node holding 7: read it. */
    if (n->value == 42) fin_bad_read += !(n->next && n->next->value == 7);
    if (n->value == 43) roots[5] = n; /* resurrect */
}

static void test_finalisers_safe(void) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    mpgc_t *gc = heap(&cfg);
    fin_count = 0;
    fin_bad_read = 0;
    node_t *a = mpgc_alloc(gc, sizeof(node_t), MPGC_FINALISE);
    a->value = 42;
    a->next = mpgc_alloc(gc, sizeof(node_t), 0);
    a->next->value = 7;
    node_t *live = mpgc_alloc(gc, sizeof(node_t), MPGC_FINALISE);
    roots[0] = live;
    a = NULL;
    CHECK_EQ(mpgc_collect(gc), 0); /* safe order: kept for this collection */
    CHECK_EQ(fin_count, 1);
    CHECK(fin_alloc_result == NULL);
    CHECK_EQ(fin_bad_read, 0);
    CHECK_EQ(mpgc_collect(gc), 2); /* now both go, no second finaliser */
    CHECK_EQ(fin_count, 1);
    CHECK(mpgc_check(gc));
    CHECK(mpgc_size(gc, roots[0]) > 0);
}

/* A finaliser that stores its object somewhere reachable: in the safe
 * order the object and what it points to stay valid; in MicroPython's
 * order they are freed under the new reference. */
static size_t resurrect(mpgc_finalise_order_t order) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    cfg.finalise_order = order;
    mpgc_t *gc = heap(&cfg);
    fin_count = 0;
    node_t *z = mpgc_alloc(gc, sizeof(node_t), MPGC_FINALISE);
    z->value = 43;
    z->next = mpgc_alloc(gc, sizeof(node_t), 0);
    z->next->value = 99;
    z = NULL;
    mpgc_collect(gc);
    CHECK_EQ(fin_count, 1);
    node_t *back = roots[5];
    size_t ok = back && mpgc_size(gc, back) > 0 && mpgc_size(gc, back->next) > 0 &&
                back->next->value == 99;
    /* Still alive after further collections: it is reachable now. */
    mpgc_collect(gc);
    ok = ok && mpgc_size(gc, back) > 0 && mpgc_size(gc, back->next) > 0;
    CHECK(mpgc_check(gc));
    CHECK_EQ(fin_count, 1);
    return ok;
}

static void test_resurrection(void) {
    /* Without the safe order compiled in, asking for it gives MicroPython's. */
    CHECK(resurrect(MPGC_FINALISE_SAFE) == MPGC_ENABLE_SAFE_ORDER);
    /* Pins the difference: MicroPython's order leaves a dangling root. */
    CHECK(resurrect(MPGC_FINALISE_MICROPYTHON) == 0);
}

static void test_finalisers_micropython_order(void) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    cfg.finalise_order = MPGC_FINALISE_MICROPYTHON;
    mpgc_t *gc = heap(&cfg);
    fin_count = 0;
    for (int i = 0; i < 10; i++) mpgc_alloc(gc, 16, MPGC_FINALISE);
    roots[0] = mpgc_alloc(gc, 16, MPGC_FINALISE);
    CHECK_EQ(mpgc_collect(gc), 10);
    CHECK_EQ(fin_count, 10);
    CHECK_EQ(mpgc_collect(gc), 0);
    CHECK_EQ(fin_count, 10);
    roots[0] = NULL;
    CHECK_EQ(mpgc_collect(gc), 1);
    CHECK_EQ(fin_count, 11);
    CHECK(mpgc_check(gc));
}

/* Finalisable garbage that references more finalisable garbage (a cycle):
 * every finaliser still runs exactly once and everything is reclaimed. */
static void test_finaliser_cycles_finish(void) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    mpgc_t *gc = heap(&cfg);
    fin_count = 0;
    node_t *a = mpgc_alloc(gc, sizeof(node_t), MPGC_FINALISE);
    node_t *b = mpgc_alloc(gc, sizeof(node_t), MPGC_FINALISE);
    node_t *c = mpgc_alloc(gc, sizeof(node_t), MPGC_FINALISE);
    a->next = b, b->next = c, c->next = a;
    a = b = c = NULL;
    for (int i = 0; i < 6 && mpgc_mem_alloc(gc) > 0; i++) mpgc_collect(gc);
    CHECK_EQ(fin_count, 3);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    CHECK(mpgc_check(gc));
}

/* Finalisers compiled out: the flag is accepted and nothing runs. */
static void test_finalisers_off(void) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    mpgc_t *gc = heap(&cfg);
    fin_count = 0;
    for (int i = 0; i < 10; i++) CHECK(mpgc_alloc(gc, 16, MPGC_FINALISE) != NULL);
    CHECK_EQ(mpgc_collect(gc), 10);
    CHECK_EQ(fin_count, 0);
    CHECK(mpgc_check(gc));
}

static void test_lock(void) {
    mpgc_t *gc = heap(NULL);
    void *p = mpgc_alloc(gc, 10, 0);
    roots[0] = p;
    CHECK(!mpgc_is_locked(gc));
    mpgc_lock(gc);
    mpgc_lock(gc);
    CHECK(mpgc_is_locked(gc));
    CHECK(mpgc_alloc(gc, 10, 0) == NULL);
    CHECK(mpgc_realloc(gc, p, 1000, true) == NULL);
    size_t used = mpgc_mem_alloc(gc);
    mpgc_free(gc, p);
    CHECK_EQ(mpgc_mem_alloc(gc), used);
    CHECK_EQ(mpgc_collect(gc), 0);
    mpgc_unlock(gc);
    CHECK(mpgc_is_locked(gc));
    CHECK(mpgc_alloc(gc, 10, 0) == NULL);
    mpgc_unlock(gc);
    CHECK(!mpgc_is_locked(gc));
    mpgc_unlock(gc); /* extra unlock is harmless */
    CHECK(!mpgc_is_locked(gc));
    CHECK(mpgc_alloc(gc, 10, 0) != NULL);
    CHECK(mpgc_check(gc));
}

/* scan_roots callback and root registration limits. */
static void *cb_root;
static int cb_calls;
static void scan_cb(mpgc_t *gc, void *user) {
    CHECK(user == &cb_calls);
    cb_calls++;
    mpgc_mark_range(gc, &cb_root, sizeof cb_root);
}

static void test_scan_roots_callback(void) {
    mpgc_config_t cfg = {0};
    cfg.scan_roots = scan_cb;
    cfg.user = &cb_calls;
    mpgc_t *gc = precise_heap(mem, sizeof mem, &cfg);
    cb_root = mpgc_alloc(gc, 50, 0);
    mpgc_alloc(gc, 50, 0);
    CHECK_EQ(mpgc_collect(gc), 1);
    CHECK_EQ(cb_calls, 1);
    CHECK(mpgc_size(gc, cb_root) > 0);
    mpgc_mark_range(gc, &cb_root, sizeof cb_root); /* outside a collection: no-op */
    CHECK(mpgc_check(gc));
    /* Root slots: fill them all, one more fails, remove works once. */
    static int slots[MPGC_MAX_ROOTS + 1];
    int added = 0;
    for (int i = 0; i <= MPGC_MAX_ROOTS; i++) added += mpgc_add_root(gc, &slots[i], sizeof(int));
    CHECK_EQ(added, MPGC_MAX_ROOTS);
    CHECK(mpgc_remove_root(gc, &slots[0]));
    CHECK(!mpgc_remove_root(gc, &slots[0]));
    CHECK(mpgc_add_root(gc, &slots[MPGC_MAX_ROOTS], sizeof(int)));
    cb_root = NULL;
    CHECK_EQ(mpgc_collect(gc), 1);
}

/* The C stack and registers are roots when a stack top is set. */
static _Alignas(64) uint8_t smem[16 * 1024];
__attribute__((noinline)) static void *make_garbage(mpgc_t *gc) {
    for (int i = 0; i < 20; i++) mpgc_alloc(gc, 32, 0);
    return NULL;
}
static void *stack_top; /* an address in main's frame */
__attribute__((noinline)) static void test_stack_scan(void) {
    mpgc_t *gc = mpgc_init(smem, sizeof smem, NULL);
    mpgc_set_stack_top(gc, stack_top);
    void *volatile on_stack = mpgc_alloc(gc, 64, 0);
    memset(on_stack, 0x11, 64);
    make_garbage(gc);
    mpgc_collect(gc);
    CHECK(mpgc_size(gc, on_stack) >= 64);
    CHECK(((uint8_t *)on_stack)[63] == 0x11);
    CHECK(mpgc_check(gc));
    /* Without a stack top nothing on the stack is a root. */
    mpgc_set_stack_top(gc, NULL);
    mpgc_collect(gc);
    CHECK_EQ(mpgc_size(gc, on_stack), 0);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
}

/* The three-step collection and sweep_all, as MicroPython drives them. */
static void *extra_root;
static void test_split_collection(void) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    cfg.finalise_order = MPGC_FINALISE_MICROPYTHON;
    mpgc_t *gc = heap(&cfg);
    roots[0] = mpgc_alloc(gc, 32, 0);
    extra_root = mpgc_alloc(gc, 32, 0);
    void *garbage = mpgc_alloc(gc, 32, 0);
    CHECK(garbage != NULL);
    CHECK(mpgc_collect_start(gc));
    CHECK(mpgc_is_locked(gc));
    CHECK(mpgc_alloc(gc, 8, 0) == NULL);
    mpgc_mark_range(gc, &extra_root, sizeof extra_root);
    CHECK_EQ(mpgc_collect_end(gc), 1);
    CHECK(!mpgc_is_locked(gc));
    CHECK(mpgc_size(gc, extra_root) > 0 && mpgc_size(gc, roots[0]) > 0);
    CHECK_EQ(mpgc_collect_end(gc), 0); /* not collecting: no-op */
    mpgc_lock(gc);
    CHECK(!mpgc_collect_start(gc));
    mpgc_unlock(gc);
    /* sweep_all frees even the rooted objects and runs finalisers. */
    fin_count = 0;
    void *f = mpgc_alloc(gc, 16, 0);
    CHECK(mpgc_set_finaliser(gc, f, true) == MPGC_ENABLE_FINALISERS);
    CHECK(!mpgc_set_finaliser(gc, (uint8_t *)f + 1, true));
    roots[1] = f;
    CHECK_EQ(mpgc_sweep_all(gc), 3);
    CHECK_EQ(fin_count, MPGC_ENABLE_FINALISERS);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    CHECK(mpgc_check(gc));
}

/* The progress callback: called during collections, in proportion to the
 * work (words marked and table words swept), with the heap locked. */
static int progress_calls, progress_unlocked, progress_allocated;
static void on_progress(mpgc_t *gc, void *user) {
    (void)user;
    progress_calls++;
    progress_unlocked += !mpgc_is_locked(gc);
    progress_allocated += mpgc_alloc(gc, 16, 0) != NULL;
}

static void test_progress(void) {
    mpgc_config_t cfg = {0};
    cfg.progress = on_progress;
    mpgc_t *gc = heap(&cfg);
    progress_calls = progress_unlocked = progress_allocated = 0;
    /* An empty heap: only the sweep's table words. */
    size_t groups = sizeof mem / BLK / (8 * sizeof(void *));
    mpgc_collect(gc);
    int empty = progress_calls;
    CHECK_EQ((size_t)empty, groups * 4 / MPGC_PROGRESS_WORDS);
    if (!MPGC_ENABLE_PROGRESS) { /* compiled out: never called */
        roots[0] = mpgc_alloc(gc, 1000, 0);
        mpgc_collect(gc);
        CHECK_EQ(progress_calls, 0);
        return;
    }
    /* A reachable list of 2000 nodes (one block each) adds their words. */
    node_t *head = NULL;
    for (int i = 0; i < 2000; i++) {
        node_t *n = mpgc_alloc(gc, sizeof *n, 0);
        CHECK(n != NULL);
        n->next = head;
        head = n;
    }
    roots[0] = head;
    progress_calls = 0;
    CHECK_EQ(mpgc_collect(gc), 0);
    size_t words = 2000 * (BLK / sizeof(void *)) + groups * 4;
    CHECK((size_t)progress_calls + 1 >= words / MPGC_PROGRESS_WORDS);
    CHECK((size_t)progress_calls <= words / MPGC_PROGRESS_WORDS + 1);
    CHECK(progress_calls > empty);
    CHECK_EQ(progress_unlocked, 0);
    CHECK_EQ(progress_allocated, 0);
    CHECK(mpgc_check(gc));
}

int main(void) {
    volatile int top = 0;
    stack_top = (void *)&top;
    RUN(test_roots_keep_objects);
    RUN(test_chains_and_cycles);
    RUN(test_no_scan);
    RUN(test_mark_stack_overflow);
    if (MPGC_ENABLE_FINALISERS) {
        if (MPGC_ENABLE_SAFE_ORDER) RUN(test_finalisers_safe);
        RUN(test_resurrection);
        RUN(test_finalisers_micropython_order);
        RUN(test_finaliser_cycles_finish);
    } else {
        RUN(test_finalisers_off);
    }
    RUN(test_lock);
    RUN(test_progress);
    RUN(test_split_collection);
    RUN(test_scan_roots_callback);
    RUN(test_stack_scan);
    return test_done();
}
