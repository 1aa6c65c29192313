#!/usr/bin/python3
"""Writes small faiss index files of every type shitu reads, plus the
queries and faiss' own search results for them (expected.json).

Run with Debian's python3-faiss (1.7.3): /usr/bin/python3 gen_fixtures.py
Seeded, so re-running reproduces the same files.
"""
import json
import os

import faiss
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261125)
D, N, NQ, K = 16, 60, 6, 5


def unit(n, d):
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


xb = unit(N, D)
xq = unit(NQ, D)
sparse_ids = (np.arange(N, dtype=np.int64) * 7 + 3)
cases = {}


def record(name, index, queries, k, binary=False):
    path = os.path.join(HERE, name + ".index")
    if binary:
        faiss.write_index_binary(index, path)
    else:
        faiss.write_index(index, path)
    Dist, Ids = index.search(queries, k)
    cases[name] = {
        "binary": binary,
        "k": k,
        "ids": Ids.tolist(),
        "scores": [[float(v) for v in row] for row in Dist],
        "ntotal": int(index.ntotal),
    }


# Flat, no id map: ids are positions.
ip = faiss.IndexFlatIP(D); ip.add(xb); record("flat_ip", ip, xq, K)
l2 = faiss.IndexFlatL2(D); l2.add(xb); record("flat_l2", l2, xq, K)
# k larger than ntotal: padding.
small = faiss.IndexFlatIP(D); small.add(xb[:3]); record("flat_ip_pad", small, xq, K)
small2 = faiss.IndexFlatL2(D); small2.add(xb[:3]); record("flat_l2_pad", small2, xq, K)

# IDMap / IDMap2 around Flat, sparse ids, then a removal (PaddleClas "remove").
m1 = faiss.IndexIDMap(faiss.IndexFlatIP(D)); m1.add_with_ids(xb, sparse_ids); record("idmap_flat_ip", m1, xq, K)
m2 = faiss.IndexIDMap2(faiss.IndexFlatL2(D)); m2.add_with_ids(xb, sparse_ids)
m2.remove_ids(np.array(sparse_ids[::3], dtype=np.int64)); record("idmap2_flat_l2_removed", m2, xq, K)
m3 = faiss.IndexIDMap2(faiss.IndexFlatIP(D)); m3.add_with_ids(xb, sparse_ids); record("idmap2_flat_ip", m3, xq, K)

# HNSW32 as PaddleClas builds it (index_factory "HNSW32" in IDMap2), IP and L2.
h = faiss.index_factory(D, "HNSW32", faiss.METRIC_INNER_PRODUCT)
hm = faiss.IndexIDMap2(h); hm.add_with_ids(xb, sparse_ids); record("idmap2_hnsw32_ip", hm, xq, K)
h2 = faiss.IndexHNSWFlat(D, 8); h2.hnsw.efSearch = 16; h2.add(xb); record("hnsw8_l2", h2, xq, K)

# A larger graph where the beam search matters (500 nodes, efSearch 8 < n).
xb500 = unit(500, D)
h3 = faiss.IndexHNSWFlat(D, 16); h3.hnsw.efSearch = 8; h3.add(xb500); record("hnsw16_l2_500", h3, xq, K)

# IVF-Flat: nlist 4, nprobe 2; one bare, one in IDMap2 (IP).
qz = faiss.IndexFlatL2(D)
ivf = faiss.IndexIVFFlat(qz, D, 4, faiss.METRIC_L2); ivf.train(xb); ivf.add(xb); ivf.nprobe = 2
record("ivf4_l2", ivf, xq, K)
qz2 = faiss.IndexFlatIP(D)
ivf2 = faiss.IndexIVFFlat(qz2, D, 4, faiss.METRIC_INNER_PRODUCT); ivf2.train(xb)
ivm = faiss.IndexIDMap2(ivf2); ivm.add_with_ids(xb, sparse_ids); ivf2.nprobe = 4
record("idmap2_ivf4_ip", ivm, xq, K)
# Sparse inverted lists: 64 lists for 60 vectors of which most lists are empty.
qz3 = faiss.IndexFlatL2(D)
ivf3 = faiss.IndexIVFFlat(qz3, D, 64, faiss.METRIC_L2)
ivf3.train(np.concatenate([xb, unit(4, D)]))
ivf3.add(xb[:8]); ivf3.nprobe = 64
record("ivf64_l2_sparse", ivf3, xq, K)

# Binary: 64-bit codes (as the binary PP-ShiTu features, but shorter).
BD = 64
cb = rng.integers(0, 256, size=(N, BD // 8), dtype=np.uint8)
cq = rng.integers(0, 256, size=(NQ, BD // 8), dtype=np.uint8)
bf = faiss.IndexBinaryFlat(BD); bf.add(cb); record("bflat", bf, cq, K, binary=True)
bh = faiss.IndexBinaryHNSW(BD, 16); bh.add(cb); record("bhnsw16", bh, cq, K, binary=True)
cb500 = rng.integers(0, 256, size=(500, BD // 8), dtype=np.uint8)
bh2 = faiss.IndexBinaryHNSW(BD, 8); bh2.hnsw.efSearch = 8; bh2.add(cb500); record("bhnsw8_500", bh2, cq, K, binary=True)

out = {
    "d": D, "binary_d": BD,
    "queries": [[float(v) for v in row] for row in xq],
    "binary_queries": cq.tolist(),
    "faiss_version": faiss.__version__,
    "cases": cases,
}
with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(out, f, indent=0)
