package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/recognize"
)

// post sends a raw body and returns the status, the Retry-After header and
// the body.
func post(t *testing.T, url, ctype, body string, hdr ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

func doReq(t *testing.T, method, url string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestRequestBounds: every number a request sets is checked before any
// work, with the allowed range in the answer; a huge k never reaches the
// search (it used to allocate 32 GB and kill the process).
func TestRequestBounds(t *testing.T) {
	f := newFixture(t, Config{MaxTopK: 50, MaxBatch: 3, MaxIDs: 4})
	f.addColours(t, "red", "green")
	img := b64(pngBytes(t, solid(palette[0], 16, 16)))
	u := f.ts.URL
	key := func() string {
		var env api.PXEnvelope[api.PXBuildResult]
		_, _, b := post(t, u+"/shitu-index-build", "application/json", `{"imageLabelPairs":[]}`)
		json.Unmarshal([]byte(b), &env)
		return env.Result.IndexKey
	}()
	many := func(n int) string {
		var p []string
		for i := 0; i < n; i++ {
			p = append(p, `{"image":"`+img+`","label":"x"}`)
		}
		return strings.Join(p, ",")
	}
	cases := []struct {
		name, path, ctype, body string
		status                  int
		want                    string
	}{
		{"v1 topk 2e9", "/v1/recognize", "application/json", `{"image":"` + img + `","topk":2000000000}`, 400, "allowed 1..50"},
		{"v1 topk 1e8", "/v1/recognize", "application/json", `{"image":"` + img + `","topk":100000000}`, 400, "allowed 1..50"},
		{"v1 topk negative", "/v1/recognize", "application/json", `{"image":"` + img + `","topk":-3}`, 400, "allowed 1..50"},
		{"v1 topk overflow", "/v1/recognize", "application/json", `{"image":"` + img + `","topk":1e30}`, 400, "malformed JSON"},
		{"v1 query topk", "/v1/recognize?topk=2000000000", "image/png", string(pngBytes(t, solid(palette[0], 8, 8))), 400, "allowed 1..50"},
		{"v1 score threshold", "/v1/recognize", "application/json", `{"image":"` + img + `","score_threshold":7}`, 400, "allowed -1..1"},
		{"v1 det threshold", "/v1/recognize", "application/json", `{"image":"` + img + `","det_threshold":-0.5}`, 400, "allowed 0..1"},
		{"v1 hamming radius", "/v1/recognize", "application/json", `{"image":"` + img + `","hamming_radius":1e9}`, 400, "allowed 0..8"},
		{"v1 filter labels", "/v1/recognize", "application/json", `{"image":"` + img + `","labels":[` + strings.Repeat(`"a",`, 1000) + `"a"]}`, 400, "up to 1000"},
		{"v1 batch", "/v1/gallery/items", "application/json", `{"items":[` + many(4) + `]}`, 400, "allowed 1..3"},
		{"v1 label NUL", "/v1/gallery/items", "application/json", `{"image":"` + img + `","label":"a\u0000b"}`, 400, "U+0000"},
		{"v1 label newline", "/v1/gallery/items", "application/json", `{"image":"` + img + `","label":"a\nb"}`, 400, "U+000A"},
		{"v1 label bidi", "/v1/gallery/items", "application/json", `{"image":"` + img + `","label":"abc\u202edef"}`, 400, "U+202E"},
		{"v1 metadata tab", "/v1/gallery/items", "application/json", `{"image":"` + img + `","label":"ok","metadata":{"k":"a\tb"}}`, 400, "U+0009"},
		{"px topk", "/shitu-infer", "application/json", `{"image":"` + img + `","topk":2000000000}`, 422, "allowed 1..50"},
		{"px rec threshold", "/shitu-infer", "application/json", `{"image":"` + img + `","recThreshold":3}`, 422, "allowed -1..1"},
		{"px det threshold", "/shitu-infer", "application/json", `{"image":"` + img + `","detThreshold":1.5}`, 422, "allowed 0..1"},
		{"px malformed", "/shitu-infer", "application/json", `{"image":`, 422, "malformed JSON"},
		{"px remove without ids", "/shitu-index-remove", "application/json", `{"indexKey":"` + key + `"}`, 422, `\"ids\" is required`},
		{"px remove too many ids", "/shitu-index-remove", "application/json", `{"indexKey":"` + key + `","ids":[1,2,3,4,5]}`, 422, "up to 4"},
		{"px remove without key", "/shitu-index-remove", "application/json", `{"ids":[1]}`, 422, `\"indexKey\" is required`},
		{"px add without key", "/shitu-index-add", "application/json", `{"imageLabelPairs":[` + many(1) + `]}`, 422, `\"indexKey\" is required`},
		{"px add batch", "/shitu-index-add", "application/json", `{"indexKey":"` + key + `","imageLabelPairs":[` + many(4) + `]}`, 422, "allowed 1..3"},
		{"px build batch", "/shitu-index-build", "application/json", `{"imageLabelPairs":[` + many(4) + `]}`, 422, "allowed 0..3"},
		{"px label", "/shitu-index-add", "application/json", `{"indexKey":"` + key + `","imageLabelPairs":[{"image":"` + img + `","label":"a\u2066b"}]}`, 422, "U+2066"},
		{"px build without pairs", "/shitu-index-build", "application/json", `{}`, 422, `\"imageLabelPairs\" is required`},
	}
	for _, c := range cases {
		code, _, body := post(t, u+c.path, c.ctype, c.body)
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, code, body, c.status, c.want)
		}
		if strings.HasPrefix(c.path, "/shitu-") && !strings.Contains(body, fmt.Sprintf(`"errorCode":%d`, c.status)) {
			t.Errorf("%s: envelope errorCode is not %d: %s", c.name, c.status, body)
		}
	}
	for _, q := range []string{"limit=0", "limit=100000", "start=-5", "start=x"} {
		if code, body := doReq(t, http.MethodGet, u+"/v1/gallery/items?"+q); code != 400 {
			t.Errorf("list %s: %d %s", q, code, body)
		}
	}
	// Paddle Serving keeps HTTP 200 with err_no for a bad request.
	code, _, body := post(t, u+"/recognition/prediction", "application/json", `{"key":["image","x"],"value":["`+img+`"]}`)
	if code != 200 || !strings.Contains(body, `"err_no":400`) || !strings.Contains(body, "pair up") {
		t.Errorf("serving key/value mismatch: %d %s", code, body)
	}
	// The largest allowed k works, and nothing was added by refused requests.
	r, err := f.c.Recognize(context.Background(), pngBytes(t, solid(palette[1], 8, 8)), api.RecognizeOptions{TopK: 50})
	if err != nil || *r.Objects[0].Label != "green" || len(r.Objects[0].Candidates) != 2 {
		t.Fatalf("topk at the bound: %v %+v", err, r)
	}
	if f.g.Len() != 2 {
		t.Fatalf("refused adds changed the gallery: %d items", f.g.Len())
	}
}

