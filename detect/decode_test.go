package detect

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

// neg is a logit whose softmax weight is exactly 0 in float32.
const neg = -1e30

// dist returns the 32 distribution logits of one point where each side's
// expectation is exact: side k puts equal weight on bins lo[k] and hi[k].
func dist(lo, hi [4]int) []float32 {
	d := make([]float32, 32)
	for side := 0; side < 4; side++ {
		for k := 0; k < 8; k++ {
			d[side*8+k] = neg
		}
		d[side*8+lo[side]] = 0
		d[side*8+hi[side]] = 0
	}
	return d
}

func same(v int) [4]int { return [4]int{v, v, v, v} }

func TestDFLExpectation(t *testing.T) {
	tests := []struct {
		name string
		x    []float32
		want float32
	}{
		{"uniform", []float32{1, 1, 1, 1, 1, 1, 1, 1}, 3.5},
		{"one-hot 0", []float32{0, neg, neg, neg, neg, neg, neg, neg}, 0},
		{"one-hot 7", []float32{neg, neg, neg, neg, neg, neg, neg, 5}, 7},
		{"two bins", []float32{neg, neg, 2, 2, neg, neg, neg, neg}, 2.5},
		{"large logits stay finite", []float32{1000, 1000, neg, neg, neg, neg, neg, neg}, 0.5},
	}
	for _, tc := range tests {
		if got := dflExpectation(tc.x); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// Random logits against a float64 reference.
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 8)
	for range 1000 {
		var sum, acc float64
		for k := range x {
			x[k] = float32(r.NormFloat64() * 4)
		}
		for k := range x {
			e := math.Exp(float64(x[k]))
			sum += e
			acc += e * float64(k)
		}
		if got := dflExpectation(x); math.Abs(float64(got)-acc/sum) > 1e-5 {
			t.Fatalf("dflExpectation(%v) = %v, want %v", x, got, acc/sum)
		}
	}
}

// oneLevel builds the flattened raw form for one 2×2 level (stride 8,
// input 16×16): points row-major, given scores and distributions.
func oneLevel(scores []float32, d [][]float32) []*tensor.Tensor {
	var flat []float32
	for _, v := range d {
		flat = append(flat, v...)
	}
	return []*tensor.Tensor{
		tensor.Must([]int{1, len(scores), 1}, scores),
		tensor.Must([]int{1, len(d), 32}, flat),
	}
}

type decodeCase struct {
	name       string
	outs       []*tensor.Tensor
	im, scale  [2]float32
	cfg        DecodeConfig
	wantBoxes  [][4]float32
	wantScores [][]float32
}

