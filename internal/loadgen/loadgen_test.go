package loadgen

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	ten := ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"single p50", ms(7), 50, 7 * time.Millisecond},
		{"single p99", ms(7), 99, 7 * time.Millisecond},
		{"ten p50", ten, 50, 5 * time.Millisecond},
		{"ten p90", ten, 90, 9 * time.Millisecond},
		{"ten p91", ten, 91, 10 * time.Millisecond},
		{"ten p99", ten, 99, 10 * time.Millisecond},
		{"ten p100", ten, 100, 10 * time.Millisecond},
		{"ten p0 clamps to min", ten, 0, 1 * time.Millisecond},
		{"ten p150 clamps to max", ten, 150, 10 * time.Millisecond},
		{"four p50", ms(10, 20, 30, 40), 50, 20 * time.Millisecond},
		{"four p75", ms(10, 20, 30, 40), 75, 30 * time.Millisecond},
		{"four p76", ms(10, 20, 30, 40), 76, 40 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(p=%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	tests := []struct {
		url  string
		want error
	}{
		{"http://127.0.0.1:8080/v1/recognize", nil},
		{"http://127.3.2.1/", nil},
		{"http://[::1]:9/x", nil},
		{"http://localhost:8080/", ErrNotLoopback},
		{"http://10.0.0.1:8080/", ErrNotLoopback},
		{"http://0.0.0.0:8080/", ErrNotLoopback},
		{"http://[::]:8080/", ErrNotLoopback},
		{"https://127.0.0.1/", ErrConfig},
		{"127.0.0.1:8080", ErrConfig},
		{"http://%zz", ErrConfig},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := CheckLoopback(tt.url)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("CheckLoopback(%q) = %v, want %v", tt.url, err, tt.want)
			}
		})
	}
}

func TestRunConfigErrors(t *testing.T) {
	ok := Config{URL: "http://127.0.0.1:1/", Requests: 1, Duration: time.Second}
	tests := []struct {
		name string
		mod  func(*Config)
		want error
	}{
		{"no requests", func(c *Config) { c.Requests = 0 }, ErrConfig},
		{"no duration", func(c *Config) { c.Duration = 0 }, ErrConfig},
		{"negative warmup", func(c *Config) { c.Warmup = -1 }, ErrConfig},
		{"remote host", func(c *Config) { c.URL = "http://192.0.2.1/" }, ErrNotLoopback},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			if _, err := Run(context.Background(), c); !errors.Is(err, tt.want) {
				t.Errorf("Run = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestRunCounts checks warmup exclusion, body cycling, status and error
// counts against a trivial handler.
func TestRunCounts(t *testing.T) {
	tests := []struct {
		name        string
		conc, n, wu int
		failEvery   int64 // every k-th request (1-based, after warmup too) answers 500
	}{
		{"serial", 1, 10, 0, 0},
		{"four workers with warmup", 4, 25, 3, 0},
		{"more workers than requests", 8, 5, 2, 0},
		{"errors", 3, 30, 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				seen   atomic.Int64
				mu     sync.Mutex
				bodies = map[string]int{}
				ctypes = map[string]int{}
			)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				k := seen.Add(1)
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				bodies[string(b)]++
				ctypes[r.Header.Get("Content-Type")]++
				mu.Unlock()
				if r.Method != http.MethodPost {
					w.WriteHeader(http.StatusMethodNotAllowed)
					return
				}
				if tt.failEvery > 0 && k%tt.failEvery == 0 {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				io.WriteString(w, `{"ok":true}`)
			}))
			defer ts.Close()
			res, err := Run(context.Background(), Config{
				URL: ts.URL + "/v1/recognize", ContentType: "image/jpeg",
				Bodies:      [][]byte{[]byte("a"), []byte("b")},
				Concurrency: tt.conc, Requests: tt.n, Warmup: tt.wu, Duration: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := seen.Load(); got != int64(tt.n+tt.wu) {
				t.Errorf("server saw %d requests, want %d", got, tt.n+tt.wu)
			}
			wantErr := 0
			if tt.failEvery > 0 {
				wantErr = tt.n / int(tt.failEvery)
			}
			if res.Requests != tt.n || res.Errors != wantErr || res.Cut != 0 {
				t.Errorf("requests %d errors %d cut %d, want %d %d 0", res.Requests, res.Errors, res.Cut, tt.n, wantErr)
			}
			if len(res.Latencies) != tt.n-wantErr || res.Status[200] != tt.n-wantErr || res.Status[500] != wantErr {
				t.Errorf("latencies %d status %v", len(res.Latencies), res.Status)
			}
			if (wantErr > 0) != (res.FirstError != nil) {
				t.Errorf("FirstError = %v with %d errors", res.FirstError, wantErr)
			}
			total := tt.n + tt.wu
			if bodies["a"] != (total+1)/2 || bodies["b"] != total/2 {
				t.Errorf("bodies %v, want a×%d b×%d", bodies, (total+1)/2, total/2)
			}
			if ctypes["image/jpeg"] != total {
				t.Errorf("content types %v", ctypes)
			}
			for i := 1; i < len(res.Latencies); i++ {
				if res.Latencies[i] < res.Latencies[i-1] {
					t.Fatalf("latencies not sorted at %d", i)
				}
			}
			if len(res.Latencies) > 0 {
				if p50, p99 := res.Percentile(50), res.Percentile(99); p50 <= 0 || p99 < p50 || p99 > res.Latencies[len(res.Latencies)-1] {
					t.Errorf("p50 %v p99 %v max %v", p50, p99, res.Latencies[len(res.Latencies)-1])
				}
			}
			if res.Throughput() <= 0 {
				t.Errorf("throughput %v", res.Throughput())
			}
		})
	}
}

// TestRunConcurrency checks that exactly Concurrency requests are in flight
// at once: the handler holds every request until that many have arrived.
func TestRunConcurrency(t *testing.T) {
	for _, conc := range []int{1, 2, 4, 8} {
		var inflight, peak atomic.Int64
		var mu sync.Mutex
		cond := sync.NewCond(&mu)
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := inflight.Add(1)
			defer inflight.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			// The first wave waits until all workers are in; a bug that
			// serialised the workers would hang here until the Duration cap.
			stop := context.AfterFunc(r.Context(), func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
			defer stop()
			mu.Lock()
			cond.Broadcast()
			for peak.Load() < int64(conc) && r.Context().Err() == nil {
				cond.Wait()
			}
			mu.Unlock()
		}))
		res, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: conc, Requests: 3 * conc, Duration: 20 * time.Second})
		ts.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 3*conc || res.Errors != 0 || peak.Load() != int64(conc) {
			t.Errorf("conc %d: requests %d errors %d peak in flight %d", conc, res.Requests, res.Errors, peak.Load())
		}
	}
}

