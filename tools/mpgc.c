/*
 * mpgc - the command-line program.
 *
 *   mpgc [demo] [--report FILE]
 *                        seed 002's gc walkthrough, then seed 004's
 *                        fragmentation story, on a static 8 KiB heap;
 *                        --report: the story's report (HTML) too
 *   mpgc report [options] INPUT...
 *                        one HTML page of heap maps (snapshots), free space
 *                        and collections over time (a trace, replayed);
 *                        docs/report.md
 *   mpgc map [bytes] [--snapshot FILE [--marks]]
 *                        heap map of a small churned heap of that size;
 *                        --snapshot: also its snapshot, for `mpgc report`
 *                        (--marks: taken inside a collection, after some
 *                        garbage was made: marked and unmarked heads)
 *   mpgc replay [options] FILE [heap-bytes]
 *                        replays an allocation trace (format and options:
 *                        docs/fragmentation.md) at one heap size, or at
 *                        every size of a range (--sweep), under a placement
 *                        policy (--policy), and prints the measures
 *   mpgc record seed004 FILE [iterations]
 *                        records seed 004's loop, written in C against the
 *                        API, through the trace recorder (tools/mpgc_trace.h)
 *   mpgc policies        the policy names replay accepts
 *
 * Every figure printed comes from the engine; nothing is canned. The demo's
 * "interpreter" is a table of object references registered as a root, the
 * way a VM's globals are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpgc.h"
#include "mpgc_replay.h"
#include "mpgc_report.h"
#include "mpgc_trace.h"

#define MAX_OBJS 4096

static _Alignas(64) unsigned char heap8k[8 * 1024];
static void *refs[MAX_OBJS]; /* the program's references: a root range */

static void out(void *ctx, const char *s, size_t n) { fwrite(s, 1, n, (FILE *)ctx); }

/* Seed 004's story is driven as MicroPython's adapter drives mpgc: the
 * heap's own collections off, and an allocation that fails collects and
 * tries once more (the collections mpgc would make itself, at the same
 * moments), so that each one is timed and counted for the report. */
static report_timeline_t story;
static bool story_on;
static size_t story_allocs; /* the story's time: allocations so far */

static mpgc_t *new_heap_cfg(void *mem, size_t size, bool caller_collects) {
    mpgc_config_t cfg = {0};
    cfg.no_stack_scan = true; /* every reference lives in refs[] */
    cfg.caller_collects = caller_collects;
    mpgc_t *gc = mpgc_init(mem, size, &cfg);
    if (!gc) {
        fprintf(stderr, "mpgc: %zu bytes is too small for a heap\n", size);
        exit(2);
    }
    memset(refs, 0, sizeof refs);
    mpgc_add_root(gc, refs, sizeof refs);
    if (caller_collects) mpgc_disable(gc);
    return gc;
}

static mpgc_t *new_heap(void *mem, size_t size) { return new_heap_cfg(mem, size, false); }

static void *heap_alloc(mpgc_t *gc, size_t n, unsigned flags) {
    void *p = mpgc_alloc(gc, n, flags);
    if (!story_on) return p;
    if (!p) {
        report_collect(&story, gc, story_allocs, 0);
        p = mpgc_alloc(gc, n, flags);
    }
    mpgc_info_t i;
    mpgc_info(gc, &i);
    report_point(&story, ++story_allocs, &i);
    return p;
}

/* A bytearray as MicroPython builds one: a small object (type, length,
 * pointer) and a no-scan buffer with the bytes. The object is held in a
 * root slot while the buffer is allocated, since that allocation may
 * collect (the C stack is not scanned in this program). */
static void *bytearray(mpgc_t *gc, size_t n) {
    void **obj = heap_alloc(gc, 3 * sizeof(void *), 0);
    if (!obj) return NULL;
    refs[MAX_OBJS - 1] = obj;
    obj[1] = (void *)n;
    obj[2] = heap_alloc(gc, n, MPGC_NO_SCAN);
    refs[MAX_OBJS - 1] = NULL;
    return obj[2] ? obj : NULL;
}

static void repl(const char *line) { printf(">>> %s\n", line); }

