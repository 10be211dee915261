#!/usr/bin/env bash
# tests/report-browser.sh - `mpgc report` in a real browser (stage `report`
# of tests/run-all.sh). Usage: tests/report-browser.sh BUILD_DIR [PNG]
#
# With the mpgc program of BUILD_DIR it writes three pages: seed 004's
# story (mpgc demo --report), a recorded trace replayed on a heap too small
# for it, and two snapshots side by side (mpgc map --snapshot; the second
# taken inside a collection, with marked heads). Each page
#  - must pass tidy (Debian's HTML5 validator) without an error or warning;
#  - is loaded in headless chromium, its DOM dumped after the script ran,
#    and checked by tests/report_check.py: the maps, cells of each state,
#    the largest free run outlined, the run/request bars to scale, chart
#    lines, one bar and one table row per collection, the zoom drawing
#    exact blocks (page address #zoom=1,8), nothing loaded from outside;
#  - the demo page is also screenshot, and the picture must show the states,
#    the outline and the lines in their colours.
# PNG: copy the demo's screenshot there (docs/report-seed004.png is made so).
set -eu
B=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PNG=${2:-}
OUT=$B/report-test
rm -rf "$OUT"
mkdir -p "$OUT"
MPGC=$B/mpgc
CHECK="python3 $ROOT/tests/report_check.py"
BROWSER=$(command -v chromium || command -v chromium-browser)
# Root in CI: no sandbox. A profile of our own; no GPU on these machines;
# /tmp instead of a container's small /dev/shm.
browse() {
  "$BROWSER" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --no-first-run \
    --user-data-dir="$OUT/profile" "$@" 2>>"$OUT/chromium.log"
}
validate() {
  if ! tidy -q -e "$1" 2>"$OUT/tidy.log"; then
    echo "report-browser: $1 is not valid HTML (tidy):"; cat "$OUT/tidy.log"; exit 1
  fi
  echo "report-browser: $1: tidy: no errors, no warnings"
}

"$MPGC" demo --report "$OUT/seed004.html" >"$OUT/demo.log"
"$MPGC" record seed004 "$OUT/seed004.trace" 3000 >/dev/null
"$MPGC" report -o "$OUT/trace.html" --heap 24K "$OUT/seed004.trace" >/dev/null
"$MPGC" map 16384 --snapshot "$OUT/small.snap" >/dev/null
"$MPGC" map 1048576 --snapshot "$OUT/large.snap" --marks >/dev/null
"$MPGC" report -o "$OUT/snaps.html" "$OUT/small.snap" "$OUT/large.snap" >/dev/null

for page in seed004 trace snaps; do validate "$OUT/$page.html"; done
browse --dump-dom "file://$OUT/seed004.html" >"$OUT/seed004.dom"
$CHECK dom "$OUT/seed004.html" "$OUT/seed004.dom" demo
browse --dump-dom "file://$OUT/trace.html" >"$OUT/trace.dom"
$CHECK dom "$OUT/trace.html" "$OUT/trace.dom" trace
browse --dump-dom "file://$OUT/snaps.html#zoom=1,8" >"$OUT/snaps.dom"
$CHECK dom "$OUT/snaps.html" "$OUT/snaps.dom" snaps 8
browse --window-size=1100,1040 --screenshot="$OUT/seed004.png" "file://$OUT/seed004.html" >/dev/null
$CHECK png "$OUT/seed004.png"
if [ -n "$PNG" ]; then cp "$OUT/seed004.png" "$PNG"; echo "report-browser: wrote $PNG"; fi
echo "report-browser: 3 pages checked in $("$BROWSER" --version 2>/dev/null | head -n 1)"
