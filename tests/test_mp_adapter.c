/*
 * The MicroPython adapter's parts that need no MicroPython header
 * (integrations/micropython/mpgc/mpgc_mp.c): gc.threshold's rounding to
 * blocks, the K230 tuple order, gc_info's units, and the text of
 * micropython.mem_info() / mem_info(1) that MicroPython's tests match.
 */
#include <stdlib.h>

#include "mpgc_mp.h"
#include "mpgc_mp_trace.h"
#include "test.h"

#define B MPGC_BLOCK_BYTES

static _Alignas(64) unsigned char mem[32 * 1024];

/* ---- gc.threshold ---------------------------------------------------------- */

static void threshold_rounds_to_blocks(void) {
    CHECK_EQ(mpgc_mp_threshold_blocks(32768, B), 32768 / B);
    CHECK_EQ(mpgc_mp_threshold_bytes(mpgc_mp_threshold_blocks(32768, B), B), 32768);
    /* 100 bytes: whole blocks only, read back rounded down */
    CHECK_EQ(mpgc_mp_threshold_blocks(100, B), 100 / B);
    CHECK_EQ(mpgc_mp_threshold_bytes(mpgc_mp_threshold_blocks(100, B), B), 100 / B * B);
    CHECK(mpgc_mp_threshold_bytes(mpgc_mp_threshold_blocks(100, B), B) < 100);
    /* less than a block: 0 (collect before every allocation), not disabled */
    CHECK_EQ(mpgc_mp_threshold_blocks(B - 1, B), 0);
    CHECK_EQ(mpgc_mp_threshold_bytes(0, B), 0);
    CHECK_EQ(mpgc_mp_threshold_blocks(0, B), 0);
    /* any negative amount disables; disabled reads back as -1 */
    CHECK(mpgc_mp_threshold_blocks(-1, B) == MPGC_MP_THRESHOLD_OFF);
    CHECK(mpgc_mp_threshold_blocks(-12345, B) == MPGC_MP_THRESHOLD_OFF);
    CHECK_EQ(mpgc_mp_threshold_bytes(MPGC_MP_THRESHOLD_OFF, B), -1);
}

static void blocks_round_up_like_py_gc(void) {
    CHECK_EQ(mpgc_mp_blocks(0, B), 0);
    CHECK_EQ(mpgc_mp_blocks(1, B), 1);
    CHECK_EQ(mpgc_mp_blocks(B, B), 1);
    CHECK_EQ(mpgc_mp_blocks(B + 1, B), 2);
    CHECK_EQ(mpgc_mp_blocks(10 * B - 1, B), 10);
    /* sizes that wrap when rounded up give 0: gc_alloc returns NULL */
    CHECK_EQ(mpgc_mp_blocks(SIZE_MAX, B), 0);
    CHECK_EQ(mpgc_mp_blocks(SIZE_MAX - B + 2, B), 0);
    CHECK_EQ(mpgc_mp_blocks(SIZE_MAX - B + 1, B), (SIZE_MAX - B + 1) / B);
}

/* ---- gc.sys_* ------------------------------------------------------------------ */

static bool fake_ok(mpgc_sysmem_t *m) {
    m->total = 1000;
    m->free = 300;
    m->used = 700;
    return true;
}
static bool fake_fail(mpgc_sysmem_t *m) {
    m->total = m->free = m->used = 99; /* must not leak into the tuple */
    return false;
}

