package cli

import "fmt"

type modelsCmd struct {
	Info modelsInfoCmd `cmd:"" help:"Count parameters and multiply-accumulates of an ONNX model."`
}

type modelsInfoCmd struct {
	File string `arg:"" type:"existingfile" help:"ONNX model file."`
}

func (c *modelsInfoCmd) Run(g *Globals) error { return fmt.Errorf("models info: not yet") }

type benchCmd struct {
	Models benchModelsCmd `cmd:"" help:"Latency of the recognition and detection models, against a bare onnxruntime_go session."`
}

type benchModelsCmd struct{}

func (c *benchModelsCmd) Run(g *Globals) error { return fmt.Errorf("bench models: not yet") }

type demoCmd struct{}

func (demoCmd) Run(g *Globals) error {
	fmt.Fprintln(g.stdout, "shitu demo: not yet — the recognition pipeline has not landed.")
	return nil
}
