package train

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/tensor"
)

// Backbone runs the frozen part of the recognition network: the graph cut
// at the global pooling output (onnx.Cut), giving [N, In, 1, 1].
type Backbone struct {
	sess  infer.Session
	input string
	In    int
	// Size is the square input side the network expects (0 when dynamic).
	Size  int
	batch int
	// busy accumulates the time spent inside Run.
	mu   sync.Mutex
	busy time.Duration
}

// cutBackbone cuts the base graph at the pooling output.
func cutBackbone(m *onnx.ModelProto, t *tail) ([]byte, error) {
	cut, err := onnx.Cut(m, t.Pool)
	if err != nil {
		return nil, fmt.Errorf("%w: cut at %s: %v", ErrModel, t.Pool, err)
	}
	return onnx.Marshal(cut)
}

func newBackbone(sess infer.Session, in, batch int) (*Backbone, error) {
	ins := sess.Inputs()
	if len(ins) != 1 || len(ins[0].Shape) != 4 {
		return nil, fmt.Errorf("%w: the backbone should have one NCHW input, has %v", ErrModel, ins)
	}
	b := &Backbone{sess: sess, input: ins[0].Name, In: in, batch: max(batch, 1)}
	if s := ins[0].Shape; s[2] > 0 && s[2] == s[3] {
		b.Size = int(s[2])
	}
	if s := ins[0].Shape; s[0] > 0 {
		b.batch = int(s[0])
	}
	return b, nil
}

// run computes pooled features for k normalised CHW images of side w×h.
func (b *Backbone) run(ctx context.Context, data []float32, k, w, h int) ([]float32, error) {
	x, err := tensor.New([]int{k, 3, h, w}, data)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	outs, err := b.sess.Run(ctx, map[string]*tensor.Tensor{b.input: x})
	b.mu.Lock()
	b.busy += time.Since(t0)
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	f := outs[0].Float32s()
	if len(f) != k*b.In {
		return nil, fmt.Errorf("%w: backbone gave %d values for %d images of %d channels", ErrModel, len(f), k, b.In)
	}
	return f, nil
}

// CacheStats describes one caching pass.
type CacheStats struct {
	Images, Views int
	Wall          time.Duration
	// Busy is the time the model spent in Run; BusyShare = Busy/Wall.
	Busy time.Duration
}

// ImagesPerSecond counts augmented views (model inputs) per second.
func (s CacheStats) ImagesPerSecond() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Images*s.Views) / s.Wall.Seconds()
}

// BusyShare is the fraction of the wall time the model was running.
func (s CacheStats) BusyShare() float64 {
	if s.Wall <= 0 {
		return 0
	}
	return s.Busy.Seconds() / s.Wall.Seconds()
}

// viewRand is the random source of view v of image i: independent of the
// order the workers take the images in, so the same seed gives the same views.
func viewRand(seed uint64, i, v int) *rand.Rand {
	return rand.New(rand.NewPCG(seed^0x7472_6169_6e00, uint64(i)<<20|uint64(v)))
}

// cache computes views pooled features per sample: views[i*V+v]·In. With
// plain set, every view is the un-augmented eval transform (V = 1).
func (b *Backbone) cache(ctx context.Context, paths []string, ts []Transform, views int, seed uint64, progress func(done, total int)) ([]float32, CacheStats, error) {
	start := time.Now()
	b.mu.Lock()
	busy0 := b.busy
	b.mu.Unlock()
	n := len(paths)
	out := make([]float32, n*views*b.In)
	type item struct {
		idx  int // i*views+v
		data []float32
		w, h int
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	items := make(chan item, 2*b.batch)
	errc := make(chan error, 1)
	setErr := func(err error) {
		select {
		case errc <- err:
		default:
		}
		cancel()
	}
	var wg sync.WaitGroup
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				img, err := imaging.DecodeFile(paths[i], imaging.DecodeOptions{})
				if err != nil {
					setErr(fmt.Errorf("%w: %s: %v", ErrData, paths[i], err))
					return
				}
				for v := range views {
					data, w, h, err := apply(ts, img, viewRand(seed, i, v))
					if err != nil {
						setErr(fmt.Errorf("%s: %w", paths[i], err))
						return
					}
					if b.Size > 0 && (w != b.Size || h != b.Size) {
						setErr(fmt.Errorf("%w: the transforms give %dx%d images, the model takes %dx%d", ErrConfig, w, h, b.Size, b.Size))
						return
					}
					select {
					case items <- item{i*views + v, data, w, h}:
					case <-ctx.Done():
						return
					}
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for i := range n {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(items) }()
	var pend []item
	done := 0
	flush := func() error {
		if len(pend) == 0 {
			return nil
		}
		w, h := pend[0].w, pend[0].h
		// Images of another size go in their own run.
		k := 0
		for k < len(pend) && pend[k].w == w && pend[k].h == h {
			k++
		}
		buf := make([]float32, 0, k*3*w*h)
		for _, it := range pend[:k] {
			buf = append(buf, it.data...)
		}
		f, err := b.run(ctx, buf, k, w, h)
		if err != nil {
			return err
		}
		for j, it := range pend[:k] {
			copy(out[it.idx*b.In:(it.idx+1)*b.In], f[j*b.In:(j+1)*b.In])
		}
		done += k
		if progress != nil {
			progress(done, n*views)
		}
		pend = pend[k:]
		return nil
	}
	for it := range items {
		pend = append(pend, it)
		if len(pend) >= b.batch {
			if err := flush(); err != nil {
				setErr(err)
				break
			}
		}
	}
	for range items {
	}
	for len(pend) > 0 && ctx.Err() == nil {
		if err := flush(); err != nil {
			setErr(err)
		}
	}
	// An interrupt wins over the errors it causes (a run cut short).
	if err := parent.Err(); err != nil {
		return nil, CacheStats{}, fmt.Errorf("%w: %v", ErrCanceled, err)
	}
	select {
	case err := <-errc:
		return nil, CacheStats{}, err
	default:
	}
	b.mu.Lock()
	busy := b.busy - busy0
	b.mu.Unlock()
	return out, CacheStats{Images: n, Views: views, Wall: time.Since(start), Busy: busy}, nil
}
