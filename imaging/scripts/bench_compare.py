#!/usr/bin/python3
"""Times imaging's Go benchmarks and the same operations in OpenCV (one
thread each), interleaved operation by operation, and prints the ratio.

    /usr/bin/python3 imaging/scripts/bench_compare.py [rounds]

Builds the imaging test binary, then for every round (default 10) and
operation times the Go benchmark (-cpu=1, 3 runs of about 50 ms) and then
OpenCV (3 timings of about 50 ms), keeping the best time of each over all
rounds: on a shared machine the best is the one least disturbed by other
processes, and alternating keeps both sides exposed to the same load. A ratio
≤ 1.00 means Go is at least as fast. The CPU flags that choose the
kernels and the load average are printed first.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_opencv  # noqa: E402  (loads the image, defines OPS)

ROOT = os.path.dirname(os.path.dirname(HERE))


def cpu_flags():
    want = ["avx2", "avx512f", "avx512bw", "avx512vbmi", "avx512_vnni"]
    have = set()
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                break
    return model, [w for w in want if w in have]


def time_opencv(fn, samples=3):
    """Best of samples timings of about 50 ms each, in ms per call."""
    fn()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - t0
        if t > 0.05:
            break
        n *= 2
    best = t / n
    for _ in range(samples - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e3


def time_go(binary, name, samples=3):
    """Best of samples Go benchmark runs of about 50 ms each, in ms per call."""
    out = subprocess.run([binary, "-test.run=NONE", "-test.bench=^%s$" % name, "-test.cpu=1",
                          "-test.benchtime=0.05s", "-test.count=%d" % samples],
                         cwd=os.path.join(ROOT, "imaging"), capture_output=True, text=True, check=True).stdout
    ts = [float(x) for x in re.findall(r"^%s\s+\d+\s+([\d.]+) ns/op" % name, out, re.M)]
    if not ts:
        raise SystemExit("no result for %s:\n%s" % (name, out))
    return min(ts) / 1e6


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    model, flags = cpu_flags()
    print("cpu: %s; flags: %s; load average: %s" % (model, " ".join(flags), open("/proc/loadavg").read().split()[:3]))
    with tempfile.TemporaryDirectory() as d:
        binary = os.path.join(d, "imaging.test")
        subprocess.run(["go", "test", "-c", "-o", binary, "./imaging"], cwd=ROOT, check=True)
        best = {}
        for _ in range(rounds):
            for name, gobench, fn in bench_opencv.OPS:
                g = time_go(binary, gobench)
                c = time_opencv(fn)
                og, oc = best.get(name, (g, c))
                best[name] = (min(g, og), min(c, oc))
    print("%-50s %10s %10s %7s" % ("operation (best of %d, ms)" % rounds, "Go", "OpenCV", "Go/CV"))
    worst = 0
    for name, _, _ in bench_opencv.OPS:
        g, c = best[name]
        worst = max(worst, g / c)
        print("%-50s %10.3f %10.3f %6.2fx" % (name, g, c, g / c))
    print("worst ratio %.2fx; load average after: %s" % (worst, open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
