/* Finalisation in the safe order (docs/design.md section 4): referrers
 * before referents whatever their addresses, every referent intact while a
 * finaliser runs, finalisable garbage never making an allocation fail, long
 * chains finished in a few collections, and mpgc_sweep_all running every
 * finaliser exactly once and freeing everything, in both orders. */
#include <stdint.h>

#include "test.h"

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[64 * 1024];
static void *roots[4];

typedef struct node {
    struct node *next;
    struct node *other;
    uintptr_t value; /* VALUE while intact */
    uintptr_t id;
} node_t;
#define VALUE ((uintptr_t)0x600dcafe)

#define MAX_LOG 4096
static const void *fin_log[MAX_LOG];
static uintptr_t fin_id[MAX_LOG]; /* node_t.id of each, read while intact */
static size_t fin_n;
static int order_broken, referent_broken, twice;
static mpgc_t *cur;

static bool was_finalised(const void *p) {
    for (size_t i = 0; i < fin_n; i++)
        if (fin_log[i] == p) return true;
    return false;
}

/* Everything reachable from obj must be allocated, intact, and not
 * finalised yet (nothing is resurrected in these tests). */
static void check_referents(const node_t *n, int depth) {
    for (; n && depth < 200; n = n->next, depth++) {
        if (mpgc_size(cur, n) == 0 || n->value != VALUE) {
            referent_broken++;
            return;
        }
        if (depth > 0 && was_finalised(n)) order_broken++;
        if (n->other) check_referents(n->other, depth + 1);
    }
}

static void finaliser(mpgc_t *gc, void *obj, void *user) {
    (void)gc, (void)user;
    twice += was_finalised(obj);
    check_referents(obj, 0);
    if (fin_n < MAX_LOG) {
        fin_id[fin_n] = ((const node_t *)obj)->id;
        fin_log[fin_n++] = obj;
    }
}

static mpgc_t *heap(size_t size, mpgc_finalise_order_t order) {
    mpgc_config_t cfg = {0};
    cfg.finaliser = finaliser;
    cfg.finalise_order = order;
    memset(roots, 0, sizeof roots);
    fin_n = 0;
    order_broken = referent_broken = twice = 0;
    cur = precise_heap(mem, size, &cfg);
    mpgc_add_root(cur, roots, sizeof roots);
    return cur;
}

static node_t *node(mpgc_t *gc, size_t bytes, unsigned flags) {
    node_t *n = mpgc_alloc(gc, bytes, flags);
    if (n) n->value = VALUE;
    return n;
}

static size_t pos(const void *p) {
    for (size_t i = 0; i < fin_n; i++)
        if (fin_log[i] == p) return i;
    return SIZE_MAX;
}

/* a -> b -> c, a and b finalisable, a rooted: sweep_all runs both
 * finalisers once (a first, with b and c intact) and frees all three. */
static void sweep_all_case(mpgc_finalise_order_t order) {
    mpgc_t *gc = heap(sizeof mem, order);
    node_t *a = node(gc, sizeof(node_t), MPGC_FINALISE);
    node_t *b = node(gc, sizeof(node_t), MPGC_FINALISE);
    node_t *c = node(gc, sizeof(node_t), 0);
    a->next = b, b->next = c;
    roots[0] = a;
    CHECK_EQ(mpgc_sweep_all(gc), 3);
    CHECK_EQ(fin_n, 2);
    CHECK_EQ(twice, 0);
    CHECK_EQ(referent_broken, 0);
    if (order == MPGC_FINALISE_SAFE && MPGC_ENABLE_SAFE_ORDER) CHECK(pos(a) < pos(b));
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    CHECK(mpgc_check(gc));
    CHECK(!mpgc_is_locked(gc));
    /* Again on the empty heap: nothing to do. */
    CHECK_EQ(mpgc_sweep_all(gc), 0);
    CHECK_EQ(fin_n, 2);
}

static void test_sweep_all(void) {
    sweep_all_case(MPGC_FINALISE_SAFE);
    sweep_all_case(MPGC_FINALISE_MICROPYTHON);
    /* Many, in a chain and a cycle, more than a collection's batch. */
    for (int o = 0; o < 2; o++) {
        mpgc_t *gc = heap(sizeof mem, (mpgc_finalise_order_t)o);
        node_t *prev = NULL, *first = NULL;
        size_t made = 0;
        for (; made < 300; made++) {
            node_t *n = node(gc, sizeof(node_t), MPGC_FINALISE);
            if (!n) break;
            if (prev) n->next = prev; /* newer -> older */
            else first = n;
            prev = n;
            roots[1] = n;
        }
        first->next = prev; /* close the cycle */
        CHECK_EQ(mpgc_sweep_all(gc), made);
        CHECK_EQ(fin_n, made);
        CHECK_EQ(twice, 0);
        CHECK_EQ(referent_broken, 0);
        CHECK_EQ(mpgc_mem_alloc(gc), 0);
        CHECK(mpgc_check(gc));
    }
}