static void sys_tuple_order_and_failures(void) {
    uint64_t v[3] = {1, 2, 3};
    /* the seed's order: total, free, used */
    CHECK(mpgc_mp_sys_tuple(fake_ok, true, v));
    CHECK_EQ(v[0], 1000);
    CHECK_EQ(v[1], 300);
    CHECK_EQ(v[2], 700);
    /* sys_heap/sys_page: zeros on failure, no error */
    v[0] = v[1] = v[2] = 5;
    CHECK(mpgc_mp_sys_tuple(fake_fail, false, v));
    CHECK(v[0] == 0 && v[1] == 0 && v[2] == 0);
    /* sys_mmz: zeros and "raise OSError" */
    v[0] = v[1] = v[2] = 5;
    CHECK(!mpgc_mp_sys_tuple(fake_fail, true, v));
    CHECK(v[0] == 0 && v[1] == 0 && v[2] == 0);
    CHECK(!mpgc_mp_sys_tuple(NULL, true, v));
    /* the linked port answers sys_mmz without "raise" (issue 14: on
     * sysmem_none.c gc.sys_mmz() raised OSError(EIO)); zeros there */
    v[0] = v[1] = v[2] = 5;
    CHECK(mpgc_mp_sys_tuple(mpgc_sys_mmz, true, v));
    if (!MPGC_TEST_SYSMEM_LINUX) CHECK(v[0] == 0 && v[1] == 0 && v[2] == 0);
    /* the real page query keeps the same order (free + used == total) */
    if (mpgc_mp_sys_tuple(mpgc_sys_page, true, v) && v[0] > 0) {
        CHECK(v[1] <= v[0]);
        CHECK_EQ(v[1] + v[2], v[0]);
    }
}

/* ---- gc_info ------------------------------------------------------------------- */

static void info_units(void) {
    mpgc_t *gc = precise_heap(mem, sizeof mem, NULL);
    CHECK(gc != NULL);
    void *a = mpgc_alloc(gc, 1, 0);          /* 1 block */
    void *b = mpgc_alloc(gc, B + 1, 0);      /* 2 blocks */
    void *c = mpgc_alloc(gc, 5 * B, 0);      /* 5 blocks */
    CHECK(a && b && c);
    mpgc_mp_info_t full, fast;
    mpgc_mp_info(gc, false, &full);
    mpgc_mp_info(gc, true, &fast);
    mpgc_info_t raw;
    mpgc_info(gc, &raw);
    CHECK_EQ(full.used, 8 * B);
    CHECK_EQ(full.total, raw.total);
    CHECK_EQ(full.used + full.free, full.total);
    CHECK_EQ(full.max_free, raw.max_free / B); /* blocks, as py/gc.c */
    CHECK(full.max_free > 0);
    CHECK_EQ(full.num_1block, STAT(1));
    CHECK_EQ(full.num_2block, STAT(1));
    CHECK_EQ(full.max_block, STAT(5));
    /* fast: the same total/used/free, the rest 0 */
    CHECK_EQ(fast.total, full.total);
    CHECK_EQ(fast.used, full.used);
    CHECK_EQ(fast.free, full.free);
    CHECK(fast.max_free == 0 && fast.num_1block == 0 && fast.num_2block == 0 && fast.max_block == 0);
    mpgc_mp_info(NULL, false, &full);
    CHECK(full.total == 0 && full.used == 0 && full.free == 0);
}

/* ---- idle-time collection: when a cycle is worth opening -------------------- */

static void idle_worth_needs_used_memory_and_time(void) {
    const size_t after = 1000000; /* free after the last collection */
    const size_t half = after / 100 * MPGC_MP_IDLE_PERCENT;
    /* nothing, or less than the share, used since: not worth it */
    CHECK(!mpgc_mp_idle_worth(after, after, UINT32_MAX, 0));
    CHECK(!mpgc_mp_idle_worth(after - half + 1, after, UINT32_MAX, 0));
    /* the share used: worth it with time to spare */
    CHECK(mpgc_mp_idle_worth(after - half, after, UINT32_MAX, 0));
    CHECK(mpgc_mp_idle_worth(0, after, 10000, 0));
    /* more free than after the collection (frees since): not worth it */
    CHECK(!mpgc_mp_idle_worth(after + 5, after, UINT32_MAX, 0));
    /* a heap that was full after its collection: any use counts */
    CHECK(!mpgc_mp_idle_worth(0, 0, UINT32_MAX, 0));
    CHECK(mpgc_mp_idle_worth(10, 40, UINT32_MAX, 0));
    CHECK(!mpgc_mp_idle_worth(40, 40, UINT32_MAX, 0));
    /* the budget: at least MPGC_MP_IDLE_MIN_US, and need + need / 4 */
    CHECK(!mpgc_mp_idle_worth(0, after, MPGC_MP_IDLE_MIN_US - 1, 0));
    CHECK(mpgc_mp_idle_worth(0, after, MPGC_MP_IDLE_MIN_US, 0));
    CHECK(!mpgc_mp_idle_worth(0, after, 4999, 4000));
    CHECK(mpgc_mp_idle_worth(0, after, 5000, 4000));
    /* no overflow with the largest expectation: only "no limit" holds it */
    CHECK(!mpgc_mp_idle_worth(0, after, UINT32_MAX - 1, UINT32_MAX));
    CHECK(mpgc_mp_idle_worth(0, after, UINT32_MAX, UINT32_MAX / 5 * 4));
}

