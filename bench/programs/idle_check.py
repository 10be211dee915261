# Idle-time collection, checked from Python (issue 13, item 3): a
# pointer-dense structure of known contents is changed between waits of
# every kind that the unix port's idle hook serves (time.sleep_ms,
# time.sleep, select.poll().poll(), asyncio.sleep_ms), of 1 to 30 ms, so
# that idle cycles open, complete and are abandoned (short waits) while
# the structure keeps changing. After every wait a sample of the structure
# is checked, and all of it every 50 steps and at the end: an object freed
# while still reachable would show as a wrong value (its memory reused) or
# a crash. Prints "ok", with the adapter's counts when the `mpgc` module is
# there (idle collections, abandoned idle cycles, all collections), and
# fails (an exception, exit status 1) otherwise.
#
# Run: micropython -X heapsize=4M bench/programs/idle_check.py [STEPS]
import asyncio, gc, select, sys, time

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
x = 987654


def rnd(n):
    global x
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return (x >> 8) % n


def make(i, gen):
    # the value every check recomputes from (i, gen)
    return {"i": i, "g": gen, "s": "v%d.%d" % (i, gen), "l": [i, gen, (i, gen)], "b": bytearray(b"%d" % i)}


def ok(i, gen, r):
    return (
        r["i"] == i and r["g"] == gen and r["s"] == "v%d.%d" % (i, gen)
        and r["l"][0] == i and r["l"][1] == gen and r["l"][2] == (i, gen)
        and r["b"] == bytearray(b"%d" % i)
    )


heap = gc.mem_free() + gc.mem_alloc()
N = heap // 2 // 420  # about half the heap live
gens = [0] * N
data = [make(i, 0) for i in range(N)]
# a second path to some records: a dict keyed by index, rebuilt piecewise
index = {}
poller = select.poll()


def check(i):
    if not ok(i, gens[i], data[i]):
        raise AssertionError("record %d (generation %d) is wrong: %r" % (i, gens[i], data[i]))
    if i in index and index[i] is not data[i]:
        raise AssertionError("index %d lost its record" % i)


def change():
    for _ in range(40):
        i = rnd(N)
        gens[i] += 1
        data[i] = make(i, gens[i])
        if rnd(4) == 0:
            index[i] = data[i]
        elif i in index:
            del index[i]
    # garbage of other shapes
    junk = [str(k) * 3 for k in range(rnd(200))]
    junk.append(bytes(rnd(3000)))
    return len(junk)


async def wait_async(ms):
    await asyncio.sleep_ms(ms)


def wait(step):
    ms = (1, 2, 3, 5, 8, 13, 30)[rnd(7)]
    kind = step % 4
    if kind == 0:
        time.sleep_ms(ms)
    elif kind == 1:
        time.sleep(ms / 1000)
    elif kind == 2:
        poller.poll(ms)
    else:
        asyncio.run(wait_async(ms))


for step in range(STEPS):
    change()
    wait(step)
    for _ in range(20):
        check(rnd(N))
    if step % 50 == 49:
        for i in range(N):
            check(i)
for i in range(N):
    check(i)

try:
    import mpgc

    print("ok heap=%dK records=%d idle=%d abandoned=%d collections=%d" % ((heap >> 10, N) + mpgc.idle_stats()[:3]))
except (ImportError, AttributeError):
    print("ok heap=%dK records=%d" % (heap >> 10, N))
