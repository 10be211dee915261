#!/usr/bin/env python3
"""Checks a page of `mpgc report` as a browser drew it (tests/report-browser.sh).

    report_check.py dom PAGE.html DOM.html KIND [ZOOM]
        DOM.html: chromium --dump-dom of PAGE (after the script ran).
        KIND: demo (seed 004's story), trace (a replayed trace that fails),
        snaps (two snapshots side by side). ZOOM: the page was opened with
        #zoom=1,ZOOM: map 1 must be zoomed and its blocks drawn.
    report_check.py png SHOT.png
        the screenshot of the demo page: the states, the outline of the
        largest free run and the chart lines are on screen in their colours.

Prints what it checked; exits 1 on the first failure. Standard library
only (CI installs python3 from Debian, no pip).
"""
import re
import struct
import sys
import zlib
from html.parser import HTMLParser


def fail(msg):
    print("report_check: FAIL: " + msg)
    sys.exit(1)


def ok(msg):
    print("report_check: ok: " + msg)


class Dom(HTMLParser):
    """Every element as (tag, attrs, parents' ids and classes), and text by table."""

    def __init__(self):
        super().__init__()
        self.stack = []
        self.elems = []
        self.tables = {}   # id -> rows of cell texts
        self.table = None
        self.cell = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        ctx = [(t, x.get("id", ""), x.get("class", "")) for t, x in self.stack]
        self.elems.append((tag, a, ctx))
        if tag == "table":
            self.table = a.get("id", "")
            self.tables[self.table] = []
        elif tag == "tr" and self.table is not None:
            self.tables[self.table].append([])
        elif tag in ("td", "th") and self.table is not None:
            self.cell = ""
        void = tag in ("meta", "br", "rect", "line", "circle", "polyline", "polygon", "path")
        if not void:
            self.stack.append((tag, a))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.table is not None:
            self.tables[self.table][-1].append(self.cell.strip())
            self.cell = None
        if tag == "table":
            self.table = None
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def find(self, tag=None, cls=None, within=None):
        """Elements by tag and class; within: the id of an ancestor."""
        out = []
        for t, a, ctx in self.elems:
            if tag and t != tag:
                continue
            if cls and cls not in a.get("class", "").split():
                continue
            if within and not any(i == within for _, i, _ in ctx):
                continue
            out.append(a)
        return out


def number(text):
    return int(re.sub(r"[^0-9]", "", text))


def check_self_contained(page):
    html = open(page, encoding="utf-8").read()
    for pat in (r"<link\b", r"\bsrc\s*=", r"@import", r"url\(", r"fetch\(", r"XMLHttpRequest"):
        if re.search(pat, html):
            fail("%s: loads something from outside (%s)" % (page, pat))
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", html)) - {"http://www.w3.org/2000/svg"}
    if urls:
        fail("%s: names addresses %s" % (page, sorted(urls)))
    ok("%s: self-contained (%d bytes, no external resource)" % (page, len(html)))


def check_maps(d, nmaps):
    maps = d.find("svg", "heap")
    if len(maps) != nmaps:
        fail("%d heap maps drawn, expected %d" % (len(maps), nmaps))
    for m in maps:
        mid = m["id"]
        # free: the pool's background shape; the rest: cells (and zoomed blocks)
        cells = {s: len([a for a in d.find(None, "s%d" % s, mid)]) for s in range(6)}
        heads = cells[1] + cells[3] + cells[4] + cells[5]  # head, no-scan, finaliser, marked
        if cells[0] == 0 or heads == 0 or cells[2] == 0:
            fail("%s: free, head (of any kind) and tail cells expected, got %s" % (mid, cells))
        runs = d.find(None, "run", mid)
        if not 1 <= len(runs) <= 2:
            fail("%s: the largest free run outlined once (1 shape, or 2 pieces), got %d" % (mid, len(runs)))
        if not d.find("g", "largest-run", mid):
            fail("%s: no largest-run group" % mid)
        ok("%s: cells by state %s, largest free run outlined" % (mid, cells))
    return maps


