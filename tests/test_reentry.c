/* Calls into the heap from inside a collection: from the finaliser, the
 * scan_roots and the progress callbacks, and between mpgc_collect_start and
 * mpgc_collect_end. Every public call has a defined result there
 * (include/mpgc.h, "Inside a collection"), and none of them may free a live
 * object, leave the heap locked or unbalance the thread hooks. */
#include <stdint.h>

#include "test.h"

#define BLK MPGC_BLOCK_BYTES
static _Alignas(64) uint8_t mem[128 * 1024];
static _Alignas(64) uint8_t extra[8 * 1024];
static void *roots[4];

/* What a callback does, once per collection. */
typedef enum {
    NC_NONE,
    NC_START_OR_END, /* if (!mpgc_collect_start(gc)) mpgc_collect_end(gc); */
    NC_END,
    NC_COLLECT,
    NC_SWEEP_ALL,
    NC_FINISH_SWEEP,
    NC_ALLOC,
    NC_FREE,
    NC_REALLOC,
    NC_ADD_REGION,
    NC_REMOVE_REGION,
    NC_ADD_ROOT,
    NC_REMOVE_ROOT,
    NC_SET_FINALISER,
    NC_LOCK_UNLOCK,
    NC_UNLOCK,
    NC_READERS,   /* size, info, mem_alloc/free, dump, check, is_locked */
    NC_SWITCHES,  /* enable/disable/threshold, restored */
    NC_SNAPSHOT,  /* written where the tables are whole (mpgc_check holds) */
    NC_COUNT
} nested_t;

static nested_t nested;
static int locks, unlocks, reports_locked, cb_runs;
static bool result_ok;    /* the nested call returned its defined result */
static bool check_in_cb;  /* mpgc_check from a finaliser / scan_roots */
static void *rooted;      /* roots[0]: must survive every collection */
static uint8_t *region2;  /* extra, added as an empty pool */

static void on_lock(void *u) { (void)u; locks++; }
static void on_unlock(void *u) { (void)u; unlocks++; }
static void on_report(mpgc_t *gc, mpgc_bad_t what, const void *p, void *u) {
    (void)gc, (void)p, (void)u;
    reports_locked += what == MPGC_BAD_LOCKED;
}
static void sink(void *ctx, const char *s, size_t n) { (void)ctx, (void)s, (void)n; }
static bool snap_sink(void *ctx, const void *d, size_t n) { (void)ctx, (void)d, (void)n; return true; }

/* Runs the nested call; result_ok records whether it gave its documented
 * result. `where_check`: mpgc_check must hold at this point. */
static void do_nested(mpgc_t *gc, bool where_check) {
    static int slot;
    if (cb_runs++ > 0) return; /* once per collection is enough */
    bool ok = true;
    switch (nested) {
    case NC_NONE: break;
    case NC_START_OR_END:
        if (!mpgc_collect_start(gc)) ok = mpgc_collect_end(gc) == 0;
        else ok = false;
        break;
    case NC_END: ok = mpgc_collect_end(gc) == 0; break;
    case NC_COLLECT: ok = mpgc_collect(gc) == 0; break;
    case NC_SWEEP_ALL: ok = mpgc_sweep_all(gc) == 0; break;
    case NC_FINISH_SWEEP: ok = mpgc_finish_sweep(gc) == 0; break;
    case NC_ALLOC: ok = mpgc_alloc(gc, 16, 0) == NULL; break;
    case NC_FREE: {
        int before = reports_locked;
        mpgc_free(gc, rooted);
        ok = reports_locked == before + 1;
        break;
    }
    case NC_REALLOC: {
        int before = reports_locked;
        ok = mpgc_realloc(gc, rooted, 4 * BLK, true) == NULL && reports_locked == before + 1;
        break;
    }
    case NC_ADD_REGION: ok = !mpgc_add_region(gc, extra + 4096, 4096); break;
    case NC_REMOVE_REGION: ok = !mpgc_remove_region(gc, region2); break;
    case NC_ADD_ROOT: ok = !mpgc_add_root(gc, &slot, sizeof slot); break;
    case NC_REMOVE_ROOT: ok = !mpgc_remove_root(gc, roots); break;
    case NC_SET_FINALISER: ok = !mpgc_set_finaliser(gc, rooted, true); break;
    case NC_LOCK_UNLOCK:
        mpgc_lock(gc);
        ok = mpgc_is_locked(gc);
        mpgc_unlock(gc);
        break;
    case NC_UNLOCK:
        mpgc_unlock(gc); /* must not drop the collection's own lock */
        ok = mpgc_is_locked(gc) && mpgc_alloc(gc, 16, 0) == NULL;
        break;
    case NC_READERS: {
        mpgc_info_t info;
        mpgc_info(gc, &info);
        ok = mpgc_size(gc, rooted) >= 3 * BLK && mpgc_is_locked(gc) &&
             mpgc_mem_alloc(gc) + (size_t)mpgc_mem_free(gc) == info.total;
        mpgc_dump_alloc_table(gc, sink, NULL);
        if (where_check) check_in_cb = mpgc_check(gc);
        else (void)mpgc_check(gc);
        break;
    }
    case NC_SWITCHES:
        mpgc_disable(gc);
        ok = !mpgc_isenabled(gc);
        mpgc_enable(gc);
        mpgc_set_threshold(gc, 1000);
        ok = ok && mpgc_isenabled(gc) && mpgc_threshold(gc) == (MPGC_ENABLE_THRESHOLD ? 1000 : -1);
        mpgc_set_threshold(gc, -1);
        break;
    case NC_SNAPSHOT: {
        bool taken = mpgc_snapshot(gc, snap_sink, NULL);
        ok = MPGC_ENABLE_SNAPSHOT ? taken == mpgc_check(gc) && (!where_check || taken) : !taken;
        ok = ok && mpgc_is_locked(gc);
        break;
    }
    case NC_COUNT: break;
    }
    result_ok = ok;
}

