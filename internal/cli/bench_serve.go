package cli

import "fmt"

// benchServeCmd is written in bench_serve.go (load generator against the HTTP service).
type benchServeCmd struct{}

func (c *benchServeCmd) Run(g *Globals) error { return fmt.Errorf("bench serve: not yet") }
