// Package cli holds shitu's subcommands, flags and wiring. It is the only
// package that reads the environment and the command line.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
)

// Version is set at build time with -ldflags "-X .../internal/cli.Version=...".
var Version = "dev"

// Globals are flags every subcommand sees.
type Globals struct {
	ORTLib  string `name:"ort-lib" env:"SHITU_ORT_LIB" help:"Path of libonnxruntime.so.1 (default: .deps/onnxruntime next to the binary's folder, then /usr/local/lib/shitu)."`
	Verbose bool   `short:"v" help:"Verbose output: per-stage timings and details."`
	// RequireGPU turns the CPU fallback of Global.use_gpu into an error.
	RequireGPU bool `name:"require-gpu" help:"With Global.use_gpu, fail when the ONNX Runtime library cannot use the GPU instead of running on the CPU."`

	stdout, stderr io.Writer
	ctx            context.Context
	// wrapSession, when set, wraps every model session (bench pipeline times models with it).
	wrapSession func(name string, s infer.Session) infer.Session
	// warned holds the config warnings already printed.
	warned map[string]bool
	// saidSynthetic: the [SYNTHETIC] line was printed in this run.
	saidSynthetic bool
}

type root struct {
	Globals

	Version versionCmd `cmd:"" help:"Print shitu's version and the ONNX Runtime it finds."`
	Models  modelsCmd  `cmd:"" help:"Synthesize, inspect, pull and convert models."`
	Eval    evalCmd    `cmd:"" help:"Retrieval metrics, pipeline evaluation and threshold calibration."`
	Bench   benchCmd   `cmd:"" help:"Benchmarks: model latency and throughput."`
	Gallery galleryCmd `cmd:"" help:"Build and edit galleries."`
	Serve   serveCmd   `cmd:"" help:"Serve recognition and live gallery edits over HTTP (REST, Paddle Serving and PaddleX endpoints)."`
	Predict predictCmd `cmd:"" help:"Recognise images with a PaddleClas config (predict_system.py)."`
	Demo    demoCmd    `cmd:"" help:"Run the quick start: models, gallery, recognition, visualisations."`
	Train   trainCmd   `cmd:"" help:"Fine-tune the recognition model's embedding layers on a labelled image list (PaddleClas recipe, CPU)."`
}

// Main runs the CLI and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) (code int) {
	var r root
	r.stdout, r.stderr = stdout, stderr
	// kong calls Exit after --help; unwind to here with the code.
	defer func() {
		if x := recover(); x != nil {
			if _, ok := x.(exitPanic); !ok {
				panic(x)
			}
		}
	}()
	parser, err := kong.New(&r,
		kong.Name("shitu"),
		kong.Description("PP-ShiTuV2 general image recognition in one Go binary: detect the objects in a photo, embed each, look it up in a labelled gallery."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(c int) { code = c; panic(exitPanic{}) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.WithHyphenPrefixedParameters(true), // `--limit -1`, `--threshold -0.5`
	)
	if err != nil {
		fmt.Fprintln(stderr, "shitu:", err)
		return 2
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "shitu: %v (see shitu --help)\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r.ctx = ctx
	if err := kctx.Run(&r.Globals); err != nil {
		var ec exitError
		if errors.As(err, &ec) {
			if ec.msg != "" {
				fmt.Fprintln(stderr, "shitu:", ec.msg)
			}
			return ec.code
		}
		fmt.Fprintln(stderr, "shitu:", err)
		return 1
	}
	return 0
}

type exitPanic struct{}

// exitError ends a command with a chosen exit code.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

// ortLib resolves the ONNX Runtime library path.
func (g *Globals) ortLib() string {
	if g.ORTLib != "" {
		return g.ORTLib
	}
	var cands []string
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		cands = append(cands,
			filepath.Join(dir, "..", ".deps", "onnxruntime", "libonnxruntime.so.1"),
			filepath.Join(dir, ".deps", "onnxruntime", "libonnxruntime.so.1"),
			filepath.Join(dir, "lib", "libonnxruntime.so.1")) // release archives (make dist)
	}
	cands = append(cands, "/usr/local/lib/shitu/libonnxruntime.so.1", "/usr/local/lib/libonnxruntime.so.1")
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return cands[0]
}

// backend loads ONNX Runtime.
func (g *Globals) backend() (*ort.Backend, error) {
	return ort.New(ort.Config{LibPath: g.ortLib(), Warn: func(m string) { fmt.Fprintln(g.stderr, "shitu: warning:", m) }})
}

type versionCmd struct{}

func (versionCmd) Run(g *Globals) error {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		fmt.Fprintf(g.stdout, "shitu %s (%s)\n", v, bi.GoVersion)
	} else {
		fmt.Fprintf(g.stdout, "shitu %s\n", v)
	}
	if _, err := g.backend(); err != nil {
		fmt.Fprintf(g.stdout, "onnxruntime: unavailable: %v\n", err)
		return nil
	}
	fmt.Fprintf(g.stdout, "onnxruntime: %s (%s)\n", ort.Version(), g.ortLib())
	return nil
}
