package arch

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/tensor"
)

// TestONNXMatchesReference runs both networks (small inputs) in ONNX Runtime
// and in the package's plain-Go reference forward pass: every output must
// agree, which checks the ONNX emission of every layer kind (weight layout,
// padding, HardSigmoid slope, dropout factor, nearest upsampling, split).
func TestONNXMatchesReference(t *testing.T) {
	be, err := ort.New(ort.Config{LibPath: testutil.ORTLib(t)})
	if err != nil && !cgoBuild {
		t.Skipf("ONNX Runtime backend unavailable in this build: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rec, err := RecNet(3, RecOptions{InputSize: 64, Batch: 2})
	if err != nil {
		t.Fatal(err)
	}
	det, err := DetNet(3, DetOptions{InputSize: 128})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		net  *Net
		n, s int
	}{{rec, 2, 64}, {det, 1, 128}} {
		x := synthImages(rand.New(rand.NewPCG(7, 8)), tc.n, tc.s)
		ref, err := tc.net.forward(map[string]*fmap{tc.net.Inputs[0].Name: x})
		if err != nil {
			t.Fatal(err)
		}
		in, err := tensor.New([]int{tc.n, 3, tc.s, tc.s}, x.d)
		if err != nil {
			t.Fatal(err)
		}
		for _, opset := range []int64{11, 13, 14} {
			t.Run(fmt.Sprintf("%s/opset%d", tc.net.Name, opset), func(t *testing.T) {
				model, err := tc.net.Bytes(opset)
				if err != nil {
					t.Fatal(err)
				}
				sess, err := be.Open(model, infer.Options{IntraOpThreads: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer sess.Close()
				outs, err := sess.Run(context.Background(), map[string]*tensor.Tensor{tc.net.Inputs[0].Name: in})
				if err != nil {
					t.Fatal(err)
				}
				for i, o := range tc.net.Outputs {
					got, want := outs[i].Float32s(), ref[o.Name].d
					if len(got) != len(want) {
						t.Fatalf("%s: %d values, reference %d", o.Name, len(got), len(want))
					}
					var maxDiff, maxAbs float64
					for j := range got {
						maxDiff = max(maxDiff, math.Abs(float64(got[j]-want[j])))
						maxAbs = max(maxAbs, math.Abs(float64(want[j])))
					}
					t.Logf("%s: max |diff| %.3g, max |ref| %.3g", o.Name, maxDiff, maxAbs)
					if maxDiff > 1e-3*max(1, maxAbs) {
						t.Errorf("%s: ONNX Runtime and reference differ by %.3g (max |ref| %.3g)", o.Name, maxDiff, maxAbs)
					}
				}
			})
		}
	}
}
