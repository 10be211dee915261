#!/usr/bin/env python3
"""mp-gc-split.py - how a MicroPython unix build's collections divide between
marking and sweeping, without patching MicroPython: perf's cpu-clock samples
(4 kHz) over a run of a pause script, each attributed to its function.

  tools/mp-gc-split.py MICROPYTHON HEAPSIZE SCRIPT [ARGS...]
  e.g. tools/mp-gc-split.py build/micropython 32M bench/programs/pause_lists.py 30

MICROPYTHON must have its symbols (the unix port built with `STRIP=`).
py/gc.c inlines its sweep and overflow recovery into gc_collect_end, so its
samples are attributed to the innermost inlined function (addr2line -i,
from the debug information `STRIP=` also turns on); mpgc's collector keeps
its mark and sweep functions out of line, so its samples are attributed by
symbol. Marking: names with mark, scan_object, scan_pending, drain, visit,
rescan, ms_spill, ms_refill, deal_with_stack_overflow, collect_root,
collect_start or trace_contents;
sweeping: names with sweep. Prints the two shares of their sum, the number
of samples, and the script's own output. Needs perf (software events only)
and binutils. Every collection of the run counts, those the build of the
data triggers included.
"""
import subprocess, sys, collections, tempfile, os, re
if len(sys.argv) < 4:
    sys.exit(__doc__)
binp, heap, script = sys.argv[1:4]
d = tempfile.mkdtemp()
out = subprocess.run(['perf', 'record', '-q', '-e', 'cpu-clock', '-F', '4000', '-o', d + '/p.data', binp,
                      '-X', 'heapsize=' + heap, script] + sys.argv[4:],
                     capture_output=True, text=True).stdout.strip()
syms = {}
for line in subprocess.run(['nm', binp], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) == 3: syms[p[2]] = int(p[0], 16)
hits = collections.Counter(); bysym = collections.Counter()
base = os.path.basename(binp)
for line in subprocess.run(['perf', 'script', '-i', d + '/p.data', '-F', 'ip,sym,symoff,dso'], capture_output=True, text=True).stdout.splitlines():
    if base not in line: continue
    so = line.split()[1]
    if '+0x' not in so: continue
    s, off = so.split('+0x')
    if s in syms: hits[syms[s] + int(off, 16)] += 1; bysym[s] += 1
mpgc = any(s.startswith('mpgc_') for s in syms)
if mpgc:
    names = bysym
else:
    addrs = sorted(hits)
    r = subprocess.run(['addr2line', '-f', '-i', '-a', '-e', binp], input='\n'.join('0x%x' % a for a in addrs), capture_output=True, text=True).stdout.splitlines()
    fn = {}; cur = None
    for line in r:
        if re.fullmatch(r'0x[0-9a-f]+', line): cur = int(line, 16); fn[cur] = None; continue
        if fn.get(cur) is None and ':' not in line: fn[cur] = line
    names = collections.Counter()
    for a, c in hits.items(): names[fn.get(a) or '?'] += c
mark = sum(c for f, c in names.items() if re.search(r'mark|scan_object|scan_pending|drain|visit|rescan|ms_spill|ms_refill|deal_with_stack_overflow|collect_root|collect_start|trace_contents', f))
sweep = sum(c for f, c in names.items() if re.search(r'sweep', f))
tot = mark + sweep
subprocess.run(['rm', '-rf', d])
print('%s %s mark=%.0f%% sweep=%.0f%% samples=%d | %s' % ('mpgc' if mpgc else 'py/gc.c', heap, 100 * mark / max(tot, 1), 100 * sweep / max(tot, 1), tot, out))
