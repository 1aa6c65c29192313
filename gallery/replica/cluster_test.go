package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/shitu-go/shitu/gallery"
)

const testDims = 16

var quiet = testLogger()

func testLogger() *slog.Logger {
	if os.Getenv("SHITU_REPLICA_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// freePort returns a port free on host now.
func freePort(t testing.TB, host string) int {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// loopbackHosts are three loopback addresses; 127.0.0.2 and .3 answer on
// Linux, elsewhere every node uses 127.0.0.1 (distinct ports).
func loopbackHosts(t testing.TB) [3]string {
	h := [3]string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	for _, a := range h[1:] {
		l, err := net.Listen("tcp", a+":0")
		if err != nil {
			return [3]string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}
		}
		l.Close()
	}
	return h
}

type clusterAddrs struct {
	Client, Cluster [3]string
}

func newAddrs(t testing.TB) clusterAddrs {
	var a clusterAddrs
	hosts := loopbackHosts(t)
	for i, h := range hosts {
		a.Client[i] = fmt.Sprintf("%s:%d", h, freePort(t, h))
		a.Cluster[i] = fmt.Sprintf("%s:%d", h, freePort(t, h))
	}
	return a
}

func (a clusterAddrs) urls() string {
	return "nats://" + a.Client[0] + ",nats://" + a.Client[1] + ",nats://" + a.Client[2]
}

func startNode(t testing.TB, a clusterAddrs, i int, store string) *Node {
	t.Helper()
	n, err := StartNode(NodeConfig{Name: fmt.Sprintf("n%d", i), Listen: a.Client[i], Cluster: a.Cluster[i],
		Routes: a.Cluster[:], StoreDir: store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testCluster is three embedded NATS nodes in this process.
type testCluster struct {
	addrs   clusterAddrs
	nodes   [3]*Node
	stores  [3]string
	gallery string // gallery name of join ["shop.1"]
}

// newCluster starts a cluster of its own (for tests that stop nodes).
func newCluster(t testing.TB) *testCluster {
	t.Helper()
	c := startCluster(t, t.TempDir())
	t.Cleanup(c.shutdown)
	return c
}

func startCluster(t testing.TB, dir string) *testCluster {
	c := &testCluster{addrs: newAddrs(t)}
	for i := range c.nodes {
		c.stores[i] = filepath.Join(dir, fmt.Sprintf("n%d", i))
		c.nodes[i] = startNode(t, c.addrs, i, c.stores[i])
	}
	return c
}

func (c *testCluster) shutdown() {
	for i, n := range c.nodes {
		if n != nil {
			n.Shutdown()
			c.nodes[i] = nil
		}
	}
}

// The cluster shared by the tests that do not stop nodes (a cluster takes
// seconds to elect its leaders); each test uses galleries of its own name.
var shared struct {
	once sync.Once
	c    *testCluster
	dir  string
}

func sharedCluster(t testing.TB) *testCluster {
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "shitu-replica-test")
		if err != nil {
			t.Fatal(err)
		}
		shared.dir = dir
		shared.c = startCluster(t, dir)
	})
	if shared.c == nil {
		t.Fatal("shared cluster did not start")
	}
	return shared.c
}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		childMain()
		return
	}
	code := m.Run()
	if shared.c != nil {
		shared.c.shutdown()
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// named is the cluster with joins defaulting to gallery name g.
func (c *testCluster) named(g string) *testCluster {
	cp := *c
	cp.gallery = g
	return &cp
}

func (c *testCluster) stop(i int) {
	c.nodes[i].Shutdown()
	c.nodes[i] = nil
}

func (c *testCluster) restart(t testing.TB, i int) {
	c.nodes[i] = startNode(t, c.addrs, i, c.stores[i])
}

// join opens a replica connected to node i (the client fails over to the
// others).
func (c *testCluster) join(t testing.TB, i int, cfg Config) *Replica {
	t.Helper()
	urls := "nats://" + c.addrs.Client[i] + "," + c.addrs.urls()
	nc, js, err := Connect(urls, fmt.Sprintf("test-%d", i), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if cfg.Name == "" {
		cfg.Name = c.gallery
	}
	return openReplica(t, js, cfg)
}

func openReplica(t testing.TB, js jetstream.JetStream, cfg Config) *Replica {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "shop.1"
	}
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Gallery.Model == "" {
		cfg.Gallery = gallery.Options{Model: "model-a", Dims: testDims, Method: gallery.MethodFlat}
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.PublishTimeout == 0 {
		cfg.PublishTimeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // TestFigures catches up on 100k items
	defer cancel()
	r, err := Open(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func vec(seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := make([]float32, testDims)
	var n float64
	for i := range v {
		v[i] = float32(rng.NormFloat64())
		n += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(n))
	}
	return v
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// contents is a replica's items as label → count, with its version.
func contents(t testing.TB, r *Replica) (uint64, map[string]int) {
	t.Helper()
	items, _, err := r.Gallery().List(gallery.ListOptions{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, it := range items {
		m[it.Label]++
	}
	return r.Version(), m
}

func sameContents(t testing.TB, rs ...*Replica) {
	t.Helper()
	v0, c0 := contents(t, rs[0])
	for i, r := range rs[1:] {
		v, c := contents(t, r)
		if v != v0 || fmt.Sprint(c) != fmt.Sprint(c0) {
			t.Fatalf("replica %d at %d has %v; replica 0 at %d has %v", i+1, v, c, v0, c0)
		}
	}
}

func TestEditsThroughAnyReplicaSeenByAll(t *testing.T) {
	c := sharedCluster(t).named("edits")
	rs := [3]*Replica{}
	for i := range rs {
		rs[i] = c.join(t, i, Config{})
	}
	ctx := ctxT(t, 60*time.Second)
	var last uint64
	for i := 0; i < 9; i++ {
		res, err := rs[i%3].Add(ctx, []gallery.Item{{Label: fmt.Sprintf("l%d", i%4), Vector: vec(uint64(i)), Meta: map[string]string{"i": fmt.Sprint(i)}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Version <= last || len(res.IDs) != 1 {
			t.Fatalf("add %d: %+v after version %d", i, res, last)
		}
		last = res.Version
		// Read-your-writes on the writing replica: the answer's version is applied.
		if rs[i%3].Version() < res.Version {
			t.Fatalf("writer at %d after its change %d", rs[i%3].Version(), res.Version)
		}
	}
	res, err := rs[1].Remove(ctx, 0, 1, 999)
	if err != nil || res.Removed != 2 {
		t.Fatalf("remove: %+v %v", res, err)
	}
	res, err = rs[2].Relabel(ctx, "renamed", 2, 3)
	if err != nil || res.Removed != 2 || len(res.IDs) != 2 {
		t.Fatalf("relabel: %+v %v", res, err)
	}
	res, err = rs[0].RemoveLabel(ctx, "l3")
	if err != nil || res.Removed == 0 {
		t.Fatalf("remove label: %+v %v", res, err)
	}
	res, err = rs[1].SetThresholds(ctx, gallery.Thresholds{Global: 0.4, PerLabel: map[string]float32{"renamed": 0.6}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := r.WaitVersion(ctx, res.Version); err != nil {
			t.Fatal(err)
		}
		g, pl, ok, err := r.Gallery().Thresholds()
		if err != nil || !ok || g != 0.4 || pl["renamed"] != 0.6 {
			t.Fatalf("thresholds %v %v %v %v", g, pl, ok, err)
		}
	}
	sameContents(t, rs[:]...)
	_, m := contents(t, rs[0])
	if m["renamed"] != 2 || m["l3"] != 0 {
		t.Fatalf("contents %v", m)
	}
	// Ids agree too.
	a, _, _ := rs[0].Gallery().List(gallery.ListOptions{Limit: -1})
	b, _, _ := rs[2].Gallery().List(gallery.ListOptions{Limit: -1})
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Label != b[i].Label || a[i].Meta["i"] != b[i].Meta["i"] {
			t.Fatalf("item %d: %+v vs %+v", i, a[i], b[i])
		}
	}
	// A refused change (a label with a tab) is answered with the error and
	// moves every replica's version alike.
	if _, err := rs[0].Add(ctx, []gallery.Item{{Label: "bad\tlabel", Vector: vec(99)}}, nil); err == nil {
		t.Fatal("bad label accepted")
	}
	res, err = rs[0].Add(ctx, []gallery.Item{{Label: "after", Vector: vec(100)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if err := r.WaitVersion(ctx, res.Version); err != nil {
			t.Fatal(err)
		}
	}
	sameContents(t, rs[:]...)
}

func TestMinVersionWaits(t *testing.T) {
	c := sharedCluster(t).named("minversion")
	a := c.join(t, 0, Config{})
	b := c.join(t, 1, Config{})
	ctx := ctxT(t, 30*time.Second)
	res, err := a.Add(ctx, []gallery.Item{{Label: "x", Vector: vec(1)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// b answers a query asking for a's version only once it applied it.
	if err := b.WaitVersion(ctx, res.Version); err != nil {
		t.Fatal(err)
	}
	if b.Version() < res.Version || b.Gallery().Len() != 1 {
		t.Fatalf("b at %d with %d items", b.Version(), b.Gallery().Len())
	}
	// A version nobody wrote yet: bounded wait, then ErrBehind.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := b.WaitVersion(short, res.Version+1); err == nil || !isBehind(err) {
		t.Fatalf("wait for a future version: %v", err)
	}
	if time.Since(t0) > 5*time.Second {
		t.Fatal("wait not bounded")
	}
	// A waiter is released by the change that reaches its version.
	done := make(chan error, 1)
	go func() { done <- b.WaitVersion(ctx, res.Version+1) }()
	time.Sleep(50 * time.Millisecond)
	if _, err := a.Remove(ctx, 12345); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func isBehind(err error) bool { return err != nil && errors.Is(err, ErrBehind) }

func TestModelMismatchRefused(t *testing.T) {
	c := sharedCluster(t).named("model")
	c.join(t, 0, Config{})
	nc, js, err := Connect(c.addrs.urls(), "other", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, err = Open(ctxT(t, 30*time.Second), js, Config{Name: "model", Dir: t.TempDir(), Logger: quiet,
		Gallery: gallery.Options{Model: "model-b", Dims: testDims}})
	if !errors.Is(err, ErrModelMismatch) {
		t.Fatalf("another model joined: %v", err)
	}
	t.Log(err)
}

func TestNoQuorumRefusesEditsKeepsReads(t *testing.T) {
	c := newCluster(t)
	r := c.join(t, 0, Config{PublishTimeout: 2 * time.Second})
	ctx := ctxT(t, 90*time.Second)
	res, err := r.Add(ctx, []gallery.Item{{Label: "kept", Vector: vec(1)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.stop(1)
	c.stop(2)
	_, err = r.Add(ctx, []gallery.Item{{Label: "lost", Vector: vec(2)}}, nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("edit without quorum: %v", err)
	}
	t.Log(err)
	// Recognition keeps answering from the last applied version.
	hits, err := r.Gallery().Search(vec(1), 5, gallery.Query{})
	if err != nil || len(hits) != 1 || hits[0].Label != "kept" || r.Version() != res.Version {
		t.Fatalf("search without quorum: %v %v at %d", hits, err, r.Version())
	}
	c.restart(t, 1)
	c.restart(t, 2)
	// A client retrying after a 503 makes a new change: each attempt that
	// the cluster stored is applied once, in order (at least once overall).
	var res2 Result
	tries := 0
	for {
		tries++
		res2, err = r.Add(ctx, []gallery.Item{{Label: "back", Vector: vec(3)}}, nil)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// The refused edit was not acknowledged; it may still have been stored
	// (once) by the leader that proposed it before losing its quorum.
	if _, m := contents(t, r); m["lost"] > 1 || m["kept"] != 1 || m["back"] < 1 || m["back"] > tries || res2.Version <= res.Version {
		t.Fatalf("after quorum came back: %v at %d", m, res2.Version)
	}
}

func TestCatchUpFromSnapshot(t *testing.T) {
	c := sharedCluster(t).named("catchup")
	cfg := Config{SnapshotEvery: 5, SnapshotInterval: -1}
	a := c.join(t, 0, cfg)
	ctx := ctxT(t, 60*time.Second)
	for i := 0; i < 23; i++ {
		if _, err := a.Add(ctx, []gallery.Item{{Label: fmt.Sprintf("l%d", i), Vector: vec(uint64(i))}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := a.st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.FirstSeq <= 1 {
		t.Fatalf("stream not trimmed: first %d", info.State.FirstSeq)
	}
	// KeepSnapshots (2) are kept. The object store's listing goes through a
	// new consumer that may lag the newest write for a moment, hence the
	// wait.
	snaps, _ := a.snapshots(ctx)
	for deadline := time.Now().Add(10 * time.Second); len(snaps) != 2 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		snaps, _ = a.snapshots(ctx)
	}
	if len(snaps) != 2 {
		t.Fatalf("snapshots kept: %v", snaps)
	}
	// A new replica with an empty folder loads a snapshot and replays.
	b := c.join(t, 2, cfg)
	sameContents(t, a, b)
	if _, err := a.Add(ctx, []gallery.Item{{Label: "late", Vector: vec(77)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitVersion(ctx, a.Version()); err != nil {
		t.Fatal(err)
	}
	sameContents(t, a, b)
	// A replica whose folder is older than the stream's start reloads too.
	old := c.join(t, 1, Config{Dir: filepath.Join(t.TempDir(), "old"), SnapshotInterval: -1})
	sameContents(t, a, old)
}

func TestDuplicateDeliveryAppliedOnce(t *testing.T) {
	c := sharedCluster(t).named("dup")
	r := c.join(t, 0, Config{})
	ctx := ctxT(t, 30*time.Second)
	rec := record{Format: msgFormat, ID: "fixed-id", Op: opAdd, Items: []item{toRecordItem(gallery.Item{Label: "once", Vector: vec(5)})}}
	body := mustJSON(t, rec)
	// The same change published twice with its id: JetStream keeps one.
	s1, err := r.publish(ctx, rec.ID, body)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := r.publish(ctx, rec.ID, body)
	if err != nil || s1 != s2 {
		t.Fatalf("dedupe by Nats-Msg-Id: %d %d %v", s1, s2, err)
	}
	// Past JetStream's window (a different message id, the same change id):
	// the replica applies it once.
	s3, err := r.publish(ctx, "other-msg-id", body)
	if err != nil || s3 == s1 {
		t.Fatal(s3, err)
	}
	if err := r.WaitVersion(ctx, s3); err != nil {
		t.Fatal(err)
	}
	if _, m := contents(t, r); m["once"] != 1 {
		t.Fatalf("duplicate applied: %v", m)
	}
	// Replaying the stream into a fresh replica gives the same.
	b := c.join(t, 1, Config{})
	sameContents(t, r, b)
}

// TestAnswersNeverMixVersions: while changes (one item each) stream in, a
// search through a view sees exactly the items of its version.
func TestAnswersNeverMixVersions(t *testing.T) {
	c := sharedCluster(t).named("mix")
	a := c.join(t, 0, Config{})
	b := c.join(t, 1, Config{})
	ctx := ctxT(t, 60*time.Second)
	stop := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		checked := 0
		for {
			select {
			case <-stop:
				if checked == 0 {
					errc <- fmt.Errorf("no search checked")
				}
				return
			default:
			}
			v := b.Gallery().View()
			hits, err := v.Search(vec(3), 1000, gallery.Query{})
			if err != nil {
				errc <- err
				return
			}
			if !v.Current() {
				continue
			}
			checked++
			// Every version adds exactly one item.
			if uint64(len(hits)) != v.Version() || v.Len() != len(hits) {
				errc <- fmt.Errorf("version %d: %d hits, %d items", v.Version(), len(hits), v.Len())
				return
			}
		}
	}()
	for i := 0; i < 30; i++ {
		if _, err := a.Add(ctx, []gallery.Item{{Label: fmt.Sprint(i), Vector: vec(uint64(i))}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.WaitVersion(ctx, a.Version()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A change this replica fails to apply for a reason of its own (a disk
// error) is not skipped as an empty change, which would leave it without
// an item the others hold: the replica is not ready while it retries,
// and then holds what the others hold.
func TestLocalApplyFailureRetriedNotSkipped(t *testing.T) {
	c := sharedCluster(t).named(fmt.Sprintf("stall%d", time.Now().UnixNano()%1e9)) // -count N: a new stream each run
	a := c.join(t, 0, Config{})
	b := c.join(t, 1, Config{})
	ctx := ctxT(t, 60*time.Second)
	var fails atomic.Int32
	b.applyMu.Lock()
	b.applyAt = func(g *gallery.Gallery, v uint64, ch gallery.Change) ([]int64, error) {
		if fails.Add(1) <= 3 {
			return nil, fmt.Errorf("gallery: commit: %w", syscall.ENOSPC)
		}
		return g.ApplyAt(v, ch)
	}
	b.applyMu.Unlock()
	res, err := a.Add(ctx, []gallery.Item{{Label: "kept", Vector: vec(11)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Not ready between the failures (the retries back off from 200 ms).
	sawNotReady := false
	for deadline := time.Now().Add(20 * time.Second); !sawNotReady && fails.Load() <= 3 && time.Now().Before(deadline); {
		sawNotReady = !b.Ready() && errors.Is(b.Stalled(), syscall.ENOSPC)
		time.Sleep(time.Millisecond)
	}
	if !sawNotReady {
		t.Error("replica stayed ready, or did not say why, while it could not apply a change")
	}
	if err := b.WaitVersion(ctx, res.Version); err != nil {
		t.Fatal(err)
	}
	if fails.Load() < 4 || !b.Ready() || b.Err() != nil || b.Stalled() != nil {
		t.Fatalf("after %d attempts: ready %v, err %v, stalled %v", fails.Load(), b.Ready(), b.Err(), b.Stalled())
	}
	if _, m := contents(t, b); m["kept"] != 1 {
		t.Fatalf("replica b holds %v after its failed applies", m)
	}
	sameContents(t, a, b)
}

// Item images no item holds any more leave the object store after a
// snapshot, once older than ImageGrace; held ones and young ones stay.
func TestUnheldImagesCollected(t *testing.T) {
	c := sharedCluster(t).named(fmt.Sprintf("imgs%d", time.Now().UnixNano()%1e9))
	r := c.join(t, 0, Config{ImageGrace: time.Hour})
	ctx := ctxT(t, 60*time.Second)
	imgs := [][]byte{[]byte("image of a"), []byte("image of b")}
	var shas []string
	var items []gallery.Item
	for i, b := range imgs {
		sum := sha256.Sum256(b)
		shas = append(shas, hex.EncodeToString(sum[:]))
		items = append(items, gallery.Item{Label: fmt.Sprint("l", i), SHA256: shas[i], Vector: vec(uint64(40 + i))})
	}
	res, err := r.Add(ctx, items, imgs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Remove(ctx, res.IDs[0]); err != nil {
		t.Fatal(err)
	}
	have := func(sha string) bool {
		_, err := r.Image(ctx, sha)
		if err != nil && !errors.Is(err, gallery.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	// Within the grace: both stay.
	if err := r.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if !have(shas[0]) || !have(shas[1]) {
		t.Fatal("an image younger than the grace was deleted")
	}
	// Two hours later: the removed item's image goes, the held one stays.
	clockSkew.Store(int64(2 * time.Hour))
	defer clockSkew.Store(0)
	if _, err := r.Add(ctx, []gallery.Item{{Label: "l2", Vector: vec(42)}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if have(shas[0]) || !have(shas[1]) {
		t.Fatalf("after the grace: image of the removed item kept %v, of the held one kept %v", have(shas[0]), have(shas[1]))
	}
}
