package replica

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shitu-go/shitu/gallery"
)

// TestFigures measures (SHITU_REPLICA_FIGURES=1; SHITU_FIGURES_ITEMS sets
// the catch-up gallery's size, 100 000 by default): edit → visible on all
// three replicas (p50/p99), edits per second through one replica, and the
// catch-up time of a new replica, from the newest snapshot and from the
// stream alone. 512-dim items, the default HNSW32 index, three embedded
// NATS nodes in this process.
func TestFigures(t *testing.T) {
	if os.Getenv("SHITU_REPLICA_FIGURES") == "" {
		t.Skip("set SHITU_REPLICA_FIGURES=1 to measure")
	}
	c := newCluster(t).named("figures")
	layout := gallery.Options{Model: "model-a", Dims: 512}
	rs := [3]*Replica{}
	for i := range rs {
		rs[i] = c.join(t, i, Config{Gallery: layout, SnapshotInterval: -1})
	}
	ctx := ctxT(t, 60*time.Minute)
	rng := rand.New(rand.NewPCG(1, 1))
	item := func() gallery.Item {
		return gallery.Item{Label: fmt.Sprintf("l%d", rng.IntN(1000)), Vector: unit512(rng)}
	}

	// Edit → visible on all replicas.
	var lat []time.Duration
	for i := 0; i < 300; i++ {
		t0 := time.Now()
		res, err := rs[0].Add(ctx, []gallery.Item{item()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs[1:] {
			if err := r.WaitVersion(ctx, res.Version); err != nil {
				t.Fatal(err)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	t.Logf("edit (1 item) → visible on all 3 replicas: p50 %v, p99 %v (300 edits)", lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond))

	// Edits per second through one replica.
	for _, writers := range []int{1, 8} {
		var n atomic.Int64
		end := time.Now().Add(5 * time.Second)
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(seed uint64) {
				defer wg.Done()
				r := rand.New(rand.NewPCG(seed, 3))
				for time.Now().Before(end) {
					if _, err := rs[0].Add(ctx, []gallery.Item{{Label: "x", Vector: unit512(r)}}, nil); err == nil {
						n.Add(1)
					}
				}
			}(uint64(w))
		}
		wg.Wait()
		t.Logf("edits/s through one replica, %d writer(s), 1 item per edit: %.0f", writers, float64(n.Load())/5)
	}
	for _, r := range rs[1:] {
		r.WaitVersion(ctx, rs[0].Version())
		r.Close()
	}

	// Catch-up of a new replica on a large gallery.
	total := 100_000
	if n, err := strconv.Atoi(os.Getenv("SHITU_FIGURES_ITEMS")); err == nil && n > 0 {
		total = n
	}
	t0 := time.Now()
	for have := rs[0].Gallery().Len(); have < total; have += 250 {
		batch := make([]gallery.Item, min(250, total-have))
		for i := range batch {
			batch[i] = item()
		}
		if _, err := rs[0].Add(ctx, batch, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("filled %d items through the cluster in %v (version %d)", rs[0].Gallery().Len(), time.Since(t0).Round(time.Millisecond), rs[0].Version())
	// From the stream alone (no snapshot stored yet).
	t0 = time.Now()
	b := c.join(t, 1, Config{Gallery: layout, SnapshotInterval: -1, SnapshotEvery: 1 << 30})
	t.Logf("catch-up of a new replica from the stream alone (%d items, %d changes): %v", b.Gallery().Len(), b.Version(), time.Since(t0).Round(time.Millisecond))
	b.Close()
	t0 = time.Now()
	if err := rs[0].Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot written and stored in %v", time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	d := c.join(t, 2, Config{Gallery: layout, SnapshotInterval: -1, SnapshotEvery: 1 << 30, Dir: filepath.Join(t.TempDir(), "new")})
	t.Logf("catch-up of a new replica from the newest snapshot (%d items): %v", d.Gallery().Len(), time.Since(t0).Round(time.Millisecond))
}

func unit512(rng *rand.Rand) []float32 {
	v := make([]float32, 512)
	var n float32
	for i := range v {
		v[i] = float32(rng.NormFloat64())
		n += v[i] * v[i]
	}
	n = float32(1 / math.Sqrt(float64(n)))
	for i := range v {
		v[i] *= n
	}
	return v
}
