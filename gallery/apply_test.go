package gallery

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

func TestApplyAtVersionsAndBackup(t *testing.T) {
	g := newTestGallery(t, Options{Method: MethodFlat})
	rng := rand.New(rand.NewPCG(1, 2))
	ids, err := g.ApplyAt(3, Change{Adds: []Item{{Label: "a", Vector: unitVec(rng, 16)}, {Label: "b", Vector: unitVec(rng, 16)}}})
	if err != nil || len(ids) != 2 || g.Version() != 3 {
		t.Fatalf("ApplyAt: ids %v err %v version %d", ids, err, g.Version())
	}
	// An empty change (a removal of nothing) still moves the version.
	if _, err := g.ApplyAt(4, Change{Removes: []int64{99}}); err != nil || g.Version() != 4 || g.Len() != 2 {
		t.Fatalf("empty change: err %v version %d len %d", err, g.Version(), g.Len())
	}
	// A replayed version is refused and changes nothing.
	if _, err := g.ApplyAt(4, Change{Adds: []Item{{Label: "c", Vector: unitVec(rng, 16)}}}); !errors.Is(err, ErrVersion) || g.Len() != 2 {
		t.Fatalf("replay: err %v len %d", err, g.Len())
	}
	th := &Thresholds{Global: 0.5, PerLabel: map[string]float32{"a": 0.7}}
	if _, err := g.ApplyAt(5, Change{Removes: []int64{ids[0]}, Thresholds: th}); err != nil {
		t.Fatal(err)
	}
	if gl, pl, ok, err := g.Thresholds(); err != nil || !ok || gl != 0.5 || pl["a"] != 0.7 {
		t.Fatalf("thresholds %v %v %v %v", gl, pl, ok, err)
	}
	var buf bytes.Buffer
	v, n, err := g.Backup(&buf)
	if err != nil || v != 5 || n != int64(buf.Len()) {
		t.Fatalf("backup: v %d n %d err %v", v, n, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DBFile), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, Options{Model: "model-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Version() != 5 || c.Len() != 1 {
		t.Fatalf("copy: version %d len %d", c.Version(), c.Len())
	}
	// Both assign the same next id.
	a, _ := g.ApplyAt(6, Change{Adds: []Item{{Label: "d", Vector: unitVec(rng, 16)}}})
	b, _ := c.ApplyAt(6, Change{Adds: []Item{{Label: "d", Vector: unitVec(rng, 16)}}})
	if len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Fatalf("ids differ: %v %v", a, b)
	}
}