static void demo_walkthrough(void) {
    printf("== seed 002: the gc module on a static %zu-byte heap (%u-byte blocks) ==\n",
           sizeof heap8k, (unsigned)MPGC_BLOCK_BYTES);
    mpgc_t *gc = new_heap(heap8k, sizeof heap8k);
    /* What a freshly started interpreter already holds: a globals table
     * and a few small objects. */
    refs[0] = mpgc_alloc(gc, 16 * sizeof(void *), 0);
    for (int i = 1; i < 6; i++) refs[i] = mpgc_alloc(gc, 2 * sizeof(void *), 0);
    repl("import gc");
    repl("gc.mem_free()");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("foo = bytearray(1000)");
    refs[10] = bytearray(gc, 1000);
    repl("gc.mem_free()  # less memory available");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()  # more memory used");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("del foo");
    refs[10] = NULL;
    repl("gc.mem_free()  # collection hasn't run yet");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()  # that memory is still allocated");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("gc.collect()");
    size_t freed = mpgc_collect(gc);
    printf("# (%zu objects freed)\n", freed);
    repl("gc.mem_free()  # now we have reclaimed that memory");
    printf("%td\n", mpgc_mem_free(gc));
    repl("gc.mem_alloc()  # that memory is no longer allocated");
    printf("%zu\n", mpgc_mem_alloc(gc));
    repl("gc.threshold(), gc.isenabled()");
    printf("(%td, %s)\n", mpgc_threshold(gc), mpgc_isenabled(gc) ? "True" : "False");
    mpgc_sysmem_t m;
    repl("gc.sys_total(), gc.sys_page()  # K230 extensions");
    if (mpgc_sys_page(&m))
        printf("(%llu, (%llu, %llu, %llu))\n", (unsigned long long)mpgc_sys_total(),
               (unsigned long long)m.total, (unsigned long long)m.free,
               (unsigned long long)m.used);
    else
        printf("# not available on this platform\n");
}

static void print_info(mpgc_t *gc) {
    mpgc_info_t i;
    mpgc_info(gc, &i);
    printf("GC: total: %zu, used: %zu, free: %zu, max free run: %zu (fragmentation %.0f%%)\n",
           i.total, i.used, i.free, i.max_free,
           i.free ? 100.0 * (1.0 - (double)i.max_free / (double)i.free) : 0.0);
}

/* Seed 004: a long-running loop keeps allocating differently sized buffers
 * with different lifetimes; later a big buffer is needed. */
/* The story's heap at its two key moments, for the report. */
static snap_t snap_failed, snap_first;
static bool have_failed, have_first;

static void demo_fragmentation(void) {
    printf("\n== seed 004: fragmentation on the same %zu-byte heap ==\n", sizeof heap8k);
    mpgc_t *gc = new_heap_cfg(heap8k, sizeof heap8k, true);
    story_on = true;
    story.unit = "allocation";
    size_t big = 2048;
    printf("# a loop keeps small readings (kept) between temporary buffers (dropped)\n");
    unsigned x = 1;
    for (int i = 0; i < 40; i++) {
        x = x * 1103515245u + 12345u;
        refs[20 + i] = heap_alloc(gc, 24 + (x >> 16) % 40, 0); /* kept */
        (void)bytearray(gc, 100 + (x >> 8) % 60);               /* temporary */
    }
    report_collect(&story, gc, story_allocs, 0);
    print_info(gc);
    printf(">>> buf = bytearray(%zu)\n", big);
    void *buf = bytearray(gc, big);
    story_on = false;
    if (!buf) {
        mpgc_info_t i;
        mpgc_info(gc, &i);
        story.fail_t = story_allocs;
        story.fail_request = big;
        story.fail_free = i.free;
        story.fail_max_free = i.max_free;
        have_failed = report_snapshot(gc, &snap_failed);
        printf("MemoryError: memory allocation failed, allocating %zu bytes\n", big);
        printf("# %zu bytes are free in total, but the largest free run is %zu bytes:\n",
               i.free, i.max_free);
        mpgc_dump_alloc_table(gc, out, stdout);
    }
    printf("\n# the same program with the long-lived buffer allocated first:\n");
    gc = new_heap(heap8k, sizeof heap8k);
    refs[1] = bytearray(gc, big);
    x = 1;
    for (int i = 0; i < 40; i++) {
        x = x * 1103515245u + 12345u;
        refs[20 + i] = mpgc_alloc(gc, 24 + (x >> 16) % 40, 0);
        (void)bytearray(gc, 100 + (x >> 8) % 60);
    }
    mpgc_collect(gc);
    print_info(gc);
    printf(">>> buf  # pre-allocated: %s\n", refs[1] ? "still there, no MemoryError" : "lost");
    mpgc_dump_alloc_table(gc, out, stdout);
    have_first = report_snapshot(gc, &snap_first);
    if (!mpgc_check(gc)) {
        fprintf(stderr, "mpgc: heap check failed\n");
        exit(1);
    }
}

