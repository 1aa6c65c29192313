package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/internal/testutil"
)

// replicaProc is one `shitu serve --nats-embed` child process.
type replicaProc struct {
	args []string
	cmd  *exec.Cmd
	base string
	log  *strings.Builder
	mu   sync.Mutex
}

func (p *replicaProc) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, p.args...)...)
	cmd.Env = append(os.Environ(), "SHITU_CLI_MAIN=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd, p.log = cmd, &strings.Builder{}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "serving" {
				addr <- m.Addr
			}
			p.mu.Lock()
			if p.log.Len() < 1<<16 {
				p.log.WriteString(sc.Text() + "\n")
			}
			p.mu.Unlock()
		}
	}()
	go cmd.Wait()
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(90 * time.Second):
		t.Fatalf("serve did not start:\n%s", p.logs())
	}
}

func (p *replicaProc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *replicaProc) waitReady(t *testing.T, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		resp, err := http.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("replica %s not ready after %v:\n%s", p.base, d, p.logs())
}

// TestServeReplicas: three `shitu serve --nats-embed` processes on
// loopback addresses form a NATS cluster and share the default gallery:
// an item added through one is recognised by another (min_version); kill
// -9 of one process (its NATS server and its replica) while edits go on
// loses no acknowledged edit, and the restarted process converges.
func TestServeReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("short: skips the three served processes")
	}
	testutil.ORTLib(t)
	dir := t.TempDir()
	g := &Globals{ORTLib: testutil.ORTLibPath(), stdout: io.Discard, stderr: io.Discard, ctx: context.Background()}
	cfgPath, err := prepareSynthetic(g, dir)
	if err != nil {
		t.Fatal(err)
	}
	hosts := []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	for _, h := range hosts[1:] {
		if l, err := net.Listen("tcp", h+":0"); err != nil {
			hosts = []string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}
			break
		} else {
			l.Close()
		}
	}
	port := func(h string) string {
		l, err := net.Listen("tcp", h+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	var client, cluster [3]string
	for i, h := range hosts {
		client[i], cluster[i] = port(h), port(h)
	}
	ps := make([]*replicaProc, 3)
	for i := range ps {
		ps[i] = &replicaProc{args: []string{"--ort-lib", testutil.ORTLibPath(), "serve", "-c", cfgPath, "--addr", "127.0.0.1:0",
			"--snapshot-every", "0", "--threads", "1", "--workers", "1",
			"--nats-embed", "--nats-name", fmt.Sprintf("n%d", i), "--nats-listen", client[i], "--nats-cluster", cluster[i],
			"--nats-routes", strings.Join(cluster[:], ","), "--nats-store", filepath.Join(dir, fmt.Sprintf("nats%d", i)),
			"--replica-dir", filepath.Join(dir, fmt.Sprintf("replica%d", i))}}
		ps[i].start(t)
		defer func(p *replicaProc) { p.cmd.Process.Kill() }(ps[i])
	}
	for _, p := range ps {
		p.waitReady(t, 90*time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	gdir := filepath.Join(dir, "synthetic", "gallery")
	ents, _ := os.ReadDir(gdir)
	var labels []os.DirEntry
	for _, e := range ents {
		if e.IsDir() {
			labels = append(labels, e)
		}
	}
	img := func(i int) ([]byte, string) {
		l := labels[i%len(labels)].Name()
		b, err := os.ReadFile(filepath.Join(gdir, l, "0.jpg"))
		if err != nil {
			t.Fatal(err)
		}
		return b, l
	}
	c := func(i int) *api.Client { return &api.Client{Base: ps[i].base} }
	b0, l0 := img(0)
	add, err := c(0).AddItems(ctx, "", api.NewImageItem(b0, l0, nil))
	if err != nil {
		t.Fatal(err)
	}
	r, err := c(2).Recognize(ctx, b0, api.RecognizeOptions{MinVersion: add.GalleryVersion})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range r.Objects {
		found = found || (o.Label != nil && *o.Label == l0)
	}
	if r.GalleryVersion < add.GalleryVersion || !found {
		t.Fatalf("replica 2 at version %d (asked %d) does not recognise %s: %+v", r.GalleryVersion, add.GalleryVersion, l0, r.Objects)
	}
	// Edits through replicas 0 and 2 while replica 1 (and its NATS server)
	// is killed with SIGKILL, then restarted.
	acked := 1
	edit := func(n int) {
		for k := 0; k < n; k++ {
			b, l := img(k + 1)
			if _, err := c(2*(k%2)).AddItems(ctx, "", api.NewImageItem(b, l, nil)); err == nil {
				acked++
			}
		}
	}
	edit(3)
	ps[1].cmd.Process.Signal(syscall.SIGKILL)
	edit(4)
	ps[1].start(t)
	edit(2)
	ps[1].waitReady(t, 90*time.Second)
	var infos [3]*api.GalleryInfo
	end := time.Now().Add(60 * time.Second)
	for {
		same := true
		for i := range infos {
			if infos[i], err = c(i).Gallery(ctx, ""); err != nil {
				t.Fatal(err)
			}
			same = same && infos[i].Version == infos[0].Version
		}
		if same || time.Now().After(end) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i, in := range infos {
		if in.Version != infos[0].Version || in.Items != infos[0].Items || in.Items < acked {
			t.Fatalf("replica %d: version %d, %d items; replica 0: version %d, %d items; %d edits acknowledged", i, in.Version, in.Items, infos[0].Version, infos[0].Items, acked)
		}
	}
	t.Logf("3 replicas at version %d with %d items (%d edits acknowledged)", infos[0].Version, infos[0].Items, acked)
}
