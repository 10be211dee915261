/*
 * mpgc_report.c - the HTML page of `mpgc report` (docs/report.md).
 *
 * Sections, in page order: the verdict (when an allocation failed), the
 * heap maps, free space over time, collections over time, and the tables.
 * All drawing is plain SVG written here; the script at the end only zooms
 * and pans the maps, shows the blocks under the pointer, and draws every
 * block of the cells in view once a map is zoomed past one block per
 * cell (the page stays small: a map has at most MAX_CELLS cells, and the
 * exact states travel as run-length text).
 *
 * Map geometry: every map of a page uses the same blocks per cell, n, so
 * maps are to scale with each other; each pool starts a new row, rows are
 * COLS cells wide. A cell takes the colour of the state most of its blocks
 * are in (n = 1 up to MAX_CELLS blocks: exact).
 */
#include "mpgc_report.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CELLS 16384u  /* per map: 8 KiB to 512 KiB heaps are exact */
#define MAP_W 512         /* px */
#define POOL_LABEL 16     /* px above each pool's rows */
#define POOL_GAP 10
#define BAR_X 170         /* px: where the run and request bars start */

/* ---- the timeline ---------------------------------------------------- */

#define GROW(arr, n, cap)                                                      \
    ((n) < (cap) || grow((void **)&(arr), &(cap), sizeof *(arr)))

static bool grow(void **arr, size_t *cap, size_t size) {
    size_t c = *cap ? 2 * *cap : 256;
    void *p = realloc(*arr, c * size);
    if (!p) return false;
    *arr = p;
    *cap = c;
    return true;
}

bool report_point(report_timeline_t *tl, size_t t, const mpgc_info_t *i) {
    if (!GROW(tl->points, tl->npoints, tl->cap_points)) return false;
    tl->points[tl->npoints++] = (report_point_t){t, i->used, i->free, i->max_free};
    return true;
}

bool report_gc(report_timeline_t *tl, const report_gc_t *g) {
    if (!GROW(tl->gcs, tl->ngcs, tl->cap_gcs)) return false;
    tl->gcs[tl->ngcs++] = *g;
    return true;
}

void report_timeline_free(report_timeline_t *tl) {
    free(tl->points);
    free(tl->gcs);
    memset(tl, 0, sizeof *tl);
}

size_t report_collect(report_timeline_t *tl, mpgc_t *gc, size_t t, unsigned long line) {
    size_t before = mpgc_mem_alloc(gc);
    clock_t c0 = clock();
    size_t objects = mpgc_collect(gc);
    clock_t c1 = clock();
    if (tl) {
        mpgc_info_t i;
        mpgc_info(gc, &i);
        report_gc_t g = {t, line, 1e6 * (double)(c1 - c0) / CLOCKS_PER_SEC, objects,
                         before > i.used ? before - i.used : 0, i.free, i.max_free};
        report_gc(tl, &g);
        report_point(tl, t, &i);
    }
    return objects;
}

typedef struct {
    uint8_t *p;
    size_t n, cap;
} membuf_t;

static bool to_mem(void *ctx, const void *data, size_t n) {
    membuf_t *m = ctx;
    if (m->n + n > m->cap) {
        size_t c = m->cap ? 2 * m->cap : 4096;
        while (c < m->n + n) c *= 2;
        uint8_t *p = realloc(m->p, c);
        if (!p) return false;
        m->p = p;
        m->cap = c;
    }
    memcpy(m->p + m->n, data, n);
    m->n += n;
    return true;
}

bool report_snapshot(mpgc_t *gc, snap_t *out) {
    membuf_t m = {NULL, 0, 0};
    const char *why;
    bool ok = mpgc_snapshot(gc, to_mem, &m) && snap_parse(out, m.p, m.n, &why);
    free(m.p);
    return ok;
}

/* ---- page helpers ------------------------------------------------------ */

static void esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* 1234567 -> "1,234,567" */
static const char *num(size_t v) {
    static char bufs[8][32];
    static unsigned k;
    char *b = bufs[k++ % 8], tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%zu", v), o = 0;
    for (int i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0) b[o++] = ',';
        b[o++] = tmp[i];
    }
    b[o] = '\0';
    return b;
}

/* Bytes for people: 2048 -> "2 KiB", 1536 -> "1.5 KiB", 100 -> "100 B". */
static const char *human(double v) {
    static char bufs[8][32];
    static unsigned k;
    char *b = bufs[k++ % 8];
    if (v < 1024) snprintf(b, 32, "%.0f B", v);
    else if (v < 1024.0 * 1024) snprintf(b, 32, "%.3g KiB", v / 1024);
    else snprintf(b, 32, "%.3g MiB", v / (1024.0 * 1024));
    return b;
}

