/*
 * mpgc_replay.c - trace loading and replay (see mpgc_replay.h).
 */
#include "mpgc_replay.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const replay_policy_t replay_policies[] = {
    {"fit", MPGC_POLICY_FIT, "mpgc's default (segregated fit, small low, large high)"},
#if MPGC_ENABLE_FIRST_FIT
    {"first-fit", MPGC_POLICY_FIRST_FIT, "MicroPython's address-ordered first fit"},
#endif
};
const size_t replay_npolicies = sizeof replay_policies / sizeof replay_policies[0];

const replay_policy_t *replay_policy_named(const char *name) {
    for (size_t i = 0; i < replay_npolicies; i++)
        if (strcmp(replay_policies[i].name, name) == 0) return &replay_policies[i];
    return NULL;
}

/* ---- loading: names to slots ------------------------------------------ */

/* A name -> slot map (open addressing; slot UINT32_MAX: empty, UINT32_MAX-1:
 * deleted). */
#define NONE UINT32_MAX
#define GONE (UINT32_MAX - 1)
typedef struct {
    uint64_t *keys;
    uint32_t *slots;
    size_t cap, used, gone;
} names_t;

static size_t name_hash(const names_t *m, uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    return (size_t)(k ^ (k >> 31)) & (m->cap - 1);
}

static bool names_grow(names_t *m) {
    names_t n = {0};
    n.cap = m->cap ? 2 * m->cap : 1024;
    if (m->cap && 4 * (m->used + 1) < m->cap) n.cap = m->cap; /* only tombstones to drop */
    n.keys = malloc(n.cap * sizeof *n.keys);
    n.slots = malloc(n.cap * sizeof *n.slots);
    if (!n.keys || !n.slots) {
        free(n.keys);
        free(n.slots);
        return false;
    }
    for (size_t i = 0; i < n.cap; i++) n.slots[i] = NONE;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i] >= GONE) continue;
        size_t s = name_hash(&n, m->keys[i]);
        while (n.slots[s] != NONE) s = (s + 1) & (n.cap - 1);
        n.keys[s] = m->keys[i];
        n.slots[s] = m->slots[i];
        n.used++;
    }
    free(m->keys);
    free(m->slots);
    *m = n;
    return true;
}

/* The map position of name k, or of where it would go (*found false). */
static size_t names_find(const names_t *m, uint64_t k, bool *found) {
    size_t s = name_hash(m, k), first_gone = SIZE_MAX;
    for (;; s = (s + 1) & (m->cap - 1)) {
        if (m->slots[s] == NONE) break;
        if (m->slots[s] == GONE) {
            if (first_gone == SIZE_MAX) first_gone = s;
        } else if (m->keys[s] == k) {
            *found = true;
            return s;
        }
    }
    *found = false;
    return first_gone != SIZE_MAX ? first_gone : s;
}

typedef struct {
    names_t names;
    uint32_t *free_slots; /* a stack of slots whose object is gone */
    size_t nfree, free_cap;
    size_t *slot_bytes;   /* block-granular size of each slot's object */
    size_t slot_cap;
    size_t live, live_objects;
} loader_t;

