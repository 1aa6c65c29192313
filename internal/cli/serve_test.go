package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/models"
)

func TestCheckExposure(t *testing.T) {
	for _, c := range []struct {
		addr, key string
		public    bool
		ok, warns bool
	}{
		{"127.0.0.1:8080", "", false, true, false},
		{"localhost:8080", "", false, true, false},
		{"[::1]:8080", "", false, true, false},
		{":8080", "", false, false, false},
		{"0.0.0.0:8080", "", false, false, false},
		{"192.0.2.7:8080", "", false, false, false},
		{":8080", "", true, true, true},
		{":8080", "k", false, true, false},
		{"nonsense", "", false, false, false},
	} {
		var warned string
		err := checkExposure("--addr", c.addr, c.key, c.public, func(m string) { warned = m })
		if (err == nil) != c.ok || (warned != "") != c.warns {
			t.Errorf("%s key=%q public=%v: err %v, warning %q", c.addr, c.key, c.public, err, warned)
		}
		if err != nil && c.addr != "nonsense" && !strings.Contains(err.Error(), "--api-key") {
			t.Errorf("%s: the refusal does not say what to do: %v", c.addr, err)
		}
	}
	// through the command: no key, all interfaces → refused before loading anything
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("Global: {}\n"), 0o644)
	_, errs, code := run(t, "serve", "-c", cfg, "--addr", ":0")
	if code == 0 || !strings.Contains(errs, "without --api-key") {
		t.Fatalf("serve on :0 without a key: exit %d, %s", code, errs)
	}
	// the gRPC address follows the same rule
	_, errs, code = run(t, "serve", "-c", cfg, "--grpc-addr", ":0")
	if code == 0 || !strings.Contains(errs, "without --api-key") {
		t.Fatalf("serve --grpc-addr :0 without a key: exit %d, %s", code, errs)
	}
}

func TestGalleryDeleteCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "g")
	g, err := gallery.Create(dir, gallery.Options{Model: "m", Dims: 8, Method: gallery.MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	g.Add(gallery.Item{Label: "a", Vector: []float32{1, 0, 0, 0, 0, 0, 0, 0}})
	g.Close()
	_, errs, code := run(t, "gallery", "delete", "--dir", dir)
	if code == 0 || !strings.Contains(errs, "1 items under 1 labels; add --yes") {
		t.Fatalf("without --yes: exit %d, %s", code, errs)
	}
	out, errs, code := run(t, "gallery", "delete", "--dir", dir, "--yes")
	if code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: exit %d, %s %s", code, out, errs)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("gallery folder left: %v", err)
	}
	if _, errs, code := run(t, "gallery", "delete", "--dir", dir, "--yes"); code == 0 || !strings.Contains(errs, "no gallery") {
		t.Fatalf("second delete: exit %d, %s", code, errs)
	}
}

func TestPullErrorNamesMirror(t *testing.T) {
	err := pullError("det", "", fmt.Errorf("%w: dial tcp: lookup models.example: no such host", models.ErrDownload))
	if !strings.Contains(err.Error(), "SHITU_MIRROR") || !errors.Is(err, models.ErrDownload) {
		t.Fatalf("offline error: %v", err)
	}
	if err := pullError("det", "/m", fmt.Errorf("%w: x", models.ErrDownload)); strings.Contains(err.Error(), "SHITU_MIRROR") {
		t.Fatalf("with a mirror: %v", err)
	}
}

func TestServeBatchFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(cfg, []byte("Global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--batch-wait=-1ms"}, "serve: --batch-wait -1ms is out of range"},
		{[]string{"--batch-wait", "2s"}, "serve: --batch-wait 2s is out of range"},
		{[]string{"--batch-runs", "5000"}, "serve: --batch-runs 5000 is out of range"},
	} {
		_, errs, code := run(t, append([]string{"serve", "-c", cfg, "--addr", "127.0.0.1:0"}, tt.args...)...)
		if code != 1 || !strings.Contains(errs, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.args, code, errs, tt.want)
		}
	}
	g := runtime.GOMAXPROCS(0)
	if serveWorkers(0, 2*time.Millisecond) != 4*g || serveWorkers(0, 0) != g || serveWorkers(3, time.Millisecond) != 3 {
		t.Errorf("default workers: %d with batching, %d without", serveWorkers(0, time.Millisecond), serveWorkers(0, 0))
	}
}
