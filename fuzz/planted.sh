#!/bin/sh
# planted.sh LIMIT PROGRAM [ARG...]: runs a fuzz target built with a planted
# bug (fuzz_step.c, FUZZ_PLANT_MISSING_BARRIER) for at most LIMIT seconds and
# passes only if the fuzzer reports a failure in that time; prints how long
# it took. Used by CTest (the plain driver) and by tests/run-all.sh's fuzz
# stage (libFuzzer). A planted bug that goes unnoticed fails the check.
limit=$1; shift
log=${TMPDIR:-/tmp}/planted.$$.log
start=$(date +%s.%N)
timeout "$limit" "$@" >"$log" 2>&1
rc=$?
end=$(date +%s.%N)
secs=$(echo "$start $end" | awk '{printf "%.1f", $2 - $1}')
msg=$(grep -m1 -E "^fuzz_step: " "$log")
if [ "$rc" -eq 77 ]; then cat "$log"; rm -f "$log"; exit 77; fi # nothing to plant into: skipped
rm -f "$log"
if [ "$rc" -eq 124 ] || [ -z "$msg" ]; then
  echo "planted bug NOT found in ${limit} s (exit $rc)"
  exit 1
fi
echo "planted bug found after ${secs} s: $msg"