func TestDecodeRaw(t *testing.T) {
	cfg := DecodeConfig{Strides: []int{8}}
	im := [2]float32{16, 16}
	one := [2]float32{1, 1}
	tests := []decodeCase{
		{
			name: "centres and DFL distances",
			outs: oneLevel([]float32{0.1, 0.2, 0.3, 0.4}, [][]float32{
				dist(same(0), same(0)),                       // zero distances: box = centre (4,4)
				dist([4]int{0, 0, 1, 1}, [4]int{1, 0, 1, 2}), // l .5 t 0 r 1 b 1.5 (×8)
				dist(same(0), same(1)),                       // .5 each side
				dist([4]int{0, 0, 0, 0}, [4]int{0, 0, 0, 0}), // centre (12,12)
			}),
			im: im, scale: one, cfg: cfg,
			wantBoxes: [][4]float32{
				{4, 4, 4, 4},
				{12 - 4, 4 - 0, 16, 4 + 12}, // (col 1, row 0): x2 = 20 clipped to 16
				{4 - 4, 12 - 4, 4 + 4, 12 + 4},
				{12, 12, 12, 12},
			},
			wantScores: [][]float32{{0.1, 0.2, 0.3, 0.4}},
		},
		{
			name: "clipping to im_shape and scale_factor (sy, sx)",
			outs: oneLevel([]float32{0.5, 0.5, 0.5, 0.5}, [][]float32{
				dist(same(7), same(7)), dist(same(1), same(1)), dist(same(0), same(0)), dist(same(7), same(7)),
			}),
			im: im, scale: [2]float32{0.5, 2}, cfg: cfg,
			wantBoxes: [][4]float32{
				{0 / 2.0, 0 / 0.5, 16 / 2.0, 16 / 0.5}, // ±56 around (4,4) → clipped to the input
				{(12 - 8) / 2.0, (4 - 8 + 4) / 0.5, 16 / 2.0, (4 + 8) / 0.5},
				{4 / 2.0, 12 / 0.5, 4 / 2.0, 12 / 0.5},
				{0, 0, 16 / 2.0, 16 / 0.5},
			},
			wantScores: [][]float32{{0.5, 0.5, 0.5, 0.5}},
		},
		{
			name: "no clipping (modern export)",
			outs: oneLevel([]float32{0.5, 0.5, 0.5, 0.5}, [][]float32{
				dist(same(7), same(7)), dist(same(0), same(0)), dist(same(0), same(0)), dist(same(0), same(0)),
			}),
			im: im, scale: one, cfg: DecodeConfig{Strides: []int{8}, NoClip: true},
			wantBoxes:  [][4]float32{{4 - 56, 4 - 56, 4 + 56, 4 + 56}, {12, 4, 12, 4}, {4, 12, 4, 12}, {12, 12, 12, 12}},
			wantScores: [][]float32{{0.5, 0.5, 0.5, 0.5}},
		},
		{
			name: "pre-NMS top-k per level keeps the best in score order",
			outs: oneLevel([]float32{0.1, 0.4, 0.3, 0.4}, [][]float32{
				dist(same(0), same(0)), dist(same(0), same(0)), dist(same(0), same(0)), dist(same(0), same(0)),
			}),
			im: im, scale: one, cfg: DecodeConfig{Strides: []int{8}, PreNMSTopK: 3},
			// Ties (points 1 and 3, both 0.4) keep the lower index first.
			wantBoxes:  [][4]float32{{12, 4, 12, 4}, {12, 12, 12, 12}, {4, 12, 4, 12}},
			wantScores: [][]float32{{0.4, 0.4, 0.3}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			boxes, scores, err := DecodeRaw(tc.outs, tc.im, tc.scale, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(boxes, tc.wantBoxes) {
				t.Errorf("boxes\n got  %v\n want %v", boxes, tc.wantBoxes)
			}
			if !reflect.DeepEqual(scores, tc.wantScores) {
				t.Errorf("scores\n got  %v\n want %v", scores, tc.wantScores)
			}
		})
	}
}

// TestDecodeRawLevelsNCHW uses two levels (strides 8 and 16 on a 16×16
// input: 2×2 and 1×1 cells) in NCHW logit form, outputs given out of order.
func TestDecodeRawLevelsNCHW(t *testing.T) {
	// Level 0: 2 classes, logits; level 1 likewise.
	s0 := tensor.Must([]int{1, 2, 2, 2}, []float32{
		0, 0, 0, 0, // class 0: sigmoid(0) = 0.5 everywhere
		neg, neg, neg, 0, // class 1: 0 except the last cell
	})
	d0 := make([]float32, 32*4) // NCHW: channel-major
	for p := 0; p < 4; p++ {
		v := dist(same(1), same(1)) // distance 1·8 each side
		for ch := 0; ch < 32; ch++ {
			d0[ch*4+p] = v[ch]
		}
	}
	s1 := tensor.Must([]int{1, 2, 1, 1}, []float32{neg, 0})
	d1 := tensor.Must([]int{1, 32, 1, 1}, dist(same(0), same(1))) // 0.5·16 = 8
	outs := []*tensor.Tensor{d1, s0, tensor.Must([]int{1, 32, 2, 2}, d0), s1}
	boxes, scores, err := DecodeRaw(outs, [2]float32{16, 16}, [2]float32{1, 1}, DecodeConfig{Strides: []int{8, 16}})
	if err != nil {
		t.Fatal(err)
	}
	wantBoxes := [][4]float32{{0, 0, 12, 12}, {4, 0, 16, 12}, {0, 4, 12, 16}, {4, 4, 16, 16}, {0, 0, 16, 16}}
	wantScores := [][]float32{{0.5, 0.5, 0.5, 0.5, 0}, {0, 0, 0, 0.5, 0.5}}
	if !reflect.DeepEqual(boxes, wantBoxes) {
		t.Errorf("boxes\n got  %v\n want %v", boxes, wantBoxes)
	}
	if !reflect.DeepEqual(scores, wantScores) {
		t.Errorf("scores\n got  %v\n want %v", scores, wantScores)
	}
}

func TestDecodeRawErrors(t *testing.T) {
	good := oneLevel([]float32{0.1, 0.2, 0.3, 0.4}, [][]float32{
		dist(same(0), same(0)), dist(same(0), same(0)), dist(same(0), same(0)), dist(same(0), same(0)),
	})
	cfg := DecodeConfig{Strides: []int{8}}
	tests := []struct {
		name  string
		outs  []*tensor.Tensor
		im    [2]float32
		scale [2]float32
		cfg   DecodeConfig
		want  error
	}{
		{"default strides want 8 outputs", good, [2]float32{16, 16}, [2]float32{1, 1}, DecodeConfig{}, ErrOutput},
		{"grid does not match im_shape", good, [2]float32{32, 32}, [2]float32{1, 1}, cfg, ErrOutput},
		{"zero scale", good, [2]float32{16, 16}, [2]float32{0, 1}, cfg, ErrInput},
		{"NaN im_shape", good, [2]float32{float32(math.NaN()), 16}, [2]float32{1, 1}, cfg, ErrInput},
		{"nil output", []*tensor.Tensor{good[0], nil}, [2]float32{16, 16}, [2]float32{1, 1}, cfg, ErrOutput},
		{"int output", []*tensor.Tensor{good[0], tensor.Must([]int{1, 4, 32}, make([]int32, 128))}, [2]float32{16, 16}, [2]float32{1, 1}, cfg, ErrOutput},
		{"two score outputs", []*tensor.Tensor{good[0], good[0]}, [2]float32{16, 16}, [2]float32{1, 1}, cfg, ErrOutput},
		{"rank 2", []*tensor.Tensor{tensor.Must([]int{4, 1}, make([]float32, 4)), good[1]}, [2]float32{16, 16}, [2]float32{1, 1}, cfg, ErrOutput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeRaw(tc.outs, tc.im, tc.scale, tc.cfg)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeRawSkip(t *testing.T) {
	outs := oneLevel([]float32{0.1, 0.025, 0.3, 0.02}, [][]float32{
		dist(same(0), same(0)), dist(same(0), same(0)), dist(same(0), same(0)), dist(same(0), same(0)),
	})
	boxes, scores, err := DecodeRaw(outs, [2]float32{16, 16}, [2]float32{1, 1}, DecodeConfig{Strides: []int{8}, SkipAtOrBelow: 0.025})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(boxes, [][4]float32{{4, 4, 4, 4}, {4, 12, 4, 12}}) || !reflect.DeepEqual(scores, [][]float32{{0.1, 0.3}}) {
		t.Errorf("got %v %v", boxes, scores)
	}
}

// With 32 classes, score and distribution outputs have the same channel
// count; the §B.5 order (scores first) decides.
func TestDecodeRaw32Classes(t *testing.T) {
	sc := make([]float32, 4*32)
	sc[3*32+31] = 0.75 // point 3, class 31
	var d []float32
	for range 4 {
		d = append(d, dist(same(1), same(1))...)
	}
	outs := []*tensor.Tensor{tensor.Must([]int{1, 4, 32}, sc), tensor.Must([]int{1, 4, 32}, d)}
	boxes, scores, err := DecodeRaw(outs, [2]float32{16, 16}, [2]float32{1, 1}, DecodeConfig{Strides: []int{8}})
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 32 || scores[31][3] != 0.75 || boxes[3] != [4]float32{4, 4, 16, 16} {
		t.Errorf("got %d classes, scores[31] %v, box %v", len(scores), scores[31], boxes[3])
	}
}
