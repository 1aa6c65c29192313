package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
)

// Report gathers the results of one evaluation run; nil parts are left
// out of every output.
type Report struct {
	Name        string           `json:"name,omitempty"`
	Retrieval   *RetrievalResult `json:"retrieval,omitempty"`
	Pipeline    *PipelineResult  `json:"pipeline,omitempty"`
	Calibration *Calibration     `json:"calibration,omitempty"`
	// MinImages is the under-covered threshold used by the calibration
	// (informational, for the text; default 3).
	MinImages int `json:"-"`
	// MaxBars caps per-label charts to the worst labels (default 60).
	MaxBars int `json:"-"`
	// FontPath is the font for non-ASCII labels (default DefaultCJKFont).
	FontPath string `json:"-"`
}

// WriteJSON writes the report as indented JSON (NaN figures are null).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("eval: json: %w", err)
	}
	return nil
}

func f4(m Metric) string {
	if math.IsNaN(float64(m)) {
		return "n/a"
	}
	return fmt.Sprintf("%.4f", float64(m))
}

func atks(prefix string, ms []AtK) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s%d %s", prefix, m.K, f4(m.Value)))
	}
	return strings.Join(parts, "   ")
}

// worstLabels lists up to n labels with the lowest recall, for the text.
func worstLabels(ls []LabelRecall, n int) string {
	ls = sortedByRecall(ls)
	var parts []string
	for _, l := range ls {
		if l.Queries == 0 || l.Hits == l.Queries {
			continue
		}
		if len(parts) == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.2f (%d/%d)", l.Label, l.Recall(), l.Hits, l.Queries))
	}
	if len(parts) == 0 {
		return "none: every label is perfect"
	}
	return strings.Join(parts, ", ")
}

func sortedByRecall(ls []LabelRecall) []LabelRecall {
	out := append([]LabelRecall(nil), ls...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Recall(), out[j].Recall()
		if math.IsNaN(a) != math.IsNaN(b) {
			return !math.IsNaN(a)
		}
		if a != b {
			return a < b
		}
		return out[i].Label < out[j].Label
	})
	return out
}

