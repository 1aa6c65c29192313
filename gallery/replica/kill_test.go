package replica

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shitu-go/shitu/gallery"
)

// The kill -9 tests run each node (an embedded NATS server and a replica
// beside it, as `shitu serve --nats-embed` runs them) in a child process
// of the test binary, so that SIGKILL takes both down with no cleanup.

const childEnv = "SHITU_REPLICA_CHILD"

type childSpec struct {
	Index   int
	Addrs   clusterAddrs
	Store   string // NATS store
	Dir     string // replica store
	HTTP    string // control address
	Gallery string
}

// childMain is the child: node + replica + a small HTTP control surface
// (POST /add?label=L, GET /state). It runs until killed.
func childMain() {
	var s childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &s); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(1)
	}
	log := testLogger()
	if _, err := StartNode(NodeConfig{Name: fmt.Sprintf("n%d", s.Index), Listen: s.Addrs.Client[s.Index],
		Cluster: s.Addrs.Cluster[s.Index], Routes: s.Addrs.Cluster[:], StoreDir: s.Store, Logger: log}); err != nil {
		fail(err)
	}
	_, js, err := Connect("nats://"+s.Addrs.Client[s.Index]+","+s.Addrs.urls(), "child", log)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	r, err := Open(ctx, js, Config{Name: s.Gallery, Dir: s.Dir, Logger: log, SnapshotEvery: 40, SnapshotInterval: -1,
		Gallery: gallery.Options{Model: "model-a", Dims: testDims, Method: gallery.MethodFlat}})
	cancel()
	if err != nil {
		fail(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, q *http.Request) {
		label := q.URL.Query().Get("label")
		h := fnv.New64a()
		h.Write([]byte(label))
		ctx, cancel := context.WithTimeout(q.Context(), 8*time.Second)
		defer cancel()
		res, err := r.Add(ctx, []gallery.Item{{Label: label, Vector: vec(h.Sum64())}}, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, res.Version)
	})
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, q *http.Request) {
		items, _, err := r.Gallery().List(gallery.ListOptions{Limit: -1})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		st := childState{Version: r.Version(), Ready: r.Ready(), Labels: map[string]int{}}
		for _, it := range items {
			st.Labels[it.Label]++
		}
		json.NewEncoder(w).Encode(st)
	})
	fail(http.ListenAndServe(s.HTTP, mux))
}

type childState struct {
	Version uint64
	Ready   bool
	Labels  map[string]int
}

type child struct {
	spec childSpec
	cmd  *exec.Cmd
	reap chan struct{} // closed once Wait reaped cmd
}

type killCluster struct {
	t       *testing.T
	mu      sync.Mutex
	kids    [3]*child
	down    [3]bool
	started int
}

func newKillCluster(t *testing.T) *killCluster {
	k := &killCluster{t: t}
	a := newAddrs(t)
	root := t.TempDir()
	for i := range k.kids {
		k.kids[i] = &child{spec: childSpec{Index: i, Addrs: a, Gallery: "kill",
			Store: filepath.Join(root, fmt.Sprintf("nats%d", i)), Dir: filepath.Join(root, fmt.Sprintf("rep%d", i)),
			HTTP: fmt.Sprintf("127.0.0.1:%d", freePort(t, "127.0.0.1"))}}
		k.start(i)
	}
	t.Cleanup(func() {
		for i := range k.kids {
			k.kill(i)
		}
	})
	return k
}

