package cli

import "fmt"

type demoCmd struct{}

func (demoCmd) Run(g *Globals) error {
	fmt.Fprintln(g.stdout, "shitu demo: not yet — the recognition pipeline has not landed.")
	return nil
}
