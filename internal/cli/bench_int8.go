package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/quant"
	"github.com/shitu-go/shitu/tensor"
)

// int8Twin finds the int8 twin of a model file given on the command line
// (<folder>_int8/inference.onnx beside its folder) or, for the
// synthesized default models (path ""), quantizes one now with a short
// calibration on synthetic images (MSE ranges, every layer int8).
func int8Twin(ctx context.Context, b *ort.Backend, progress io.Writer, m benchModel, path, twin string) ([]byte, string, error) {
	if twin == "" && path != "" {
		twin = filepath.Join(filepath.Dir(path)+"_int8", "inference.onnx")
	}
	if twin != "" {
		data, err := os.ReadFile(twin)
		if err != nil {
			return nil, "", fmt.Errorf("int8 twin of %s: %w (make it with `shitu models quantize`)", m.name, err)
		}
		return data, twin, nil
	}
	fmt.Fprintf(progress, "quantizing the synthesized %s model (16 synthetic images, MSE ranges, all layers int8)…\n", m.name)
	kind, h, w := "crops", 224, 224
	if m.name == "det" {
		kind, h, w = "scenes", 640, 640
	}
	shape := m.shape(1)
	if len(shape) == 4 {
		h, w = shape[2], shape[3]
	}
	role := models.RoleExtractor
	if m.name == "det" {
		role = models.RoleDetector
	}
	p, err := newModelPrep(&models.Manifest{Role: role, Inputs: []models.Tensor{{Name: m.input, Shape: []int64{-1, 3, int64(h), int64(w)}}}}, "")
	if err != nil {
		return nil, "", err
	}
	var imgs []*imaging.Image
	for i := range 16 {
		imgs = append(imgs, fromRGBA(synthImage(kind, i, 11)))
	}
	feeds, err := p.feeds(imgs, 1)
	if err != nil {
		return nil, "", err
	}
	res, err := quant.Quantize(ctx, b, m.model, feeds, quant.Options{Methods: []quant.Method{quant.MSE}, SensitivityInputs: -1})
	if err != nil {
		return nil, "", err
	}
	return res.Model, "quantized now (" + res.Score.String() + " on its calibration images)", nil
}

// benchInt8 times each float model against its int8 twin, alternating
// single runs of the two in rounds so that load from other processes hits
// both alike.
func benchInt8(ctx context.Context, w, progress io.Writer, b *ort.Backend, bms []benchModel, twins [][]byte, threadCounts []int, dur time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tthreads\tfp32 p50\tp90\tint8 p50\tp90\tspeed-up p50\truns\t")
	for i, m := range bms {
		for _, th := range threadCounts {
			fmt.Fprintf(progress, "timing %s fp32 vs int8, threads %d…\n", m.name, th)
			f, q, err := timePair(ctx, b, m, twins[i], th, dur)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			a, c := stats(f), stats(q)
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.2f×\t%d\t\n", m.name, th, ms(a.p50), ms(a.p90), ms(c.p50), ms(c.p90),
				a.p50.Seconds()/c.p50.Seconds(), a.n)
		}
	}
	return tw.Flush()
}

func timePair(ctx context.Context, b *ort.Backend, m benchModel, twin []byte, threads int, dur time.Duration) (fp, q []time.Duration, err error) {
	opts := infer.Options{IntraOpThreads: threads}
	shape := m.shape(1)
	n, _ := tensor.Numel(shape)
	data := make([]float32, n)
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	in := map[string]*tensor.Tensor{m.input: tensor.Must(shape, data)}
	var ss [2]infer.Session
	for i, model := range [][]byte{m.model, twin} {
		if ss[i], err = b.Open(model, opts); err != nil {
			return nil, nil, err
		}
		defer ss[i].Close()
		for range 2 { // warm-up
			if _, err := ss[i].Run(ctx, in); err != nil {
				return nil, nil, err
			}
		}
	}
	deadline := time.Now().Add(dur)
	for round := 0; time.Now().Before(deadline) || round < 5; round++ {
		for i, s := range ss {
			t0 := time.Now()
			if _, err := s.Run(ctx, in); err != nil {
				return nil, nil, err
			}
			if i == 0 {
				fp = append(fp, time.Since(t0))
			} else {
				q = append(q, time.Since(t0))
			}
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	return fp, q, nil
}

// loadAvg is /proc/loadavg's first three fields ("" elsewhere).
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuFlags names the int8-relevant flags of /proc/cpuinfo.
func cpuFlags() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	var have []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "flags") {
			continue
		}
		set := map[string]bool{}
		for _, f := range strings.Fields(l) {
			set[f] = true
		}
		for _, f := range []string{"avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "amx_int8"} {
			if set[f] {
				have = append(have, f)
			}
		}
		break
	}
	if len(have) == 0 {
		return "none of avx2/avx512/vnni"
	}
	return strings.Join(have, " ")
}

func (c *benchModelsCmd) runInt8(g *Globals, b *ort.Backend, bm []benchModel) error {
	paths := [][2]string{{c.Rec, c.RecInt8}, {c.Det, c.DetInt8}}
	var twins [][]byte
	for i, m := range bm {
		t, from, err := int8Twin(g.ctx, b, g.stderr, m, paths[i][0], paths[i][1])
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s int8: %s\n", m.name, from)
		twins = append(twins, t)
	}
	fmt.Fprintf(g.stdout, "CPU flags: %s; load average before: %s\n", cpuFlags(), loadAvg())
	if err := benchInt8(g.ctx, g.stdout, g.stderr, b, bm, twins, c.Threads, c.Duration); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "load average after: %s (fp32 and int8 runs alternate, one each per round)\n", loadAvg())
	return nil
}
