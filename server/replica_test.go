package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/paddleclas"
	"github.com/shitu-go/shitu/gallery/replica"
	"github.com/shitu-go/shitu/recognize"
)

// TestReplicatedServers: three servers, each with a replica of the
// default gallery, on a three-node embedded NATS cluster. An edit through
// one is seen by the others; min_version waits for it, bounded.
func TestReplicatedServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a NATS cluster")
	}
	quiet := slog.New(slog.DiscardHandler)
	dir := t.TempDir()
	cl, err := replica.StartLoopbackCluster(filepath.Join(dir, "nats"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cs [3]*api.Client
	for i := range cs {
		sys, err := shitu.New(shitu.Parts{Extractor: &paletteEmbedder{}, Model: "fake", Recognize: recognize.Options{NoDetector: true},
			IndexProcess: paddleclas.IndexProcess{EmbeddingSize: dims, IndexMethod: gallery.MethodFlat, DistType: "IP"}},
			shitu.Options{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		defer sys.Close()
		nc, js, err := replica.Connect(cl.URLs, "test", quiet)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		r, err := sys.OpenReplica(ctx, js, "default", filepath.Join(dir, "rep", string(rune('a'+i))), replica.Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		s, err := New(sys, Config{Logger: quiet, Recognize: recognize.Options{NoDetector: true}, MaxVersionWait: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(s.Handler())
		defer ts.Close()
		cs[i] = &api.Client{Base: ts.URL}
		resp, err := http.Get(ts.URL + "/readyz")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("readyz: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	red := pngBytes(t, solid(palette[0], 16, 16))
	add, err := cs[0].AddItems(ctx, "", api.NewImageItem(red, "red", nil), api.NewImageItem(pngBytes(t, solid(palette[1], 16, 16)), "green", nil))
	if err != nil {
		t.Fatal(err)
	}
	if add.GalleryVersion == 0 || len(add.Items) != 2 {
		t.Fatalf("add: %+v", add)
	}
	// Another replica answers with the change once asked for its version.
	r, err := cs[2].Recognize(ctx, red, api.RecognizeOptions{MinVersion: add.GalleryVersion})
	if err != nil {
		t.Fatal(err)
	}
	if r.GalleryVersion < add.GalleryVersion || r.Objects[0].Label == nil || *r.Objects[0].Label != "red" {
		t.Fatalf("replica 2 after the add: version %d, %+v", r.GalleryVersion, r.Objects)
	}
	// A version no one wrote: bounded wait, then 503 with a clear message.
	t0 := time.Now()
	_, err = cs[1].Recognize(ctx, red, api.RecognizeOptions{MinVersion: add.GalleryVersion + 100})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != "version_not_reached" {
		t.Fatalf("future version: %v", err)
	}
	if time.Since(t0) > 10*time.Second || !strings.Contains(ae.Message, "version") {
		t.Fatalf("future version: %v after %v", ae.Message, time.Since(t0))
	}
	// A removal through replica 1 is seen by replica 0 at its version.
	rm, err := cs[1].DeleteLabel(ctx, "", "red")
	if err != nil || rm.Removed != 1 || rm.GalleryVersion <= add.GalleryVersion {
		t.Fatalf("delete label: %+v %v", rm, err)
	}
	r, err = cs[0].Recognize(ctx, red, api.RecognizeOptions{MinVersion: rm.GalleryVersion})
	if err != nil {
		t.Fatal(err)
	}
	if r.GalleryVersion != rm.GalleryVersion || (r.Objects[0].Label != nil && *r.Objects[0].Label == "red") {
		t.Fatalf("replica 0 after the removal: version %d, %+v", r.GalleryVersion, r.Objects[0])
	}
	// Thresholds stored through replica 2 reach replica 1's recognitions.
	code, tb := putJSON(t, cs[2].Base+"/v1/gallery/thresholds", `{"global": 0.3, "per_label": {"green": 0.6}}`)
	var th api.Thresholds
	if err := json.Unmarshal([]byte(tb), &th); code != 200 || err != nil || th.GalleryVersion <= rm.GalleryVersion {
		t.Fatalf("put thresholds: %d %s", code, tb)
	}
	r, err = cs[1].Recognize(ctx, pngBytes(t, solid(palette[1], 16, 16)), api.RecognizeOptions{MinVersion: th.GalleryVersion})
	if err != nil || r.Objects[0].Threshold != 0.6 {
		t.Fatalf("replica 1 after the thresholds: %+v %v", r, err)
	}
	resp, err := http.Get(cs[2].Base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `shitu_replica_applied_version{gallery="default"}`) || !strings.Contains(string(body), "shitu_replica_lag") {
		t.Fatalf("metrics lack the replica:\n%s", body)
	}
}