/* A round step giving about `ticks` ticks up to max. */
static double nice_step(double max, int ticks) {
    double raw = max / ticks, p = 1;
    while (p * 10 <= raw) p *= 10;
    while (p > raw) p /= 10;
    return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

/* ---- heap maps --------------------------------------------------------- */

static const char state_chars[SNAP_NSTATES] = {'.', 'h', '=', 'n', 'f', 'm'};

typedef struct {
    size_t n;       /* blocks per cell */
    unsigned cols;  /* cells per row */
    unsigned cell;  /* px */
} geom_t;

static size_t pool_rows(const geom_t *g, size_t nblocks) {
    size_t cells = (nblocks + g->n - 1) / g->n;
    return (cells + g->cols - 1) / g->cols;
}

static size_t map_height(const geom_t *g, const snap_t *s) {
    size_t h = 0;
    for (size_t i = 0; i < s->npools; i++)
        h += POOL_LABEL + pool_rows(g, s->pools[i].nblocks) * g->cell + POOL_GAP;
    return h;
}

/* How cell c of pool p is drawn: 0 when all its blocks are free (the
 * pool's free background shows), else 8 * level + state: the state most
 * of its used blocks are in, and level 1..4 the quarters of its blocks in
 * use, rounded up (drawn more transparent over the free background, so a
 * half-free cell looks half free). */
static unsigned cell_state(const geom_t *g, const snap_pool_t *p, size_t c) {
    size_t count[SNAP_NSTATES] = {0}, lo = c * g->n, hi = lo + g->n;
    if (hi > p->nblocks) hi = p->nblocks;
    for (size_t b = lo; b < hi; b++) count[snap_state(p->bits[b])]++;
    size_t used = (hi - lo) - count[SNAP_S_FREE];
    if (!used) return 0;
    unsigned best = 1;
    for (unsigned s = 2; s < SNAP_NSTATES; s++)
        if (count[s] > count[best]) best = s;
    return 8 * (unsigned)((4 * used + (hi - lo) - 1) / (hi - lo)) + best;
}

/* Outlines blocks [b, e) of a pool whose first row is at y0: one shape
 * around the cells they span, however many rows (a rect, or the polygon
 * of a first partial row, full rows and a last partial row). */
static void outline(FILE *f, const geom_t *g, size_t y0, size_t b, size_t e, const char *cls) {
    size_t a = b / g->n, z = (e - 1) / g->n + 1, c = g->cell, W = g->cols * c;
    size_t r0 = a / g->cols, r1 = (z - 1) / g->cols;
    size_t xa = (a % g->cols) * c, xe = ((z - 1) % g->cols + 1) * c;
    size_t ya = y0 + r0 * c, yz = y0 + r1 * c;
    if (r0 == r1) {
        fprintf(f, "<rect class=\"%s\" x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"%zu\"/>\n", cls, xa,
                ya, xe - xa, c);
    } else if (r1 == r0 + 1 && xe <= xa) { /* two pieces that do not touch */
        fprintf(f, "<rect class=\"%s\" x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"%zu\"/>\n", cls, xa,
                ya, W - xa, c);
        fprintf(f, "<rect class=\"%s\" x=\"0\" y=\"%zu\" width=\"%zu\" height=\"%zu\"/>\n", cls, yz,
                xe, c);
    } else {
        fprintf(f, "<polygon class=\"%s\" points=\"%zu,%zu %zu,%zu %zu,%zu %zu,%zu %zu,%zu 0,%zu 0,%zu %zu,%zu\"/>\n",
                cls, xa, ya, W, ya, W, yz, xe, yz, xe, yz + c, yz + c, ya + c, xa, ya + c);
    }
}

static void write_map(FILE *f, const report_t *r, size_t k, const geom_t *g) {
    const snap_t *s = r->maps[k];
    snap_sum_t sum;
    snap_summary(s, &sum);
    size_t B = s->block_bytes, h = map_height(g, s);
    fprintf(f, "<figure class=\"map\">\n<figcaption><b>");
    esc(f, r->labels[k]);
    fprintf(f, "</b><br>%s used, %s free; largest free run <span class=\"run-text\">%s</span> "
               "in %s free runs%s</figcaption>\n",
            human((double)(sum.used * B)), human((double)(sum.free * B)),
            human((double)(sum.run * B)), num(sum.runs),
            s->in_collection ? "; taken inside a collection (marks shown)" : "");
    fprintf(f, "<svg class=\"heap\" id=\"map%zu\" data-n=\"%zu\" data-cols=\"%u\" data-cell=\"%u\" "
               "viewBox=\"0 0 %d %zu\" width=\"%d\" height=\"%zu\" role=\"img\" aria-label=\"heap map\">\n",
            k, g->n, g->cols, g->cell, MAP_W, h, MAP_W, h);
    size_t y = 0, run_y0 = 0;
    for (size_t pi = 0; pi < s->npools; pi++) {
        const snap_pool_t *p = &s->pools[pi];
        fprintf(f, "<text class=\"pool-label\" x=\"0\" y=\"%zu\">pool %zu at 0x%llx: %s blocks of %zu B "
                   "(%s)</text>\n",
                y + POOL_LABEL - 4, pi, (unsigned long long)p->base, num(p->nblocks), B,
                human((double)(p->nblocks * B)));
        size_t y0 = y + POOL_LABEL, cells = (p->nblocks + g->n - 1) / g->n;
        fprintf(f, "<g class=\"cells\" data-pool=\"%zu\" data-y=\"%zu\">\n", pi, y0);
        outline(f, g, y0, 0, p->nblocks, "s0"); /* free, under the rest */
        /* One rect per row segment of used cells drawn alike. */
        for (size_t c = 0; c < cells;) {
            unsigned st = cell_state(g, p, c);
            size_t e = c + 1, rowend = (c / g->cols + 1) * g->cols;
            while (e < cells && e < rowend && cell_state(g, p, e) == st) e++;
            if (st)
                fprintf(f, "<rect class=\"s%u%s\" x=\"%zu\" y=\"%zu\" width=\"%zu\" height=\"%u\"/>\n",
                        st % 8, st / 8 == 4 ? "" : st / 8 == 3 ? " q3" : st / 8 == 2 ? " q2" : " q1",
                        (c % g->cols) * g->cell, y0 + (c / g->cols) * g->cell, (e - c) * g->cell, g->cell);
            c = e;
        }
        fprintf(f, "</g>\n");
        if (pi == sum.run_pool) run_y0 = y0;
        y = y0 + pool_rows(g, p->nblocks) * g->cell + POOL_GAP;
    }
    /* The script's exact blocks go under the outline. */
    fprintf(f, "<g class=\"detail\"></g>\n");
    if (sum.run) {
        fprintf(f, "<g class=\"largest-run\">\n");
        outline(f, g, run_y0, sum.run_start, sum.run_start + sum.run, "run");
        fprintf(f, "</g>\n");
    }
    fprintf(f, "</svg>\n");
    /* Scale bars: the largest free run against the failed request. */
    size_t req = (int)k == r->fail_map && r->timeline ? r->timeline->fail_request : 0;
    if (req) {
        size_t req_blocks = (req + B - 1) / B;
        /* Same length per block for both; the longer fills the space. */
        double wr = (double)sum.run, wq = (double)req_blocks, room = MAP_W - BAR_X - 2;
        double scale = room / (wr > wq ? wr : wq);
        fprintf(f, "<svg class=\"bars\" viewBox=\"0 0 %d 44\" width=\"%d\" height=\"44\" role=\"img\" "
                   "aria-label=\"largest free run against the request\">\n"
                   "<text x=\"0\" y=\"13\">largest free run %s</text>"
                   "<rect class=\"bar-run\" x=\"%d\" y=\"3\" width=\"%.1f\" height=\"13\"/>\n"
                   "<text x=\"0\" y=\"35\">request %s</text>"
                   "<rect class=\"bar-req\" x=\"%d\" y=\"25\" width=\"%.1f\" height=\"13\"/>\n</svg>\n",
                MAP_W, MAP_W, human((double)(sum.run * B)), BAR_X, wr * scale,
                human((double)(req_blocks * B)), BAR_X, wq * scale);
    }
    /* The exact states, for the script: per pool, runs as <char><count>. */
    fprintf(f, "<script type=\"application/json\" id=\"map%zu-data\">{\"pools\":[", k);
    for (size_t pi = 0; pi < s->npools; pi++) {
        const snap_pool_t *p = &s->pools[pi];
        fprintf(f, "%s{\"base\":\"0x%llx\",\"blocks\":%zu,\"rle\":\"", pi ? "," : "",
                (unsigned long long)p->base, p->nblocks);
        for (size_t b = 0; b < p->nblocks;) {
            unsigned st = snap_state(p->bits[b]);
            size_t e = b + 1;
            while (e < p->nblocks && snap_state(p->bits[e]) == st) e++;
            fprintf(f, "%c%zu", state_chars[st], e - b);
            b = e;
        }
        fprintf(f, "\"}");
    }
    fprintf(f, "],\"block\":%zu}</script>\n</figure>\n", B);
}

static void write_legend(FILE *f) {
    fprintf(f, "<p class=\"legend\">");
    for (unsigned s = 0; s < SNAP_NSTATES; s++)
        fprintf(f, "<span><svg width=\"12\" height=\"12\"><rect class=\"s%u\" width=\"12\" height=\"12\"/>"
                   "</svg> %s</span> ",
                s, snap_state_names[s]);
    fprintf(f, "<span><svg width=\"12\" height=\"12\"><rect class=\"run\" x=\"1\" y=\"1\" width=\"10\" "
               "height=\"10\"/></svg> largest free run</span></p>\n");
}

/* ---- charts ------------------------------------------------------------ */

#define CH_X 70
#define CH_W 800
#define CH_H 180
#define CH_TOP 12

typedef struct {
    double tmax, ymax;
} scale_t;

static double sx(const scale_t *s, double t) { return CH_X + CH_W * (s->tmax > 0 ? t / s->tmax : 0); }
static double sy(const scale_t *s, double v) { return CH_TOP + CH_H * (1 - (s->ymax > 0 ? v / s->ymax : 0)); }

static void axes(FILE *f, const scale_t *s, const char *xlabel, const char *ylabel, bool bytes) {
    fprintf(f, "<g class=\"axes\">\n<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
               "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
            CH_X, CH_TOP + CH_H, CH_X + CH_W, CH_TOP + CH_H, CH_X, CH_TOP, CH_X, CH_TOP + CH_H);
    double ys = nice_step(s->ymax, 4);
    for (double v = 0; v <= s->ymax * 1.0001 && ys > 0; v += ys)
        fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                CH_X, sy(s, v), CH_X + CH_W, sy(s, v), CH_X - 4, sy(s, v) + 4,
                bytes ? human(v) : num((size_t)v));
    double xs = nice_step(s->tmax > 0 ? s->tmax : 1, 8);
    for (double t = 0; t <= s->tmax * 1.0001 && xs > 0; t += xs)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", sx(s, t),
                CH_TOP + CH_H + 14, num((size_t)t));
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>"
               "<text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" text-anchor=\"middle\">%s</text>\n</g>\n",
            CH_X + CH_W / 2, CH_TOP + CH_H + 30, xlabel, CH_TOP + CH_H / 2, CH_TOP + CH_H / 2, ylabel);
}

