package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/tensor"
)

// benchModel is one model to time: its bytes, input name and shape per batch size, MACs per sample.
type benchModel struct {
	name    string
	model   []byte
	input   string
	shape   func(batch int) []int
	macs    float64 // multiply-accumulates for batch 1
	batches []int
}

type latencyStats struct {
	p50, p90 time.Duration
	n        int
}

func stats(d []time.Duration) latencyStats {
	s := slices.Clone(d)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return latencyStats{p50: q(0.5), p90: q(0.9), n: len(s)}
}

// benchModels times each model through shitu's infer.Session and through a
// bare onnxruntime_go AdvancedSession with pre-bound tensors, interleaving
// the two in rounds so that machine noise hits both alike.
func benchModels(ctx context.Context, w, progress io.Writer, b *ort.Backend, models []benchModel, threadCounts []int, dur time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tbatch\tthreads\tshitu p50\tp90\tbare p50\tp90\toverhead\tGFLOP/s\truns\t")
	for _, m := range models {
		for _, batch := range m.batches {
			for _, th := range threadCounts {
				fmt.Fprintf(progress, "timing %s batch %d threads %d…\n", m.name, batch, th)
				ours, bare, err := timeBoth(ctx, b, m, batch, th, dur)
				if err != nil {
					return fmt.Errorf("%s batch %d: %w", m.name, batch, err)
				}
				o, r := stats(ours), stats(bare)
				gflops := 2 * m.macs * float64(batch) / o.p50.Seconds() / 1e9
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%+.1f%%\t%.1f\t%d\t\n", m.name, batch, th,
					ms(o.p50), ms(o.p90), ms(r.p50), ms(r.p90),
					100*(o.p50.Seconds()/r.p50.Seconds()-1), gflops, o.n)
			}
		}
	}
	return tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", d.Seconds()*1e3) }

func timeBoth(ctx context.Context, b *ort.Backend, m benchModel, batch, threads int, dur time.Duration) (ours, bare []time.Duration, err error) {
	opts := infer.Options{IntraOpThreads: threads}
	shape := m.shape(batch)
	n, _ := tensor.Numel(shape)
	data := make([]float32, n)
	rng := rand.New(rand.NewPCG(1, uint64(batch)))
	for i := range data {
		data[i] = float32(rng.NormFloat64())
	}
	in := map[string]*tensor.Tensor{m.input: tensor.Must(shape, data)}
	s, err := b.Open(m.model, opts)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	outs, err := s.Run(ctx, in) // warm-up, and the output shapes for the bare session
	if err != nil {
		return nil, nil, err
	}
	var outShapes [][]int
	for _, o := range outs {
		outShapes = append(outShapes, o.Shape())
	}
	bs, err := b.NewBare(m.model, opts, in, outShapes)
	if err != nil {
		return nil, nil, err
	}
	defer bs.Close()
	if err := bs.Run(); err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(dur)
	for round := 0; time.Now().Before(deadline) || round < 3; round++ {
		for i := 0; i < 5; i++ {
			t0 := time.Now()
			if _, err := s.Run(ctx, in); err != nil {
				return nil, nil, err
			}
			ours = append(ours, time.Since(t0))
			t0 = time.Now()
			if err := bs.Run(); err != nil {
				return nil, nil, err
			}
			bare = append(bare, time.Since(t0))
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	return ours, bare, nil
}

func readModel(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return b, nil
}