static void idle_need_follows_collections(void) {
    /* a collection done: its time, then the smaller of the two */
    CHECK_EQ(mpgc_mp_idle_need(0, 4000, true), 4000);
    CHECK_EQ(mpgc_mp_idle_need(4000, 2000, true), 2000);
    CHECK_EQ(mpgc_mp_idle_need(2000, 9000, true), 2000);
    /* one run slowed down by the OS changes nothing */
    CHECK_EQ(mpgc_mp_idle_need(2500, 42000, true), 2500);
    uint32_t need;
    /* abandoned: at least what was spent, never less than before */
    CHECK_EQ(mpgc_mp_idle_need(0, 4000, false), 4000);
    CHECK_EQ(mpgc_mp_idle_need(9000, 4000, false), 9000);
    CHECK_EQ(mpgc_mp_idle_need(3000, 4000, false), 4000);
    /* and the next collection done brings it down again */
    CHECK_EQ(mpgc_mp_idle_need(mpgc_mp_idle_need(2500, 7000, false), 2600, true), 2600);
    /* a cycle that needs 12 ms, tried in idle times of up to 9 ms: each
     * abandon (after all but the last slice's worth of the budget) asks
     * for 1.25x more, so within a few tries no such idle time opens one */
    need = 0;
    int tries = 0;
    for (uint32_t budget = 2000; tries < 100; budget = budget % 9000 + 1000) {
        if (!mpgc_mp_idle_worth(0, 1000000, budget, need)) continue;
        need = mpgc_mp_idle_need(need, budget - 200, false);
        tries++;
        if (need + need / 4 > 9000) break;
    }
    CHECK(tries > 1 && tries < 10);
    CHECK(!mpgc_mp_idle_worth(0, 1000000, 9000, need));
    CHECK(mpgc_mp_idle_worth(0, 1000000, UINT32_MAX, need)); /* "no limit" still does */
}

/* ---- micropython.mem_info() ----------------------------------------------------- */

static void info_text_matches_py_gc(void) {
    mpgc_mp_info_t i = {.total = 2063136, .used = 1088, .free = 2062048, .max_free = 64429,
                        .num_1block = 13, .num_2block = 4, .max_block = 9};
    char buf[200];
    const char *want = "GC: total: 2063136, used: 1088, free: 2062048\n"
                       " No. of 1-blocks: 13, 2-blocks: 4, max blk sz: 9, max free sz: 64429\n";
    size_t n = mpgc_mp_info_text(buf, sizeof buf, &i);
    CHECK_EQ(n, strlen(want));
    CHECK(strcmp(buf, want) == 0);
    /* zeros print as 0 */
    mpgc_mp_info_t z = {0};
    mpgc_mp_info_text(buf, sizeof buf, &z);
    CHECK(strcmp(buf, "GC: total: 0, used: 0, free: 0\n"
                      " No. of 1-blocks: 0, 2-blocks: 0, max blk sz: 0, max free sz: 0\n") == 0);
    /* too small a buffer: truncated, terminated, and the length needed */
    char small[10];
    memset(small, 'x', sizeof small);
    CHECK_EQ(mpgc_mp_info_text(small, sizeof small, &i), strlen(want));
    CHECK(strcmp(small, "GC: total") == 0);
    CHECK_EQ(mpgc_mp_info_text(NULL, 0, &i), strlen(want));
    /* MICROPY_GC_SPLIT_HEAP_AUTO adds the room the system has left */
    i.split_auto = true;
    i.max_new_split = 123456;
    mpgc_mp_info_text(buf, sizeof buf, &i);
    CHECK(strcmp(buf, "GC: total: 2063136, used: 1088, free: 2062048, max new split: 123456\n"
                      " No. of 1-blocks: 13, 2-blocks: 4, max blk sz: 9, max free sz: 64429\n") == 0);
}