// TestStoredGalleriesSurviveRestart: an indexKey made by /shitu-index-build
// answers after the server is closed and a new one started on the same
// folder; galleries are created and deleted by name; the configured one
// cannot be deleted.
func TestStoredGalleriesSurviveRestart(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	png := func(c int) string { return b64(pngBytes(t, solid(palette[c], 16, 16))) }
	build, err := f.c.PXBuild(ctx, api.PXBuildRequest{ImageLabelPairs: []api.PXImageLabelPair{{Image: png(0), Label: "red"}, {Image: png(2), Label: "blue"}}})
	if err != nil || build.ErrorCode != 0 {
		t.Fatalf("build: %v %+v", err, build)
	}
	key := build.Result.IndexKey
	if _, err := f.c.CreateGallery(ctx, "shelf-a"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../x", "a/b", "", ".hidden", strings.Repeat("x", 65)} {
		if _, err := f.c.CreateGallery(ctx, name); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	var ae *api.Error
	if _, err := f.c.CreateGallery(ctx, "shelf-a"); !errors.As(err, &ae) || ae.Status != 409 {
		t.Errorf("duplicate: %v", err)
	}
	f.ts.Close()
	if err := f.sys.Close(); err != nil { // closes the stored galleries too
		t.Fatal(err)
	}

	// A new system and server on the same folders: a restart.
	sys2, _ := openFixtureSystem(t, f.dir, f.emb)
	s2, err := New(sys2, Config{Store: f.srv.cfg.Store, Recognize: f.srv.cfg.Recognize, Logger: f.srv.cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s2.Handler())
	defer ts.Close()
	c := &api.Client{Base: ts.URL}
	no := false
	inf, err := c.PXInfer(ctx, api.PXInferRequest{Image: png(2), IndexKey: key, Visualize: &no})
	if err != nil || inf.ErrorCode != 0 || inf.Result.DetectedObjects[0].RecResults[0].Label != "blue" {
		t.Fatalf("indexKey after restart: %v %+v", err, inf)
	}
	if got, want := s2.Galleries(), []string{"default", key, "shelf-a"}; len(got) != 3 || !slices.Contains(got, key) || !slices.Contains(got, "shelf-a") {
		t.Fatalf("galleries after restart: %v, want %v", got, want)
	}
	if err := c.DeleteGallery(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "created", key)); !os.IsNotExist(err) {
		t.Fatalf("deleted gallery's folder: %v", err)
	}
	if code, body := doReq(t, http.MethodDelete, ts.URL+"/v1/galleries/"+key); code != 404 {
		t.Fatalf("second delete: %d %s", code, body)
	}
	code, _, body := post(t, ts.URL+"/shitu-infer", "application/json", `{"image":"`+png(2)+`","indexKey":"`+key+`"}`)
	if code != 404 || !strings.Contains(body, `"errorCode":404`) {
		t.Fatalf("infer on a deleted key: %d %s", code, body)
	}
	// configured galleries are not deleted through the API
	f2 := newFixture(t, Config{})
	if code, body := doReq(t, http.MethodDelete, f2.ts.URL+"/v1/galleries/default"); code != 409 || !strings.Contains(body, "configured at startup") {
		t.Fatalf("delete default: %d %s", code, body)
	}
}

func TestGalleryQuota(t *testing.T) {
	f := newFixture(t, Config{MaxGalleries: 1})
	ctx := context.Background()
	if _, err := f.c.CreateGallery(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	code, _, body := post(t, f.ts.URL+"/shitu-index-build", "application/json", `{"imageLabelPairs":[]}`)
	if code != 507 || !strings.Contains(body, "limit is 1") {
		t.Fatalf("second gallery: %d %s", code, body)
	}
	g := newFixture(t, Config{MaxStoreBytes: 1})
	if _, err := g.c.CreateGallery(ctx, "first"); err != nil { // the store is empty
		t.Fatal(err)
	}
	var ae *api.Error
	items := []api.NewItem{api.NewImageItem(pngBytes(t, solid(palette[0], 8, 8)), "red", nil)}
	if _, err := g.c.AddItems(ctx, "first", items...); !errors.As(err, &ae) || ae.Status != 507 {
		t.Fatalf("add past the size limit: %v", err)
	}
	if _, err := g.c.AddItems(ctx, "", items...); err != nil { // configured galleries are not counted
		t.Fatal(err)
	}
}

// TestAuth: with a key, creating galleries needs it; with AuthReads, reads
// need it too, except the health checks.
func TestAuth(t *testing.T) {
	f := newFixture(t, Config{APIKey: "s3cret", AuthReads: true})
	u := f.ts.URL
	img := b64(pngBytes(t, solid(palette[0], 8, 8)))
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/shitu-index-build", `{"imageLabelPairs":[]}`},
		{"POST", "/v1/galleries", `{"name":"x"}`},
		{"DELETE", "/v1/galleries/x", ""},
		{"POST", "/v1/recognize", `{"image":"` + img + `"}`},
		{"POST", "/shitu-infer", `{"image":"` + img + `"}`},
		{"GET", "/v1/gallery/items", ""},
		{"GET", "/metrics", ""},
	} {
		req, _ := http.NewRequest(c.method, u+c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("%s %s without key: %d", c.method, c.path, resp.StatusCode)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/health"} {
		if code, _ := doReq(t, http.MethodGet, u+p); code != 200 {
			t.Errorf("%s without key: %d", p, code)
		}
	}
	if code, body := doReq(t, http.MethodGet, u+"/v1/gallery/items", "X-API-Key", "s3cret"); code != 200 {
		t.Errorf("read with key: %d %s", code, body)
	}
	if _, err := f.c.CreateGallery(context.Background(), "x"); err != nil {
		t.Errorf("create with key: %v", err)
	}
}

// TestPaddleXProtocol: /health, the result image by default, no null
// fields anywhere in an answer.
func TestPaddleXProtocol(t *testing.T) {
	f := newFixture(t, Config{})
	f.addColours(t, "red")
	code, body := doReq(t, http.MethodGet, f.ts.URL+"/health")
	var h map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &h) != nil || h["errorCode"] != 0.0 || h["errorMsg"] != "Healthy" || h["logId"] == "" || len(h) != 3 {
		t.Fatalf("health: %d %s", code, body)
	}
	img := b64(jpegBytes(t, solid(palette[0], 64, 48)))
	code, _, body = post(t, f.ts.URL+"/shitu-infer", "application/json", `{"image":"`+img+`"}`)
	var env api.PXEnvelope[api.PXInferResult]
	if code != 200 || json.Unmarshal([]byte(body), &env) != nil || env.Result.Image == nil {
		t.Fatalf("infer: %d %.300s", code, body)
	}
	if jpg, err := base64.StdEncoding.DecodeString(*env.Result.Image); err != nil || !bytes.HasPrefix(jpg, []byte{0xff, 0xd8}) {
		t.Fatalf("result image is not a base64 JPEG: %v", err)
	}
	// PXNoImage: the field is absent, never null; a rejected box has an
	// empty recResults list, not null.
	g := newFixture(t, Config{PXNoImage: true})
	g.addColours(t, "red")
	for _, req := range []string{`{"image":"` + img + `"}`, `{"image":"` + img + `","recThreshold":1}`} {
		code, _, body = post(t, g.ts.URL+"/shitu-infer", "application/json", req)
		if code != 200 || strings.Contains(body, "null") || strings.Contains(body, `"image"`) || !strings.Contains(body, `"recResults":[`) {
			t.Fatalf("infer without image: %d %s", code, body)
		}
	}
	code, _, body = post(t, g.ts.URL+"/shitu-infer", "application/json", `{"image":"`+img+`","visualize":true}`)
	if code != 200 || !strings.Contains(body, `"image":"`) {
		t.Fatalf("visualize asked: %d %.200s", code, body)
	}
}

// TestImageURLs: refused by default; fetched from allow-listed hosts, with
// the size limit and no redirect to a private address.
func TestImageURLs(t *testing.T) {
	png := pngBytes(t, solid(palette[0], 16, 16))
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/img.png":
			w.Write(png)
		case "/big":
			w.Write(bytes.Repeat([]byte{1}, 4<<10))
		case "/redirect":
			_, port, _ := net.SplitHostPort(r.Host)
			http.Redirect(w, r, "http://localhost:"+port+"/img.png", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer src.Close()
	f := newFixture(t, Config{})
	f.addColours(t, "red")
	code, _, body := post(t, f.ts.URL+"/shitu-infer", "application/json", `{"image":"`+src.URL+`/img.png"}`)
	if code != 501 || !strings.Contains(body, "--fetch-allow") {
		t.Fatalf("URL by default: %d %s", code, body)
	}
	g := newFixture(t, Config{FetchAllow: []string{"127.0.0.1", "localhost"}, MaxBodyBytes: 2 << 10})
	g.addColours(t, "red")
	code, _, body = post(t, g.ts.URL+"/shitu-infer", "application/json", `{"image":"`+src.URL+`/img.png","visualize":false}`)
	if code != 200 || !strings.Contains(body, `"label":"red"`) {
		t.Fatalf("allowed URL: %d %s", code, body)
	}
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/big", 413, "body_too_large"},
		{"/redirect", 502, "private address"},
		{"/missing", 502, "404"},
	} {
		code, _, body = post(t, g.ts.URL+"/v1/recognize", "application/json", `{"image":"`+src.URL+c.path+`"}`)
		if code != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
	}
	h := newFixture(t, Config{FetchAllow: []string{"*.example.com"}})
	code, _, body = post(t, h.ts.URL+"/v1/recognize", "application/json", `{"image":"`+src.URL+`/img.png"}`)
	if code != 501 || !strings.Contains(body, "not on --fetch-allow") {
		t.Fatalf("host not allowed: %d %s", code, body)
	}
}

// TestRequestTimeout: the model run observes the request's deadline.
func TestRequestTimeout(t *testing.T) {
	f := newFixture(t, Config{Timeout: 200 * time.Millisecond})
	f.addColours(t, "red")
	block := make(chan struct{})
	defer close(block)
	f.emb.mu.Lock()
	f.emb.block = block
	f.emb.mu.Unlock()
	code, _, body := post(t, f.ts.URL+"/v1/recognize", "image/png", string(pngBytes(t, solid(palette[0], 8, 8))))
	if code != 503 || !strings.Contains(body, "timeout") {
		t.Fatalf("timed out request: %d %s", code, body)
	}
}

// TestConnectionTimeouts: slow bodies and idle connections are closed by
// the server; at most MaxConns connections are served at once.
func TestConnectionTimeouts(t *testing.T) {
	f := newFixture(t, Config{ReadTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond, MaxConns: 2})
	ln, err := f.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := f.srv.HTTPServer()
	go hs.Serve(ln)
	defer hs.Close()
	addr := ln.Addr().String()
	closedWithin := func(c net.Conn, d time.Duration) bool {
		c.SetReadDeadline(time.Now().Add(d))
		_, err := io.ReadAll(c) // returns at EOF (closed by the server) or at the deadline
		var ne net.Error
		return !(errors.As(err, &ne) && ne.Timeout())
	}
	send := func(req string) net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, req)
		return c
	}
	for _, c := range []struct{ what, req string }{
		{"slow-body", "POST /v1/recognize HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\nx"},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
	} {
		conn := send(c.req)
		if !closedWithin(conn, 10*time.Second) {
			t.Fatalf("%s connection still open", c.what)
		}
		conn.Close()
	}
	// MaxConns 2: two open connections hold the third off until one closes
	a, _ := net.Dial("tcp", addr)
	b, _ := net.Dial("tcp", addr)
	defer a.Close()
	defer b.Close()
	fmt.Fprintf(a, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") // make sure both were accepted
	fmt.Fprintf(b, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 12)
	io.ReadFull(a, buf)
	io.ReadFull(b, buf)
	cl := &http.Client{Timeout: 150 * time.Millisecond}
	if resp, err := cl.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a third connection was served while two were open")
	}
	a.Close()
	cl.Timeout = 10 * time.Second
	resp, err := cl.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("after a connection closed: %v", err)
	}
	resp.Body.Close()
}

