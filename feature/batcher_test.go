package feature

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

// forever is a batching wait no test reaches: with a call announced
// (Expect) that never comes, batches are then cut only when full, so
// which calls share a run does not depend on timing.
const forever = time.Hour

// queued waits until n images are in the extractor's queue.
func queued(t *testing.T, e *Extractor, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		e.q.mu.Lock()
		k := len(e.q.items)
		e.q.mu.Unlock()
		if k == n {
			return
		}
	}
	t.Fatalf("the queue never held %d images", n)
}

type extractResult struct {
	feats [][]float32
	err   error
}

func extractAsync(e *Extractor, ctx context.Context, imgs []*imaging.Image) chan extractResult {
	ch := make(chan extractResult, 1)
	go func() {
		f, err := e.Extract(ctx, imgs)
		ch <- extractResult{f, err}
	}()
	return ch
}

func checkFeats(t *testing.T, cfg Config, got [][]float32, imgs []*imaging.Image) {
	t.Helper()
	if len(got) != len(imgs) {
		t.Fatalf("%d features for %d images", len(got), len(imgs))
	}
	for i, f := range got {
		w := want(t, cfg, imgs[i])
		if fmt.Sprint(f) != fmt.Sprint(w) {
			t.Fatalf("image %d: %v, want %v", i, f, w)
		}
	}
}

func TestExtractSharedJoinsCalls(t *testing.T) {
	s := &fakeSession{batch: -1}
	cfg := Config{Width: 6, Height: 5, BatchSize: 8, BatchWait: forever}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way: batches wait for it
	// Four calls of 1, 2, 3 and 2 images fill exactly one batch of 8.
	var calls [][]*imaging.Image
	var chans []chan extractResult
	seed := 0
	for _, n := range []int{1, 2, 3, 2} {
		var imgs []*imaging.Image
		for range n {
			imgs = append(imgs, testImage(seed, 6, 5))
			seed++
		}
		calls = append(calls, imgs)
		chans = append(chans, extractAsync(e, context.Background(), imgs))
	}
	for i, ch := range chans {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		checkFeats(t, cfg, r.feats, calls[i])
	}
	if fmt.Sprint(s.sizes) != "[8]" {
		t.Fatalf("model runs %v, want one of 8", s.sizes)
	}
	if st := e.Stats(); st.Joined != 1 || st.Batches != 1 || st.Images != 8 {
		t.Fatalf("stats %+v", st)
	}
}

func TestExtractSharedWaitIsBounded(t *testing.T) {
	s := &fakeSession{batch: -1}
	cfg := Config{Width: 6, Height: 5, BatchSize: 32, BatchWait: time.Millisecond}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way: batches wait for it
	// A lone call is run after the wait, although the batch is not full;
	// a call with more images than a batch runs full batches.
	for _, n := range []int{1, 40} {
		var imgs []*imaging.Image
		for i := range n {
			imgs = append(imgs, testImage(i, 6, 5))
		}
		f, err := e.Extract(context.Background(), imgs)
		if err != nil {
			t.Fatal(err)
		}
		checkFeats(t, cfg, f, imgs)
	}
	if fmt.Sprint(s.sizes) != "[1 32 8]" {
		t.Fatalf("model runs %v", s.sizes)
	}
	// Off at run time: every call on its own again.
	e.SetBatchWait(0)
	if _, err := e.Extract(context.Background(), []*imaging.Image{testImage(1, 6, 5)}); err != nil {
		t.Fatal(err)
	}
	if e.BatchWait() != 0 || len(s.sizes) != 4 {
		t.Fatalf("wait %v, runs %v", e.BatchWait(), s.sizes)
	}
}

func TestExtractSharedSizesApart(t *testing.T) {
	s := &fakeSession{batch: -1}
	cfg := Config{ResizeShort: 5, BatchSize: 2, BatchWait: forever}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way: batches wait for it
	// Two sizes (6×5 and 5×5 after resize_short), two calls each: the
	// batches pair images of one size only.
	a1, b1 := extractAsync(e, context.Background(), []*imaging.Image{testImage(1, 6, 5)}), extractAsync(e, context.Background(), []*imaging.Image{testImage(2, 5, 5)})
	queued(t, e, 2)
	a2, b2 := extractAsync(e, context.Background(), []*imaging.Image{testImage(3, 6, 5)}), extractAsync(e, context.Background(), []*imaging.Image{testImage(4, 5, 5)})
	for i, ch := range []chan extractResult{a1, b1, a2, b2} {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		img := testImage(i+1, 6-i%2, 5)
		checkFeats(t, cfg, r.feats, []*imaging.Image{img})
	}
	if fmt.Sprint(s.sizes) != "[2 2]" {
		t.Fatalf("model runs %v", s.sizes)
	}
}

