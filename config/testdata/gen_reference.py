#!/usr/bin/python3
"""Writes reference.txt: how PaddleClas (PyYAML SafeLoader + the literal_eval
pass of create_attr_dict + override_config with str2num = eval) sees the
shared PaddleClas configs and a list of -o options.

Run from the repository root with Debian's python3 (python3-yaml):
    /usr/bin/python3 config/testdata/gen_reference.py > config/testdata/reference.txt

The semantics below are written from ppshitu-pipeline.md §2.1-§2.2.
Output lines:
    file <name> <repr of the loaded config>
    opt <option> <top-level section> <repr of that section after the option>
    opt <option> ERROR
(fields separated by a TAB).
"""
import ast
import copy
import glob
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.join(HERE, "..", "..", "..", "shared", "testdata", "configs", "paddleclas")


def literal_pass(d):
    # Strings directly inside dicts reached through dicts are literal_eval'ed.
    for k, v in d.items():
        if isinstance(v, dict):
            literal_pass(v)
        elif isinstance(v, str):
            try:
                d[k] = ast.literal_eval(v)
            except BaseException:
                pass


def load(path):
    with open(path) as f:
        cfg = yaml.load(f, Loader=yaml.SafeLoader)
    literal_pass(cfg)
    return cfg


def str2num(v):
    try:
        return eval(v)
    except Exception:
        return v


def override(dl, ks, v):
    assert isinstance(dl, (list, dict))
    assert len(ks) > 0
    if isinstance(dl, list):
        k = str2num(ks[0])
        if len(ks) == 1:
            assert k < len(dl)
            dl[k] = str2num(v)
        else:
            override(dl[k], ks[1:], v)
    else:
        if len(ks) == 1:
            dl[ks[0]] = str2num(v)
        else:
            override(dl[ks[0]], ks[1:], v)


def apply(cfg, opt):
    assert "=" in opt
    pair = opt.split("=")
    assert len(pair) == 2
    key, value = pair
    override(cfg, key.split("."), value)


OPTIONS = [
    "Global.batch_size=2",
    "Global.threshold=0.5",
    "Global.use_gpu=False",
    "Global.use_gpu=false",
    "Global.use_gpu=None",
    "Global.output_dir=./out/",
    "Global.image_shape=[3,320,320]",
    "Global.image_shape.1=320",
    "Global.image_shape.-1=300",
    "Global.label_list.0=bottle",
    "Global.new_key=1e-3",
    "Global.x=2023-01",
    "Global.x=1/255",
    "Global.x=-2**2",
    "Global.x=2**-1",
    "Global.x=2**3**2",
    "Global.x=7//2",
    "Global.x=-7//2",
    "Global.x=7%-3",
    "Global.x=-7.5//2",
    "Global.x=7.5%-2",
    "Global.x=(1+2)*3-4",
    "Global.x=0x1F",
    "Global.x=0o17",
    "Global.x=0b101",
    "Global.x=1_000",
    "Global.x=1.",
    "Global.x=.5",
    "Global.x=1e400",
    "Global.x=-0.0",
    "Global.x=007",
    "Global.x=00",
    "Global.x='a b'",
    'Global.x="it\'s"',
    "Global.x='tab\\there'",
    "Global.x=True",
    "Global.x=[1,[2,3.5],'x',None]",
    "Global.x={'k': [1, 2], 'j': {'z': False}}",
    "Global.x=[]",
    "Global.x=HNSW32",
    "Global.x=IP",
    "Global.x=hello world",
    "Global.x= 5",
    "Global.x=",
    "Global.x=1/0",
    "Global.x=[1,2",
    "Global.x=true",
    "Global.x=3 + 4",
    "RecPreProcess.transform_ops.0.ResizeImage.size=256",
    "RecPreProcess.transform_ops.1.NormalizeImage.scale=1/255",
    "RecPreProcess.transform_ops.-1.ToCHWImage={'a':1}",
    "IndexProcess.score_thres=0.7",
    "IndexProcess.index_method=Flat",
    "IndexProcess.delimiter= ",
    "IndexProcess.dist_type=hamming",
    "DetPostProcess.k=1",
    "Global.batch_size",
    "Global.a=b=c",
    "Nope.x=1",
    "Global.image_shape.5=1",
    "Global.image_shape.x=1",
    "Global.batch_size.x=1",
    "RecPreProcess.transform_ops.9.x=1",
]


def main():
    out = sys.stdout
    for path in sorted(glob.glob(os.path.join(CONFIGS, "*.yaml"))):
        out.write("file\t%s\t%r\n" % (os.path.basename(path), load(path)))
    base = load(os.path.join(CONFIGS, "inference_general.yaml"))
    for opt in OPTIONS:
        cfg = copy.deepcopy(base)
        try:
            apply(cfg, opt)
        except Exception:
            out.write("opt\t%s\tERROR\n" % opt)
            continue
        sec = opt.split("=")[0].split(".")[0]
        out.write("opt\t%s\t%s\t%r\n" % (opt, sec, cfg[sec]))


if __name__ == "__main__":
    main()
