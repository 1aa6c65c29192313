package archtest

import (
	"context"
	"math"
	"math/rand"
	"testing"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/paddle"
	"github.com/shitu-go/shitu/tensor"
)

// multiclass_nms3 in the graph gives detect.MultiClassNMS's result (the Go
// port of Paddle's kernel) on random overlapping boxes, in Paddle's order.
func TestMulticlassNMS3(t *testing.T) {
	const M, C = 60, 3
	tests := []struct {
		name       string
		keep       int
		normalized bool
	}{
		{"keep all", -1, true},
		{"keep_top_k 7", 7, true},
		{"not normalized", 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := paddle.NewProgramBuilder()
			bx := b.Feed("boxes", paddle.FP32, []int64{1, M, 4})
			sc := b.Feed("scores", paddle.FP32, []int64{1, C, M})
			out := b.Tmp("multiclass_nms3_0.tmp_0", paddle.FP32, []int64{-1, 6})
			idx := b.Tmp("multiclass_nms3_0.tmp_1", paddle.Int32, []int64{-1, 1})
			num := b.Tmp("multiclass_nms3_0.tmp_2", paddle.Int32, []int64{-1})
			b.Op("multiclass_nms3", []paddle.Slot{paddle.SlotOf("BBoxes", bx), paddle.SlotOf("Scores", sc), paddle.SlotOf("RoisNum")},
				[]paddle.Slot{paddle.SlotOf("Out", out), paddle.SlotOf("Index", idx), paddle.SlotOf("NmsRoisNum", num)},
				paddle.AFloat("score_threshold", 0.3), paddle.AInt("nms_top_k", 1000), paddle.AInt("keep_top_k", int32(tc.keep)),
				paddle.AFloat("nms_threshold", 0.5), paddle.ABool("normalized", tc.normalized), paddle.AFloat("nms_eta", 1), paddle.AInt("background_label", -1))
			b.Fetch(out)
			b.Fetch(num)
			b.Fetch(idx)
			m, err := b.Model()
			if err != nil {
				t.Fatal(err)
			}
			model, err := paddle.ToONNX(m, paddle.ConvertOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := ortOpen(t, model)
			r := rand.New(rand.NewSource(9))
			boxes := make([][4]float32, M)
			bflat := make([]float32, 0, 4*M)
			for i := range boxes {
				x, y := r.Float32()*50, r.Float32()*50
				boxes[i] = [4]float32{x, y, x + 10 + r.Float32()*20, y + 10 + r.Float32()*20}
				bflat = append(bflat, boxes[i][:]...)
			}
			scores := make([][]float32, C)
			var sflat []float32
			for c := range scores {
				scores[c] = make([]float32, M)
				for i := range scores[c] {
					scores[c][i] = r.Float32()
				}
				sflat = append(sflat, scores[c]...)
			}
			res, err := s.Run(context.Background(), map[string]*tensor.Tensor{
				"boxes": tensor.Must([]int{1, M, 4}, bflat), "scores": tensor.Must([]int{1, C, M}, sflat)})
			if err != nil {
				t.Fatal(err)
			}
			want, err := detect.MultiClassNMS(boxes, scores, detect.NMSParams{ScoreThreshold: 0.3, NMSTopK: 1000, KeepTopK: tc.keep,
				NMSThreshold: 0.5, Normalized: tc.normalized, Eta: 1, BackgroundLabel: -1})
			if err != nil {
				t.Fatal(err)
			}
			rows := res[0].Float32s()
			if len(rows) != 6*len(want) {
				t.Fatalf("%d rows, want %d", len(rows)/6, len(want))
			}
			if n := res[1].Int32s(); len(n) != 1 || int(n[0]) != len(want) {
				t.Errorf("NmsRoisNum %v, want [%d]", n, len(want))
			}
			for i, w := range want {
				got := rows[6*i : 6*i+6]
				exp := []float32{float32(w.Class), w.Score, w.X1, w.Y1, w.X2, w.Y2}
				for k := range exp {
					if math.Abs(float64(got[k]-exp[k])) > 1e-6 {
						t.Fatalf("row %d: got %v, want %v", i, got, exp)
					}
				}
				bi := res[2].Int32s()[i]
				if boxes[bi] != [4]float32{w.X1, w.Y1, w.X2, w.Y2} {
					t.Errorf("row %d: Index %d points at another box", i, bi)
				}
			}
			if len(want) == 0 {
				t.Fatal("test data gives no detections")
			}
		})
	}
}
