#!/usr/bin/python3
"""Seeded benchmark data shared by shitu's long benchmarks and the peer
script: 100k unit 512-d base vectors and 1000 queries, uniformly random on
the sphere and clustered, plus exact top-5 (faiss IndexFlatIP).

Usage: /usr/bin/python3 gen_bench_data.py [OUTDIR=/tmp/shitu-vec]
Files: {uniform,clustered}_{base,query}.f32 (raw little-endian float32,
row-major, 512 per row) and {..}_gt.i64 (1000×100 int64 row positions,
best first).
"""
import os
import sys

import faiss
import numpy as np

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/shitu-vec"
os.makedirs(out, exist_ok=True)
N, NQ, D, NC = 100_000, 1000, 512, 1000


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


rng = np.random.default_rng(512)
sets = {}
sets["uniform"] = unit(rng.standard_normal((N + NQ, D), dtype=np.float32))
centres = rng.standard_normal((NC, D), dtype=np.float32)
assign = rng.integers(0, NC, size=N + NQ)
# Noise comparable to the centre spread: clusters overlap like product
# categories do, so neighbours are not trivial to find.
sets["clustered"] = unit(centres[assign] + 0.8 * rng.standard_normal((N + NQ, D), dtype=np.float32))

for name, x in sets.items():
    base, q = x[:N], x[N:]
    base.tofile(os.path.join(out, f"{name}_base.f32"))
    q.tofile(os.path.join(out, f"{name}_query.f32"))
    idx = faiss.IndexFlatIP(D)
    idx.add(base)
    _, gt = idx.search(q, 100)
    gt.astype(np.int64).tofile(os.path.join(out, f"{name}_gt.i64"))
    print(name, base.shape, q.shape)