static bool to_file(void *ctx, const void *data, size_t n) {
    return fwrite(data, 1, n, (FILE *)ctx) == n;
}

static int cmd_map(size_t size, const char *snap_path, bool marks) {
    void *mem = malloc(size);
    if (!mem) return 2;
    mpgc_t *gc = new_heap(mem, size);
    unsigned x = 7;
    for (size_t i = 0; i < MAX_OBJS; i++) {
        x = x * 1103515245u + 12345u;
        void *p = mpgc_alloc(gc, 8 + (x >> 16) % 200, (x & 1) ? MPGC_NO_SCAN : 0);
        if (!p) break;
        if ((x >> 8) % 3 == 0) refs[i] = p;
    }
    mpgc_collect(gc);
    print_info(gc);
    mpgc_dump_alloc_table(gc, out, stdout);
    int rc = 0;
    if (snap_path) { /* the same heap as a snapshot, for `mpgc report` */
        FILE *f = fopen(snap_path, "wb");
        bool started = false;
        if (marks) { /* some garbage, then the marks of the next collection */
            for (int i = 0; i < 64; i++) (void)mpgc_alloc(gc, 8 + 40 * (size_t)(i % 5), 0);
            started = mpgc_collect_start(gc);
        }
        bool ok = f && mpgc_snapshot(gc, to_file, f) && (!marks || started);
        if (started) mpgc_collect_end(gc);
        if (f) ok = fclose(f) == 0 && ok;
        if (!ok) {
            fprintf(stderr, "mpgc map: cannot write a snapshot to %s\n", snap_path);
            rc = 1;
        }
    }
    free(mem);
    return rc;
}

/* ---- replay ------------------------------------------------------------ */

/* "65536", "64K", "1M", "1.5M" -> bytes; 0 on a syntax error. */
static size_t parse_size(const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return 0;
    if (*end == 'k' || *end == 'K') v *= 1024, end++;
    else if (*end == 'm' || *end == 'M') v *= 1024 * 1024, end++;
    return *end ? 0 : (size_t)v;
}

static void print_size(size_t n) {
    if (n % 1024 == 0) printf("%zuK", n / 1024);
    else printf("%zu", n);
}

static int replay_usage(void) {
    fprintf(stderr,
            "usage: mpgc replay [options] FILE|- [heap-bytes]\n"
            "  --heap N          heap size (bytes, or with K/M): default 64K\n"
            "  --policy NAME     placement (mpgc policies lists them): default fit\n"
            "  --sweep LO:HI:STEP | --sweep auto\n"
            "                    replay at every size from LO to HI; auto: from the\n"
            "                    trace's peak live bytes to 8x it, in 1/32 steps\n"
            "  --ref N           sweep: heap size for the collection and free-run\n"
            "                    figures (default: twice the peak live bytes)\n"
            "  --recorded-collections  also collect where the recording's heap did\n"
            "  --check           run mpgc_check after every collection\n"
            "  --timeline        one heap size: the free space after every collection\n"
            "  --kv              one key=value summary line (for scripts)\n"
            "  -v                print each size of a sweep, and i/m/failure lines\n");
    return 2;
}

