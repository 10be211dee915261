#!/usr/bin/env python3
"""perfbench-ab.py - MicroPython's perf_bench benchmarks on two interpreters,
alternating, for a wall-clock and CPU-time comparison on a machine whose
speed drifts.

  tools/perfbench-ab.py MP_TESTS_DIR MICROPYTHON_A MICROPYTHON_B [--runs 8] [BENCH ...]

MP_TESTS_DIR is a MicroPython tree's tests/ directory (it holds perf_bench/);
A and B are two unix-port executables (e.g. stock and mpgc). Each benchmark
is fed to the interpreter on stdin as run-perfbench.py feeds it (the
benchmark, perf_bench/benchrun.py, bm_run(1000, 1000)). Two figures per run:
  wall  the benchmark's own timing of its run (start-up excluded), what
        run-perfbench.py reports;
  cpu   the process's CPU time, user + system (getrusage of the child, in
        microseconds; start-up included).
On a shared machine the wall clock also counts the time the process waited
for a core; the CPU time does not, so it is the steadier figure there.
Round r runs A then B when r is odd, B then A when even (neither always
first). Prints per benchmark and figure: the median of A and of B, the
change B/A - 1, the median of the per-round ratios B/A - 1, and the
spread (min-max) of each. Default benchmarks: the six of issue 12.
"""
import os, resource, statistics, subprocess, sys

SIX = ["core_str", "core_qstr", "core_yield_from", "misc_aes", "misc_mandel", "misc_pystone"]


def run(interp, script, cwd):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([interp], input=script, cwd=cwd, capture_output=True, text=True).stdout
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    fields = [l.split() for l in out.splitlines() if len(l.split()) >= 2]
    if not fields:
        sys.exit("no timing from %s: %r" % (interp, out[-200:]))
    return float(fields[-1][0]), cpu * 1e6


def main():
    args = sys.argv[1:]
    runs = 8
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i : i + 2]
    if len(args) < 3:
        sys.exit(__doc__)
    tests, a, b = args[:3]
    benches = args[3:] or SIX
    pb = os.path.join(tests, "perf_bench")
    runner = open(os.path.join(pb, "benchrun.py")).read()
    print("%-30s %10s %10s %8s %8s   %s" % ("benchmark, figure", "A median", "B median", "B/A-1", "pairs", "A min-max / B min-max"))
    for bm in benches:
        script = "import sys\nsys.path.remove('')\n" + open(os.path.join(pb, bm + ".py")).read() + runner + "bm_run(1000, 1000)\n"
        fa, fb = [], []
        for r in range(runs):
            if r % 2 == 0:
                fa.append(run(a, script, pb)); fb.append(run(b, script, pb))
            else:
                fb.append(run(b, script, pb)); fa.append(run(a, script, pb))
        for k, name in ((0, "wall µs"), (1, "CPU µs")):
            xa, xb = [f[k] for f in fa], [f[k] for f in fb]
            ma, mb = statistics.median(xa), statistics.median(xb)
            pairs = statistics.median([y / x for x, y in zip(xa, xb)])
            print("%-30s %10.0f %10.0f %+7.1f%% %+7.1f%%   %.0f-%.0f / %.0f-%.0f" % (
                bm + ", " + name, ma, mb, 100 * (mb / ma - 1), 100 * (pairs - 1), min(xa), max(xa), min(xb), max(xb)))
        sys.stdout.flush()


main()
