#!/usr/bin/python3
"""Times in OpenCV (one thread) the operations imaging's Go benchmarks time.

    /usr/bin/python3 imaging/scripts/bench_opencv.py [repeats]

Prints one line per operation: name, best and median time per call in ms,
with the Go benchmark each one corresponds to.
"""
import os
import sys
import time

import cv2
import numpy as np

cv2.setNumThreads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
data = open(os.path.join(HERE, "..", "testdata", "bench_1080p.jpg"), "rb").read()
buf = np.frombuffer(data, dtype=np.uint8)
bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
MEAN = np.array([0.485, 0.456, 0.406])[np.newaxis, np.newaxis, :]
STD = np.array([0.229, 0.224, 0.225])[np.newaxis, np.newaxis, :]
M32 = MEAN.astype("float32")
S32 = STD.astype("float32")
SCALE = np.float32(1.0 / 255.0)


def det_norm(im):
    # PaddleClas deploy/python/det_preprocess.py DetNormalizeImage + DetPermute
    im = im.astype(np.float32, copy=False)
    im = im / 255.0
    im -= MEAN
    im /= STD
    return im.transpose((2, 0, 1)).copy()


def det_pre():
    im = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    im = cv2.cvtColor(im, cv2.COLOR_BGR2RGB)
    h, w = im.shape[:2]
    im = cv2.resize(im, None, None, fx=640 / float(w), fy=640 / float(h), interpolation=2)
    return det_norm(im)


def rec_pre():
    im = cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_LINEAR)
    im = (im.astype("float32") * SCALE - M32) / S32
    return im.transpose((2, 0, 1)).copy()


r640 = cv2.resize(rgb, (640, 640), interpolation=cv2.INTER_CUBIC)
OPS = [
    ("decode JPEG 1920x1080 (imdecode)", "BenchmarkDecodeJPEG1080p", lambda: cv2.imdecode(buf, cv2.IMREAD_COLOR)),
    ("resize 1080p->640x640 cubic", "BenchmarkResizeCubic1080pTo640",
     lambda: cv2.resize(rgb, (640, 640), interpolation=cv2.INTER_CUBIC)),
    ("resize 1080p->224x224 linear", "BenchmarkResizeLinear1080pTo224",
     lambda: cv2.resize(rgb, (224, 224), interpolation=cv2.INTER_LINEAR)),
    ("resize 1080p->640x640 linear", "BenchmarkResizeLinear1080pTo640",
     lambda: cv2.resize(rgb, (640, 640), interpolation=cv2.INTER_LINEAR)),
    ("resize 1080p->960x540 area", "BenchmarkResizeArea1080pTo960",
     lambda: cv2.resize(rgb, (960, 540), interpolation=cv2.INTER_AREA)),
    ("normalise+CHW 640x640 (det)", "BenchmarkNormalizeCHW640", lambda: det_norm(r640)),
    ("det preprocess (decode+cvtColor+resize+norm+CHW)", "BenchmarkDetPreprocess1080p", det_pre),
    ("rec preprocess (resize 224 linear+norm+CHW)", "BenchmarkRecPreprocess1080p", rec_pre),
]


def main():
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    for name, gobench, fn in OPS:
        fn()
        # calibrate to ~0.3 s per repeat
        n, t = 1, 0.0
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            t = time.perf_counter() - t0
            if t > 0.3:
                break
            n *= 2
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            runs.append((time.perf_counter() - t0) / n * 1e3)
        runs.sort()
        print("%-50s best %8.3f ms  median %8.3f ms  (%s)" % (name, runs[0], runs[len(runs) // 2], gobench))


if __name__ == "__main__":
    main()
