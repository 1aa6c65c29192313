package detect

import (
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"testing"
)

// TestSelectTopNumpyPeer runs PaddleClas's parse_det_results selection
// (deploy/python/predict_det.py: argsort()[::-1][:max_det_results], then
// `if score < threshold: continue` on a numpy float32 scalar against a
// Python float) in Debian's numpy, on scores right at the thresholds, and
// compares the kept rows with SelectTop.
func TestSelectTopNumpyPeer(t *testing.T) {
	const py = "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skipf("%s is absent (make setup-test installs python3-numpy)", py)
	}
	if out, err := exec.Command(py, "-c", "import numpy").CombinedOutput(); err != nil {
		t.Skipf("numpy is missing (make setup-test installs python3-numpy): %s", out)
	}
	scores := []float32{0.7, 0.2, 0.5, 0.69999999, 0.2000001, 0.19999999, 0.3, 0.50000006, 0.9}
	thresholds := []float64{0.2, 0.3, 0.5, 0.7}
	script := `
import json, sys
import numpy as np
scores = json.loads(sys.argv[1]); ths = json.loads(sys.argv[2])
pred = np.zeros((len(scores), 6), dtype=np.float32)
pred[:, 1] = np.array(scores, dtype=np.float32)
out = []
for th in ths:
    keep = []
    for idx in pred[:, 1].argsort()[::-1][:5]:
        score = pred[idx][1]
        if score < th:
            continue
        keep.append(int(idx))
    out.append(keep)
print(json.dumps(out))
`
	sj, _ := json.Marshal(scores)
	tj, _ := json.Marshal(thresholds)
	out, err := exec.Command(py, "-c", script, string(sj), string(tj)).Output()
	if err != nil {
		t.Fatalf("numpy peer: %v", err)
	}
	var want [][]int
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("numpy peer output %q: %v", out, err)
	}
	dets := make([]Box, len(scores))
	for i, s := range scores {
		dets[i] = Box{X1: float32(i), Score: s}
	}
	for i, th := range thresholds {
		got := []int{}
		for _, b := range SelectTop(dets, 5, th) {
			got = append(got, int(b.X1))
		}
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("threshold %v: kept %v, numpy keeps %v", th, got, want[i])
		}
	}
	t.Logf("%d thresholds × %d scores at the edges: same rows as numpy", len(thresholds), len(scores))
}
