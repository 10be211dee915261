/*
 * test_trace.c - the fragmentation lab's C recorder (tools/mpgc_trace.c)
 * and replayer (tools/mpgc_replay.c), host only (they use stdio files and
 * malloc): what the recorder writes for each call, deaths found by
 * collections, and that the replayer reads it back and keeps objects alive
 * exactly as the trace says.
 */
#include <stdlib.h>

#include "mpgc_replay.h"
#include "mpgc_trace.h"
#include "test.h"

static _Alignas(64) unsigned char mem[64 * 1024];
static void *roots[8];

static void read_all(FILE *f, char *buf, size_t cap) {
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
}

/* Each wrapper writes its line; a collection reports the recorded objects
 * it freed before its `c` line; names are sequence numbers. */
static void recorder_lines(void) {
    mpgc_config_t cfg = {0};
    cfg.finalise_order = MPGC_FINALISE_MICROPYTHON; /* freed by the collection that finds it */
    mpgc_t *gc = precise_heap(mem, sizeof mem, &cfg);
    memset(roots, 0, sizeof roots);
    mpgc_add_root(gc, roots, sizeof roots);
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    mpgc_trace_t *t = mpgc_trace_open(gc, f, "test");
    roots[0] = mpgc_trace_alloc(t, 100, 0);             /* 1 */
    roots[1] = mpgc_trace_alloc(t, 40, MPGC_NO_SCAN);   /* 2 */
    void *lost = mpgc_trace_alloc(t, 24, MPGC_FINALISE); /* 3: never rooted */
    (void)lost;
    lost = NULL;
    roots[2] = mpgc_trace_alloc(t, 8, 0);               /* 4 */
    mpgc_trace_dead(t, roots[2]);                       /* the program says so */
    roots[2] = NULL;
    roots[1] = mpgc_trace_realloc(t, roots[1], 3000, true);
    mpgc_trace_link(t, roots[0], roots[1]);
    mpgc_trace_set_threshold(t, 4096);
    mpgc_trace_comment(t, "hello");
    mpgc_trace_collect(t); /* frees 3 (found) and 4 (already dead) */
    mpgc_trace_free(t, roots[0]);
    roots[0] = NULL;
    CHECK(mpgc_trace_close(t));
    char buf[1024];
    read_all(f, buf, sizeof buf);
    char want[512];
    snprintf(want, sizeof want,
             "mpgc-trace 1 source=test block=%u word=%u\n"
             "a 1 100\na 2 40 n\na 3 24 f\na 4 8\nd 4\nr 2 3000\np 1 2\nt 4096\n# hello\n"
             "d 3\nc\nf 1\n# end\n",
             (unsigned)MPGC_BLOCK_BYTES, (unsigned)sizeof(void *));
    CHECK(strcmp(buf, want) == 0);
    if (strcmp(buf, want) != 0) printf("got:\n%s\nwant:\n%s", buf, want);
    fclose(f);
}

/* An automatic collection inside an allocation: its deaths and `c a` come
 * before the allocation's line; a failed allocation is a comment. */
static void recorder_automatic_collection(void) {
    static _Alignas(64) unsigned char small[8 * 1024];
    mpgc_t *gc = precise_heap(small, sizeof small, NULL);
    memset(roots, 0, sizeof roots);
    mpgc_add_root(gc, roots, sizeof roots);
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (!f) return;
    mpgc_trace_t *t = mpgc_trace_open(gc, f, "auto");
    for (int k = 0; k < 20; k++) CHECK(mpgc_trace_alloc(t, 1000, MPGC_NO_SCAN) != NULL); /* garbage */
    for (size_t k = 0; k < 8; k++) roots[k] = mpgc_trace_alloc(t, 1000, MPGC_NO_SCAN); /* kept */
    CHECK(roots[7] == NULL); /* 8 KB cannot hold 8 of them */
    CHECK(mpgc_trace_close(t));
    static char buf[16384];
    read_all(f, buf, sizeof buf);
    const char *ca = strstr(buf, "c a\n"), *d1 = strstr(buf, "d 1\n");
    CHECK(d1 && ca && d1 < ca);
    CHECK(strstr(buf, "# failed: a 1000 n\n") != NULL);
    fclose(f);
    /* and the replay of it, in the same heap size, survives */
    FILE *g = tmpfile();
    if (!g) return;
    fputs(buf, g);
    rewind(g);
    replay_trace_t tr;
    CHECK(replay_load(&tr, g, "auto"));
    fclose(g);
    replay_opts_t o = {0};
    replay_result_t r;
    CHECK(replay_run(&tr, sizeof small, MPGC_POLICY_FIT, &o, &r));
    CHECK(r.collections > 0 && r.check_ok);
    replay_free(&tr);
}

