// Package console is shitu's web console, served by `shitu serve` at "/"
// beside the API: recognise an image (upload or phone camera) and see its
// boxes and candidates, browse and curate galleries, and review the
// recognitions the system was unsure of. Pages are server-rendered
// html/template with htmx (vendored, pinned by sha256) from embed.FS; it
// reaches galleries and models only through the server (package server,
// which goes through package shitu).
//
// Changing actions need the API key when one is set: a login form sets an
// HttpOnly session cookie. Every form carries a CSRF token bound to a
// per-browser cookie. Read-only pages follow the server's AuthReads.
package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/recognize"
	"github.com/shitu-go/shitu/server"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Errors of the console; the page shows their messages.
var (
	ErrLogin   = errors.New("console: log in with the API key to change galleries")
	ErrExpired = errors.New("console: your session expired; log in again")
	ErrCSRF    = errors.New("console: the form is stale or came from another site; reload the page and try again")
	ErrStale   = errors.New("console: the gallery changed meanwhile")
	ErrInput   = errors.New("console: bad input")
)

// Config tunes the console. Zero values mean the defaults in brackets.
type Config struct {
	// ReviewBelow and ReviewAbove make the unsure band of a box's best
	// score around its acceptance threshold t (the calibrated one of its
	// label when the gallery has thresholds): [t-ReviewBelow, t+ReviewAbove)
	// [0.10, 0.05]. Negative: that side of the band is empty.
	ReviewBelow, ReviewAbove float32
	// ReviewMax bounds each gallery's review queue; the oldest entries are
	// dropped [500].
	ReviewMax int
	// ReviewRate bounds how many unsure boxes of API recognitions per
	// second are queued (a burst of max(1, 4 × ReviewRate) may go at once)
	// [0.2: one every 5 s, 17 000 a day, more than people review]: under
	// load the queue samples, so keeping crops (a crop, a resize and a JPEG
	// encode each) costs the API next to nothing. The console's own
	// recognitions are always kept.
	ReviewRate float64
	// SessionTTL is how long a login lasts [12 h].
	SessionTTL time.Duration
	// Logger gets background errors [slog.Default()].
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.ReviewBelow == 0 {
		c.ReviewBelow = 0.10
	}
	if c.ReviewAbove == 0 {
		c.ReviewAbove = 0.05
	}
	if c.ReviewMax <= 0 {
		c.ReviewMax = 500
	}
	if c.ReviewRate <= 0 {
		c.ReviewRate = 0.2
	}
	if c.SessionTTL <= 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// maxSessions bounds the logins kept in memory; the oldest go first.
const maxSessions = 10000

// Console serves the web console of one server. Create it with Mount.
type Console struct {
	srv    *server.Server
	cfg    Config
	secret []byte
	pages  map[string]*template.Template
	static http.Handler

	mu       sync.Mutex
	sessions map[string]time.Time // token → expiry
	queues   map[string]*queue    // gallery dir → review queue
	closed   bool                 // no more review entries; pending.Add only while false
	// thumbFails holds the sha256s (with their source paths) whose
	// thumbnail could not be made from the source (at most maxThumbFailed;
	// then it starts over).
	thumbFails map[string]struct{}
	thumbSem   chan struct{} // thumbnails being made from sources

	decisions [3]atomic.Uint64 // accepted, relabelled, discarded
	queued    atomic.Uint64
	dropped   [3]atomic.Uint64 // by dropReasons
	bucket    tokens
	work      chan func() // review entries being written
	pending   sync.WaitGroup
}

// Close stops queueing review entries and waits for those being written.
// The pages keep working; Close is for shutdown.
func (c *Console) Close() error {
	c.mu.Lock()
	was := c.closed
	c.closed = true
	c.mu.Unlock()
	if was {
		return nil
	}
	// No Add can follow: observe adds under c.mu while closed is false.
	c.pending.Wait()
	close(c.work) // the worker ends
	return nil
}

// Mount builds the console for srv and serves it at "/" and under
// server.ConsolePrefix; API recognitions feed its review queue and its
// figures join /metrics.
func Mount(srv *server.Server, cfg Config) (*Console, error) {
	c, err := New(srv, cfg)
	if err != nil {
		return nil, err
	}
	srv.MountConsole(c)
	srv.OnRecognized(func(name string, img *imaging.Image, res *recognize.Result) { c.observe(name, img, res, true) })
	srv.AddMetrics(c.writeMetrics)
	return c, nil
}

// New builds the console without mounting it (Mount does both).
func New(srv *server.Server, cfg Config) (*Console, error) {
	if srv == nil {
		return nil, errors.New("console: a server is required")
	}
	c := &Console{srv: srv, cfg: cfg.withDefaults(), sessions: map[string]time.Time{}, queues: map[string]*queue{},
		work: make(chan func(), 64), thumbFails: map[string]struct{}{}, thumbSem: make(chan struct{}, runtime.GOMAXPROCS(0))}
	c.bucket = tokens{rate: c.cfg.ReviewRate, burst: max(1, 4*c.cfg.ReviewRate)}
	c.secret = make([]byte, 32)
	if _, err := rand.Read(c.secret); err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	if err := c.parseTemplates(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	c.static = http.StripPrefix(server.ConsolePrefix+"static/", http.FileServerFS(sub))
	go c.worker()
	return c, nil
}

func (c *Console) worker() {
	for f := range c.work {
		f()
		c.pending.Done()
	}
}

var funcs = template.FuncMap{
	"pct": func(f float32) string { return fmt.Sprintf("%.3f", f) },
	"add": func(a, b int) int { return a + b },
	"sub": func(a, b int) int { return a - b },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}

func (c *Console) parseTemplates() error {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return fmt.Errorf("console: templates: %w", err)
	}
	c.pages = map[string]*template.Template{}
	for _, p := range []string{"recognize", "galleries", "label", "review", "login", "error"} {
		t, err := template.Must(base.Clone()).ParseFS(templateFS, "templates/"+p+".html")
		if err != nil {
			return fmt.Errorf("console: template %s: %w", p, err)
		}
		c.pages[p] = t
	}
	c.pages["parts"] = base
	return nil
}

// ServeHTTP routes the console's requests.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	p := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(server.ConsolePrefix, "/"))
	if r.URL.Path == "/" {
		p = "/"
	}
	if strings.HasPrefix(p, "/static/") {
		h.Set("Cache-Control", "public, max-age=86400")
		c.static.ServeHTTP(w, r)
		return
	}
	type route struct {
		method string
		write  bool // changes a gallery: needs the key and a CSRF token
		read   bool // follows AuthReads
		h      func(http.ResponseWriter, *http.Request) error
	}
	routes := map[string]route{
		"/":              {"GET", false, true, c.pageRecognize},
		"/recognize":     {"POST", false, true, c.doRecognize},
		"/galleries":     {"GET", false, true, c.pageGalleries},
		"/label":         {"GET", false, true, c.pageLabel},
		"/thumb":         {"GET", false, true, c.serveThumb},
		"/add":           {"POST", true, true, c.doAdd},
		"/remove":        {"POST", true, true, c.doRemove},
		"/remove-label":  {"POST", true, true, c.doRemoveLabel},
		"/relabel":       {"POST", true, true, c.doRelabel},
		"/review":        {"GET", false, true, c.pageReview},
		"/review/image":  {"GET", false, true, c.serveReviewImage},
		"/review/decide": {"POST", true, true, c.doDecide},
		"/login":         {"", false, false, c.login},
		"/logout":        {"POST", false, false, c.logout},
	}
	rt, ok := routes[p]
	if !ok {
		c.fail(w, r, http.StatusNotFound, fmt.Errorf("%w: no console page %s", ErrInput, r.URL.Path))
		return
	}
	if rt.method != "" && r.Method != rt.method && !(rt.method == "GET" && r.Method == "HEAD") {
		w.Header().Set("Allow", rt.method)
		c.fail(w, r, http.StatusMethodNotAllowed, fmt.Errorf("%w: %s %s", ErrInput, r.Method, r.URL.Path))
		return
	}
	if r.Method == "POST" && p != "/login" {
		if err := c.checkCSRF(r); err != nil {
			c.fail(w, r, statusOf(err), err)
			return
		}
	}
	if (rt.write && c.srv.KeySet()) || (rt.read && c.srv.AuthReads()) {
		if err := c.session(r); err != nil {
			if r.Method == "GET" && r.Header.Get("HX-Request") == "" && rt.h != nil && p != "/thumb" && p != "/review/image" {
				http.Redirect(w, r, server.ConsolePrefix+"login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, http.StatusUnauthorized, err)
			return
		}
	}
	if err := rt.h(w, r); err != nil {
		c.fail(w, r, statusOf(err), err)
	}
}

// statusOf is the HTTP status of an error a handler returned.
func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrInput):
		return http.StatusBadRequest
	case errors.Is(err, ErrStale):
		return http.StatusConflict
	case errors.Is(err, ErrLogin), errors.Is(err, ErrExpired):
		return http.StatusUnauthorized
	case errors.Is(err, ErrCSRF):
		return http.StatusForbidden
	}
	code, _ := server.Classify(err)
	return code
}

