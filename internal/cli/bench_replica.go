package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/gallery/replica"
	"github.com/shitu-go/shitu/server"
)

// benchReplicaName is the replicated copy's gallery name in bench serve.
const benchReplicaName = "replicated"

// benchReplica starts a three-node embedded NATS cluster on loopback,
// joins a replicated gallery and copies the default gallery's items (and
// thresholds) into it through the cluster, then serves it from srv.
func benchReplica(g *Globals, sys *shitu.System, srv *server.Server) (stop func(), err error) {
	def, err := sys.Gallery(shitu.DefaultGallery)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "shitu-bench-replica-")
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	cl, err := replica.StartLoopbackCluster(filepath.Join(dir, "nats"), quiet)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	nc, js, err := replica.Connect(cl.URLs, "shitu bench", quiet)
	if err != nil {
		cl.Shutdown()
		os.RemoveAll(dir)
		return nil, err
	}
	stop = func() {
		sys.CloseGallery(benchReplicaName)
		nc.Close()
		cl.Shutdown()
		os.RemoveAll(dir)
	}
	ctx, cancel := context.WithTimeout(g.ctx, 5*time.Minute)
	defer cancel()
	r, err := sys.OpenReplica(ctx, js, benchReplicaName, filepath.Join(dir, "replica"), replica.Config{Logger: quiet})
	if err == nil {
		err = r.WaitReady(ctx)
	}
	var items []gallery.Item
	if err == nil {
		items, _, err = def.List(gallery.ListOptions{Limit: -1, Vectors: true})
	}
	for lo := 0; err == nil && lo < len(items); lo += 256 {
		_, err = r.Add(ctx, items[lo:min(lo+256, len(items))], nil)
	}
	if gl, pl, ok, terr := def.Thresholds(); err == nil && terr == nil && ok {
		_, err = r.SetThresholds(ctx, gallery.Thresholds{Global: gl, PerLabel: pl})
	}
	if err != nil {
		stop()
		return nil, err
	}
	srv.AddGallery(benchReplicaName, r.Gallery())
	fmt.Fprintf(g.stdout, "replicated gallery %q: %d items copied through a 3-node NATS cluster (%s), version %d\n",
		benchReplicaName, r.Gallery().Len(), cl.URLs, r.Version())
	return stop, nil
}