func (k *killCluster) start(i int) {
	c := k.kids[i]
	b, _ := json.Marshal(c.spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	reap := make(chan struct{})
	go func() { cmd.Wait(); close(reap) }()
	k.mu.Lock()
	c.cmd, c.reap, k.down[i] = cmd, reap, false
	k.started++
	k.mu.Unlock()
}

// kill sends SIGKILL: no cleanup in the node nor in the replica.
func (k *killCluster) kill(i int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.kids[i]
	if c.cmd != nil && !k.down[i] {
		c.cmd.Process.Signal(syscall.SIGKILL)
		k.mu.Unlock()
		<-c.reap // reaped by Wait
		k.mu.Lock()
	}
	k.down[i] = true
}

func (k *killCluster) alive() []int {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []int
	for i, d := range k.down {
		if !d {
			out = append(out, i)
		}
	}
	return out
}

var client = &http.Client{Timeout: 15 * time.Second}

// waitStreamCurrent waits until the gallery's stream has a leader and
// every other copy is current.
func (k *killCluster) waitStreamCurrent(d time.Duration) {
	t := k.t
	nc, js, err := Connect(k.kids[0].spec.Addrs.urls(), "test", quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stream, _, _ := Names(k.kids[0].spec.Gallery)
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := js.Stream(ctx, stream)
		cancel()
		if err == nil && st.CachedInfo().Cluster != nil {
			cl := st.CachedInfo().Cluster
			ok := cl.Leader != "" && len(cl.Replicas) == 2
			for _, p := range cl.Replicas {
				ok = ok && p.Current && !p.Offline
			}
			if ok {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("stream copies not current after %v", d)
}

func (k *killCluster) state(i int) (childState, error) {
	var st childState
	resp, err := client.Get("http://" + k.kids[i].spec.HTTP + "/state")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (k *killCluster) waitReady(i int, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if st, err := k.state(i); err == nil && st.Ready {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	k.t.Fatalf("replica %d not ready after %v", i, d)
}

// writer adds uniquely labelled items through random live replicas and
// records the labels whose add was acknowledged.
type writer struct {
	mu    sync.Mutex
	acked []string
	tries int
}

func (w *writer) run(k *killCluster, id int, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	rng := rand.New(rand.NewPCG(uint64(id), 1))
	for n := 0; ; n++ {
		select {
		case <-stop:
			return
		default:
		}
		al := k.alive()
		if len(al) == 0 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		i := al[rng.IntN(len(al))]
		label := fmt.Sprintf("w%d-%d", id, n)
		resp, err := client.Post("http://"+k.kids[i].spec.HTTP+"/add?label="+label, "text/plain", nil)
		w.mu.Lock()
		w.tries++
		w.mu.Unlock()
		if err != nil {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		ok := resp.StatusCode == http.StatusOK
		resp.Body.Close()
		if ok {
			w.mu.Lock()
			w.acked = append(w.acked, label)
			w.mu.Unlock()
		}
		time.Sleep(5 * time.Millisecond) // a steady stream, not a flood on 2 cores
	}
}

func (w *writer) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *writer) waitAcks(t *testing.T, n int, d time.Duration) {
	end := time.Now().Add(d)
	for w.count() < n {
		if time.Now().After(end) {
			t.Fatalf("only %d acknowledged edits after %v (wanted %d)", w.count(), d, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// converge waits until every replica is at the same version and checks
// that each holds every acknowledged edit exactly once and nothing twice.
func (k *killCluster) converge(w *writer, d time.Duration) {
	t := k.t
	end := time.Now().Add(d)
	var sts [3]childState
	for {
		same := true
		for i := range sts {
			st, err := k.state(i)
			if err != nil {
				same = false
				break
			}
			sts[i] = st
			if st.Version != sts[0].Version || !st.Ready {
				same = false
			}
		}
		if same {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("replicas did not converge within %v: versions %d %d %d", d, sts[0].Version, sts[1].Version, sts[2].Version)
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, st := range sts {
		for _, l := range w.acked {
			if st.Labels[l] != 1 {
				t.Fatalf("replica %d: acknowledged edit %s present %d times", i, l, st.Labels[l])
			}
		}
		for l, n := range st.Labels {
			if n != 1 {
				t.Fatalf("replica %d: %s present %d times", i, l, n)
			}
		}
		if fmt.Sprint(st.Labels) != fmt.Sprint(sts[0].Labels) {
			t.Fatalf("replica %d differs from replica 0", i)
		}
	}
	t.Logf("converged at version %d: %d acknowledged edits of %d tried, %d items", sts[0].Version, len(w.acked), w.tries, len(sts[0].Labels))
}

// TestKillNineLosesNoAckedEdit: kill -9 of one node (its NATS server and
// its replica) amid a stream of edits loses no acknowledged edit; the
// node restarts and its replica converges.
func TestKillNineLosesNoAckedEdit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	k := newKillCluster(t)
	for i := range k.kids {
		k.waitReady(i, 90*time.Second)
	}
	w := &writer{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := 0; id < 3; id++ {
		wg.Add(1)
		go w.run(k, id, stop, &wg)
	}
	w.waitAcks(t, 20, 60*time.Second)
	k.kill(1)
	w.waitAcks(t, w.count()+20, 60*time.Second)
	k.start(1)
	k.waitReady(1, 90*time.Second)
	w.waitAcks(t, w.count()+20, 60*time.Second)
	close(stop)
	wg.Wait()
	k.converge(w, 90*time.Second)
}

// TestKillNineRounds (SHITU_LONG=1): 50 rounds of kill -9 of a random node
// during edits (one down at a time: the cluster keeps its quorum), then
// every acknowledged edit is on every replica, once.
func TestKillNineRounds(t *testing.T) {
	if os.Getenv("SHITU_LONG") == "" {
		t.Skip("set SHITU_LONG=1 for 50 rounds of kill -9")
	}
	rounds := 50
	if n, err := strconv.Atoi(os.Getenv("SHITU_KILL_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	k := newKillCluster(t)
	for i := range k.kids {
		k.waitReady(i, 90*time.Second)
	}
	w := &writer{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := 0; id < 3; id++ {
		wg.Add(1)
		go w.run(k, id, stop, &wg)
	}
	rng := rand.New(rand.NewPCG(42, 0))
	for round := 0; round < rounds; round++ {
		w.waitAcks(t, w.count()+3, 120*time.Second)
		i := rng.IntN(3)
		k.kill(i)
		time.Sleep(time.Duration(rng.IntN(500)) * time.Millisecond)
		w.waitAcks(t, w.count()+2, 120*time.Second)
		k.start(i)
		k.waitReady(i, 120*time.Second)
		// One down at a time: the restarted NATS server's copy of the
		// stream is current before the next kill.
		k.waitStreamCurrent(120 * time.Second)
	}
	close(stop)
	wg.Wait()
	k.converge(w, 180*time.Second)
}