static void polyline(FILE *f, const scale_t *s, const report_timeline_t *tl, const char *cls,
                     size_t which) {
    fprintf(f, "<polyline class=\"%s\" points=\"", cls);
    for (size_t i = 0; i < tl->npoints; i++) {
        const report_point_t *p = &tl->points[i];
        double v = (double)(which == 0 ? p->free : which == 1 ? p->max_free : p->used);
        fprintf(f, "%.1f,%.1f ", sx(s, (double)p->t), sy(s, v));
    }
    fprintf(f, "\"/>\n");
}

static size_t tl_tmax(const report_timeline_t *tl) {
    size_t m = 1;
    for (size_t i = 0; i < tl->npoints; i++)
        if (tl->points[i].t > m) m = tl->points[i].t;
    for (size_t i = 0; i < tl->ngcs; i++)
        if (tl->gcs[i].t > m) m = tl->gcs[i].t;
    return tl->fail_request && tl->fail_t > m ? tl->fail_t : m;
}

static void write_free_chart(FILE *f, const report_timeline_t *tl) {
    scale_t s = {(double)tl_tmax(tl), 1};
    for (size_t i = 0; i < tl->npoints; i++) {
        double tot = (double)(tl->points[i].used + tl->points[i].free);
        if (tot > s.ymax) s.ymax = tot;
    }
    if ((double)tl->fail_request > s.ymax) s.ymax = (double)tl->fail_request;
    fprintf(f, "<svg class=\"chart\" id=\"free-chart\" viewBox=\"0 0 900 240\" width=\"900\" height=\"240\" "
               "role=\"img\" aria-label=\"free space over time\">\n");
    axes(f, &s, tl->unit ? tl->unit : "operation", "bytes", true);
    for (size_t i = 0; i < tl->ngcs; i++)
        fprintf(f, "<line class=\"gc-tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
                sx(&s, (double)tl->gcs[i].t), CH_TOP + CH_H, sx(&s, (double)tl->gcs[i].t), CH_TOP + CH_H - 6);
    polyline(f, &s, tl, "line-used", 2);
    polyline(f, &s, tl, "line-free", 0);
    polyline(f, &s, tl, "line-run", 1);
    if (tl->fail_request) {
        double x = sx(&s, (double)tl->fail_t);
        fprintf(f, "<line class=\"req\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                   "<text class=\"req-text\" x=\"%d\" y=\"%.1f\">request %s</text>\n"
                   "<circle class=\"fail\" cx=\"%.1f\" cy=\"%.1f\" r=\"5\"/>"
                   "<circle class=\"fail-free\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\"/>"
                   "<text class=\"req-text\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">failed here</text>\n",
                CH_X, sy(&s, (double)tl->fail_request), CH_X + CH_W, sy(&s, (double)tl->fail_request),
                CH_X + 4, sy(&s, (double)tl->fail_request) - 4, human((double)tl->fail_request), x,
                sy(&s, (double)tl->fail_max_free), x, sy(&s, (double)tl->fail_free), x - 8,
                sy(&s, (double)tl->fail_max_free) - 8);
    }
    fprintf(f, "</svg>\n<p class=\"legend\"><span class=\"k-free\">&#9644; total free</span> "
               "<span class=\"k-run\">&#9644; largest free run</span> <span class=\"k-used\">&#9644; used</span> "
               "<span class=\"k-gc\">| a collection</span>%s</p>\n",
            tl->fail_request ? " <span class=\"k-req\">- - the failed request</span>" : "");
}