static void print_result(size_t heap, const replay_trace_t *t, const replay_result_t *r) {
    print_size(heap);
    if (r->too_small) {
        printf(": too small for a heap\n");
        return;
    }
    if (r->ok)
        printf(": ok");
    else
        printf(": FAILS at line %lu (%zu bytes; %zu free, largest run %zu)",
               (unsigned long)t->ops[r->fail_op].line, r->fail_bytes, r->fail_free,
               r->fail_max_free);
    printf(", %zu collections", r->collections);
    if (r->samples)
        printf(", largest free run / free: mean %.2f, min %.2f", r->run_sum / (double)r->samples,
               r->run_min);
    printf(", peak used %zu%s\n", r->peak_used, r->check_ok ? "" : ", HEAP CHECK FAILED");
}

/* The smallest heap (to 64 bytes) whose usable bytes hold `live`: what the
 * floor costs once mpgc's control block and tables are added. */
static size_t floor_heap(size_t live) {
    size_t lo = live, hi = 2 * live + 65536;
    void *mem = malloc(hi);
    if (!mem) return 0;
    while (hi - lo > 64) {
        size_t mid = (lo + hi) / 2;
        mpgc_t *gc = mpgc_init(mem, mid, NULL);
        mpgc_info_t i;
        if (gc) mpgc_info(gc, &i);
        if (gc && i.total >= live) hi = mid;
        else lo = mid;
    }
    free(mem);
    return hi;
}