/* x -> y, both finalisable and unreachable: x's finaliser runs before y's
 * whichever lies lower, both in the same collection, and the next
 * collection frees both. */
static void pair_case(bool referrer_above) {
    mpgc_t *gc = heap(sizeof mem, MPGC_FINALISE_SAFE);
    node_t *first = node(gc, sizeof(node_t), MPGC_FINALISE);
    node_t *second = node(gc, sizeof(node_t), MPGC_FINALISE);
    node_t *x = referrer_above ? second : first, *y = referrer_above ? first : second;
    CHECK(referrer_above ? x > y : x < y);
    x->next = y;
    x = y = NULL;
    CHECK_EQ(mpgc_collect(gc), 0);
    CHECK_EQ(fin_n, 2);
    CHECK(pos(referrer_above ? second : first) < pos(referrer_above ? first : second));
    CHECK_EQ(order_broken, 0);
    CHECK_EQ(referent_broken, 0);
    CHECK_EQ(mpgc_collect(gc), 2);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    CHECK(mpgc_check(gc));
}

static void test_order_not_by_address(void) {
    pair_case(false);
    pair_case(true);
    /* A diamond whose members lie in every address order: d -> {b, c},
     * c -> b, b -> a. Finalisers: d, c, b, a. */
    for (int perm = 0; perm < 24; perm++) {
        mpgc_t *gc = heap(sizeof mem, MPGC_FINALISE_SAFE);
        node_t *slot[4];
        for (int i = 0; i < 4; i++) slot[i] = node(gc, sizeof(node_t), MPGC_FINALISE);
        int p = perm, idx[4] = {0}, used[4] = {0};
        for (int i = 0; i < 4; i++) { /* the perm-th permutation of 0..3 */
            int k = p % (4 - i);
            p /= 4 - i;
            for (int j = 0; j < 4; j++)
                if (!used[j] && k-- == 0) {
                    idx[i] = j;
                    used[j] = 1;
                    break;
                }
        }
        node_t *a = slot[idx[0]], *b = slot[idx[1]], *c = slot[idx[2]], *d = slot[idx[3]];
        d->next = b, d->other = c, c->next = b, b->next = a;
        mpgc_collect(gc);
        CHECK_EQ(fin_n, 4);
        CHECK(pos(d) < pos(c) && pos(c) < pos(b) && pos(b) < pos(a));
        CHECK_EQ(order_broken, 0);
        CHECK_EQ(referent_broken, 0);
        mpgc_collect(gc);
        CHECK_EQ(mpgc_mem_alloc(gc), 0);
    }
}

/* A chain of finalisable 1 KiB objects filling the heap, dropped. */
static size_t make_chain(mpgc_t *gc, bool newer_points_to_older, size_t max) {
    node_t *prev = NULL;
    size_t n = 0;
    for (; n < max; n++) {
        node_t *o = node(gc, 1024, MPGC_FINALISE);
        if (!o) break;
        o->id = n;
        if (prev) {
            if (newer_points_to_older) o->next = prev;
            else prev->next = o;
        }
        if (!prev || newer_points_to_older) roots[0] = o; /* the chain's head */
        prev = o;
    }
    roots[0] = NULL;
    return n;
}

/* The figures: a 64 KiB heap full of a chain of unreachable
 * finalisable 1 KiB objects; a 2 KiB request must succeed, and the chain
 * must go in a few collections (the bound of docs/design.md section 4). */
static void test_chain(void) {
    for (int dir = 0; dir < 2; dir++) {
        mpgc_t *gc = heap(sizeof mem, MPGC_FINALISE_SAFE);
        size_t n = make_chain(gc, dir, 61);
        CHECK(n >= 55);
        CHECK(mpgc_alloc(gc, 2048, 0) != NULL);
        CHECK_EQ(order_broken, 0);
        CHECK_EQ(referent_broken, 0);
        CHECK(mpgc_check(gc));

        gc = heap(sizeof mem, MPGC_FINALISE_SAFE);
        n = make_chain(gc, dir, 61);
        size_t collections = 0;
        while (mpgc_mem_alloc(gc) > 0 && collections < 1000) {
            mpgc_collect(gc);
            collections++;
        }
        printf("   chain of %zu (%s): freed in %zu collections\n", n,
               dir ? "newer -> older" : "older -> newer", collections);
        CHECK(collections <= 4);
        CHECK_EQ(fin_n, n);
        CHECK_EQ(twice, 0);
        CHECK_EQ(order_broken, 0);
        CHECK_EQ(referent_broken, 0);
        /* Finalised in chain order: referrers first. */
        bool in_order = true;
        for (size_t i = 1; i < fin_n && i < MAX_LOG; i++)
            in_order &= dir ? fin_id[i] < fin_id[i - 1] : fin_id[i] > fin_id[i - 1];
        CHECK(in_order);
    }
}

/* Longer chains of small objects, the head at the low end, at the high
 * end, and in the middle (two branches): about one batch of
 * MPGC_FINALISE_BATCH objects per collection whichever way they run
 * (docs/design.md section 4a, "Bounds"). */
