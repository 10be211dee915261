#define _XOPEN_SOURCE 700 /* recursive pthread mutexes */
/*
 * Threads: several threads allocate, build lists, register their stacks and
 * collect concurrently, on one heap guarded by the lock hooks (a recursive
 * pthread mutex, as MicroPython uses without a GIL). Run under
 * ThreadSanitizer in CI. Nothing reachable may be lost.
 *
 * Protocol (the one a runtime without a GIL needs): all heap work happens
 * with the mutex held. A thread that lets go of it first "parks": it spills
 * its registers into its record (setjmp) and publishes the part of its
 * stack that holds its frames. The collecting thread scans its own stack
 * (mpgc_set_stack_top on entry) and, through scan_roots, the parked
 * threads' registers and stacks; those were written before the unlock that
 * the collector's lock follows, so the reads race with nothing.
 *
 * Collection in steps runs through it too: workers make incremental steps
 * (their stores into nodes go through mpgc_write_barrier), the observer
 * makes incremental and idle steps and aborts, and reads mpgc_in_cycle and
 * calls the barrier relying on the lock hooks alone.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdint.h>

#include "mpgc_pthread.h"
#include "test.h"

#define NT 4
#define ITERS 1500
#define LIST 40

typedef struct node {
    struct node *next;
    uintptr_t value;
    uintptr_t check;
} node_t;

typedef struct {
    jmp_buf regs;       /* registers spilled when parking */
    const uint8_t *sp;  /* lowest stack address to scan while parked */
    const uint8_t *top; /* top of the thread's stack */
    bool parked;
    void *roots[4];     /* registered with mpgc_add_root */
    int id;
    int errors;
    size_t collections;
    size_t cycles; /* cycles in steps this thread ended */
} thr_t;

static _Alignas(64) uint8_t mem[1024 * 1024];
static pthread_mutex_t M;
static mpgc_t *gc;
static thr_t thr[NT];

static void scan_parked(mpgc_t *g, void *user) {
    (void)user;
    for (int i = 0; i < NT; i++) {
        if (!thr[i].parked) continue;
        mpgc_mark_range(g, &thr[i].regs, sizeof thr[i].regs);
        mpgc_mark_range(g, thr[i].sp, (size_t)(thr[i].top - thr[i].sp));
    }
}

static void enter(thr_t *me) {
    pthread_mutex_lock(&M);
    me->parked = false;
    mpgc_set_stack_top(gc, (void *)me->top);
}

/* Called with the registers already in me->regs (see PARK). */
__attribute__((noinline)) static void outside(thr_t *me) {
    me->sp = (const uint8_t *)__builtin_frame_address(0);
    me->parked = true;
    pthread_mutex_unlock(&M);
    volatile unsigned spin = 0; /* work that holds no heap pointer */
    for (int i = 0; i < 2000; i++) spin += (unsigned)i;
    (void)spin;
    enter(me);
}
#define PARK(me)                                                               \
    do {                                                                       \
        setjmp((me)->regs);                                                    \
        outside(me);                                                           \
    } while (0)

static node_t *build(thr_t *me, uintptr_t base) {
    node_t *head = NULL;
    for (int i = 0; i < LIST; i++) {
        node_t *n = mpgc_alloc(gc, sizeof(node_t) + (size_t)(i % 5) * 8, 0);
        if (!n) {
            me->errors++;
            return head;
        }
        n->next = head;
        mpgc_write_barrier(gc, n, head); /* a cycle in steps may be open */
        n->value = base + (uintptr_t)i;
        n->check = ~n->value;
        head = n;
        if (i % 7 == 0) mpgc_alloc(gc, 24, MPGC_NO_SCAN); /* garbage */
    }
    return head;
}

static int verify(node_t *head, uintptr_t base) {
    int bad = 0, count = 0;
    for (node_t *n = head; n && count <= LIST; n = n->next, count++) {
        uintptr_t want = base + (uintptr_t)(LIST - 1 - count);
        bad += n->value != want || n->check != ~want || mpgc_size(gc, n) < sizeof(node_t);
    }
    return bad + (count != LIST);
}

