#!/usr/bin/env bash
# Records the MicroPython part of the trace corpus (bench/traces/mp-*.trace.gz)
# with a unix build of MicroPython that has the mpgc adapter and
# MPGC_MP_TRACE=1 (docs/micropython.md builds it; docs/fragmentation.md,
# "Recording", gives the make line). This script neither fetches nor builds
# MicroPython: it runs the given binary.
#
#   tools/record-mp-corpus.sh MICROPYTHON-BINARY MICROPYTHON-TREE [OUT-DIR]
#
# Every program runs in a 512 KiB heap that collects before each allocation
# (MPGC_TRACE_COLLECT_EVERY=0), so each object's death is recorded before
# the next allocation. The perfbench programs are run as
# tests/run-perfbench.py runs them (the benchmark, perf_bench/benchrun.py,
# then bm_run(N, M)), with small N and M so that the traces stay small.
set -eu
if [ $# -lt 2 ]; then
  sed -n 2,14p "$0" >&2
  exit 2
fi
MP=$(realpath "$1")
TREE=$(realpath "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath -m "${3:-$ROOT/bench/traces}")
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# The program runs as NAME.py in /tmp/mpgc-record (the binary copied there
# too), in an empty environment
# with a fixed MICROPYPATH: paths end up in heap objects (sys.path[0] is the
# script's real directory), so the trace would otherwise depend on where
# the repository, the temporary directory and the home directory are.
RUN=/tmp/mpgc-record
rm -rf "$RUN" && mkdir -p "$RUN"
cp "$MP" "$RUN/micropython" # sys.executable is a heap string too
trap 'rm -rf "$TMP" "$RUN"' EXIT
record() { # NAME SCRIPT
  local name=$1 script=$2
  cp "$script" "$RUN/$name.py"
  (cd "$RUN" &&
   env -i MICROPYPATH=.frozen MPGC_TRACE="$TMP/$name.trace" MPGC_TRACE_COLLECT_EVERY=0 \
     ./micropython -X heapsize=512K "$name.py" >"$TMP/$name.out")
  gzip -9n <"$TMP/$name.trace" >"$OUT/mp-$name.trace.gz"
  printf '%-18s %8d lines  %7d bytes gz  (%s)\n' "$name" "$(wc -l <"$TMP/$name.trace")" \
    "$(wc -c <"$OUT/mp-$name.trace.gz")" "$(tail -n 1 "$TMP/$name.out" | cut -c1-40)"
}

perfbench() { # NAME N M
  local name=$1
  cat "$TREE/tests/perf_bench/$name.py" "$TREE/tests/perf_bench/benchrun.py" >"$TMP/$name.py"
  echo "bm_run($2, $3)" >>"$TMP/$name.py"
  record "$name" "$TMP/$name.py"
}

# Programs written for the lab (bench/programs/).
for p in seed004 net_json image_frames asyncio_tasks growing_log; do
  record "$p" "$ROOT/bench/programs/$p.py"
done
# MicroPython's perfbench programs.
perfbench bm_chaos 100 50
perfbench bm_hexiom 100 100
perfbench misc_raytrace 100 100
perfbench bm_wordcount 500 10
perfbench bm_pidigits 100 100
perfbench misc_pystone 100 10
# A few of MicroPython's tests.
for t in misc/rge_sm stress/dict_create stress/gc_trace; do
  n=test_$(basename "$t")
  cp "$TREE/tests/$t.py" "$TMP/$n.py"
  record "$n" "$TMP/$n.py"
done
