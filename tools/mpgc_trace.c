/*
 * mpgc_trace.c - the C recorder (see mpgc_trace.h). The recorder keeps a
 * map from each recorded live object's address to its id (open addressing,
 * linear probing, tombstones), so that a collection can tell which of them
 * it freed: those whose address is no longer an allocation (mpgc_size 0).
 */
#include "mpgc_trace.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY ((uintptr_t)0)
#define TOMB ((uintptr_t)1)

typedef struct {
    uintptr_t addr; /* EMPTY, TOMB or a live object's address */
    unsigned long id;
} entry_t;

struct mpgc_trace {
    mpgc_t *gc;
    FILE *out;
    entry_t *map;
    size_t cap, used, tombs; /* cap: power of two */
    unsigned long next_id;
    size_t collections; /* the engine's count when last looked at */
    bool write_error;
};

/* ---- the address map -------------------------------------------------- */

static size_t slot_of(const mpgc_trace_t *t, uintptr_t a) {
    uintptr_t h = (a / MPGC_BLOCK_BYTES) * (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(h ^ (h >> 29)) & (t->cap - 1);
}

static bool map_resize(mpgc_trace_t *t, size_t cap) {
    entry_t *old = t->map;
    size_t oldcap = t->cap;
    t->map = calloc(cap, sizeof *t->map);
    if (!t->map) {
        t->map = old;
        return false;
    }
    t->cap = cap;
    t->used = t->tombs = 0;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].addr <= TOMB) continue;
        size_t s = slot_of(t, old[i].addr);
        while (t->map[s].addr != EMPTY) s = (s + 1) & (t->cap - 1);
        t->map[s] = old[i];
        t->used++;
    }
    free(old);
    return true;
}

/* The entry of a (NULL if not recorded). */
static entry_t *map_find(mpgc_trace_t *t, const void *p) {
    uintptr_t a = (uintptr_t)p;
    for (size_t s = slot_of(t, a);; s = (s + 1) & (t->cap - 1)) {
        if (t->map[s].addr == a) return &t->map[s];
        if (t->map[s].addr == EMPTY) return NULL;
    }
}

static void map_put(mpgc_trace_t *t, const void *p, unsigned long id) {
    if (2 * (t->used + t->tombs + 1) > t->cap &&
        !map_resize(t, 2 * (t->used + 1) > t->cap / 2 ? 2 * t->cap : t->cap)) {
        fprintf(stderr, "mpgc_trace: out of memory\n");
        abort();
    }
    uintptr_t a = (uintptr_t)p;
    size_t s = slot_of(t, a);
    while (t->map[s].addr > TOMB) s = (s + 1) & (t->cap - 1);
    if (t->map[s].addr == TOMB) t->tombs--;
    t->map[s].addr = a;
    t->map[s].id = id;
    t->used++;
}

static void map_remove(mpgc_trace_t *t, entry_t *e) {
    e->addr = TOMB;
    t->used--;
    t->tombs++;
}

/* ---- output ---------------------------------------------------------- */