static void cb_finaliser(mpgc_t *gc, void *obj, void *u) { (void)obj, (void)u; do_nested(gc, true); }
static void cb_scan(mpgc_t *gc, void *u) { (void)u; do_nested(gc, true); }
static void cb_progress(mpgc_t *gc, void *u) { (void)u; do_nested(gc, false); }

typedef enum { FROM_FINALISER, FROM_SCAN_ROOTS, FROM_PROGRESS } from_t;

/* One heap, one rooted object (3 blocks, a known pattern), rooted
 * list nodes (work for the progress callback), some garbage (one object
 * finalisable), an empty added pool; then one collection (plain or in
 * three steps) with the nested call made from `from`. */
static void run_case(from_t from, nested_t what, bool three_step) {
    mpgc_config_t cfg = {0};
    cfg.lock = on_lock;
    cfg.unlock = on_unlock;
    cfg.report = on_report;
    if (from == FROM_FINALISER) cfg.finaliser = cb_finaliser;
    if (from == FROM_SCAN_ROOTS) cfg.scan_roots = cb_scan;
    if (from == FROM_PROGRESS) cfg.progress = cb_progress;
    memset(roots, 0, sizeof roots);
    mpgc_t *gc = precise_heap(mem, sizeof mem, &cfg);
    CHECK(gc != NULL);
    mpgc_add_root(gc, roots, sizeof roots);
    rooted = mpgc_alloc(gc, 3 * BLK, 0);
    memset(rooted, 0x5a, 3 * BLK);
    roots[0] = rooted;
    void **list = NULL;
    /* Twice MPGC_PROGRESS_WORDS words to mark: the progress callback runs
     * while marking and again while sweeping. */
    for (int i = 0; i < 2 * MPGC_PROGRESS_WORDS / MPGC_BLOCK_WORDS; i++) {
        void **n = mpgc_alloc(gc, sizeof(void *), 0);
        *n = list;
        list = n;
    }
    roots[1] = list;
    for (int i = 0; i < 10; i++) mpgc_alloc(gc, 2 * BLK, i == 0 ? MPGC_FINALISE : 0);
    size_t used_live = mpgc_mem_alloc(gc) - 10 * 2 * BLK;
    region2 = extra; /* an empty pool: removable, except during a collection */
    bool have_region = mpgc_add_region(gc, extra, 4096);
    nested = what;
    cb_runs = 0;
    result_ok = false;
    check_in_cb = false;
    locks = unlocks = reports_locked = 0;
    if (three_step) {
        CHECK(mpgc_collect_start(gc));
        mpgc_mark_range(gc, &rooted, sizeof rooted);
        mpgc_collect_end(gc);
    } else {
        mpgc_collect(gc);
    }
    bool called = cb_runs > 0;
    /* The callback ran, and its call gave the documented result. */
    CHECK(called);
    if (called && !result_ok)
        printf("   nested call %d from callback %d (three_step %d) gave the wrong result\n", what,
               from, three_step);
    CHECK(!called || result_ok);
    if (what == NC_READERS && from != FROM_PROGRESS) CHECK(check_in_cb);
    /* The heap afterwards: unlocked, balanced hooks, the rooted object
     * intact, the garbage gone (the finalisable object in the safe order
     * survives this collection: it is freed by the next). */
    CHECK(!mpgc_is_locked(gc));
    CHECK_EQ(locks, unlocks);
    CHECK_EQ(mpgc_size(gc, rooted), 3 * BLK);
    CHECK(((uint8_t *)rooted)[0] == 0x5a && ((uint8_t *)rooted)[3 * BLK - 1] == 0x5a);
    CHECK(mpgc_check(gc));
    mpgc_collect(gc);
    CHECK_EQ(mpgc_mem_alloc(gc), used_live);
    CHECK_EQ(mpgc_size(gc, rooted), 3 * BLK);
    /* Nothing was left half-done: the heap still works. */
    CHECK(!have_region || mpgc_remove_region(gc, extra));
    CHECK(mpgc_alloc(gc, 100, 0) != NULL);
    CHECK(mpgc_check(gc));
}

