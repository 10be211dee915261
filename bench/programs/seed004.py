# Seed 004's fragmentation story as a loop (issue 11): buffers of mixed
# sizes and lifetimes.
#  - short-lived bytearrays of 16-616 B, in a ring of 24;
#  - medium-lived ones of 0.5-3.5 KB, one every 7 iterations, in a ring of 6;
#  - up to 40 long-lived ones of 64-264 B, one every 97 iterations;
#  - a transient 4-8 KB frame buffer every 50 iterations.
# The issue ran 200,000 iterations; ITERATIONS is trimmed so that the
# recorded trace stays small (the pattern is periodic).
import gc

ITERATIONS = 6000

x = 1


def rnd(n):
    # a small linear congruential generator: small ints only on 64-bit
    global x
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return (x >> 8) % n


short = [None] * 24
medium = [None] * 6
keep = []
for i in range(ITERATIONS):
    short[i % 24] = bytearray(16 + rnd(601))
    if i % 7 == 0:
        medium[i // 7 % 6] = bytearray(512 + rnd(3073))
    if i % 97 == 0 and len(keep) < 40:
        keep.append(bytearray(64 + rnd(201)))
    if i % 50 == 0:
        frame = bytearray(4096 + rnd(4097))
        frame[0] = 1
        frame = None
print("seed004", ITERATIONS, len(keep), gc.mem_free() > 0)