def check_dom(page, dom, kind, zoom):
    check_self_contained(page)
    d = Dom()
    d.feed(open(dom, encoding="utf-8").read())
    if kind == "snaps":
        maps = check_maps(d, 2)
        if [a for a in d.find("section") if a.get("id") in ("over-time", "verdict")]:
            fail("snapshots only: no timeline and no verdict expected")
        marked = d.find(None, "s5", "map1")
        if not marked or d.find(None, "s5", "map0"):
            fail("snaps: map1 (inside a collection) has marked cells, map0 none")
        ok("map1, inside a collection: %d marked cells" % len(marked))
        t = d.tables.get("maps-table")
        if not t or len(t) != 3:
            fail("maps table: a header and 2 rows expected")
        ok("maps table: %d rows" % (len(t) - 1))
    else:
        maps = check_maps(d, 2 if kind == "demo" else 1)
        if not [a for a in d.find("section") if a.get("id") == "verdict"]:
            fail("no verdict section for a failed allocation")
        fail_rows = d.tables.get("fail-table")
        if not fail_rows or len(fail_rows) != 2:
            fail("the failed allocation's table")
        hdr, row = fail_rows
        request, free, run = number(row[2]), number(row[3]), number(row[4])
        if kind == "demo" and not (free >= request > run):
            fail("seed 004: free %d >= request %d > largest run %d expected" % (free, request, run))
        if not run < request:
            fail("a failed allocation: largest run %d < request %d expected" % (run, request))
        ok("failed allocation: request %d B, free %d B, largest free run %d B" % (request, free, run))
        bars = d.find("svg", "bars")
        if len(bars) != 1:
            fail("one pair of run/request bars expected, got %d" % len(bars))
        brun = [a for a in d.find("rect", "bar-run")]
        breq = [a for a in d.find("rect", "bar-req")]
        if len(brun) != 1 or len(breq) != 1:
            fail("the run and request bars")
        wr, wq = float(brun[0]["width"]), float(breq[0]["width"])
        if not 0 < wr < wq or abs(wr / wq - run / request) > 0.05 + 1.0 / request:
            fail("bars: run %.1f px, request %.1f px, not as %d : %d" % (wr, wq, run, request))
        ok("bars to scale: run %.1f px, request %.1f px" % (wr, wq))
        lines = {c: d.find("polyline", c, "free-chart") for c in ("line-free", "line-run", "line-used")}
        for c, l in lines.items():
            if len(l) != 1 or len(l[0]["points"].split()) < 50:
                fail("free chart: %s with at least 50 points expected" % c)
        if len(d.find("circle", "fail", "free-chart")) != 1:
            fail("free chart: the failure marked")
        gc_rows = d.tables.get("gc-table", [])[1:]
        pauses = d.find("rect", "bar-pause", "pause-chart")
        freed = d.find("rect", "bar-freed", "freed-chart")
        ticks = d.find("line", "gc-tick", "free-chart")
        if not gc_rows or not len(gc_rows) == len(pauses) == len(freed) == len(ticks):
            fail("collections: table %d rows, %d pause bars, %d freed bars, %d ticks" %
                 (len(gc_rows), len(pauses), len(freed), len(ticks)))
        if sum(number(r[5]) for r in gc_rows) == 0:
            fail("collections freed nothing")
        ok("%d collections: table rows, pause and freed bars, ticks agree" % len(gc_rows))
    zoomed = [m for m in maps if m.get("data-zoom")]
    if len(zoomed) != len(maps):
        fail("the script did not run on every map (data-zoom)")
    if zoom:
        m = [m for m in maps if m["id"] == "map1"][0]
        if abs(float(m["data-zoom"]) - float(zoom)) > 0.01 or int(m.get("data-detail", "0")) == 0:
            fail("map1 at #zoom=1,%s: zoom %s, %s blocks drawn" % (zoom, m["data-zoom"], m.get("data-detail")))
        if int(m["data-n"]) < 2:
            fail("map1: the zoom test needs more than one block per cell")
        ok("map1 zoomed %sx: %s exact block runs drawn (%s blocks per cell)" %
           (zoom, m["data-detail"], m["data-n"]))
    else:
        for m in maps:
            if m.get("data-detail") != "0":
                fail("%s: unzoomed, yet blocks drawn" % m["id"])


def read_png(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG")
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                fail("PNG: 8-bit RGB or RGBA expected")
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows


def check_png(path):
    w, h, bpp, rows = read_png(path)
    want = {"free #e4e4e4": (0xe4, 0xe4, 0xe4), "head #3a6fb0": (0x3a, 0x6f, 0xb0),
            "tail #8db4e2": (0x8d, 0xb4, 0xe2), "largest run #e0201b": (0xe0, 0x20, 0x1b)}
    count = {k: 0 for k in want}
    for line in rows:
        for x in range(0, w * bpp, bpp):
            px = (line[x], line[x + 1], line[x + 2])
            for k, c in want.items():
                if px == c:
                    count[k] += 1
    for k, n in count.items():
        if n < 300:
            fail("%s: %d pixels of %s, at least 300 expected" % (path, n, k))
    ok("%s (%dx%d): pixels %s" % (path, w, h, count))


def main():
    a = sys.argv[1:]
    if len(a) >= 4 and a[0] == "dom":
        check_dom(a[1], a[2], a[3], a[4] if len(a) > 4 else None)
    elif len(a) == 2 and a[0] == "png":
        check_png(a[1])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
