package detect

import (
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
)

func TestMultiClassNMS(t *testing.T) {
	pico := PicoDetNMS()
	with := func(f func(*NMSParams)) NMSParams { p := pico; f(&p); return p }
	b := func(x1, y1, x2, y2, s float32, c int) Box { return Box{x1, y1, x2, y2, s, c} }
	tests := []struct {
		name   string
		boxes  [][4]float32
		scores [][]float32
		p      NMSParams
		want   []Box
	}{
		{
			name:   "suppress above threshold, sorted by score",
			boxes:  [][4]float32{{0, 0, 10, 10}, {1, 1, 10, 10}, {20, 20, 30, 30}},
			scores: [][]float32{{0.5, 0.9, 0.7}},
			p:      pico,
			// IoU(0,1) = 81/100 > 0.6: box 0 is suppressed by the better box 1.
			want: []Box{b(1, 1, 10, 10, 0.9, 0), b(20, 20, 30, 30, 0.7, 0)},
		},
		{
			name: "IoU exactly at the threshold is kept",
			// inter 60, union 100: IoU = 0.6 = nms_threshold → kept (≤).
			boxes:  [][4]float32{{0, 0, 10, 10}, {0, 0, 10, 6}},
			scores: [][]float32{{0.9, 0.8}},
			p:      pico,
			want:   []Box{b(0, 0, 10, 10, 0.9, 0), b(0, 0, 10, 6, 0.8, 0)},
		},
		{
			name: "IoU just above the threshold is suppressed",
			// inter 61, union 100.
			boxes:  [][4]float32{{0, 0, 10, 10}, {0, 0, 10, 6.1}},
			scores: [][]float32{{0.9, 0.8}},
			p:      pico,
			want:   []Box{b(0, 0, 10, 10, 0.9, 0)},
		},
		{
			name:   "score threshold is strict",
			boxes:  [][4]float32{{0, 0, 1, 1}, {5, 5, 6, 6}},
			scores: [][]float32{{0.025, 0.0251}},
			p:      pico,
			want:   []Box{b(5, 5, 6, 6, 0.0251, 0)},
		},
		{
			name:   "empty result",
			boxes:  [][4]float32{{0, 0, 1, 1}, {5, 5, 6, 6}},
			scores: [][]float32{{0.01, 0.02}},
			p:      pico,
			want:   nil,
		},
		{
			name:   "no boxes",
			boxes:  nil,
			scores: [][]float32{{}},
			p:      pico,
			want:   nil,
		},
		{
			name: "ties keep the lower index first and it wins the suppression",
			boxes: [][4]float32{
				{0, 0, 10, 10}, {0, 0, 10, 10}, {50, 50, 60, 60}, {0, 0, 10, 9.9},
			},
			scores: [][]float32{{0.5, 0.5, 0.5, 0.6}},
			p:      pico,
			// 3 (0.6) first; then 0,1 (tied, IoU 0.99 with 3) suppressed; 2 kept.
			want: []Box{b(0, 0, 10, 9.9, 0.6, 0), b(50, 50, 60, 60, 0.5, 0)},
		},
		{
			name:   "ties among survivors keep index order",
			boxes:  [][4]float32{{40, 40, 50, 50}, {0, 0, 10, 10}, {20, 20, 30, 30}},
			scores: [][]float32{{0.5, 0.5, 0.5}},
			p:      pico,
			want:   []Box{b(40, 40, 50, 50, 0.5, 0), b(0, 0, 10, 10, 0.5, 0), b(20, 20, 30, 30, 0.5, 0)},
		},
		{
			name:  "keep_top_k across classes, output grouped by class",
			boxes: [][4]float32{{0, 0, 10, 10}, {20, 20, 30, 30}, {40, 40, 50, 50}},
			scores: [][]float32{
				{0.3, 0.9, 0.1},
				{0.8, 0.2, 0.85},
			},
			p: with(func(p *NMSParams) { p.KeepTopK = 3 }),
			// Candidates: c0 {1:.9, 0:.3, 2:.1}, c1 {2:.85, 0:.8, 1:.2};
			// best 3 over classes: .9 (c0), .85 (c1), .8 (c1).
			want: []Box{b(20, 20, 30, 30, 0.9, 0), b(40, 40, 50, 50, 0.85, 1), b(0, 0, 10, 10, 0.8, 1)},
		},
		{
			name:   "keep_top_k not exceeded keeps all, class order",
			boxes:  [][4]float32{{0, 0, 10, 10}, {20, 20, 30, 30}},
			scores: [][]float32{{0.3, 0.2}, {0.9, 0.1}},
			p:      with(func(p *NMSParams) { p.KeepTopK = 4 }),
			want: []Box{b(0, 0, 10, 10, 0.3, 0), b(20, 20, 30, 30, 0.2, 0),
				b(0, 0, 10, 10, 0.9, 1), b(20, 20, 30, 30, 0.1, 1)},
		},
		{
			name:   "keep_top_k 0 keeps nothing",
			boxes:  [][4]float32{{0, 0, 10, 10}},
			scores: [][]float32{{0.9}},
			p:      with(func(p *NMSParams) { p.KeepTopK = 0 }),
			want:   nil,
		},
		{
			name:   "nms_top_k cuts candidates before suppression",
			boxes:  [][4]float32{{0, 0, 10, 10}, {20, 20, 30, 30}, {40, 40, 50, 50}},
			scores: [][]float32{{0.3, 0.9, 0.5}},
			p:      with(func(p *NMSParams) { p.NMSTopK = 2 }),
			want:   []Box{b(20, 20, 30, 30, 0.9, 0), b(40, 40, 50, 50, 0.5, 0)},
		},
		{
			name:   "background label skipped",
			boxes:  [][4]float32{{0, 0, 10, 10}},
			scores: [][]float32{{0.9}, {0.4}},
			p:      with(func(p *NMSParams) { p.BackgroundLabel = 0 }),
			want:   []Box{b(0, 0, 10, 10, 0.4, 1)},
		},
		{
			name: "unnormalized uses +1 areas",
			// Touching boxes: normalized IoU 0; +1 convention: inter 1·11 = 11,
			// areas 121 each → 11/231 ≈ 0.048 > threshold 0.04.
			boxes:  [][4]float32{{0, 0, 10, 10}, {10, 0, 20, 10}},
			scores: [][]float32{{0.9, 0.8}},
			p:      with(func(p *NMSParams) { p.Normalized = false; p.NMSThreshold = 0.04 }),
			want:   []Box{b(0, 0, 10, 10, 0.9, 0)},
		},
		{
			name:   "normalized touching boxes do not overlap",
			boxes:  [][4]float32{{0, 0, 10, 10}, {10, 0, 20, 10}},
			scores: [][]float32{{0.9, 0.8}},
			p:      with(func(p *NMSParams) { p.NMSThreshold = 0 }),
			want:   []Box{b(0, 0, 10, 10, 0.9, 0), b(10, 0, 20, 10, 0.8, 0)},
		},
		{
			name: "adaptive eta lowers the threshold after each kept box",
			// IoU(a,c) = 0.55: kept with threshold 0.6, suppressed once the
			// threshold has become 0.6·0.9 = 0.54 after keeping b.
			boxes:  [][4]float32{{0, 0, 10, 10}, {100, 100, 110, 110}, {0, 0, 10, 5.5}},
			scores: [][]float32{{0.9, 0.8, 0.7}},
			p:      with(func(p *NMSParams) { p.Eta = 0.9 }),
			want:   []Box{b(0, 0, 10, 10, 0.9, 0), b(100, 100, 110, 110, 0.8, 0)},
		},
		{
			name:   "zero-area twins: NaN overlap suppresses as in Paddle",
			boxes:  [][4]float32{{640, 10, 640, 20}, {640, 10, 640, 20}},
			scores: [][]float32{{0.9, 0.8}},
			p:      pico,
			want:   []Box{b(640, 10, 640, 20, 0.9, 0)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MultiClassNMS(tc.boxes, tc.scores, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestMultiClassNMSBadInput(t *testing.T) {
	_, err := MultiClassNMS([][4]float32{{0, 0, 1, 1}}, [][]float32{{0.5, 0.6}}, PicoDetNMS())
	if err == nil {
		t.Fatal("want an error for mismatched scores")
	}
}

func TestJaccard(t *testing.T) {
	tests := []struct {
		a, b [4]float32
		norm bool
		want float32
	}{
		{[4]float32{0, 0, 10, 10}, [4]float32{5, 0, 15, 10}, true, 50.0 / 150},
		{[4]float32{0, 0, 10, 10}, [4]float32{11, 0, 15, 10}, true, 0},
		{[4]float32{0, 0, 9, 9}, [4]float32{5, 0, 14, 9}, false, 50.0 / 150},
		{[4]float32{0, 0, 10, 10}, [4]float32{0, 0, 10, 10}, true, 1},
	}
	for _, tc := range tests {
		if got := jaccard(tc.a, tc.b, tc.norm); math.Abs(float64(got-tc.want)) > 1e-7 {
			t.Errorf("jaccard(%v, %v, %v) = %v, want %v", tc.a, tc.b, tc.norm, got, tc.want)
		}
	}
}

// TestKeepTopKEarlyStopExact checks that stopping a class at KeepTopK kept
// boxes gives what the kernel gives: full per-class NMS, then the
// KeepTopK best over all classes (stable by score), regrouped by class.
func TestKeepTopKEarlyStopExact(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for iter := 0; iter < 200; iter++ {
		n := 1 + r.IntN(60)
		boxes := make([][4]float32, n)
		for i := range boxes {
			x, y := float32(r.IntN(50)), float32(r.IntN(50))
			boxes[i] = [4]float32{x, y, x + float32(1+r.IntN(20)), y + float32(1+r.IntN(20))}
		}
		scores := make([][]float32, 3)
		for c := range scores {
			scores[c] = make([]float32, n)
			for i := range scores[c] {
				scores[c][i] = float32(r.IntN(10)) / 10 // many ties
			}
		}
		p := PicoDetNMS()
		p.KeepTopK = r.IntN(12)
		if iter%2 == 0 {
			p.Eta = 0.8
		}
		got, err := MultiClassNMS(boxes, scores, p)
		if err != nil {
			t.Fatal(err)
		}
		// Reference: every class in full, then the kernel's keep_top_k.
		type pick struct {
			c, i int
			s    float32
		}
		var all []pick
		full := p
		full.KeepTopK = -1
		for c := range scores {
			for _, i := range nmsFast(boxes, scores[c], full) {
				all = append(all, pick{c, i, scores[c][i]})
			}
		}
		if len(all) > p.KeepTopK {
			sort.SliceStable(all, func(a, b int) bool { return all[a].s > all[b].s })
			all = all[:p.KeepTopK]
			sort.SliceStable(all, func(a, b int) bool { return all[a].c < all[b].c })
		}
		var want []Box
		for _, k := range all {
			b := boxes[k.i]
			want = append(want, Box{b[0], b[1], b[2], b[3], k.s, k.c})
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("iter %d keep %d:\n got  %v\n want %v", iter, p.KeepTopK, got, want)
		}
	}
}
