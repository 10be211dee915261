# Idle-time collection with threads (issue 13, item 3): two worker
# threads replace entries of a shared list and of their own lists while
# the main thread sleeps 1-8 ms at a time and checks the shared list.
# Without a GIL (the unix port's default) the adapter must not collect in
# idle time while the workers exist (MICROPY_MPGC_IDLE_ALONE() is false):
# the idle count stays 0. With a GIL, idle collections run (the sleeping
# thread holds the GIL, so the workers wait) and nothing may be lost.
# Prints "ok" and mpgc.idle_stats()'s first three counts (idle
# collections, abandoned cycles, all collections); fails with an
# AssertionError if an entry is wrong.
#
# Run: micropython -X heapsize=2M bench/programs/idle_threads.py
import _thread, time
import mpgc

x = [1]


def rnd(n):
    x[0] = (x[0] * 1103515245 + 12345) & 0x7FFFFFFF
    return (x[0] >> 8) % n


N = 3000
shared = [[i, str(i), (i, i)] for i in range(N)]
done = [0]
errors = []
lock = _thread.allocate_lock()


def worker(k):
    mine = [(j, "w%d" % j) for j in range(500)]
    for step in range(3000):
        i = rnd(N)
        with lock:
            shared[i] = [i, str(i), (i, i)]
        j = step % 500
        mine[j] = (j, "w%d" % j)
        for _ in range(5):
            a = mine[rnd(500)]
            if a[1] != "w%d" % a[0]:
                errors.append(a)
        if step % 50 == 0:
            time.sleep_ms(1)
    with lock:
        done[0] += 1


for k in range(2):
    _thread.start_new_thread(worker, (k,))
while done[0] < 2:
    time.sleep_ms(rnd(8) + 1)
    for _ in range(50):
        i = rnd(N)
        r = shared[i]
        assert r[0] == i and r[1] == str(i) and r[2] == (i, i), r
assert not errors, errors[:3]
print("ok idle=%d abandoned=%d collections=%d" % mpgc.idle_stats()[:3])