static void bars(FILE *f, const report_timeline_t *tl, const char *id, const char *what, bool pause) {
    scale_t s = {(double)tl_tmax(tl), 0};
    for (size_t i = 0; i < tl->ngcs; i++) {
        double v = pause ? tl->gcs[i].pause_us : (double)tl->gcs[i].bytes;
        if (v > s.ymax) s.ymax = v;
    }
    if (s.ymax <= 0) s.ymax = 1;
    double w = CH_W / (double)(tl->ngcs + 1) * 0.6;
    if (w < 1) w = 1;
    if (w > 14) w = 14;
    fprintf(f, "<svg class=\"chart\" id=\"%s\" viewBox=\"0 0 900 240\" width=\"900\" height=\"240\" "
               "role=\"img\" aria-label=\"%s\">\n", id, what);
    axes(f, &s, tl->unit ? tl->unit : "operation", what, !pause);
    for (size_t i = 0; i < tl->ngcs; i++) {
        double v = pause ? tl->gcs[i].pause_us : (double)tl->gcs[i].bytes;
        fprintf(f, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>\n",
                pause ? "bar-pause" : "bar-freed", sx(&s, (double)tl->gcs[i].t) - w / 2, sy(&s, v), w,
                CH_TOP + CH_H - sy(&s, v));
    }
    fprintf(f, "</svg>\n");
}

