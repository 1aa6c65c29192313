package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/server"
)

type serveCmd struct {
	configFlags
	Addr          string            `default:":8080" help:"Listen address."`
	APIKey        string            `name:"api-key" env:"SHITU_API_KEY" help:"Require this key (Bearer or X-API-Key) on gallery-changing endpoints."`
	Galleries     map[string]string `name:"gallery" help:"Extra named galleries: NAME=DIR (repeatable). The default gallery is IndexProcess.index_dir."`
	NewGalleries  string            `name:"new-galleries" type:"path" help:"Folder for galleries created by /shitu-index-build (default: next to index_dir)."`
	Workers       int               `help:"Recognitions at once (default: GOMAXPROCS)."`
	Queue         int               `help:"Requests that may wait for a worker before 429 (default: 4 × workers)."`
	MaxBody       int64             `default:"33554432" help:"Request body limit in bytes."`
	MaxPixels     int64             `default:"40000000" help:"Image pixel limit, checked before decoding."`
	Timeout       time.Duration     `default:"30s" help:"Per-request time limit."`
	SnapshotEvery time.Duration     `name:"snapshot-every" default:"5m" help:"Write changed galleries' index snapshots this often (reopening after a crash then loads instead of rebuilding)."`
}

// snapshots writes the index snapshot of every gallery that changed since
// its last one. Changes are durable without it; the snapshot only makes
// the next start fast. Galleries added later by /shitu-index-build are
// snapshotted when they are closed.
func snapshots(ctx context.Context, log *slog.Logger, gals map[string]*gallery.Gallery, every time.Duration) {
	if every <= 0 {
		return
	}
	last := map[string]uint64{}
	for name, gl := range gals {
		last[name] = gl.Version()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for name, gl := range gals {
			if v := gl.Version(); v != last[name] {
				if err := gl.Snapshot(); err != nil {
					log.Error("snapshot", "gallery", name, "error", err.Error())
					continue
				}
				last[name] = v
			}
		}
	}
}

func (c *serveCmd) Run(g *Globals) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	threads := c.Threads
	if threads == 0 {
		threads = 1 // many requests in parallel: one intra-op thread each
	}
	sys, p, err := g.openSystem(cfg, threads, nil)
	if err != nil {
		return err
	}
	defer p.Close() // also closes the default gallery
	def := p.gallery
	gals := map[string]*gallery.Gallery{"default": def}
	defer func() { // galleries are closed once: Close is idempotent
		for _, gl := range gals {
			gl.Close()
		}
	}()
	for name, dir := range c.Galleries {
		gl, err := gallery.Open(dir, gallery.Options{Model: p.recModel})
		if err != nil {
			return fmt.Errorf("gallery %s: %w", name, err)
		}
		gals[name] = gl
	}
	opts := p.recognition
	newRoot := c.NewGalleries
	if newRoot == "" {
		newRoot = filepath.Join(filepath.Dir(filepath.Clean(cfg.IndexProcess.IndexDir)), "galleries")
	}
	ip := indexProcess(cfg)
	logger := slog.New(slog.NewJSONHandler(g.stderr, nil))
	srv, err := server.New(sys, gals, server.Config{
		APIKey: c.APIKey, MaxBodyBytes: c.MaxBody, MaxPixels: c.MaxPixels, Workers: c.Workers, Queue: c.Queue,
		Timeout: c.Timeout, Logger: logger, Recognize: opts,
		NewGallery: func(name string) (*gallery.Gallery, error) {
			o, err := ip.Options(p.recModel)
			if err != nil {
				return nil, err
			}
			return gallery.Create(filepath.Join(newRoot, name), o)
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	logger.Info("serving", "addr", ln.Addr().String(), "galleries", srv.Galleries(), "items", def.Len())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	go snapshots(g.ctx, logger, gals, c.SnapshotEvery)
	select {
	case err := <-errc:
		return err
	case <-g.ctx.Done():
	}
	// Graceful shutdown: stop being ready, finish in-flight requests.
	srv.SetReady(false)
	logger.Info("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout+5*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(g.stderr, "shitu: server stopped")
	return nil
}