static void test_long_chains(void) {
    const size_t n = 480;
    for (int shape = 0; shape < 3; shape++) {
        mpgc_t *gc = heap(sizeof mem, MPGC_FINALISE_SAFE);
        node_t *nodes[480];
        for (size_t i = 0; i < n; i++) {
            nodes[i] = node(gc, sizeof(node_t), MPGC_FINALISE);
            CHECK(nodes[i] != NULL);
            nodes[i]->id = i;
        }
        /* shape 0: i -> i+1 (head lowest); 1: i+1 -> i (head highest);
         * 2: the middle node heads both halves. */
        for (size_t i = 0; i + 1 < n; i++) {
            if (shape == 0 || (shape == 2 && i >= n / 2)) nodes[i]->next = nodes[i + 1];
            else nodes[i + 1]->next = nodes[i];
        }
        for (size_t i = 0; i < n; i++) CHECK(i == 0 || nodes[i] > nodes[i - 1]);
        size_t collections = 0;
        while (mpgc_mem_alloc(gc) > 0 && collections < 1000) {
            mpgc_collect(gc);
            collections++;
        }
        size_t batches = (n + MPGC_FINALISE_BATCH - 1) / MPGC_FINALISE_BATCH;
        printf("   chain of %zu, shape %d: freed in %zu collections\n", n, shape, collections);
        CHECK(collections <= (shape == 2 ? 2 * batches : batches) + 2);
        CHECK_EQ(fin_n, n);
        CHECK_EQ(order_broken, 0);
        CHECK_EQ(referent_broken, 0);
        CHECK(mpgc_check(gc));
    }
}

/* A ring of n finalisable objects, one of which reaches a finalisable z:
 * z's finaliser runs after every ring member's (they all reach z; z
 * reaches none of them), for rings shorter and longer than a batch, with
 * collections and with sweep_all; and a ring longer than a batch is
 * finished in about one collection per member (docs/design.md section 4a,
 * "Bounds"). Found by the fuzzer: rings of more than 32 had z first. */
static void test_rings(void) {
    const size_t sizes[] = {10, 32, 33, 48, 100};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int sweep = 0; sweep < 2; sweep++) {
            size_t n = sizes[k];
            mpgc_t *gc = heap(sizeof mem, MPGC_FINALISE_SAFE);
            node_t *z = node(gc, sizeof(node_t), MPGC_FINALISE);
            node_t *r[100];
            for (size_t i = 0; i < n; i++) r[i] = node(gc, sizeof(node_t), MPGC_FINALISE);
            for (size_t i = 0; i < n; i++) r[i]->next = r[(i + 1) % n];
            r[n / 2]->other = z;
            size_t collections = 0;
            if (sweep) mpgc_sweep_all(gc);
            while (mpgc_mem_alloc(gc) > 0 && collections < 1000) {
                mpgc_collect(gc);
                collections++;
            }
            CHECK_EQ(fin_n, n + 1);
            CHECK(fin_n > 0 && fin_log[fin_n - 1] == z);
            CHECK_EQ(referent_broken, 0);
            size_t bound = n + 1 + 4 * ((n + 1 + MPGC_FINALISE_BATCH - 1) / MPGC_FINALISE_BATCH) + 4;
            if (!sweep) printf("   ring of %zu: freed in %zu collections\n", n, collections);
            CHECK(collections <= bound);
            CHECK(mpgc_check(gc));
        }
    }
}

/* An 8 KiB heap, 48-byte finalisable objects nothing refers to: the heap
 * fills with garbage again and again, and no allocation may fail. */
static void test_finalisable_garbage_never_fails(void) {
    mpgc_t *gc = heap(8 * 1024, MPGC_FINALISE_SAFE);
    CHECK(gc != NULL);
    size_t failed = 0;
    for (int i = 0; i < 3000; i++) failed += node(gc, 48, MPGC_FINALISE) == NULL;
    CHECK_EQ(failed, 0);
    CHECK(fin_n > 1000); /* (addresses are reused: no test for twice) */
    CHECK(mpgc_check(gc));
    /* With live data that leaves no room, allocation still fails. */
    size_t live = 0;
    for (;;) {
        node_t *n = node(gc, 48, 0);
        if (!n) break;
        n->next = roots[1];
        roots[1] = n;
        live++;
    }
    CHECK(live > 20);
    CHECK(node(gc, 48, MPGC_FINALISE) == NULL);
    CHECK(mpgc_check(gc));
}

int main(void) {
    if (!MPGC_ENABLE_FINALISERS) return test_done();
    RUN(test_sweep_all);
    if (!MPGC_ENABLE_SAFE_ORDER) return test_done(); /* the rest is its order */
    RUN(test_order_not_by_address);
    RUN(test_chain);
    RUN(test_long_chains);
    RUN(test_rings);
    RUN(test_finalisable_garbage_never_fails);
    return test_done();
}
