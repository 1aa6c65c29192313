package feature

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Cross-call batching (Config.BatchWait): the images of concurrent
// Extract calls (the crops of concurrent service requests) are queued,
// collected for a short bounded wait and run as one model batch; every
// call gets its own features back. A batch is cut when it holds
// Config.BatchSize images of one size, when its oldest image has waited
// BatchWait, or at once when no call announced by Expect is still on its
// way; while all Config.BatchRuns runs are busy, images keep collecting. A call whose context ends stops waiting at once (its queued
// images are dropped; a run already carrying them goes on for the
// others), and a run that fails is repeated call by call, so one call's
// bad input fails that call alone.

// Expect announces an Extract call to come (a recognition that is still
// detecting or cropping): with cross-call batching on, a batch waits (up to
// BatchWait) only while announced calls have not queued their images yet;
// with none announced it runs at once, so a lone request never waits.
// The returned function withdraws the announcement (call it right before
// Extract, or when giving up); calling it again does nothing.
func (e *Extractor) Expect() (done func()) {
	e.q.expected.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			if e.q.expected.Add(-1) == 0 {
				e.q.wake()
			}
		})
	}
}

// call is one Extract batch waiting for shared runs.
type call struct {
	ctx       context.Context
	data      []float32 // n preprocessed images, back to back
	w, h      int
	abandoned atomic.Bool

	mu    sync.Mutex
	feats [][]float32
	err   error
	left  int
	done  chan struct{}
}

// item is one image of a call in the queue.
type item struct {
	c   *call
	pos int
	at  time.Time
}

func (c *call) per() int { return 3 * c.w * c.h }

func (it item) data() []float32 {
	per := it.c.per()
	return it.c.data[it.pos*per : (it.pos+1)*per]
}

// deliver hands a call the feature (or the error) of its image pos.
func (c *call) deliver(pos int, f []float32, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.err == nil {
		c.err = err
	}
	c.feats[pos] = f
	if c.left--; c.left == 0 {
		close(c.done)
	}
}

// queue holds the images waiting for a shared run.
type queue struct {
	mu      sync.Mutex
	items   []item
	running bool          // a dispatcher goroutine is alive
	kick    chan struct{} // wakes the dispatcher: images queued or dropped
	slots   chan struct{} // one token per model run in flight
	// expected counts announced calls (Expect) that have not queued yet.
	expected atomic.Int64
}

// extractShared runs the preprocessed batch b through the shared queue.
func (e *Extractor) extractShared(ctx context.Context, b *batch) ([][]float32, error) {
	q := &e.q
	// Nothing to share with: no images queued, no call on its way, a run
	// free. Run here, without the hop to a runner.
	q.mu.Lock()
	alone := len(q.items) == 0 && q.expected.Load() <= 0
	q.mu.Unlock()
	if alone {
		select {
		case q.slots <- struct{}{}:
			defer func() { <-q.slots }()
			return e.run(ctx, b)
		default:
		}
	}
	n := len(b.idx)
	c := &call{ctx: ctx, data: b.data, w: b.w, h: b.h, feats: make([][]float32, n), left: n, done: make(chan struct{})}
	now := time.Now()
	q.mu.Lock()
	for k := range n {
		q.items = append(q.items, item{c: c, pos: k, at: now})
	}
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go e.dispatch()
	} else {
		q.wake()
	}
	select {
	case <-c.done:
		return c.feats, c.err
	case <-ctx.Done():
		c.abandoned.Store(true)
		q.wake() // its queued images are dropped at the next look
		return nil, ctx.Err()
	}
}

func (q *queue) wake() {
	select {
	case q.kick <- struct{}{}:
	default:
	}
}

// dispatch cuts batches and starts their runs, one per free slot, until
// the queue is empty.
func (e *Extractor) dispatch() {
	q := &e.q
	for {
		q.slots <- struct{}{}
		items := q.cut(e.batch, e.batchWait)
		if items == nil {
			<-q.slots
			return
		}
		go func() {
			defer func() { <-q.slots }()
			e.runShared(items)
		}()
	}
}

// cut waits until the oldest queued image has a full batch of its size or
// has waited wait, and takes that batch off the queue (oldest first). It
// returns nil, and marks the dispatcher gone, when the queue is empty.
func (q *queue) cut(max int, wait func() time.Duration) []item {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		live := q.items[:0]
		for _, it := range q.items {
			if !it.c.abandoned.Load() {
				live = append(live, it)
			}
		}
		clear(q.items[len(live):])
		q.items = live
		if len(q.items) == 0 {
			q.running = false
			q.mu.Unlock()
			return nil
		}
		first := q.items[0]
		n := 0
		for _, it := range q.items {
			if it.c.w == first.c.w && it.c.h == first.c.h {
				n++
			}
		}
		left := wait() - time.Since(first.at) // read each time: SetBatchWait applies to queued calls
		if n >= max || left <= 0 || q.expected.Load() <= 0 {
			out := make([]item, 0, min(n, max))
			rest := q.items[:0]
			for _, it := range q.items {
				if len(out) < max && it.c.w == first.c.w && it.c.h == first.c.h {
					out = append(out, it)
				} else {
					rest = append(rest, it)
				}
			}
			clear(q.items[len(rest):])
			q.items = rest
			q.mu.Unlock()
			return out
		}
		q.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(left)
		} else {
			timer.Reset(left)
		}
		select {
		case <-q.kick:
		case <-timer.C:
		}
	}
}

// runShared runs a cut batch and delivers every image's feature to its
// call. The run is cancelled only when every call in it has given up.
func (e *Extractor) runShared(items []item) {
	var calls []*call
	for _, it := range items {
		if len(calls) == 0 || calls[len(calls)-1] != it.c {
			calls = append(calls, it.c) // a call's images are queued together
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var live atomic.Int32
	live.Store(int32(len(calls)))
	stops := make([]func() bool, 0, len(calls))
	for _, c := range calls {
		stops = append(stops, context.AfterFunc(c.ctx, func() {
			if live.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	feats, err := e.runItems(ctx, items)
	for _, stop := range stops {
		stop()
	}
	if err != nil && len(calls) > 1 && ctx.Err() == nil {
		// Whose images made it fail is unknown: each call on its own.
		for _, c := range calls {
			var own []item
			for _, it := range items {
				if it.c == c {
					own = append(own, it)
				}
			}
			f, err := e.runItems(c.ctx, own)
			for i, it := range own {
				if err != nil {
					c.deliver(it.pos, nil, err)
				} else {
					c.deliver(it.pos, f[i], nil)
				}
			}
		}
		return
	}
	if len(calls) > 1 {
		e.mu.Lock()
		e.stats.Joined++
		e.mu.Unlock()
	}
	for i, it := range items {
		if err != nil {
			it.c.deliver(it.pos, nil, err)
		} else {
			it.c.deliver(it.pos, feats[i], nil)
		}
	}
}

// runItems runs queued images of one size as one model batch.
func (e *Extractor) runItems(ctx context.Context, items []item) ([][]float32, error) {
	c := items[0].c
	b := &batch{w: c.w, h: c.h, idx: make([]int, len(items))}
	for i := range b.idx {
		b.idx[i] = i
	}
	if whole := len(items) == len(c.feats) && items[0].pos == 0 && items[len(items)-1].c == c; whole {
		b.data = c.data // one whole call, in order: its buffer as is
	} else {
		per := c.per()
		b.data = getBatch(len(items) * per)
		defer func() { putBatch(b.data) }()
		for _, it := range items { // all of one size: cut groups them
			b.data = append(b.data, it.data()...)
		}
	}
	return e.run(ctx, b)
}
