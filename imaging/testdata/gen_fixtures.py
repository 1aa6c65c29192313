#!/usr/bin/python3
"""Writes the OpenCV reference fixtures for package imaging.

Run with Debian's Python (python3-opencv 4.6, numpy):

    /usr/bin/python3 imaging/testdata/gen_fixtures.py

Everything is deterministic: sources are seeded hash patterns, encoders are
called with fixed parameters. Expected outputs are what cv2.imread /
cv2.resize of this OpenCV build return, stored as raw RGB bytes for small
cases and as a sha256 for big ones. manifest.json lists every case.
"""
import ctypes
import hashlib
import json
import os
import struct
import zlib

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = HERE
SHARED = os.path.join(HERE, "..", "..", "..", "shared", "testdata", "images", "paddleclas-demo")
cv2.setNumThreads(1)


def pattern(w, h, c, seed):
    """Seeded hash noise, uint8, shape (h, w, c). Mirrored by patternImage in Go."""
    y, x, ch = np.meshgrid(np.arange(h, dtype=np.uint32), np.arange(w, dtype=np.uint32),
                           np.arange(c, dtype=np.uint32), indexing="ij")
    v = (x * np.uint32(0x9E3779B1)) ^ (y * np.uint32(0x85EBCA77)) ^ ((ch + np.uint32(seed)) * np.uint32(0xC2B2AE3D))
    v ^= v >> np.uint32(15)
    v *= np.uint32(0x2C1B3C6D)
    v ^= v >> np.uint32(12)
    return (v >> np.uint32(24)).astype(np.uint8)


