package detect

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/tensor"
)

func TestParseNMSOutput(t *testing.T) {
	rows := tensor.Must([]int{3, 6}, []float32{
		0, 0.9, 10, 20, 30, 40,
		0, 0.3, 1.5, 2.5, 3.5, 4.5,
		1, 0.7, -0.5, 0, 100.9, 50,
	})
	tests := []struct {
		name  string
		dets  *tensor.Tensor
		count *tensor.Tensor
		want  []Box
		err   error
	}{
		{"rows in model order", rows, tensor.Must([]int{1}, []int32{3}), []Box{
			{10, 20, 30, 40, 0.9, 0}, {1.5, 2.5, 3.5, 4.5, 0.3, 0}, {-0.5, 0, 100.9, 50, 0.7, 1},
		}, nil},
		{"no count", rows, nil, []Box{
			{10, 20, 30, 40, 0.9, 0}, {1.5, 2.5, 3.5, 4.5, 0.3, 0}, {-0.5, 0, 100.9, 50, 0.7, 1},
		}, nil},
		{"int64 count limits rows", rows, tensor.Must([]int{2}, []int64{1, 2}), []Box{{10, 20, 30, 40, 0.9, 0}}, nil},
		{"empty [0,6]", tensor.Must([]int{0, 6}, []float32{}), tensor.Must([]int{1}, []int32{0}), nil, nil},
		{"paddle's -1 placeholder [1,1]", tensor.Must([]int{1, 1}, []float32{-1}), tensor.Must([]int{1}, []int32{1}), nil, nil},
		{"bad width", tensor.Must([]int{2, 4}, make([]float32, 8)), nil, nil, ErrOutput},
		{"int dets", tensor.Must([]int{1, 6}, make([]int32, 6)), nil, nil, ErrOutput},
		{"nil dets", nil, nil, nil, ErrOutput},
		{"float count", rows, tensor.Must([]int{1}, []float32{3}), nil, ErrOutput},
		{"negative count", rows, tensor.Must([]int{1}, []int32{-2}), nil, ErrOutput},
		{"bad class", tensor.Must([]int{1, 6}, []float32{-7, 1, 0, 0, 1, 1}), nil, nil, ErrOutput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNMSOutput(tc.dets, tc.count)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestSelectTop(t *testing.T) {
	mk := func(scores ...float32) []Box {
		var b []Box
		for i, s := range scores {
			b = append(b, Box{X1: float32(i), Score: s})
		}
		return b
	}
	xs := func(bs []Box) []float32 {
		var x []float32
		for _, b := range bs {
			x = append(x, b.X1)
		}
		return x
	}
	tests := []struct {
		name      string
		in        []Box
		maxDet    int
		threshold float64
		want      []float32 // X1 = input index
	}{
		{"sort, top 5, then threshold", mk(0.1, 0.9, 0.3, 0.8, 0.25, 0.7, 0.21), 5, 0.26, []float32{1, 3, 5, 2}},
		{"threshold is inclusive", mk(0.25, 0.19999), 5, 0.25, []float32{0}},
		// predict_det.py compares numpy float32 scores with a Python float:
		// float32(0.7) = 0.699999988 < 0.7, dropped; float32(0.2) = 0.200000003, kept.
		{"float32 score against a float64 threshold", mk(0.7, 0.2, 0.7000001), 5, 0.7, []float32{2}},
		{"float32(0.2) passes 0.2", mk(0.2), 5, 0.2, []float32{0}},
		{"a 6th box above threshold is dropped", mk(0.9, 0.8, 0.7, 0.6, 0.5, 0.4), 5, 0.2, []float32{0, 1, 2, 3, 4}},
		{"fewer than max after threshold", mk(0.1, 0.15), 5, 0.2, nil},
		{"ties: later input first", mk(0.5, 0.7, 0.5, 0.5), 3, 0.2, []float32{1, 3, 2}},
		{"max 0", mk(0.9), 0, 0.2, nil},
		{"empty", nil, 5, 0.2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]Box(nil), tc.in...)
			got := xs(SelectTop(tc.in, tc.maxDet, tc.threshold))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			if !reflect.DeepEqual(in, tc.in) {
				t.Error("input modified")
			}
		})
	}
}

