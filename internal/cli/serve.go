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

	"github.com/shitu-go/shitu"
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

func (c *serveCmd) Run(g *Globals) error {
	cfg, err := c.load()
	if err != nil {
		return err
	}
	threads := c.Threads
	if threads == 0 {
		threads = 1 // many requests in parallel: one intra-op thread each
	}
	logger := slog.New(slog.NewJSONHandler(g.stderr, nil))
	sys, err := g.open(cfg, threads, shitu.Options{SnapshotEvery: c.SnapshotEvery, Logger: logger})
	if err != nil {
		return err
	}
	defer sys.Close() // also closes every gallery
	for name, dir := range c.Galleries {
		if _, err := sys.OpenGallery(name, dir); err != nil {
			return fmt.Errorf("gallery %s: %w", name, err)
		}
	}
	def, err := sys.Gallery(shitu.DefaultGallery)
	if err != nil {
		return err
	}
	newRoot := c.NewGalleries
	if newRoot == "" {
		newRoot = filepath.Join(filepath.Dir(filepath.Clean(cfg.IndexProcess.IndexDir)), "galleries")
	}
	srv, err := server.New(sys, server.Config{
		APIKey: c.APIKey, MaxBodyBytes: c.MaxBody, MaxPixels: c.MaxPixels, Workers: c.Workers, Queue: c.Queue,
		Timeout: c.Timeout, Logger: logger, Recognize: sys.Options(),
		NewGallery: func(name string) (*gallery.Gallery, error) {
			return sys.CreateGallery(name, filepath.Join(newRoot, name))
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