static int cmd_replay(int argc, char **argv) {
    const char *path = NULL;
    size_t heap = 65536, ref = 0, lo = 0, hi = 0, step = 0;
    bool sweep = false, sweep_auto = false, kv = false;
    const replay_policy_t *pol = &replay_policies[0];
    replay_opts_t o = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--heap") == 0 && v) heap = parse_size(argv[++i]);
        else if (strcmp(a, "--policy") == 0 && v) {
            pol = replay_policy_named(argv[++i]);
            if (!pol) {
                fprintf(stderr, "mpgc replay: no policy named %s (mpgc policies)\n", v);
                return 2;
            }
        } else if (strcmp(a, "--sweep") == 0 && v) {
            sweep = true;
            i++;
            if (strcmp(v, "auto") == 0) sweep_auto = true;
            else {
                char b[3][32];
                if (sscanf(v, "%31[^:]:%31[^:]:%31s", b[0], b[1], b[2]) != 3) return replay_usage();
                lo = parse_size(b[0]), hi = parse_size(b[1]), step = parse_size(b[2]);
                if (!lo || hi < lo || !step) return replay_usage();
            }
        } else if (strcmp(a, "--ref") == 0 && v) ref = parse_size(argv[++i]);
        else if (strcmp(a, "--recorded-collections") == 0) o.recorded_collections = true;
        else if (strcmp(a, "--check") == 0) o.check = true;
        else if (strcmp(a, "--timeline") == 0) o.timeline = true;
        else if (strcmp(a, "--kv") == 0) kv = true;
        else if (strcmp(a, "-v") == 0) o.verbose = true;
        else if (a[0] == '-' && a[1] != '\0') return replay_usage();
        else if (!path) path = a;
        else heap = parse_size(a);
    }
    if (!path || !heap) return replay_usage();
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        perror(path);
        return 2;
    }
    replay_trace_t t;
    bool loaded = replay_load(&t, f, path);
    if (f != stdin) fclose(f);
    if (!loaded) return 2;
    if (!kv)
        printf("trace %s (source %s): %zu operations, %zu allocations, %zu reallocs, %zu frees, "
               "%zu deaths, %zu explicit collections (%zu by the recording's heap); "
               "peak live %zu bytes in %zu objects\n",
               path, t.source, t.nops, t.allocs, t.reallocs, t.frees, t.deaths, t.collects,
               t.auto_collects, t.peak_live, t.peak_objects);
    if (t.warnings) fprintf(stderr, "%s: %lu lines name an unknown object or reuse a live name (taken as its death)\n", path, t.warnings);

    if (!sweep) {
        replay_result_t r;
        replay_run(&t, heap, pol->policy, &o, &r);
        if (kv) {
            printf("trace=%s source=%s policy=%s heap=%zu ok=%d collections=%zu", path, t.source,
                   pol->name, heap, r.ok, r.collections);
            if (r.samples)
                printf(" run_mean=%.3f run_min=%.3f", r.run_sum / (double)r.samples, r.run_min);
            else
                printf(" run_mean=- run_min=-");
            printf(" check=%s\n", r.check_ok ? "ok" : "FAILED");
            replay_free(&t);
            return r.check_ok && !r.too_small ? 0 : 1;
        }
        printf("policy %s, heap ", pol->name);
        print_result(heap, &t, &r);
        printf("%zu operations, %d failed allocations\nheap check: %s\n", t.nops, r.ok ? 0 : 1,
               r.check_ok ? "ok" : "FAILED");
        replay_free(&t);
        return r.check_ok && !r.too_small ? 0 : 1;
    }

    size_t floor_b = t.peak_live ? t.peak_live : MPGC_BLOCK_BYTES;
    if (sweep_auto) {
        step = (floor_b / 32 + 255) / 256 * 256;
        lo = (floor_b + step - 1) / step * step;
        hi = 8 * lo;
    }
    if (!ref) ref = (2 * floor_b + 1023) / 1024 * 1024;
    size_t n = (hi - lo) / step + 1;
    bool *oks = calloc(n, sizeof *oks);
    if (!oks) return 2;
    bool check_ok = true;
    for (size_t k = 0; k < n; k++) {
        replay_result_t r;
        size_t h = lo + k * step;
        oks[k] = replay_run(&t, h, pol->policy, &o, &r);
        if (!r.check_ok) check_ok = false;
        if (o.verbose) print_result(h, &t, &r);
    }
    replay_result_t rr;
    replay_run(&t, ref, pol->policy, &o, &rr);
    if (!rr.check_ok) check_ok = false;
    /* stable: the smallest tested size from which every larger one survives */
    size_t stable_k = n;
    while (stable_k > 0 && oks[stable_k - 1]) stable_k--;
    size_t first_ok = n;
    for (size_t k = 0; k < n; k++)
        if (oks[k]) { first_ok = k; break; }
    if (kv) {
        printf("trace=%s source=%s policy=%s ops=%zu allocs=%zu floor=%zu floor_heap=%zu lo=%zu hi=%zu step=%zu",
               path, t.source, pol->name, t.nops, t.allocs, t.peak_live, floor_heap(floor_b), lo, hi, step);
        if (stable_k < n) printf(" stable=%zu", lo + stable_k * step); else printf(" stable=none");
        if (first_ok < n) printf(" first_ok=%zu", lo + first_ok * step); else printf(" first_ok=none");
        printf(" fails_above=");
        const char *sep = "";
        for (size_t k = first_ok; k < stable_k && k < n; k++)
            if (!oks[k]) { printf("%s%zu", sep, lo + k * step); sep = ","; }
        printf(" ref=%zu ref_ok=%d ref_collections=%zu", ref, rr.ok, rr.collections);
        if (rr.samples) printf(" ref_run_mean=%.3f ref_run_min=%.3f", rr.run_sum / (double)rr.samples, rr.run_min);
        else printf(" ref_run_mean=- ref_run_min=-");
        printf(" check=%s\n", check_ok ? "ok" : "FAILED");
    } else {
        printf("policy %s, sizes ", pol->name);
        print_size(lo);
        printf(" to ");
        print_size(hi);
        printf(" in steps of ");
        print_size(step);
        printf(":\n  floor (peak live): %zu bytes (a heap of %zu bytes holds them)\n  survives from: ",
               t.peak_live, floor_heap(floor_b));
        if (stable_k < n) {
            print_size(lo + stable_k * step);
            printf(" (%.2fx the floor)", (double)(lo + stable_k * step) / (double)floor_b);
        } else printf("no tested size");
        printf("\n  smallest size that survives: ");
        if (first_ok < n) print_size(lo + first_ok * step); else printf("none");
        printf("\n  failing sizes above it:");
        int any = 0;
        for (size_t k = first_ok; k < stable_k && k < n; k++)
            if (!oks[k]) { printf(" "); print_size(lo + k * step); any = 1; }
        printf("%s\n  at ", any ? "" : " none");
        print_result(ref, &t, &rr);
        printf("heap check: %s\n", check_ok ? "ok" : "FAILED");
    }
    free(oks);
    replay_free(&t);
    return check_ok ? 0 : 1;
}

