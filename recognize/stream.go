package recognize

import (
	"context"
	"sync"
	"time"

	"github.com/shitu-go/shitu/imaging"
)

// StreamAhead is how many images Stream loads and prepares ahead of the
// one in the models.
const StreamAhead = 1

// Frame is one image of a stream, as Stream hands it over.
type Frame struct {
	// Index is the image's position in the stream.
	Index int
	// Image is the decoded image (nil when loading it failed).
	Image *imaging.Image
	// Load is how long load took for it (e.g. reading and decoding).
	Load time.Duration
	// Searched is the image after detection, embedding and search; Decide
	// turns it into the answer. Nil when Err is set.
	Searched *Searched
	// Err is the error of this image: loading, preprocessing or the models.
	Err error
}

// Stream recognises images 0…n−1 in order: load(ctx, i) gives image i,
// and each is called with its frame, one image at a time, in index order.
// Loading and the detector's preprocessing (Prepare) of the next
// StreamAhead images run on another goroutine while the current image is
// in the models, so decoding and preprocessing overlap inference instead
// of adding to it (issue 18). The frames are exactly what a loop of load
// and Candidates would give. An image's error goes to each in its frame;
// a non-nil error from each, or ctx's end, stops the stream and is
// returned.
func (s *System) Stream(ctx context.Context, n int, opts Options, load func(ctx context.Context, i int) (*imaging.Image, error), each func(f Frame) error) error {
	return Prefetch(ctx, n, StreamAhead, func(ctx context.Context, i int) loaded {
		t0 := time.Now()
		img, err := load(ctx, i)
		l := loaded{img: img, load: time.Since(t0), err: err}
		if err == nil {
			l.prep, l.err = s.Prepare(img, opts)
		}
		return l
	}, func(i int, l loaded) error {
		f := Frame{Index: i, Image: l.img, Load: l.load, Err: l.err}
		if f.Err == nil {
			f.Searched, f.Err = s.CandidatesPrepared(ctx, l.prep, opts)
		}
		if f.Err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		return each(f)
	})
}

type loaded struct {
	img  *imaging.Image
	load time.Duration
	prep *Prepared
	err  error
}

// Prefetch is the one prefetching pipeline of a stream of work items:
// prepare(ctx, i) for i = 0…n−1 runs on its own goroutine at most ahead
// items (at least 1) before use, which gets every item in index order on
// the calling goroutine. A non-nil error from use, or ctx's end, stops the
// pipeline: Prefetch waits for the preparing goroutine to finish and
// returns that error. prepare must honour ctx only through its result
// (it is not interrupted).
func Prefetch[T any](ctx context.Context, n, ahead int, prepare func(ctx context.Context, i int) T, use func(i int, v T) error) error {
	if n <= 0 {
		return ctx.Err()
	}
	ahead = max(ahead, 1)
	ctx, cancel := context.WithCancel(ctx)
	// One item is prepared while the channel holds ahead−1 finished ones.
	ch := make(chan T, ahead-1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		for i := 0; i < n; i++ {
			if ctx.Err() != nil {
				return
			}
			v := prepare(ctx, i)
			select {
			case ch <- v:
			case <-ctx.Done():
				return
			}
		}
	}()
	defer func() {
		cancel()
		wg.Wait()
	}()
	i := 0
	for v := range ch {
		if err := use(i, v); err != nil {
			return err
		}
		i++
	}
	if i < n {
		return ctx.Err()
	}
	return nil
}