static void line(mpgc_trace_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(mpgc_trace_t *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (vfprintf(t->out, fmt, ap) < 0) t->write_error = true;
    va_end(ap);
}

/* Deaths found by the collection(s) since the last look, then their `c`
 * line. skip: an address just allocated (it may reuse a freed object's). */
static void note_collections(mpgc_trace_t *t, bool automatic, const void *skip) {
    mpgc_info_t i;
    mpgc_info(t->gc, &i);
    if (i.collections == t->collections) return;
    for (size_t s = 0; s < t->cap; s++) {
        entry_t *e = &t->map[s];
        if (e->addr <= TOMB) continue;
        if ((const void *)e->addr == skip || mpgc_size(t->gc, (void *)e->addr) == 0) {
            line(t, "d %lu\n", e->id);
            map_remove(t, e);
        }
    }
    for (size_t k = t->collections; k < i.collections; k++) line(t, automatic ? "c a\n" : "c\n");
    t->collections = i.collections;
}

static const char *flag_text(unsigned flags) {
    switch (flags & (MPGC_NO_SCAN | MPGC_FINALISE)) {
    case MPGC_NO_SCAN: return " n";
    case MPGC_FINALISE: return " f";
    case MPGC_NO_SCAN | MPGC_FINALISE: return " nf";
    default: return "";
    }
}

/* ---- the API --------------------------------------------------------- */

mpgc_trace_t *mpgc_trace_open(mpgc_t *gc, FILE *out, const char *source) {
    mpgc_trace_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->gc = gc;
    t->out = out;
    t->cap = 1024;
    t->map = calloc(t->cap, sizeof *t->map);
    if (!t->map) {
        free(t);
        return NULL;
    }
    mpgc_info_t i;
    mpgc_info(gc, &i);
    t->collections = i.collections;
    t->next_id = 1;
    line(t, "mpgc-trace 1 source=%s block=%zu word=%zu\n", source ? source : "c",
         (size_t)MPGC_BLOCK_BYTES, sizeof(void *));
    return t;
}

bool mpgc_trace_close(mpgc_trace_t *t) {
    line(t, "# end\n");
    if (fflush(t->out) != 0) t->write_error = true;
    bool ok = !t->write_error;
    free(t->map);
    free(t);
    return ok;
}

void *mpgc_trace_alloc(mpgc_trace_t *t, size_t n, unsigned flags) {
    void *p = mpgc_alloc(t->gc, n, flags);
    note_collections(t, true, p);
    if (!p) {
        line(t, "# failed: a %zu%s\n", n, flag_text(flags));
        return NULL;
    }
    unsigned long id = t->next_id++;
    map_put(t, p, id);
    line(t, "a %lu %zu%s\n", id, n, flag_text(flags));
    return p;
}

void *mpgc_trace_realloc(mpgc_trace_t *t, void *p, size_t n, bool allow_move) {
    if (!p) return mpgc_trace_alloc(t, n, 0);
    entry_t *e = map_find(t, p);
    unsigned long id = e ? e->id : 0;
    if (e) map_remove(t, e); /* p's entry must not be taken for a death */
    void *q = mpgc_realloc(t->gc, p, n, allow_move);
    note_collections(t, true, q != p ? q : NULL);
    if (!e) return q; /* not recorded: nothing to say */
    if (n == 0) {
        line(t, "f %lu\n", id);
        return q;
    }
    if (!q) {
        map_put(t, p, id);
        line(t, "# failed: r %lu %zu\n", id, n);
        return NULL;
    }
    map_put(t, q, id);
    line(t, "r %lu %zu\n", id, n);
    return q;
}

void mpgc_trace_free(mpgc_trace_t *t, void *p) {
    entry_t *e = p ? map_find(t, p) : NULL;
    if (e) {
        line(t, "f %lu\n", e->id);
        map_remove(t, e);
    }
    mpgc_free(t->gc, p);
}

size_t mpgc_trace_collect(mpgc_trace_t *t) {
    size_t freed = mpgc_collect(t->gc);
    note_collections(t, false, NULL);
    return freed;
}

void mpgc_trace_set_threshold(mpgc_trace_t *t, ptrdiff_t amount) {
    mpgc_set_threshold(t->gc, amount);
    line(t, "t %td\n", amount < 0 ? (ptrdiff_t)-1 : amount);
}

void mpgc_trace_dead(mpgc_trace_t *t, void *p) {
    entry_t *e = p ? map_find(t, p) : NULL;
    if (!e) return;
    line(t, "d %lu\n", e->id);
    map_remove(t, e);
}

void mpgc_trace_link(mpgc_trace_t *t, void *from, void *to) {
    entry_t *ef = from ? map_find(t, from) : NULL;
    entry_t *et = to ? map_find(t, to) : NULL;
    if (!ef || mpgc_size(t->gc, from) < sizeof(void *)) return;
    *(void **)from = to;
    if (et)
        line(t, "p %lu %lu\n", ef->id, et->id);
    else
        line(t, "p %lu -\n", ef->id);
}

void mpgc_trace_comment(mpgc_trace_t *t, const char *text) { line(t, "# %s\n", text); }