/* ---- record: seed 004's loop in C, through the recorder ---------------- */

/* The loop of issue 11: short-lived 16-616 B buffers in a ring of 24;
 * a 0.5-3.5 KB buffer every 7 iterations in a ring of 6; a long-lived
 * 64-264 B buffer every 97 iterations, at most 40; a 4-8 KB frame buffer
 * every 50 iterations, dropped at once. Every buffer is no-scan (bytes);
 * the program says when it drops one, so the deaths are exact. */
static int record_seed004(const char *path, unsigned long iters) {
    size_t size = 1024 * 1024;
    void *mem = malloc(size);
    if (!mem) return 2;
    mpgc_t *gc = new_heap(mem, size);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        free(mem);
        return 2;
    }
    mpgc_trace_t *t = mpgc_trace_open(gc, f, "c-seed004");
    if (!t) {
        fclose(f);
        free(mem);
        return 2;
    }
    void **ring = &refs[0], **mid = &refs[24], **keep = &refs[30];
    unsigned x = 4;
    size_t nkeep = 0;
    for (unsigned long i = 0; i < iters; i++) {
        x = x * 1103515245u + 12345u;
        unsigned r = x >> 8;
        if (ring[i % 24]) mpgc_trace_dead(t, ring[i % 24]);
        ring[i % 24] = mpgc_trace_alloc(t, 16 + r % 601, MPGC_NO_SCAN);
        if (i % 7 == 0) {
            if (mid[i / 7 % 6]) mpgc_trace_dead(t, mid[i / 7 % 6]);
            mid[i / 7 % 6] = mpgc_trace_alloc(t, 512 + (r >> 10) % 3073, MPGC_NO_SCAN);
        }
        if (i % 97 == 0 && nkeep < 40) keep[nkeep++] = mpgc_trace_alloc(t, 64 + (r >> 4) % 201, MPGC_NO_SCAN);
        if (i % 50 == 0) {
            void *frame = mpgc_trace_alloc(t, 4096 + (r >> 3) % 4097, MPGC_NO_SCAN);
            mpgc_trace_dead(t, frame);
        }
    }
    bool ok = mpgc_trace_close(t);
    ok = fclose(f) == 0 && ok;
    free(mem);
    return ok ? 0 : 1;
}

static int cmd_record(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "seed004") != 0) {
        fprintf(stderr, "usage: mpgc record seed004 FILE [iterations]\n");
        return 2;
    }
    return record_seed004(argv[3], argc > 4 ? strtoul(argv[4], NULL, 0) : 20000);
}

/* ---- report ------------------------------------------------------------ */

static bool write_report(const char *path, const report_t *r) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return false;
    }
    bool ok = report_write_html(f, r);
    ok = fclose(f) == 0 && ok;
    if (!ok) fprintf(stderr, "mpgc: writing %s failed\n", path);
    return ok;
}

static int demo_report(const char *path) {
    report_t r = {0};
    r.title = "seed 004: why bytearray(2048) failed on an 8 KiB heap";
    r.inputs = "seed 004's story in `mpgc demo` (tools/mpgc.c): 40 rounds of a kept reading "
               "between temporary buffers, then bytearray(2048); and the same program with the "
               "buffer allocated first";
    r.fail_map = -1;
    if (have_failed) {
        r.fail_map = (int)r.nmaps;
        r.labels[r.nmaps] = "when bytearray(2048) failed";
        r.maps[r.nmaps++] = &snap_failed;
    }
    if (have_first) {
        r.labels[r.nmaps] = "the same program, the buffer allocated first";
        r.maps[r.nmaps++] = &snap_first;
    }
    r.timeline = &story;
    if (!write_report(path, &r)) return 1;
    printf("\n# seed 004's story as a picture (one HTML file; open it in a browser):\nreport: %s\n", path);
    return 0;
}

