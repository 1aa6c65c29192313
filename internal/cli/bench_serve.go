package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	shituv1 "github.com/shitu-go/shitu/api/proto/shitu/v1"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/internal/loadgen"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/server"
	"github.com/shitu-go/shitu/server/console"
)

// benchServeCmd load-tests the HTTP service in-process over real loopback
// TCP: POST /v1/recognize with the raw JPEG, the same work per image as
// `shitu bench pipeline` (decode + recognize), plus the HTTP round trip and
// the JSON answer.
//
// Threads, for a fair comparison: the service runs like `shitu serve` by
// default (1 intra-op thread per model run, --workers as serve chooses
// them, cross-request batching off). The in-process reference runs decode + Recognize
// on the very same sessions at --reference concurrency, which is what
// `shitu bench pipeline --concurrency 4` does on 2 cores (threads = cores ÷
// concurrency = 1). With --workers equal to --reference both run the same
// number of recognitions at once and differ only by HTTP.
//
// --grpc serves the same server over gRPC too and times Recognize (the raw
// JPEG in, the answer message out) right after each HTTP level, so HTTP
// and gRPC are compared in the same run under the same load.
//
// --batching both runs every level without and with cross-request
// batching (System.SetBatchWait on the same server; which goes first
// alternates per round), and prints the
// batched/unbatched img/s ratio and p99 difference per level.
type benchServeCmd struct {
	Config      string        `short:"c" type:"existingfile" help:"PaddleClas config with a built gallery (default: synthesized models and a generated gallery in a temporary folder)."`
	Overrides   []string      `short:"o" sep:"none" help:"Override a config key (repeatable)."`
	Images      string        `type:"existingdir" help:"Folder of images (default: generated 1920×1080 JPEG shelves with 5 products each, as bench pipeline)."`
	N           int           `short:"n" default:"40" help:"Requests per concurrency level (cycled over the images)."`
	Concurrency []int         `default:"1,2,4,8" help:"Client concurrency levels (repeatable)."`
	Duration    time.Duration `default:"60s" help:"Time cap per level: a level stops at -n requests or this, whichever comes first."`
	Warmup      int           `default:"3" help:"Untimed requests before each level."`
	Threads     int           `default:"1" help:"Intra-op threads per model run (shitu serve's default: 1)."`
	Workers     int           `help:"Server recognitions at once (default as shitu serve: 4 × GOMAXPROCS with batching on or both, else GOMAXPROCS)."`
	Queue       int           `help:"Requests that may wait for a worker (default: max(4 × workers, highest concurrency), so the benchmark never sees 429)."`
	Reference   int           `default:"4" help:"Concurrency of the in-process reference (decode + Recognize on the same system, no HTTP) the service is compared with; 0 skips it."`
	Rounds      int           `default:"1" help:"Repeat the reference and all levels, interleaved, this many times; the ratio uses the medians."`
	Console     bool          `help:"Mount the web console as shitu serve does by default (its review queue then sees every recognition); compare with and without."`
	Replicated  bool          `name:"replicated" help:"Also load-test a replicated copy of the gallery (gallery/replica: a three-node embedded NATS cluster on loopback, the items copied through it) in the same server, right after each HTTP level (unbatched)."`
	GRPC        bool          `name:"grpc" help:"Also load-test the gRPC service of the same server (shitu.v1.Shitu/Recognize, the raw JPEG, one client connection) right after each HTTP level."`
	Batching    string        `enum:"on,off,both" default:"off" help:"Cross-request batching of the service (shitu serve --batch-wait): off (serve's default), on, or both: each level without and with it, side by side."`
	batchFlags
}

// benchBatchWait is the batching wait of --batching on|both without --batch-wait.
const benchBatchWait = 2 * time.Millisecond

// serveRow is one line of the table.
type serveRow struct {
	round int
	name  string
	conc  int
	res   *loadgen.Result
}

