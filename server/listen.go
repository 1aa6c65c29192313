package server

import (
	"net"
	"net/http"
	"sync"
)

// HTTPServer returns an http.Server for the service with the configured
// timeouts: a client that sends its headers or body too slowly, or keeps an
// idle connection open, is disconnected instead of holding a connection
// and a goroutine forever.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
}

// Listen opens a TCP listener on addr that holds at most Config.MaxConns
// connections open at once; further clients wait in the kernel's accept
// queue until one closes.
func (s *Server) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return s.Limit(ln), nil
}

// Limit wraps a listener opened elsewhere with Config.MaxConns.
func (s *Server) Limit(ln net.Listener) net.Listener { return LimitListener(ln, s.cfg.MaxConns) }

// LimitListener returns a listener whose Accept waits while n of its
// connections are open.
func LimitListener(l net.Listener, n int) net.Listener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

type limitListener struct {
	net.Listener
	sem       chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
