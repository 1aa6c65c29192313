#!/usr/bin/python3
"""Independent numpy reference for shitu's eval.Retrieval.

Implements ppshitu-pipeline.md §16.1 (PaddleClas retrieval evaluation:
ppcls/engine/evaluation/retrieval.py + ppcls/metric/metrics.py) from the
spec, whole-matrix style: per block S = Q·Gᵀ, S *= keep_mask, stable argsort
of -S (ties keep gallery order), rel = label match AND keep, CMC recall over
queries with a relevant item, mAP over the full ranking, precision@k over all
queries, block results weighted by block_size/num_query.

Writes ref_metrics.json (seeded, deterministic). Run with Debian's python:
    /usr/bin/python3 eval/testdata/ref_metrics.py
Integer-valued features keep dot products exact in float32 and float64, so
ties are real ties in both implementations.
"""
import json
import os

import numpy as np


def block_metrics(S, ql, gl, keep, topk, preck):
    order = np.argsort(-S, axis=1, kind="stable")
    rel = (gl[order] == ql[:, None])
    if keep is not None:
        rel &= np.take_along_axis(keep, order, axis=1)
    rel = rel.astype(np.float64)
    cum = np.cumsum(rel, axis=1)
    has = rel.sum(axis=1) > 0
    nrel = has.sum()
    ng = S.shape[1]
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        cmc = (cum > 0).sum(axis=0) / np.float64(nrel)
        out["recall"] = [cmc[min(k, ng) - 1] for k in topk]
        out["hits"] = [int((cum[:, min(k, ng) - 1] > 0).sum()) for k in topk]
        prec = [(cum[:, min(k, ng) - 1] / k).mean() for k in preck]
        out["precision"] = prec
        if nrel == 0:
            out["map"] = np.nan
            out["ap_sum"] = 0.0
        else:
            r = rel[has]
            p = cum[has] / np.arange(1, ng + 1)
            ap = (r * p).sum(axis=1) / r.sum(axis=1)
            out["map"] = ap.mean()
            out["ap_sum"] = ap.sum()
    out["nrel"] = int(nrel)
    return out


def evaluate(q, g, topk, preck, bs):
    nq = len(q["labels"])
    Q = np.array(q["vecs"], dtype=np.float64)
    G = np.array(g["vecs"], dtype=np.float64)
    ql = np.array(q["labels"])
    gl = np.array(g["labels"])
    use_mask = q.get("ids") is not None and g.get("ids") is not None
    tot = {"recall": np.zeros(len(topk)), "precision": np.zeros(len(preck)), "map": 0.0}
    hits = np.zeros(len(topk), dtype=np.int64)
    ap_sum, nrel, masked = 0.0, 0, 0
    for b0 in range(0, nq, bs):
        b1 = min(b0 + bs, nq)
        S = Q[b0:b1] @ G.T
        keep = None
        if use_mask:
            qi = np.array(q["ids"][b0:b1])
            gi = np.array(g["ids"])
            keep = (ql[b0:b1, None] != gl[None, :]) | (qi[:, None] != gi[None, :])
            masked += int((~keep).sum())
            S = S * keep
        m = block_metrics(S, ql[b0:b1], gl, keep, topk, preck)
        w = (b1 - b0) / nq
        tot["recall"] += np.array(m["recall"]) * w
        tot["precision"] += np.array(m["precision"]) * w
        tot["map"] += m["map"] * w
        hits += np.array(m["hits"])
        ap_sum += m["ap_sum"]
        nrel += m["nrel"]

    def clean(x):
        x = float(x)
        return None if np.isnan(x) or np.isinf(x) else x

    return {
        "recall": [clean(x) for x in tot["recall"]],
        "precision": [clean(x) for x in tot["precision"]],
        "map": clean(tot["map"]),
        "exact_recall": [clean(h / nrel) if nrel else None for h in hits],
        "exact_map": clean(ap_sum / nrel) if nrel else None,
        "with_relevant": nrel,
        "masked_pairs": masked,
    }


def rand_set(rng, n, dim, labels, lo=-2, hi=2, ids=False):
    s = {
        "vecs": rng.integers(lo, hi + 1, size=(n, dim)).tolist(),
        "labels": [str(x) for x in rng.choice(labels, size=n)],
    }
    if ids:
        s["ids"] = [str(i) for i in range(n)]
    return s


def main():
    rng = np.random.default_rng(20261125)
    cases = []

    def add(name, q, g, same, topk, preck, bs):
        exp = evaluate(q, g, topk, preck, bs)
        c = {"name": name, "query": q, "same": same, "topk": topk,
             "precision_k": preck, "block_size": bs, "expected": exp}
        if not same:
            c["gallery"] = g
        cases.append(c)

    # one list as both query and gallery, unique ids mask the self-match;
    # labels with a single image become queries without a relevant item.
    for i, (n, dim, nl, bs) in enumerate([(40, 4, 12, 7), (60, 3, 25, 64), (33, 5, 30, 4)]):
        s = rand_set(rng, n, dim, np.arange(nl), ids=True)
        add(f"same-list-{i}", s, s, True, [1, 2, 5], [1, 3, 5], bs)
    # separate query and gallery lists, some query labels absent from the gallery
    for i, (nq, ng, dim, bs) in enumerate([(30, 50, 4, 8), (25, 20, 2, 64), (17, 40, 6, 5)]):
        q = rand_set(rng, nq, dim, np.arange(14))
        g = rand_set(rng, ng, dim, np.arange(10))
        add(f"query-gallery-{i}", q, g, False, [1, 5, 10], [1, 5], bs)
    # separate lists that both carry unique ids: shared ids mask some pairs
    q = rand_set(rng, 20, 3, np.arange(6))
    q["ids"] = [str(x) for x in rng.integers(0, 5, size=20)]
    g = rand_set(rng, 30, 3, np.arange(6))
    g["ids"] = [str(x) for x in rng.integers(0, 5, size=30)]
    add("both-ids", q, g, False, [1, 3], [1, 3], 6)
    # a whole block without relevant items: PaddleClas' weighting gives NaN
    q = {"vecs": rng.integers(-1, 2, size=(6, 3)).tolist(), "labels": ["x", "x", "x", "a", "b", "a"]}
    g = rand_set(rng, 12, 3, ["a", "b", "c"], lo=-1, hi=1)
    add("nan-block", q, g, False, [1, 2], [1, 2], 3)
    # clustered features (label centroid + integer noise): high recall, ties
    cent = rng.integers(-3, 4, size=(8, 4))
    lab = rng.integers(0, 8, size=45)
    vecs = cent[lab] + rng.integers(-1, 2, size=(45, 4))
    s = {"vecs": vecs.tolist(), "labels": [str(x) for x in lab], "ids": [str(i) for i in range(45)]}
    add("clustered-same-list", s, s, True, [1, 5], [1, 5], 10)

    # k larger than the gallery
    q = rand_set(rng, 9, 3, ["a", "b"])
    g = rand_set(rng, 4, 3, ["a", "b"])
    add("k-over-gallery", q, g, False, [1, 3, 8], [2, 8], 64)

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ref_metrics.json")
    with open(out, "w") as f:
        json.dump({"generator": "eval/testdata/ref_metrics.py", "numpy": np.__version__,
                   "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