// WriteText writes the human summary.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	if r.Name != "" {
		fmt.Fprintf(&b, "evaluation: %s\n", r.Name)
	}
	if rr := r.Retrieval; rr != nil {
		fmt.Fprintf(&b, "\nretrieval (PaddleClas metrics, block size %d): %d queries, %d gallery images, %d queries with a relevant item, %d pairs masked\n",
			rr.BlockSize, rr.Queries, rr.Gallery, rr.WithRelevant, rr.MaskedPairs)
		fmt.Fprintf(&b, "  %s   mAP %s\n", atks("recall@", rr.Recall), f4(rr.MAP))
		fmt.Fprintf(&b, "  %s\n", atks("precision@", rr.Precision))
		fmt.Fprintf(&b, "  exact, without block weighting: %s   mAP %s\n", atks("recall@", rr.ExactRecall), f4(rr.ExactMAP))
		if rr.WithRelevant < rr.Queries && rr.Queries > rr.BlockSize {
			fmt.Fprintf(&b, "  note: %d queries have no relevant gallery item; PaddleClas' block-weighted figures are then not exact\n", rr.Queries-rr.WithRelevant)
		}
		fmt.Fprintf(&b, "  weakest labels (recall@1): %s\n", worstLabels(rr.PerLabel, 8))
	}
	if p := r.Pipeline; p != nil {
		fmt.Fprintf(&b, "\npipeline: %d queries (%d not in the gallery)\n", p.Queries, p.UnknownQueries)
		fmt.Fprintf(&b, "  PaddleClas eval_shitu_pipeline (no threshold, no NMS): %s\n", atks("recall_", p.RecallI))
		fmt.Fprintf(&b, "  deployed (thresholds, NMS):                           %s\n", atks("recall_", p.DeployedRecallI))
		fmt.Fprintf(&b, "  deployed answer: right %s   wrong %s   none %s   objects/image %s",
			f4(p.Top1), f4(p.Wrong), f4(p.NoAnswer), f4(p.ObjectsPerImage))
		if p.UnknownQueries > 0 {
			fmt.Fprintf(&b, "   out-of-gallery rejected %s", f4(p.UnknownRejected))
		}
		fmt.Fprintf(&b, "\n  weakest labels (deployed top-1): %s\n", worstLabels(p.PerLabel, 8))
	}
	if c := r.Calibration; c != nil {
		fmt.Fprintf(&b, "\ncalibration: %d samples (%d whose label is not in the gallery), target precision %.3f\n",
			c.Samples, c.Unknown, c.Thresholds.TargetPrecision)
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  \tthreshold\tprecision\trecall\treject rate\topen-set accuracy\n")
		row := func(name, thr string, op OperatingPoint) {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", name, thr, f4(op.Precision), f4(op.Recall), f4(op.RejectRate), f4(op.Accuracy))
		}
		row("accept all", "-", c.NoThreshold)
		g := fmt.Sprintf("%.4f", c.Thresholds.Global)
		if !c.Reachable {
			g += " (target unreachable: rejects all)"
		}
		row("global", g, c.Global)
		var fitted, unreachable int
		for _, l := range c.Labels {
			switch l.Source {
			case "fitted":
				fitted++
			case "unreachable":
				unreachable++
			}
		}
		row("per label", fmt.Sprintf("%d fitted, %d unreachable, rest global", fitted, unreachable), c.PerLabel)
		tw.Flush()
		if len(c.Confused) > 0 {
			fmt.Fprintf(&b, "  most confused label pairs:\n")
			for _, p := range c.Confused {
				fmt.Fprintf(&b, "    %s <-> %s: %d (%s->%s %d, %s->%s %d), highest score %.4f\n",
					p.A, p.B, p.Total, p.A, p.B, p.AtoB, p.B, p.A, p.BtoA, p.MaxScore)
			}
		}
		if len(c.FewImages) > 0 {
			var parts []string
			for i, l := range c.FewImages {
				if i == 12 {
					parts = append(parts, fmt.Sprintf("and %d more", len(c.FewImages)-i))
					break
				}
				parts = append(parts, fmt.Sprintf("%s (%d)", l.Label, l.Images))
			}
			fmt.Fprintf(&b, "  labels with fewer than %d gallery images: %s\n", defInt(r.MinImages, 3), strings.Join(parts, ", "))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Plot is a rendered plot and its file name.
type Plot struct {
	Name  string // file name, e.g. "threshold.png"
	Image *image.RGBA
}

// ThresholdPlot draws precision, recall and reject rate against the global
// threshold, with the target precision and the chosen threshold marked.
func ThresholdPlot(c *Calibration, fontPath string) LinePlot {
	toF := func(ms []Metric) []float64 {
		out := make([]float64, len(ms))
		for i, m := range ms {
			out[i] = float64(m)
		}
		return out
	}
	cv := c.Curve
	x := cv.Threshold
	lo, hi := x[0], x[len(x)-1]
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	p := LinePlot{
		Title:  fmt.Sprintf("Precision, recall and reject rate vs threshold (%d samples)", c.Samples),
		XLabel: "acceptance threshold (score >= threshold is accepted)",
		YLabel: "rate",
		XMin:   lo, XMax: hi, YMin: 0, YMax: 1.02,
		Series: []Series{
			{Name: "precision", Color: ColorPrecision, X: x, Y: toF(cv.Precision)},
			{Name: "recall", Color: ColorRecall, X: x, Y: toF(cv.Recall)},
			{Name: "reject rate", Color: ColorReject, X: x, Y: toF(cv.RejectRate)},
			{Name: fmt.Sprintf("target precision %.2f", c.Thresholds.TargetPrecision), Color: ColorTarget,
				X: []float64{lo, hi}, Y: []float64{c.Thresholds.TargetPrecision, c.Thresholds.TargetPrecision}, Dashed: true},
		},
		FontPath: fontPath,
	}
	if c.Reachable {
		p.VLines = []Marker{{X: float64(c.Thresholds.Global), Label: fmt.Sprintf("global threshold %.3f", c.Thresholds.Global), Color: ColorMarker}}
	}
	return p
}

// RecallChart draws per-label recall as horizontal bars, worst first,
// keeping at most maxBars labels (default 60).
func RecallChart(title string, ls []LabelRecall, maxBars int, fontPath string) BarChart {
	ls = sortedByRecall(ls)
	maxBars = defInt(maxBars, 60)
	if len(ls) > maxBars {
		title = fmt.Sprintf("%s (worst %d of %d labels)", title, maxBars, len(ls))
		ls = ls[:maxBars]
	}
	bars := make([]Bar, len(ls))
	for i, l := range ls {
		v := l.Recall()
		bars[i] = Bar{Label: l.Label, Value: v, Note: fmt.Sprintf("%d/%d", l.Hits, l.Queries), Color: BandColor(v)}
		if l.Queries == 0 {
			bars[i].Note = "no relevant gallery item"
		}
	}
	return BarChart{Title: title, XLabel: "recall", Bars: bars, Max: 1, FontPath: fontPath}
}

// BandColor is the bar colour of a recall value.
func BandColor(v float64) color.RGBA {
	switch {
	case math.IsNaN(v):
		return ColorBarNone
	case v < 0.5:
		return ColorBarLow
	case v < 0.8:
		return ColorBarMid
	}
	return ColorBarHigh
}

func calibrationRecalls(c *Calibration) []LabelRecall {
	var out []LabelRecall
	for _, l := range c.Labels {
		if l.Queries == 0 {
			continue
		}
		out = append(out, LabelRecall{Label: l.Label, Queries: l.Queries, Hits: int(math.Round(float64(l.Recall) * float64(l.Queries)))})
	}
	return out
}

// Plots renders every plot the report has data for.
func (r *Report) Plots() ([]Plot, error) {
	var out []Plot
	add := func(name string, img *image.RGBA, err error) error {
		if err != nil {
			return fmt.Errorf("eval: plot %s: %w", name, err)
		}
		out = append(out, Plot{name, img})
		return nil
	}
	if c := r.Calibration; c != nil && len(c.Curve.Threshold) > 0 {
		img, _, err := ThresholdPlot(c, r.FontPath).Render()
		if err := add("threshold.png", img, err); err != nil {
			return nil, err
		}
		if ls := calibrationRecalls(c); len(ls) > 0 {
			img, _, err := RecallChart("Per-label recall with the calibrated thresholds", ls, r.MaxBars, r.FontPath).Render()
			if err := add("calibration_per_label.png", img, err); err != nil {
				return nil, err
			}
		}
	}
	if rr := r.Retrieval; rr != nil && len(rr.PerLabel) > 0 {
		img, _, err := RecallChart("Per-label retrieval recall@1", rr.PerLabel, r.MaxBars, r.FontPath).Render()
		if err := add("retrieval_per_label.png", img, err); err != nil {
			return nil, err
		}
	}
	if p := r.Pipeline; p != nil && len(p.PerLabel) > 0 {
		img, _, err := RecallChart("Per-label deployed top-1 (thresholds and NMS applied)", p.PerLabel, r.MaxBars, r.FontPath).Render()
		if err := add("pipeline_per_label.png", img, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WriteFiles writes report.json, report.txt and the PNG plots into dir
// (created if missing) and returns the paths written. Each file is written
// to a temporary name and renamed, so a reader never sees half a file.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	var paths []string
	write := func(name string, fn func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		tmp := p + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		err = fn(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp, p)
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("eval: writing %s: %w", p, err)
		}
		paths = append(paths, p)
		return nil
	}
	if err := write("report.json", r.WriteJSON); err != nil {
		return paths, err
	}
	if err := write("report.txt", r.WriteText); err != nil {
		return paths, err
	}
	plots, err := r.Plots()
	if err != nil {
		return paths, err
	}
	for _, pl := range plots {
		img := pl.Image
		if err := write(pl.Name, func(w io.Writer) error { return WritePNG(w, img) }); err != nil {
			return paths, err
		}
	}
	return paths, nil
}