// TestMethodNotAllowed: a known path with another method is 405 with Allow.
func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t, Config{})
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/v1/recognize", "POST"},
		{"PUT", "/v1/gallery/items", "GET, POST"},
		{"GET", "/shitu-infer", "POST"},
		{"POST", "/v1/gallery/items/3", "GET, DELETE"},
	} {
		req, _ := http.NewRequest(c.method, f.ts.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 405 || resp.Header.Get("Allow") != c.allow || !strings.Contains(string(b), "method_not_allowed") {
			t.Errorf("%s %s: %d Allow %q %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), b)
		}
	}
	if code, _ := doReq(t, http.MethodGet, f.ts.URL+"/v1/nothing"); code != 404 {
		t.Errorf("unknown path: %d", code)
	}
}

// TestOpenAPIDescribed: every parameter of the OpenAPI document says what it is.
func TestOpenAPIDescribed(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Parameters []struct{ Name, Description string } `json:"parameters"`
			}
			json.Unmarshal(raw, &op)
			for _, p := range op.Parameters {
				n++
				if strings.TrimSpace(p.Description) == "" {
					t.Errorf("%s %s: parameter %s has no description", method, path, p.Name)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d parameters found", n)
	}
}

// TestSyntheticMarked: answers of seeded models say so.
func TestSyntheticMarked(t *testing.T) {
	dir := t.TempDir()
	g, err := gallery.Create(dir+"/default", gallery.Options{Model: "fake", Dims: dims, Method: gallery.MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := shitu.New(shitu.Parts{Extractor: &paletteEmbedder{}, Model: "fake", Recognize: recognize.Options{NoDetector: true},
		Galleries: map[string]*gallery.Gallery{"default": g}, Synthetic: true}, shitu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	s, err := New(sys, Config{Recognize: recognize.Options{NoDetector: true}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	r, err := (&api.Client{Base: ts.URL}).Recognize(context.Background(), pngBytes(t, solid(palette[0], 8, 8)), api.RecognizeOptions{})
	if err != nil || !r.Synthetic {
		t.Fatalf("synthetic field: %v %+v", err, r)
	}
	if s.painter.Mark == "" {
		t.Fatal("visualisations are not marked")
	}
}
