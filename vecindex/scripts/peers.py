#!/usr/bin/python3
"""Peer figures for shitu's vector index benchmarks, on the data written by
gen_bench_data.py: faiss IndexFlatIP (single-threaded, one query per call
and 1000 per call) and hnswlib (M, efConstruction as given; searched with
one thread at several ef), recall@5 against the exact top-5.

Usage: /usr/bin/python3 peers.py [DIR=/tmp/shitu-vec] [M=32] [EFC=100]
Run under `flock /tmp/shitu-bench.lock` on a shared machine.
Prints one JSON object per measurement.
"""
import json
import os
import sys
import time

import faiss
import hnswlib
import numpy as np

d = sys.argv[1] if len(sys.argv) > 1 else "/tmp/shitu-vec"
M = int(sys.argv[2]) if len(sys.argv) > 2 else 32
EFC = int(sys.argv[3]) if len(sys.argv) > 3 else 100
D, K = 512, 5
faiss.omp_set_num_threads(1)


def load(name):
    base = np.fromfile(os.path.join(d, f"{name}_base.f32"), dtype=np.float32).reshape(-1, D)
    q = np.fromfile(os.path.join(d, f"{name}_query.f32"), dtype=np.float32).reshape(-1, D)
    gt = np.fromfile(os.path.join(d, f"{name}_gt.i64"), dtype=np.int64).reshape(len(q), -1)
    return base, q, gt


def recall(labels, gt):
    hit = 0
    for row, g in zip(labels, gt[:, :K]):
        hit += len(set(row.tolist()) & set(g.tolist()))
    return hit / (len(gt) * K)


def emit(**kw):
    print(json.dumps(kw), flush=True)


SETS = os.environ.get("SHITU_SETS", "uniform,clustered").split(",")
SKIP_FLAT = os.environ.get("SHITU_SKIP_FLAT") == "1"
for name in SETS:
    base, q, gt = load(name)
    flat = faiss.IndexFlatIP(D)
    flat.add(base)
    for rep in range(0 if SKIP_FLAT else 3):
        nq = 100
        t0 = time.perf_counter()
        for i in range(nq):
            flat.search(q[i:i + 1], K)
        single = (time.perf_counter() - t0) / nq
        t0 = time.perf_counter()
        flat.search(q[:256], K)
        batch = (time.perf_counter() - t0) / 256
        emit(peer="faiss-IndexFlatIP-1thread", set=name, rep=rep,
             ms_per_query_single=single * 1e3, ms_per_query_batch256=batch * 1e3)
    del flat

    p = hnswlib.Index(space="ip", dim=D)
    cache = os.path.join(d, f"{name}_hnswlib_M{M}_efc{EFC}.bin")
    if os.path.exists(cache):
        p.load_index(cache, max_elements=len(base))
    else:
        p.init_index(max_elements=len(base), M=M, ef_construction=EFC, random_seed=100)
        p.set_num_threads(2)
        t0 = time.perf_counter()
        p.add_items(base, np.arange(len(base)))
        emit(peer="hnswlib", set=name, M=M, efC=EFC, build_s_2threads=time.perf_counter() - t0)
        p.save_index(cache)
    p.set_num_threads(1)
    reached = False
    for ef in (16, 24, 32, 48, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768):
        p.set_ef(ef)
        qq, gg = (q, gt) if ef <= 256 else (q[:200], gt[:200])
        best = None
        for rep in range(3):
            t0 = time.perf_counter()
            labels, _ = p.knn_query(qq, k=K, num_threads=1)
            dt = time.perf_counter() - t0
            best = dt if best is None else min(best, dt)
        r = recall(labels, gg)
        emit(peer="hnswlib", set=name, M=M, efC=EFC, ef=ef, recall5=r,
             qps_1thread=len(qq) / best, queries=len(qq))
        if r >= 0.99:
            if reached:
                break
            reached = True
