# Firmware-style: a growing log. Each event formats a line; lines collect
# in a bytearray that grows in place (+=) until it reaches a flush size,
# when it is "written out" and started again. A list of the last error
# lines is kept, and an index of event counts grows for the whole run.
EVENTS = 2500
FLUSH = 6000

x = 5


def rnd(n):
    global x
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return (x >> 8) % n


KINDS = ["boot", "wifi", "mqtt", "sensor", "error", "ota", "button", "battery"]
log = bytearray()
errors = []
counts = {}
flushed = 0
for i in range(EVENTS):
    kind = KINDS[rnd(len(KINDS))]
    line = "%06d %s value=%d %s\n" % (i, kind, rnd(100000), "x" * rnd(40))
    log += line.encode()
    counts[kind + str(i // 500)] = counts.get(kind + str(i // 500), 0) + 1
    if kind == "error":
        errors.append(line)
        if len(errors) > 20:
            errors.pop(0)
    if len(log) >= FLUSH:
        flushed += len(log)
        log = bytearray()
print("growing_log", EVENTS, flushed > 0, len(counts))
