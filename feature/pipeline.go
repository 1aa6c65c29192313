package feature

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shitu-go/shitu/imaging"
)

// prepared is one decoded and preprocessed image (or its error).
type prepared struct {
	i    int
	w, h int
	data []float32
	err  error
}

// work is a batch on its way to the model, with the per-image errors of
// the images in its index range that failed to decode.
type work struct {
	b      batch
	failed []prepared // in index order, all before b.idx's successors
	feats  [][]float32
	err    error
	done   chan struct{}
}

// ExtractFiles decodes, preprocesses and extracts the images at paths and
// calls each once per path in path order: with the feature, or with the
// error of that image (unreadable or undecodable images do not stop the
// run). Decoding runs on Config.Workers goroutines and stays up to two
// batches ahead of the model, so preprocessing overlaps inference. A
// non-nil error from each, a model error or ctx cancellation stops the run
// and is returned.
func (e *Extractor) ExtractFiles(ctx context.Context, paths []string, each func(i int, vec []float32, err error) error) error {
	start := time.Now()
	defer func() {
		e.mu.Lock()
		e.stats.Wall += time.Since(start)
		e.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := e.cfg.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	// Tokens bound the images decoded ahead of the model.
	ahead := 2*e.batch + workers
	tokens := make(chan struct{}, ahead)
	jobs := make(chan int)
	results := make(chan prepared, ahead)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results <- e.prepareFile(paths[i], i)
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range paths {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	// Batcher: reorder results, cut batches, hand them to the runner. A
	// batch is cut when full, or early when the runner is idle with
	// nothing queued, so the model never waits for a full batch to be
	// decoded (batches grow back to full size once decoding is ahead).
	toRun := make(chan *work, 2)
	var idle atomic.Bool
	idle.Store(true)
	ordered := make(chan *work, 4)
	go func() {
		defer close(toRun)
		defer close(ordered)
		pending := map[int]prepared{}
		next := 0
		cur := &work{done: make(chan struct{})}
		emit := func() bool {
			select {
			case ordered <- cur:
			case <-ctx.Done():
				return false
			}
			if len(cur.b.idx) > 0 {
				select {
				case toRun <- cur:
				case <-ctx.Done():
					return false
				}
			} else {
				close(cur.done)
			}
			cur = &work{done: make(chan struct{})}
			return true
		}
		for r := range results {
			pending[r.i] = r
			for {
				p, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				<-tokens
				if p.err != nil {
					cur.failed = append(cur.failed, p)
					continue
				}
				if len(cur.b.idx) > 0 && (cur.b.w != p.w || cur.b.h != p.h) {
					if !emit() {
						return
					}
				}
				if cur.b.data == nil {
					cur.b.data = getBatch(e.batch * len(p.data))
				}
				cur.b.w, cur.b.h = p.w, p.h
				cur.b.idx = append(cur.b.idx, p.i)
				cur.b.data = append(cur.b.data, p.data...)
				putBuf(p.data)
				if len(cur.b.idx) == e.batch {
					if !emit() {
						return
					}
				}
			}
			if len(cur.b.idx) > 0 && idle.Load() && len(toRun) == 0 {
				if !emit() {
					return
				}
			}
		}
		if ctx.Err() == nil && (len(cur.b.idx) > 0 || len(cur.failed) > 0) {
			emit()
		}
	}()
	// Runner: one model run at a time, in order.
	go func() {
		for w := range toRun {
			idle.Store(false)
			w.feats, w.err = e.run(ctx, &w.b)
			putBatch(w.b.data)
			w.b.data = nil
			close(w.done)
			idle.Store(len(toRun) == 0)
		}
	}()
	// Deliver in path order.
	for w := range ordered {
		select {
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if w.err != nil {
			cancel()
			return w.err
		}
		fi, si := 0, 0
		for fi < len(w.failed) || si < len(w.b.idx) {
			var err error
			if si == len(w.b.idx) || (fi < len(w.failed) && w.failed[fi].i < w.b.idx[si]) {
				err = each(w.failed[fi].i, nil, w.failed[fi].err)
				fi++
			} else {
				err = each(w.b.idx[si], w.feats[si], nil)
				si++
			}
			if err != nil {
				cancel()
				return err
			}
		}
	}
	return ctx.Err()
}

var bufPool, batchPool sync.Pool

// getBatch returns an empty slice with capacity n for a batch tensor.
func getBatch(n int) []float32 {
	if b, ok := batchPool.Get().(*[]float32); ok && cap(*b) >= n {
		return (*b)[:0]
	}
	return make([]float32, 0, n)
}

func putBatch(b []float32) { batchPool.Put(&b) }

func getBuf(n int) []float32 {
	if b, ok := bufPool.Get().(*[]float32); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]float32, n)
}

func putBuf(b []float32) { bufPool.Put(&b) }

func (e *Extractor) prepareFile(path string, i int) prepared {
	img, err := imaging.DecodeFile(path, imaging.DecodeOptions{})
	if err != nil {
		return prepared{i: i, err: fmt.Errorf("%w: %v", ErrImage, err)}
	}
	w, h := e.cfg.TargetSize(img.W, img.H)
	buf := getBuf(3 * w * h)
	if err := e.cfg.Preprocess(img, buf); err != nil {
		return prepared{i: i, err: err}
	}
	return prepared{i: i, w: w, h: h, data: buf}
}
