#!/bin/bash
# perfbench-ab.sh - MicroPython's perf_bench benchmarks on two interpreters,
# alternating, for a wall-clock comparison on a machine whose speed drifts.
#
#   tools/perfbench-ab.sh MP_TESTS_DIR MICROPYTHON_A MICROPYTHON_B [RUNS] [BENCH...]
#
# MP_TESTS_DIR is a MicroPython tree's tests/ directory (it holds
# perf_bench/); A and B are two unix-port executables (e.g. stock and mpgc).
# Each benchmark is fed to the interpreter on stdin as run-perfbench.py
# feeds it (the benchmark, perf_bench/benchrun.py, bm_run(1000, 1000)), so
# the figure is the benchmark's own timing of its run (start-up excluded).
# Every round runs A then B, then B then A in the next round (so neither
# always goes first), RUNS rounds (default 8). Prints per benchmark: the
# median of A and of B in µs, the change B/A - 1, and the spread (min-max)
# of each. Needs only bash, sort and awk.
set -eu
[ $# -ge 3 ] || { sed -n 2,16p "$0"; exit 2; }
tests=$1 a=$2 b=$3 runs=${4:-8}
shift 3; [ $# -gt 0 ] && shift
benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(core_str core_qstr core_yield_from misc_aes misc_mandel misc_pystone)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
one() { # interpreter script -> µs
  (cd "$tests/perf_bench" && "$1" < "$2" | awk 'NF >= 2 { t = $1 } END { print t }')
}
printf "%-24s %10s %10s %8s   %s\n" benchmark "A med µs" "B med µs" "B/A-1" "A min-max / B min-max (µs)"
for bm in "${benches[@]}"; do
  s=$tmp/$bm.py
  { echo "import sys"; echo "sys.path.remove('')" ; cat "$tests/perf_bench/$bm.py" \
      "$tests/perf_bench/benchrun.py"; echo "bm_run(1000, 1000)"; } > "$s"
  : > "$tmp/a"; : > "$tmp/b"
  for r in $(seq "$runs"); do
    if [ $((r % 2)) = 1 ]; then one "$a" "$s" >> "$tmp/a"; one "$b" "$s" >> "$tmp/b"
    else one "$b" "$s" >> "$tmp/b"; one "$a" "$s" >> "$tmp/a"; fi
  done
  med() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
  rng() { sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }
  ma=$(med "$tmp/a") mb=$(med "$tmp/b")
  printf "%-24s %10s %10s %+7.1f%%   %s / %s\n" "$bm" "$ma" "$mb" \
    "$(awk -v a="$ma" -v b="$mb" 'BEGIN { print 100 * (b / a - 1) }')" "$(rng "$tmp/a")" "$(rng "$tmp/b")"
done
