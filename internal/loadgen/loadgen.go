// Package loadgen is a small closed-loop HTTP load generator for
// benchmarking the service on loopback. Every run is bounded twice: by a
// request count and by a duration, whichever comes first, and it only
// talks to loopback addresses.
package loadgen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// ErrNotLoopback is returned for a target that is not a loopback IP address.
	ErrNotLoopback = errors.New("loadgen: target is not a loopback IP address")
	// ErrConfig is returned for an invalid Config.
	ErrConfig = errors.New("loadgen: invalid config")
)

// Config describes one load level. Zero values mean the defaults in brackets.
type Config struct {
	// URL is the target; its host must be a loopback IP literal
	// (127.0.0.0/8 or ::1), never a name, so no lookup can send load elsewhere.
	URL string
	// Method is the HTTP method ["POST" when Bodies is set, else "GET"].
	Method string
	// ContentType is sent with every body [none].
	ContentType string
	// Bodies are the request bodies, cycled in order across all workers [none].
	Bodies [][]byte
	// Concurrency is the number of workers, each with at most one request
	// in flight (closed loop) [1].
	Concurrency int
	// Requests caps the measured requests; required, > 0.
	Requests int
	// Duration caps the measured phase; required, > 0. Requests still in
	// flight at the cap are cancelled and counted in Result.Cut.
	Duration time.Duration
	// Warmup requests are sent first, at the same concurrency, and not
	// counted; they are bounded by Duration too [0].
	Warmup int
	// Client sends the requests [a client whose transport keeps
	// Concurrency idle connections to the target and never compresses].
	Client *http.Client
}

// Result is the outcome of one load level.
type Result struct {
	Concurrency int
	// Requests is how many measured requests completed (successfully or not).
	Requests int
	// Errors is how many of those failed: transport error or a non-2xx status.
	Errors int
	// Cut is how many were cancelled by the Duration cap (not in Requests).
	Cut int
	// Elapsed is the wall time of the measured phase.
	Elapsed time.Duration
	// CPU is this process's user + system CPU time during the measured
	// phase (0 where unsupported): the client's work, plus the server's when
	// it runs in the same process. Unlike Elapsed it hardly depends on what
	// else the machine is running.
	CPU time.Duration
	// Latencies of the successful requests, sorted ascending.
	Latencies []time.Duration
	// Status counts responses by HTTP status code.
	Status map[int]int
	// FirstError is the first failure seen, if any.
	FirstError error
}

// Throughput is successful requests per second over the measured phase.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(len(r.Latencies)) / r.Elapsed.Seconds()
}

// CPUPerRequest is CPU divided by the successful requests (0 without any).
func (r *Result) CPUPerRequest() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	return r.CPU / time.Duration(len(r.Latencies))
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of the
// successful latencies: the smallest latency with at least p % of the
// samples at or below it. It is 0 without samples.
func (r *Result) Percentile(p float64) time.Duration {
	return Percentile(r.Latencies, p)
}

// Percentile is the nearest-rank p-th percentile of sorted (ascending)
// durations; 0 for an empty slice. p is clamped to (0, 100].
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// CheckLoopback reports whether raw is an http URL whose host is a loopback
// IP literal.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("%w: scheme %q (want http)", ErrConfig, u.Scheme)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, u.Host)
	}
	return nil
}

func (c Config) withDefaults() (Config, error) {
	if err := CheckLoopback(c.URL); err != nil {
		return c, err
	}
	if c.Requests <= 0 {
		return c, fmt.Errorf("%w: Requests must be > 0", ErrConfig)
	}
	if c.Duration <= 0 {
		return c, fmt.Errorf("%w: Duration must be > 0", ErrConfig)
	}
	if c.Warmup < 0 {
		return c, fmt.Errorf("%w: Warmup must be ≥ 0", ErrConfig)
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	if c.Method == "" {
		c.Method = http.MethodGet
		if len(c.Bodies) > 0 {
			c.Method = http.MethodPost
		}
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{
			// Loopback only: never go through a proxy from the environment.
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        c.Concurrency,
			MaxIdleConnsPerHost: c.Concurrency,
			IdleConnTimeout:     30 * time.Second,
			DisableCompression:  true,
		}}
	}
	return c, nil
}

// outcome of one request.
type outcome struct {
	latency time.Duration
	status  int
	err     error
	cut     bool
}

// Run sends cfg.Warmup untimed requests, then up to cfg.Requests measured
// ones, with cfg.Concurrency workers, and stops each phase at cfg.Duration.
// It returns an error only for an invalid Config or a cancelled ctx.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	own := cfg.Client == nil
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if own {
		defer cfg.Client.CloseIdleConnections()
	}
	var seq atomic.Int64 // body index, shared by both phases
	if cfg.Warmup > 0 {
		if _, _, err := phase(ctx, cfg, cfg.Warmup, &seq); err != nil {
			return nil, err
		}
	}
	cpu0 := ProcessCPU()
	outs, elapsed, err := phase(ctx, cfg, cfg.Requests, &seq)
	if err != nil {
		return nil, err
	}
	r := &Result{Concurrency: cfg.Concurrency, Elapsed: elapsed, CPU: ProcessCPU() - cpu0, Status: map[int]int{}}
	for _, o := range outs {
		switch {
		case o.cut:
			r.Cut++
			continue
		case o.status != 0:
			r.Status[o.status]++
		}
		r.Requests++
		if o.err != nil {
			r.Errors++
			if r.FirstError == nil {
				r.FirstError = o.err
			}
			continue
		}
		r.Latencies = append(r.Latencies, o.latency)
	}
	slices.Sort(r.Latencies)
	return r, nil
}

// phase runs up to n requests within cfg.Duration and returns their
// outcomes (in completion order) and the wall time.
func phase(ctx context.Context, cfg Config, n int, seq *atomic.Int64) ([]outcome, time.Duration, error) {
	pctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var (
		next atomic.Int64
		mu   sync.Mutex
		outs = make([]outcome, 0, min(n, 1<<12))
		wg   sync.WaitGroup
	)
	t0 := time.Now()
	for range min(cfg.Concurrency, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pctx.Err() == nil && next.Add(1) <= int64(n) {
				o := one(pctx, cfg, int(seq.Add(1)-1))
				mu.Lock()
				outs = append(outs, o)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return outs, elapsed, nil
}

// one sends request number i and reads the whole response.
func one(ctx context.Context, cfg Config, i int) outcome {
	var body io.Reader
	if len(cfg.Bodies) > 0 {
		body = bytes.NewReader(cfg.Bodies[i%len(cfg.Bodies)])
	}
	req, err := http.NewRequestWithContext(ctx, cfg.Method, cfg.URL, body)
	if err != nil {
		return outcome{err: err}
	}
	if body != nil && cfg.ContentType != "" {
		req.Header.Set("Content-Type", cfg.ContentType)
	}
	t0 := time.Now()
	resp, err := cfg.Client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	lat := time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{cut: true}
		}
		return outcome{err: err}
	}
	o := outcome{latency: lat, status: resp.StatusCode}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		o.err = fmt.Errorf("loadgen: %s %s: status %d", cfg.Method, cfg.URL, resp.StatusCode)
	}
	return o
}
