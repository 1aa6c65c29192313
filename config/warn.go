package config

import (
	"fmt"
	"sort"
	"strings"
)

// Warnings lists, once each, what the config says that shitu will not act
// on: keys it does not know in the sections it reads (a typo such as
// "Global.treshold" or "-o IndexProcess.scor_thres=0.3" would otherwise be
// a silent no-op), with the nearest known key as "did you mean", and
// PaddleClas options that are read but have no effect here (GPU,
// TensorRT, MKL-DNN...). Each names the file line or the -o option. They
// are for the inference sections; a training config's own keys (Arch,
// Loss, Optimizer, ...) are not flagged.
func (c *Config) Warnings() []string { return c.warnings }

// topSections are the top-level keys PaddleClas configs use; others are
// reported (with a "did you mean" among the inference sections).
var topSections = []string{"Global", "DetPreProcess", "DetPostProcess", "RecPreProcess", "RecPostProcess", "IndexProcess",
	"Eval", "Arch", "Loss", "Optimizer", "DataLoader", "Metric", "Infer", "AMP", "EMA", "Slim"}

// ignoredOptions are Global keys PaddleClas' Paddle Inference honours and
// shitu does not act on, with the values that would matter (g is the
// Global mapping). use_gpu, ir_optim, cpu_num_threads and gpu_mem map to
// ONNX Runtime settings (InferOptions); use_gpu with a CPU-only library is
// reported when the models are loaded, naming the library.
var ignoredOptions = []struct {
	key  string
	when func(v, g *Value) bool
	why  string
}{
	{"use_tensorrt", func(v, g *Value) bool { return isTrue(v) && !globalTrue(g, "use_gpu") }, "TensorRT needs use_gpu: True"},
	{"use_fp16", func(v, g *Value) bool {
		return isTrue(v) && !(globalTrue(g, "use_gpu") && globalTrue(g, "use_tensorrt"))
	},
		"fp16 applies to TensorRT engines only (use_gpu and use_tensorrt: True); the models run in fp32"},
	{"enable_mkldnn", func(v, _ *Value) bool { return isTrue(v) }, "ONNX Runtime's own CPU kernels are used (MKL-DNN is a Paddle Inference option)"},
	{"enable_profile", func(v, _ *Value) bool { return isTrue(v) }, "use shitu bench or predict -v for timings"},
}

func globalTrue(g *Value, key string) bool {
	v, ok := g.Get(key)
	return ok && isTrue(v)
}

func isTrue(v *Value) bool  { return v.Kind == Bool && v.Bool || v.Kind == Int && v.Int == 1 }
func isFalse(v *Value) bool { return v.Kind == Bool && !v.Bool || v.Kind == Int && v.Int == 0 }

func (d *decoder) warnings(c *Config) []string {
	var out []string
	add := func(v *Value, key, format string, a ...any) {
		e := &Error{File: d.file, Line: v.Line, Origin: v.Origin, Key: key, Msg: fmt.Sprintf(format, a...)}
		out = append(out, strings.TrimPrefix(e.Error(), "config: "))
	}
	// parents: the maps whose keys the decoder looked up.
	parents := map[string][]string{}
	for full := range d.asked {
		i := strings.LastIndexByte(full, '.')
		parents[full[:i]] = append(parents[full[:i]], full[i+1:])
	}
	var walk func(v *Value, path string)
	walk = func(v *Value, path string) {
		switch v.Kind {
		case Map:
			known, decoded := parents[path]
			for _, k := range v.Keys {
				full := path + "." + k
				if decoded && !d.asked[full] {
					msg := "unknown key, ignored"
					if s := nearest(k, known); s != "" {
						msg += fmt.Sprintf(" (did you mean %s?)", s)
					}
					add(v.Fields[k], full, "%s", msg)
					continue
				}
				walk(v.Fields[k], full)
			}
		case List:
			for i, it := range v.Items {
				walk(it, fmt.Sprintf("%s.%d", path, i))
			}
		}
	}
	for _, k := range c.Raw.Keys {
		v := c.Raw.Fields[k]
		if !contains(topSections, k) {
			msg := "unknown section, ignored"
			if s := nearest(k, topSections[:6]); s != "" {
				msg += fmt.Sprintf(" (did you mean %s?)", s)
			}
			add(v, k, "%s", msg)
			continue
		}
		walk(v, k)
	}
	if g, ok := c.Raw.Get("Global"); ok && g.Kind == Map {
		for _, o := range ignoredOptions {
			if v, ok := g.Get(o.key); ok && o.when(v, g) {
				add(v, "Global."+o.key, "%s is ignored: %s", v.Repr(), o.why)
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nearest returns the candidate closest to s by edit distance (case
// folded), if it is close enough to be a typo of it.
func nearest(s string, cands []string) string {
	sort.Strings(cands)
	best, bd := "", 1<<30
	for _, c := range cands {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bd {
			best, bd = c, d
		}
	}
	if bd <= max(2, len([]rune(s))/3) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance (insert, delete, substitute) plus
// adjacent transpositions, on runes.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}