/* ---- tables ------------------------------------------------------------ */

#define MAX_ROWS 1000 /* collections listed; the charts show them all */

static void write_tables(FILE *f, const report_t *r) {
    fprintf(f, "<h3>Heap maps</h3>\n<table id=\"maps-table\">\n<thead><tr><th>map</th><th>pools</th>"
               "<th>blocks</th><th>block</th><th>total</th><th>used</th><th>free</th>"
               "<th>largest free run</th><th>free runs</th><th>objects</th>");
    for (unsigned s = 0; s < SNAP_NSTATES; s++) fprintf(f, "<th>%s blocks</th>", snap_state_names[s]);
    fprintf(f, "</tr></thead>\n<tbody>\n");
    for (size_t k = 0; k < r->nmaps; k++) {
        snap_sum_t sum;
        snap_summary(r->maps[k], &sum);
        size_t B = r->maps[k]->block_bytes;
        fprintf(f, "<tr><td>");
        esc(f, r->labels[k]);
        fprintf(f, "</td><td>%zu</td><td>%s</td><td>%zu B</td><td>%s B</td><td>%s B</td><td>%s B</td>"
                   "<td>%s B</td><td>%s</td><td>%s</td>",
                r->maps[k]->npools, num(sum.total), B, num(sum.total * B), num(sum.used * B),
                num(sum.free * B), num(sum.run * B), num(sum.runs), num(sum.objects));
        for (unsigned s = 0; s < SNAP_NSTATES; s++) fprintf(f, "<td>%s</td>", num(sum.count[s]));
        fprintf(f, "</tr>\n");
    }
    fprintf(f, "</tbody>\n</table>\n");
    const report_timeline_t *tl = r->timeline;
    if (!tl) return;
    if (tl->fail_request)
        fprintf(f, "<h3>The failed allocation</h3>\n<table id=\"fail-table\">\n<thead><tr><th>%s</th>"
                   "<th>trace line</th><th>request</th><th>free</th><th>largest free run</th></tr></thead>\n"
                   "<tbody><tr><td>%s</td><td>%lu</td><td>%s B</td><td>%s B</td><td>%s B</td></tr></tbody>\n"
                   "</table>\n",
                tl->unit ? tl->unit : "operation", num(tl->fail_t), tl->fail_line, num(tl->fail_request),
                num(tl->fail_free), num(tl->fail_max_free));
    fprintf(f, "<h3>Collections</h3>\n<table id=\"gc-table\">\n<thead><tr><th>#</th><th>%s</th>"
               "<th>trace line</th><th>pause (&micro;s)</th><th>objects freed</th><th>bytes freed</th>"
               "<th>free after</th><th>largest free run after</th></tr></thead>\n<tbody>\n",
            tl->unit ? tl->unit : "operation");
    for (size_t i = 0; i < tl->ngcs && i < MAX_ROWS; i++) {
        const report_gc_t *g = &tl->gcs[i];
        fprintf(f, "<tr><td>%zu</td><td>%s</td><td>%lu</td><td>%.1f</td><td>%s</td><td>%s</td><td>%s</td>"
                   "<td>%s</td></tr>\n",
                i + 1, num(g->t), g->line, g->pause_us, num(g->objects), num(g->bytes),
                num(g->free_after), num(g->max_after));
    }
    if (tl->ngcs > MAX_ROWS)
        fprintf(f, "<tr><td colspan=\"8\">&hellip; %s more collections (in the charts)</td></tr>\n",
                num(tl->ngcs - MAX_ROWS));
    fprintf(f, "</tbody>\n</table>\n");
}

