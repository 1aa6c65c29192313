package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Progress receives the bytes done and the total (-1 when unknown). It is
// called from the downloading goroutine, at most every 64 KiB or so, and
// once at the end.
type Progress func(done, total int64)

// FetchOptions configure Fetch. The zero value means: http.DefaultClient,
// 4 attempts, 500 ms first backoff, no expected size or digest, no progress.
type FetchOptions struct {
	// Client performs the requests (default http.DefaultClient).
	Client *http.Client
	// Attempts is the number of tries, each resuming where the previous one
	// stopped (default 4).
	Attempts int
	// Backoff is the wait before the second try, doubled after each failure
	// (default 500 ms).
	Backoff time.Duration
	// Size is the expected size in bytes (0: take it from the server).
	Size int64
	// SHA256 is the expected hex digest (empty: not checked, only computed).
	SHA256 string
	// Progress, if set, is told about the bytes received.
	Progress Progress
}

// FetchResult is what Fetch produced.
type FetchResult struct {
	Path   string // the complete file
	Size   int64
	SHA256 string // hex digest of the complete file
	// Resumed is true when bytes already on disk (a .part file from an
	// earlier attempt or run) were kept.
	Resumed bool
}

// Fetch downloads src into dest. src is an http(s) URL, a file:// URL or a
// local path. Bytes go to dest+".part" first: an interrupted download
// (error, cancellation, a killed process) resumes from there with an HTTP
// Range request on the next attempt or the next call. When the file is
// complete its size and sha256 are checked (ErrSize, ErrChecksum; a file
// that fails the check is deleted) and it is renamed to dest.
func Fetch(ctx context.Context, src, dest string, o FetchOptions) (FetchResult, error) {
	if o.Client == nil {
		o.Client = http.DefaultClient
	}
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return FetchResult{}, fmt.Errorf("%w: %v", ErrDownload, err)
	}
	part := dest + ".part"
	res := FetchResult{Path: dest}
	if local, ok := localPath(src); ok {
		if err := copyLocal(ctx, local, part, o.Progress); err != nil {
			return res, err
		}
	} else {
		resumed, err := fetchHTTP(ctx, src, part, &o)
		res.Resumed = resumed
		if err != nil {
			return res, err
		}
	}
	size, sum, err := hashFile(part)
	if err != nil {
		return res, fmt.Errorf("%w: %v", ErrDownload, err)
	}
	res.Size, res.SHA256 = size, sum
	if o.Size > 0 && size != o.Size {
		os.Remove(part)
		return res, fmt.Errorf("%w: %s is %d bytes, want %d", ErrSize, src, size, o.Size)
	}
	if o.SHA256 != "" && !strings.EqualFold(sum, o.SHA256) {
		os.Remove(part)
		return res, fmt.Errorf("%w: %s has sha256 %s, want %s", ErrChecksum, src, sum, strings.ToLower(o.SHA256))
	}
	if err := os.Rename(part, dest); err != nil {
		return res, fmt.Errorf("%w: %v", ErrDownload, err)
	}
	return res, nil
}

// localPath reports whether src names a local file (a path or file:// URL).
func localPath(src string) (string, bool) {
	if strings.HasPrefix(src, "file://") {
		u, err := url.Parse(src)
		if err != nil {
			return "", false
		}
		return u.Path, true
	}
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		return "", false
	}
	return src, true
}

func copyLocal(ctx context.Context, src, part string, progress Progress) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDownload, err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDownload, err)
	}
	out, err := os.Create(part)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDownload, err)
	}
	w := &progressWriter{w: out, total: st.Size(), fn: progress, ctx: ctx}
	_, err = io.Copy(w, in)
	w.flush()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%w: copying %s: %v", ErrDownload, src, err)
	}
	return nil
}

// fetchHTTP fills part from src, resuming, retrying. It reports whether
// bytes already present were kept.
func fetchHTTP(ctx context.Context, src, part string, o *FetchOptions) (resumed bool, err error) {
	wait := o.Backoff
	var last error
	for attempt := 0; attempt < o.Attempts; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return resumed, fmt.Errorf("%w: %s: %v", ErrDownload, src, ctx.Err())
			case <-time.After(wait):
			}
			wait *= 2
		}
		done, r, err := fetchOnce(ctx, src, part, o)
		resumed = resumed || r
		if done {
			return resumed, nil
		}
		last = err
		var perm permanentError
		if errors.As(err, &perm) || ctx.Err() != nil {
			break
		}
	}
	return resumed, fmt.Errorf("%w: %s: %w", ErrDownload, src, last)
}

type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }

// fetchOnce performs one request. It returns done when part holds the whole
// file.
func fetchOnce(ctx context.Context, src, part string, o *FetchOptions) (done, resumed bool, err error) {
	var have int64
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	if o.Size > 0 && have > o.Size {
		// More bytes than the file has: the partial file is not ours.
		have = 0
		os.Remove(part)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return false, false, permanentError{err}
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()

	total := int64(-1)
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return false, false, fmt.Errorf("server answered range %q to a request from byte %d", resp.Header.Get("Content-Range"), have)
		}
		total = size
		flags |= os.O_APPEND
		resumed = true
	case resp.StatusCode == http.StatusOK:
		have = 0
		flags |= os.O_TRUNC
		total = resp.ContentLength
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		// The part file may already be complete.
		if _, size, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && size == have {
			report(o.Progress, have, have)
			return true, true, nil
		}
		os.Remove(part)
		return false, false, fmt.Errorf("server refused to resume at byte %d", have)
	default:
		err := fmt.Errorf("HTTP %s", resp.Status)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			return false, false, permanentError{err}
		}
		return false, false, err
	}
	if o.Size > 0 && total > 0 && total != o.Size {
		return false, resumed, permanentError{fmt.Errorf("%w: server reports %d bytes, want %d", ErrSize, total, o.Size)}
	}
	if total < 0 && o.Size > 0 {
		total = o.Size
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return false, resumed, permanentError{err}
	}
	w := &progressWriter{w: f, done: have, total: total, fn: o.Progress, ctx: ctx}
	_, cerr := io.Copy(w, resp.Body)
	w.flush()
	if err := f.Close(); cerr == nil {
		cerr = err
	}
	if cerr != nil {
		return false, resumed, cerr
	}
	if total >= 0 && w.done != total {
		return false, resumed, fmt.Errorf("connection closed at byte %d of %d", w.done, total)
	}
	return true, resumed, nil
}

// parseContentRange reads "bytes START-END/SIZE" or "bytes */SIZE".
func parseContentRange(s string) (start, size int64, ok bool) {
	s, found := strings.CutPrefix(strings.TrimSpace(s), "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, sz, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	size, err := strconv.ParseInt(sz, 10, 64)
	if err != nil {
		size = -1
	}
	if rng == "*" {
		return -1, size, err == nil
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err = strconv.ParseInt(a, 10, 64)
	return start, size, err == nil
}

type progressWriter struct {
	w           io.Writer
	done, total int64
	last        int64
	fn          Progress
	ctx         context.Context
}

func (p *progressWriter) Write(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.fn != nil && p.done-p.last >= 64<<10 {
		p.last = p.done
		p.fn(p.done, p.total)
	}
	return n, err
}

func (p *progressWriter) flush() { report(p.fn, p.done, p.total) }

func report(fn Progress, done, total int64) {
	if fn != nil {
		fn(done, total)
	}
}

// hashFile returns the size and hex sha256 of a file.
func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
