package detect

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

// fakeSession is an infer.Session whose outputs are computed by run; it
// checks the inputs against its declaration as a real backend does.
type fakeSession struct {
	ins, outs []infer.ValueInfo
	run       func(map[string]*tensor.Tensor) ([]*tensor.Tensor, error)
}

func (f *fakeSession) Inputs() []infer.ValueInfo  { return f.ins }
func (f *fakeSession) Outputs() []infer.ValueInfo { return f.outs }
func (f *fakeSession) Close() error               { return nil }
func (f *fakeSession) Run(_ context.Context, in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := infer.CheckInputs(f.ins, in); err != nil {
		return nil, err
	}
	return f.run(in)
}

var (
	imageInfo = infer.ValueInfo{Name: "image", DType: tensor.Float32, Shape: []int64{-1, 3, 640, 640}}
	imShape   = infer.ValueInfo{Name: "im_shape", DType: tensor.Float32, Shape: []int64{-1, 2}}
	scaleInfo = infer.ValueInfo{Name: "scale_factor", DType: tensor.Float32, Shape: []int64{-1, 2}}
	nmsOuts   = []infer.ValueInfo{
		{Name: "save_infer_model/scale_0.tmp_1", DType: tensor.Float32, Shape: []int64{-1, 6}},
		{Name: "save_infer_model/scale_1.tmp_1", DType: tensor.Int32, Shape: []int64{-1}},
	}
)

