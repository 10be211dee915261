#!/usr/bin/env bash
# Checks the replayer against MicroPython itself: for each program of
# bench/programs/, runs the program in a unix MicroPython built with the
# mpgc adapter (no trace option needed) at 41 heap sizes, replays its
# corpus trace (bench/traces/mp-NAME.trace.gz) at the same sizes, and
# counts the sizes where both survive or both run out of memory; also the
# size each survives from (every larger size tested survives). Neither
# fetches nor builds MicroPython.
#
#   tools/replay-vs-mp.sh MICROPYTHON-BINARY [MPGC-BINARY [POLICY]]
#
# POLICY (default fit) is the replay's; with a stock MicroPython (py/gc.c)
# and first-fit, this asks how well mpgc's first fit stands for MicroPython's
# own heap.
#
# The sizes: every second step of `mpgc replay --sweep auto` (steps of 1/32
# of the trace's peak live bytes), from the peak live bytes up.
set -eu
if [ $# -lt 1 ]; then sed -n 2,16p "$0" >&2; exit 2; fi
MP=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MPGC=${2:-$ROOT/build/mpgc}
POLICY=${3:-fit}
TMP=$(mktemp -d)
# Run as tools/record-mp-corpus.sh records: same directory, binary name and
# environment, so that MicroPython makes the same requests as in the trace.
RUN=/tmp/mpgc-record
rm -rf "$RUN" && mkdir -p "$RUN"
cp "$MP" "$RUN/micropython"
trap 'rm -rf "$TMP" "$RUN"' EXIT
total_a=0; total_d=0
for src in "$ROOT"/bench/programs/*.py; do
  p=$(basename "$src" .py)
  gzip -dc "$ROOT/bench/traces/mp-$p.trace.gz" >"$TMP/$p.trace"
  cp "$src" "$RUN/$p.py"
  read -r lo step < <("$MPGC" replay --kv --sweep auto "$TMP/$p.trace" |
    sed -n 's/.* lo=\([0-9]*\) hi=[0-9]* step=\([0-9]*\).*/\1 \2/p')
  agree=0; differ=""; from_r=""; from_m=""
  for k in $(seq 0 2 80); do
    h=$((lo + k * step))
    r=$("$MPGC" replay --kv --heap "$h" --policy "$POLICY" "$TMP/$p.trace" | sed -n 's/.* ok=\([01]\).*/\1/p')
    if (cd "$RUN" && env -i MICROPYPATH=.frozen ./micropython -X heapsize="$h" "$p.py" >/dev/null 2>&1); then
      m=1; else m=0; fi
    if [ "$r" = 1 ]; then from_r=${from_r:-$h}; else from_r=""; fi
    if [ "$m" = 1 ]; then from_m=${from_m:-$h}; else from_m=""; fi
    if [ "$r" = "$m" ]; then agree=$((agree + 1)); else differ="$differ $h (replay $([ "$r" = 1 ] && echo ok || echo fails), MicroPython $([ "$m" = 1 ] && echo ok || echo fails));"; fi
  done
  n=$(( $(seq 0 2 80 | wc -l) ))
  total_a=$((total_a + agree)); total_d=$((total_d + n - agree))
  echo "$p: $agree of $n sizes agree${differ:+; differ at:$differ}"
  echo "  survives from: MicroPython ${from_m:-none}, replay ${from_r:-none} ($POLICY)"
done
echo "all: $total_a agree, $total_d differ"
