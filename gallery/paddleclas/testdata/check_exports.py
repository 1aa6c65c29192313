#!/usr/bin/python3
# Loads the PaddleClas exports written by the Go gallery (vector.index +
# id_map.pkl) with python3-faiss and pickle, as predict_system.py does, and
# checks faiss' search results and labels against indexdirs/expected.json.
#   SHITU_GALLERY_EXPORT_DIR=/tmp/exports go test -run WriteExportsForFaiss ./gallery
#   /usr/bin/python3 gallery/paddleclas/testdata/check_exports.py /tmp/exports
import json, os, pickle, sys
import faiss
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
exp = json.load(open(os.path.join(HERE, "indexdirs", "expected.json")))
root = sys.argv[1]
queries = np.array(exp["queries"], dtype="float32")
qcodes = np.array(exp["qcodes"], dtype="uint8")
bad = 0
for name, case in sorted(exp["cases"].items()):
    d = os.path.join(root, name)
    binary = name.startswith("b")
    index = (faiss.read_index_binary if binary else faiss.read_index)(os.path.join(d, "vector.index"))
    id_map = pickle.load(open(os.path.join(d, "id_map.pkl"), "rb"))
    assert index.ntotal == len(id_map), name
    scores, ids = index.search(qcodes if binary else queries, exp["k"])
    ok_scores = np.allclose(scores, np.array(case["scores"]), atol=1e-5)
    same_ids = (ids == np.array(case["ids"])).mean()
    labels_ok = all(id_map[np.int64(i)].split()[1] == f"label{i % 37}" for row in ids for i in row)
    print(f"{name:18s} {type(index).__name__:22s} scores equal: {ok_scores}  ids equal: {same_ids:.3f}  labels ok: {labels_ok}")
    bad += not (ok_scores and labels_ok and same_ids > 0.95)
sys.exit(1 if bad else 0)
