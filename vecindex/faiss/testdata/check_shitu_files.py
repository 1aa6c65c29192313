#!/usr/bin/python3
"""Loads the index files shitu wrote into DIR with python3-faiss and checks
that faiss' searches give the results shitu recorded in DIR/expected.json.

Usage: /usr/bin/python3 check_shitu_files.py DIR   (exit status 1 on mismatch)
"""
import json
import os
import sys

import faiss
import numpy as np


def main(d):
    with open(os.path.join(d, "expected.json")) as f:
        exp = json.load(f)
    bad = 0
    for name, c in sorted(exp["cases"].items()):
        path = os.path.join(d, name + ".index")
        if c["binary"]:
            index = faiss.read_index_binary(path)
            q = np.array(exp["binary_queries"], dtype=np.uint8)
        else:
            index = faiss.read_index(path)
            q = np.array(exp["queries"], dtype=np.float32)
        if c.get("fourcc"):
            with open(path, "rb") as f:
                cc = f.read(4).decode()
            if cc != c["fourcc"]:
                print(f"{name}: file starts with {cc}, want {c['fourcc']}")
                bad += 1
        if index.ntotal != c["ntotal"]:
            print(f"{name}: ntotal {index.ntotal}, want {c['ntotal']}")
            bad += 1
            continue
        D, I = index.search(q, c["k"])
        want_i = np.array(c["ids"], dtype=np.int64)
        want_d = np.array(c["scores"], dtype=np.float64)
        if not np.array_equal(I, want_i):
            print(f"{name}: faiss ids {I.tolist()} != shitu {want_i.tolist()}")
            bad += 1
            continue
        if not np.allclose(D.astype(np.float64), want_d, rtol=1e-5, atol=1e-5):
            print(f"{name}: faiss scores {D.tolist()} != shitu {want_d.tolist()}")
            bad += 1
            continue
        print(f"{name}: ok ({type(index).__name__}, ntotal {index.ntotal})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
