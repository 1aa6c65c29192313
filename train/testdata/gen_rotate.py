#!/usr/bin/env python3
"""Fixture for train/augment_test.go: OpenCV's rotation as paddle.vision's
functional_cv2.rotate does it (RandomRotation in PaddleClas' yaml):
cv2.warpAffine(img, cv2.getRotationMatrix2D((w/2, h/2), angle, 1), (w, h),
flags=cv2.INTER_LINEAR, borderValue=0), on a deterministic 37x29 RGB image.

Run with Debian's python3-opencv (4.6):
  /usr/bin/python3 train/testdata/gen_rotate.py > train/testdata/rotate_cv2.txt
Each line: angle, then the rotated image as hex.
"""
import cv2
import numpy as np

W, H = 37, 29
ANGLES = [0.0, 12.5, -47.3, 90.0, -90.0, 33.333333, 179.9, -5.0]


def image():
    y, x = np.mgrid[0:H, 0:W]
    img = np.zeros((H, W, 3), np.uint8)
    for c in range(3):
        img[:, :, c] = (x * 37 + y * 91 + c * 53 + x * y * 7) % 256
    return img


def main():
    img = image()
    print("# cv2", cv2.__version__)
    for a in ANGLES:
        m = cv2.getRotationMatrix2D((W / 2.0, H / 2.0), a, 1)
        out = cv2.warpAffine(img, m, (W, H), flags=cv2.INTER_LINEAR, borderValue=0)
        print(repr(a), out.tobytes().hex())


main()