static void test_from_finaliser(void) {
    for (int w = NC_NONE; w < NC_COUNT; w++) {
        run_case(FROM_FINALISER, (nested_t)w, false);
        run_case(FROM_FINALISER, (nested_t)w, true);
    }
}

static void test_from_scan_roots(void) {
    for (int w = NC_NONE; w < NC_COUNT; w++) {
        run_case(FROM_SCAN_ROOTS, (nested_t)w, false);
        run_case(FROM_SCAN_ROOTS, (nested_t)w, true);
    }
}

static void test_from_progress(void) {
    for (int w = NC_NONE; w < NC_COUNT; w++) {
        run_case(FROM_PROGRESS, (nested_t)w, false);
        run_case(FROM_PROGRESS, (nested_t)w, true);
    }
}

/* Between a successful start and its end, the caller's own calls: only
 * mark_range and end act on the collection. A second end does nothing. */
static void test_open_collection(void) {
    mpgc_config_t cfg = {0};
    cfg.lock = on_lock;
    cfg.unlock = on_unlock;
    cfg.report = on_report;
    mpgc_t *gc = precise_heap(mem, sizeof mem, &cfg);
    void *keep = mpgc_alloc(gc, 40, 0);
    mpgc_alloc(gc, 40, 0);
    locks = unlocks = reports_locked = 0;
    CHECK(mpgc_collect_start(gc));
    CHECK(!mpgc_collect_start(gc));
    CHECK_EQ(mpgc_collect(gc), 0);
    CHECK_EQ(mpgc_sweep_all(gc), 0);
    CHECK(mpgc_alloc(gc, 8, 0) == NULL);
    mpgc_free(gc, keep);
    CHECK_EQ(reports_locked, 1);
    CHECK(!mpgc_add_root(gc, &keep, sizeof keep));
    mpgc_mark_range(gc, &keep, sizeof keep);
    CHECK_EQ(mpgc_collect_end(gc), 1);
    CHECK_EQ(mpgc_collect_end(gc), 0);
    CHECK(!mpgc_is_locked(gc));
    CHECK_EQ(locks, unlocks);
    CHECK_EQ(mpgc_size(gc, keep), (40 + BLK - 1) / BLK * BLK);
    CHECK(mpgc_check(gc));
    /* End without any start, and with the user's lock held. */
    CHECK_EQ(mpgc_collect_end(gc), 0);
    mpgc_lock(gc);
    CHECK(!mpgc_collect_start(gc));
    CHECK_EQ(mpgc_collect_end(gc), 0);
    CHECK(mpgc_is_locked(gc));
    mpgc_unlock(gc);
    CHECK(!mpgc_is_locked(gc));
    CHECK_EQ(locks, unlocks);
}

int main(void) {
    if (MPGC_ENABLE_FINALISERS) RUN(test_from_finaliser);
    RUN(test_from_scan_roots);
    if (MPGC_ENABLE_PROGRESS) RUN(test_from_progress);
    RUN(test_open_collection);
    return test_done();
}