func TestExtractSharedCancelWhileQueued(t *testing.T) {
	s := &fakeSession{batch: -1}
	cfg := Config{Width: 6, Height: 5, BatchSize: 4, BatchWait: forever}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way: batches wait for it
	ctx, cancel := context.WithCancel(context.Background())
	a := extractAsync(e, ctx, []*imaging.Image{testImage(1, 6, 5), testImage(2, 6, 5)})
	queued(t, e, 2)
	cancel()
	if r := <-a; !errors.Is(r.err, context.Canceled) || r.feats != nil {
		t.Fatalf("cancelled call: %v %v", r.feats, r.err)
	}
	queued(t, e, 0) // its images left the queue
	bImgs := []*imaging.Image{testImage(3, 6, 5), testImage(4, 6, 5)}
	cImgs := []*imaging.Image{testImage(5, 6, 5), testImage(6, 6, 5)}
	b := extractAsync(e, context.Background(), bImgs)
	c := extractAsync(e, context.Background(), cImgs)
	for i, ch := range []chan extractResult{b, c} {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		checkFeats(t, cfg, r.feats, [][]*imaging.Image{bImgs, cImgs}[i])
	}
	if fmt.Sprint(s.sizes) != "[4]" {
		t.Fatalf("model runs %v, want one of 4 without the cancelled images", s.sizes)
	}
}

// gateSession runs the fake model once gate is closed, and says on
// started when a run began.
type gateSession struct {
	fakeSession
	started chan struct{}
	gate    chan struct{}
	ended   chan error // a run that ended by its context
}

func (g *gateSession) Run(ctx context.Context, in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	g.started <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		g.ended <- ctx.Err()
		return nil, ctx.Err()
	}
	return g.fakeSession.Run(ctx, in)
}

func TestExtractSharedCancelWhileRunning(t *testing.T) {
	s := &gateSession{fakeSession: fakeSession{batch: -1}, started: make(chan struct{}, 4), gate: make(chan struct{}), ended: make(chan error, 4)}
	cfg := Config{Width: 6, Height: 5, BatchSize: 3, BatchWait: forever}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way: batches wait for it
	ctx, cancel := context.WithCancel(context.Background())
	a := extractAsync(e, ctx, []*imaging.Image{testImage(1, 6, 5)})
	queued(t, e, 1)
	bImgs := []*imaging.Image{testImage(2, 6, 5), testImage(3, 6, 5)}
	b := extractAsync(e, context.Background(), bImgs)
	<-s.started // a and b share this run
	cancel()
	if r := <-a; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled call: %v", r.err)
	}
	close(s.gate) // the run goes on for b
	r := <-b
	if r.err != nil {
		t.Fatal(r.err)
	}
	checkFeats(t, cfg, r.feats, bImgs)
	if fmt.Sprint(s.sizes) != "[3]" {
		t.Fatalf("model runs %v", s.sizes)
	}

	// When every call of a run gives up, the run is cancelled.
	s.gate = make(chan struct{})
	ctx, cancel = context.WithCancel(context.Background())
	a = extractAsync(e, ctx, []*imaging.Image{testImage(1, 6, 5), testImage(2, 6, 5), testImage(3, 6, 5)})
	<-s.started
	cancel()
	if r := <-a; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled call: %v", r.err)
	}
	if err := <-s.ended; !errors.Is(err, context.Canceled) {
		t.Fatalf("the abandoned run ended with %v", err)
	}
}

// poisonSession fails every batch holding an image whose first value is
// above 2.2 (a white pixel after ImageNet normalisation).
type poisonSession struct{ fakeSession }

func (p *poisonSession) Run(ctx context.Context, in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	x := in["x"]
	s := x.Shape()
	per := s[1] * s[2] * s[3]
	for i := range s[0] {
		if x.Float32s()[i*per] > 2.2 {
			p.mu.Lock()
			p.sizes = append(p.sizes, -s[0])
			p.mu.Unlock()
			return nil, fmt.Errorf("%w: poisoned", infer.ErrInput)
		}
	}
	return p.fakeSession.Run(ctx, in)
}

func TestExtractSharedFailureStaysWithItsCall(t *testing.T) {
	s := &poisonSession{fakeSession{batch: -1}}
	cfg := Config{Width: 6, Height: 5, BatchSize: 3, BatchWait: forever}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way: batches wait for it
	white, _ := imaging.NewImage(6, 5, 3)
	for i := range white.Pix {
		white.Pix[i] = 255
	}
	good := []*imaging.Image{testImage(1, 6, 5), testImage(2, 6, 5)}
	a := extractAsync(e, context.Background(), good)
	queued(t, e, 2)
	bad := extractAsync(e, context.Background(), []*imaging.Image{white})
	if r := <-bad; !errors.Is(r.err, infer.ErrInput) {
		t.Fatalf("poisoned call: %v", r.err)
	}
	r := <-a
	if r.err != nil {
		t.Fatalf("the other call failed too: %v", r.err)
	}
	checkFeats(t, cfg, r.feats, good)
	// The shared run failed, then each call ran on its own.
	if fmt.Sprint(s.sizes) != "[-3 2 -1]" {
		t.Fatalf("model runs %v", s.sizes)
	}
}

