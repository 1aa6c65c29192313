package detect

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

func parseFloats(t *testing.T, s, sep string) []float32 {
	t.Helper()
	if s == "" {
		return nil
	}
	var out []float32
	for _, f := range strings.Split(s, sep) {
		v, err := strconv.ParseFloat(f, 32)
		if err != nil {
			t.Fatalf("bad float %q", f)
		}
		out = append(out, float32(v))
	}
	return out
}

// TestDecodeNMSReference compares DecodeRaw + MultiClassNMS with an
// independent numpy float32 implementation (testdata/gen_decode.py) on
// random head outputs: both layouts, 1–2 classes, pre-NMS top-k, clipping
// on and off, keep_top_k and adaptive eta. Selection and order must be
// identical; scores exact for probability outputs and within 1e-6 for
// logits (numpy's float32 exp in the sigmoid differs by an ulp);
// coordinates within 1e-4 relative (exp and summation order differ).
func TestDecodeNMSReference(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "decode.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 20 {
		t.Fatalf("%d cases", len(lines))
	}
	for n, line := range lines {
		f := strings.Split(line, ";")
		nchw := f[0] == "nchw"
		hw := parseFloats(t, f[1], ",")
		sc := parseFloats(t, f[2], ",")
		preTopK, _ := strconv.Atoi(f[3])
		noClip := f[4] == "1"
		keepTopK, _ := strconv.Atoi(f[5])
		eta := parseFloats(t, f[6], ",")[0]
		classes, _ := strconv.Atoi(f[7])
		raw := strings.Split(f[8], "|")
		var outs []*tensor.Tensor
		for i, r := range raw {
			s := []int{8, 16, 32, 64}[i%4]
			gh := int(math.Ceil(float64(hw[0]) / float64(s)))
			gw := int(math.Ceil(float64(hw[1]) / float64(s)))
			ch := classes
			if i >= 4 {
				ch = 32
			}
			shape := []int{1, gh * gw, ch}
			if nchw {
				shape = []int{1, ch, gh, gw}
			}
			outs = append(outs, tensor.Must(shape, parseFloats(t, r, " ")))
		}
		if preTopK == 0 {
			preTopK = -1
		}
		boxes, scores, err := DecodeRaw(outs, [2]float32{hw[0], hw[1]}, [2]float32{sc[0], sc[1]},
			DecodeConfig{PreNMSTopK: preTopK, NoClip: noClip})
		if err != nil {
			t.Fatalf("case %d: %v", n, err)
		}
		p := PicoDetNMS()
		p.KeepTopK, p.Eta = keepTopK, eta
		got, err := MultiClassNMS(boxes, scores, p)
		if err != nil {
			t.Fatal(err)
		}
		var want []Box
		if f[9] != "" {
			for _, d := range strings.Split(f[9], "|") {
				v := parseFloats(t, d, ",")
				want = append(want, Box{X1: v[2], Y1: v[3], X2: v[4], Y2: v[5], Score: v[1], Class: int(v[0])})
			}
		}
		if len(got) != len(want) {
			t.Errorf("case %d: %d detections, want %d\n got  %v\n want %v", n, len(got), len(want), got, want)
			continue
		}
		close := func(a, b float32) bool {
			return math.Abs(float64(a-b)) <= 1e-4*math.Max(1, math.Abs(float64(b)))
		}
		scoreOK := func(a, b float32) bool { return a == b }
		if nchw {
			scoreOK = func(a, b float32) bool { return math.Abs(float64(a-b)) <= 1e-6 }
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.Class != w.Class || !scoreOK(g.Score, w.Score) || !close(g.X1, w.X1) || !close(g.Y1, w.Y1) || !close(g.X2, w.X2) || !close(g.Y2, w.Y2) {
				t.Errorf("case %d detection %d: got %v, want %v", n, i, g, w)
			}
		}
	}
}
