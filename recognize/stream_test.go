package recognize

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shitu-go/shitu/detect"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

// contentSession is a fake detector model in the in-graph NMS form whose
// one detection is a function of every value of its input tensor and of
// scale_factor, so a wrong or stale preprocessed input shows in the boxes.
type contentSession struct{}

func (contentSession) Inputs() []infer.ValueInfo {
	return []infer.ValueInfo{{Name: "im_shape", DType: tensor.Float32, Shape: []int64{-1, 2}},
		{Name: "image", DType: tensor.Float32, Shape: []int64{-1, 3, -1, -1}},
		{Name: "scale_factor", DType: tensor.Float32, Shape: []int64{-1, 2}}}
}
func (contentSession) Outputs() []infer.ValueInfo {
	return []infer.ValueInfo{{Name: "dets", DType: tensor.Float32, Shape: []int64{-1, 6}},
		{Name: "num", DType: tensor.Int32, Shape: []int64{-1}}}
}
func (s contentSession) Run(_ context.Context, in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	if err := infer.CheckInputs(s.Inputs(), in); err != nil {
		return nil, err
	}
	var h uint64 = 14695981039346656037
	for _, v := range in["image"].Float32s() {
		h = (h ^ uint64(math.Float32bits(v))) * 1099511628211
	}
	sc := in["scale_factor"].Float32s()
	ow := 640 / sc[1] // the original width
	x1 := float32(h % 20)
	x2 := x1 + 5 + float32(h>>8%uint64(ow-30))
	rows := []float32{0, 0.9, x1, 1, x2, 30}
	return []*tensor.Tensor{tensor.Must([]int{1, 6}, rows), tensor.Must([]int{1}, []int32{1})}, nil
}
func (contentSession) Close() error { return nil }

func noiseImage(r *rand.Rand, w, h int) *imaging.Image {
	m := &imaging.Image{W: w, H: h, C: 3, Pix: make([]uint8, w*h*3)}
	for i := range m.Pix {
		m.Pix[i] = uint8(r.IntN(256))
	}
	return m
}

// TestStreamMatchesSequential: Stream's frames (prefetched decode and
// detector preprocessing) carry exactly the answers of a plain loop of
// Candidates, in order, with per-image errors in place.
func TestStreamMatchesSequential(t *testing.T) {
	d, err := detect.New(contentSession{}, detect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	gal := &fakeGallery{labels: []string{"a", "b", "c"}, angles: []float64{30, 60, 270}}
	sys, err := New(d, &fakeEmbedder{}, gal, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(18, 2))
	const n = 9
	imgs := make([]*imaging.Image, n)
	for i := range imgs {
		imgs[i] = noiseImage(r, 60+r.IntN(100), 40+r.IntN(60))
	}
	bad := errors.New("unreadable")
	load := func(_ context.Context, i int) (*imaging.Image, error) {
		if i == 4 {
			return nil, bad
		}
		return imgs[i], nil
	}
	ctx := context.Background()
	for _, opts := range []Options{{}, {NoDetector: true}, {WholeImage: WholeNever, KeepUnknown: true}} {
		var want []*Result
		for i := range imgs {
			if i == 4 {
				want = append(want, nil)
				continue
			}
			res, err := sys.RecognizeWith(ctx, imgs[i], opts)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, res)
		}
		next := 0
		err := sys.Stream(ctx, n, opts, load, func(f Frame) error {
			if f.Index != next {
				t.Fatalf("frame %d, want %d", f.Index, next)
			}
			next++
			if f.Index == 4 {
				if !errors.Is(f.Err, bad) || f.Searched != nil {
					t.Fatalf("frame 4: %+v", f)
				}
				return nil
			}
			if f.Err != nil || f.Image != imgs[f.Index] {
				t.Fatalf("frame %d: %+v", f.Index, f)
			}
			res, err := f.Searched.Decide(opts)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Objects, want[f.Index].Objects) || res.Crops != want[f.Index].Crops {
				t.Fatalf("opts %+v frame %d: %+v, sequential %+v", opts, f.Index, res.Objects, want[f.Index].Objects)
			}
			if !opts.NoDetector && res.Timings.DetPreprocess <= 0 {
				t.Fatalf("frame %d: no preprocessing time", f.Index)
			}
			return nil
		})
		if err != nil || next != n {
			t.Fatalf("stream: %v after %d frames", err, next)
		}
	}
	// An error from each stops the stream and is returned.
	stop := errors.New("stop")
	seen := 0
	err = sys.Stream(ctx, n, Options{}, load, func(f Frame) error {
		seen++
		if f.Index == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || seen != 3 {
		t.Fatalf("err %v after %d frames", err, seen)
	}
}

// TestPrefetch: items come in order, the preparing goroutine stays at
// most `ahead` items before the consumer (plus the one it works on), and
// an early stop or cancellation waits for it.
func TestPrefetch(t *testing.T) {
	for _, ahead := range []int{0, 1, 3} {
		var prepared, used atomic.Int64
		var maxLead int64
		var mu sync.Mutex
		const n = 50
		var got []int
		err := Prefetch(context.Background(), n, ahead, func(_ context.Context, i int) int {
			p := prepared.Add(1)
			mu.Lock()
			maxLead = max(maxLead, p-used.Load())
			mu.Unlock()
			return i * i
		}, func(i, v int) error {
			if v != i*i {
				t.Errorf("item %d = %d", i, v)
			}
			got = append(got, i)
			used.Add(1)
			return nil
		})
		if err != nil || len(got) != n {
			t.Fatalf("ahead %d: %v, %d items", ahead, err, len(got))
		}
		if limit := int64(max(ahead, 1) + 1); maxLead > limit {
			t.Errorf("ahead %d: prepared %d items before use, limit %d", ahead, maxLead, limit)
		}
	}
	// Stop early: Prefetch returns the error after the goroutine ends.
	var running atomic.Int64
	stop := errors.New("stop")
	err := Prefetch(context.Background(), 1000, 2, func(_ context.Context, i int) int {
		running.Add(1)
		defer running.Add(-1)
		return i
	}, func(i, _ int) error {
		if i == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || running.Load() != 0 {
		t.Fatalf("err %v, %d prepares still running", err, running.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	err = Prefetch(ctx, 1000, 1, func(_ context.Context, i int) int { return i }, func(i, _ int) error {
		if i == 5 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	if err := Prefetch(context.Background(), 0, 1, func(context.Context, int) int { panic("no items") }, nil); err != nil {
		t.Fatal(err)
	}
}
