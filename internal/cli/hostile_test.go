package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/shitu-go/shitu/api/proto/pipeline"
	shituv1 "github.com/shitu-go/shitu/api/proto/shitu/v1"
	"github.com/shitu-go/shitu/internal/testutil"
)

// hostileRSSBound is the most resident memory `shitu serve` (synthesized
// models, 36-item gallery) may reach — peak and at the end — during the
// hostile run. It runs at about 200 MiB; a request sized by what it names
// (the 2e9 topk used to ask for 32 GB) would blow through it.
const hostileRSSBound = 768 << 20

// TestHostileServe attacks a real `shitu serve` process on loopback, within
// a minute: huge k values on every protocol, slow bodies, idle connections,
// huge declared image sizes, bodies past the limit. The server must answer
// each with a 4xx (or close the connection), stay alive, answer a normal
// request afterwards and stay under hostileRSSBound.
func TestHostileServe(t *testing.T) {
	if testing.Short() {
		t.Skip("short: skips the hostile run against a served process")
	}
	testutil.ORTLib(t)
	dir := t.TempDir()
	g := &Globals{ORTLib: testutil.ORTLibPath(), stdout: io.Discard, stderr: io.Discard, ctx: context.Background()}
	cfgPath, err := prepareSynthetic(g, dir)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "--ort-lib", testutil.ORTLibPath(), "serve", "-c", cfgPath,
		"--addr", "127.0.0.1:0", "--read-timeout", "2s", "--idle-timeout", "2s", "--timeout", "10s",
		"--max-body", strconv.Itoa(4<<20), "--max-conns", "256", "--snapshot-every", "0", "--grpc-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "SHITU_CLI_MAIN=1")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addr, grpcAddr := make(chan string, 1), make(chan string, 1)
	var logTail strings.Builder
	var logMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "serving" {
				addr <- m.Addr
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "serving grpc" {
				grpcAddr <- m.Addr
			}
			logMu.Lock()
			if logTail.Len() < 1<<16 {
				logTail.WriteString(sc.Text() + "\n")
			}
			logMu.Unlock()
		}
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(60 * time.Second):
		logMu.Lock()
		defer logMu.Unlock()
		t.Fatalf("serve did not start:\n%s", logTail.String())
	}
	host := strings.TrimPrefix(base, "http://")
	pid := cmd.Process.Pid

	qdir := filepath.Join(dir, "synthetic", "query")
	img, _ := os.ReadFile(filepath.Join(qdir, firstFile(t, qdir)))
	b64 := base64.StdEncoding.EncodeToString(img)
	type row struct {
		attack  string
		n       int
		outcome string
		ok      bool
	}
	var rows []row
	statuses := func(n int, f func() (int, error)) (string, bool) {
		counts := map[int]int{}
		ok := true
		for i := 0; i < n; i++ {
			code, err := f()
			if err != nil {
				return "error: " + err.Error(), false
			}
			counts[code]++
			ok = ok && code/100 == 4
		}
		var parts []string
		for c, k := range counts {
			parts = append(parts, fmt.Sprintf("%d×%d", k, c))
		}
		return strings.Join(parts, " "), ok
	}
	postN := func(name, path, ctype string, body []byte, n int) {
		out, ok := statuses(n, func() (int, error) {
			resp, err := http.Post(base+path, ctype, bytes.NewReader(body))
			if err != nil {
				return 0, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, nil
		})
		rows = append(rows, row{name, n, out, ok})
	}
	js := func(s string) []byte { return []byte(strings.ReplaceAll(s, "IMG", b64)) }

	postN("topk 2e9, POST /v1/recognize", "/v1/recognize", "application/json", js(`{"image":"IMG","topk":2000000000}`), 3)
	postN("topk 2e9, POST /shitu-infer", "/shitu-infer", "application/json", js(`{"image":"IMG","topk":2000000000}`), 3)
	postN("topk 1e8, POST /v1/recognize", "/v1/recognize", "application/json", js(`{"image":"IMG","topk":100000000}`), 3)
	postN("topk 2e9 in the query, raw JPEG", "/v1/recognize?topk=2000000000", "image/jpeg", img, 3)
	postN("list limit 1e9", "/v1/gallery/items?limit=1000000000", "application/json", nil, 1)
	postN("PNG header 20000×20000", "/v1/recognize", "image/png", pngHeaderBytes(20000, 20000), 3)
	postN("JPEG header 65000×65000", "/v1/recognize", "image/jpeg", jpegHeaderBytes(65000, 65000), 3)
	postN("8 MiB body (limit 4 MiB)", "/v1/recognize", "image/jpeg", bytes.Repeat([]byte{0xff}, 8<<20), 2)
	postN("8 MiB base64 in JSON", "/shitu-infer", "application/json", []byte(`{"image":"`+strings.Repeat("A", 8<<20)+`"}`), 2)
	postN("100k filter labels", "/v1/recognize", "application/json", js(`{"image":"IMG","labels":[`+strings.Repeat(`"x",`, 100000)+`"x"]}`), 2)
	postN("deeply nested JSON", "/shitu-infer", "application/json", []byte(strings.Repeat("[", 100000)), 2)
	postN("Serving: 1000 keys", "/recognition/prediction", "application/json", []byte(`{"key":[`+strings.Repeat(`"image",`, 999)+`"image"],"value":[]}`), 1)
	// Paddle Serving answers errors with HTTP 200 and err_no (its protocol).
	rows[len(rows)-1].ok = strings.HasPrefix(rows[len(rows)-1].outcome, "1×200")

	// The same attacks over gRPC (--grpc-addr).
	var gaddr string
	select {
	case gaddr = <-grpcAddr:
	case <-time.After(10 * time.Second):
		t.Fatal("serve --grpc-addr did not log its gRPC address")
	}
	conn, err := grpc.NewClient(gaddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rpc := shituv1.NewShituClient(conn)
	rpcN := func(name string, n int, want codes.Code, call func() error) {
		counts := map[codes.Code]int{}
		for range n {
			counts[status.Code(call())]++
		}
		var parts []string
		for c, k := range counts {
			parts = append(parts, fmt.Sprintf("%d×%s", k, c))
		}
		rows = append(rows, row{name, n, strings.Join(parts, " "), counts[want] == n})
	}
	ctx := context.Background()
	rpcN("gRPC: topk 2e9", 3, codes.InvalidArgument, func() error {
		_, err := rpc.Recognize(ctx, &shituv1.RecognizeRequest{Image: img, Topk: 2000000000})
		return err
	})
	rpcN("gRPC: 8 MiB message (limit 4 MiB)", 2, codes.ResourceExhausted, func() error {
		_, err := rpc.Recognize(ctx, &shituv1.RecognizeRequest{Image: bytes.Repeat([]byte{0xff}, 8<<20)})
		return err
	})
	rpcN("gRPC: list limit 1e9", 1, codes.InvalidArgument, func() error {
		_, err := rpc.ListItems(ctx, &shituv1.ListItemsRequest{Limit: 1000000000})
		return err
	})
	rpcN("gRPC: galleries (open on loopback)", 1, codes.OK, func() error {
		_, err := rpc.ListGalleries(ctx, &shituv1.ListGalleriesRequest{})
		return err
	})
	pr, err := pipeline.NewPipelineServiceClient(conn).Inference(ctx, &pipeline.Request{Key: make([]string, 1000), Value: make([]string, 1000)})
	rows = append(rows, row{"gRPC Serving: 1000 keys", 1, fmt.Sprintf("%v err_no %d", err, pr.GetErrNo()), err == nil && pr.GetErrNo() == 400})

	// 48 slow bodies and 48 idle connections: the server closes them.
	closed := func(n int, start func(c net.Conn)) (string, bool) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		shut := 0
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", host)
			if err != nil {
				return err.Error(), false
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				start(c)
				c.SetReadDeadline(time.Now().Add(15 * time.Second))
				_, err := io.ReadAll(c)
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					mu.Lock()
					shut++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return fmt.Sprintf("%d of %d closed by the server", shut, n), shut == n
	}
	var wg sync.WaitGroup
	var slowOut, idleOut string
	var slowOK, idleOK bool
	wg.Add(2)
	go func() {
		defer wg.Done()
		slowOut, slowOK = closed(48, func(c net.Conn) {
			fmt.Fprintf(c, "POST /v1/recognize HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n")
			for i := 0; i < 3; i++ {
				c.Write([]byte{0xff})
				time.Sleep(500 * time.Millisecond)
			}
		})
	}()
	go func() {
		defer wg.Done()
		idleOut, idleOK = closed(48, func(net.Conn) {})
	}()
	wg.Wait()
	rows = append(rows, row{"slow body (1 B / 0.5 s)", 48, slowOut, slowOK}, row{"idle connection", 48, idleOut, idleOK})

	// Still alive, still right.
	resp, err := http.Post(base+"/v1/recognize", "image/jpeg", bytes.NewReader(img))
	if err != nil {
		t.Fatalf("server gone after the attacks: %v", err)
	}
	var rr struct {
		Objects []struct{ Label *string }
	}
	json.NewDecoder(resp.Body).Decode(&rr)
	resp.Body.Close()
	alive := resp.StatusCode == 200 && len(rr.Objects) > 0
	rows = append(rows, row{"normal recognition afterwards", 1, fmt.Sprintf("%d, %d objects", resp.StatusCode, len(rr.Objects)), alive})
	gr, err := rpc.Recognize(ctx, &shituv1.RecognizeRequest{Image: img})
	rows = append(rows, row{"gRPC recognition afterwards", 1, fmt.Sprintf("%v, %d objects", err, len(gr.GetObjects())),
		err == nil && len(gr.GetObjects()) == len(rr.Objects)})
	// serve mounts the web console by default (server/console tests it).
	cr, err := http.Get(base + "/")
	var page []byte
	if err == nil {
		page, _ = io.ReadAll(cr.Body)
		cr.Body.Close()
	}
	rows = append(rows, row{"web console at /", 1, fmt.Sprintf("%v %d bytes", err, len(page)),
		err == nil && cr.StatusCode == 200 && bytes.Contains(page, []byte("<h1>Recognise</h1>"))})
	hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	rows = append(rows, row{"gRPC health", 1, fmt.Sprintf("%v %v", err, hr.GetStatus()), hr.GetStatus() == healthpb.HealthCheckResponse_SERVING})
	rss, hwm := procMem(t, pid)
	rows = append(rows, row{"server memory", 1, fmt.Sprintf("RSS %d MiB, peak %d MiB (bound %d MiB)", rss>>20, hwm>>20, hostileRSSBound>>20),
		hwm < hostileRSSBound && rss < hostileRSSBound})

	var tb strings.Builder
	fmt.Fprintf(&tb, "%-34s %4s  %s\n", "attack", "n", "outcome")
	failed := false
	for _, r := range rows {
		mark := ""
		if !r.ok {
			mark, failed = "  ← FAIL", true
		}
		fmt.Fprintf(&tb, "%-34s %4d  %s%s\n", r.attack, r.n, r.outcome, mark)
	}
	t.Logf("hostile run against shitu serve (pid %d):\n%s", pid, tb.String())
	if failed {
		t.Fatalf("hostile run failed:\n%s", tb.String())
	}
	// While it serves: the read-only gallery commands ask the server, the
	// changing ones say how to change the gallery through its API, and a
	// second serve on the same port names the port.
	out, errs, code := run(t, "gallery", "stats", "-c", cfgPath)
	if code != 0 || !strings.Contains(out, "items:   36") || !strings.Contains(out, "served:  "+base) {
		t.Errorf("gallery stats while serving: exit %d\n%s\n%s", code, out, errs)
	}
	out, errs, code = run(t, "gallery", "list", "-c", cfgPath, "--limit", "-1")
	if code != 0 || strings.Count(out, "\n") != 37 {
		t.Errorf("gallery list --limit -1 while serving: exit %d\n%s\n%s", code, out, errs)
	}
	_, errs, code = run(t, "gallery", "remove", "-c", cfgPath, "--label", "product_00")
	if code == 0 || !strings.Contains(errs, fmt.Sprintf("served by shitu serve (pid %d at %s)", pid, base)) || !strings.Contains(errs, "POST "+base+"/v1/gallery/items") {
		t.Errorf("gallery remove while serving: exit %d\n%s", code, errs)
	}
	_, errs, code = run(t, "serve", "-c", cfgPath, "--addr", host)
	if code == 0 || !strings.Contains(errs, "cannot listen on "+host) {
		t.Errorf("second serve on the same port: exit %d\n%s", code, errs)
	}
	served := filepath.Join(dir, "index", servedFile)
	if _, err := os.Stat(served); err != nil {
		t.Errorf("no %s while serving: %v", servedFile, err)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("serve did not stop after SIGTERM")
	}
	if _, err := os.Stat(served); !os.IsNotExist(err) {
		t.Errorf("%s left after a clean stop: %v", servedFile, err)
	}
}

func firstFile(t *testing.T, dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		t.Fatalf("no files in %s: %v", dir, err)
	}
	return ents[0].Name()
}

// procMem reads VmRSS and VmHWM (peak) of a process, in bytes.
func procMem(t *testing.T, pid int) (rss, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("server process: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			if f[0] == "VmRSS:" {
				rss = kb << 10
			} else {
				hwm = kb << 10
			}
		}
	}
	return rss, hwm
}

// pngHeaderBytes is a PNG whose IHDR claims w×h (valid CRC, no pixels).
func pngHeaderBytes(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, w), h)
	ihdr = append(ihdr, 8, 2, 0, 0, 0)
	chunk := append([]byte("IHDR"), ihdr...)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

// jpegHeaderBytes is a JPEG whose baseline SOF0 claims w×h, with no data.
func jpegHeaderBytes(w, h uint16) []byte {
	b := []byte{0xff, 0xd8, 0xff, 0xc0, 0, 17, 8}
	b = binary.BigEndian.AppendUint16(b, h)
	b = binary.BigEndian.AppendUint16(b, w)
	b = append(b, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)
	return append(b, 0xff, 0xd9)
}
