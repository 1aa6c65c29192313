package cli

import (
	"fmt"
	"time"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/onnx"
)

type benchCmd struct {
	Models   benchModelsCmd   `cmd:"" help:"Latency of the recognition and detection models, against a bare onnxruntime_go session."`
	Pipeline benchPipelineCmd `cmd:"" help:"Per-stage latency and images/s of the whole pipeline."`
	Serve    benchServeCmd    `cmd:"" help:"Load test of the HTTP service on loopback: images/s and p50/p99 latency per concurrency."`
}

type benchModelsCmd struct {
	Rec      string        `type:"existingfile" help:"Recognition ONNX model (default: synthesized PP-LCNetV2 with seeded weights)."`
	Det      string        `type:"existingfile" help:"Detection ONNX model (default: synthesized PicoDet-LCNet×2.5 raw head)."`
	Threads  []int         `default:"1,2" help:"Intra-op thread counts to time."`
	Batches  []int         `default:"1,8" help:"Recognition batch sizes."`
	Duration time.Duration `default:"5s" help:"Timing per configuration."`
	Int8     bool          `name:"int8" help:"Time each model against its int8 twin instead (batch 1; twins from --rec-int8/--det-int8, else <model folder>_int8/inference.onnx, else quantized now for the synthesized defaults)."`
	RecInt8  string        `name:"rec-int8" type:"existingfile" help:"int8 twin of the recognition model (with --int8)."`
	DetInt8  string        `name:"det-int8" type:"existingfile" help:"int8 twin of the detection model (with --int8)."`
}

func (c *benchModelsCmd) Run(g *Globals) error {
	b, err := g.backend()
	if err != nil {
		return err
	}
	rec, err := c.model(c.Rec, func() (*onnx.ModelProto, error) { return arch.BuildRec(1, arch.RecOptions{}) })
	if err != nil {
		return err
	}
	det, err := c.model(c.Det, func() (*onnx.ModelProto, error) { return arch.BuildDet(1, arch.DetOptions{}) })
	if err != nil {
		return err
	}
	recMACs, err := macs(rec)
	if err != nil {
		return err
	}
	detMACs, err := macs(det)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "onnxruntime %s, rec %.3f GMACs, det %.3f GMACs per image; GFLOP/s = 2·MACs / p50\n",
		ort.Version(), recMACs/1e9, detMACs/1e9)
	bm := []benchModel{
		{name: "rec", model: rec, input: arch.RecInput, shape: func(n int) []int { return []int{n, 3, 224, 224} }, macs: recMACs, batches: c.Batches},
		{name: "det", model: det, input: arch.DetInput, shape: func(n int) []int { return []int{n, 3, 640, 640} }, macs: detMACs, batches: []int{1}},
	}
	if c.Int8 {
		return c.runInt8(g, b, bm)
	}
	return benchModels(g.ctx, g.stdout, g.stderr, b, bm, c.Threads, c.Duration)
}

func (c *benchModelsCmd) model(path string, build func() (*onnx.ModelProto, error)) ([]byte, error) {
	if path != "" {
		return readModel(path)
	}
	m, err := build()
	if err != nil {
		return nil, err
	}
	return onnx.Marshal(m)
}

func macs(model []byte) (float64, error) {
	m, err := onnx.Read(model)
	if err != nil {
		return 0, err
	}
	info, err := onnx.Analyze(m)
	if err != nil {
		return 0, err
	}
	return float64(info.MACs), nil
}