/* ---- the page ---------------------------------------------------------- */

static const char *const style =
    "body{font:14px/1.4 sans-serif;margin:16px;color:#222;background:#fff}"
    "h1{font-size:20px}h2{font-size:17px;margin-top:24px}h3{font-size:15px}"
    ".maps{display:flex;flex-wrap:wrap;gap:24px}figure.map{margin:0}"
    "figcaption{margin-bottom:4px;max-width:512px}"
    "svg.heap{border:1px solid #999;cursor:crosshair;display:block}"
    ".s0{fill:#e4e4e4}.s1{fill:#3a6fb0}.s2{fill:#8db4e2}.s3{fill:#c9b037}.s4{fill:#a23b72}.s5{fill:#2a9d3a}"
    ".q1{fill-opacity:.3}.q2{fill-opacity:.5}.q3{fill-opacity:.75}"
    ".run{fill:#e0201b;fill-opacity:.12;stroke:#e0201b;stroke-width:2.5}.run-text{color:#e0201b;font-weight:bold}"
    ".pool-label{font-size:11px;fill:#444}"
    ".legend span{margin-right:14px;white-space:nowrap}.legend svg{vertical-align:middle}"
    ".bar-run{fill:#e0201b}.bar-req{fill:#333}svg.bars text{font-size:12px}"
    ".verdict{border-left:6px solid #e0201b;background:#fdf0f0;padding:8px 12px;max-width:1040px}"
    ".axes line{stroke:#444}.axes .grid{stroke:#ddd}.axes text,.req-text{font-size:11px;fill:#333}"
    "polyline{fill:none;stroke-width:2}.line-free{stroke:#3a6fb0;stroke-width:4.5}.line-run{stroke:#e0201b}"
    ".line-used{stroke:#aaa;stroke-dasharray:3 2}.gc-tick{stroke:#2a9d3a;stroke-width:1.5}"
    ".req{stroke:#333;stroke-dasharray:6 4}.fail{fill:#e0201b}.fail-free{fill:#3a6fb0}"
    ".k-free{color:#3a6fb0}.k-run{color:#e0201b}.k-used{color:#999}.k-gc{color:#2a9d3a}"
    ".bar-pause{fill:#7a4fb0}.bar-freed{fill:#2a9d3a}"
    "table{border-collapse:collapse;margin-bottom:12px}td,th{border:1px solid #ccc;padding:2px 6px;"
    "text-align:right}td:first-child,th:first-child{text-align:left}"
    "#tip{position:fixed;pointer-events:none;background:#fff;border:1px solid #888;padding:4px 6px;"
    "font-size:12px;display:none;white-space:pre}";

/* Zoom (wheel), pan (drag), reset (double click), the blocks under the
 * pointer, and every block of the cells in view once zoomed in. A page
 * address ending in #zoom=K,Z zooms map K by Z at its top left (the CI
 * test uses it). */