func (c *benchServeCmd) Run(g *Globals) error {
	if c.N <= 0 || c.Duration <= 0 || c.Warmup < 0 || c.Rounds <= 0 || c.Reference < 0 {
		return fmt.Errorf("bench serve: -n, --duration and --rounds must be > 0, --warmup and --reference ≥ 0")
	}
	for _, conc := range c.Concurrency {
		if conc <= 0 {
			return fmt.Errorf("bench serve: concurrency %d must be > 0", conc)
		}
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
	// The same images as bench pipeline (its generator, when no folder is given).
	files, err := (&benchPipelineCmd{Images: c.Images}).images(g)
	if err != nil {
		return err
	}
	if c.Images == "" && len(files) > 0 {
		defer os.RemoveAll(filepath.Dir(files[0]))
	}
	datas := make([][]byte, len(files))
	for i, f := range files {
		if datas[i], err = os.ReadFile(f); err != nil {
			return err
		}
	}

	cfg, err := configFlags{Config: cfgPath, Overrides: c.Overrides}.load(g)
	if err != nil {
		return err
	}
	wait, err := c.wait()
	if err != nil {
		return fmt.Errorf("bench serve: %w", err)
	}
	if wait == 0 && c.Batching != "off" {
		wait = benchBatchWait
	}
	// modes are the batching waits each level runs with, in order.
	modes := []time.Duration{wait}
	switch {
	case c.Batching == "off":
		modes = []time.Duration{0}
	case c.Batching == "both":
		modes = []time.Duration{0, wait}
	}
	threads := max(c.Threads, 1)
	sys, err := g.open(cfg, threads, shitu.Options{BatchWait: modes[0], BatchRuns: c.BatchRuns})
	if err != nil {
		return err
	}
	defer sys.Close()
	opts := sys.Options()
	workers := serveWorkers(c.Workers, slices.Max(modes))
	queue := c.Queue
	if queue <= 0 {
		queue = max(4*workers, slices.Max(append([]int{c.Reference}, c.Concurrency...)))
	}
	srv, err := server.New(sys, server.Config{
		Workers: workers, Queue: queue, Recognize: opts,
		Logger: slog.New(slog.DiscardHandler), // one log line per request would only measure the terminal
	})
	if err != nil {
		return err
	}
	if c.Console {
		con, err := console.Mount(srv, console.Config{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return err
		}
		defer con.Close()
	}
	if c.Replicated {
		stop, err := benchReplica(g, sys, srv)
		if err != nil {
			return fmt.Errorf("bench serve: replicated gallery: %w", err)
		}
		defer stop()
	}
	// Loopback only, on a free port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	url := "http://" + ln.Addr().String() + "/v1/recognize"

	objs, err := checkRecognize(g.ctx, url, datas[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "service %s: %d workers, queue %d, %d intra-op thread(s) per model run, GOMAXPROCS %d, %d cores\n",
		url, workers, queue, threads, runtime.GOMAXPROCS(0), runtime.NumCPU())
	fmt.Fprintf(g.stdout, "cross-request batching: %s (wait %v, at most %d crops per run, %d shared runs at once)\n",
		c.Batching, wait, sys.Extractor().(*feature.Extractor).Config().BatchSize, sys.Extractor().(*feature.Extractor).Config().BatchRuns)
	fmt.Fprintf(g.stdout, "CPU flags: %s; load average before: %s\n", cpuFlags(), loadAvg())
	var rpc shituv1.ShituClient
	if c.GRPC {
		lnG, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		gs := srv.GRPCServer()
		go gs.Serve(lnG)
		defer gs.Stop()
		conn, err := grpc.NewClient(lnG.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		rpc = shituv1.NewShituClient(conn)
		r, err := rpc.Recognize(g.ctx, &shituv1.RecognizeRequest{Image: datas[0]})
		if err != nil {
			return fmt.Errorf("bench serve: gRPC check request: %w", err)
		}
		if len(r.Objects) != objs {
			return fmt.Errorf("bench serve: gRPC check request: %d objects, HTTP found %d", len(r.Objects), objs)
		}
		fmt.Fprintf(g.stdout, "grpc %s: the same server, shitu.v1.Shitu/Recognize\n", lnG.Addr())
	}
	fmt.Fprintf(g.stdout, "%d images (%s…, %d objects in the first), up to %d requests or %v per level, %d warmup\n",
		len(files), filepath.Base(files[0]), objs, c.N, c.Duration, c.Warmup)

	// In-process reference options: as the server's /v1/recognize (which keeps unknown objects).
	refOpts := opts
	refOpts.KeepUnknown = true
	// Each round runs the levels in order, with the in-process reference
	// just before the service level it is compared with (added first when
	// --concurrency lacks it), so the pair sees the same machine load.
	levels := slices.Clone(c.Concurrency)
	if c.Reference > 0 && !slices.Contains(levels, c.Reference) {
		levels = append([]int{c.Reference}, levels...)
	}
	var rows []serveRow
	var refTP, svcTP, ratios []float64
	grpcTP, httpTP := map[int][]float64{}, map[int][]float64{}
	// With --batching both: per level, batched ÷ unbatched img/s and the
	// p99 growth, per round.
	batchRatio, p99Diff := map[int][]float64{}, map[int][]float64{}
	// With --replicated: img/s of the replicated gallery and of the
	// single-machine one at the same level.
	repTP, singleTP := map[int][]float64{}, map[int][]float64{}
	ext := sys.Extractor().(*feature.Extractor)
	var shared feature.Stats // the recognition runs of the batched levels
	name := func(base string, mode time.Duration) string {
		if len(modes) > 1 && mode > 0 {
			return base + "+batch"
		}
		return base
	}
	for round := 1; round <= c.Rounds; round++ {
		for _, conc := range levels {
			var ref *loadgen.Result
			if conc == c.Reference {
				sys.SetBatchWait(modes[0])
				if ref, err = c.inProcess(g.ctx, sys, refOpts, datas, conc); err != nil {
					return fmt.Errorf("bench serve: in-process reference: %w", err)
				}
				rows = append(rows, serveRow{round: round, name: name("in-process", modes[0]), conc: conc, res: ref})
				refTP = append(refTP, ref.Throughput())
			}
			// Both modes: unbatched first in odd rounds, batched first in
			// even ones, so that neither always runs second.
			perMode := make([]*loadgen.Result, len(modes))
			order := []int{0, 1}[:len(modes)]
			if len(modes) == 2 && round%2 == 0 {
				order = []int{1, 0}
			}
			for _, mi := range order {
				mode := modes[mi]
				sys.SetBatchWait(mode)
				st0 := ext.Stats()
				res, err := loadgen.Run(g.ctx, loadgen.Config{
					URL: url, ContentType: "image/jpeg", Bodies: datas,
					Concurrency: conc, Requests: c.N, Duration: c.Duration, Warmup: c.Warmup,
				})
				if err != nil {
					return fmt.Errorf("bench serve: %w", err)
				}
				perMode[mi] = res
				if st := ext.Stats(); mode > 0 {
					shared.Batches += st.Batches - st0.Batches
					shared.Images += st.Images - st0.Images
					shared.Joined += st.Joined - st0.Joined
				}
				rows = append(rows, serveRow{round: round, name: name("service", mode), conc: conc, res: res})
				if res.FirstError != nil {
					fmt.Fprintf(g.stderr, "bench serve: concurrency %d: %d errors, first: %v\n", conc, res.Errors, res.FirstError)
				}
				if c.Replicated && mi == 0 {
					rr, err := loadgen.Run(g.ctx, loadgen.Config{
						URL: url + "?gallery=" + benchReplicaName, ContentType: "image/jpeg", Bodies: datas,
						Concurrency: conc, Requests: c.N, Duration: c.Duration, Warmup: c.Warmup,
					})
					if err != nil {
						return fmt.Errorf("bench serve: replicated: %w", err)
					}
					rows = append(rows, serveRow{round: round, name: "replicated", conc: conc, res: rr})
					if rr.FirstError != nil {
						fmt.Fprintf(g.stderr, "bench serve: replicated concurrency %d: %d errors, first: %v\n", conc, rr.Errors, rr.FirstError)
					}
					repTP[conc] = append(repTP[conc], rr.Throughput())
					singleTP[conc] = append(singleTP[conc], res.Throughput())
				}
				if rpc != nil {
					gr, err := c.grpcLevel(g.ctx, rpc, datas, conc)
					if err != nil {
						return fmt.Errorf("bench serve: gRPC: %w", err)
					}
					rows = append(rows, serveRow{round: round, name: name("grpc", mode), conc: conc, res: gr})
					if gr.FirstError != nil {
						fmt.Fprintf(g.stderr, "bench serve: gRPC concurrency %d: %d errors, first: %v\n", conc, gr.Errors, gr.FirstError)
					}
					if mi == 0 {
						grpcTP[conc] = append(grpcTP[conc], gr.Throughput())
						httpTP[conc] = append(httpTP[conc], res.Throughput())
					}
				}
				if ref != nil && mi == 0 {
					svcTP = append(svcTP, res.Throughput())
					if r := ref.Throughput(); r > 0 {
						ratios = append(ratios, res.Throughput()/r)
					}
				}
			}
			if len(perMode) == 2 && perMode[0].Throughput() > 0 {
				batchRatio[conc] = append(batchRatio[conc], perMode[1].Throughput()/perMode[0].Throughput())
				p99Diff[conc] = append(p99Diff[conc], (perMode[1].Percentile(99)-perMode[0].Percentile(99)).Seconds()*1e3)
			}
		}
	}
	sys.SetBatchWait(modes[0])
	writeServeTable(g.stdout, rows, c.Rounds > 1)
	if len(ratios) > 0 {
		per := make([]string, len(ratios))
		for i, r := range ratios {
			per[i] = fmt.Sprintf("%.3f", r)
		}
		fmt.Fprintf(g.stdout, "concurrency %d: service %.2f img/s, in-process %.2f img/s: ratio %.3f (median of the per-round ratios %s)\n",
			c.Reference, median(svcTP), median(refTP), median(ratios), strings.Join(per, ", "))
	}
	for _, conc := range levels {
		if len(grpcTP[conc]) > 0 {
			fmt.Fprintf(g.stdout, "concurrency %d: grpc %.2f img/s, http %.2f img/s: grpc/http %.3f (medians)\n",
				conc, median(grpcTP[conc]), median(httpTP[conc]), median(grpcTP[conc])/max(median(httpTP[conc]), 1e-9))
		}
	}
	for _, conc := range levels {
		if r := batchRatio[conc]; len(r) > 0 {
			fmt.Fprintf(g.stdout, "concurrency %d: batched/unbatched img/s %.3f, p99 %+.1f ms (medians over %d round(s); batching wait %v)\n",
				conc, median(r), median(p99Diff[conc]), len(r), wait)
		}
	}
	for _, conc := range levels {
		if len(repTP[conc]) > 0 {
			fmt.Fprintf(g.stdout, "concurrency %d: replicated gallery %.2f img/s, single-machine gallery %.2f img/s: replicated/single %.3f (medians)\n",
				conc, median(repTP[conc]), median(singleTP[conc]), median(repTP[conc])/max(median(singleTP[conc]), 1e-9))
		}
	}
	if wait > 0 && shared.Batches > 0 {
		fmt.Fprintf(g.stdout, "batched levels: %d recognition runs for %d crops (%.2f per run), %d of them shared by several requests\n",
			shared.Batches, shared.Images, float64(shared.Images)/float64(shared.Batches), shared.Joined)
	}
	fmt.Fprintf(g.stdout, "load average after: %s\n", loadAvg())
	fmt.Fprintln(g.stdout, "img/s: wall-clock; cpu ms/img: this process's CPU time (client + server, or the in-process loop) per image, which depends little on other load on the machine")
	fmt.Fprintln(g.stdout, "latency: client-side, request sent → whole answer read; percentiles nearest-rank over the successful requests")
	return nil
}

// checkRecognize sends one image and checks that the answer is a
// recognition, so the benchmark does not time a stream of errors.
func checkRecognize(ctx context.Context, url string, img []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(img))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "image/jpeg")
	client := &http.Client{Transport: &http.Transport{Proxy: nil}} // loopback: never a proxy
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("bench serve: check request: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("bench serve: check request: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("bench serve: check request: status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	var out api.RecognizeResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("bench serve: check request: %w", err)
	}
	return len(out.Objects), nil
}

// inProcess runs the reference: decode + RecognizeWith on conc goroutines,
// bounded by -n and --duration like a service level, with the same warmup.
func (c *benchServeCmd) inProcess(ctx context.Context, sys *shitu.System, opts recognize.Options, datas [][]byte, conc int) (*loadgen.Result, error) {
	var seq atomic.Int64
	res, err := c.closedLoop(ctx, conc, func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		img, err := imaging.Decode(datas[int(seq.Add(1)-1)%len(datas)], imaging.DecodeOptions{})
		if err != nil {
			return 0, err
		}
		_, err = sys.RecognizeWith(ctx, shitu.DefaultGallery, img, opts)
		return time.Since(t0), err
	})
	if err == nil && res.FirstError != nil {
		err = res.FirstError
	}
	return res, err
}

// grpcLevel load-tests gRPC Recognize at one concurrency: the raw image
// per RPC, latency from the call to the decoded answer.
func (c *benchServeCmd) grpcLevel(ctx context.Context, rpc shituv1.ShituClient, datas [][]byte, conc int) (*loadgen.Result, error) {
	var seq atomic.Int64
	return c.closedLoop(ctx, conc, func(ctx context.Context) (time.Duration, error) {
		t0 := time.Now()
		_, err := rpc.Recognize(ctx, &shituv1.RecognizeRequest{Image: datas[int(seq.Add(1)-1)%len(datas)]})
		return time.Since(t0), err
	})
}

// closedLoop runs one on conc goroutines, bounded by -n and --duration
// like a service level, after the same warmup. Failures are counted in
// the result; only a cancelled ctx is an error.
func (c *benchServeCmd) closedLoop(ctx context.Context, conc int, one func(context.Context) (time.Duration, error)) (*loadgen.Result, error) {
	phase := func(n int) (*loadgen.Result, error) {
		pctx, cancel := context.WithTimeout(ctx, c.Duration)
		defer cancel()
		res := &loadgen.Result{Concurrency: conc, Status: map[int]int{}}
		var (
			next atomic.Int64
			mu   sync.Mutex
			wg   sync.WaitGroup
		)
		t0, cpu0 := time.Now(), loadgen.ProcessCPU()
		for range min(conc, n) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for pctx.Err() == nil && next.Add(1) <= int64(n) {
					d, err := one(pctx)
					mu.Lock()
					switch {
					case err != nil && pctx.Err() != nil:
						res.Cut++
					case err != nil:
						res.Requests++
						res.Errors++
						if res.FirstError == nil {
							res.FirstError = err
						}
					default:
						res.Requests++
						res.Latencies = append(res.Latencies, d)
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		res.Elapsed, res.CPU = time.Since(t0), loadgen.ProcessCPU()-cpu0
		slices.Sort(res.Latencies)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return res, nil
	}
	if c.Warmup > 0 {
		if res, err := phase(c.Warmup); err != nil || res.FirstError != nil {
			if err == nil {
				err = res.FirstError
			}
			return nil, err
		}
	}
	return phase(c.N)
}

func writeServeTable(w io.Writer, rows []serveRow, rounds bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "\tconc\trequests\terrors\tcut\timg/s\tp50 ms\tp90 ms\tp99 ms\tcpu ms/img\t"
	if rounds {
		head = "round\t" + head
	}
	fmt.Fprintln(tw, head)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", d.Seconds()*1e3) }
	for _, r := range rows {
		if rounds {
			fmt.Fprintf(tw, "%d\t", r.round)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%.2f\t%s\t%s\t%s\t%s\t\n", r.name, r.conc, r.res.Requests, r.res.Errors, r.res.Cut,
			r.res.Throughput(), ms(r.res.Percentile(50)), ms(r.res.Percentile(90)), ms(r.res.Percentile(99)), ms(r.res.CPUPerRequest()))
	}
	tw.Flush()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