typedef struct {
    report_timeline_t tl;
    size_t stride;   /* sample every stride-th operation */
    snap_t end;
    bool have_end;
} trace_obs_t;

static void obs_op(void *ctx, mpgc_t *gc, size_t op, uint32_t line) {
    trace_obs_t *o = ctx;
    (void)line;
    if ((op + 1) % o->stride) return;
    mpgc_info_t i;
    mpgc_info(gc, &i);
    report_point(&o->tl, op + 1, &i);
}
static void obs_collect(void *ctx, mpgc_t *gc, size_t op, uint32_t line, double us, size_t objects,
                        size_t bytes) {
    trace_obs_t *o = ctx;
    mpgc_info_t i;
    mpgc_info(gc, &i);
    report_gc_t g = {op, line, us, objects, bytes, i.free, i.max_free};
    report_gc(&o->tl, &g);
    report_point(&o->tl, op, &i);
}
static void obs_end(void *ctx, mpgc_t *gc) {
    trace_obs_t *o = ctx;
    o->have_end = report_snapshot(gc, &o->end);
}

static int report_usage(void) {
    fprintf(stderr,
            "usage: mpgc report [options] INPUT...\n"
            "  INPUT             a heap snapshot (mpgc_snapshot, mpgc.snapshot(f)) or a\n"
            "                    trace (docs/fragmentation.md); up to %d snapshots are\n"
            "                    drawn side by side, at most one trace is replayed\n"
            "  -o FILE           the page to write (default mpgc-report.html)\n"
            "  --heap N          heap size for the trace (bytes, or with K/M):\n"
            "                    default twice its peak live bytes\n"
            "  --policy NAME     placement for the trace (mpgc policies): default fit\n"
            "  --title TEXT      the page's title\n",
            REPORT_MAX_MAPS - 1);
    return 2;
}

static uint8_t *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *n = len;
    return buf;
}

