package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/shitu-go/shitu/api"
)

// TestConcurrentEdits: 8 clients recognise while 2 clients add and remove
// items. No request may fail, no acknowledged item may be lost, and every
// answer must match the gallery version it names: its candidates are live
// items of that version, and a colour whose item is live is recognised.
// It runs 3 s by default and 30 s with SHITU_LONG=1.
func TestConcurrentEdits(t *testing.T) {
	dur := 3 * time.Second
	if os.Getenv("SHITU_LONG") != "" {
		dur = 30 * time.Second
	}
	f := newFixture(t, Config{Workers: 4, Queue: 64})
	ctx := context.Background()
	imgs := make([][]byte, len(palette))
	for i := range palette {
		imgs[i] = pngBytes(t, solid(palette[i], 16, 16))
	}
	// Writers are serialised so that each version maps to one exact item set.
	var (
		wmu     sync.Mutex
		live    = map[int64]int{} // id → colour
		history = map[uint64]map[int64]int{}
	)
	snapshot := func(v uint64) {
		s := make(map[int64]int, len(live))
		for k, c := range live {
			s[k] = c
		}
		history[v] = s
	}
	wmu.Lock()
	snapshot(f.g.Version())
	wmu.Unlock()
	stop := time.Now().Add(dur)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for time.Now().Before(stop) {
				wmu.Lock()
				if len(live) > 0 && rng.IntN(2) == 0 {
					var id int64
					for id = range live {
						break
					}
					r, err := f.c.DeleteItem(ctx, "", id)
					if err != nil {
						wmu.Unlock()
						errs <- fmt.Errorf("delete: %w", err)
						return
					}
					delete(live, id)
					snapshot(r.GalleryVersion)
				} else {
					c := rng.IntN(len(palette))
					r, err := f.c.AddItems(ctx, "", api.NewItem{Image: b64(imgs[c]), Label: fmt.Sprint("colour", c)})
					if err != nil {
						wmu.Unlock()
						errs <- fmt.Errorf("add: %w", err)
						return
					}
					live[r.Items[0].ID] = c
					snapshot(r.GalleryVersion)
				}
				wmu.Unlock()
			}
		}(w)
	}
	type answer struct {
		colour int
		r      *api.RecognizeResponse
	}
	answers := make(chan answer, 1<<16)
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				colour := (c + i) % len(palette)
				r, err := f.c.Recognize(ctx, imgs[colour], api.RecognizeOptions{TopK: 3})
				if err != nil {
					errs <- fmt.Errorf("recognize: %w", err)
					return
				}
				select {
				case answers <- answer{colour, r}:
				default:
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	close(answers)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	for a := range answers {
		n++
		set, ok := history[a.r.GalleryVersion]
		if !ok {
			t.Fatalf("answer names version %d, which no acknowledged change produced", a.r.GalleryVersion)
		}
		o := a.r.Objects[0]
		present := false
		for _, c := range set {
			present = present || c == a.colour
		}
		for _, cand := range o.Candidates {
			if _, ok := set[cand.ID]; !ok {
				t.Fatalf("version %d: candidate %d is not a live item of it", a.r.GalleryVersion, cand.ID)
			}
		}
		if present != (o.Label != nil) || (o.Label != nil && *o.Label != fmt.Sprint("colour", a.colour)) {
			t.Fatalf("version %d: colour %d present=%v but answer %+v", a.r.GalleryVersion, a.colour, present, o)
		}
	}
	// every acknowledged item is there
	list, err := f.c.ListItems(ctx, "", "", 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != len(live) {
		t.Fatalf("gallery holds %d items, %d acknowledged", len(list.Items), len(live))
	}
	for _, it := range list.Items {
		if c, ok := live[it.ID]; !ok || it.Label != fmt.Sprint("colour", c) {
			t.Fatalf("item %+v not acknowledged as such", it)
		}
	}
	t.Logf("%d answers checked over %d gallery versions in %v", n, len(history), dur)
}

func b64(b []byte) string { return api.NewImageItem(b, "", nil).Image }