static size_t rounded(int64_t n) {
    return ((size_t)n + MPGC_BLOCK_BYTES - 1) / MPGC_BLOCK_BYTES * MPGC_BLOCK_BYTES;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* A new slot for name k (an existing object of that name is taken as dead:
 * counted as a warning). NONE when out of memory. */
static uint32_t slot_new(loader_t *L, replay_trace_t *t, uint64_t k, size_t bytes) {
    if (2 * (L->names.used + L->names.gone + 1) > L->names.cap && !names_grow(&L->names))
        return NONE;
    bool found;
    size_t pos = names_find(&L->names, k, &found);
    if (found) {
        t->warnings++;
        uint32_t old = L->names.slots[pos];
        L->live -= L->slot_bytes[old];
        L->live_objects--;
        if (!grow((void **)&L->free_slots, &L->free_cap, L->nfree + 1, sizeof *L->free_slots))
            return NONE;
        L->free_slots[L->nfree++] = old;
    } else if (L->names.slots[pos] == GONE) {
        L->names.gone--;
        L->names.used++;
    } else {
        L->names.used++;
    }
    uint32_t s = L->nfree ? L->free_slots[--L->nfree] : (uint32_t)t->nslots++;
    if (!grow((void **)&L->slot_bytes, &L->slot_cap, t->nslots, sizeof *L->slot_bytes))
        return NONE;
    L->names.keys[pos] = k;
    L->names.slots[pos] = s;
    L->slot_bytes[s] = bytes;
    L->live += bytes;
    L->live_objects++;
    if (L->live > t->peak_live) t->peak_live = L->live;
    if (L->live_objects > t->peak_objects) t->peak_objects = L->live_objects;
    return s;
}

/* The slot of live name k; NONE if there is none. */
static uint32_t slot_of(loader_t *L, uint64_t k) {
    if (!L->names.cap) return NONE;
    bool found;
    size_t pos = names_find(&L->names, k, &found);
    return found ? L->names.slots[pos] : NONE;
}

/* Name k's object is gone (freed or dead). */
static void slot_end(loader_t *L, uint64_t k) {
    bool found;
    size_t pos = names_find(&L->names, k, &found);
    uint32_t s = L->names.slots[pos];
    L->names.slots[pos] = GONE;
    L->names.used--;
    L->names.gone++;
    L->live -= L->slot_bytes[s];
    L->live_objects--;
    if (grow((void **)&L->free_slots, &L->free_cap, L->nfree + 1, sizeof *L->free_slots))
        L->free_slots[L->nfree++] = s;
}

/* Reads an unsigned decimal field; false if there is none. */
static bool field_u(char **s, uint64_t *v) {
    while (**s == ' ' || **s == '\t') (*s)++;
    if (!isdigit((unsigned char)**s)) return false;
    char *end;
    *v = strtoull(*s, &end, 10);
    *s = end;
    return true;
}

static bool field_i(char **s, int64_t *v) {
    while (**s == ' ' || **s == '\t') (*s)++;
    char *end;
    *v = strtoll(*s, &end, 10);
    if (end == *s) return false;
    *s = end;
    return true;
}

/* The next word (flags, '-' or 'a'), NUL-terminated in place; "" if none. */
static char *field_word(char **s) {
    while (**s == ' ' || **s == '\t') (*s)++;
    char *w = *s;
    while (**s && !isspace((unsigned char)**s)) (*s)++;
    if (**s) *(*s)++ = '\0';
    return w;
}

static bool push(replay_trace_t *t, int kind, unsigned flags, uint32_t slot, unsigned long line,
                 int64_t arg) {
    if (!grow((void **)&t->ops, &t->cap, t->nops + 1, sizeof *t->ops)) return false;
    replay_op_t *op = &t->ops[t->nops++];
    op->kind = (uint8_t)kind;
    op->flags = (uint8_t)flags;
    op->slot = slot;
    op->line = (uint32_t)line;
    op->arg = arg;
    return true;
}

bool replay_load(replay_trace_t *t, FILE *f, const char *name) {
    memset(t, 0, sizeof *t);
    strcpy(t->source, "?");
    loader_t L;
    memset(&L, 0, sizeof L);
    char buf[512];
    unsigned long lineno = 0;
    bool ok = true;
    const char *why = NULL;
    while (ok && fgets(buf, sizeof buf, f)) {
        lineno++;
        char *s = buf;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == '\0') continue;
        if (strncmp(s, "mpgc-trace", 10) == 0) {
            s += 10;
            uint64_t v;
            if (!field_u(&s, &v) || v != 1) { why = "unsupported trace version"; ok = false; break; }
            char *src = strstr(s, "source=");
            if (src) {
                src += 7;
                size_t n = strcspn(src, " \t\r\n");
                if (n >= sizeof t->source) n = sizeof t->source - 1;
                memcpy(t->source, src, n);
                t->source[n] = '\0';
            }
            continue;
        }
        char op = *s++;
        uint64_t id = 0, id2 = 0;
        int64_t n = 0;
        uint32_t slot = NONE;
        if (strchr("arfdp", op) && !field_u(&s, &id)) { why = "missing object name"; ok = false; break; }
        if (strchr("rfdp", op)) {
            slot = slot_of(&L, id);
            if (slot == NONE) {
                /* an object the recording never saw allocated (recorded
                 * before the trace began): ignore the line */
                t->warnings++;
                continue;
            }
        }
        switch (op) {
        case 'a': {
            if (!field_i(&s, &n) || n < 0) { why = "missing size"; ok = false; break; }
            unsigned flags = 0;
            for (const char *w = field_word(&s); *w; w++) {
                if (*w == 'n') flags |= MPGC_NO_SCAN;
                else if (*w == 'f') flags |= MPGC_FINALISE;
                else if (*w != 's' && *w != '-') { why = "bad flags"; ok = false; }
            }
            if (!ok) break;
            slot = slot_new(&L, t, id, rounded(n));
            ok = slot != NONE && push(t, OP_ALLOC, flags, slot, lineno, n);
            t->allocs++;
            t->alloc_bytes += (uint64_t)n;
            break;
        }
        case 'r': {
            if (!field_i(&s, &n) || n < 0) { why = "missing size"; ok = false; break; }
            ok = push(t, OP_REALLOC, 0, slot, lineno, n);
            t->reallocs++;
            size_t now = rounded(n);
            L.live = L.live - L.slot_bytes[slot] + now;
            L.slot_bytes[slot] = now;
            if (L.live > t->peak_live) t->peak_live = L.live;
            if (field_u(&s, &id2) && id2 != id) { /* renamed: NEWID */
                bool found;
                size_t pos = names_find(&L.names, id, &found);
                L.names.slots[pos] = GONE;
                L.names.used--;
                L.names.gone++;
                if (2 * (L.names.used + L.names.gone + 1) > L.names.cap && !names_grow(&L.names)) {
                    ok = false;
                    break;
                }
                pos = names_find(&L.names, id2, &found);
                if (found) { why = "realloc renames onto a live object"; ok = false; break; }
                if (L.names.slots[pos] == GONE) L.names.gone--;
                L.names.used++;
                L.names.keys[pos] = id2;
                L.names.slots[pos] = slot;
            }
            break;
        }
        case 'f':
        case 'd':
            ok = push(t, op == 'f' ? OP_FREE : OP_DEAD, 0, slot, lineno, 0);
            slot_end(&L, id);
            if (op == 'f') t->frees++; else t->deaths++;
            break;
        case 'p': {
            char *w = field_word(&s);
            if (strcmp(w, "-") == 0) {
                ok = push(t, OP_UNLINK, 0, slot, lineno, 0);
                break;
            }
            char *w2 = w;
            if (!field_u(&w2, &id2)) { why = "missing second object"; ok = false; break; }
            uint32_t slot2 = slot_of(&L, id2);
            if (slot2 == NONE) { t->warnings++; break; }
            ok = push(t, OP_LINK, 0, slot, lineno, slot2);
            break;
        }
        case 'c': {
            bool automatic = strcmp(field_word(&s), "a") == 0;
            ok = push(t, automatic ? OP_COLLECT_AUTO : OP_COLLECT, 0, 0, lineno, 0);
            if (automatic) t->auto_collects++; else t->collects++;
            break;
        }
        case 't':
            if (!field_i(&s, &n)) { why = "missing threshold"; ok = false; break; }
            ok = push(t, OP_THRESHOLD, 0, 0, lineno, n < 0 ? -1 : n);
            break;
        case 'e':
            if (!field_i(&s, &n)) { why = "missing 0 or 1"; ok = false; break; }
            ok = push(t, OP_ENABLE, 0, 0, lineno, n != 0);
            break;
        case 'i': ok = push(t, OP_INFO, 0, 0, lineno, 0); break;
        case 'm': ok = push(t, OP_MAP, 0, 0, lineno, 0); break;
        default: why = "unknown operation"; ok = false; break;
        }
    }
    if (!ok)
        fprintf(stderr, "%s:%lu: %s\n", name, lineno, why ? why : "out of memory");
    free(L.names.keys);
    free(L.names.slots);
    free(L.free_slots);
    free(L.slot_bytes);
    if (!ok) replay_free(t);
    return ok;
}

