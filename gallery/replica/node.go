package replica

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NodeConfig configures a NATS server embedded in the process: with
// routes to two others it forms a three-node JetStream cluster, with no
// other install. Zero values mean the defaults in brackets.
type NodeConfig struct {
	// Name is the server's name, unique in the cluster [the client address].
	Name string
	// Listen is the client address, host:port [127.0.0.1:4222].
	Listen string
	// Cluster is the address other nodes' routes connect to, host:port
	// ("" runs a single node, without a cluster).
	Cluster string
	// Routes are the other nodes' cluster addresses (host:port or
	// nats://host:port); a node may list itself.
	Routes []string
	// ClusterName names the cluster; all nodes must agree ["shitu"].
	ClusterName string
	// StoreDir is where JetStream keeps its files (required).
	StoreDir string
	// Logger gets the server's warnings and errors [slog.Default()];
	// notices are logged at debug level.
	Logger *slog.Logger
}

// Node is an embedded NATS server.
type Node struct{ s *server.Server }

// StartNode starts an embedded NATS server with JetStream and waits until
// it accepts connections (JetStream's cluster may still be electing its
// leader: Open retries until it answers).
func StartNode(c NodeConfig) (*Node, error) {
	if c.StoreDir == "" {
		return nil, fmt.Errorf("%w: an embedded NATS server needs a store folder", ErrUnavailable)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:4222"
	}
	if c.ClusterName == "" {
		c.ClusterName = "shitu"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	host, port, err := splitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("replica: NATS listen address %q: %w", c.Listen, err)
	}
	if c.Name == "" {
		c.Name = strings.NewReplacer(":", "-", ".", "-").Replace(c.Listen)
	}
	o := &server.Options{ServerName: c.Name, Host: host, Port: port, JetStream: true, StoreDir: c.StoreDir,
		NoSigs: true, MaxPayload: 8 << 20}
	if c.Cluster != "" {
		ch, cp, err := splitHostPort(c.Cluster)
		if err != nil {
			return nil, fmt.Errorf("replica: NATS cluster address %q: %w", c.Cluster, err)
		}
		o.Cluster = server.ClusterOpts{Name: c.ClusterName, Host: ch, Port: cp}
		var urls []string
		for _, r := range c.Routes {
			if !strings.Contains(r, "://") {
				r = "nats://" + r
			}
			urls = append(urls, r)
		}
		o.Routes = server.RoutesFromStr(strings.Join(urls, ","))
	}
	s, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("replica: NATS server: %w", err)
	}
	s.SetLoggerV2(natsLogger{c.Logger.With("nats", c.Name)}, false, false, false)
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("%w: the embedded NATS server on %s did not start within 30s", ErrUnavailable, c.Listen)
	}
	return &Node{s: s}, nil
}

// ClientURL is the URL clients connect to.
func (n *Node) ClientURL() string { return n.s.ClientURL() }

// Shutdown stops the server.
func (n *Node) Shutdown() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
}

func splitHostPort(a string) (string, int, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 0 || n > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return h, n, nil
}

type natsLogger struct{ l *slog.Logger }

func (n natsLogger) Noticef(f string, a ...any) { n.l.Debug(fmt.Sprintf(f, a...)) }
func (n natsLogger) Warnf(f string, a ...any)   { n.l.Warn(fmt.Sprintf(f, a...)) }
func (n natsLogger) Fatalf(f string, a ...any)  { n.l.Error(fmt.Sprintf(f, a...)) }
func (n natsLogger) Errorf(f string, a ...any)  { n.l.Error(fmt.Sprintf(f, a...)) }
func (n natsLogger) Debugf(f string, a ...any)  {}
func (n natsLogger) Tracef(f string, a ...any)  {}

// Connect connects to NATS (urls: comma-separated, e.g. the servers of a
// cluster) and returns the JetStream handle. It does not wait for a
// server: the connection keeps trying in the background, without limit,
// and logs when it is lost and back; Open retries until JetStream answers.
func Connect(urls, name string, logger *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if logger == nil {
		logger = slog.Default()
	}
	nc, err := nats.Connect(urls, nats.Name(name), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond), nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.PingInterval(5*time.Second), nats.MaxPingsOutstanding(2),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			logger.Warn("replica: NATS connection lost, reconnecting", "error", errString(err))
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { logger.Info("replica: NATS connection back", "server", c.ConnectedUrlRedacted()) }))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: NATS %s: %v", ErrUnavailable, urls, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return nc, js, nil
}

// Cluster is three embedded NATS nodes on loopback addresses, one process:
// for tests, benchmarks and trying replication out on one machine.
type Cluster struct {
	Nodes [3]*Node
	// URLs are the client URLs, comma-separated (Connect takes them).
	URLs string
}

// StartLoopbackCluster starts three nodes on 127.0.0.1, 127.0.0.2 and
// 127.0.0.3 (or all on 127.0.0.1 where the others do not answer), on free
// ports, storing under dir.
func StartLoopbackCluster(dir string, logger *slog.Logger) (*Cluster, error) {
	hosts := [3]string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}
	for _, h := range hosts[1:] {
		l, err := net.Listen("tcp", h+":0")
		if err != nil {
			hosts = [3]string{"127.0.0.1", "127.0.0.1", "127.0.0.1"}
			break
		}
		l.Close()
	}
	var client, cluster [3]string
	for i, h := range hosts {
		for _, a := range []*string{&client[i], &cluster[i]} {
			l, err := net.Listen("tcp", h+":0")
			if err != nil {
				return nil, fmt.Errorf("replica: %w", err)
			}
			*a = l.Addr().String()
			l.Close()
		}
	}
	c := &Cluster{}
	var urls []string
	for i := range c.Nodes {
		n, err := StartNode(NodeConfig{Name: fmt.Sprintf("node%d", i), Listen: client[i], Cluster: cluster[i], Routes: cluster[:],
			StoreDir: fmt.Sprintf("%s/node%d", dir, i), Logger: logger})
		if err != nil {
			c.Shutdown()
			return nil, err
		}
		c.Nodes[i] = n
		urls = append(urls, "nats://"+client[i])
	}
	c.URLs = strings.Join(urls, ",")
	return c, nil
}

// Shutdown stops the nodes.
func (c *Cluster) Shutdown() {
	for i, n := range c.Nodes {
		if n != nil {
			n.Shutdown()
			c.Nodes[i] = nil
		}
	}
}
