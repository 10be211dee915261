/*
 * mpgc_mp.c - MicroPython adapter helpers that need no MicroPython header
 * (see mpgc_mp.h). No printf: the text is assembled by hand so that a
 * bare-metal port pulls in nothing from libc beyond string.h.
 */
#include <string.h>

#include "mpgc_mp.h"

/* ---- threshold ---------------------------------------------------------- */

size_t mpgc_mp_threshold_blocks(ptrdiff_t amount, size_t block_bytes) {
    if (amount < 0) return MPGC_MP_THRESHOLD_OFF;
    return (size_t)amount / block_bytes;
}

ptrdiff_t mpgc_mp_threshold_bytes(size_t blocks, size_t block_bytes) {
    if (blocks == MPGC_MP_THRESHOLD_OFF) return -1;
    return (ptrdiff_t)(blocks * block_bytes);
}

/* ---- K230 system memory ------------------------------------------------- */

bool mpgc_mp_sys_tuple(bool (*query)(mpgc_sysmem_t *), bool raise_on_failure,
                       uint64_t out[3]) {
    mpgc_sysmem_t m;
    if (!query || !query(&m)) {
        out[0] = out[1] = out[2] = 0;
        return !raise_on_failure;
    }
    out[0] = m.total;
    out[1] = m.free;
    out[2] = m.used;
    return true;
}

/* ---- gc_info ------------------------------------------------------------ */

void mpgc_mp_info(const mpgc_t *gc, bool fast, mpgc_mp_info_t *out) {
    memset(out, 0, sizeof *out);
    if (!gc) return;
    if (fast) {
        out->used = mpgc_mem_alloc(gc);
        out->free = (size_t)mpgc_mem_free(gc);
        out->total = out->used + out->free;
        return;
    }
    mpgc_info_t i;
    mpgc_info(gc, &i);
    out->total = i.total;
    out->used = i.used;
    out->free = i.free;
    out->max_free = i.max_free / i.block_bytes;
    out->num_1block = i.num_1block;
    out->num_2block = i.num_2block;
    out->max_block = i.max_block;
}

/* A growing string in a caller's buffer; len counts what did not fit too. */
typedef struct {
    char *buf;
    size_t cap, len;
} text_t;

static void put(text_t *t, const char *s) {
    for (; *s; s++, t->len++)
        if (t->len + 1 < t->cap) t->buf[t->len] = *s;
}

static void put_uint(text_t *t, size_t v) {
    char d[3 * sizeof v + 1];
    size_t k = sizeof d;
    d[--k] = '\0';
    do d[--k] = (char)('0' + v % 10); while ((v /= 10) != 0);
    put(t, d + k);
}

/* One "label value" pair of the mem_info text. */
static void put_field(text_t *t, const char *label, size_t value) {
    put(t, label);
    put_uint(t, value);
}

size_t mpgc_mp_info_text(char *buf, size_t cap, const mpgc_mp_info_t *info) {
    text_t t = {buf, cap, 0};
    put_field(&t, "GC: total: ", info->total);
    put_field(&t, ", used: ", info->used);
    put_field(&t, ", free: ", info->free);
    if (info->split_auto) put_field(&t, ", max new split: ", info->max_new_split);
    put_field(&t, "\n No. of 1-blocks: ", info->num_1block);
    put_field(&t, ", 2-blocks: ", info->num_2block);
    put_field(&t, ", max blk sz: ", info->max_block);
    put_field(&t, ", max free sz: ", info->max_free);
    put(&t, "\n");
    if (cap > 0) buf[t.len < cap ? t.len : cap - 1] = '\0';
    return t.len;
}

/* ---- MICROPY_GC_SPLIT_HEAP_AUTO ---------------------------------------- */

size_t mpgc_mp_area_bytes(size_t failed_alloc, size_t heap_bytes, size_t avail, size_t header) {
    size_t pool = mpgc_region_bytes(failed_alloc);
    if (pool == 0 || pool > SIZE_MAX - header) return 0;
    size_t needed = header + pool;
    if (avail < needed) return 0;
    size_t want = heap_bytes > needed ? heap_bytes : needed;
    return want < avail ? want : avail;
}