/* ---- MICROPY_GC_SPLIT_HEAP_AUTO: the size of a new area ---------------------------- */

static void area_bytes_policy(void) {
    const size_t hdr = 64;
    size_t need = hdr + mpgc_region_bytes(1000);
    /* The heap doubles: a new area as large as the heap so far. */
    CHECK_EQ(mpgc_mp_area_bytes(1000, 65536, 1u << 20, hdr), 65536);
    /* A failed allocation larger than the heap: exactly enough for it. */
    CHECK_EQ(mpgc_mp_area_bytes(1000, 256, 1u << 20, hdr), need);
    /* Never more than the system has... */
    CHECK_EQ(mpgc_mp_area_bytes(1000, 65536, need + 10, hdr), need + 10);
    CHECK_EQ(mpgc_mp_area_bytes(1000, 65536, need, hdr), need);
    /* ...and nothing when the allocation cannot fit in what it has. */
    CHECK_EQ(mpgc_mp_area_bytes(1000, 65536, need - 1, hdr), 0);
    CHECK_EQ(mpgc_mp_area_bytes(1000, 65536, 0, hdr), 0);
    /* Sizes that overflow. */
    CHECK_EQ(mpgc_mp_area_bytes(SIZE_MAX, 0, SIZE_MAX, hdr), 0);
    CHECK_EQ(mpgc_mp_area_bytes(SIZE_MAX - 4096, 0, SIZE_MAX, hdr), 0);
    CHECK_EQ(mpgc_mp_area_bytes(1000, 0, SIZE_MAX, SIZE_MAX - 16), 0);
    /* An area of that size really holds the allocation after the header. */
    static _Alignas(16) unsigned char heapmem[4096], area[4096];
    size_t bytes = mpgc_mp_area_bytes(1000, 0, sizeof area, hdr);
    CHECK(bytes > 0 && bytes <= sizeof area);
    for (size_t off = 0; off < 8; off++) {
        mpgc_config_t cfg = {0};
        cfg.no_stack_scan = true;
        mpgc_t *gc = mpgc_init(heapmem, sizeof heapmem, &cfg);
        mpgc_disable(gc);
        while (mpgc_alloc(gc, 16, 0)) {}
        if (!MPGC_ENABLE_SPLIT_HEAP) break;
        CHECK(mpgc_add_region(gc, area + off + hdr, bytes - hdr - off));
        /* (off eats into the slack the size allows for alignment) */
        unsigned char *p = mpgc_alloc(gc, 1000, 0);
        CHECK(p != NULL && p >= area && p < area + sizeof area);
    }
}

/* ---- micropython.mem_info(1) ----------------------------------------------------- */

typedef struct {
    char text[8192];
    size_t len;
} sink_t;

static void sink(void *ctx, const char *s, size_t n) {
    sink_t *k = (sink_t *)ctx;
    if (k->len + n < sizeof k->text) {
        memcpy(k->text + k->len, s, n);
        k->len += n;
        k->text[k->len] = '\0';
    }
}

static const uintptr_t TUPLE_TYPE = 0x7001;

static char classify(void *ctx, const void *head) {
    (void)ctx;
    return *(const uintptr_t *)head == TUPLE_TYPE ? 'T' : 'h';
}

/* Feeds the engine's dump to the transformer in pieces of at most `piece`
 * characters (the transformer must not depend on how the text is cut). */
static sink_t raw_dump;
static void collect_raw(void *ctx, const char *s, size_t n) { sink(ctx, s, n); }

static void dump_via(const mpgc_t *gc, size_t piece, sink_t *out) {
    raw_dump.len = 0;
    raw_dump.text[0] = '\0';
    mpgc_dump_alloc_table(gc, collect_raw, &raw_dump);
    memset(out, 0, sizeof *out);
    mpgc_mp_dump_t d;
    mpgc_mp_dump_begin(&d, sink, out, classify, B);
    for (size_t i = 0; i < raw_dump.len; i += piece) {
        size_t n = raw_dump.len - i < piece ? raw_dump.len - i : piece;
        mpgc_mp_dump_write(&d, raw_dump.text + i, n);
    }
    mpgc_mp_dump_finish(&d);
}

