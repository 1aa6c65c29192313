package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/paddleclas"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/vecindex"
)

// palette: a "product" is a solid colour; the fake embedder maps an image
// to the one-hot vector of its nearest palette colour, so scores are
// exactly 1 or 0 and answers can be compared byte for byte.
var palette = []color.RGBA{{220, 30, 30, 255}, {30, 200, 40, 255}, {30, 40, 220, 255}, {230, 220, 30, 255},
	{200, 30, 200, 255}, {30, 210, 210, 255}, {250, 250, 250, 255}, {10, 10, 10, 255}}

const dims = 8

type paletteEmbedder struct {
	mu    sync.Mutex
	block chan struct{} // when set, Embed waits on it
}

func (e *paletteEmbedder) Extract(ctx context.Context, crops []*imaging.Image) ([][]float32, error) {
	e.mu.Lock()
	b := e.block
	e.mu.Unlock()
	if b != nil {
		select {
		case <-b:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([][]float32, len(crops))
	for i, c := range crops {
		var s [3]int
		n := c.W * c.H
		for p := 0; p < n; p++ {
			for k := 0; k < 3; k++ {
				s[k] += int(c.Pix[3*p+k])
			}
		}
		best, bd := 0, 1<<62
		for j, pc := range palette {
			d := 0
			for k, v := range [3]uint8{pc.R, pc.G, pc.B} {
				x := s[k]/n - int(v)
				d += x * x
			}
			if d < bd {
				best, bd = j, d
			}
		}
		out[i] = make([]float32, dims)
		out[i][best] = 1
	}
	return out, nil
}

func solid(c color.RGBA, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h; i++ {
		img.Pix[4*i], img.Pix[4*i+1], img.Pix[4*i+2], img.Pix[4*i+3] = c.R, c.G, c.B, 255
	}
	return img
}

func pngBytes(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type fixture struct {
	srv *Server
	ts  *httptest.Server
	c   *api.Client
	g   *gallery.Gallery
	emb *paletteEmbedder
	sys *shitu.System
	dir string
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	g, err := gallery.Create(dir+"/default", gallery.Options{Model: "fake", Dims: dims, Metric: vecindex.IP, Method: gallery.MethodFlat})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	emb := &paletteEmbedder{}
	sys, g := openFixtureSystem(t, dir, emb)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Recognize.NoDetector = true
	if cfg.Store == nil {
		cfg.Store = &DirStore{Root: dir + "/created"}
	}
	s, err := New(sys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &fixture{srv: s, ts: ts, c: &api.Client{Base: ts.URL, APIKey: cfg.APIKey}, g: g, emb: emb, sys: sys, dir: dir}
}

// openFixtureSystem opens the fixture's default gallery in dir into a
// System with the fake embedder; new galleries are 8-dim Flat IP ones.
func openFixtureSystem(t testing.TB, dir string, emb *paletteEmbedder) (*shitu.System, *gallery.Gallery) {
	t.Helper()
	g, err := gallery.Open(dir+"/default", gallery.Options{Model: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := shitu.New(shitu.Parts{Extractor: emb, Model: "fake", Recognize: recognize.Options{NoDetector: true},
		Galleries:    map[string]*gallery.Gallery{"default": g},
		IndexProcess: paddleclas.IndexProcess{EmbeddingSize: dims, IndexMethod: gallery.MethodFlat, DistType: "IP"}}, shitu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.Close() })
	return sys, g
}

func (f *fixture) addColours(t testing.TB, names ...string) []api.Item {
	t.Helper()
	var items []api.NewItem
	for i, n := range names {
		items = append(items, api.NewImageItem(pngBytes(t, solid(palette[i], 32, 24)), n, map[string]string{"shelf": "a"}))
	}
	r, err := f.c.AddItems(context.Background(), "", items...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Items
}

func TestRecognizeForms(t *testing.T) {
	f := newFixture(t, Config{})
	f.addColours(t, "red", "green", "blue")
	ctx := context.Background()
	img := jpegBytes(t, solid(palette[1], 64, 48))
	check := func(name string, r *api.RecognizeResponse, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(r.Objects) != 1 || r.Objects[0].Label == nil || *r.Objects[0].Label != "green" || r.Objects[0].Score != 1 ||
			r.Objects[0].BBox != (api.Box{0, 0, 64, 48}) || len(r.Objects[0].Candidates) != 3 || r.Width != 64 || r.GalleryVersion == 0 {
			t.Fatalf("%s: %+v", name, r)
		}
	}
	r, err := f.c.Recognize(ctx, img, api.RecognizeOptions{})
	check("json", r, err)
	r, err = f.c.RecognizeRaw(ctx, img, "image/jpeg", "")
	check("raw", r, err)
	// multipart
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "q.jpg")
	fw.Write(img)
	mw.Close()
	resp, err := http.Post(f.ts.URL+"/v1/recognize?topk=2", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var mr api.RecognizeResponse
	json.NewDecoder(resp.Body).Decode(&mr)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(mr.Objects) != 1 || len(mr.Objects[0].Candidates) != 2 {
		t.Fatalf("multipart: %d %+v", resp.StatusCode, mr)
	}
	// unknown: a colour not in the gallery answers label null with candidates
	r, err = f.c.Recognize(ctx, pngBytes(t, solid(palette[5], 20, 20)), api.RecognizeOptions{})
	if err != nil || len(r.Objects) != 1 || r.Objects[0].Label != nil || len(r.Objects[0].Candidates) == 0 {
		t.Fatalf("unknown: %v %+v", err, r)
	}
	// label filter: only "red" may answer, so green is unknown
	r, err = f.c.Recognize(ctx, img, api.RecognizeOptions{Labels: []string{"red"}})
	if err != nil || r.Objects[0].Label != nil || r.Objects[0].Candidates[0].Label != "red" {
		t.Fatalf("filter: %v %+v", err, r.Objects)
	}
	// visualize returns a JPEG
	r, err = f.c.Recognize(ctx, img, api.RecognizeOptions{Visualize: true})
	if err != nil {
		t.Fatal(err)
	}
	jb, _ := base64.StdEncoding.DecodeString(r.Image)
	if _, err := jpeg.Decode(bytes.NewReader(jb)); err != nil {
		t.Fatalf("visualization is not a JPEG: %v", err)
	}
}

func TestGalleryEndpoints(t *testing.T) {
	f := newFixture(t, Config{APIKey: "k3y"})
	ctx := context.Background()
	items := f.addColours(t, "red", "green", "blue", "red")
	if len(items) != 4 || items[0].SHA256 == "" || items[0].Metadata["shelf"] != "a" {
		t.Fatalf("added %+v", items)
	}
	list, err := f.c.ListItems(ctx, "", "red", 0, 0)
	if err != nil || len(list.Items) != 2 || list.Next != -1 {
		t.Fatalf("list red: %v %+v", err, list)
	}
	page, err := f.c.ListItems(ctx, "", "", 0, 3)
	if err != nil || len(page.Items) != 3 || page.Next != items[3].ID {
		t.Fatalf("page: %v %+v", err, page)
	}
	it, err := f.c.GetItem(ctx, "", items[1].ID)
	if err != nil || it.Label != "green" {
		t.Fatalf("get: %v %+v", err, it)
	}
	info, err := f.c.Gallery(ctx, "")
	if err != nil || info.Items != 4 || info.Labels != 3 || info.Model != "fake" || info.Dims != dims {
		t.Fatalf("info: %v %+v", err, info)
	}
	v0 := info.Version
	rm, err := f.c.DeleteItem(ctx, "", items[1].ID)
	if err != nil || rm.Removed != 1 || rm.GalleryVersion <= v0 {
		t.Fatalf("delete: %v %+v", err, rm)
	}
	// visible to the next recognition
	r, err := f.c.Recognize(ctx, pngBytes(t, solid(palette[1], 10, 10)), api.RecognizeOptions{})
	if err != nil || r.Objects[0].Label != nil {
		t.Fatalf("removed green still recognised: %v %+v", err, r.Objects)
	}
	rm, err = f.c.DeleteLabel(ctx, "", "red")
	if err != nil || rm.Removed != 2 {
		t.Fatalf("delete label: %v %+v", err, rm)
	}
	// unknown ids and labels: 404 with a JSON error
	for _, call := range []func() error{
		func() error { _, err := f.c.GetItem(ctx, "", 9999); return err },
		func() error { _, err := f.c.DeleteItem(ctx, "", 9999); return err },
		func() error { _, err := f.c.DeleteLabel(ctx, "", "nope"); return err },
		func() error { _, err := f.c.Gallery(ctx, "nope"); return err },
	} {
		var e *api.Error
		if err := call(); !errors.As(err, &e) || e.Status != 404 || e.Code != "not_found" {
			t.Fatalf("want 404, got %v", err)
		}
	}
	// the API key is required for changes, not for reads
	anon := &api.Client{Base: f.ts.URL}
	var e *api.Error
	if _, err := anon.AddItems(ctx, "", api.NewImageItem(pngBytes(t, solid(palette[0], 8, 8)), "x", nil)); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("add without key: %v", err)
	}
	if _, err := anon.DeleteItem(ctx, "", items[2].ID); !errors.As(err, &e) || e.Status != 401 {
		t.Fatalf("delete without key: %v", err)
	}
	if _, err := anon.Gallery(ctx, ""); err != nil {
		t.Fatalf("read without key: %v", err)
	}
	// multipart add
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "c.png")
	fw.Write(pngBytes(t, solid(palette[3], 8, 8)))
	mw.WriteField("label", "yellow")
	mw.WriteField("metadata", `{"sku":"42"}`)
	mw.Close()
	req, _ := http.NewRequest("POST", f.ts.URL+"/v1/gallery/items", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("X-API-Key", "k3y")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ar api.AddItemsResponse
	json.NewDecoder(resp.Body).Decode(&ar)
	resp.Body.Close()
	if resp.StatusCode != 201 || len(ar.Items) != 1 || ar.Items[0].Label != "yellow" || ar.Items[0].Metadata["sku"] != "42" {
		t.Fatalf("multipart add: %d %+v", resp.StatusCode, ar)
	}
}

func TestServingCompatBytes(t *testing.T) {
	f := newFixture(t, Config{})
	f.addColours(t, "元气森林", "it's green")
	body := `{"key":["image"],"value":["` + base64.StdEncoding.EncodeToString(jpegBytes(t, solid(palette[0], 64, 48))) + `"]}`
	resp, err := http.Post(f.ts.URL+"/recognition/prediction", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"err_no":0,"err_msg":"","key":["result"],"value":["[{'bbox': [0, 0, 64, 48], 'rec_docs': '元气森林', 'rec_scores': 1.0}]"],"tensors":[]}` + "\n"
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	body = `{"key":["image"],"value":["` + base64.StdEncoding.EncodeToString(pngBytes(t, solid(palette[1], 9, 9))) + `"]}`
	resp, _ = http.Post(f.ts.URL+"/recognition/prediction", "application/json", strings.NewReader(body))
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	want = `{"err_no":0,"err_msg":"","key":["result"],"value":["[{'bbox': [0, 0, 9, 9], 'rec_docs': \"it's green\", 'rec_scores': 1.0}]"],"tensors":[]}` + "\n"
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	// errors: err_no ≠ 0
	resp, _ = http.Post(f.ts.URL+"/recognition/prediction", "application/json", strings.NewReader(`{"key":["image"],"value":["bm90IGFuIGltYWdl"]}`))
	var sr api.ServingResponse
	json.NewDecoder(resp.Body).Decode(&sr)
	resp.Body.Close()
	if sr.ErrNo == 0 || sr.ErrMsg == "" || len(sr.Value) != 0 {
		t.Fatalf("error answer: %+v", sr)
	}
}

func TestPaddleXCompat(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	b64 := func(c int) string { return base64.StdEncoding.EncodeToString(pngBytes(t, solid(palette[c], 16, 16))) }
	build, err := f.c.PXBuild(ctx, api.PXBuildRequest{ImageLabelPairs: []api.PXImageLabelPair{{Image: b64(0), Label: "red"}, {Image: b64(2), Label: "blue"}}})
	if err != nil || build.ErrorCode != 0 || build.ErrorMsg != "Success" || len(build.Result.IDMap) != 2 || build.Result.IDMap[1] != "blue" || build.Result.IndexKey == "" || build.LogID == "" {
		t.Fatalf("build: %v %+v", err, build)
	}
	key := build.Result.IndexKey
	add, err := f.c.PXAdd(ctx, api.PXAddRequest{IndexKey: key, ImageLabelPairs: []api.PXImageLabelPair{{Image: b64(1), Label: "green"}}})
	if err != nil || len(add.Result.IDMap) != 3 || add.Result.IDMap[2] != "green" {
		t.Fatalf("add: %v %+v", err, add)
	}
	topk := 2
	no := false
	inf, err := f.c.PXInfer(ctx, api.PXInferRequest{Image: b64(1), IndexKey: key, TopK: &topk, Visualize: &no})
	if err != nil || len(inf.Result.DetectedObjects) != 1 {
		t.Fatalf("infer: %v %+v", err, inf)
	}
	o := inf.Result.DetectedObjects[0]
	if o.BBox != [4]float32{0, 0, 16, 16} || len(o.RecResults) != 2 || o.RecResults[0] != (api.PXRecResult{Label: "green", Score: 1}) || inf.Result.Image != nil {
		t.Fatalf("infer object: %+v", inf.Result)
	}
	// the default gallery is untouched by the built one
	if f.g.Len() != 0 {
		t.Fatalf("default gallery changed: %d", f.g.Len())
	}
	rm, err := f.c.PXRemove(ctx, api.PXRemoveRequest{IndexKey: key, IDs: []int64{0, 1}})
	if err != nil || len(rm.Result.IDMap) != 1 || rm.Result.IDMap[2] != "green" {
		t.Fatalf("remove: %v %+v", err, rm)
	}
	// raw bytes of one answer: the envelope's fields and order
	resp, _ := http.Post(f.ts.URL+"/shitu-index-remove", "application/json", strings.NewReader(`{"ids":[7],"indexKey":"`+key+`"}`))
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]json.RawMessage
	json.Unmarshal(raw, &m)
	if !strings.HasPrefix(string(raw), `{"logId":"`) || !strings.HasSuffix(string(raw), `,"errorCode":0,"errorMsg":"Success","result":{"idMap":{"2":"green"}}}`+"\n") || len(m) != 4 {
		t.Fatalf("envelope bytes: %s", raw)
	}
	// an unknown index key is an error envelope
	resp, _ = http.Post(f.ts.URL+"/shitu-infer", "application/json", strings.NewReader(`{"image":"`+b64(0)+`","indexKey":"nope"}`))
	var env api.PXEnvelope[api.PXInferResult]
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if resp.StatusCode != 404 || env.ErrorCode != 404 || env.Result != nil {
		t.Fatalf("unknown key: %d %+v", resp.StatusCode, env)
	}
}

// pngHeader is a PNG whose IHDR claims w×h, with a valid CRC and no data.
func pngHeader(w, h uint32) []byte {
	b := []byte("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2
	chunk := append([]byte("IHDR"), ihdr...)
	b = binary.BigEndian.AppendUint32(b, 13)
	b = append(b, chunk...)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
	return b
}

func TestBadInput(t *testing.T) {
	f := newFixture(t, Config{MaxBodyBytes: 1 << 20})
	f.addColours(t, "red")
	good := jpegBytes(t, solid(palette[0], 64, 64))
	cases := []struct {
		name, ctype string
		body        []byte
		status      int
	}{
		{"not an image", "image/jpeg", []byte("hello, world"), 422},
		{"truncated jpeg", "image/jpeg", good[:len(good)/2], 422},
		{"20000x20000 png header", "image/png", pngHeader(20000, 20000), 413},
		{"body over the limit", "image/jpeg", bytes.Repeat([]byte{0xff}, 2<<20), 413},
		{"wrong content type", "text/plain", good, 415},
		{"malformed json", "application/json", []byte(`{"image": `), 400},
		{"json without image", "application/json", []byte(`{}`), 400},
		{"bad base64", "application/json", []byte(`{"image":"***"}`), 400},
		{"empty body", "image/jpeg", nil, 400},
	}
	for _, c := range cases {
		resp, err := http.Post(f.ts.URL+"/v1/recognize", c.ctype, bytes.NewReader(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var eb api.ErrorBody
		derr := json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != c.status || derr != nil || eb.Error.Message == "" {
			t.Errorf("%s: status %d (want %d), body %+v %v", c.name, resp.StatusCode, c.status, eb, derr)
		} else {
			t.Logf("%s: %d %s: %s", c.name, resp.StatusCode, eb.Error.Code, eb.Error.Message)
		}
	}
	for _, path := range []string{"/v1/gallery/items/abc", "/v1/nothing"} {
		resp, _ := http.Get(f.ts.URL + path)
		resp.Body.Close()
		if resp.StatusCode/100 != 4 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	// still answering
	r, err := f.c.Recognize(context.Background(), good, api.RecognizeOptions{})
	if err != nil || *r.Objects[0].Label != "red" {
		t.Fatalf("after bad input: %v %+v", err, r)
	}
}

func TestQueueFull(t *testing.T) {
	f := newFixture(t, Config{Workers: 1, Queue: 1})
	f.addColours(t, "red")
	block := make(chan struct{})
	f.emb.mu.Lock()
	f.emb.block = block
	f.emb.mu.Unlock()
	img := pngBytes(t, solid(palette[0], 8, 8))
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for i := 0; i < 2; i++ { // one runs, one waits
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(f.ts.URL+"/v1/recognize", "image/png", bytes.NewReader(img))
			if err == nil {
				resp.Body.Close()
				codes <- resp.StatusCode
			}
		}()
	}
	for f.srv.load.Load() < 2 { // wait until both are admitted
		time.Sleep(time.Millisecond)
	}
	resp, err := http.Post(f.ts.URL+"/v1/recognize", "image/png", bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Paddle Serving's endpoint keeps its convention (HTTP 200, err_no 429)
	// and sends Retry-After too.
	sresp, err := http.Post(f.ts.URL+"/recognition/prediction", "application/json", strings.NewReader(`{"key":["image"],"value":["`+b64(img)+`"]}`))
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := io.ReadAll(sresp.Body)
	sresp.Body.Close()
	if sresp.StatusCode != 200 || sresp.Header.Get("Retry-After") == "" || !strings.Contains(string(sb), `"err_no":429`) {
		t.Fatalf("serving overload: %d Retry-After %q %s", sresp.StatusCode, sresp.Header.Get("Retry-After"), sb)
	}
	close(block)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("queued request: %d", c)
		}
	}
}

func TestOpsEndpoints(t *testing.T) {
	f := newFixture(t, Config{})
	f.addColours(t, "red")
	f.c.Recognize(context.Background(), pngBytes(t, solid(palette[0], 8, 8)), api.RecognizeOptions{})
	get := func(p string) (int, string) {
		resp, err := http.Get(f.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	if c, _ := get("/healthz"); c != 200 {
		t.Fatal("healthz", c)
	}
	if c, _ := get("/readyz"); c != 200 {
		t.Fatal("readyz", c)
	}
	f.srv.SetReady(false)
	if c, _ := get("/readyz"); c != 503 {
		t.Fatal("readyz not ready", c)
	}
	c, m := get("/metrics")
	for _, want := range []string{`shitu_http_requests_total{route="POST /v1/recognize",code="200"} 1`,
		`shitu_stage_duration_seconds_count{stage="rec"} 1`, `shitu_gallery_items{gallery="default"} 1`, "shitu_http_in_flight 1"} {
		if c != 200 || !strings.Contains(m, want) {
			t.Fatalf("metrics lack %q:\n%s", want, m)
		}
	}
	c, doc := get("/v1/openapi.json")
	var spec struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if c != 200 || json.Unmarshal([]byte(doc), &spec) != nil || spec.OpenAPI == "" {
		t.Fatalf("openapi: %d", c)
	}
	for _, p := range []string{"/v1/recognize", "/v1/gallery/items", "/v1/gallery/items/{id}", "/v1/gallery/labels/{label}",
		"/v1/gallery", "/recognition/prediction", "/shitu-infer", "/shitu-index-build", "/shitu-index-add", "/shitu-index-remove"} {
		if spec.Paths[p] == nil {
			t.Errorf("openapi lacks %s", p)
		}
	}
}

// TestStoredThresholds: thresholds stored in the gallery (by calibration)
// decide "unknown" per label, in the REST answer and the Paddle Serving
// one; a request that names its own threshold overrides them.
func TestStoredThresholds(t *testing.T) {
	f := newFixture(t, Config{})
	f.addColours(t, "red", "green")
	if err := f.g.SetThresholds(0.9, map[string]float32{"red": 1.5}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	red, green := pngBytes(t, solid(palette[0], 8, 8)), pngBytes(t, solid(palette[1], 8, 8))
	r, err := f.c.Recognize(ctx, red, api.RecognizeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := r.Objects[0]
	if o.Label != nil || o.Threshold != 1.5 || o.Score != 1 || o.Candidates[0].Label != "red" {
		t.Fatalf("red above its stored threshold: %+v", o)
	}
	r, _ = f.c.Recognize(ctx, green, api.RecognizeOptions{})
	if o := r.Objects[0]; o.Label == nil || *o.Label != "green" || o.Threshold != 0.9 {
		t.Fatalf("green with the stored global threshold: %+v", o)
	}
	th := float32(0.5)
	r, _ = f.c.Recognize(ctx, red, api.RecognizeOptions{ScoreThreshold: &th})
	if o := r.Objects[0]; o.Label == nil || o.Threshold != 0.5 {
		t.Fatalf("request threshold must override: %+v", o)
	}
	sr, err := f.c.Serving(ctx, red)
	if err != nil || sr.ErrNo != 0 || sr.Value[0] != "[]" {
		t.Fatalf("serving: %v %+v", err, sr)
	}
}
