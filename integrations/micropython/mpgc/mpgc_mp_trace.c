/*
 * mpgc_mp_trace.c - the adapter's trace recorder (see mpgc_mp_trace.h).
 */
#include <string.h>

#include "mpgc_mp_trace.h"

/* ---- one line at a time --------------------------------------------------- */

static void put(mpgc_mp_trace_t *t, const char *s) {
    for (; *s; s++)
        if (t->len < sizeof t->line) t->line[t->len++] = *s;
}

static void put_uint(mpgc_mp_trace_t *t, uintmax_t v) {
    char d[3 * sizeof v + 1];
    size_t k = sizeof d;
    d[--k] = '\0';
    do d[--k] = (char)('0' + v % 10); while ((v /= 10) != 0);
    put(t, d + k);
}

static void end_line(mpgc_mp_trace_t *t) {
    put(t, "\n");
    t->write(t->ctx, t->line, t->len);
    t->len = 0;
}

/* "<op> <name>" */
static void start(mpgc_mp_trace_t *t, const char *op, uintptr_t name) {
    put(t, op);
    put(t, " ");
    put_uint(t, name);
}

/* ---- names and the bitmap ----------------------------------------------------- */

static uintptr_t name_of(const mpgc_mp_trace_t *t, const void *p) {
    return ((uintptr_t)p - t->base) / t->block_bytes; /* wraps below base: still unique */
}

static bool covered(const mpgc_mp_trace_t *t, uintptr_t k) { return k < t->nblocks; }
static bool bit(const mpgc_mp_trace_t *t, uintptr_t k) { return t->live[k / 8] >> (k % 8) & 1; }
static void set_bit(mpgc_mp_trace_t *t, uintptr_t k) { t->live[k / 8] |= (unsigned char)(1u << (k % 8)); }
static void clear_bit(mpgc_mp_trace_t *t, uintptr_t k) { t->live[k / 8] &= (unsigned char)~(1u << (k % 8)); }

/* Starts following object k; false (counted) if it is outside the bitmap. */
static void follow(mpgc_mp_trace_t *t, uintptr_t k) {
    if (covered(t, k)) set_bit(t, k);
    else if (t->outside++ == 0) mpgc_mp_trace_comment(t, "objects outside the first area: their deaths are not recorded");
}

/* Whether object k is being followed (outside the bitmap: assumed). */
static bool followed(const mpgc_mp_trace_t *t, uintptr_t k) { return !covered(t, k) || bit(t, k); }

/* ---- the API ------------------------------------------------------------------ */

size_t mpgc_mp_trace_bitmap_bytes(size_t area_bytes, size_t block_bytes) {
    /* one more block: the area may start inside one */
    size_t bytes = (area_bytes / block_bytes + 1 + 7) / 8;
    return (bytes + block_bytes - 1) / block_bytes * block_bytes;
}

void mpgc_mp_trace_begin(mpgc_mp_trace_t *t, void (*write)(void *, const char *, size_t),
                         void *ctx, const void *base, unsigned char *bitmap, size_t bitmap_bytes,
                         size_t block_bytes, const char *extra) {
    memset(t, 0, sizeof *t);
    memset(bitmap, 0, bitmap_bytes);
    t->write = write;
    t->ctx = ctx;
    t->base = (uintptr_t)base & ~(uintptr_t)(block_bytes - 1); /* objects are block-aligned */
    t->block_bytes = block_bytes;
    t->live = bitmap;
    t->nblocks = bitmap_bytes * 8;
    put(t, "mpgc-trace 1 source=micropython block=");
    put_uint(t, block_bytes);
    put(t, " word=");
    put_uint(t, sizeof(void *));
    if (extra) {
        put(t, " ");
        put(t, extra);
    }
    end_line(t);
}

void mpgc_mp_trace_alloc(mpgc_mp_trace_t *t, const void *p, size_t n, unsigned flags) {
    if (!t->write) return;
    uintptr_t k = name_of(t, p);
    follow(t, k);
    start(t, "a", k);
    put(t, " ");
    put_uint(t, n);
    if (flags & (MPGC_NO_SCAN | MPGC_FINALISE)) put(t, " ");
    if (flags & MPGC_NO_SCAN) put(t, "n");
    if (flags & MPGC_FINALISE) put(t, "f");
    end_line(t);
}

void mpgc_mp_trace_alloc_failed(mpgc_mp_trace_t *t, size_t n) {
    if (!t->write) return;
    put(t, "# failed: a ");
    put_uint(t, n);
    end_line(t);
}

void mpgc_mp_trace_free(mpgc_mp_trace_t *t, const void *p) {
    if (!t->write) return;
    uintptr_t k = name_of(t, p);
    if (!followed(t, k)) return; /* not an object the trace knows */
    if (covered(t, k)) clear_bit(t, k);
    start(t, "f", k);
    end_line(t);
}

void mpgc_mp_trace_realloc(mpgc_mp_trace_t *t, const void *old, const void *now, size_t n) {
    if (!t->write) return;
    uintptr_t k = name_of(t, old), k2 = name_of(t, now);
    if (!followed(t, k)) return;
    start(t, "r", k);
    put(t, " ");
    put_uint(t, n);
    if (k2 != k) {
        if (covered(t, k)) clear_bit(t, k);
        follow(t, k2);
        put(t, " ");
        put_uint(t, k2);
    }
    end_line(t);
}

void mpgc_mp_trace_collected(mpgc_mp_trace_t *t, const mpgc_t *gc, bool automatic) {
    if (!t->write) return;
    for (size_t w = 0; w < t->nblocks / 8; w++) {
        if (!t->live[w]) continue;
        for (unsigned b = 0; b < 8; b++) {
            uintptr_t k = w * 8 + b;
            if (!bit(t, k)) continue;
            if (mpgc_size(gc, (const void *)(t->base + k * t->block_bytes)) != 0) continue;
            clear_bit(t, k);
            start(t, "d", k);
            end_line(t);
        }
    }
    put(t, automatic ? "c a" : "c");
    end_line(t);
}

void mpgc_mp_trace_threshold(mpgc_mp_trace_t *t, ptrdiff_t bytes) {
    if (!t->write) return;
    put(t, "t ");
    if (bytes < 0) put(t, "-1");
    else put_uint(t, (uintmax_t)bytes);
    end_line(t);
}

void mpgc_mp_trace_enable(mpgc_mp_trace_t *t, bool on) {
    if (!t->write) return;
    put(t, on ? "e 1" : "e 0");
    end_line(t);
}

void mpgc_mp_trace_comment(mpgc_mp_trace_t *t, const char *text) {
    if (!t->write) return;
    put(t, "# ");
    put(t, text);
    end_line(t);
}
