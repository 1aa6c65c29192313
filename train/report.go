package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"github.com/shitu-go/shitu/eval"
)

// Report is what a run measured.
type Report struct {
	Base          string   `json:"base_model"`
	Config        string   `json:"config"`
	Data          string   `json:"data_list"`
	Seed          uint64   `json:"seed"`
	Epochs        int      `json:"epochs"`
	StepsPerEpoch int      `json:"steps_per_epoch"`
	Classes       int      `json:"classes"`
	TrainImages   int      `json:"train_images"`
	Views         int      `json:"augment_views"`
	Trained       []string `json:"trained"`
	Frozen        []string `json:"frozen"`
	// Cache is the feature caching pass.
	Cache CacheFigures `json:"cache"`
	// EpochSeconds is the mean wall time of an epoch (head only).
	EpochSeconds float64     `json:"epoch_seconds"`
	Loss         []EpochLoss `json:"loss"`
	// Before and After are the held-out figures (nil without held-out lists).
	Before *Metrics `json:"before,omitempty"`
	After  *Metrics `json:"after,omitempty"`
	// CacheBytes is the size of the cached features; HeapSysBytes the Go
	// heap obtained from the OS at the end of training.
	CacheBytes   int64    `json:"cache_bytes"`
	HeapSysBytes int64    `json:"heap_sys_bytes"`
	Warnings     []string `json:"warnings,omitempty"`
}

// CacheFigures are the throughput of feature caching.
type CacheFigures struct {
	Views        int     `json:"views"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_second"`
	BusyShare    float64 `json:"model_busy_share"`
}

func cacheFigures(s CacheStats) CacheFigures {
	return CacheFigures{Views: s.Images * s.Views, Seconds: s.Wall.Seconds(), ImagesPerSec: s.ImagesPerSecond(), BusyShare: s.BusyShare()}
}

// Text renders the report for people.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "shitu train report\n")
	fmt.Fprintf(&b, "base model:   %s\nconfig:       %s\ndata list:    %s (%d images, %d labels)\nseed:         %d\n", r.Base, r.Config, r.Data, r.TrainImages, r.Classes, r.Seed)
	fmt.Fprintf(&b, "trained:      %s\nfrozen:       %s\n", strings.Join(r.Trained, "; "), strings.Join(r.Frozen, "; "))
	fmt.Fprintf(&b, "caching:      %d views in %.1fs, %.1f images/s, model busy %.0f%%\n", r.Cache.Views, r.Cache.Seconds, r.Cache.ImagesPerSec, 100*r.Cache.BusyShare)
	fmt.Fprintf(&b, "training:     %d epochs × %d steps, %.3fs per epoch\n", r.Epochs, r.StepsPerEpoch, r.EpochSeconds)
	fmt.Fprintf(&b, "memory:       %.1f MiB cached features, %.1f MiB Go heap\n", float64(r.CacheBytes)/(1<<20), float64(r.HeapSysBytes)/(1<<20))
	if r.Before != nil && r.After != nil {
		fmt.Fprintf(&b, "held-out:     %d queries against %d gallery images\n", r.After.Queries, r.After.Gallery)
		fmt.Fprintf(&b, "  recall@1    %.4f → %.4f\n  recall@5    %.4f → %.4f\n  mAP         %.4f → %.4f\n",
			r.Before.Recall1, r.After.Recall1, r.Before.Recall5, r.After.Recall5, r.Before.MAP, r.After.MAP)
	}
	fmt.Fprintf(&b, "loss per epoch (total, CE, triplet, lr):\n")
	for _, l := range r.Loss {
		fmt.Fprintf(&b, "  %4d  %.5f  %.5f  %.5f  %.6g\n", l.Epoch, l.Loss, l.CE, l.Triplet, l.LR)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// writeFiles writes the text, JSON and PNG forms into dir.
func (r *Report) writeFiles(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportJSON), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ReportText), []byte(r.Text()), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if len(r.Loss) > 0 {
		var x, tot, ce, tri []float64
		for _, l := range r.Loss {
			x = append(x, float64(l.Epoch))
			tot, ce, tri = append(tot, l.Loss), append(ce, l.CE), append(tri, l.Triplet)
		}
		p := eval.LinePlot{Title: "shitu train: loss per epoch", XLabel: "epoch", YLabel: "loss", Series: []eval.Series{
			{Name: "total", Color: color.RGBA{31, 119, 180, 255}, X: x, Y: tot},
			{Name: "CE", Color: color.RGBA{255, 127, 14, 255}, X: x, Y: ce},
			{Name: "TripletAngularMargin", Color: color.RGBA{44, 160, 44, 255}, X: x, Y: tri},
		}}
		if err := writePNG(filepath.Join(dir, LossPNG), func() (image.Image, error) { img, _, err := p.Render(); return img, err }); err != nil {
			return err
		}
	}
	if r.Before != nil && r.After != nil {
		before, after := color.RGBA{160, 160, 160, 255}, color.RGBA{31, 119, 180, 255}
		c := eval.BarChart{Title: "held-out retrieval before and after fine-tuning", XLabel: "value", Bars: []eval.Bar{
			{Label: "recall@1 before", Value: r.Before.Recall1, Color: before},
			{Label: "recall@1 after", Value: r.After.Recall1, Color: after},
			{Label: "mAP before", Value: r.Before.MAP, Color: before},
			{Label: "mAP after", Value: r.After.MAP, Color: after},
		}}
		if err := writePNG(filepath.Join(dir, RecallPNG), func() (image.Image, error) { img, _, err := c.Render(); return img, err }); err != nil {
			return err
		}
	}
	return nil
}

func writePNG(path string, render func() (image.Image, error)) error {
	img, err := render()
	if err != nil {
		return fmt.Errorf("train: plot: %w", err)
	}
	var buf bytes.Buffer
	if err := eval.WritePNG(&buf, img); err != nil {
		return fmt.Errorf("train: plot: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