static int cmd_report(int argc, char **argv) {
    const char *outp = "mpgc-report.html", *title = NULL, *trace_path = NULL;
    size_t heap = 0;
    const replay_policy_t *pol = &replay_policies[0];
    static snap_t snaps[REPORT_MAX_MAPS];
    report_t r = {0};
    r.fail_map = -1;
    char inputs[1024] = "";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-o") == 0 && v) outp = argv[++i];
        else if (strcmp(a, "--heap") == 0 && v) {
            if (!(heap = parse_size(argv[++i]))) return report_usage();
        } else if (strcmp(a, "--policy") == 0 && v) {
            if (!(pol = replay_policy_named(argv[++i]))) {
                fprintf(stderr, "mpgc report: no policy named %s (mpgc policies)\n", v);
                return 2;
            }
        } else if (strcmp(a, "--title") == 0 && v) title = argv[++i];
        else if (a[0] == '-' && a[1] != '\0') return report_usage();
        else {
            size_t n;
            uint8_t *data = read_all(a, &n);
            if (!data) return 2;
            bool is_snap = n >= 8 && memcmp(data, "MPGCSNAP", 8) == 0;
            if (is_snap) {
                const char *why;
                if (r.nmaps >= REPORT_MAX_MAPS - 1) {
                    fprintf(stderr, "mpgc report: at most %d snapshots\n", REPORT_MAX_MAPS - 1);
                    free(data);
                    return 2;
                }
                if (!snap_parse(&snaps[r.nmaps], data, n, &why)) {
                    fprintf(stderr, "%s: %s\n", a, why);
                    free(data);
                    return 2;
                }
                r.labels[r.nmaps] = a;
                r.maps[r.nmaps] = &snaps[r.nmaps];
                r.nmaps++;
            } else if (trace_path) {
                fprintf(stderr, "mpgc report: one trace at a time (%s, %s)\n", trace_path, a);
                free(data);
                return 2;
            } else {
                trace_path = a;
            }
            free(data);
            snprintf(inputs + strlen(inputs), sizeof inputs - strlen(inputs), "%s%s %s",
                     inputs[0] ? ", " : "", is_snap ? "snapshot" : "trace", a);
        }
    }
    if (!r.nmaps && !trace_path) return report_usage();
    trace_obs_t obs = {0};
    char end_label[300], heap_note[128] = "";
    if (trace_path) {
        FILE *f = fopen(trace_path, "r");
        replay_trace_t t;
        bool loaded = f && replay_load(&t, f, trace_path);
        if (f) fclose(f);
        if (!loaded) return 2;
        if (!heap) heap = (2 * (t.peak_live ? t.peak_live : 1024) + 1023) / 1024 * 1024;
        obs.stride = t.nops / 4000 + 1;
        obs.tl.unit = "operation";
        replay_opts_t o = {0};
        o.on_op = obs_op;
        o.on_collect = obs_collect;
        o.on_end = obs_end;
        o.ctx = &obs;
        replay_result_t res;
        replay_run(&t, heap, pol->policy, &o, &res);
        if (res.too_small) {
            fprintf(stderr, "mpgc report: %zu bytes is too small for a heap\n", heap);
            replay_free(&t);
            return 2;
        }
        if (!res.ok) {
            obs.tl.fail_t = res.fail_op;
            obs.tl.fail_line = t.ops[res.fail_op].line;
            obs.tl.fail_request = res.fail_bytes;
            obs.tl.fail_free = res.fail_free;
            obs.tl.fail_max_free = res.fail_max_free;
            snprintf(end_label, sizeof end_label, "%s at line %lu (its allocation failed)", trace_path,
                     (unsigned long)t.ops[res.fail_op].line);
        } else {
            snprintf(end_label, sizeof end_label, "%s at its end", trace_path);
        }
        snprintf(heap_note, sizeof heap_note, " (replayed on a %zu-byte heap, policy %s)", heap, pol->name);
        replay_free(&t);
        if (obs.have_end) {
            if (!res.ok) r.fail_map = (int)r.nmaps;
            r.labels[r.nmaps] = end_label;
            r.maps[r.nmaps++] = &obs.end;
        }
        r.timeline = &obs.tl;
    }
    snprintf(inputs + strlen(inputs), sizeof inputs - strlen(inputs), "%s", heap_note);
    r.title = title;
    r.inputs = inputs;
    bool ok = write_report(outp, &r);
    for (size_t k = 0; k < r.nmaps; k++) snap_free((snap_t *)r.maps[k]);
    report_timeline_free(&obs.tl);
    if (ok) printf("report: %s\n", outp);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "demo";
    if (strcmp(cmd, "demo") == 0) {
        const char *rep = argc > 3 && strcmp(argv[2], "--report") == 0 ? argv[3] : NULL;
        if (argc > 2 && !rep) {
            fprintf(stderr, "usage: mpgc demo [--report FILE]\n");
            return 2;
        }
        demo_walkthrough();
        demo_fragmentation();
        int rc = rep ? demo_report(rep) : 0;
        report_timeline_free(&story);
        if (have_failed) snap_free(&snap_failed);
        if (have_first) snap_free(&snap_first);
        return rc;
    }
    if (strcmp(cmd, "report") == 0) return cmd_report(argc, argv);
    if (strcmp(cmd, "map") == 0) {
        const char *snap = NULL;
        size_t size = 16384;
        bool marks = false;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--snapshot") == 0 && i + 1 < argc) snap = argv[++i];
            else if (strcmp(argv[i], "--marks") == 0) marks = true;
            else size = strtoul(argv[i], NULL, 0);
        }
        return cmd_map(size, snap, marks);
    }
    if (strcmp(cmd, "replay") == 0) return cmd_replay(argc, argv);
    if (strcmp(cmd, "record") == 0) return cmd_record(argc, argv);
    if (strcmp(cmd, "policies") == 0) {
        for (size_t i = 0; i < replay_npolicies; i++)
            printf("%s\t%s\n", replay_policies[i].name, replay_policies[i].what);
        return 0;
    }
    fprintf(stderr, "usage: mpgc [demo [--report FILE]] | map [bytes] [--snapshot FILE [--marks]] | replay [options] FILE [heap-bytes]\n"
                    "       | report [options] INPUT... | record seed004 FILE [iterations] | policies\n");
    return 2;
}