func TestRecNMS(t *testing.T) {
	tests := []struct {
		name   string
		boxes  [][4]int
		scores []float32
		thresh float32
		want   []int
	}{
		{"empty", nil, nil, 0.05, []int{}},
		{"single", [][4]int{{0, 0, 5, 5}}, []float32{0.3}, 0.05, []int{0}},
		{
			// ppshitu-pipeline.md §8: 001.jpeg, the whole image (higher score)
			// suppresses the detection (IoU ≈ 0.25 > 0.05).
			"whole image wins", [][4]int{{343, 98, 528, 593}, {0, 0, 600, 600}},
			[]float32{0.6, 0.7408}, 0.05, []int{1},
		},
		{
			"small detection survives the whole image",
			[][4]int{{10, 10, 40, 40}, {0, 0, 600, 600}}, []float32{0.9, 0.7}, 0.05, []int{0, 1},
		},
		{
			// +1 convention: touching boxes overlap by one pixel column:
			// inter 1·11 = 11, areas 121 → IoU 11/231 > 0.
			"touching boxes overlap with +1", [][4]int{{0, 0, 10, 10}, {10, 0, 20, 10}},
			[]float32{0.9, 0.8}, 0, []int{0},
		},
		{
			"separated by one pixel do not overlap", [][4]int{{0, 0, 10, 10}, {11, 0, 21, 10}},
			[]float32{0.9, 0.8}, 0, []int{0, 1},
		},
		{
			// inner box area (9-0+1)·(4-0+1) = 50, outer 100: IoU = 50/100 = 0.5.
			"IoU equal to the threshold is kept", [][4]int{{0, 0, 9, 9}, {0, 0, 9, 4}},
			[]float32{0.9, 0.8}, 0.5, []int{0, 1},
		},
		{
			"IoU above the threshold is suppressed", [][4]int{{0, 0, 9, 9}, {0, 0, 9, 4}},
			[]float32{0.9, 0.8}, 0.49, []int{0},
		},
		{
			"sorted by score, chains", [][4]int{{0, 0, 9, 9}, {100, 100, 109, 109}, {1, 1, 10, 10}, {200, 0, 210, 10}},
			[]float32{0.5, 0.9, 0.8, 0.1}, 0.05, []int{1, 2, 3},
		},
		{
			"ties: later index first", [][4]int{{0, 0, 9, 9}, {1, 1, 10, 10}},
			[]float32{0.5, 0.5}, 0.05, []int{1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RecNMS(tc.boxes, tc.scores, tc.thresh)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := RecNMS([][4]int{{0, 0, 1, 1}}, nil, 0.05); !errors.Is(err, ErrInput) {
		t.Errorf("mismatched lengths: err = %v", err)
	}
}

// TestRecNMSReference compares RecNMS with numpy's nms_to_rec_results on
// random cases (testdata/gen_rec_nms.py; distinct scores, since numpy's
// tie order is unspecified).
func TestRecNMSReference(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "rec_nms.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 100 {
		t.Fatalf("only %d cases", len(lines))
	}
	for n, line := range lines {
		parts := strings.Split(line, ";")
		thresh, _ := strconv.ParseFloat(parts[0], 64)
		var boxes [][4]int
		var scores []float32
		if parts[1] != "" {
			for _, it := range strings.Split(parts[1], "|") {
				f := strings.Split(it, ",")
				var b [4]int
				for k := 0; k < 4; k++ {
					b[k], _ = strconv.Atoi(f[k])
				}
				s, _ := strconv.ParseFloat(f[4], 64)
				boxes = append(boxes, b)
				scores = append(scores, float32(s))
			}
		}
		want := []int{}
		if parts[2] != "" {
			for _, k := range strings.Split(parts[2], ",") {
				i, _ := strconv.Atoi(k)
				want = append(want, i)
			}
		}
		got, err := RecNMS(boxes, scores, float32(thresh))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("case %d (%s): got %v, want %v", n, line, got, want)
		}
	}
}