// csrfCookie, sessionCookie name the console's cookies.
const (
	csrfCookie    = "shitu_csrf"
	sessionCookie = "shitu_session"
)

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Console) mac(s string) string {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))[:40]
}

// csrfToken returns the token forms of this browser carry, setting the
// browser's CSRF cookie when it has none.
func (c *Console) csrfToken(w http.ResponseWriter, r *http.Request) string {
	v := ""
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) == 32 {
		v = ck.Value
	} else {
		v = randomHex(16)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: v, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
		// The request itself carries the new cookie from here on, so a
		// page rendered now and the token agree.
		r.AddCookie(&http.Cookie{Name: csrfCookie, Value: v})
	}
	return c.mac("csrf:" + v)
}

// checkCSRF checks a POST's token (form field "csrf" or header
// X-CSRF-Token) against the browser's CSRF cookie.
func (c *Console) checkCSRF(r *http.Request) error {
	ck, err := r.Cookie(csrfCookie)
	if err != nil || len(ck.Value) != 32 {
		return ErrCSRF
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
			// Parts beyond memoryBytes spill to temporary files; the
			// server's body limit bounds the whole.
			if err := r.ParseMultipartForm(memoryBytes); err != nil {
				return formError(err)
			}
		} else if err := r.ParseForm(); err != nil {
			return formError(err)
		}
		tok = r.PostFormValue("csrf")
	}
	if !hmac.Equal([]byte(tok), []byte(c.mac("csrf:"+ck.Value))) {
		return ErrCSRF
	}
	return nil
}