void replay_free(replay_trace_t *t) {
    free(t->ops);
    t->ops = NULL;
    t->nops = t->cap = 0;
}

/* ---- replay ------------------------------------------------------------ */

typedef struct {
    mpgc_t *gc;
    const replay_opts_t *o;
    replay_result_t *r;
    uint64_t since; /* block-granular bytes allocated since the last collection */
    uint32_t line;  /* of the operation being replayed */
    size_t op;      /* its index */
} run_t;

static void collect(run_t *x) {
    size_t before = mpgc_mem_alloc(x->gc);
    clock_t c0 = clock();
    size_t objects = mpgc_collect(x->gc);
    clock_t c1 = clock();
    x->r->collections++;
    x->since = 0;
    mpgc_info_t i;
    mpgc_info(x->gc, &i);
    if (i.free > 0) {
        double q = (double)i.max_free / (double)i.free;
        x->r->run_sum += q;
        if (x->r->samples == 0 || q < x->r->run_min) x->r->run_min = q;
        x->r->samples++;
    }
    if (x->o->timeline)
        printf("collection %zu at line %lu: used %zu, free %zu, largest free run %zu (%.3f)\n",
               x->r->collections, (unsigned long)x->line, i.used, i.free, i.max_free,
               i.free ? (double)i.max_free / (double)i.free : 0.0);
    if (x->o->check && !mpgc_check(x->gc)) x->r->check_ok = false;
    if (x->o->on_collect)
        x->o->on_collect(x->o->ctx, x->gc, x->op, x->line, 1e6 * (double)(c1 - c0) / CLOCKS_PER_SEC,
                         objects, before > i.used ? before - i.used : 0);
}

