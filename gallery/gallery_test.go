package gallery

import (
	"errors"
	"github.com/shitu-go/shitu/internal/gallerytest"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shitu-go/shitu/vecindex"
)

var unitVec = gallerytest.UnitVec

func newTestGallery(t *testing.T, o Options) *Gallery {
	t.Helper()
	if o.Model == "" {
		o.Model = "model-a"
	}
	if o.Dims == 0 {
		o.Dims = 16
	}
	g, err := Create(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

func TestCreateOpenModelBinding(t *testing.T) {
	dir := t.TempDir()
	g, err := Create(dir, Options{Model: "sha-of-model-a", Dims: 8})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	if _, err := g.Add(Item{Label: "a", Vector: unitVec(r, 8)}); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, Options{Model: "x", Dims: 8}); !errors.Is(err, ErrExists) {
		t.Fatalf("Create over a gallery: %v, want ErrExists", err)
	}
	if _, err := Open(dir, Options{Model: "sha-of-model-b"}); !errors.Is(err, ErrModelMismatch) {
		t.Fatalf("Open with another model: %v, want ErrModelMismatch", err)
	}
	if _, err := Open(t.TempDir(), Options{}); !errors.Is(err, ErrNoGallery) {
		t.Fatalf("Open empty dir: %v, want ErrNoGallery", err)
	}
	for _, m := range []string{"sha-of-model-a", ""} {
		g, err := Open(dir, Options{Model: m})
		if err != nil {
			t.Fatalf("Open(%q): %v", m, err)
		}
		if g.Len() != 1 || g.Dims() != 8 || g.Model() != "sha-of-model-a" || g.Version() != 1 {
			t.Fatalf("reopened: len %d dims %d model %q version %d", g.Len(), g.Dims(), g.Model(), g.Version())
		}
		g.Close()
	}
}

func TestCreateBadOptions(t *testing.T) {
	for _, o := range []Options{
		{},
		{Model: "m", Dims: -1},
		{Model: "m", Dims: 12, Metric: vecindex.Hamming},
		{Model: "m", Method: "IVF1024,PQ"},
		{Model: "m", Metric: vecindex.Metric(7)},
	} {
		if _, err := Create(t.TempDir(), o); !errors.Is(err, ErrConfig) {
			t.Errorf("Create(%+v) = %v, want ErrConfig", o, err)
		}
	}
}

func TestAddSearchRemove(t *testing.T) {
	for _, metric := range []vecindex.Metric{vecindex.IP, vecindex.L2} {
		t.Run(metric.String(), func(t *testing.T) {
			g := newTestGallery(t, Options{Metric: metric})
			r := rand.New(rand.NewPCG(3, 4))
			var items []Item
			for i := range 50 {
				items = append(items, Item{Label: []string{"cat", "dog", "cow"}[i%3], Source: "img/" + string(rune('a'+i%26)),
					Vector: unitVec(r, 16), Meta: map[string]string{"shelf": []string{"1", "2"}[i%2]}})
			}
			ids, err := g.Add(items...)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 50 || ids[0] != 0 || ids[49] != 49 {
				t.Fatalf("ids %v", ids)
			}
			// Each vector finds itself first.
			for i := 0; i < 50; i += 7 {
				h, err := g.Search(items[i].Vector, 3, Query{})
				if err != nil {
					t.Fatal(err)
				}
				if len(h) != 3 || h[0].ID != ids[i] || h[0].Label != items[i].Label {
					t.Fatalf("query %d: %+v", i, h)
				}
			}
			// Filters.
			h, _ := g.Search(items[0].Vector, 50, Query{Labels: []string{"dog"}, Meta: map[string]string{"shelf": "2"}})
			if len(h) == 0 {
				t.Fatal("filtered search found nothing")
			}
			for _, x := range h {
				it, _ := g.Get(x.ID)
				if it.Label != "dog" || it.Meta["shelf"] != "2" {
					t.Fatalf("filter leaked %+v", it)
				}
			}
			cnt := 0 // dogs are i%3 == 1, shelf 2 is i odd
			for i := range 50 {
				if i%3 == 1 && i%2 == 1 {
					cnt++
				}
			}
			if len(h) != cnt {
				t.Fatalf("filtered hits %d, want %d", len(h), cnt)
			}
			// Remove by id, label, source.
			if n, err := g.Remove(ids[0], ids[0], 999); err != nil || n != 1 {
				t.Fatalf("Remove = %d, %v", n, err)
			}
			if n, err := g.RemoveLabel("cow"); err != nil || n != 16 {
				t.Fatalf("RemoveLabel = %d, %v", n, err)
			}
			if n, err := g.RemoveSource("img/b"); err != nil || n == 0 {
				t.Fatalf("RemoveSource = %d, %v", n, err)
			}
			for i := range 50 {
				h, _ := g.Search(items[i].Vector, 50, Query{})
				for _, x := range h {
					it, err := g.Get(x.ID)
					if err != nil || it.Label == "cow" || it.Source == "img/b" || x.ID == ids[0] {
						t.Fatalf("removed item returned: %+v %v", x, err)
					}
				}
			}
			if _, err := g.Get(ids[0]); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Get removed: %v", err)
			}
			st := g.Stats()
			if st.Items != g.Len() || st.Labels != 2 || st.Version != 4 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestDimsChecked(t *testing.T) {
	g := newTestGallery(t, Options{})
	if _, err := g.Add(Item{Label: "x", Vector: make([]float32, 3)}); !errors.Is(err, ErrDims) {
		t.Fatalf("short vector: %v", err)
	}
	bad := make([]float32, 16)
	bad[3] = float32(math.NaN())
	if _, err := g.Add(Item{Label: "x", Vector: bad}); !errors.Is(err, ErrDims) {
		t.Fatalf("NaN vector: %v", err)
	}
	if _, err := g.Search(make([]float32, 3), 1, Query{}); !errors.Is(err, ErrDims) {
		t.Fatalf("short query: %v", err)
	}
	if g.Version() != 0 || g.Len() != 0 {
		t.Fatal("failed adds changed the gallery")
	}
}

func TestListPaging(t *testing.T) {
	g := newTestGallery(t, Options{})
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 25 {
		if _, err := g.Add(Item{Label: []string{"a", "b"}[i%2], Vector: unitVec(r, 16)}); err != nil {
			t.Fatal(err)
		}
	}
	var all []Item
	start := int64(0)
	for start >= 0 {
		page, next, err := g.List(ListOptions{Start: start, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		start = next
	}
	if len(all) != 25 || all[24].ID != 24 {
		t.Fatalf("paged %d items", len(all))
	}
	bs, _, _ := g.List(ListOptions{Label: "b", Limit: -1, Vectors: true})
	if len(bs) != 12 || len(bs[0].Vector) != 16 {
		t.Fatalf("label b: %d items", len(bs))
	}
}

func TestThresholds(t *testing.T) {
	dir := t.TempDir()
	g, err := Create(dir, Options{Model: "m", Dims: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok, err := g.Thresholds(); ok || err != nil {
		t.Fatalf("fresh gallery thresholds: %v %v", ok, err)
	}
	if err := g.SetThresholds(0.45, map[string]float32{"cola": 0.6, "红牛": 0.52}); err != nil {
		t.Fatal(err)
	}
	g.Close()
	g, _ = Open(dir, Options{})
	defer g.Close()
	gl, per, ok, err := g.Thresholds()
	if !ok || err != nil || gl != 0.45 || per["cola"] != 0.6 || per["红牛"] != 0.52 || len(per) != 2 {
		t.Fatalf("thresholds %v %v %v %v", gl, per, ok, err)
	}
}

func TestBinaryGallery(t *testing.T) {
	g := newTestGallery(t, Options{Dims: 16, Metric: vecindex.Hamming, Method: "Flat"})
	v := []float32{1, -1, 0, 2, -3, 1, 1, 1, -1, -1, -1, -1, 0.5, 0, 0, 0.1}
	ids, err := g.Add(Item{Label: "x", Vector: v}, Item{Label: "y", Code: []byte{0xff, 0xff}})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := g.Get(ids[0])
	// sign rule: > 0 → 1, MSB first (§6.4): 1,0,0,1,0,1,1,1 | 0,0,0,0,1,0,0,1
	if it.Code[0] != 0b10010111 || it.Code[1] != 0b00001001 {
		t.Fatalf("code %08b", it.Code)
	}
	h, err := g.SearchCode([]byte{0b10010111, 0b00001000}, 2, Query{})
	if err != nil || len(h) != 2 || h[0].Label != "x" || h[0].Score != 1 || h[1].Score != 10 {
		t.Fatalf("hits %+v %v", h, err)
	}
	if _, err := g.Add(Item{Label: "z", Code: []byte{1}}); !errors.Is(err, ErrDims) {
		t.Fatalf("short code: %v", err)
	}
}

func TestReopenRebuildsIndex(t *testing.T) {
	dir := t.TempDir()
	g, _ := Create(dir, Options{Model: "m", Dims: 16})
	r := rand.New(rand.NewPCG(7, 8))
	vs := make([][]float32, 30)
	for i := range vs {
		vs[i] = unitVec(r, 16)
		g.Add(Item{Label: "l", Vector: vs[i]})
	}
	g.Remove(3, 4)
	g.Close()
	g, err := Open(dir, Options{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.Len() != 28 {
		t.Fatalf("len %d", g.Len())
	}
	h, _ := g.Search(vs[10], 1, Query{})
	if h[0].ID != 10 {
		t.Fatalf("hit %+v", h)
	}
	h, _ = g.Search(vs[3], 30, Query{})
	for _, x := range h {
		if x.ID == 3 || x.ID == 4 {
			t.Fatal("removed id after reopen")
		}
	}
	ids, _ := g.Add(Item{Label: "n", Vector: vs[3]})
	if ids[0] != 30 {
		t.Fatalf("ids continue after max: %v", ids)
	}
}

func TestConcurrentSearchDuringWrites(t *testing.T) {
	g := newTestGallery(t, Options{})
	r := rand.New(rand.NewPCG(9, 9))
	q := unitVec(r, 16)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Microsecond):
				}
				h, err := g.Search(q, 5, Query{Labels: []string{"keep"}})
				if err != nil {
					t.Error(err)
					return
				}
				for _, x := range h {
					if x.Label != "keep" {
						t.Errorf("label filter leaked %q", x.Label)
						return
					}
				}
			}
		}()
	}
	for i := range 200 {
		ids, err := g.Add(Item{Label: []string{"keep", "drop"}[i%2], Vector: unitVec(r, 16)})
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			g.Remove(ids[0])
		}
	}
	close(stop)
	wg.Wait()
}

func TestCorruptRecordDetected(t *testing.T) {
	dir := t.TempDir()
	g, _ := Create(dir, Options{Model: "m", Dims: 4})
	g.Add(Item{Label: "a", Vector: []float32{1, 0, 0, 0}})
	g.Close()
	// Flip a byte of the label inside the db file.
	p := filepath.Join(dir, DBFile)
	b, _ := os.ReadFile(p)
	n := 0
	for i := 0; i+5 < len(b); i++ {
		if b[i] == itemRecordV1 && b[i+1] == 1 && b[i+2] == 'a' {
			b[i+2] = 'b'
			n++
		}
	}
	if n != 1 {
		t.Skipf("record not found uniquely (%d)", n)
	}
	os.WriteFile(p, b, 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrFormat) {
		t.Fatalf("corrupt record: %v, want ErrFormat", err)
	}
}

func TestMethodsAndSnapshot(t *testing.T) {
	for _, c := range []struct {
		method string
		metric vecindex.Metric
		dims   int
	}{
		{MethodFlat, vecindex.IP, 16}, {MethodHNSW, vecindex.IP, 16}, {MethodIVF, vecindex.IP, 16},
		{MethodFlat, vecindex.L2, 16}, {MethodHNSW, vecindex.L2, 16}, {MethodIVF, vecindex.L2, 16},
		{MethodFlat, vecindex.Hamming, 64}, {MethodHNSW, vecindex.Hamming, 64},
	} {
		t.Run(c.method+"-"+c.metric.String(), func(t *testing.T) {
			dir := t.TempDir()
			g, err := Create(dir, Options{Model: "m", Dims: c.dims, Metric: c.metric, Method: c.method})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(11, 12))
			var vs [][]float32
			var items []Item
			for i := range 300 {
				v := unitVec(r, c.dims)
				vs = append(vs, v)
				items = append(items, Item{Label: []string{"a", "b", "c"}[i%3], Vector: v})
			}
			if _, err := g.Add(items...); err != nil {
				t.Fatal(err)
			}
			g.Remove(5, 6, 7)
			check := func(g *Gallery) {
				t.Helper()
				for _, i := range []int{0, 10, 200, 299} {
					h, err := g.Search(vs[i], 3, Query{})
					if err != nil || len(h) == 0 {
						t.Fatalf("search %d: %v %v", i, h, err)
					}
					if h[0].ID != int64(i) && !(c.metric == vecindex.Hamming && h[0].Score == 0) {
						t.Fatalf("vector %d: top hit %+v", i, h[0])
					}
				}
				h, _ := g.Search(vs[5], 300, Query{Labels: []string{"c"}})
				for _, x := range h {
					if x.ID == 5 || x.ID == 6 || x.ID == 7 || x.Label != "c" {
						t.Fatalf("hit %+v", x)
					}
				}
			}
			check(g)
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(dir, SnapshotFile)); err != nil {
				t.Fatalf("no snapshot after Close: %v", err)
			}
			g, err = Open(dir, Options{Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			if g.dirty {
				t.Fatal("intact snapshot not used on open")
			}
			check(g)
			if st := g.view.Load(); st.n != 297 {
				t.Fatalf("n %d", st.n)
			}
			// A change makes the snapshot stale: the next open must rebuild.
			g.Remove(0)
			g.db.Close() // simulate a crash: no snapshot written
			g.db = nil
			g, err = Open(dir, Options{Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			if g.Len() != 296 {
				t.Fatalf("len %d", g.Len())
			}
			h, _ := g.Search(vs[0], 5, Query{})
			for _, x := range h {
				if x.ID == 0 {
					t.Fatal("stale snapshot used: removed id returned")
				}
			}
		})
	}
}

func TestCorruptSnapshotIgnored(t *testing.T) {
	dir := t.TempDir()
	g, _ := Create(dir, Options{Model: "m", Dims: 16, Method: MethodFlat})
	r := rand.New(rand.NewPCG(21, 22))
	vs := make([][]float32, 40)
	for i := range vs {
		vs[i] = unitVec(r, 16)
		g.Add(Item{Label: "l", Vector: vs[i]})
	}
	g.Close()
	p := filepath.Join(dir, SnapshotFile)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{30, len(b) / 2, len(b) - 2} {
		c := append([]byte(nil), b...)
		c[off] ^= 0x40
		os.WriteFile(p, c, 0o644)
		g, err := Open(dir, Options{Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if !g.dirty {
			t.Fatalf("byte %d flipped: damaged snapshot was used", off)
		}
		h, _ := g.Search(vs[17], 1, Query{})
		if len(h) != 1 || h[0].ID != 17 {
			t.Fatalf("rebuilt index: %+v", h)
		}
		g.db.Close()
		g.db = nil
	}
}

func TestOpenLockedByAnotherHandle(t *testing.T) {
	dir := t.TempDir()
	g, err := Create(dir, Options{Model: "m", Dims: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// bbolt's flock is per open file description, so a second open in the
	// same process conflicts just as another process would.
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}
