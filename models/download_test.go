package models

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tarServer serves files by name; a file listed in cutOnce is cut after
// half its bytes on its first full request (the connection is aborted).
type tarServer struct {
	mu       sync.Mutex
	files    map[string][]byte
	cutOnce  map[string]bool
	noRange  bool
	requests []string // "name range"
}

func (s *tarServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	s.requests = append(s.requests, name+" "+r.Header.Get("Range"))
	body, ok := s.files[name]
	cut := s.cutOnce[name] && r.Header.Get("Range") == ""
	if cut {
		delete(s.cutOnce, name)
	}
	noRange := s.noRange
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if cut {
		w.Header().Set("Content-Length", itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:len(body)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	if noRange {
		r.Header.Del("Range")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
}

func (s *tarServer) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

func itoa(n int) string { return strconv.Itoa(n) }

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

func TestFetchResumesInterruptedDownload(t *testing.T) {
	data := payload(300 << 10)
	srv := &tarServer{files: map[string][]byte{"m.tar": data}, cutOnce: map[string]bool{"m.tar": true}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dest := filepath.Join(t.TempDir(), "m.tar")
	var last [2]int64
	res, err := Fetch(context.Background(), ts.URL+"/m.tar", dest, FetchOptions{Backoff: time.Millisecond,
		SHA256: sha(data), Progress: func(d, tot int64) { last = [2]int64{d, tot} }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.SHA256 != sha(data) || res.Size != int64(len(data)) {
		t.Fatalf("result %+v", res)
	}
	got, _ := os.ReadFile(dest)
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded bytes differ")
	}
	reqs := srv.log()
	if len(reqs) != 2 || reqs[0] != "m.tar " || reqs[1] != "m.tar bytes="+itoa(len(data)/2)+"-" {
		t.Fatalf("requests %q, want a full request then a Range from the cut", reqs)
	}
	if last != [2]int64{int64(len(data)), int64(len(data))} {
		t.Fatalf("last progress %v", last)
	}
	if _, err := os.Stat(dest + ".part"); !os.IsNotExist(err) {
		t.Fatal(".part left behind")
	}
}

func TestFetchResumesPartFromEarlierRun(t *testing.T) {
	data := payload(100 << 10)
	srv := &tarServer{files: map[string][]byte{"m.tar": data}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dest := filepath.Join(t.TempDir(), "m.tar")
	if err := os.WriteFile(dest+".part", data[:40000], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Fetch(context.Background(), ts.URL+"/m.tar", dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Resumed || res.SHA256 != sha(data) {
		t.Fatalf("result %+v", res)
	}
	if reqs := srv.log(); len(reqs) != 1 || reqs[0] != "m.tar bytes=40000-" {
		t.Fatalf("requests %q", reqs)
	}
	// A complete .part: the server answers 416 and the file is kept.
	if err := os.WriteFile(dest+".part", data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(dest)
	if res, err = Fetch(context.Background(), ts.URL+"/m.tar", dest, FetchOptions{}); err != nil || res.SHA256 != sha(data) {
		t.Fatalf("complete part: %+v %v", res, err)
	}
}

func TestFetchServerWithoutRange(t *testing.T) {
	data := payload(50 << 10)
	srv := &tarServer{files: map[string][]byte{"m.tar": data}, noRange: true}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dest := filepath.Join(t.TempDir(), "m.tar")
	os.WriteFile(dest+".part", []byte("garbage that is not the prefix"), 0o644)
	res, err := Fetch(context.Background(), ts.URL+"/m.tar", dest, FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed || res.SHA256 != sha(data) {
		t.Fatalf("a 200 answer must restart from zero: %+v", res)
	}
}

func TestFetchRefusals(t *testing.T) {
	data := payload(10 << 10)
	ts := httptest.NewServer(&tarServer{files: map[string][]byte{"m.tar": data}})
	defer ts.Close()
	tests := []struct {
		name    string
		url     string
		opts    FetchOptions
		wantErr error
	}{
		{"wrong sha256", "/m.tar", FetchOptions{SHA256: strings.Repeat("ab", 32)}, ErrChecksum},
		{"wrong size", "/m.tar", FetchOptions{Size: 999}, ErrSize},
		{"not found", "/none.tar", FetchOptions{}, ErrDownload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "m.tar")
			tc.opts.Backoff = time.Millisecond
			_, err := Fetch(context.Background(), ts.URL+tc.url, dest, tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			for _, p := range []string{dest, dest + ".part"} {
				if _, err := os.Stat(p); err == nil && tc.wantErr != ErrDownload {
					t.Errorf("%s kept after a refused download", p)
				}
			}
			if _, err := os.Stat(dest); err == nil {
				t.Errorf("%s installed after a refused download", dest)
			}
		})
	}
}

func TestFetchGivesUpAfterAttempts(t *testing.T) {
	var n int
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer ts.Close()
	_, err := Fetch(context.Background(), ts.URL+"/x", filepath.Join(t.TempDir(), "x"), FetchOptions{Attempts: 3, Backoff: time.Millisecond})
	if !errors.Is(err, ErrDownload) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("err = %v", err)
	}
	if n != 3 {
		t.Fatalf("%d attempts, want 3", n)
	}
}

func TestFetchLocal(t *testing.T) {
	dir := t.TempDir()
	data := payload(5000)
	src := filepath.Join(dir, "src.tar")
	os.WriteFile(src, data, 0o644)
	for _, s := range []string{src, "file://" + src} {
		dest := filepath.Join(dir, "out", "d.tar")
		res, err := Fetch(context.Background(), s, dest, FetchOptions{SHA256: sha(data)})
		if err != nil || res.Size != 5000 {
			t.Fatalf("%s: %+v %v", s, res, err)
		}
		os.Remove(dest)
	}
	if _, err := Fetch(context.Background(), filepath.Join(dir, "none"), filepath.Join(dir, "d"), FetchOptions{}); !errors.Is(err, ErrDownload) {
		t.Fatalf("missing local file: %v", err)
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in          string
		start, size int64
		ok          bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes */200", -1, 200, true},
		{"bytes 0-9/*", 0, -1, true},
		{"items 0-9/10", 0, 0, false},
		{"bytes x-9/10", 0, 10, false},
	}
	for _, tc := range tests {
		s, z, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (s != tc.start || z != tc.size)) {
			t.Errorf("%q: %d %d %v, want %d %d %v", tc.in, s, z, ok, tc.start, tc.size, tc.ok)
		}
	}
}