__attribute__((noinline)) static void work(thr_t *me) {
    enter(me);
    mpgc_add_root(gc, me->roots, sizeof me->roots);
    for (int it = 0; it < ITERS; it++) {
        uintptr_t b1 = (uintptr_t)(me->id * 1000000 + it * 1000);
        uintptr_t b2 = b1 + 500;
        node_t *volatile on_stack = build(me, b1); /* only on this thread's stack */
        me->roots[it % 4] = build(me, b2);
        PARK(me);
        if (it % 10 == me->id) {
            mpgc_collect(gc);
            me->collections++;
        } else if (it % 3 == me->id % 3) { /* a step of the open cycle (or a new one); */
            size_t budget = it % 7 == 0 ? 100000 : 64 + (size_t)it % 200; /* some end it */
            me->cycles += mpgc_collect_step(gc, budget);
        }
        me->errors += verify(on_stack, b1);
        me->errors += verify(me->roots[it % 4], b2);
        PARK(me);
        me->errors += verify(on_stack, b1);
        on_stack = NULL;
    }
    mpgc_remove_root(gc, me->roots);
    me->parked = false;
    pthread_mutex_unlock(&M);
}

/* The observer: a thread outside the parking protocol that calls every
 * other public function while the workers allocate and collect, relying on
 * the lock hooks alone (TSan checks that this is race-free). Objects it
 * keeps live in a registered root array, stored there while it holds the
 * mutex, because its stack is never scanned. */
static _Alignas(64) uint8_t region[16 * 1024];
static void *obs_roots[4];
static volatile int workers_left = NT;
static int obs_errors;
static void sink(void *ctx, const char *s, size_t n) { (void)ctx, (void)s, (void)n; }

static void *observer_main(void *arg) {
    (void)arg;
    volatile int top = 0;
    unsigned long rounds = 0;
    obs_errors += !mpgc_add_root(gc, obs_roots, sizeof obs_roots); /* (CHECK is not thread-safe) */
    while (__atomic_load_n(&workers_left, __ATOMIC_ACQUIRE) > 0 || rounds < 50) {
        rounds++;
        (void)mpgc_mem_alloc(gc); /* two calls: another thread may run between */
        obs_errors += mpgc_mem_free(gc) < 0;
        obs_errors += mpgc_threshold(gc) != 4 * 1024;
        mpgc_set_threshold(gc, 4 * 1024);
        obs_errors += !mpgc_isenabled(gc);
        mpgc_enable(gc);
        (void)mpgc_is_locked(gc);
        mpgc_info_t info;
        mpgc_info(gc, &info);
        obs_errors += info.used + info.free != info.total;
        obs_errors += !mpgc_check(gc);
        if (rounds % 16 == 0) mpgc_dump_alloc_table(gc, sink, NULL);
        /* Its own objects: allocated, resized, flagged, freed under the
         * mutex (a collection between the call and the store would not
         * see them otherwise). */
        pthread_mutex_lock(&M); /* as a collector: the workers are parked */
        mpgc_set_stack_top(gc, (void *)&top);
        mpgc_lock(gc);
        obs_errors += mpgc_alloc(gc, 16, 0) != NULL; /* locked: refused */
        mpgc_unlock(gc);
        void *p = mpgc_alloc(gc, 40, 0);
        obs_roots[rounds % 4] = p;
        if (p) obs_roots[rounds % 4] = mpgc_realloc(gc, p, 200, true);
        if (obs_roots[rounds % 4]) {
            obs_errors += mpgc_size(gc, obs_roots[rounds % 4]) < 200;
            obs_errors += !mpgc_set_finaliser(gc, obs_roots[rounds % 4], false);
        }
        if (rounds % 3 == 0) {
            mpgc_free(gc, obs_roots[(rounds + 1) % 4]);
            obs_roots[(rounds + 1) % 4] = NULL;
        }
        /* Pools come and go; collections, as any, from the mutex. */
        if (mpgc_add_region(gc, region, sizeof region)) {
            mpgc_collect(gc);
            mpgc_remove_region(gc, region); /* may hold objects: may fail */
        }
        /* Steps: incremental ones (the cycle stays open for the workers),
         * and idle ones, aborted before the workers run again. */
        if (rounds % 5 == 0) (void)mpgc_collect_step(gc, 256);
        if (rounds % 7 == 0) {
            bool was = mpgc_in_cycle(gc), ended = mpgc_idle_step(gc, 128);
            obs_errors += !ended && !mpgc_in_cycle(gc);
            if (!was && mpgc_in_cycle(gc)) obs_errors += !mpgc_collect_abort(gc); /* an idle one */
        }
        if (obs_roots[rounds % 4]) { /* a store into its object, with the barrier */
            void **o = obs_roots[rounds % 4];
            o[0] = obs_roots[(rounds + 2) % 4];
            mpgc_write_barrier(gc, o, o[0]);
        }
        /* A three-step collection: the hook is held from start to end. */
        if (rounds % 8 == 0 && mpgc_collect_start(gc)) {
            mpgc_mark_range(gc, obs_roots, sizeof obs_roots);
            mpgc_collect_end(gc);
        }
        pthread_mutex_unlock(&M);
        static int extra;
        if (mpgc_add_root(gc, &extra, sizeof extra)) obs_errors += !mpgc_remove_root(gc, &extra);
        obs_errors += mpgc_collect_end(gc) != 0; /* nothing open: no-op */
        (void)mpgc_in_cycle(gc);                 /* readers rely on the hooks alone */
        mpgc_write_barrier(gc, obs_roots, NULL);
    }
    /* Give the pool back for good (a collection empties it first). */
    pthread_mutex_lock(&M);
    for (int i = 0; i < 4; i++) obs_roots[i] = NULL;
    mpgc_set_stack_top(gc, (void *)&top);
    mpgc_collect(gc);
    mpgc_remove_region(gc, region);
    pthread_mutex_unlock(&M);
    obs_errors += !mpgc_remove_root(gc, obs_roots);
    return NULL;
}