static void dump_matches_py_gc(void) {
    mpgc_t *gc = precise_heap(mem, sizeof mem, NULL);
    uintptr_t *t = mpgc_alloc(gc, 3 * sizeof(void *), 0); /* a "tuple": 1 block */
    uintptr_t *l = mpgc_alloc(gc, 2 * B, 0);              /* other: 2 blocks */
    uintptr_t *f = mpgc_alloc(gc, B, MPGC_FINALISE);      /* finaliser head */
    CHECK(t && l && f);
    t[0] = TUPLE_TYPE;
    sink_t out;
    dump_via(gc, 1000, &out);
    const char *s = out.text;
    if (!MPGC_ENABLE_STATS) { /* the engine prints no map */
        CHECK_EQ(out.len, 0);
        return;
    }

    /* "GC memory layout; from <hex>:" with no 0x and no leading zeros */
    const char *pre = "GC memory layout; from ";
    CHECK(strncmp(s, pre, strlen(pre)) == 0);
    const char *hex = s + strlen(pre);
    CHECK(hex[0] != '0' && hex[0] != 'x');
    char *end;
    uintptr_t base = (uintptr_t)strtoull(hex, &end, 16);
    CHECK(end > hex && *end == ':');
    CHECK(strstr(s, "0x") == NULL);

    /* the first line of blocks: "\n00000000: " then one letter per block */
    const char *line = strstr(s, "\n00000000: ");
    CHECK(line != NULL);
    if (line && base) {
        const char *cells = line + 11;
        size_t ti = ((uintptr_t)t - base) / B, li = ((uintptr_t)l - base) / B,
               fi = ((uintptr_t)f - base) / B;
        CHECK(ti < 64 && li + 1 < 64 && fi < 64);
        CHECK_EQ(cells[ti], 'T');     /* classified head */
        CHECK_EQ(cells[li], 'h');     /* unknown type: 'h' */
        CHECK_EQ(cells[li + 1], '='); /* tail */
        CHECK_EQ(cells[fi], 'h');     /* finaliser heads are classified too */
        size_t hi = ti > li + 1 ? ti : li + 1;
        hi = hi > fi ? hi : fi;
        CHECK_EQ(cells[hi + 1], '.'); /* free */
    }
    /* long free stretches are summarised as py/gc.c does, text ends with \n */
    CHECK(strstr(s, "\n       (") != NULL && strstr(s, " lines all free)") != NULL);
    CHECK(out.len > 0 && s[out.len - 1] == '\n');

    /* the same text whatever the pieces the engine writes */
    sink_t one;
    dump_via(gc, 1, &one);
    CHECK(one.len == out.len && strcmp(one.text, out.text) == 0);
    sink_t seven;
    dump_via(gc, 7, &seven);
    CHECK(strcmp(seven.text, out.text) == 0);
}

/* Text that is not an engine line (or longer than one) passes unchanged. */
static void dump_passes_other_text(void) {
    sink_t out;
    memset(&out, 0, sizeof out);
    mpgc_mp_dump_t d;
    mpgc_mp_dump_begin(&d, sink, &out, classify, B);
    char longline[300];
    memset(longline, 'h', sizeof longline);
    mpgc_mp_dump_write(&d, "hello\n", 6);
    mpgc_mp_dump_write(&d, longline, sizeof longline);
    mpgc_mp_dump_write(&d, "\n", 1);
    mpgc_mp_dump_finish(&d);
    CHECK_EQ(out.len, 6 + sizeof longline + 1);
    CHECK(strncmp(out.text, "hello\n", 6) == 0);
    size_t hs = 0;
    for (size_t i = 6; i < 6 + sizeof longline; i++) hs += out.text[i] == 'h';
    CHECK_EQ(hs, sizeof longline);
}

/* ---- MPGC_MP_TRACE: the recorder ------------------------------------------------ */

/* The adapter's recorder, as gc_init sets it up: the area starts anywhere
 * (here half a block past a block boundary), the bitmap is taken from its
 * end, names are block numbers from the area's first block boundary; a
 * collection reports exactly the recorded objects it freed, then `c`. */
