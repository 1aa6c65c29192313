package server

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shitu-go/shitu/recognize"
)

// metrics is a small Prometheus text-format registry (exposition format
// 0.0.4): request counters, latency histograms per route and per pipeline
// stage, in-flight requests, queue load, gallery sizes and errors by kind.
type metrics struct {
	s        *Server
	inflight atomic.Int64
	mu       sync.Mutex
	requests map[[2]string]uint64 // route, code
	errors   map[string]uint64    // kind
	reqHist  map[string]*histogram
	stage    map[string]*histogram
}

var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64
	sum    float64
	n      uint64
}

func (h *histogram) observe(v float64) {
	for i, b := range latencyBuckets {
		if v <= b {
			h.counts[i]++
		}
	}
	h.sum += v
	h.n++
}

func newMetrics(s *Server) *metrics {
	return &metrics{s: s, requests: map[[2]string]uint64{}, errors: map[string]uint64{},
		reqHist: map[string]*histogram{}, stage: map[string]*histogram{}}
}

func (m *metrics) hist(set map[string]*histogram, key string) *histogram {
	h, ok := set[key]
	if !ok {
		h = &histogram{counts: make([]uint64, len(latencyBuckets))}
		set[key] = h
	}
	return h
}

func (m *metrics) observeRequest(route string, code int, kind string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{route, strconv.Itoa(code)}]++
	if kind != "" {
		m.errors[kind]++
	}
	m.hist(m.reqHist, route).observe(d.Seconds())
}

func (m *metrics) observeStages(decode time.Duration, t recognize.Timings) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, d := range map[string]time.Duration{"decode": decode, "detect": t.Detect, "crop": t.Crop,
		"rec": t.Rec, "search": t.Search, "nms": t.NMS, "total": decode + t.Total} {
		m.hist(m.stage, name).observe(d.Seconds())
	}
}

func label(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// MetricLabel escapes a Prometheus label value (backslash, double quote
// and newline), for figures added with AddMetrics: write it as "%s"
// between double quotes.
func MetricLabel(s string) string { return label(s) }

func writeHist(b *strings.Builder, name, lname string, set map[string]*histogram) {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		h := set[k]
		for i, ub := range latencyBuckets {
			fmt.Fprintf(b, "%s_bucket{%s=\"%s\",le=\"%g\"} %d\n", name, lname, label(k), ub, h.counts[i])
		}
		fmt.Fprintf(b, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %d\n", name, lname, label(k), h.n)
		fmt.Fprintf(b, "%s_sum{%s=\"%s\"} %g\n", name, lname, label(k), h.sum)
		fmt.Fprintf(b, "%s_count{%s=\"%s\"} %d\n", name, lname, label(k), h.n)
	}
}

func (m *metrics) handle(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	m.mu.Lock()
	b.WriteString("# HELP shitu_http_requests_total HTTP requests by route and status code.\n# TYPE shitu_http_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(&b, "shitu_http_requests_total{route=\"%s\",code=\"%s\"} %d\n", label(k[0]), k[1], m.requests[k])
	}
	b.WriteString("# HELP shitu_http_request_duration_seconds HTTP request latency by route.\n# TYPE shitu_http_request_duration_seconds histogram\n")
	writeHist(&b, "shitu_http_request_duration_seconds", "route", m.reqHist)
	b.WriteString("# HELP shitu_stage_duration_seconds Recognition pipeline stage latency.\n# TYPE shitu_stage_duration_seconds histogram\n")
	writeHist(&b, "shitu_stage_duration_seconds", "stage", m.stage)
	b.WriteString("# HELP shitu_errors_total Failed requests by kind.\n# TYPE shitu_errors_total counter\n")
	kinds := make([]string, 0, len(m.errors))
	for k := range m.errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(&b, "shitu_errors_total{kind=\"%s\"} %d\n", label(k), m.errors[k])
	}
	m.mu.Unlock()
	fmt.Fprintf(&b, "# HELP shitu_http_in_flight Requests being served.\n# TYPE shitu_http_in_flight gauge\nshitu_http_in_flight %d\n", m.inflight.Load())
	fmt.Fprintf(&b, "# HELP shitu_work_queue Recognitions running or waiting for a worker.\n# TYPE shitu_work_queue gauge\nshitu_work_queue %d\n", m.s.load.Load())
	b.WriteString("# HELP shitu_gallery_items Items per gallery.\n# TYPE shitu_gallery_items gauge\n")
	for _, n := range m.s.Galleries() {
		e, _ := m.s.gallery(n)
		fmt.Fprintf(&b, "shitu_gallery_items{gallery=\"%s\"} %d\n", label(n), e.g.Len())
	}
	b.WriteString("# HELP shitu_gallery_version Item-set version per gallery.\n# TYPE shitu_gallery_version gauge\n")
	for _, n := range m.s.Galleries() {
		e, _ := m.s.gallery(n)
		fmt.Fprintf(&b, "shitu_gallery_version{gallery=\"%s\"} %d\n", label(n), e.g.Version())
	}
	m.s.observeMu.Lock()
	extra := m.s.extraMetrics
	m.s.observeMu.Unlock()
	for _, f := range extra {
		f(&b)
	}
	if reps := m.s.sys.Replicas(); len(reps) > 0 {
		sort.Slice(reps, func(i, j int) bool { return reps[i].Name() < reps[j].Name() })
		b.WriteString("# HELP shitu_replica_applied_version Last change of the replicated gallery's stream applied here.\n# TYPE shitu_replica_applied_version gauge\n")
		for _, r := range reps {
			fmt.Fprintf(&b, "shitu_replica_applied_version{gallery=\"%s\"} %d\n", label(r.Name()), r.Version())
		}
		b.WriteString("# HELP shitu_replica_lag Changes of the stream not yet applied here, as last heard from JetStream.\n# TYPE shitu_replica_lag gauge\n")
		for _, r := range reps {
			fmt.Fprintf(&b, "shitu_replica_lag{gallery=\"%s\"} %d\n", label(r.Name()), r.Lag())
		}
		b.WriteString("# HELP shitu_replica_ready 1 when the replica caught up with its stream and applies it.\n# TYPE shitu_replica_ready gauge\n")
		for _, r := range reps {
			ok := 0
			if r.Ready() {
				ok = 1
			}
			fmt.Fprintf(&b, "shitu_replica_ready{gallery=\"%s\"} %d\n", label(r.Name()), ok)
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(b.String()))
}
