#!/usr/bin/env python3
"""step-mutants.py [NAME...]: plausible wrong engines for collection in steps.

Each mutant is this tree with one edit to src/ (an exact text replaced). It
is built in its own directory under $TMPDIR (Release, gcc), then
tests/test_step.c and fuzz/fuzz_step.c (the plain driver, 20 000 random
inputs) run on it. Prints, per mutant, test_step's count of failed CHECKs
(and the test functions they are in) and the fuzzer's first failure. A
mutant that neither catches is a hole in the proof (docs/reliability.md,
section 2a); the exit status is the number of such holes. Not a CI stage:
about half a minute per mutant.
"""
import os, re, shutil, subprocess, sys, tempfile

MUTANTS = [
    ("barrier-noop", "src/step.c",
     "if (!white) mpgc_mark_grey(gc, value);", "(void)white;"),
    ("barrier-greys-obj", "src/step.c",
     "if (!white) mpgc_mark_grey(gc, value);", "if (!white) mpgc_mark_grey(gc, obj);"),
    ("barrier-nonalloc-white", "src/step.c",
     "        bool white = false;", "        bool white = !p;"),
    ("alloc-white", "src/alloc.c",
     "        g->mark |= bit;", "        (void)bit;"),
    ("no-root-rescan", "src/collect.c",
     "    mpgc_mark_roots(gc);\n    return end_locked(gc);",
     "    if (cycle_of(gc) == CYCLE_NONE) mpgc_mark_roots(gc);\n    return end_locked(gc);"),
    ("realloc-copy-not-grey", "src/alloc.c",
     "    if (cycle_of(gc) != CYCLE_NONE && !(flags & MPGC_NO_SCAN)) mpgc_mark_push(gc, q);", ""),
    ("large-object-whole", "src/mark.c",
     "        if (budgeted && words >= budget) {", "        if (budgeted && words >= budget && words < 64) {"),
    ("threshold-in-cycle", "src/alloc.c",
     " && cycle_of(gc) == CYCLE_NONE;", ";"),
    ("collect-keeps-cycle", "src/collect.c",
     "    if (cycle_of(gc) != CYCLE_NONE) mpgc_cycle_abort(gc);\n    return true;", "    return true;"),
    ("abort-keeps-marks", "src/step.c",
     "        for (size_t gi = 0; gi < p->ngroups; gi++) p->groups[gi].mark = 0;", ""),
    ("abort-leaks-segments", "src/step.c",
     "    mpgc_ms_discard(gc);\n    mpgc_grey_reset(gc);", "    mpgc_grey_reset(gc);"),
    ("idle-alloc-keeps-cycle", "src/alloc.c",
     "    mpgc_idle_abort(gc);\n    void *m = alloc_unlocked(gc, nb, flags);",
     "    void *m = alloc_unlocked(gc, nb, flags);"),
    ("idle-step-restarts", "src/step.c",
     "if (mode == CYCLE_INCREMENTAL && gc->cycle == CYCLE_IDLE) mpgc_cycle_abort(gc);",
     "if (gc->cycle != CYCLE_NONE && gc->cycle != mode) mpgc_cycle_abort(gc);"),
    ("step-keeps-idle-cycle", "src/step.c",
     "if (mode == CYCLE_INCREMENTAL && gc->cycle == CYCLE_IDLE) mpgc_cycle_abort(gc);", ""),
    ("mark-range-ignored", "src/mark.c",
     "        mpgc_mark_words(gc, lo, hi);\n        gc->grey_only = false;", "        gc->grey_only = false;"),
    ("step-when-locked", "src/step.c",
     "    if (gc->lock_depth == 0) {\n        if (mode", "    if (gc->phase == PHASE_IDLE) {\n        if (mode"),
    ("reserve-ends-cycle", "src/freelist.c",
     "    if (cycle_of(gc) != CYCLE_NONE) return false;\n    if (!(gc->enabled", "    if (!(gc->enabled"),
    ("stale-grey-scanned", "src/mark.c",
     "    *n = checked && !(g->head & ~g->tail & bit_of(b)) ? 0",
     "    *n = false && !(g->head & ~g->tail & bit_of(b)) ? 0"),
    ("final-drain-unchecked", "src/mark.c",
     "    if (cycle_of(gc) != CYCLE_NONE) (void)drain_budget(gc, SIZE_MAX);",
     "    if (0) (void)drain_budget(gc, SIZE_MAX);"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = run(["git", "ls-files"], cwd=root).stdout.split()
    files = [f for f in files if not f.startswith(("bench/traces/", "docs/"))]
    holes = 0
    work = tempfile.mkdtemp(prefix="mpgc-step-mutants.")
    try:
        for name, path, old, new in MUTANTS:
            if len(sys.argv) > 1 and name not in sys.argv[1:]:
                continue
            d = os.path.join(work, name)
            for f in files:
                os.makedirs(os.path.dirname(os.path.join(d, f)), exist_ok=True)
                shutil.copy2(os.path.join(root, f), os.path.join(d, f))
            src = open(os.path.join(d, path)).read()
            if src.count(old) != 1:
                print(f"{name}: the edit does not apply (the engine changed): update the mutant")
                holes += 1
                continue
            open(os.path.join(d, path), "w").write(src.replace(old, new))
            b = os.path.join(d, "b")
            if (run(["cmake", "-S", d, "-B", b, "-DCMAKE_C_COMPILER=gcc", "-DCMAKE_BUILD_TYPE=Release",
                     "-DMPGC_WERROR=OFF"]).returncode or
                    run(["cmake", "--build", b, "-j2", "--target", "test_step", "fuzz_step_driver"]).returncode):
                print(f"{name}: does not build")
                holes += 1
                continue
            out = run([os.path.join(b, "tests", "test_step")], timeout=600).stdout
            summary = out.strip().splitlines()[-1] if out.strip() else "no output"
            where, cur = set(), None
            for line in out.splitlines():
                if line.startswith("-- "):
                    cur = line[3:]
                elif "CHECK" in line and cur:
                    where.add(cur)
            fz = run([os.path.join(b, "fuzz", "fuzz_step_driver"), "-n", "20000"], timeout=600).stdout
            fz = fz.strip().splitlines()[-1] if fz.strip() else "no output"
            caught_t = not re.search(r" 0 failed$", summary)
            caught_f = not fz.endswith("0 failures")
            holes += not (caught_t or caught_f)
            print(f"{name} | test_step: {summary} {sorted(where) if where else ''} | fuzz_step: {fz}", flush=True)
            shutil.rmtree(d)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"step-mutants: {holes} caught by neither")
    return holes


if __name__ == "__main__":
    sys.exit(main())
