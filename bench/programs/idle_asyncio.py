# Idle-time collection (issue 13, item 3): a 10 ms control tick among
# allocating asyncio tasks, on a heap with real marking work.
#
#  - tick: wakes every 10 ms (absolute schedule) and records how late it
#    woke, in microseconds: the pause the control loop sees;
#  - sensor (every 11 ms), network (every 23 ms), logger (every 37 ms):
#    the allocation, a mix of dicts, lists, tuples, strings and bytes,
#    about 3 MB/s. Each run replaces records of a long-lived store (75 % of
#    the heap: a pointer-dense live set that every collection marks, and
#    that the replacements scatter over the heap), so an 8 MB heap fills
#    and is collected two or three times a second.
#  The periods are prime to the tick's, so the other tasks' runs, and the
#  collections they trigger, fall at every phase of the tick; the loop is
#  idle between runs (waiting in select.poll), for up to 9 ms at a time.
#
# Prints the lateness (p50, p99, max, in ms; the ticks more than 2 ms and
# more than 5 ms late: over2ms, over5ms), the longest run of the other
# tasks (run_max_ms: a collection an allocation triggered shows there
# whole, whatever its phase), the runs that took more than STALL_US
# ("stalls": such a collection, or the OS taking the CPU), the time of a
# full gc.collect() before and after the run (collect_ms), and, on a build
# with the `mpgc` module, the adapter's counts: idle collections completed,
# idle cycles abandoned, all collections (the program's own gc.collect()
# calls, 8, included), and the longest slice, the longest final slice
# (the final step) and the least time left of a budget when an idle
# collection ended, in us.
#
# Run: micropython -X heapsize=8M bench/programs/idle_asyncio.py [TICKS [nogc]]
# (TICKS: default 2000, 20 s). Needs a port whose ticks_us() and
# ticks_ms() read one clock (unix: both count from the same monotonic
# time), so that a due time in ms is exact in us. The loop's own floor:
# asyncio waits in whole milliseconds from a time truncated to the
# millisecond, so a tick wakes 0-1 ms after its due time (p50 about 0.6 ms)
# with no collection at all.
import asyncio, gc, sys
from asyncio import core
from time import ticks_ms, ticks_us, ticks_diff, ticks_add

TICKS = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
# "nogc": the floor, no collection at all: the store is sized for an 8 MB
# heap and collection is disabled during the run (give a heap that holds
# everything the run allocates: -X heapsize=128M for 3000 ticks).
NOGC = len(sys.argv) > 2 and sys.argv[2] == "nogc"
PERIOD = 10  # ms
STALL_US = 2000
REPLACE = 24  # records the sensor replaces per run (network 2x, logger 3x)
LIVE_PERCENT = 75  # the long-lived store, share of the heap

heap = 8 << 20 if NOGC else gc.mem_free() + gc.mem_alloc()
x = 12345


def rnd(n):
    global x
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return (x >> 8) % n


def record(i):
    # about 400 bytes, 6 allocations, all pointers but the str and bytes
    return {"i": i, "tag": "r%d" % i, "v": [i, i + 1, i + 2], "p": (i, -i), "b": bytes(16)}


# The long-lived store: LIVE_PERCENT of the heap.
gc.collect()
before = gc.mem_alloc()
store = [record(i) for i in range(100)]
per = (gc.mem_alloc() - before) // 100
N = heap * LIVE_PERCENT // 100 // per
store = [record(i) for i in range(N)]
gc.collect()
live = gc.mem_alloc()
# What a full collection of this heap takes (fastest of 3), for reference.
full = []
for _ in range(3):
    t0 = ticks_us()
    gc.collect()
    full.append(ticks_diff(ticks_us(), t0))

late = [0] * TICKS
stalls = [0]
longest = [0]  # the longest run of a task other than the tick, us
running = [True]


def timed(t0):
    d = ticks_diff(ticks_us(), t0)
    if d > STALL_US:
        stalls[0] += 1
    if d > longest[0]:
        longest[0] = d


async def tick():
    # Sleep to an absolute due time with asyncio's own no-allocation
    # awaitable (sleep_ms would add the time it is called at, truncated).
    sg = core.SingletonGenerator()
    due = ticks_add(ticks_ms(), PERIOD)
    for k in range(TICKS):
        sg.state = due
        await sg
        late[k] = ticks_diff(ticks_us(), due * 1000)
        due = ticks_add(due, PERIOD)
    running[0] = False


async def sensor():
    hist = [None] * 64
    n = 0
    while running[0]:
        t0 = ticks_us()
        for _ in range(8):
            r = {"t": n, "v": rnd(1000) / 7, "name": "s%d" % (n % 4), "xyz": [rnd(9), rnd(9), rnd(9)]}
            hist[n % 64] = r
            n += 1
        for _ in range(REPLACE):
            i = rnd(N)
            store[i] = record(i)
        timed(t0)
        await asyncio.sleep_ms(11)


async def network():
    sent = []
    while running[0]:
        t0 = ticks_us()
        batch = [store[rnd(N)] for _ in range(16)]
        msg = ",".join("%s=%d" % (r["tag"], r["v"][0]) for r in batch)
        sent.append(msg.encode())
        if len(sent) > 16:
            sent.pop(0)
        parsed = [dict(kv.split("=") for kv in msg.split(",")[j : j + 4]) for j in range(0, 16, 4)]
        for _ in range(2 * REPLACE):
            i = rnd(N)
            store[i] = record(i)
        del parsed
        timed(t0)
        await asyncio.sleep_ms(23)


async def logger():
    lines = []
    while running[0]:
        t0 = ticks_us()
        rows = sorted((rnd(100), "line %d" % k, [k] * 3) for k in range(24))
        lines.append(" | ".join(r[1] for r in rows[:6]))
        if len(lines) > 32:
            lines.pop(0)
        for _ in range(3 * REPLACE):
            i = rnd(N)
            store[i] = record(i)
        timed(t0)
        await asyncio.sleep_ms(37)


async def main():
    await asyncio.gather(tick(), sensor(), network(), logger())


assert abs(ticks_diff(ticks_us(), ticks_ms() * 1000)) < 2000, "ticks_us and ticks_ms read different clocks"
t_start = ticks_ms()
if NOGC:
    gc.disable()
asyncio.run(main())
elapsed = ticks_diff(ticks_ms(), t_start)
gc.enable()

# The same full collection again, now that the store is scattered.
full_end = []
for _ in range(3):
    t0 = ticks_us()
    gc.collect()
    full_end.append(ticks_diff(ticks_us(), t0))

late.sort()
over2 = sum(1 for t in late if t > 2000)
over5 = sum(1 for t in late if t > 5000)
ms = lambda us: us / 1000
print(
    "idle_asyncio heap=%dK live=%dK collect_ms=%.3f/%.3f ticks=%d s=%.1f late_ms p50=%.3f p99=%.3f max=%.3f over2ms=%d over5ms=%d run_max_ms=%.3f stalls=%d"
    % (heap >> 10, live >> 10, ms(min(full)), ms(min(full_end)), TICKS, elapsed / 1000, ms(late[TICKS // 2]), ms(late[TICKS * 99 // 100]), ms(late[-1]), over2, over5, ms(longest[0]), stalls[0]),
    end="",
)
try:
    import mpgc

    print(" idle=%d abandoned=%d collections=%d slice_us=%d final_us=%d least_left_us=%d" % mpgc.idle_stats())
except (ImportError, AttributeError):
    print()
