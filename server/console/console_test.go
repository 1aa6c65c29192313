package console

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/server"
)

// htmxVersion is the vendored htmx (npm package htmx.org, dist/htmx.min.js;
// scripts/vendor-htmx.sh fetches it with `npm pack` and records its sha256
// in static/htmx.min.js.sha256).
const htmxVersion = "2.0.11"

func TestHtmxPinned(t *testing.T) {
	b, err := staticFS.ReadFile("static/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("static/htmx.min.js.sha256")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); !strings.HasPrefix(string(want), got+"  htmx.min.js") {
		t.Fatalf("static/htmx.min.js has sha256 %s, the pin says %q", got, want)
	}
	if !bytes.Contains(b, []byte(`version:"`+htmxVersion+`"`)) {
		t.Fatalf("static/htmx.min.js is not htmx %s", htmxVersion)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func newBrowser(t *testing.T, f *fixture) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, c: &http.Client{Jar: jar}, base: f.ts.URL}
	_, body := get(t, b.c, b.base+"/ui/login")
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the login page:\n%s", body)
	}
	b.csrf = m[1]
	return b
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp, out.String()
}

func (b *browser) upload(path string, fields map[string]string, field string, files ...[]byte) (*http.Response, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", b.csrf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for i, f := range files {
		w, _ := mw.CreateFormFile(field, "f"+string(rune('0'+i))+".png")
		w.Write(f)
	}
	mw.Close()
	resp, err := b.c.Post(b.base+path, mw.FormDataContentType(), &body)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp, out.String()
}

func waitQueue(t *testing.T, f *fixture, n int) {
	t.Helper()
	q := f.con.queueOf(f.g)
	for i := 0; i < 200 && q.size() < n; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if q.size() != n {
		t.Fatalf("review queue has %d entries, want %d", q.size(), n)
	}
}

func TestRecognizeReviewAccept(t *testing.T) {
	f := newFixture(t, server.Config{}, 0)
	b := newBrowser(t, f)
	resp, body := b.upload("/ui/recognize", nil, "image", pngBytes(t, shelf(red, mauve)))
	if resp.StatusCode != 200 || !strings.Contains(body, `<tspan class="lbl">red</tspan>`) || !strings.Contains(body, `<tspan class="lbl">unknown</tspan>`) ||
		strings.Count(body, "<rect ") != 2 || !strings.Contains(body, "sent to") {
		t.Fatalf("recognise: %d\n%s", resp.StatusCode, body)
	}
	waitQueue(t, f, 1)
	// The API's recognitions feed the queue too.
	var raw bytes.Buffer
	raw.Write(pngBytes(t, shelf(mauve)))
	r2, err := http.Post(f.ts.URL+"/v1/recognize", "image/png", &raw)
	if err != nil || r2.StatusCode != 200 {
		t.Fatalf("API recognise: %v %v", r2, err)
	}
	r2.Body.Close()
	waitQueue(t, f, 2)
	_, page := get(t, b.c, b.base+"/ui/review")
	ids := regexp.MustCompile(`name="id" value="(\d+)"`).FindAllStringSubmatch(page, -1)
	if len(ids) == 0 || !strings.Contains(page, `Accept “red”`) {
		t.Fatalf("review page:\n%s", page)
	}
	n0 := f.g.Len()
	resp, body = b.post("/ui/review/decide", url.Values{"id": {ids[0][1]}, "action": {"add"}, "label": {"red"}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Added the crop under") || f.g.Len() != n0+1 {
		t.Fatalf("accept: %d, %d items\n%s", resp.StatusCode, f.g.Len(), body)
	}
	resp, body = b.post("/ui/review/decide", url.Values{"id": {ids[0][1]}, "action": {"add"}, "label": {"red"}})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "already decided") {
		t.Fatalf("second accept: %d\n%s", resp.StatusCode, body)
	}
	last := ids[len(ids)-1][1]
	if resp, _ = b.post("/ui/review/decide", url.Values{"id": {last}, "action": {"discard"}}); resp.StatusCode != 200 {
		t.Fatalf("discard: %d", resp.StatusCode)
	}
	_, m := get(t, b.c, b.base+"/metrics")
	for _, want := range []string{`shitu_review_queue{gallery="default"} 0`, `shitu_review_decisions_total{decision="accept"} 1`,
		`shitu_review_decisions_total{decision="discard"} 1`, `shitu_review_queued_total 2`} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Bad input shows a message, not a stack trace.
	resp, body = b.upload("/ui/recognize", nil, "image", []byte("%PDF-1.4 not an image"))
	if resp.StatusCode != 422 || !strings.Contains(body, "not an image") {
		t.Fatalf("non-image: %d\n%s", resp.StatusCode, body)
	}
}

