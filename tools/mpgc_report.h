/*
 * mpgc_report.h - `mpgc report`: one self-contained HTML file (inline SVG,
 * a little inline JavaScript for zoom, nothing fetched) that draws heap
 * maps from snapshots (mpgc_snapfile.h), the free space over time and the
 * collections of a run, and the same numbers as tables. docs/report.md
 * describes the page and the snapshot format.
 *
 * A run's timeline is filled by whoever drives the heap: the replay of a
 * trace (tools/mpgc.c, through replay_opts_t's observers) or a program
 * such as the demo. Host side: stdio and malloc.
 */
#ifndef MPGC_REPORT_H
#define MPGC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "mpgc.h"
#include "mpgc_snapfile.h"

/* The heap after operation t (bytes). */
typedef struct {
    size_t t;
    size_t used, free, max_free;
} report_point_t;

/* One collection. */
typedef struct {
    size_t t;              /* operations before it */
    unsigned long line;    /* trace line of the operation that ran it (0: none) */
    double pause_us;       /* processor time it took, microseconds */
    size_t objects;        /* objects it freed */
    size_t bytes;          /* bytes it freed */
    size_t free_after, max_after;
} report_gc_t;

typedef struct {
    report_point_t *points;
    size_t npoints, cap_points;
    report_gc_t *gcs;
    size_t ngcs, cap_gcs;
    /* An allocation that failed (request > 0): when, and the heap then. */
    size_t fail_t, fail_request, fail_free, fail_max_free;
    unsigned long fail_line;
    const char *unit;      /* what t counts, for the axis: "operation" */
} report_timeline_t;

/* Appends; false when out of memory. */
bool report_point(report_timeline_t *tl, size_t t, const mpgc_info_t *i);
bool report_gc(report_timeline_t *tl, const report_gc_t *g);
void report_timeline_free(report_timeline_t *tl);

/* A timed, counted collection, sampled into tl (tl may be NULL). */
size_t report_collect(report_timeline_t *tl, mpgc_t *gc, size_t t, unsigned long line);

/* A snapshot taken now into memory and parsed: false if it cannot be. */
bool report_snapshot(mpgc_t *gc, snap_t *out);

#define REPORT_MAX_MAPS 8

typedef struct {
    const char *title;
    const char *inputs;              /* what the report was made from */
    const char *labels[REPORT_MAX_MAPS];
    const snap_t *maps[REPORT_MAX_MAPS];
    size_t nmaps;
    int fail_map;                    /* the map taken at the failure (-1: none) */
    const report_timeline_t *timeline; /* NULL: no run */
} report_t;

/* Writes the page; false if a write failed. */
bool report_write_html(FILE *f, const report_t *r);

#endif /* MPGC_REPORT_H */
