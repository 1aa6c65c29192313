package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/config"
	"github.com/shitu-go/shitu/gallery/replica"
	"github.com/shitu-go/shitu/server"
)

// natsRun is serve's NATS side: the embedded server (when asked) and the
// connection the replica uses.
type natsRun struct {
	node *replica.Node
	nc   *nats.Conn
	js   jetstream.JetStream
}

func (n *natsRun) close() {
	if n.nc != nil {
		n.nc.Close()
	}
	if n.node != nil {
		n.node.Shutdown()
	}
}

// startNATS starts the embedded NATS server (--nats-embed) and connects to
// NATS; the connection keeps retrying in the background.
func (c *serveCmd) startNATS(cfg *config.Config, logger *slog.Logger) (*natsRun, error) {
	run := &natsRun{}
	urls := c.NATS
	if c.NATSEmbed {
		store := c.NATSStore
		if store == "" {
			store = filepath.Join(filepath.Dir(filepath.Clean(cfg.IndexProcess.IndexDir)), "nats")
		}
		var routes []string
		for _, r := range c.NATSRoutes {
			for _, x := range strings.Split(r, ",") {
				if x = strings.TrimSpace(x); x != "" {
					routes = append(routes, x)
				}
			}
		}
		if c.NATSCluster == "" && c.NATSReplicas > 1 {
			return nil, fmt.Errorf("serve: --nats-embed without --nats-cluster runs a single NATS server: pass --nats-replicas 1, or --nats-cluster and --nats-routes for a cluster")
		}
		node, err := replica.StartNode(replica.NodeConfig{Name: c.NATSName, Listen: c.NATSListen, Cluster: c.NATSCluster,
			Routes: routes, StoreDir: store, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		run.node = node
		logger.Info("nats server started", "client", node.ClientURL(), "cluster", c.NATSCluster, "routes", routes, "store", store)
		if urls == "" {
			urls = node.ClientURL()
		}
	}
	nc, js, err := replica.Connect(urls, "shitu serve", logger)
	if err != nil {
		run.close()
		return nil, fmt.Errorf("serve: %w", err)
	}
	run.nc, run.js = nc, js
	return run, nil
}

// joinReplica joins the replicated gallery (retrying while NATS is
// unreachable), registers it with the server and marks the server ready
// once it caught up. A refusal (another model, a store of another
// cluster, --nats-wait passed) ends serve through errc.
func (c *serveCmd) joinReplica(ctx context.Context, sys *shitu.System, srv *server.Server, run *natsRun, cfg *config.Config, logger *slog.Logger, errc chan<- error) {
	name := c.Replicate
	dir := c.ReplicaDir
	if dir == "" {
		dir = filepath.Join(filepath.Dir(filepath.Clean(cfg.IndexProcess.IndexDir)), "replica-"+name)
	}
	if c.NATSWait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.NATSWait)
		defer cancel()
	}
	r, err := sys.OpenReplica(ctx, run.js, name, dir, replica.Config{Replicas: c.NATSReplicas, Logger: logger})
	if err == nil {
		srv.AddGallery(name, r.Gallery())
		if err = r.WaitReady(ctx); err == nil {
			logger.Info("replica ready", "gallery", name, "version", r.Version(), "items", r.Gallery().Len(), "dir", dir)
			srv.SetReady(true)
			return
		}
	}
	if parent := context.Cause(ctx); parent != nil && c.NATSWait == 0 {
		return // shutting down
	}
	errc <- fmt.Errorf("serve: gallery %s: %w", name, err)
}
