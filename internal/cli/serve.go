package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"time"

	"google.golang.org/grpc"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/gallery"
	"github.com/shitu-go/shitu/server"
	"github.com/shitu-go/shitu/server/console"
)

type serveCmd struct {
	configFlags
	Addr          string            `default:"127.0.0.1:8080" help:"Listen address. Without --api-key only loopback addresses are allowed (see --public)."`
	GRPCAddr      string            `name:"grpc-addr" help:"Also serve gRPC here (shitu.v1.Shitu, Paddle Serving's PipelineService, health, reflection); default off. Without --api-key only loopback addresses are allowed (see --public)."`
	APIKey        string            `name:"api-key" env:"SHITU_API_KEY" help:"Require this key (Bearer or X-API-Key) on gallery-changing endpoints (and on reads with --auth-reads)."`
	Public        bool              `help:"Allow listening on a non-loopback address without --api-key (anyone who reaches the port can then change galleries)."`
	AuthReads     bool              `name:"auth-reads" help:"Require the API key on reads too (recognition, listing, metrics); health checks stay open."`
	Galleries     map[string]string `name:"gallery" help:"Extra named galleries: NAME=DIR (repeatable). The default gallery is IndexProcess.index_dir."`
	NewGalleries  string            `name:"new-galleries" type:"path" help:"Folder for galleries created through the API (/shitu-index-build, POST /v1/galleries); they are reopened at start (default: 'galleries' next to index_dir)."`
	MaxGalleries  int               `name:"max-galleries" default:"64" help:"Most galleries created through the API."`
	MaxStoreBytes int64             `name:"max-galleries-size" default:"8589934592" help:"Most bytes on disk of the galleries created through the API (adds past it answer 507)."`
	Workers       int               `help:"Recognitions at once (default: 4 × GOMAXPROCS with cross-request batching, so that requests detecting meanwhile can join a batch; GOMAXPROCS without)."`
	Queue         int               `help:"Requests that may wait for a worker before 429 (default: 4 × workers)."`
	MaxBody       int64             `default:"33554432" help:"Request body limit in bytes."`
	MaxPixels     int64             `default:"40000000" help:"Image pixel limit, checked before decoding."`
	MaxTopK       int               `name:"max-topk" default:"100" help:"Largest topk a request may ask."`
	MaxBatch      int               `name:"max-batch" default:"64" help:"Most images in one add or index-build request."`
	MaxConns      int               `name:"max-conns" default:"512" help:"Most open connections; more wait to be accepted."`
	Timeout       time.Duration     `default:"30s" help:"Per-request time limit (decoding, model runs and search observe it)."`
	ReadTimeout   time.Duration     `name:"read-timeout" default:"30s" help:"Time limit for reading a request's headers and body."`
	IdleTimeout   time.Duration     `name:"idle-timeout" default:"30s" help:"Idle keep-alive connections are closed after this."`
	FetchAllow    []string          `name:"fetch-allow" help:"Hosts whose http(s) image URLs are fetched (repeatable; '*.example.com' admits subdomains). Default: image URLs are refused."`
	PaddleXImage  bool              `name:"paddlex-image" default:"true" negatable:"" help:"Return the visualised image from /shitu-infer, as PaddleX does."`
	NoConsole     bool              `name:"no-console" help:"Do not serve the web console (at / and /ui/: recognise, browse and edit galleries, review unsure answers). With --api-key its changes need a login with the key; --auth-reads applies to its pages."`
	ReviewBelow   float32           `name:"review-below" default:"0.10" help:"Console review queue: keep a box whose best score is up to this much below its threshold (the calibrated one of its label, when stored) ..."`
	ReviewAbove   float32           `name:"review-above" default:"0.05" help:"... or less than this much above it (negative: none). The queue sits in the folder 'review' of each gallery's directory."`
	ReviewMax     int               `name:"review-max" default:"500" help:"Most review entries kept per gallery; the oldest are dropped."`
	ReviewRate    float64           `name:"review-rate" default:"0.2" help:"Most unsure boxes of API recognitions queued for review per second (default: one every 5 s); the rest are counted, not kept, so the queue costs the API next to nothing. The console's own recognitions are always kept."`
	SnapshotEvery time.Duration     `name:"snapshot-every" default:"5m" help:"Write changed galleries' index snapshots this often (reopening after a crash then loads instead of rebuilding)."`
	batchFlags
	natsFlags
}

