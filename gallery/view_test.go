package gallery

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/shitu-go/shitu/vecindex"
)

// TestViewConsistency: a search whose view is still current afterwards
// saw exactly the items of that view, while another goroutine adds and
// removes items.
func TestViewConsistency(t *testing.T) {
	g, err := Create(t.TempDir(), Options{Model: "m", Dims: 8, Metric: vecindex.IP, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(1, 2))
		var live []int64
		for time.Now().Before(stop) {
			if len(live) > 0 && rng.IntN(2) == 0 {
				g.Remove(live[0])
				live = live[1:]
			} else {
				v := make([]float32, 8)
				v[rng.IntN(8)] = 1
				ids, err := g.Add(Item{Label: "x", Vector: v})
				if err != nil {
					t.Error(err)
					return
				}
				live = append(live, ids...)
			}
		}
	}()
	bad := 0
	checked := 0
	for time.Now().Before(stop) {
		v := g.View()
		q := make([]float32, 8)
		q[0] = 1
		hits, err := v.Search(q, 3, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if !v.Current() {
			continue // a newer version was published meanwhile: the caller searches again
		}
		checked++
		if want := min(3, v.Len()); len(hits) != want {
			bad++
			if bad < 5 {
				t.Errorf("version %d: n=%d hits=%d", v.Version(), v.Len(), len(hits))
			}
		}
	}
	wg.Wait()
	t.Logf("%d consistent searches checked", checked)
	if bad > 0 {
		t.Fatalf("%d inconsistent searches", bad)
	}
}
