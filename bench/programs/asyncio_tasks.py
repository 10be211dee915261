# Firmware-style: asyncio tasks. A sensor task produces readings, a
# network task batches them into messages, a display task formats text,
# and short request handlers are started as tasks of their own and end.
import asyncio

STEPS = 500

x = 11


def rnd(n):
    global x
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return (x >> 8) % n


queue = []
sent = []
lines = []
done = 0
running = True


async def sensor():
    for i in range(STEPS):
        queue.append({"i": i, "v": rnd(1000) / 7, "name": "sensor%d" % (i % 4)})
        await asyncio.sleep_ms(0)


async def network():
    while running:
        if len(queue) >= 8:
            batch = queue[:8]
            del queue[:8]
            msg = ",".join("%s=%.2f" % (r["name"], r["v"]) for r in batch)
            sent.append(msg.encode())
            if len(sent) > 6:
                sent.pop(0)
        await asyncio.sleep_ms(0)


async def display():
    while running:
        if queue:
            lines.append("%d: %s" % (queue[-1]["i"], queue[-1]["name"]))
            if len(lines) > 8:
                lines.pop(0)
        await asyncio.sleep_ms(0)


async def handler(k):
    global done
    req = bytearray(32 + rnd(300))
    await asyncio.sleep_ms(0)
    resp = b"HTTP/1.0 200 OK\r\n\r\n" + bytes(len(req) // 2)
    await asyncio.sleep_ms(0)
    done += len(resp) > 0


async def server():
    k = 0
    while running:
        if rnd(4) == 0:
            asyncio.create_task(handler(k))
            k += 1
        await asyncio.sleep_ms(0)


async def main():
    asyncio.create_task(network())
    asyncio.create_task(display())
    asyncio.create_task(server())
    global running
    await sensor()
    running = False
    for _ in range(4):  # let every task see it and end
        await asyncio.sleep_ms(0)


asyncio.run(main())
print("asyncio_tasks", STEPS, len(sent), done > 0)