func TestBadInputMessages(t *testing.T) {
	f := newFixture(t, server.Config{MaxPixels: 10_000, MaxBodyBytes: 200_000}, 0)
	b := newBrowser(t, f)
	resp, body := b.upload("/ui/recognize", nil, "image", pngBytes(t, solid(red, 200, 200)))
	if resp.StatusCode != 413 || !strings.Contains(body, "too large") {
		t.Fatalf("huge image: %d\n%s", resp.StatusCode, body)
	}
	big := make([]byte, 300_000)
	resp, body = b.upload("/ui/add", map[string]string{"label": "x"}, "images", big)
	if resp.StatusCode != 413 || !strings.Contains(body, "larger than this server accepts") {
		t.Fatalf("huge body: %d\n%s", resp.StatusCode, body)
	}
	// An edit from a page of an older version is refused with the new one.
	v := f.g.Version()
	resp, body = b.post("/ui/remove-label", url.Values{"label": {"red"}, "version": {"0"}})
	if resp.StatusCode != 409 || !strings.Contains(body, "now version") || f.g.Version() != v {
		t.Fatalf("stale edit: %d\n%s", resp.StatusCode, body)
	}
}

func TestEditNeedsLogin(t *testing.T) {
	f := newFixture(t, server.Config{APIKey: "sekret"}, 0)
	b := newBrowser(t, f)
	v := f.g.Version()
	form := url.Values{"label": {"red"}, "version": {"1"}}
	resp, body := b.post("/ui/remove-label", form)
	if resp.StatusCode != 401 || !strings.Contains(body, "Log in with the API key") || strings.Contains(body, "went wrong") || f.g.Version() != v {
		t.Fatalf("edit without key: %d\n%s", resp.StatusCode, body)
	}
	// Reads stay open without --auth-reads.
	if resp, _ := get(t, b.c, b.base+"/ui/galleries"); resp.StatusCode != 200 {
		t.Fatalf("read page: %d", resp.StatusCode)
	}
	if resp, _ := b.post("/ui/login", url.Values{"key": {"wrong"}}); resp.StatusCode != 401 {
		t.Fatalf("wrong key: %d", resp.StatusCode)
	}
	resp, _ = b.post("/ui/login", url.Values{"key": {"sekret"}, "next": {"/ui/galleries"}})
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/ui/galleries" {
		t.Fatalf("login: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// A forged form (no CSRF token) is refused even when logged in.
	resp, _ = b.post("/ui/remove-label", url.Values{"label": {"red"}, "version": {"1"}, "csrf": {"00"}})
	if resp.StatusCode != 403 || f.g.Version() != v {
		t.Fatalf("forged form: %d", resp.StatusCode)
	}
	form.Set("version", strconv.FormatUint(f.g.Version(), 10))
	resp, body = b.post("/ui/remove-label", form)
	if resp.StatusCode != 200 || !strings.Contains(body, "Removed 1 item") {
		t.Fatalf("edit logged in: %d\n%s", resp.StatusCode, body)
	}
	// An expired session says so.
	f.con.mu.Lock()
	for k := range f.con.sessions {
		f.con.sessions[k] = time.Now().Add(-time.Second)
	}
	f.con.mu.Unlock()
	resp, body = b.post("/ui/remove-label", url.Values{"label": {"green"}, "version": {"2"}})
	if resp.StatusCode != 401 || !strings.Contains(body, "session expired") {
		t.Fatalf("expired session: %d\n%s", resp.StatusCode, body)
	}
}

func TestAuthReads(t *testing.T) {
	f := newFixture(t, server.Config{APIKey: "sekret", AuthReads: true}, 0)
	b := newBrowser(t, f)
	resp, body := get(t, b.c, b.base+"/ui/galleries")
	if resp.Request.URL.Path != "/ui/login" || !strings.Contains(body, "API key") {
		t.Fatalf("read page without login ended at %s", resp.Request.URL)
	}
	if resp, _ := get(t, b.c, b.base+"/ui/static/console.css"); resp.StatusCode != 200 {
		t.Fatalf("static files: %d", resp.StatusCode)
	}
	if resp, _ := get(t, b.c, b.base+"/v1/gallery"); resp.StatusCode != 401 {
		t.Fatalf("API read without key: %d", resp.StatusCode)
	}
}

func TestReviewRate(t *testing.T) {
	b := tokens{rate: 2, burst: 4}
	t0 := time.Unix(1000, 0)
	n := 0
	for i := 0; i < 10; i++ {
		if b.take(t0) {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("burst took %d, want 4", n)
	}
	if !b.take(t0.Add(500*time.Millisecond)) || b.take(t0.Add(500*time.Millisecond)) {
		t.Fatal("after 0.5 s at 2/s exactly one more should pass")
	}
}

func TestRelabelAndCalibration(t *testing.T) {
	f := newFixture(t, server.Config{}, 0)
	if err := f.g.SetThresholds(0.8, map[string]float32{"red": 0.9, "green": 0.7}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, f)
	_, page := get(t, b.c, b.base+"/ui/galleries")
	for _, want := range []string{"global threshold 0.800, 2 label threshold(s)", `class="hist"`, "threshold 0.900"} {
		if !strings.Contains(page, want) {
			t.Fatalf("galleries page lacks %q", want)
		}
	}
	v := strconv.FormatUint(f.g.Version(), 10)
	resp, body := b.post("/ui/relabel", url.Values{"label": {"red"}, "to": {"红色"}, "version": {v}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Relabelled 1 item(s)") || !strings.Contains(body, "红色") {
		t.Fatalf("relabel: %d\n%s", resp.StatusCode, body)
	}
	if c := f.g.Labels(); c["红色"] != 1 || c["red"] != 0 {
		t.Fatalf("labels after relabel: %v", c)
	}
	items := f.g.ByLabel([]string{"红色"}, 1)["红色"]
	v = strconv.FormatUint(f.g.Version(), 10)
	resp, body = b.post("/ui/remove", url.Values{"id": {strconv.FormatInt(items[0].ID, 10)}, "version": {v}})
	if resp.StatusCode != 200 || !strings.Contains(body, "Removed item") || f.g.Len() != 2 {
		t.Fatalf("remove item: %d, %d items\n%s", resp.StatusCode, f.g.Len(), body)
	}
	// Paging and search over many labels.
	_, page = get(t, b.c, b.base+"/ui/galleries?q=GREEN")
	if !strings.Contains(page, "1 label(s) matching") {
		t.Fatalf("search is not case-insensitive:\n%s", page)
	}
}

func TestThumbFromSource(t *testing.T) {
	f := newFixture(t, server.Config{}, 0)
	src := filepath.Join(t.TempDir(), "src.png")
	data := pngBytes(t, solid(red, 40, 20))
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	// The source does not hold the item's image yet.
	if err := os.WriteFile(src, []byte("not it"), 0o644); err != nil {
		t.Fatal(err)
	}
	ids, err := f.g.Add(gallery.Item{Label: "red", Vector: []float32{1, 0, 0, 0}, Source: src, SHA256: sha})
	if err != nil {
		t.Fatal(err)
	}
	thumb := fmt.Sprintf("%s/ui/thumb?g=default&id=%d", f.ts.URL, ids[0])
	resp, _ := get(t, f.ts.Client(), thumb)
	if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" {
		t.Fatalf("thumbnail of a changed source is %s, want the placeholder", ct)
	}
	// The failure is remembered: the fixed source is not read again.
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, f.ts.Client(), thumb); resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("a failed thumbnail was made again: %s", resp.Header.Get("Content-Type"))
	}
	// A console that has not seen it fail makes it from the source.
	f.con.mu.Lock()
	clear(f.con.thumbFails)
	f.con.mu.Unlock()
	resp, body := get(t, f.ts.Client(), thumb)
	if ct := resp.Header.Get("Content-Type"); ct != "image/jpeg" {
		t.Fatalf("thumbnail of the source is %s, want image/jpeg", ct)
	}
	img, err := imaging.Decode([]byte(body), imaging.DecodeOptions{})
	if err != nil || img.W != 40 || img.H != 20 {
		t.Fatalf("thumbnail: %v, %v", img, err)
	}
}

func TestRelabelBound(t *testing.T) {
	f := newFixture(t, server.Config{}, 0)
	items := make([]gallery.Item, maxRelabel+1)
	for i := range items {
		items[i] = gallery.Item{Label: "many", Vector: []float32{0.1, 0.1, 0.1, 1}}
	}
	if _, err := f.g.Add(items...); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, f)
	v := strconv.FormatUint(f.g.Version(), 10)
	resp, body := b.post("/ui/relabel", url.Values{"label": {"many"}, "to": {"fewer"}, "version": {v}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "one relabel changes at most 10000") {
		t.Fatalf("relabel of %d items: %d\n%s", len(items), resp.StatusCode, body)
	}
	if c := f.g.Labels(); c["many"] != len(items) || c["fewer"] != 0 {
		t.Fatalf("labels after a refused relabel: %v", c)
	}
}
