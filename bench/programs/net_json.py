# Firmware-style: a device polls a server, receives HTTP-like responses in
# chunks into a receive buffer, parses the JSON body, keeps recent readings
# and sends a JSON report now and then.
import json

ROUNDS = 300

x = 7


def rnd(n):
    global x
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return (x >> 8) % n


def server_response(i):
    # what the "server" sends: a JSON document of varying size
    n = 1 + rnd(12)
    items = []
    for k in range(n):
        items.append({"id": i * 16 + k, "t": 20 + rnd(100) / 10, "h": rnd(100), "tag": "s%d" % rnd(50)})
    body = json.dumps({"seq": i, "items": items, "status": "ok"})
    head = "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    return (head + body).encode()


def receive(data):
    # the network stack hands the data over in MTU-sized chunks
    rx = bytearray()
    pos = 0
    while pos < len(data):
        n = 64 + rnd(1400)
        chunk = data[pos : pos + n]
        rx += chunk
        pos += n
    return rx


readings = []
reports = 0
for i in range(ROUNDS):
    raw = receive(server_response(i))
    text = raw.decode()
    head, body = text.split("\r\n\r\n", 1)
    doc = json.loads(body)
    for it in doc["items"]:
        readings.append((it["id"], it["t"], it["h"]))
    if len(readings) > 60:
        readings = readings[-40:]
    if i % 10 == 9:
        report = json.dumps({"n": len(readings), "avg": sum(r[1] for r in readings) / len(readings)})
        packet = bytearray(report.encode())
        reports += 1
print("net_json", ROUNDS, reports, len(readings))
