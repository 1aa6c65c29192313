#!/usr/bin/python3
"""Writes decode.txt: random raw PicoDet head outputs for a small input and
the detections after decode + multiclass_nms3, computed here with numpy in
float32, written from models-and-formats.md §B.4/§B.5 and Paddle's
multiclass_nms3 CPU kernel semantics (score > threshold, stable sort by
score, nms_top_k, keep while IoU <= adaptive threshold, normalized IoU
without +1, keep_top_k over classes by stable score order, output grouped
by class ascending).

Run from the repository root with Debian's python3 (python3-numpy):
    /usr/bin/python3 detect/testdata/gen_decode.py > detect/testdata/decode.txt

One case per line, fields separated by ';':
    form (flat|nchw) ; im_h,im_w ; sy,sx ; pre_topk ; noclip ; keep_top_k ; eta ;
    classes ; output tensors (space-separated float32 reprs, each tensor
    '|'-separated, in model order: scores of the 4 levels, then
    distributions) ; detections (class,score,x1,y1,x2,y2 '|'-separated)
"""
import numpy as np

STRIDES = [8, 16, 32, 64]
F = np.float32


def decode(scores, dists, im_h, im_w, sy, sx, pre_topk, noclip, nchw):
    boxes, cls = [], []
    for l, s in enumerate(STRIDES):
        gh, gw = -(-im_h // s), -(-im_w // s)
        sc, ds = scores[l], dists[l]
        if nchw:
            sc = sc.reshape(sc.shape[1], -1).T  # [HW, C]
            sc = (F(1) / (F(1) + np.exp(-sc))).astype(F)
            ds = ds.reshape(32, -1).T  # [HW, 32]
        else:
            sc = sc.reshape(gh * gw, -1)
            ds = ds.reshape(gh * gw, 32)
        best = sc.max(axis=1)
        pts = np.arange(gh * gw)
        if pre_topk > 0 and len(pts) > pre_topk:
            pts = np.argsort(-best, kind="stable")[:pre_topk]
        for p in pts:
            row, col = divmod(int(p), gw)
            cx = F(F(col) + F(0.5)) * F(s)
            cy = F(F(row) + F(0.5)) * F(s)
            d = []
            for side in range(4):
                x = ds[p, side * 8:(side + 1) * 8].astype(F)
                e = np.exp(x - x.max()).astype(F)
                pk = (e / e.sum(dtype=F)).astype(F)
                acc = F(0)
                for k in range(8):
                    acc = F(acc + F(pk[k] * F(k)))
                d.append(F(acc * F(s)))
            b = [F(cx - d[0]), F(cy - d[1]), F(cx + d[2]), F(cy + d[3])]
            if not noclip:
                b = [min(max(b[0], F(0)), F(im_w)), min(max(b[1], F(0)), F(im_h)),
                     min(max(b[2], F(0)), F(im_w)), min(max(b[3], F(0)), F(im_h))]
            b = [F(b[0] / F(sx)), F(b[1] / F(sy)), F(b[2] / F(sx)), F(b[3] / F(sy))]
            boxes.append(b)
            cls.append(sc[p])
    return boxes, np.array(cls, dtype=F).reshape(len(boxes), -1)


def area(b):
    if b[2] < b[0] or b[3] < b[1]:
        return F(0)
    return F(F(b[2] - b[0]) * F(b[3] - b[1]))


def iou(a, b):
    if b[0] > a[2] or b[2] < a[0] or b[1] > a[3] or b[3] < a[1]:
        return F(0)
    iw = F(min(a[2], b[2]) - max(a[0], b[0]))
    ih = F(min(a[3], b[3]) - max(a[1], b[1]))
    inter = F(iw * ih)
    with np.errstate(all="ignore"):
        return F(inter / F(F(area(a) + area(b)) - inter))


def nms(boxes, scores, thr=F(0.025), top_k=1000, nms_thr=F(0.6), keep_top_k=100, eta=F(1)):
    per = {}
    for c in range(scores.shape[1]):
        s = scores[:, c]
        cand = [i for i in range(len(s)) if s[i] > thr]
        cand.sort(key=lambda i: -s[i])  # Python's sort is stable
        cand = cand[:top_k]
        kept, t = [], nms_thr
        for i in cand:
            if all(iou(boxes[i], boxes[k]) <= t for k in kept):
                kept.append(i)
                if eta < 1 and t > 0.5:
                    t = F(t * eta)
        per[c] = kept
    total = sum(len(v) for v in per.values())
    if keep_top_k > -1 and total > keep_top_k:
        allp = [(scores[i, c], c, i) for c in sorted(per) for i in per[c]]
        allp.sort(key=lambda x: -x[0])
        allp = allp[:keep_top_k]
        per = {}
        for _, c, i in allp:
            per.setdefault(c, []).append(i)
    out = []
    for c in sorted(per):
        for i in per[c]:
            out.append((c, scores[i, c], *boxes[i]))
    return out


def fmt(a):
    # str of a numpy float32 is its shortest round-trip repr.
    return " ".join(str(v) for v in np.asarray(a, dtype=F).ravel())


def main():
    rng = np.random.default_rng(11)
    for case in range(24):
        im_h, im_w = [(64, 64), (64, 128), (96, 64), (72, 40)][case % 4]
        nchw = case % 3 == 2
        classes = 1 + case % 2
        sy, sx = F(rng.uniform(0.2, 3)), F(rng.uniform(0.2, 3))
        pre_topk = [0, 20, 5][case % 3]
        noclip = case % 5 == 4
        keep_top_k = [100, 7, -1, 3][case % 4]
        eta = F(0.8) if case % 6 == 5 else F(1)
        scores, dists = [], []
        for s in STRIDES:
            gh, gw = -(-im_h // s), -(-im_w // s)
            if nchw:
                scores.append(np.round(rng.normal(-1.5, 1.5, (1, classes, gh, gw)), 2).astype(F))
                dists.append(np.round(rng.normal(0, 2, (1, 32, gh, gw)), 2).astype(F))
            else:
                scores.append(np.round(rng.random((1, gh * gw, classes)) ** 3, 3).astype(F))
                dists.append(np.round(rng.normal(0, 2, (1, gh * gw, 32)), 2).astype(F))
        boxes, cls = decode(scores, dists, im_h, im_w, sy, sx, pre_topk, noclip, nchw)
        dets = nms(boxes, cls, keep_top_k=keep_top_k, eta=eta)
        tensors = "|".join(fmt(t) for t in scores + dists)
        out = "|".join(",".join(str(F(v)) if i else str(v) for i, v in enumerate(d)) for d in dets)
        print("%s;%d,%d;%r,%r;%d;%d;%d;%r;%d;%s;%s" % (
            "nchw" if nchw else "flat", im_h, im_w, float(sy), float(sx), pre_topk,
            int(noclip), keep_top_k, float(eta), classes, tensors, out))


if __name__ == "__main__":
    main()
