package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// fetcher gets images given as http(s) URLs, as PaddleX's serving does,
// but only from hosts the operator allow-listed (Config.FetchAllow), with a
// time limit, the body limit of requests, and no redirect to another host
// that is not allow-listed or that resolves to a private, loopback or
// link-local address.
type fetcher struct {
	allow  []string
	max    int64
	client *http.Client
}

// fetchTimeout bounds one image download (the request's own timeout too).
const fetchTimeout = 15 * time.Second

func newFetcher(cfg Config) *fetcher {
	if len(cfg.FetchAllow) == 0 {
		return nil
	}
	f := &fetcher{max: cfg.MaxBodyBytes}
	for _, h := range cfg.FetchAllow {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			f.allow = append(f.allow, h)
		}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxResponseHeaderBytes = 64 << 10
	tr.ResponseHeaderTimeout = fetchTimeout
	f.client = &http.Client{Transport: tr, Timeout: fetchTimeout, CheckRedirect: f.checkRedirect}
	return f
}

// allowed reports whether host (without port) is on the allow-list.
func (f *fetcher) allowed(host string) bool {
	host = strings.ToLower(host)
	for _, a := range f.allow {
		if a == host {
			return true
		}
		if suf, ok := strings.CutPrefix(a, "*."); ok && strings.HasSuffix(host, "."+suf) {
			return true
		}
	}
	return false
}

func (f *fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return fmt.Errorf("%w: more than 3 redirects", errFetch)
	}
	host := req.URL.Hostname()
	if !f.allowed(host) {
		return fmt.Errorf("%w: redirect to %s, which is not on --fetch-allow", errFetch, host)
	}
	ips, err := net.DefaultResolver.LookupIPAddr(req.Context(), host)
	if err != nil {
		return fmt.Errorf("%w: redirect to %s: %v", errFetch, host, err)
	}
	for _, ip := range ips {
		if privateIP(ip.IP) {
			return fmt.Errorf("%w: redirect to %s (%s), a private address", errFetch, host, ip.IP)
		}
	}
	return nil
}

func privateIP(ip net.IP) bool {
	return ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast()
}

// get downloads one image.
func (f *fetcher) get(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: image URL %q is not an http(s) URL", errBadRequest, raw)
	}
	if !f.allowed(u.Hostname()) {
		return nil, fmt.Errorf("%w: image URL host %s is not on --fetch-allow; send the image bytes as base64", errUnsupported, u.Hostname())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, errFetch) || ctx.Err() != nil {
			var ue *url.Error
			if errors.As(err, &ue) && errors.Is(ue.Err, errFetch) {
				return nil, ue.Err
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
		}
		return nil, fmt.Errorf("%w: %v", errFetch, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s answered %s", errFetch, u.Hostname(), resp.Status)
	}
	if resp.ContentLength > f.max {
		return nil, &http.MaxBytesError{Limit: f.max}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, f.max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errFetch, err)
	}
	if int64(len(b)) > f.max {
		return nil, &http.MaxBytesError{Limit: f.max}
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty image at %s", errBadRequest, raw)
	}
	return b, nil
}

// imageData turns an image field (base64, a data: URL, or an http(s) URL
// when fetching is allowed) into the image file's bytes.
func (s *Server) imageData(ctx context.Context, v string) ([]byte, error) {
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://") {
		if s.fetch == nil {
			return nil, fmt.Errorf("%w: image URLs are not fetched by this server (start it with --fetch-allow HOST to allow a host); send the image bytes as base64", errUnsupported)
		}
		return s.fetch.get(ctx, t)
	}
	return decodeB64(v)
}
