package cli

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shitu-go/shitu/internal/loadgen"
	"github.com/shitu-go/shitu/internal/testutil"
)

func TestBenchServeFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero requests", []string{"-n", "0"}, "must be > 0"},
		{"zero duration", []string{"--duration", "0s"}, "must be > 0"},
		{"negative warmup", []string{"--warmup=-1"}, "≥ 0"},
		{"zero concurrency", []string{"--concurrency", "1,0"}, "concurrency 0"},
		{"negative wait", []string{"--batch-wait=-1ms"}, "--batch-wait -1ms is out of range"},
		{"huge wait", []string{"--batch-wait", "1h"}, "--batch-wait 1h0m0s is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs, code := run(t, append([]string{"bench", "serve"}, tt.args...)...)
			if code != 1 || !strings.Contains(errs, "bench serve:") || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q, want 1 and %q", code, errs, tt.want)
			}
		})
	}
}

// TestBenchServeSynthetic runs the whole benchmark, tiny: synthesized
// models, the generated gallery and shelves, the service on loopback, one
// level, and the in-process reference at a concurrency --concurrency lacks
// (so the service level at 2 is added for the ratio); --grpc adds a gRPC
// row after each HTTP one.
func TestBenchServeSynthetic(t *testing.T) {
	testutil.ORTLib(t)
	out, errs, code := run(t, "bench", "serve", "-n", "2", "--concurrency", "1", "--reference", "2", "--warmup", "0", "--grpc")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, re := range []string{
		`service http://127\.0\.0\.1:\d+/v1/recognize: \d+ workers`,
		`(?m)^\s+in-process\s+2\s+2\s+0\s+0\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$`,
		`(?m)^\s+service\s+2\s+2\s+0\s+0\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$`,
		`(?m)^\s+service\s+1\s+2\s+0\s+0\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$`,
		`grpc 127\.0\.0\.1:\d+: the same server`,
		`(?m)^\s+grpc\s+1\s+2\s+0\s+0\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$`,
		`(?m)^\s+grpc\s+2\s+2\s+0\s+0\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$`,
		`concurrency 1: grpc [0-9.]+ img/s, http [0-9.]+ img/s: grpc/http [0-9.]+ \(medians\)`,
		`concurrency 2: service [0-9.]+ img/s, in-process [0-9.]+ img/s: ratio [0-9.]+ \(median of the per-round ratios [0-9.]+\)`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
	if m := regexp.MustCompile(`(\d+) objects in the first`).FindStringSubmatch(out); m == nil || m[1] == "0" {
		t.Errorf("the check request found no objects:\n%s", out)
	}
}

// TestBenchServeBatchingBoth runs each level without and with
// cross-request batching and prints them side by side with the ratio.
func TestBenchServeBatchingBoth(t *testing.T) {
	testutil.ORTLib(t)
	out, errs, code := run(t, "bench", "serve", "-n", "2", "--concurrency", "2", "--reference", "0", "--warmup", "0", "--batching", "both")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, re := range []string{
		`cross-request batching: both \(wait 2ms, at most 32 crops per run, \d+ shared runs at once\)`,
		`CPU flags: .+; load average before: `,
		`(?m)^\s+service\s+2\s+2\s+0\s+0\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$`,
		`(?m)^\s+service\+batch\s+2\s+2\s+0\s+0\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+$`,
		`concurrency 2: batched/unbatched img/s [0-9.]+, p99 [-+][0-9.]+ ms \(medians over 1 round\(s\); batching wait 2ms\)`,
		`batched levels: \d+ recognition runs for \d+ crops \([0-9.]+ per run\), \d+ of them shared by several requests`,
		`load average after: `,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", re, out)
		}
	}
}

// TestWriteServeTable checks the table's columns line up (one header cell
// per value) with and without the round column, and the figures printed.
func TestWriteServeTable(t *testing.T) {
	ms := time.Millisecond
	res := &loadgen.Result{Concurrency: 4, Requests: 5, Errors: 1, Cut: 2, Elapsed: 2 * time.Second, CPU: 400 * ms,
		Latencies: []time.Duration{10 * ms, 20 * ms, 30 * ms, 40 * ms}}
	rows := []serveRow{{round: 1, name: "in-process", conc: 4, res: res}, {round: 2, name: "service", conc: 4, res: res}}
	for _, rounds := range []bool{false, true} {
		var b strings.Builder
		writeServeTable(&b, rows, rounds)
		lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
		if len(lines) != 3 {
			t.Fatalf("rounds %v: %d lines:\n%s", rounds, len(lines), b.String())
		}
		for _, l := range lines[1:] {
			if len(l) != len(lines[0]) {
				t.Errorf("rounds %v: misaligned:\n%s", rounds, b.String())
			}
			// 4 successes in 2 s; p50 20 ms, p90 and p99 40 ms; 400 ms CPU / 4.
			want := `\s4\s+5\s+1\s+2\s+2\.00\s+20\.0\s+40\.0\s+40\.0\s+100\.0\s*$`
			if !regexp.MustCompile(want).MatchString(l) {
				t.Errorf("rounds %v: row %q does not match %s", rounds, l, want)
			}
		}
		if got := strings.Fields(lines[0])[0]; (got == "round") != rounds {
			t.Errorf("rounds %v: header starts with %q", rounds, got)
		}
	}
}

// TestBenchPipelineFlagErrors: bench pipeline's numbers are bounded before
// any work (--concurrency 0 used to divide by zero).
func TestBenchPipelineFlagErrors(t *testing.T) {
	for _, args := range [][]string{{"--concurrency", "0"}, {"--concurrency", "1,5000"}, {"-n", "0"}, {"--threads=-1"}} {
		_, errs, code := run(t, append([]string{"bench", "pipeline"}, args...)...)
		if code != 1 || !strings.Contains(errs, "bench pipeline:") || !strings.Contains(errs, "out of range") && !strings.Contains(errs, "-n 1..") {
			t.Errorf("%v: exit %d, stderr %q, want 1 and the allowed range", args, code, errs)
		}
	}
}
