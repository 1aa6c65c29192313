package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/tensor"
)

type benchPipelineCmd struct {
	Config      string   `short:"c" type:"existingfile" help:"PaddleClas config with a built gallery (default: synthesized models and a generated gallery in a temporary folder)."`
	Overrides   []string `short:"o" sep:"none" help:"Override a config key (repeatable)."`
	Images      string   `type:"existingdir" help:"Folder of images (default: generated 1920×1080 JPEG shelves with 5 products each)."`
	N           int      `short:"n" default:"40" help:"Images to recognise (cycled over the folder)."`
	Concurrency []int    `default:"1" help:"Concurrent Recognize calls (repeatable, e.g. 1,2,4)."`
	Threads     int      `default:"0" help:"Intra-op threads per model run (default: cores ÷ concurrency)."`
	Warmup      int      `default:"3" help:"Untimed images first."`
	Modes       []string `name:"mode" enum:"seq,stream" default:"seq,stream" help:"seq: decode then recognise, one image after the other per worker; stream: each worker recognises its images as a stream that decodes and preprocesses the next image while the current one is in the models (what predict and eval do). Repeatable; with both, the rows alternate."`
	Rounds      int      `default:"1" help:"Times each concurrency × mode row is measured (rows interleaved)."`
	CPUProfile  string   `name:"cpuprofile" type:"path" help:"Write a CPU profile of the timed runs (go tool pprof)."`
}

// timedSession adds up the time spent inside Run.
type timedSession struct {
	infer.Session
	busy atomic.Int64
	runs atomic.Int64
}

func (t *timedSession) Run(ctx context.Context, in map[string]*tensor.Tensor) ([]*tensor.Tensor, error) {
	t0 := time.Now()
	out, err := t.Session.Run(ctx, in)
	t.busy.Add(int64(time.Since(t0)))
	t.runs.Add(1)
	return out, err
}

