# Collection pause (issue 12; bench/pause.c builds the same shape in C):
# 200 bytearrays of 40 KB (8 MB at 32M).
# Counts are scaled by the heap (heap / 32 MB: the figures are at
# -X heapsize=32M), so live data is the same share of the heap at 2M, 8M
# and 32M. Prints the fastest, median and slowest of 7 gc.collect() after
# the build, in ms, and the live data (gc.mem_alloc()); an argument N
# times N collections instead of 7 (for a profiler's samples).
# Run: micropython -X heapsize=32M bench/programs/pause_bytes.py [N]
import gc, sys, time

heap = gc.mem_free() + gc.mem_alloc()
shift = 0  # log2(heap / 32 MB) to the nearest power of two: 0, -2, -4 at 32M, 8M, 2M
while heap < ((32 << 20) >> -shift) * 0.71:
    shift -= 1

n = 200 >> -shift
arrays = [bytearray(40000) for _ in range(n)]

def pauses(name):
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    t = []
    for _ in range(reps):
        t0 = time.ticks_us()
        gc.collect()
        t.append(time.ticks_diff(time.ticks_us(), t0))
    t.sort()
    print("%s heap=%dK live=%dK collect_ms fastest=%.3f median=%.3f max=%.3f" % (
        name, heap >> 10, gc.mem_alloc() >> 10, t[0] / 1000, t[reps // 2] / 1000, t[-1] / 1000))


pauses("bytes")
