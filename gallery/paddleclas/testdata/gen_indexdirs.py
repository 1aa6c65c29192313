#!/usr/bin/python3
# Builds small PaddleClas- and PaddleX-style index_dirs with python3-faiss
# the way build_gallery.py / PaddleX's FaissBuilder do (ppshitu-pipeline.md
# §11.4, §11.6, §17), plus queries and faiss' own search results, for the
# gallery import tests. Run with Debian's python3 (python3-faiss, numpy):
#   /usr/bin/python3 gen_indexdirs.py
import json, os, pickle
import faiss
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261125)
N, D, Q, K = 300, 32, 20, 5
labels = [f"label{i % 37}" for i in range(N)]
docs = [f"gallery/{i // 10}/{i}.jpg\t{labels[i]}" for i in range(N)]

def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("float32")

feats = unit(rng.standard_normal((N, D)))
queries = unit(feats[rng.integers(0, N, Q)] + 0.3 * rng.standard_normal((Q, D)))
out = {"k": K, "queries": queries.tolist(), "cases": {}}

def save(name, index, id_map, yaml_info=None):
    d = os.path.join(HERE, "indexdirs", name)
    os.makedirs(d, exist_ok=True)
    if isinstance(index, faiss.IndexBinary):
        faiss.write_index_binary(index, os.path.join(d, "vector.index"))
    else:
        faiss.write_index(index, os.path.join(d, "vector.index"))
    if yaml_info is None:
        with open(os.path.join(d, "id_map.pkl"), "wb") as f:
            pickle.dump(id_map, f)
    else:
        with open(os.path.join(d, "id_map.yaml"), "w") as f:
            f.write("id_map:\n")
            for k, v in id_map.items():
                f.write(f"  {int(k)}: {v}\n")
            f.write(f"index_type: {yaml_info[0]}\nmetric_type: {yaml_info[1]}\n")

def float_case(name, factory, metric, remove=None, paddlex=False):
    index = faiss.index_factory(D, factory, metric)
    index = faiss.IndexIDMap2(index)
    index.train(feats)
    ids = np.arange(N).astype(np.int64)
    index.add_with_ids(feats, ids)
    id_map = {np.int64(i): docs[i] for i in range(N)}
    if remove is not None:
        index.remove_ids(np.asarray(remove, dtype=np.int64))
        for r in remove:
            del id_map[np.int64(r)]
    scores, res = index.search(queries, K)
    if paddlex:
        save(name, index, {k: labels[int(k)] for k in id_map}, ("HNSW32" if "HNSW" in factory else factory, "IP" if metric == faiss.METRIC_INNER_PRODUCT else "L2"))
    else:
        save(name, index, id_map)
    out["cases"][name] = {"ids": res.tolist(), "scores": scores.tolist()}

float_case("hnsw_ip", "HNSW32", faiss.METRIC_INNER_PRODUCT)
float_case("flat_ip", "Flat", faiss.METRIC_INNER_PRODUCT, remove=[3, 4, 100])
float_case("flat_l2", "Flat", faiss.METRIC_L2)
# No remove here: faiss' IndexIDMap2 over IVF keeps stale internal ids after
# remove_ids (the id map is compacted, the IVF ids are not), so such a file
# is inconsistent in faiss itself.
float_case("ivf_ip", "IVF37,Flat", faiss.METRIC_INNER_PRODUCT)
float_case("paddlex_hnsw_ip", "HNSW32", faiss.METRIC_INNER_PRODUCT, paddlex=True)

# Binary: sign bits MSB first, no id map (ids are positions), as build_gallery.py.
codes = np.packbits((feats > 0).astype(np.uint8), axis=1)
qcodes = np.packbits((queries > 0).astype(np.uint8), axis=1)
out["qcodes"] = qcodes.tolist()
for name, factory in (("bflat", "BFlat"), ("bhnsw", "BHNSW32")):
    index = faiss.index_binary_factory(D, factory)
    index.add(codes)
    dist, res = index.search(qcodes, K)
    save(name, index, {np.int64(i): docs[i] for i in range(N)})
    out["cases"][name] = {"ids": res.tolist(), "scores": dist.astype(float).tolist()}

with open(os.path.join(HERE, "indexdirs", "expected.json"), "w") as f:
    json.dump(out, f)
print("faiss", faiss.__version__)
