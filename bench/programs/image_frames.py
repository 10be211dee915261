# Firmware-style: a camera loop. Each frame is a new buffer (80x60
# grayscale); it is thresholded into a mask, a thumbnail is kept for a
# short history, blobs are found as small tuples, and every 8th frame is
# "compressed" into a bytes object of varying size that waits for upload
# in a queue of 4.
FRAMES = 400
W, H = 80, 60

x = 3


def rnd(n):
    global x
    x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return (x >> 8) % n


def capture(i):
    f = bytearray(W * H)
    b = rnd(200)
    for k in range(0, W * H, 97):
        f[k] = (b + k) & 0xFF
    return f


def thumbnail(f):
    t = bytearray((W // 4) * (H // 4))
    for yy in range(H // 4):
        for xx in range(W // 4):
            t[yy * (W // 4) + xx] = f[(yy * 4) * W + xx * 4]
    return t


def blobs(f):
    out = []
    for k in range(rnd(10)):
        out.append((rnd(W), rnd(H), 1 + rnd(20), 1 + rnd(20)))
    return out


history = []
uploads = []
stats = {}
for i in range(FRAMES):
    frame = capture(i)
    mask = bytes(frame[k] > 128 for k in range(0, W * H, 16))
    history.append(thumbnail(frame))
    if len(history) > 5:
        history.pop(0)
    bl = blobs(frame)
    stats[i % 16] = (len(bl), sum(b[2] * b[3] for b in bl))
    if i % 8 == 0:
        uploads.append(bytes(frame[: 600 + rnd(3000)]))
        if len(uploads) > 4:
            uploads.pop(0)
    frame = None
print("image_frames", FRAMES, len(history), len(uploads))
