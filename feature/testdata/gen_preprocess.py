#!/usr/bin/python3
# Reference RecPreProcess outputs for feature tests, computed the way
# PaddleClas deploy/python/preprocess.py does (ppshitu-pipeline.md §6.1):
# cv2.imread → BGR2RGB → cv2.resize(INTER_LINEAR or resize_short) →
# (x.astype(float32) * float32(scale) - mean) / std in float32 → CHW.
# Writes preprocess.json: per case the output shape, the sha256 of the
# float32 little-endian bytes and a few sample values.
# Run with Debian's python3 (python3-opencv 4.6): /usr/bin/python3 gen_preprocess.py
import hashlib, json, os, sys
import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
IMG = os.path.join(HERE, "..", "..", "..", "shared", "testdata", "images", "paddleclas-demo")
cases = [
    ("drink_data_demo__test_images__100.jpeg", {"size": [224, 224]}),
    ("images__wangzai.jpg", {"size": [224, 224]}),  # a PNG named .jpg
    ("product_demo__gallery__anmuxi__001.jpg", {"resize_short": 256}),
    ("logo_demo__gallery__logo_gallery_demo.png", {"size": [224, 224], "scale": 0.00392157}),
]
out = []
for name, op in cases:
    img = cv2.imread(os.path.join(IMG, name))
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    if "resize_short" in op:
        p = op["resize_short"] / min(w, h)
        tw, th = int(round(w * p)), int(round(h * p))
    else:
        tw, th = op["size"]
    img = cv2.resize(img, (tw, th), interpolation=cv2.INTER_LINEAR)
    scale = np.float32(op.get("scale", 1.0 / 255.0))
    mean = np.array([0.485, 0.456, 0.406]).reshape((1, 1, 3)).astype("float32")
    std = np.array([0.229, 0.224, 0.225]).reshape((1, 1, 3)).astype("float32")
    x = (img.astype("float32") * scale - mean) / std
    x = np.ascontiguousarray(x.transpose((2, 0, 1)).astype("float32"))
    out.append({
        "image": name, "op": op, "shape": list(x.shape),
        "sha256": hashlib.sha256(x.astype("<f4").tobytes()).hexdigest(),
        "samples": [float(x.flat[i]) for i in (0, 1, 777, x.size // 2, x.size - 1)],
    })
json.dump(out, open(os.path.join(HERE, "preprocess.json"), "w"), indent=1)
print("wrote", len(out), "cases; cv2", cv2.__version__, file=sys.stderr)