static const char *const script =
    "(function(){\n"
    "var tip=document.getElementById('tip'),C='.h=nfm',N=['free','head','tail','no-scan','finaliser','marked'];\n"
    "function pools(svg){if(svg._p)return svg._p;var d=JSON.parse(document.getElementById(svg.id+'-data').textContent);\n"
    " var gs=svg.querySelectorAll('g.cells');d.pools.forEach(function(p,i){var a=new Uint8Array(p.blocks),k=0,\n"
    "  re=/([.h=nfm])(\\d+)/g,m;while((m=re.exec(p.rle))){var s=C.indexOf(m[1]);for(var j=0;j<+m[2];j++)a[k++]=s;}\n"
    "  p.st=a;p.y=+gs[i].getAttribute('data-y');});svg._p=d;return d;}\n"
    "function geo(svg){return{n:+svg.dataset.n,cols:+svg.dataset.cols,cell:+svg.dataset.cell}}\n"
    "function view(svg){var v=svg.getAttribute('viewBox').split(' ').map(Number);return v;}\n"
    "function setView(svg,v){svg.setAttribute('viewBox',v.join(' '));detail(svg);}\n"
    "function detail(svg){var g=geo(svg),v=view(svg),out=svg.querySelector('g.detail');out.textContent='';\n"
    " var zoom=svg._w0/v[2];svg.dataset.zoom=zoom.toFixed(2);if(g.n<2||zoom<2){svg.dataset.detail=0;return;}\n"
    " var d=pools(svg),ns='http://www.w3.org/2000/svg',count=0,bw=g.cell/g.n;\n"
    " d.pools.forEach(function(p){var rows=Math.ceil(Math.ceil(p.blocks/g.n)/g.cols);\n"
    "  for(var r=0;r<rows;r++){var y=p.y+r*g.cell;if(y+g.cell<v[1]||y>v[1]+v[3])continue;\n"
    "   var c0=Math.max(0,Math.floor(v[0]/g.cell)),c1=Math.min(g.cols,Math.ceil((v[0]+v[2])/g.cell));\n"
    "   var b=(r*g.cols+c0)*g.n,e=Math.min(p.blocks,(r*g.cols+c1)*g.n);\n"
    "   while(b<e&&count<20000){var s=p.st[b],f=b+1;while(f<e&&p.st[f]==s)f++;\n"
    "    var el=document.createElementNS(ns,'rect');el.setAttribute('class','s'+s);\n"
    "    el.setAttribute('x',(b-r*g.cols*g.n)*bw);el.setAttribute('y',y);el.setAttribute('width',(f-b)*bw);\n"
    "    el.setAttribute('height',g.cell);out.appendChild(el);count++;b=f;}}});\n"
    " svg.dataset.detail=count;}\n"
    "function at(svg,ev){var pt=svg.createSVGPoint();pt.x=ev.clientX;pt.y=ev.clientY;\n"
    " return pt.matrixTransform(svg.getScreenCTM().inverse());}\n"
    "document.querySelectorAll('svg.heap').forEach(function(svg){var v0=view(svg);svg._w0=v0[2];\n"
    " svg.addEventListener('wheel',function(ev){ev.preventDefault();var p=at(svg,ev),v=view(svg),\n"
    "  k=ev.deltaY<0?0.8:1.25;var w=Math.min(v0[2],v[2]*k),h=Math.min(v0[3],v[3]*k);\n"
    "  setView(svg,[p.x-(p.x-v[0])*w/v[2],p.y-(p.y-v[1])*h/v[3],w,h]);},{passive:false});\n"
    " var drag=null;svg.addEventListener('mousedown',function(ev){drag={x:ev.clientX,y:ev.clientY,v:view(svg)};});\n"
    " window.addEventListener('mouseup',function(){drag=null;});\n"
    " svg.addEventListener('dblclick',function(){setView(svg,v0.slice());});\n"
    " svg.addEventListener('mousemove',function(ev){if(drag){var s=drag.v[2]/svg.clientWidth;\n"
    "   setView(svg,[drag.v[0]-(ev.clientX-drag.x)*s,drag.v[1]-(ev.clientY-drag.y)*s,drag.v[2],drag.v[3]]);return;}\n"
    "  var p=at(svg,ev),g=geo(svg),d=pools(svg),txt='';d.pools.forEach(function(q,i){var r=Math.floor((p.y-q.y)/g.cell),\n"
    "   c=Math.floor(p.x/g.cell);if(r<0||c<0||c>=g.cols)return;var b=(r*g.cols+c)*g.n;if(b>=q.blocks)return;\n"
    "   var e=Math.min(q.blocks,b+g.n),cnt=[0,0,0,0,0,0];for(var j=b;j<e;j++)cnt[q.st[j]]++;\n"
    "   txt='pool '+i+', blocks '+b+(e-b>1?'-'+(e-1):'')+' at +'+(b*d.block)+' B';\n"
    "   cnt.forEach(function(n,s){if(n)txt+='\\n'+N[s]+': '+n;});});\n"
    "  tip.style.display=txt?'block':'none';tip.textContent=txt;tip.style.left=(ev.clientX+14)+'px';\n"
    "  tip.style.top=(ev.clientY+14)+'px';});\n"
    " svg.addEventListener('mouseleave',function(){tip.style.display='none';});detail(svg);});\n"
    "var m=/#zoom=(\\d+),([\\d.]+)/.exec(location.hash);if(m){var s=document.getElementById('map'+m[1]);\n"
    " if(s){var v=view(s),z=+m[2];setView(s,[0,0,v[2]/z,v[3]/z]);}}\n"
    "})();\n";