// batchFlags are the cross-request batching flags of serve and bench serve.
type batchFlags struct {
	BatchWait time.Duration `name:"batch-wait" help:"Cross-request batching: the crops of concurrent requests share recognition runs of at most IndexProcess.batch_size crops, a batch waiting up to this long for requests still detecting (e.g. 2ms; default 0: off — on 2 cores it measured no clear gain, see README)."`
	BatchRuns int           `name:"batch-runs" help:"Shared recognition runs at once with batching (default: cores ÷ --threads, at least 1)."`
}

// serveWorkers is serve's default --workers: with cross-request batching
// 4 × GOMAXPROCS, since requests must be in flight (detecting) to join a
// batch; with as many workers as shared runs a run is always free and
// batches hardly ever form (measured: 0 shared runs in 208 at 2 workers on
// 2 cores, see bench serve --batching both).
func serveWorkers(workers int, wait time.Duration) int {
	if workers > 0 {
		return workers
	}
	if wait > 0 {
		return 4 * runtime.GOMAXPROCS(0)
	}
	return runtime.GOMAXPROCS(0)
}

// wait is the batching wait the flags ask for (0: off).
func (b batchFlags) wait() (time.Duration, error) {
	if b.BatchWait < 0 || b.BatchWait > time.Second {
		return 0, fmt.Errorf("--batch-wait %v is out of range: allowed 0..1s", b.BatchWait)
	}
	if b.BatchRuns < 0 || b.BatchRuns > 1024 {
		return 0, fmt.Errorf("--batch-runs %d is out of range: allowed 0..1024 (0: the default)", b.BatchRuns)
	}
	return b.BatchWait, nil
}

// natsFlags run serve as one replica of a gallery shared through NATS
// JetStream (README: Several machines).
type natsFlags struct {
	NATS         string        `name:"nats" placeholder:"URL[,URL]" help:"Share the --replicate gallery with other serve replicas through this NATS cluster (JetStream on; comma-separated server URLs, e.g. nats://10.0.0.1:4222,nats://10.0.0.2:4222). With --nats-embed, default: the embedded server."`
	NATSEmbed    bool          `name:"nats-embed" help:"Run a NATS server (JetStream) inside this serve; with --nats-cluster and --nats-routes, three serves form a cluster with no other install."`
	NATSName     string        `name:"nats-name" help:"Name of the embedded NATS server, unique in the cluster (default: from --nats-listen)."`
	NATSListen   string        `name:"nats-listen" default:"127.0.0.1:4222" help:"Client address of the embedded NATS server."`
	NATSCluster  string        `name:"nats-cluster" placeholder:"HOST:PORT" help:"Cluster (route) address of the embedded NATS server; empty: a single node (use --nats-replicas 1)."`
	NATSRoutes   []string      `name:"nats-routes" placeholder:"HOST:PORT" help:"Cluster addresses of the other embedded NATS servers (comma-separated or repeated; this node's own may be listed)."`
	NATSStore    string        `name:"nats-store" type:"path" help:"Folder of the embedded NATS server's JetStream files (default: 'nats' next to index_dir)."`
	NATSReplicas int           `name:"nats-replicas" default:"3" help:"How many NATS servers store each gallery stream and object store (3 for a 3-node cluster; a change is acknowledged once a majority stored it)."`
	Replicate    string        `name:"replicate" default:"default" help:"Name of the gallery shared through NATS (with --nats or --nats-embed). 'default' replaces IndexProcess.index_dir as the default gallery."`
	ReplicaDir   string        `name:"replica-dir" type:"path" help:"Folder of this replica's local copy of the shared gallery (default: 'replica-NAME' next to index_dir)."`
	NATSWait     time.Duration `name:"nats-wait" default:"0s" help:"Give up when NATS JetStream cannot be reached for this long at start (0: keep retrying; serve stays not ready meanwhile)."`
}