static void *thread_main(void *arg) {
    thr_t *me = arg;
    volatile int top = 0;
    me->top = (const uint8_t *)&top;
    work(me);
    __atomic_fetch_sub(&workers_left, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int hook_calls;
static void count_hook(void *user) {
    (void)user;
    hook_calls++;
}

int main(void) {
    if (!MPGC_ENABLE_LOCK_HOOKS) { /* compiled out: the hooks are never called */
        mpgc_config_t c = {0};
        c.lock = c.unlock = count_hook;
        mpgc_t *g = mpgc_init(mem, sizeof mem, &c);
        mpgc_alloc(g, 10, 0);
        mpgc_collect(g);
        CHECK_EQ(hook_calls, 0);
        return test_done();
    }
    CHECK(mpgc_pthread_mutex_init(&M));
    mpgc_config_t cfg = {0};
    cfg.lock = mpgc_pthread_lock;
    cfg.unlock = mpgc_pthread_unlock;
    cfg.user = &M;
    cfg.scan_roots = scan_parked;
    gc = mpgc_init(mem, sizeof mem, &cfg);
    mpgc_set_threshold(gc, 4 * 1024); /* collections also happen inside allocations */
    pthread_t t[NT];
    for (int i = 0; i < NT; i++) {
        thr[i].id = i;
        CHECK(pthread_create(&t[i], NULL, thread_main, &thr[i]) == 0);
    }
    pthread_t obs;
    CHECK(pthread_create(&obs, NULL, observer_main, NULL) == 0);
    size_t colls = 0, cycles = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(thr[i].errors, 0);
        colls += thr[i].collections;
        cycles += thr[i].cycles;
    }
    pthread_join(obs, NULL);
    CHECK_EQ(obs_errors, 0);
    mpgc_info_t info;
    mpgc_info(gc, &info);
    CHECK(colls > 0 && info.collections > colls); /* explicit and threshold ones */
    CHECK(cycles > 0); /* cycles in steps ended by a worker's step (the final step) */
    CHECK(mpgc_check(gc));
    /* Every thread is gone: nothing is reachable any more. */
    mpgc_set_stack_top(gc, NULL);
    mpgc_collect(gc);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    /* Shutdown, and the calls that need no heap. */
    mpgc_alloc(gc, 64, MPGC_FINALISE);
    CHECK(mpgc_sweep_all(gc) >= 1);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    CHECK(mpgc_region_bytes(100) > 100);
    mpgc_sysmem_t sm;
    (void)mpgc_sys_total();
    (void)mpgc_sys_heap(&sm);
    (void)mpgc_sys_page(&sm);
    (void)mpgc_sys_mmz(&sm);
    printf("%zu collections, %zu cycles in steps ended by workers\n", info.collections, cycles);
    return test_done();
}
