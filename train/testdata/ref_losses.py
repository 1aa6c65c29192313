#!/usr/bin/env python3
"""numpy reference of PaddleClas' CELoss (label smoothing) and
TripletAngularMarginLoss, written from ppcls/loss/celoss.py and
ppcls/loss/tripletangularmarginloss.py, for train/loss_ref_test.go.

Reads a JSON file of batches (argv[1]) and prints a JSON list of
{"ce": ..., "triplet": ...}, computed in float64.
"""
import json
import sys

import numpy as np


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def ce_loss(logits, label, epsilon):
    n, c = logits.shape
    if epsilon is not None and 0 < epsilon < 1:
        one_hot = np.eye(c)[label]
        # paddle.nn.functional.label_smooth: (1 - eps) * label + eps / C
        soft = (1 - epsilon) * one_hot + epsilon / c
        loss = np.sum(-log_softmax(logits) * soft, axis=-1)
    else:
        loss = -log_softmax(logits)[np.arange(n), label]
    return float(loss.mean())


def triplet_angular_margin(x, target, margin, normalize_feature, add_absolute,
                           absolute_loss_weight, ap_value, an_value):
    if normalize_feature:
        x = x / np.linalg.norm(x, ord=2, axis=-1, keepdims=True)
    bs = x.shape[0]
    dist = x @ x.T
    t = np.broadcast_to(target, (bs, bs))
    is_pos = t == t.T
    is_neg = t != t.T
    pos_counts = is_pos.sum(axis=1)
    neg_counts = is_neg.sum(axis=1)
    if (pos_counts == pos_counts[0]).all() and (neg_counts == neg_counts[0]).all():
        # PaddleClas' form: masked_select (row-major) + reshape(bs, -1).
        dist_ap = dist[is_pos].reshape(bs, -1).min(axis=1)
        dist_an = dist[is_neg].reshape(bs, -1).max(axis=1)
    else:
        # Rows of different sizes (a label with one sample): the same
        # definition row by row (PaddleClas' reshape needs equal counts).
        dist_ap = np.array([dist[i][is_pos[i]].min() for i in range(bs)])
        dist_an = np.array([dist[i][is_neg[i]].max() for i in range(bs)])
    # MarginRankingLoss(margin, 'mean') with y = 1:
    # mean(max(0, -y * (dist_ap - dist_an) + margin))
    loss = np.maximum(0.0, -(dist_ap - dist_an) + margin).mean()
    if add_absolute:
        abs_ap = ap_value - dist_ap
        abs_ap = np.where(abs_ap > 0, abs_ap, np.zeros_like(abs_ap))
        abs_an = dist_an - an_value
        abs_an = np.where(abs_an > 0, abs_an, np.ones_like(abs_an))
        loss = (abs_an.mean() + abs_ap.mean()) * absolute_loss_weight + loss
    return float(loss)


def main():
    with open(sys.argv[1]) as f:
        batches = json.load(f)
    out = []
    for b in batches:
        feat = np.array(b["feat"], dtype=np.float64)
        logits = np.array(b["logits"], dtype=np.float64)
        labels = np.array(b["labels"], dtype=np.int64)
        t = b["triplet"]
        out.append({
            "ce": ce_loss(logits, labels, b["epsilon"]),
            "triplet": triplet_angular_margin(
                feat, labels, t["margin"], t["normalize_feature"], t["add_absolute"],
                t["absolute_loss_weight"], t["ap_value"], t["an_value"]),
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
