package gallery

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"unsafe"
)

// TestFlatSnapshotMapped: a Flat gallery's snapshot is format 2 and is
// used on open (its vectors mapped); adds past the reserved room, removals
// and the next snapshot all see the same items as a gallery that never
// closed.
func TestFlatSnapshotMapped(t *testing.T) {
	if !hostLE {
		t.Skip("format 2 is written on little-endian hosts only")
	}
	dir := t.TempDir()
	const d = 16
	g, err := Create(dir, Options{Model: "m", Dims: d, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	vecs := map[int64][]float32{}
	add := func(g *Gallery, n int) { t.Helper(); addRandom(t, g, r, n, vecs) }
	check := func(g *Gallery) {
		t.Helper()
		if g.Len() != len(vecs) {
			t.Fatalf("len %d, want %d", g.Len(), len(vecs))
		}
		n := 0
		for id, v := range vecs {
			if n++; n > 60 {
				break
			}
			h, err := g.Search(v, 1, Query{})
			if err != nil || len(h) != 1 || h[0].ID != id {
				t.Fatalf("search for %d: %+v %v", id, h, err)
			}
		}
	}
	add(g, 300)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, SnapshotFile))
	if err != nil {
		t.Fatal(err)
	}
	if f := binary.LittleEndian.Uint32(b[8:]); f != snapV2 {
		t.Fatalf("snapshot format %d, want %d", f, snapV2)
	}
	for round := range 3 {
		g, err = Open(dir, Options{Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if g.dirty {
			t.Fatalf("round %d: the format-2 snapshot was not used", round)
		}
		check(g)
		// 5000 adds outgrow the room reserved after the mapped vectors
		// (4096): the index moves them to the heap on the way, and the
		// mapping of the snapshot goes at once.
		snapMapped := func() bool {
			b, err := os.ReadFile("/proc/self/maps")
			if err != nil {
				t.Skip("no /proc/self/maps")
			}
			return bytes.Contains(b, []byte(filepath.Join(dir, SnapshotFile)))
		}
		if round == 0 && runtime.GOOS == "linux" && !snapMapped() {
			t.Fatal("the snapshot's vectors are not mapped")
		}
		add(g, 5000)
		if round == 0 && runtime.GOOS == "linux" && snapMapped() {
			t.Fatal("the snapshot is still mapped after the vectors moved to the heap")
		}
		var gone []int64
		for id := range vecs {
			if len(gone) == 700 {
				break
			}
			gone = append(gone, id)
		}
		if n, err := g.Remove(gone...); err != nil || n != len(gone) {
			t.Fatalf("remove: %d %v", n, err)
		}
		for _, id := range gone {
			delete(vecs, id)
		}
		check(g)
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFlatSnapshotV1StillRead: a Flat snapshot in format 1 (written before
// format 2 existed) is still used on open.
func TestFlatSnapshotV1StillRead(t *testing.T) {
	dir := t.TempDir()
	g, err := Create(dir, Options{Model: "m", Dims: 8, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(9, 9))
	vs := make([][]float32, 50)
	for i := range vs {
		vs[i] = unitVec(r, 8)
		if _, err := g.Add(Item{Label: "l", Vector: vs[i]}); err != nil {
			t.Fatal(err)
		}
	}
	st := g.view.Load()
	var body bytes.Buffer
	if err := st.ix.save(&body); err != nil {
		t.Fatal(err)
	}
	h := g.snapHeader(snapV1, st.version)
	h = binary.LittleEndian.AppendUint64(h, uint64(body.Len()))
	h = append(h, body.Bytes()...)
	h = binary.LittleEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	g.db.Close() // no snapshot of its own at close
	g.db = nil
	if err := os.WriteFile(filepath.Join(dir, SnapshotFile), h, 0o644); err != nil {
		t.Fatal(err)
	}
	g, err = Open(dir, Options{Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if g.dirty {
		t.Fatal("format-1 snapshot not used")
	}
	for i, v := range vs {
		if h, _ := g.Search(v, 1, Query{}); len(h) != 1 || h[0].ID != int64(i) {
			t.Fatalf("vector %d: %+v", i, h)
		}
	}
}

// TestFlatSnapshotCaughtUp: after a crash (changes committed, snapshot
// not rewritten) a Flat gallery opens from its older snapshot plus the
// changes since, not by rebuilding, and holds exactly the store's items.
func TestFlatSnapshotCaughtUp(t *testing.T) {
	if !hostLE {
		t.Skip("format 2 is written on little-endian hosts only")
	}
	dir := t.TempDir()
	const d = 8
	g, err := Create(dir, Options{Model: "m", Dims: d, Method: MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	vecs := map[int64][]float32{}
	add := func(n int) { t.Helper(); addRandom(t, g, r, n, vecs) }
	add(200)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		g, err = Open(dir, Options{Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		// Changes after the snapshot: adds, removals of old and new items.
		add(40)
		gone := []int64{int64(round), int64(100 + round), int64(200 + 40*round + 5)}
		if _, err := g.Remove(gone...); err != nil {
			t.Fatal(err)
		}
		for _, id := range gone {
			delete(vecs, id)
		}
		g.db.Close() // crash: the snapshot stays at the version it was opened with
		g.db = nil
		before := rebuilds.Load()
		g, err = Open(dir, Options{Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if rebuilds.Load() != before {
			t.Fatalf("round %d: the stale snapshot was rebuilt, not caught up", round)
		}
		if g.Len() != len(vecs) {
			t.Fatalf("round %d: len %d, want %d", round, g.Len(), len(vecs))
		}
		for id, v := range vecs {
			h, err := g.Search(v, 1, Query{})
			if err != nil || len(h) != 1 || h[0].ID != id {
				t.Fatalf("round %d: search for %d: %+v %v", round, id, h, err)
			}
		}
		for _, id := range gone {
			if h, _ := g.Search(make([]float32, d), 1000, Query{}); slices.ContainsFunc(h, func(x Hit) bool { return x.ID == id }) {
				t.Fatalf("round %d: removed id %d still found", round, id)
			}
		}
		if err := g.Close(); err != nil { // writes the caught-up snapshot
			t.Fatal(err)
		}
	}
}

// addRandom adds n items with random unit vectors to g and records their
// vectors by id in vecs.
func addRandom(t *testing.T, g *Gallery, r *rand.Rand, n int, vecs map[int64][]float32) {
	t.Helper()
	items := make([]Item, n)
	for i := range items {
		items[i] = Item{Label: "l", Vector: unitVec(r, g.Dims())}
	}
	ids, err := g.Add(items...)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		vecs[id] = items[i].Vector
	}
}

// TestReadFloatsMatchesMap: the read fallback (other systems, pages larger
// than the snapshot's alignment) yields what the mapping yields.
func TestReadFloatsMatchesMap(t *testing.T) {
	if !hostLE {
		t.Skip("little-endian hosts only")
	}
	want := make([]float32, 3000)
	for i := range want {
		want[i] = float32(i) * 0.25
	}
	const off = 8192
	b := make([]byte, off, off+4*len(want))
	b = append(b, unsafe.Slice((*byte)(unsafe.Pointer(&want[0])), 4*len(want))...)
	path := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, fn := range map[string]func(*os.File, int64, int, int) ([]float32, func(), error){"read": readFloats, "map": mapFloats} {
		got, release, err := fn(f, off, len(want), 2*len(want))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got, want) || cap(got) != 2*len(want) {
			t.Fatalf("%s: values or capacity differ (cap %d)", name, cap(got))
		}
		if got = append(got, 1); got[len(want)] != 1 { // the room after the values is writable
			t.Fatalf("%s: append into the room", name)
		}
		release()
	}
}