/* ---- idle-time collection ---------------------------------------------- */

bool mpgc_mp_idle_worth(size_t free_now, size_t free_after, uint32_t budget_us,
                        uint32_t need_us) {
    size_t used_since = free_after > free_now ? free_after - free_now : 0;
    if (used_since == 0 || used_since < free_after / 100u * MPGC_MP_IDLE_PERCENT) return false;
    uint64_t want = (uint64_t)need_us + need_us / 4u;
    if (want < MPGC_MP_IDLE_MIN_US) want = MPGC_MP_IDLE_MIN_US;
    return budget_us >= want;
}

uint32_t mpgc_mp_idle_need(uint32_t need_us, uint32_t took_us, bool ended) {
    if (!ended) return need_us > took_us ? need_us : took_us;
    return need_us == 0 || took_us < need_us ? took_us : need_us;
}

/* ---- heap map ------------------------------------------------------------ */

static const char layout_prefix[] = "GC memory layout; from ";

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Parses hex digits at s[0..n); false if any is not a hex digit. */
static bool parse_hex(const char *s, size_t n, uintptr_t *v) {
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = hex_digit(s[i]);
        if (d < 0) return false;
        *v = (*v << 4) | (uintptr_t)d;
    }
    return n > 0;
}

static void emit_hex(mpgc_mp_dump_t *d, uintptr_t v) {
    char buf[2 * sizeof v];
    size_t k = sizeof buf;
    do buf[--k] = "0123456789abcdef"[v & 15]; while ((v >>= 4) != 0);
    d->write(d->ctx, buf + k, sizeof buf - k);
}

/* One complete engine line (without its '\n'), rewritten. */
static void emit_line(mpgc_mp_dump_t *d) {
    const char *s = d->line;
    size_t n = d->len, plen = sizeof layout_prefix - 1;
    d->len = 0;
    uintptr_t v;
    /* "GC memory layout; from 0x<hex>:" */
    if (n > plen + 3 && memcmp(s, layout_prefix, plen) == 0 && s[plen] == '0' &&
        s[plen + 1] == 'x' && s[n - 1] == ':' && parse_hex(s + plen + 2, n - plen - 3, &v)) {
        d->base = v;
        d->write(d->ctx, layout_prefix, plen);
        emit_hex(d, v);
        d->write(d->ctx, ":", 1);
        return;
    }
    /* "<8 hex digits>: <one character per block>" */
    if (n >= 10 && s[8] == ':' && s[9] == ' ' && parse_hex(s, 8, &v)) {
        char out[sizeof d->line];
        memcpy(out, s, n);
        for (size_t i = 10; i < n; i++) {
            char c = s[i];
            if (c == 'h' || c == 'f' || c == 'n')
                out[i] = d->classify(d->ctx, (const void *)(d->base + v + (i - 10) * d->block_bytes));
        }
        d->write(d->ctx, out, n);
        return;
    }
    if (n) d->write(d->ctx, s, n); /* "       (N lines all free)" */
}

void mpgc_mp_dump_begin(mpgc_mp_dump_t *d, void (*write)(void *, const char *, size_t),
                        void *ctx, char (*classify)(void *, const void *),
                        size_t block_bytes) {
    memset(d, 0, sizeof *d);
    d->write = write;
    d->ctx = ctx;
    d->classify = classify;
    d->block_bytes = block_bytes;
}

void mpgc_mp_dump_write(void *self, const char *s, size_t n) {
    mpgc_mp_dump_t *d = (mpgc_mp_dump_t *)self;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            emit_line(d);
            d->write(d->ctx, "\n", 1);
            continue;
        }
        if (d->len == sizeof d->line) { /* not an engine line: pass it on */
            d->write(d->ctx, d->line, d->len);
            d->len = 0;
        }
        d->line[d->len++] = s[i];
    }
}

void mpgc_mp_dump_finish(mpgc_mp_dump_t *d) { emit_line(d); }