func (c *benchPipelineCmd) Run(g *Globals) error {
	for _, conc := range c.Concurrency {
		if conc < 1 || conc > 1024 {
			return fmt.Errorf("bench pipeline: --concurrency %d is out of range: allowed 1..1024", conc)
		}
	}
	if c.N < 1 || c.N > 1_000_000 || c.Threads < 0 || c.Threads > 1024 || c.Rounds > 1000 {
		return fmt.Errorf("bench pipeline: -n 1..1000000, --threads 0..1024 and --rounds ..1000 (got %d, %d, %d)", c.N, c.Threads, c.Rounds)
	}
	cfgPath := c.Config
	if cfgPath == "" {
		dir, err := os.MkdirTemp("", "shitu-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		fmt.Fprintf(g.stderr, "bench: [SYNTHETIC] models with seeded weights and a generated gallery in %s\n", dir)
		if cfgPath, err = prepareSynthetic(g, dir); err != nil {
			return err
		}
	}
	files, err := c.images(g)
	if err != nil {
		return err
	}
	datas := make([][]byte, len(files))
	for i, f := range files {
		if datas[i], err = os.ReadFile(f); err != nil {
			return err
		}
	}
	fmt.Fprintf(g.stdout, "%d images (%s…), %d recognitions per run\n", len(files), filepath.Base(files[0]), c.N)
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tconc\tthreads\timg/s\tdecode\tdet pre\tdetect\tcrop\trec\tsearch\tnms\ttotal\tdet run\trec run\tcrops\toverhead\twall ovh\t")
	for _, conc := range c.Concurrency {
		for r := 0; r < max(c.Rounds, 1); r++ {
			for _, mode := range c.Modes {
				row, err := c.run(g, cfgPath, datas, conc, mode == "stream")
				if err != nil {
					return err
				}
				fmt.Fprintln(tw, row)
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(g.stdout, "stage columns: mean ms per image; det/rec run: mean ms inside the model sessions; overhead: (total − det run − rec run) ÷ (det run + rec run), with total the sum of per-image latencies (decode + Recognize); wall ovh: (wall × conc − det run − rec run) ÷ (det run + rec run), the share of the workers' time outside the models, which is what overlapping in stream mode reduces")
	return nil
}

func (c *benchPipelineCmd) images(g *Globals) ([]string, error) {
	if c.Images != "" {
		return imageList([]string{c.Images})
	}
	dir, err := os.MkdirTemp("", "shitu-bench-img-")
	if err != nil {
		return nil, err
	}
	ps := synthdata.Products(20, 77)
	var files []string
	for i := 0; i < 4; i++ {
		scene, _ := synthdata.Scene(1920, 1080, ps[i*5:i*5+5], uint64(i+1))
		b, err := synthdata.EncodeJPEG(scene, 90)
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, fmt.Sprintf("shelf_%d.jpg", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	return files, nil
}

func (c *benchPipelineCmd) run(g *Globals, cfgPath string, datas [][]byte, conc int, stream bool) (string, error) {
	cfg, err := configFlags{Config: cfgPath, Overrides: c.Overrides}.load(g)
	if err != nil {
		return "", err
	}
	threads := c.Threads
	if threads == 0 {
		threads = max(1, runtime.NumCPU()/conc)
	}
	sessions := map[string]*timedSession{}
	var smu sync.Mutex
	g.wrapSession = func(name string, s infer.Session) infer.Session {
		t := &timedSession{Session: s}
		smu.Lock()
		sessions[name] = t
		smu.Unlock()
		return t
	}
	defer func() { g.wrapSession = nil }()
	sys, err := g.open(cfg, threads, shitu.Options{})
	if err != nil {
		return "", err
	}
	defer sys.Close()
	one := func(i int) (recognize.Timings, time.Duration, int, error) {
		t0 := time.Now()
		img, err := imaging.Decode(datas[i%len(datas)], imaging.DecodeOptions{})
		if err != nil {
			return recognize.Timings{}, 0, 0, err
		}
		dec := time.Since(t0)
		res, err := sys.Recognize(g.ctx, img)
		if err != nil {
			return recognize.Timings{}, 0, 0, err
		}
		return res.Timings, dec, res.Crops, nil
	}
	for i := 0; i < c.Warmup; i++ {
		if _, _, _, err := one(i); err != nil {
			return "", err
		}
	}
	for _, s := range sessions {
		s.busy.Store(0)
		s.runs.Store(0)
	}
	var (
		mu    sync.Mutex
		sum   recognize.Timings
		dec   time.Duration
		boxes int
		next  atomic.Int64
		errs  []error
		wg    sync.WaitGroup
	)
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return "", err
		}
		defer pprof.StopCPUProfile()
	}
	add := func(t recognize.Timings, d time.Duration, nb int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, err)
		}
		sum.DetPreprocess += t.DetPreprocess
		sum.Detect += t.Detect
		sum.Crop += t.Crop
		sum.Rec += t.Rec
		sum.Search += t.Search
		sum.NMS += t.NMS
		sum.Total += t.Total
		dec += d
		boxes += nb
	}
	t0 := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if stream {
				// Worker w's images are w, w+conc, w+2·conc, …
				n := (c.N - w + conc - 1) / conc
				load := func(_ context.Context, k int) (*imaging.Image, error) {
					return imaging.Decode(datas[(w+k*conc)%len(datas)], imaging.DecodeOptions{})
				}
				err := sys.RecognizeStream(g.ctx, n, load, func(f recognize.Frame, res *recognize.Result) error {
					if f.Err != nil {
						return f.Err
					}
					add(res.Timings, f.Load, res.Crops, nil)
					return nil
				})
				if err != nil {
					add(recognize.Timings{}, 0, 0, err)
				}
				return
			}
			for {
				i := int(next.Add(1)) - 1
				if i >= c.N {
					return
				}
				add(one(i))
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0)
	if len(errs) > 0 {
		return "", errs[0]
	}
	n := float64(c.N)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()*1e3/n) }
	var detRun, recRun time.Duration
	if s := sessions["det"]; s != nil {
		detRun = time.Duration(s.busy.Load())
	}
	if s := sessions["rec"]; s != nil {
		recRun = time.Duration(s.busy.Load())
	}
	total := dec + sum.Total
	model := detRun + recRun
	mode := "seq"
	if stream {
		mode = "stream"
	}
	return fmt.Sprintf("%s\t%d\t%d\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f\t%+.1f%%\t%+.1f%%\t",
		mode, conc, threads, n/wall.Seconds(), ms(dec), ms(sum.DetPreprocess), ms(sum.Detect), ms(sum.Crop), ms(sum.Rec),
		ms(sum.Search), ms(sum.NMS), ms(total), ms(detRun), ms(recRun), float64(boxes)/n,
		100*(total.Seconds()-model.Seconds())/model.Seconds(),
		100*(wall.Seconds()*float64(conc)-model.Seconds())/model.Seconds()), nil
}
