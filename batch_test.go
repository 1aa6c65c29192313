package shitu_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
)

// batchImages decodes the gallery images of the example list.
func batchImages(t *testing.T, n int) []*imaging.Image {
	t.Helper()
	b, err := os.ReadFile(exampleList)
	if err != nil {
		t.Fatal(err)
	}
	var imgs []*imaging.Image
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[:n] {
		img, err := imaging.DecodeFile(filepath.Join(filepath.Dir(exampleList), strings.Split(line, "\t")[0]), imaging.DecodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	return imgs
}

// recognizeAll recognises imgs concurrently, one goroutine each.
func recognizeAll(t *testing.T, sys *shitu.System, imgs []*imaging.Image, opts recognize.Options) []*recognize.Result {
	t.Helper()
	out := make([]*recognize.Result, len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	for i, img := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = sys.RecognizeWith(context.Background(), shitu.DefaultGallery, img, opts)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sameResults compares two recognitions of the same images: the same
// boxes, labels and candidates, scores within float tolerance.
func sameResults(t *testing.T, a, b []*recognize.Result) {
	t.Helper()
	for i := range a {
		if len(a[i].Objects) != len(b[i].Objects) {
			t.Fatalf("image %d: %d objects batched, %d alone", i, len(a[i].Objects), len(b[i].Objects))
		}
		for j, o := range a[i].Objects {
			p := b[i].Objects[j]
			if o.Box != p.Box || o.Label != p.Label || len(o.Candidates) != len(p.Candidates) || math.Abs(float64(o.Score-p.Score)) > 1e-5 {
				t.Fatalf("image %d object %d: %+v batched, %+v alone", i, j, o, p)
			}
			for k, c := range o.Candidates {
				if c.ID != p.Candidates[k].ID || math.Abs(float64(c.Score-p.Candidates[k].Score)) > 1e-5 {
					t.Fatalf("image %d object %d candidate %d: %+v batched, %+v alone", i, j, k, c, p.Candidates[k])
				}
			}
		}
	}
}

// TestCrossRequestBatching recognises images concurrently with and
// without cross-request batching on one system: the answers agree, and
// with batching the crops of the concurrent requests shared a model run.
func TestCrossRequestBatching(t *testing.T) {
	ctx := context.Background()
	// Whole-image recognition (one crop per request), batches of 4 cut only
	// when full: the 4 concurrent requests share exactly one run.
	sys, err := shitu.OpenFile(ctx, exampleConfig, []string{"IndexProcess.batch_size=4"},
		shitu.Options{ORTLib: ortLib, NoDetector: true, Threads: 1, BatchWait: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	imgs := batchImages(t, 4)
	opts := sys.Options()
	opts.KeepUnknown = true
	ext := sys.Extractor().(*feature.Extractor)
	hold := ext.Expect() // a fifth request on its way: the batch waits until it is full
	batched := recognizeAll(t, sys, imgs, opts)
	hold()
	if st := ext.Stats(); st.Batches != 1 || st.Joined != 1 || st.Images != 4 {
		t.Fatalf("batched stats %+v, want one shared run of 4", st)
	}
	if !sys.SetBatchWait(0) {
		t.Fatal("SetBatchWait: the extractor does not batch")
	}
	alone := recognizeAll(t, sys, imgs, opts)
	if st := ext.Stats(); st.Batches != 5 || st.Joined != 1 {
		t.Fatalf("unbatched stats %+v, want 4 more runs of their own", st)
	}
	sameResults(t, batched, alone)
	for i, r := range batched {
		if len(r.Objects) != 1 || r.Objects[0].Score < 0.999 {
			t.Fatalf("image %d (a gallery image): %+v", i, r.Objects)
		}
	}
}

// TestCrossRequestBatchingDetector runs the whole pipeline (detector, its
// crops and the whole image per request) with a short wait.
func TestCrossRequestBatchingDetector(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: detector runs")
	}
	ctx := context.Background()
	sys, err := shitu.OpenFile(ctx, exampleConfig, nil, shitu.Options{ORTLib: ortLib, Threads: 1, BatchWait: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	imgs := batchImages(t, 4)
	opts := sys.Options()
	opts.KeepUnknown = true
	// A call announced for the whole batched run keeps every batch open
	// for the wait (bounded: 2 s), so the requests' crops do share runs
	// and the comparison below is batched against unbatched.
	ext := sys.Extractor().(*feature.Extractor)
	held := ext.Expect()
	batched := recognizeAll(t, sys, imgs, opts)
	held()
	if st := ext.Stats(); st.Joined == 0 {
		t.Fatalf("no recognition run was shared: %+v", st)
	}
	sys.SetBatchWait(0)
	alone := recognizeAll(t, sys, imgs, opts)
	sameResults(t, batched, alone)
	crops := 0
	for _, r := range alone {
		crops += r.Crops
	}
	t.Logf("%d crops, extractor %+v", crops, sys.Extractor().(*feature.Extractor).Stats())
	if crops < len(imgs) {
		t.Fatalf("%d crops for %d images", crops, len(imgs))
	}
}