func TestExtractSharedConcurrent(t *testing.T) {
	// Many calls of mixed lengths at once with a short wait: every call
	// gets exactly its own features, whatever the batches were.
	s := &fakeSession{batch: -1}
	cfg := Config{Width: 6, Height: 5, BatchSize: 5, BatchWait: 2 * time.Millisecond, BatchRuns: 2}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way: batches wait for it
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for c := range 32 {
		var imgs []*imaging.Image
		var wants [][]float32
		for i := range 1 + c%7 {
			imgs = append(imgs, testImage(c*10+i, 6, 5))
			wants = append(wants, want(t, cfg, imgs[i])) // t.Fatal only on the test's goroutine
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := e.Extract(context.Background(), imgs)
			if err != nil {
				errs <- err
				return
			}
			for i, v := range f {
				w := wants[i]
				for j := range w {
					if math.Abs(float64(v[j]-w[j])) > 0 {
						errs <- fmt.Errorf("call %d image %d: %v, want %v", c, i, v, w)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Images != 122 {
		t.Fatalf("stats %+v", st)
	}
}

func TestExtractSharedORTMatchesUnbatched(t *testing.T) {
	// The synthesized PP-LCNetV2 through ONNX Runtime: crops of four
	// concurrent calls in one shared run against each crop run alone.
	sess := recSession(t, 1)
	alone, err := New(sess, Config{BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	shared, err := New(sess, Config{BatchSize: 9, BatchWait: forever})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Expect()()
	var calls [][]*imaging.Image
	seed := 0
	for _, n := range []int{1, 3, 2, 3} {
		var imgs []*imaging.Image
		for range n {
			seed++
			imgs = append(imgs, testImage(seed, 100+seed*17, 80+seed*23))
		}
		calls = append(calls, imgs)
	}
	chans := make([]chan extractResult, len(calls))
	for i, imgs := range calls {
		chans[i] = extractAsync(shared, context.Background(), imgs)
	}
	worst := 0.0
	for i, ch := range chans {
		r := <-ch
		if r.err != nil {
			t.Fatal(r.err)
		}
		for k, img := range calls[i] {
			ref, err := alone.Extract(context.Background(), []*imaging.Image{img})
			if err != nil {
				t.Fatal(err)
			}
			var dot float64
			for j, v := range ref[0] {
				worst = math.Max(worst, math.Abs(float64(v-r.feats[k][j])))
				dot += float64(v) * float64(r.feats[k][j])
			}
			if dot < 0.99999 {
				t.Fatalf("call %d crop %d: cosine %v with the unbatched feature", i, k, dot)
			}
		}
	}
	if worst > 1e-5 {
		t.Fatalf("largest difference to the unbatched features %g", worst)
	}
	if st := shared.Stats(); st.Batches != 1 || st.Joined != 1 {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("largest difference to the unbatched features: %g", worst)
}

func TestExtractSharedNoWaitWithoutExpected(t *testing.T) {
	s := &fakeSession{batch: -1}
	cfg := Config{Width: 6, Height: 5, BatchSize: 8, BatchWait: forever}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// No call on its way: a lone call runs at once despite the wait.
	img := []*imaging.Image{testImage(1, 6, 5)}
	f, err := e.Extract(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	checkFeats(t, cfg, f, img)
	// One announced call holds the batch until it withdraws.
	done := e.Expect()
	a := extractAsync(e, context.Background(), img)
	queued(t, e, 1)
	select {
	case <-a:
		t.Fatal("the batch ran while a call was announced")
	default:
	}
	done()
	done() // a second withdrawal does nothing
	if r := <-a; r.err != nil {
		t.Fatal(r.err)
	}
	if e.q.expected.Load() != 0 || fmt.Sprint(s.sizes) != "[1 1]" {
		t.Fatalf("expected %d, runs %v", e.q.expected.Load(), s.sizes)
	}
}

// TestSetBatchWaitReachesQueuedCalls: turning batching off releases a call
// already waiting in the queue (with a one-hour wait it would otherwise
// stay until the announced call came).
func TestSetBatchWaitReachesQueuedCalls(t *testing.T) {
	s := &fakeSession{batch: -1}
	cfg := Config{Width: 6, Height: 5, BatchSize: 32, BatchWait: time.Hour}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Expect()() // a call on its way that never comes
	done := make(chan error, 1)
	imgs := []*imaging.Image{testImage(3, 6, 5)}
	go func() {
		_, err := e.Extract(context.Background(), imgs)
		done <- err
	}()
	queued := func() bool {
		e.q.mu.Lock()
		defer e.q.mu.Unlock()
		return len(e.q.items) > 0
	}
	for !queued() {
		time.Sleep(time.Millisecond) // until the call is queued
	}
	e.SetBatchWait(0)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
