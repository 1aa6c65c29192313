package console

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/server"
)

// view is what every page template gets.
type view struct {
	Title     string
	Nav       string // recognize, galleries, review
	CSRF      string
	KeySet    bool
	LoggedIn  bool
	Synthetic bool
	Galleries []string
	Gallery   string
	Error     string
	Done      string
	Data      any
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func (c *Console) view(w http.ResponseWriter, r *http.Request, nav, title string) *view {
	return &view{Title: title, Nav: nav, CSRF: c.csrfToken(w, r), KeySet: c.srv.KeySet(), LoggedIn: c.loggedIn(r),
		Synthetic: c.srv.Synthetic(), Galleries: c.srv.Galleries(), Gallery: c.galleryName(r),
		Done: r.URL.Query().Get("done")}
}

// galleryName is the gallery a request names ("g"), else the default one.
func (c *Console) galleryName(r *http.Request) string {
	g := r.URL.Query().Get("g")
	if g == "" && r.Method == "POST" {
		g = r.PostFormValue("g")
	}
	if g == "" {
		g = c.srv.DefaultGallery()
	}
	return g
}

func (c *Console) gallery(r *http.Request) (string, *gallery.Gallery, error) {
	name := c.galleryName(r)
	g, err := c.srv.Gallery(name)
	return name, g, err
}

// render writes a page (or, for htmx requests, the template named frag
// when not empty) with status code.
func (c *Console) render(w http.ResponseWriter, r *http.Request, code int, page, frag string, v *view) {
	t := c.pages[page]
	name := "layout"
	if frag != "" && r.Header.Get("HX-Request") != "" {
		name = frag
	}
	var b bytes.Buffer
	if err := t.ExecuteTemplate(&b, name, v); err != nil {
		c.cfg.Logger.Error("console template", "page", page, "error", err.Error())
		http.Error(w, "console: page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// fail shows an error on the page: a fragment for htmx requests, else a
// page with the message and the way back.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, code int, err error) {
	v := c.view(w, r, "", "Error")
	v.Error = friendly(err)
	if errors.Is(err, ErrLogin) || errors.Is(err, ErrExpired) {
		v.Data = server.ConsolePrefix + "login?next=" + urlQueryEscape(refererPath(r))
	}
	c.render(w, r, code, "error", "error", v)
}

// refererPath is the local page a request came from, for "log in and come back".
func refererPath(r *http.Request) string {
	if u, err := url.Parse(r.Referer()); err == nil && u.Path != "" && u.Host == r.Host {
		return u.RequestURI()
	}
	if r.Method == "GET" {
		return r.URL.RequestURI()
	}
	return "/"
}

// friendly turns an error into a sentence for the page.
func friendly(err error) string {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return fmt.Sprintf("The upload is larger than this server accepts (%d MiB per request).", mbe.Limit>>20)
	case errors.Is(err, imaging.ErrTooLarge):
		return "The image is too large: " + err.Error()
	case errors.Is(err, imaging.ErrFormat), errors.Is(err, imaging.ErrUnsupported), errors.Is(err, imaging.ErrSize):
		return "That file is not an image shitu can read (JPEG, PNG, BMP, GIF, WebP, TIFF): " + err.Error()
	}
	code := statusOf(err)
	if code >= 500 && code != http.StatusServiceUnavailable && code != http.StatusInsufficientStorage && code != http.StatusNotImplemented {
		return "Something went wrong on the server: " + err.Error()
	}
	m := strings.TrimPrefix(err.Error(), "console: ")
	if m != "" && m[0] >= 'a' && m[0] <= 'z' { // a sentence on the page
		m = string(m[0]-'a'+'A') + m[1:]
	}
	return m
}

// redirectDone sends the browser back to a page with a message.
func redirectDone(w http.ResponseWriter, r *http.Request, to, msg string) {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) error {
	next := r.FormValue("next")
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		next = "/"
	}
	v := c.view(w, r, "", "Log in")
	v.Data = next
	if r.Method != "POST" {
		if !c.srv.KeySet() {
			v.Done = "This server has no API key: the console needs no login."
		}
		c.render(w, r, http.StatusOK, "login", "", v)
		return nil
	}
	if !c.srv.KeySet() {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	if !c.srv.CheckKey(r.PostFormValue("key")) {
		time.Sleep(200 * time.Millisecond) // slows guessing
		v.Error = "That is not the API key of this server."
		c.render(w, r, http.StatusUnauthorized, "login", "", v)
		return nil
	}
	tok, exp := c.newSession()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", Expires: exp, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) error {
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.mu.Lock()
		delete(c.sessions, ck.Value)
		c.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

// dataURL is a JPEG data: URL for an <img>.
func dataURL(jpg []byte) template.URL {
	return template.URL("data:image/jpeg;base64," + b64(jpg))
}