bool report_write_html(FILE *f, const report_t *r) {
    const report_timeline_t *tl = r->timeline;
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    esc(f, r->title ? r->title : "mpgc heap report");
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", style);
    esc(f, r->title ? r->title : "mpgc heap report");
    fprintf(f, "</h1>\n<p class=\"inputs\">From ");
    esc(f, r->inputs);
    fprintf(f, ". Made by <code>mpgc report</code> (docs/report.md).</p>\n");
    if (tl && tl->fail_request) {
        const snap_t *fm = r->fail_map >= 0 ? r->maps[r->fail_map] : NULL;
        snap_sum_t sum;
        if (fm) snap_summary(fm, &sum);
        fprintf(f, "<section class=\"verdict\" id=\"verdict\">\n<h2>Why the allocation failed</h2>\n"
                   "<p>An allocation of <b>%s</b> failed at %s %s",
                human((double)tl->fail_request), tl->unit ? tl->unit : "operation", num(tl->fail_t));
        if (tl->fail_line) fprintf(f, " (trace line %s)", num(tl->fail_line));
        if (tl->fail_free >= tl->fail_request)
            fprintf(f, ". <b>%s</b> were free in total, more than the request, but the largest free "
                       "run was only <b class=\"run-text\">%s</b>, and an allocation needs one run of "
                       "consecutive free blocks: the heap is fragmented.",
                    human((double)tl->fail_free), human((double)tl->fail_max_free));
        else
            fprintf(f, ". Only <b>%s</b> were free in total, less than the request: the heap is too "
                       "small for what the program holds (the largest free run was "
                       "<b class=\"run-text\">%s</b>).",
                    human((double)tl->fail_free), human((double)tl->fail_max_free));
        if (fm)
            fprintf(f, " Live objects cut the free space into %s runs (map below: the largest is outlined "
                       "in red; the bars under it compare it with the request).",
                    num(sum.runs));
        fprintf(f, "</p>\n</section>\n");
    }
    if (r->nmaps) {
        size_t maxb = 0;
        for (size_t k = 0; k < r->nmaps; k++) {
            size_t t = 0;
            for (size_t i = 0; i < r->maps[k]->npools; i++) t += r->maps[k]->pools[i].nblocks;
            if (t > maxb) maxb = t;
        }
        geom_t g;
        g.n = (maxb + MAX_CELLS - 1) / MAX_CELLS;
        if (g.n < 1) g.n = 1;
        size_t cells = (maxb + g.n - 1) / g.n;
        g.cols = cells <= 512 ? 32 : cells <= 2048 ? 64 : 128;
        g.cell = MAP_W / g.cols;
        fprintf(f, "<section id=\"maps\">\n<h2>Heap map%s</h2>\n<p>One cell per %s block%s (%s each), "
                   "coloured by the state of most of its used blocks, paler the more of its blocks are "
                   "free (a quarter used or less: palest); each pool from its lowest address, "
                   "left to right, top to bottom. Wheel: zoom (past one block per cell every block is "
                   "drawn), drag: pan, double click: reset; the pointer shows the blocks under it.</p>\n",
                r->nmaps > 1 ? "s, side by side" : "", num(g.n), g.n > 1 ? "s" : "",
                human((double)r->maps[0]->block_bytes));
        write_legend(f);
        fprintf(f, "<div class=\"maps\">\n");
        for (size_t k = 0; k < r->nmaps; k++) write_map(f, r, k, &g);
        fprintf(f, "</div>\n</section>\n");
    }
    if (tl) {
        fprintf(f, "<section id=\"over-time\">\n<h2>Free space over time</h2>\n"
                   "<p>Total free bytes against the largest free run, after every operation sampled; "
                   "the gap between the two lines is fragmentation.</p>\n");
        write_free_chart(f, tl);
        fprintf(f, "</section>\n<section id=\"collections\">\n<h2>Collections over time</h2>\n");
        if (tl->ngcs) {
            fprintf(f, "<p>%s collections: when each ran, how long it took (processor time on the "
                       "machine that ran the heap) and what it freed.</p>\n",
                    num(tl->ngcs));
            bars(f, tl, "pause-chart", "pause (\xc2\xb5s)", true);
            bars(f, tl, "freed-chart", "bytes freed", false);
        } else {
            fprintf(f, "<p>No collection ran.</p>\n");
        }
        fprintf(f, "</section>\n");
    }
    fprintf(f, "<section id=\"numbers\">\n<h2>The numbers</h2>\n");
    write_tables(f, r);
    fprintf(f, "</section>\n<div id=\"tip\"></div>\n<script>\n%s</script>\n</body>\n</html>\n", script);
    return !ferror(f);
}
