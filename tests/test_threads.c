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

static void *thread_main(void *arg) {
    thr_t *me = arg;
    volatile int top = 0;
    me->top = (const uint8_t *)&top;
    work(me);
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
    size_t colls = 0;
    for (int i = 0; i < NT; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ(thr[i].errors, 0);
        colls += thr[i].collections;
    }
    mpgc_info_t info;
    mpgc_info(gc, &info);
    CHECK(colls > 0 && info.collections > colls); /* explicit and threshold ones */
    CHECK(mpgc_check(gc));
    /* Every thread is gone: nothing is reachable any more. */
    mpgc_set_stack_top(gc, NULL);
    mpgc_collect(gc);
    CHECK_EQ(mpgc_mem_alloc(gc), 0);
    printf("%zu collections\n", info.collections);
    return test_done();
}