// memoryBytes is how much of a multipart form is kept in memory.
const memoryBytes = 8 << 20

// formError explains a form that could not be read.
func formError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fmt.Errorf("%w: the upload is larger than this server accepts (%d bytes, --max-body)", err, mbe.Limit)
	}
	return fmt.Errorf("%w: the form could not be read: %v", ErrInput, err)
}

// session checks the login of a request that needs the key.
func (c *Console) session(r *http.Request) error {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		// The API's own header works too (scripts, curl).
		if k := r.Header.Get("X-API-Key"); k != "" && c.srv.CheckKey(k) {
			return nil
		}
		return ErrLogin
	}
	c.mu.Lock()
	exp, ok := c.sessions[ck.Value]
	c.mu.Unlock()
	if !ok || time.Now().After(exp) {
		return ErrExpired
	}
	return nil
}

func (c *Console) newSession() (string, time.Time) {
	tok := randomHex(32)
	exp := time.Now().Add(c.cfg.SessionTTL)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, e := range c.sessions {
		if now.After(e) {
			delete(c.sessions, k)
		}
	}
	for len(c.sessions) >= maxSessions { // drop the one expiring first
		var oldest string
		var oe time.Time
		for k, e := range c.sessions {
			if oldest == "" || e.Before(oe) {
				oldest, oe = k, e
			}
		}
		delete(c.sessions, oldest)
	}
	c.sessions[tok] = exp
	return tok, exp
}

func (c *Console) loggedIn(r *http.Request) bool {
	if !c.srv.KeySet() {
		return true
	}
	return c.session(r) == nil
}