static void out(void *ctx, const char *s, size_t n) { fwrite(s, 1, n, (FILE *)ctx); }

bool replay_run(const replay_trace_t *t, size_t heap_bytes, mpgc_policy_t policy,
                const replay_opts_t *o, replay_result_t *r) {
    memset(r, 0, sizeof *r);
    r->check_ok = true;
    /* Cache-line aligned, as a static heap would be: a figure must not
     * depend on where malloc happens to put the buffer (a 16-byte offset
     * costs a block of a 32-byte-block heap). */
    void *raw = malloc(heap_bytes + 64); /* (newlib's aligned_alloc needs posix_memalign) */
    void *mem = raw ? (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63) : NULL;
    void **roots = calloc(t->nslots ? t->nslots : 1, sizeof *roots);
    if (!mem || !roots) {
        free(raw);
        free(roots);
        fprintf(stderr, "mpgc replay: out of memory for a %zu-byte heap\n", heap_bytes);
        exit(2);
    }
    mpgc_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.no_stack_scan = true;                       /* every reference is in roots[] */
    cfg.policy = policy;
    cfg.finalise_order = MPGC_FINALISE_MICROPYTHON; /* freed by the collection that finds them */
    cfg.caller_collects = true; /* as the adapter: it collects and retries */
    mpgc_t *gc = mpgc_init(mem, heap_bytes, &cfg);
    if (!gc || !mpgc_add_root(gc, roots, (t->nslots ? t->nslots : 1) * sizeof *roots)) {
        r->too_small = true;
        free(raw);
        free(roots);
        return false;
    }
    /* Collections are the replay's own, as MicroPython's adapter makes
     * them: before an allocation once the threshold is reached, and when
     * an allocation fails (then one retry, also while collection is off:
     * the placement may decline once to have the heap collected early). */
    mpgc_disable(gc);
    run_t x = {gc, o, r, 0, 0, 0};
    bool enabled = true;
    int64_t threshold = -1;
    r->ok = true;
    for (size_t k = 0; k < t->nops && r->ok; k++) {
        const replay_op_t *op = &t->ops[k];
        void **slot = &roots[op->slot];
        x.line = op->line;
        x.op = k;
        switch (op->kind) {
        case OP_ALLOC:
        case OP_REALLOC: {
            size_t n = (size_t)op->arg;
            if (enabled && threshold >= 0 && x.since >= (uint64_t)threshold) collect(&x);
            void *p = op->kind == OP_ALLOC ? mpgc_alloc(gc, n, op->flags)
                                           : mpgc_realloc(gc, *slot, n, true);
            if (!p && n > 0) { /* as the adapter: retry, collecting first if enabled */
                if (enabled) collect(&x);
                p = op->kind == OP_ALLOC ? mpgc_alloc(gc, n, op->flags)
                                         : mpgc_realloc(gc, *slot, n, true);
            }
            if (!p && n > 0) {
                mpgc_info_t i;
                mpgc_info(gc, &i);
                r->ok = false;
                r->fail_op = k;
                r->fail_bytes = n;
                r->fail_free = i.free;
                r->fail_max_free = i.max_free;
                if (o->verbose)
                    printf("line %lu: %s of %zu bytes failed: %zu bytes free, largest run %zu\n",
                           (unsigned long)op->line, op->kind == OP_ALLOC ? "allocation" : "realloc",
                           n, i.free, i.max_free);
                break;
            }
            if (op->kind == OP_ALLOC || p != *slot) x.since += rounded(op->arg);
            *slot = p;
            size_t used = mpgc_mem_alloc(gc);
            if (used > r->peak_used) r->peak_used = used;
            break;
        }
        case OP_FREE: mpgc_free(gc, *slot); *slot = NULL; break;
        case OP_DEAD: *slot = NULL; break;
        case OP_LINK:
            if (*slot && mpgc_size(gc, *slot) >= sizeof(void *)) *(void **)*slot = roots[op->arg];
            break;
        case OP_UNLINK:
            if (*slot && mpgc_size(gc, *slot) >= sizeof(void *)) *(void **)*slot = NULL;
            break;
        case OP_COLLECT_AUTO:
            if (!o->recorded_collections) break;
            /* fall through */
        case OP_COLLECT:
            collect(&x);
            if (o->verbose && op->kind == OP_COLLECT)
                printf("line %lu: collect\n", (unsigned long)op->line);
            break;
        case OP_THRESHOLD: threshold = op->arg; break;
        case OP_ENABLE: enabled = op->arg != 0; break;
        case OP_INFO:
            if (o->verbose) {
                mpgc_info_t i;
                mpgc_info(gc, &i);
                printf("line %lu: total %zu, used %zu, free %zu, largest free run %zu\n",
                       (unsigned long)op->line, i.total, i.used, i.free, i.max_free);
            }
            break;
        case OP_MAP:
            if (o->verbose) mpgc_dump_alloc_table(gc, out, stdout);
            break;
        }
        if (o->on_op && r->ok) o->on_op(o->ctx, gc, k, op->line);
    }
    if (o->on_end) o->on_end(o->ctx, gc);
    if (!mpgc_check(gc)) r->check_ok = false;
    free(raw);
    free(roots);
    return r->ok;
}