static void trace_records_ops_and_deaths(void) {
    static _Alignas(64) unsigned char tmem[16 * 1024];
    static sink_t tr;
    tr.len = 0;
    unsigned char *start = tmem + B / 2, *end = tmem + sizeof tmem;
    size_t bm = mpgc_mp_trace_bitmap_bytes((size_t)(end - start), B);
    CHECK(bm % B == 0 && bm * 8 >= (size_t)(end - start) / B + 1);
    end -= bm;
    mpgc_t *gc = precise_heap(start, (size_t)(end - start), NULL);
    CHECK(gc != NULL);
    mpgc_mp_trace_t t;
    mpgc_mp_trace_begin(&t, sink, &tr, start, end, bm, B, "heap=123");
    static void *roots[4];
    mpgc_add_root(gc, roots, sizeof roots);
    uintptr_t base = (uintptr_t)start & ~(uintptr_t)(B - 1);
    void *a = mpgc_alloc(gc, 10, 0), *b = mpgc_alloc(gc, 3 * B, 0), *c = mpgc_alloc(gc, 1, 0);
    CHECK(a && b && c);
    roots[0] = a;
    roots[1] = c;
    mpgc_mp_trace_alloc(&t, a, 10, 0);
    mpgc_mp_trace_alloc(&t, b, 3 * B, MPGC_FINALISE);
    mpgc_mp_trace_alloc(&t, c, 1, MPGC_NO_SCAN);
    unsigned long ka = (unsigned long)(((uintptr_t)a - base) / B);
    unsigned long kb = (unsigned long)(((uintptr_t)b - base) / B);
    unsigned long kc = (unsigned long)(((uintptr_t)c - base) / B);
    mpgc_collect(gc); /* frees b only */
    mpgc_mp_trace_collected(&t, gc, true);
    void *a2 = mpgc_realloc(gc, a, 40 * B, true); /* cannot grow in place: c follows */
    CHECK(a2 != NULL && a2 != a);
    roots[0] = a2;
    mpgc_mp_trace_realloc(&t, a, a2, 40 * B);
    unsigned long ka2 = (unsigned long)(((uintptr_t)a2 - base) / B);
    mpgc_mp_trace_free(&t, c);
    mpgc_free(gc, c);
    roots[1] = NULL;
    mpgc_mp_trace_free(&t, c); /* twice: not an object any more, no line */
    roots[0] = NULL;
    mpgc_collect(gc);
    mpgc_mp_trace_collected(&t, gc, false);
    mpgc_mp_trace_threshold(&t, -5);
    mpgc_mp_trace_enable(&t, false);
    char want[512];
    snprintf(want, sizeof want,
             "mpgc-trace 1 source=micropython block=%u word=%u heap=123\n"
             "a %lu 10\na %lu %u f\na %lu 1 n\nd %lu\nc a\nr %lu %u %lu\nf %lu\nd %lu\nc\nt -1\ne 0\n",
             (unsigned)B, (unsigned)sizeof(void *), ka, kb, 3 * (unsigned)B, kc, kb, ka,
             40 * (unsigned)B, ka2, kc, ka2);
    CHECK(strcmp(tr.text, want) == 0);
    if (strcmp(tr.text, want) != 0) printf("got:\n%s\nwant:\n%s\n", tr.text, want);
    /* Not recording: nothing is written. */
    mpgc_mp_trace_t off;
    memset(&off, 0, sizeof off);
    mpgc_mp_trace_alloc(&off, a2, 1, 0);
    mpgc_mp_trace_collected(&off, gc, false);
    CHECK(off.len == 0);
}

int main(void) {
    RUN(threshold_rounds_to_blocks);
    RUN(blocks_round_up_like_py_gc);
    RUN(sys_tuple_order_and_failures);
    RUN(info_units);
    RUN(info_text_matches_py_gc);
    RUN(idle_worth_needs_used_memory_and_time);
    RUN(idle_need_follows_collections);
    RUN(area_bytes_policy);
    RUN(dump_matches_py_gc);
    RUN(dump_passes_other_text);
    RUN(trace_records_ops_and_deaths);
    return test_done();
}
