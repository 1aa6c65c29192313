#!/usr/bin/python3
"""Reference parameter and MAC counts for the ONNX files in ../shared/testdata/real-models.

Independent of the Go analyser: uses Debian python3-onnx (1.12) shape inference.
Dynamic input dims are set to 1 (batch) and 224 (others), as TestRealCounts does.
Params: elements of initializers + float Constant tensors of rank >= 1.
MACs: Conv = prod(out) * prod(W.shape[1:]); ConvTranspose = prod(in) * prod(W.shape[1:]);
Gemm/MatMul = prod(out) * K.

Run from the repository root:  /usr/bin/python3 onnx/testdata/gen_counts.py > onnx/testdata/real_counts.json
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "testdata", "real-models")


def count(path):
    m = onnx.load(path)
    g = m.graph
    inits = {t.name for t in g.initializer}
    for inp in g.input:
        if inp.name in inits:
            continue
        dims = inp.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            if not d.HasField("dim_value") or d.dim_value < 0:
                d.Clear()
                d.dim_value = 1 if i == 0 else 224
    m = shape_inference.infer_shapes(m, data_prop=True)
    g = m.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") and d.dim_value >= 0 for d in dims):
            shapes[vi.name] = [d.dim_value for d in dims]
    for t in g.initializer:
        shapes[t.name] = list(t.dims)
    params = sum(int(np.prod(t.dims)) for t in g.initializer)
    tensors = len(g.initializer)
    macs = 0
    producer = {o: n for n in g.node for o in n.output}
    for n in g.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value" and a.t.data_type == onnx.TensorProto.FLOAT and len(a.t.dims) > 0:
                    params += int(np.prod(a.t.dims))
                    tensors += 1
                    shapes[n.output[0]] = list(a.t.dims)
            continue
        out = shapes.get(n.output[0]) if n.output else None
        if n.op_type == "Conv":
            w = shapes[n.input[1]]
            macs += int(np.prod(out)) * int(np.prod(w[1:]))
        elif n.op_type == "ConvTranspose":
            w = shapes[n.input[1]]
            macs += int(np.prod(shapes[n.input[0]])) * int(np.prod(w[1:]))
        elif n.op_type == "Gemm":
            a = shapes[n.input[0]]
            trans_a = any(x.name == "transA" and x.i for x in n.attribute)
            macs += int(np.prod(out)) * (a[0] if trans_a else a[1])
        elif n.op_type == "MatMul":
            if out is not None and shapes.get(n.input[0]):
                macs += int(np.prod(out)) * shapes[n.input[0]][-1]
            else:
                # onnx 1.12 cannot fold the Shape->Slice->Concat->Reshape that
                # feeds the classifier's MatMul: count it from the Reshape's
                # input size and the 2-D weight instead (M*K = numel, N = W[1]).
                prod = producer[n.input[0]]
                assert prod.op_type == "Reshape"
                w = shapes[n.input[1]]
                macs += int(np.prod(shapes[prod.input[0]])) * w[1]
    return {"params": params, "tensors": tensors, "macs": macs}


def main():
    res = {}
    for dirpath, _, files in sorted(os.walk(ROOT)):
        for f in sorted(files):
            if f.endswith(".onnx"):
                p = os.path.join(dirpath, f)
                res[os.path.relpath(p, ROOT)] = count(p)
    json.dump(res, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
