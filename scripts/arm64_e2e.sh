#!/usr/bin/env bash
# arm64_e2e.sh AMD64_BIN AMD64_ORT "ARM64_CMD" ARM64_ORT
#
# End-to-end check of an emulated build (issue 17): the native binary builds
# the synthetic demo (seeded networks, generated gallery), then both builds
# run `shitu predict` on the same image against the same config and gallery;
# labels and boxes must be identical and scores within 1e-4. One image keeps
# it to a few minutes under qemu (ONNX Runtime itself is emulated).
set -euo pipefail
native=$1 native_ort=$2 other=$3 other_ort=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
SHITU_ORT_LIB=$native_ort "$native" demo --offline --dir "$work/demo" >/dev/null
cd "$work/demo"
img=synthetic/query/query_0_product_00.jpg
SHITU_ORT_LIB=$native_ort "$native" predict -c inference_demo.yaml --no-draw "$img" >"$work/native.json"
start=$(date +%s)
SHITU_ORT_LIB=$other_ort $other predict -c inference_demo.yaml --no-draw "$img" >"$work/other.json" 2>"$work/other.err" \
  || { cat "$work/other.err" >&2; exit 1; }
echo "arm64 e2e: predict under emulation took $(( $(date +%s) - start ))s"
python3 - "$work/native.json" "$work/other.json" <<'PY'
import json, sys
a, b = (json.loads(open(p).read()) for p in sys.argv[1:3])
def flat(r):
    out = []
    for o in r["objects"]:
        out.append((o["bbox"], o.get("label", ""), o["score"]))
        for c in o.get("candidates", []):
            out.append((o["bbox"], c["label"], c["score"]))
    return out
fa, fb = flat(a), flat(b)
if len(fa) != len(fb):
    sys.exit(f"arm64 e2e: {len(fb)} answers, amd64 has {len(fa)}")
worst = 0.0
for (ba, la, sa), (bb, lb, sb) in zip(fa, fb):
    if ba != bb or la != lb:
        sys.exit(f"arm64 e2e: box/label {bb} {lb!r} differs from amd64 {ba} {la!r}")
    worst = max(worst, abs(sa - sb))
if worst > 1e-4:
    sys.exit(f"arm64 e2e: score difference {worst:.3g} > 1e-4")
print(f"arm64 e2e: {len(a['objects'])} objects, {len(fa)} labels identical, max score difference {worst:.3g}")
PY
