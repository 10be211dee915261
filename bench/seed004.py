# seed004.py - seed 004's loop (issue 11) in MicroPython, the shape of
# bench/seed004.c: prints "ok" when all 200,000 iterations run, else a
# MemoryError ends it. A linear congruential generator keeps it
# deterministic on any port. The smallest heap that survives, 1 KiB steps:
#
#   for k in $(seq 60 256); do
#     micropython -X heapsize=${k}K bench/seed004.py >/dev/null 2>&1 || echo "fails at ${k}K"
#   done
s = 4


def rnd(lo, hi):
    global s
    s = (s * 1103515245 + 12345) & 0x7FFFFFFF
    return lo + s % (hi - lo + 1)


short = [None] * 24  # short-lived, 16-616 B
med = [None] * 6  # medium-lived, 0.5-3.5 KB, one every 7 iterations
longl = []  # up to 40 long-lived, 64-264 B, one every 97 iterations
for i in range(200000):
    short[i % 24] = bytearray(rnd(16, 616))
    if i % 7 == 0:
        med[(i // 7) % 6] = bytearray(rnd(512, 3584))
    if i % 97 == 0 and len(longl) < 40:
        longl.append(bytearray(rnd(64, 264)))
    if i % 50 == 0:
        frame = bytearray(rnd(4096, 8192))  # transient frame buffer
        frame = None
print("ok")