def smooth(w, h, seed):
    """A photo-like BGR image: gradients, a disc, text-like bars and mild noise."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    b = 128 + 100 * np.sin(x / (w / 3.0) + seed)
    g = 255 * y / max(h - 1, 1)
    r = 255 * ((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 3) ** 2)
    img = np.stack([b, g, r], axis=2)
    img[(x.astype(int) // 4) % 3 == 0] *= 0.7
    n = pattern(w, h, 3, seed).astype(np.float64) / 255.0 * 24 - 12
    return np.clip(img + n, 0, 255).astype(np.uint8)


def sha(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def rgb(a):
    """cv2 BGR (or gray) → the RGB interleaved bytes Go returns."""
    if a.ndim == 2:
        return a
    return a[:, :, ::-1]


cases = {"decode": [], "resize": [], "preprocess": []}


def write(path, data):
    with open(os.path.join(OUT, path), "wb") as f:
        f.write(data)


def add_decode(name, data, ext, exact=True):
    os.makedirs(os.path.join(OUT, "decode"), exist_ok=True)
    src = "decode/%s.%s" % (name, ext)
    write(src, data)
    img = cv2.imread(os.path.join(OUT, src), cv2.IMREAD_COLOR)
    out = rgb(img)
    exp = "decode/%s.rgb" % name
    write(exp, out.tobytes())
    cases["decode"].append({"name": name, "src": src, "w": img.shape[1], "h": img.shape[0],
                            "want": exp, "sha256": sha(out), "exact": exact})


# --- JPEG through libturbojpeg (same library OpenCV links) for the subsampling variants.
tj = ctypes.CDLL("libturbojpeg.so.0")
tj.tjInitCompress.restype = ctypes.c_void_p
tj.tjCompress2.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                           ctypes.c_int, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_ulong),
                           ctypes.c_int, ctypes.c_int, ctypes.c_int]
tj.tjFree.argtypes = [ctypes.c_void_p]
TJPF_BGR, TJPF_GRAY, TJPF_CMYK = 1, 6, 11
TJSAMP = {"444": 0, "422": 1, "420": 2, "gray": 3, "440": 4, "411": 5}
TJFLAG_PROGRESSIVE = 16384


def tj_encode(img, samp, quality=90, flags=0):
    h, w = img.shape[:2]
    pf = TJPF_GRAY if img.ndim == 2 else (TJPF_CMYK if img.shape[2] == 4 else TJPF_BGR)
    handle = tj.tjInitCompress()
    buf = ctypes.c_void_p()
    size = ctypes.c_ulong(0)
    arr = np.ascontiguousarray(img)
    rc = tj.tjCompress2(handle, arr.ctypes.data, w, 0, h, pf, ctypes.byref(buf), ctypes.byref(size),
                        TJSAMP[samp], quality, flags)
    assert rc == 0
    data = ctypes.string_at(buf, size.value)
    tj.tjFree(buf)
    return data


def exif_app1(orientation, big_endian):
    """A minimal APP1 Exif segment whose IFD0 holds only tag 0x0112."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8)
    tiff += struct.pack(e + "H", 2)  # two entries: a dummy XResolution-free tag then orientation
    tiff += struct.pack(e + "HHI", 0x010F, 2, 4) + b"Go\x00\x00"  # Make, ASCII count 4 inline
    tiff += struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0)
    tiff += struct.pack(e + "I", 0)
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def main():
    base = smooth(61, 43, 1)
    gray = cv2.cvtColor(base, cv2.COLOR_BGR2GRAY)
    ok, b = cv2.imencode(".jpg", base, [cv2.IMWRITE_JPEG_QUALITY, 90])
    add_decode("baseline_420", b.tobytes(), "jpg")
    ok, b = cv2.imencode(".jpg", base, [cv2.IMWRITE_JPEG_QUALITY, 85, cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    add_decode("progressive", b.tobytes(), "jpg")
    ok, b = cv2.imencode(".jpg", base, [cv2.IMWRITE_JPEG_QUALITY, 90, cv2.IMWRITE_JPEG_OPTIMIZE, 1,
                                        cv2.IMWRITE_JPEG_RST_INTERVAL, 2])
    add_decode("optimized_restart", b.tobytes(), "jpg")
    for s in ["444", "422", "440", "411"]:
        add_decode("tj_" + s, tj_encode(base, s, 92), "jpg")
    add_decode("tj_420_progressive", tj_encode(base, "420", 80, TJFLAG_PROGRESSIVE), "jpg")
    # CMYK (stored as YCCK by libjpeg-turbo): OpenCV converts CMYK to BGR itself.
    add_decode("tj_cmyk", tj_encode(pattern(29, 13, 4, 14), "444", 95), "jpg")
    ok, b = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 90])
    add_decode("gray", b.tobytes(), "jpg")
    # EXIF orientations 1..8 on a non-square image, alternating byte order.
    ok, b = cv2.imencode(".jpg", base, [cv2.IMWRITE_JPEG_QUALITY, 90])
    b = b.tobytes()
    for o in range(1, 9):
        data = b[:2] + exif_app1(o, o % 2 == 0) + b[2:]
        add_decode("exif_%d" % o, data, "jpg")
    # PNG variants through OpenCV's writer.
    small = pattern(23, 17, 4, 7)
    ok, b = cv2.imencode(".png", small[:, :, :3]); add_decode("png_rgb8", b.tobytes(), "png")
    ok, b = cv2.imencode(".png", small); add_decode("png_rgba8", b.tobytes(), "png")
    ok, b = cv2.imencode(".png", small[:, :, 0]); add_decode("png_gray8", b.tobytes(), "png")
    p16 = (pattern(23, 17, 4, 9).astype(np.uint16) << 8) | pattern(23, 17, 4, 10)
    ok, b = cv2.imencode(".png", p16[:, :, :3]); add_decode("png_rgb16", b.tobytes(), "png")
    ok, b = cv2.imencode(".png", p16); add_decode("png_rgba16", b.tobytes(), "png")
    ok, b = cv2.imencode(".png", p16[:, :, 0]); add_decode("png_gray16", b.tobytes(), "png")
    add_decode("png_palette_trns", png_palette(23, 17), "png")
    add_decode("png_gray_alpha", png_raw(23, 17, 4, 8, pattern(23, 17, 2, 11)), "png")
    add_decode("png_gray1", png_raw(19, 7, 0, 1, None), "png")
    ok, b = cv2.imencode(".bmp", small[:, :, :3]); add_decode("bmp_rgb", b.tobytes(), "bmp")
    ok, b = cv2.imencode(".bmp", small[:, :, 0]); add_decode("bmp_gray", b.tobytes(), "bmp")
    ok, b = cv2.imencode(".tiff", small[:, :, :3]); add_decode("tiff_rgb", b.tobytes(), "tiff")
    ok, b = cv2.imencode(".webp", base, [cv2.IMWRITE_WEBP_QUALITY, 101]); add_decode("webp_lossless", b.tobytes(), "webp")
    ok, b = cv2.imencode(".webp", base, [cv2.IMWRITE_WEBP_QUALITY, 90]); add_decode("webp_lossy", b.tobytes(), "webp")
    ok, b = cv2.imencode(".webp", smooth(200, 150, 4), [cv2.IMWRITE_WEBP_QUALITY, 75]); add_decode("webp_lossy_even", b.tobytes(), "webp")

    # Real demo images (read from ../shared at test time): only hashes are committed.
    if os.path.isdir(SHARED):
        for f in sorted(os.listdir(SHARED)):
            if f.endswith(".md"):
                continue
            img = cv2.imread(os.path.join(SHARED, f), cv2.IMREAD_COLOR)
            cases["decode"].append({"name": "shared_" + f, "shared": f, "w": img.shape[1], "h": img.shape[0],
                                    "sha256": sha(rgb(img)), "exact": True})

    gen_resize()
    gen_bench_and_preprocess()
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
        f.write("\n")