static bool load_text(replay_trace_t *tr, const char *text) {
    FILE *f = tmpfile();
    if (!f) return false;
    fputs(text, f);
    rewind(f);
    bool ok = replay_load(tr, f, "text");
    fclose(f);
    return ok;
}

/* The loader: names to slots, the floor, renames, version check. */
static void loader(void) {
    replay_trace_t tr;
    CHECK(load_text(&tr, "mpgc-trace 1 source=x\n"
                         "a 7 100\na 9 3000 n\nd 7\na 7 10\nr 9 5000 12\nf 12\nc a\nc\nt 100\ne 0\n"));
    CHECK(strcmp(tr.source, "x") == 0);
    CHECK_EQ(tr.nops, 10);
    CHECK_EQ(tr.allocs, 3);
    CHECK_EQ(tr.reallocs, 1);
    CHECK_EQ(tr.frees, 1);
    CHECK_EQ(tr.deaths, 1);
    CHECK_EQ(tr.collects, 1);
    CHECK_EQ(tr.auto_collects, 1);
    CHECK_EQ(tr.nslots, 2); /* the second 7 reuses the first one's slot */
    size_t b = MPGC_BLOCK_BYTES, r5000 = (5000 + b - 1) / b * b, r10 = (10 + b - 1) / b * b;
    CHECK_EQ(tr.peak_live, r5000 + r10);
    CHECK_EQ(tr.warnings, 0);
    replay_free(&tr);
    CHECK(!load_text(&tr, "mpgc-trace 2\na 1 10\n"));      /* unknown version */
    CHECK(!load_text(&tr, "mpgc-trace 1\nx 1\n"));         /* unknown operation */
    CHECK(load_text(&tr, "a 1 10\nf 5\nd 1\n"));           /* no header: version 1 */
    CHECK_EQ(tr.warnings, 1);                              /* f 5: unknown name */
    replay_free(&tr);
}

/* The replayer keeps an object exactly while the trace holds it: a heap
 * that holds two 2 KB buffers but not three survives a trace that drops
 * one before allocating the next, and fails one that does not. */
static void replay_holds_what_the_trace_holds(void) {
    replay_trace_t tr;
    replay_opts_t o = {0};
    replay_result_t r;
    const char *ok_text = "mpgc-trace 1\na 1 2000 n\na 2 2000 n\nd 1\na 3 2000 n\nd 2\na 4 2000 n\n";
    const char *bad_text = "mpgc-trace 1\na 1 2000 n\na 2 2000 n\na 3 2000 n\n";
    size_t heap = 0;
    /* the smallest heap that holds two buffers and not three wherever
     * malloc puts it (replay_run's heap comes from malloc: 16-byte
     * alignment, any address mod 64; the block alignment's padding
     * depends on it, and a heap found at one alignment only was one
     * block short at another when the control block grew by 8 bytes) */
    for (size_t h = 2048; h < 16384 && !heap; h += 64) {
        bool all = true;
        for (size_t off = 0; off < 64 && all; off += 16) {
            mpgc_t *gc = mpgc_init(mem + off, h, NULL);
            if (gc) mpgc_disable(gc); /* nothing is rooted: no collection may free them */
            all = gc && mpgc_alloc(gc, 2000, 0) && mpgc_alloc(gc, 2000, 0) && !mpgc_alloc(gc, 2000, 0);
        }
        if (all) heap = h;
    }
    CHECK(heap > 0);
    CHECK(load_text(&tr, ok_text));
    for (size_t k = 0; k < replay_npolicies; k++) {
        CHECK(replay_run(&tr, heap, replay_policies[k].policy, &o, &r));
        CHECK(r.ok && r.check_ok);
        CHECK_EQ(r.collections, 2);
    }
    replay_free(&tr);
    CHECK(load_text(&tr, bad_text));
    for (size_t k = 0; k < replay_npolicies; k++) {
        CHECK(!replay_run(&tr, heap, replay_policies[k].policy, &o, &r));
        CHECK(!r.ok && r.check_ok);
        CHECK_EQ(r.fail_op, 2);
        CHECK_EQ(r.fail_bytes, 2000);
    }
    replay_free(&tr);
    /* too small for a heap at all */
    CHECK(load_text(&tr, ok_text));
    CHECK(!replay_run(&tr, 64, MPGC_POLICY_FIT, &o, &r));
    CHECK(r.too_small);
    replay_free(&tr);
    CHECK(replay_policy_named("fit") != NULL);
    CHECK((replay_policy_named("first-fit") != NULL) == (MPGC_ENABLE_FIRST_FIT != 0));
    CHECK(replay_policy_named("no-such-policy") == NULL);
}

int main(void) {
    RUN(recorder_lines);
    RUN(recorder_automatic_collection);
    RUN(loader);
    RUN(replay_holds_what_the_trace_holds);
    return test_done();
}
