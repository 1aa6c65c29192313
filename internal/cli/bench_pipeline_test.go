package cli

import (
	"regexp"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
)

// TestBenchPipelineModes runs bench pipeline, tiny, in both modes: the
// sequential loop and the prefetching stream (recognize.Stream) each
// give a row with the same number of crops per image (the same answers).
func TestBenchPipelineModes(t *testing.T) {
	testutil.ORTLib(t)
	out, errs, code := run(t, "bench", "pipeline", "-n", "3", "--warmup", "0", "--concurrency", "1")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	num := `\s+[-+0-9.]+`
	var crops [2]string
	for i, mode := range []string{"seq", "stream"} {
		re := regexp.MustCompile(`(?m)^\s+` + mode + `\s+1\s+\d+` + repeat(num, 11) + `\s+([0-9.]+)\s+[-+0-9.]+%\s+[-+0-9.]+%$`)
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s row in:\n%s", mode, out)
		}
		crops[i] = m[1]
	}
	if crops[0] != crops[1] || crops[0] == "0.0" {
		t.Errorf("crops per image: seq %s, stream %s", crops[0], crops[1])
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