def png_chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def png_raw(w, h, ctype, depth, px):
    """A hand-built PNG (OpenCV cannot write these colour types)."""
    if depth == 1:
        rows = b"".join(b"\x00" + bytes([(0xA5 ^ (y * 37)) & 0xFF, (0x3C + y) & 0xFF, 0xF0]) for y in range(h))
    else:
        rows = b"".join(b"\x00" + px[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


def png_palette(w, h):
    pal = pattern(16, 1, 3, 12)[0]
    trns = bytes(range(0, 256, 16))
    idx = (pattern(w, h, 1, 13)[:, :, 0] % 16).astype(np.uint8)
    rows = b"".join(b"\x00" + idx[y].tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 3, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"PLTE", pal.tobytes()) +
            png_chunk(b"tRNS", trns) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


INTERP = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}


def gen_resize():
    os.makedirs(os.path.join(OUT, "resize"), exist_ok=True)
    # (src w, src h, seed) -> list of (dst w, dst h, interps)
    lc = ["linear", "cubic", "nearest", "area"]
    plan = [
        ((101, 67, 21), [(50, 33, lc), (202, 134, lc), (150, 100, lc), (1, 1, lc), (1, 67, lc), (101, 1, lc),
                         (7, 3, lc), (303, 5, lc), (13, 200, lc), (99, 66, lc), (33, 67, lc)]),
        ((100, 66, 22), [(50, 33, lc), (25, 22, lc), (200, 132, lc), (51, 34, lc)]),
        ((1, 1, 23), [(5, 5, lc), (1, 4, lc)]),
        ((1, 10, 24), [(3, 7, lc), (2, 20, lc)]),
        ((9, 1, 25), [(4, 1, lc), (17, 3, lc)]),
        ((1920, 1080, 26), [(640, 640, lc), (224, 224, lc), (960, 540, lc), (333, 187, lc),
                            (1919, 1081, lc), (17, 5, lc), (2500, 1500, ["linear", "cubic", "area"])]),
    ]
    for (sw, sh, seed), dsts in plan:
        for cn in (3, 1):
            src = pattern(sw, sh, cn, seed)
            if cn == 1:
                src = src[:, :, 0]
            for dw, dh, interps in dsts:
                for it in interps:
                    out = cv2.resize(src, (dw, dh), interpolation=INTERP[it])
                    name = "%dx%dx%d_s%d_to_%dx%d_%s" % (sw, sh, cn, seed, dw, dh, it)
                    c = {"name": name, "src_w": sw, "src_h": sh, "cn": cn, "seed": seed, "w": dw, "h": dh,
                         "interp": it, "sha256": sha(out)}
                    if out.size <= 60000:
                        c["want"] = "resize/%s.raw" % name
                        write(c["want"], out.tobytes())
                    cases["resize"].append(c)


def gen_bench_and_preprocess():
    # A 1920x1080 photo-like JPEG for decode/preprocess tests and benchmarks.
    w, h = 1920, 1080
    img = smooth(w, h, 3)
    # add detail so the entropy-coded size resembles a photo
    detail = cv2.resize(pattern(480, 270, 3, 5), (w, h), interpolation=cv2.INTER_CUBIC)
    img = cv2.addWeighted(img, 0.75, detail, 0.25, 0)
    ok, b = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    write("bench_1080p.jpg", b.tobytes())
    dec = cv2.imread(os.path.join(OUT, "bench_1080p.jpg"))
    cases["decode"].append({"name": "bench_1080p", "src": "bench_1080p.jpg", "w": w, "h": h,
                            "sha256": sha(rgb(dec)), "exact": True})
    rgbimg = np.ascontiguousarray(dec[:, :, ::-1])

    # PaddleClas det preprocessing (deploy/python/det_preprocess.py semantics).
    sy, sx = 640 / float(h), 640 / float(w)
    r = cv2.resize(rgbimg, None, None, fx=sx, fy=sy, interpolation=2)
    x = r.astype(np.float32, copy=False)
    x = x / 255.0
    x -= np.array([0.485, 0.456, 0.406])[np.newaxis, np.newaxis, :]
    x /= np.array([0.229, 0.224, 0.225])[np.newaxis, np.newaxis, :]
    det = x.transpose((2, 0, 1)).copy()
    assert det.dtype == np.float32
    cases["preprocess"].append({"name": "det_640_cubic", "src": "bench_1080p.jpg", "shape": list(det.shape),
                                "sha256": sha(det), "first": [float(v) for v in det.reshape(-1)[:8]]})

    # PaddleClas rec preprocessing (ResizeImage 224 bilinear, NormalizeImage hwc, ToCHWImage).
    for scale_name, scale in (("1.0/255.0", 1.0 / 255.0), ("0.00392157", 0.00392157)):
        r = cv2.resize(rgbimg, (224, 224), interpolation=cv2.INTER_LINEAR)
        s32 = np.float32(scale)
        mean = np.array([0.485, 0.456, 0.406]).reshape((1, 1, 3)).astype("float32")
        std = np.array([0.229, 0.224, 0.225]).reshape((1, 1, 3)).astype("float32")
        x = (r.astype("float32") * s32 - mean) / std
        rec = x.transpose((2, 0, 1)).copy()
        assert rec.dtype == np.float32
        cases["preprocess"].append({"name": "rec_224_linear_" + scale_name, "src": "bench_1080p.jpg",
                                    "scale": scale, "shape": list(rec.shape), "sha256": sha(rec),
                                    "first": [float(v) for v in rec.reshape(-1)[:8]]})
        # order 'chw': the same NormalizeImage applied to an image that is already CHW.
        mean_c = mean.reshape((3, 1, 1))
        std_c = std.reshape((3, 1, 1))
        chw = (r.transpose((2, 0, 1)).astype("float32") * s32 - mean_c) / std_c
        assert sha(chw) == sha(rec)


if __name__ == "__main__":
    main()