// TestRunDurationCap checks the time bound: a server that never answers
// gets Concurrency requests, all cut at the cap, and Run returns.
func TestRunDurationCap(t *testing.T) {
	var seen atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		<-r.Context().Done()
	}))
	defer ts.Close()
	const d = 200 * time.Millisecond
	res, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: 3, Requests: 1000, Warmup: 2, Duration: d})
	if err != nil {
		t.Fatal(err)
	}
	// Warmup: 2 requests cut at their own cap; measured: 3 workers, 3 cut.
	if res.Requests != 0 || res.Cut != 3 || res.Errors != 0 || len(res.Latencies) != 0 {
		t.Errorf("requests %d cut %d errors %d", res.Requests, res.Cut, res.Errors)
	}
	if res.Elapsed < d {
		t.Errorf("elapsed %v before the %v cap", res.Elapsed, d)
	}
	if got := seen.Load(); got != 5 {
		t.Errorf("server saw %d requests, want 5", got)
	}
	if res.Throughput() != 0 {
		t.Errorf("throughput %v without a success", res.Throughput())
	}
}

// TestRunDurationStopsIssuing: with a fast server and a huge count, the
// duration cap ends the level well short of the count.
func TestRunDurationStopsIssuing(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
	}))
	defer ts.Close()
	const n = 1 << 30
	res, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: 2, Requests: n, Duration: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Requests >= n || res.Cut > 2 || res.Errors != 0 {
		t.Errorf("requests %d cut %d errors %d", res.Requests, res.Cut, res.Errors)
	}
}

func TestRunParentCancelled(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ts.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{URL: ts.URL, Requests: 5, Duration: time.Second}); !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want context.Canceled", err)
	}
}

func BenchmarkRunTrivial(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer ts.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), Config{URL: ts.URL, Concurrency: 4, Requests: 100, Duration: time.Minute}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestProcessCPU(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("no process CPU time here")
	}
	before := ProcessCPU()
	x := 0
	for i := range 50_000_000 {
		x += i ^ (x >> 3)
	}
	after := ProcessCPU()
	if before <= 0 || after <= before {
		t.Errorf("ProcessCPU before %v after %v (x %d)", before, after, x)
	}
}