func (n natsFlags) replicated() bool { return n.NATS != "" || n.NATSEmbed }

// checkExposure refuses to listen beyond loopback without a key unless
// --public says so; then it warns.
func checkExposure(flag, addr string, key string, public bool, warn func(string)) error {
	if key != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("serve: %s %q: %w", flag, addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	where := host
	if where == "" {
		where = "all interfaces"
	}
	if !public {
		return fmt.Errorf("serve: refusing to listen on %s without --api-key (anyone could change the galleries); set --api-key or SHITU_API_KEY, listen on 127.0.0.1, or pass --public to accept that", where)
	}
	warn(fmt.Sprintf("shitu: WARNING: listening on %s without an API key: anyone who reaches this port can add and remove gallery items", where))
	return nil
}

// checkFlags bounds the numbers a flag sets, so that a typo cannot make
// the server allocate by it.
func (c *serveCmd) checkFlags() error {
	for _, b := range []struct {
		name   string
		v, max int64
	}{
		{"--workers", int64(c.Workers), 4096}, {"--queue", int64(c.Queue), 1 << 20}, {"--max-topk", int64(c.MaxTopK), 100_000},
		{"--max-batch", int64(c.MaxBatch), 4096}, {"--max-conns", int64(c.MaxConns), 1 << 20}, {"--max-galleries", int64(c.MaxGalleries), 1 << 20},
		{"--max-body", c.MaxBody, 1 << 34}, {"--max-pixels", c.MaxPixels, 1 << 32}, {"--review-max", int64(c.ReviewMax), 1 << 20},
	} {
		if b.v < 0 || b.v > b.max {
			return fmt.Errorf("serve: %s %d is out of range: allowed 0..%d (0: the default)", b.name, b.v, b.max)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"--review-below", float64(c.ReviewBelow)}, {"--review-above", float64(c.ReviewAbove)}, {"--review-rate", c.ReviewRate}} {
		if f.v != f.v || f.v < -1e6 || f.v > 1e6 {
			return fmt.Errorf("serve: %s %g is out of range", f.name, f.v)
		}
	}
	return nil
}

func (c *serveCmd) Run(g *Globals) error {
	if err := checkExposure("--addr", c.Addr, c.APIKey, c.Public, func(m string) { fmt.Fprintln(g.stderr, m) }); err != nil {
		return err
	}
	if c.GRPCAddr != "" {
		if err := checkExposure("--grpc-addr", c.GRPCAddr, c.APIKey, c.Public, func(m string) { fmt.Fprintln(g.stderr, m) }); err != nil {
			return err
		}
	}
	if err := c.checkFlags(); err != nil {
		return err
	}
	wait, err := c.wait()
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	cfg, err := c.load(g)
	if err != nil {
		return err
	}
	// The port first: a second serve on a busy port says so at once,
	// before loading models or waiting for a gallery another serve holds.
	ln0, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("serve: cannot listen on %s: %w", c.Addr, err)
	}
	defer ln0.Close()
	var lnG net.Listener
	if c.GRPCAddr != "" {
		if lnG, err = net.Listen("tcp", c.GRPCAddr); err != nil {
			return fmt.Errorf("serve: cannot listen on %s (--grpc-addr): %w", c.GRPCAddr, err)
		}
		defer lnG.Close()
	}
	threads := c.Threads
	if threads == 0 {
		threads = 1 // many requests in parallel: one intra-op thread each
	}
	logger := slog.New(slog.NewJSONHandler(g.stderr, nil))
	replicated := c.replicated()
	if c.NATSReplicas < 1 || c.NATSReplicas > 5 {
		return fmt.Errorf("serve: --nats-replicas %d is out of range: allowed 1..5", c.NATSReplicas)
	}
	sys, err := g.open(cfg, threads, shitu.Options{SnapshotEvery: c.SnapshotEvery, Logger: logger,
		NoGallery: replicated && c.Replicate == shitu.DefaultGallery,
		BatchWait: wait, BatchRuns: c.BatchRuns})
	if err != nil {
		return err
	}
	defer sys.Close() // also closes every gallery
	for name, dir := range c.Galleries {
		if _, err := sys.OpenGallery(name, dir); err != nil {
			if errors.Is(err, gallery.ErrLocked) {
				err = lockedError(dir, err)
			}
			return fmt.Errorf("gallery %s: %w", name, err)
		}
	}
	var nats *natsRun
	if replicated {
		if nats, err = c.startNATS(cfg, logger); err != nil {
			return err
		}
		defer func() {
			sys.Close() // the replicas stop applying first (Close is idempotent)
			nats.close()
		}()
	}
	items := 0
	if def, err := sys.Gallery(shitu.DefaultGallery); err == nil {
		items = def.Len()
	} else if !replicated {
		return err
	}
	newRoot := c.NewGalleries
	if newRoot == "" {
		newRoot = filepath.Join(filepath.Dir(filepath.Clean(cfg.IndexProcess.IndexDir)), "galleries")
	}
	srv, err := server.New(sys, server.Config{
		APIKey: c.APIKey, AuthReads: c.AuthReads, MaxBodyBytes: c.MaxBody, MaxPixels: c.MaxPixels,
		MaxTopK: c.MaxTopK, MaxBatch: c.MaxBatch, Workers: serveWorkers(c.Workers, wait), Queue: c.Queue,
		Timeout: c.Timeout, ReadTimeout: c.ReadTimeout, IdleTimeout: c.IdleTimeout, MaxConns: c.MaxConns,
		Store: &server.DirStore{Root: newRoot}, MaxGalleries: c.MaxGalleries, MaxStoreBytes: c.MaxStoreBytes,
		FetchAllow: c.FetchAllow, PXNoImage: !c.PaddleXImage,
		Logger: logger, Recognize: sys.Options(),
	})
	if err != nil {
		return err
	}
	if !c.NoConsole {
		below, above := c.ReviewBelow, c.ReviewAbove
		if below == 0 {
			below = -1 // console.Config: 0 is the default, negative an empty side
		}
		if above == 0 {
			above = -1
		}
		con, err := console.Mount(srv, console.Config{ReviewBelow: below, ReviewAbove: above, ReviewMax: c.ReviewMax, ReviewRate: c.ReviewRate, Logger: logger})
		if err != nil {
			return err
		}
		defer con.Close() // after the server stops: the review entries being written are finished
	}
	errc := make(chan error, 3)
	if replicated {
		// Not ready until the replica joined and caught up (/readyz also
		// checks each replica).
		srv.SetReady(false)
		go c.joinReplica(g.ctx, sys, srv, nats, cfg, logger, errc)
	}
	ln := srv.Limit(ln0)
	hs := srv.HTTPServer()
	url := localURL(ln.Addr())
	for name, gl := range srv.GalleryMap() { // who has these galleries open, for the gallery commands
		if err := writeServed(gl.Dir(), name, url); err == nil {
			defer removeServed(gl.Dir())
		}
	}
	logger.Info("serving", "addr", ln.Addr().String(), "galleries", srv.Galleries(), "items", items)
	go func() { errc <- hs.Serve(ln) }()
	var gs *grpc.Server
	if lnG != nil {
		gs = srv.GRPCServer()
		lnG = srv.Limit(lnG)
		logger.Info("serving grpc", "addr", lnG.Addr().String())
		go func() { errc <- gs.Serve(lnG) }()
	}
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
	if gs != nil {
		stopped := make(chan struct{})
		go func() { gs.GracefulStop(); close(stopped) }()
		defer func() {
			select {
			case <-stopped:
			case <-ctx.Done():
				gs.Stop()
			}
		}()
	}
	if err := hs.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(g.stderr, "shitu: server stopped")
	return nil
}
