#!/usr/bin/python3
"""Writes rec_nms.txt: random recognition results and the indices kept by
PaddleClas' recognition-level NMS, written here from ppshitu-pipeline.md §8
with numpy float32 arithmetic (+1 pixel areas, keep IoU <= thresh, order =
argsort ascending reversed).

Run from the repository root with Debian's python3 (python3-numpy):
    /usr/bin/python3 detect/testdata/gen_rec_nms.py > detect/testdata/rec_nms.txt

Each case is one line: thresh;x1,y1,x2,y2,score|...;kept indices
(scores are printed with repr of float32, shortest round-trip).
"""
import numpy as np


def rec_nms(boxes, scores, thresh):
    x1 = boxes[:, 0].astype(np.float32)
    y1 = boxes[:, 1].astype(np.float32)
    x2 = boxes[:, 2].astype(np.float32)
    y2 = boxes[:, 3].astype(np.float32)
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while order.size > 0:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        w = np.maximum(0.0, xx2 - xx1 + 1)
        h = np.maximum(0.0, yy2 - yy1 + 1)
        inter = w * h
        ovr = inter / (areas[i] + areas[order[1:]] - inter)
        inds = np.where(ovr <= thresh)[0]
        order = order[inds + 1]
    return keep


def main():
    rng = np.random.default_rng(7)
    for case in range(300):
        n = int(rng.integers(0, 9))
        W, H = int(rng.integers(20, 1000)), int(rng.integers(20, 1000))
        boxes = []
        for _ in range(n):
            if rng.random() < 0.15:
                boxes.append([0, 0, W, H])  # the whole-image box
                continue
            a, b = sorted(rng.integers(0, W, 2))
            c, d = sorted(rng.integers(0, H, 2))
            boxes.append([int(a), int(c), int(b), int(d)])
        boxes = np.array(boxes, dtype=np.int64).reshape(-1, 4)
        # Distinct scores: ties are unspecified in numpy (§8.3).
        scores = rng.permutation(np.linspace(0.05, 0.95, 64).astype(np.float32))[:n]
        thresh = [0.05, 0.0, 0.3, 0.5][case % 4]
        keep = rec_nms(boxes, scores, np.float32(thresh))
        items = "|".join("%d,%d,%d,%d,%r" % (*b, float(s)) for b, s in zip(boxes.tolist(), scores))
        print("%r;%s;%s" % (thresh, items, ",".join(map(str, keep))))


if __name__ == "__main__":
    main()
