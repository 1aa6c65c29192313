package detect

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

// FuzzMultiClassNMS decodes arbitrary bytes into boxes and two classes of
// scores and checks the invariants of the result: no panic, at most
// KeepTopK boxes, classes ascending, scores descending within a class and
// above the threshold, and kept boxes of a class pairwise within the IoU
// threshold in selection order. It also runs RecNMS and SelectTop.
func FuzzMultiClassNMS(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 10, 10, 10, 10, 200, 100}, uint8(3))
	f.Add(make([]byte, 60), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, keep uint8) {
		const rec = 10 // 4 coords + 2 scores + 4 int box bytes
		n := len(data) / rec
		boxes := make([][4]float32, n)
		ib := make([][4]int, n)
		scores := [][]float32{make([]float32, n), make([]float32, n)}
		for i := 0; i < n; i++ {
			r := data[i*rec : (i+1)*rec]
			for k := 0; k < 4; k++ {
				boxes[i][k] = float32(r[k]) / 4
				ib[i][k] = int(int8(r[6+k]))
			}
			scores[0][i] = float32(r[4]) / 255
			scores[1][i] = float32(r[5]) / 255
		}
		p := PicoDetNMS()
		p.KeepTopK = int(keep%8) - 1
		p.Eta = 0.9
		out, err := MultiClassNMS(boxes, scores, p)
		if err != nil {
			t.Fatal(err)
		}
		if p.KeepTopK >= 0 && len(out) > p.KeepTopK {
			t.Fatalf("%d boxes > keep_top_k %d", len(out), p.KeepTopK)
		}
		for i, b := range out {
			if !(b.Score > p.ScoreThreshold) {
				t.Fatalf("score %v kept", b.Score)
			}
			if i > 0 {
				a := out[i-1]
				if a.Class > b.Class || a.Class == b.Class && a.Score < b.Score {
					t.Fatalf("order: %v then %v", a, b)
				}
			}
			for _, a := range out[:i] {
				if a.Class == b.Class {
					iou := jaccard([4]float32{a.X1, a.Y1, a.X2, a.Y2}, [4]float32{b.X1, b.Y1, b.X2, b.Y2}, true)
					if iou > p.NMSThreshold {
						t.Fatalf("kept %v and %v with IoU %v", a, b, iou)
					}
				}
			}
		}
		keepIdx, err := RecNMS(ib, scores[0], 0.05)
		if err != nil || len(keepIdx) > n || (n > 0 && len(keepIdx) == 0) {
			t.Fatalf("RecNMS: %v %v", keepIdx, err)
		}
		_ = SelectTop(out, 5, 0.2)
	})
}

// FuzzParseNMSOutput feeds arbitrary float rows and counts.
func FuzzParseNMSOutput(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0x80, 0x3f}, int64(1), uint8(6))
	f.Fuzz(func(t *testing.T, data []byte, count int64, width uint8) {
		vals := make([]float32, len(data)/4)
		for i := range vals {
			vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		w := int(width%8) + 1
		rows := len(vals) / w
		dets := tensor.Must([]int{rows, w}, vals[:rows*w])
		out, err := ParseNMSOutput(dets, tensor.Must([]int{1}, []int64{count}))
		if err == nil && len(out) > rows {
			t.Fatalf("%d boxes from %d rows", len(out), rows)
		}
	})
}