func TestDetectorNMSForm(t *testing.T) {
	rows := []float32{
		0, 0.30, 1, 1, 2, 2,
		0, 0.95, 10.5, 20.25, 100.75, 150,
		0, 0.19, 5, 5, 6, 6,
		0, 0.60, -3.5, 0, 319.9, 159.9,
		0, 0.25, 7, 7, 8, 8,
		0, 0.21, 9, 9, 10, 10,
		0, 0.22, 11, 11, 12, 12,
	}
	var gotIm, gotScale []float32
	sess := &fakeSession{
		ins:  []infer.ValueInfo{imShape, imageInfo, scaleInfo},
		outs: nmsOuts,
		run: func(in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
			gotIm, gotScale = in["im_shape"].Float32s(), in["scale_factor"].Float32s()
			return []*tensor.Tensor{tensor.Must([]int{7, 6}, rows), tensor.Must([]int{1}, []int32{7})}, nil
		},
	}
	d, err := New(sess, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Form() != FormNMS {
		t.Fatalf("form %v", d.Form())
	}
	all, err := d.Detect(context.Background(), uniform(320, 160, [3]uint8{1, 2, 3}))
	if err != nil {
		t.Fatal(err)
	}
	got := SelectTop(all, 5, 0.2)
	// §4.2: im_shape is the resized size; scale_factor is (y, x).
	if !reflect.DeepEqual(gotIm, []float32{640, 640}) || !reflect.DeepEqual(gotScale, []float32{4, 2}) {
		t.Errorf("fed im_shape %v scale_factor %v", gotIm, gotScale)
	}
	// Sorted, top 5 (0.95 0.60 0.30 0.25 0.22), then ≥ 0.2: all five stay;
	// 0.21 is the 6th and 0.19 is below the threshold.
	want := []Box{
		{10.5, 20.25, 100.75, 150, 0.95, 0},
		{-3.5, 0, 319.9, 159.9, 0.60, 0},
		{1, 1, 2, 2, 0.30, 0},
		{7, 7, 8, 8, 0.25, 0},
		{11, 11, 12, 12, 0.22, 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}

	// Detect itself selects nothing: every row is there, in model order.
	if len(all) != 7 {
		t.Errorf("Detect returned %d rows, want all 7", len(all))
	}
	if got := SelectTop(all, 2, 0.7); !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("max 2 threshold 0.7: %v", got)
	}
}

func TestDetectorFeedsOnlyDeclaredInputs(t *testing.T) {
	empty := func(in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
		return []*tensor.Tensor{tensor.Must([]int{1, 1}, []float32{-1}), tensor.Must([]int{1}, []int32{1})}, nil
	}
	for _, ins := range [][]infer.ValueInfo{
		{imageInfo},
		{imageInfo, scaleInfo},
		{imShape, imageInfo},
		{{Name: "x", DType: tensor.Float32, Shape: []int64{1, 3, 640, 640}}, scaleInfo},
	} {
		d, err := New(&fakeSession{ins: ins, outs: nmsOuts, run: empty}, Options{})
		if err != nil {
			t.Fatalf("%v: %v", ins, err)
		}
		// CheckInputs in the fake rejects any undeclared input.
		got, err := d.Detect(context.Background(), uniform(64, 64, [3]uint8{}))
		if err != nil || got != nil {
			t.Errorf("%v: got %v, %v; want no detections", ins, got, err)
		}
	}
}

// rawSession is a raw-head model (§B.5: image only, outputs
// [cls0..cls3, reg0..reg3] flattened) with a few hand-placed points.
func rawSession() *fakeSession {
	strides := []int{8, 16, 32, 64}
	type point struct {
		level, row, col int
		score           float32
		bins            int // every side: all weight on this bin
	}
	points := []point{
		{0, 10, 20, 0.9, 2}, // centre (164, 84), ±16
		{0, 10, 22, 0.8, 2}, // centre (180, 84), ±16: IoU 1/3 with the first → kept
		{1, 5, 10, 0.7, 1},  // centre (168, 88), ±16: IoU 0.62 with the first → suppressed
		{3, 9, 9, 0.5, 7},   // centre (608, 608), ±448: clipped to (160, 160, 640, 640)
		{2, 0, 0, 0.1, 0},   // (16, 16, 16, 16): passes NMS, dropped by the 0.2 threshold
	}
	outs := make([]*tensor.Tensor, 8)
	var infos []infer.ValueInfo
	for l, s := range strides {
		g := 640 / s
		sc := make([]float32, g*g)
		rg := make([]float32, g*g*32)
		for _, p := range points {
			if p.level != l {
				continue
			}
			i := p.row*g + p.col
			sc[i] = p.score
			copy(rg[i*32:], dist(same(p.bins), same(p.bins)))
		}
		outs[l] = tensor.Must([]int{1, g * g, 1}, sc)
		outs[4+l] = tensor.Must([]int{1, g * g, 32}, rg)
	}
	for i, o := range outs {
		infos = append(infos, infer.ValueInfo{Name: string(rune('a' + i)), DType: tensor.Float32, Shape: []int64{1, int64(o.Shape()[1]), int64(o.Shape()[2])}})
	}
	return &fakeSession{
		ins:  []infer.ValueInfo{imageInfo},
		outs: infos,
		run:  func(map[string]*tensor.Tensor) ([]*tensor.Tensor, error) { return outs, nil },
	}
}

func TestDetectorRawForm(t *testing.T) {
	d, err := New(rawSession(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Form() != FormRaw {
		t.Fatalf("form %v", d.Form())
	}
	// A 320×160 image: scale_factor (4, 2), so x /2 and y /4.
	all, err := d.Detect(context.Background(), uniform(320, 160, [3]uint8{9, 9, 9}))
	if err != nil {
		t.Fatal(err)
	}
	got := SelectTop(all, 5, 0.2)
	want := []Box{
		{148 / 2.0, 68 / 4.0, 180 / 2.0, 100 / 4.0, 0.9, 0},
		{164 / 2.0, 68 / 4.0, 196 / 2.0, 100 / 4.0, 0.8, 0},
		{160 / 2.0, 160 / 4.0, 640 / 2.0, 640 / 4.0, 0.5, 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	// Before selection, the low-score box is there too, after the others
	// (one class: NMS output in score order).
	in, _ := Preprocess(uniform(320, 160, [3]uint8{9, 9, 9}), DefaultPre())
	outs, _ := rawSession().Run(context.Background(), map[string]*tensor.Tensor{"image": in.Image})
	post, err := d.Postprocess(outs, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(post) != 4 || post[3] != (Box{8, 4, 8, 4, 0.1, 0}) || !reflect.DeepEqual(post, all) {
		t.Errorf("before selection: %v (Detect: %v)", post, all)
	}
}

func TestDetectorConcurrent(t *testing.T) {
	d, err := New(rawSession(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	img := uniform(320, 160, [3]uint8{9, 9, 9})
	want, err := d.Detect(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := d.Detect(context.Background(), img)
			if err == nil && !reflect.DeepEqual(got, want) {
				err = errors.New("concurrent result differs")
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestDetectorErrors(t *testing.T) {
	f32 := func(name string, shape ...int64) infer.ValueInfo {
		return infer.ValueInfo{Name: name, DType: tensor.Float32, Shape: shape}
	}
	tests := []struct {
		name string
		sess *fakeSession
		want error
	}{
		{"no image input", &fakeSession{ins: []infer.ValueInfo{f32("x", 1, 3)}, outs: nmsOuts}, ErrModel},
		{"unknown extra input", &fakeSession{ins: []infer.ValueInfo{imageInfo, f32("mask", 1, 640)}, outs: nmsOuts}, ErrModel},
		{"unrecognised outputs", &fakeSession{ins: []infer.ValueInfo{imageInfo}, outs: []infer.ValueInfo{f32("a", 1, 2, 3)}}, ErrModel},
	}
	for _, tc := range tests {
		if _, err := New(tc.sess, Options{}); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := New(nil, Options{}); !errors.Is(err, ErrInput) {
		t.Errorf("nil session: %v", err)
	}
	boom := errors.New("boom")
	d, err := New(&fakeSession{ins: []infer.ValueInfo{imageInfo}, outs: nmsOuts,
		run: func(map[string]*tensor.Tensor) ([]*tensor.Tensor, error) { return nil, boom }}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Detect(context.Background(), uniform(8, 8, [3]uint8{})); !errors.Is(err, boom) {
		t.Errorf("run error: %v", err)
	}
	d, _ = New(&fakeSession{ins: []infer.ValueInfo{imageInfo}, outs: nmsOuts,
		run: func(map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
			return []*tensor.Tensor{tensor.Must([]int{2, 5}, make([]float32, 10))}, nil
		}}, Options{})
	if _, err := d.Detect(context.Background(), uniform(8, 8, [3]uint8{})); !errors.Is(err, ErrOutput) {
		t.Errorf("bad output shape: %v", err)
	}
}
