package config

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// decoder collects typed values and errors for one Config.
type decoder struct {
	file  string
	errs  []error
	asked map[string]bool // every key path the decoder looked up
}

func (d *decoder) fail(v *Value, line int, key, format string, a ...any) {
	e := &Error{File: d.file, Line: line, Key: key, Msg: fmt.Sprintf(format, a...), Err: ErrInvalid}
	if v != nil {
		e.Origin = v.Origin
		if v.Line > 0 {
			e.Line = v.Line
		}
	}
	d.errs = append(d.errs, e)
}

// section returns a top-level mapping, or nil when absent or null.
func (d *decoder) section(root *Value, name string) *Value {
	v, ok := root.Get(name)
	if !ok || v.Kind == Null {
		return nil
	}
	if v.Kind != Map {
		d.fail(v, 0, name, "want a mapping, got %s", describe(v))
		return nil
	}
	return v
}

func (d *decoder) get(m *Value, path, key string) (*Value, string, bool) {
	full := path + "." + key
	if d.asked == nil {
		d.asked = map[string]bool{}
	}
	d.asked[full] = true
	if m == nil {
		return nil, full, false
	}
	v, ok := m.Get(key)
	return v, full, ok
}

// str reads a string; numbers are converted with Python's str() and null
// gives "" (PaddleClas treats a null model dir as disabled).
func (d *decoder) str(m *Value, path, key string, dst *string) {
	v, full, ok := d.get(m, path, key)
	if !ok {
		return
	}
	switch v.Kind {
	case String:
		*dst = v.Str
	case Null:
		*dst = ""
	case Int, Float:
		*dst = v.Repr()
	default:
		d.fail(v, m.Line, full, "want a string, got %s", describe(v))
	}
}

func (d *decoder) boolean(m *Value, path, key string, dst *bool) {
	v, full, ok := d.get(m, path, key)
	if !ok {
		return
	}
	switch {
	case v.Kind == Bool:
		*dst = v.Bool
	case v.Kind == Int && (v.Int == 0 || v.Int == 1):
		*dst = v.Int == 1
	default:
		// Deliberate deviation: Python would take any non-empty string
		// (e.g. -o use_gpu=false, which stays the string "false") as true.
		d.fail(v, m.Line, full, "want True or False, got %s", describe(v))
	}
}

// integer reads an int ≥ lo.
func (d *decoder) integer(m *Value, path, key string, lo int64, dst *int) {
	v, full, ok := d.get(m, path, key)
	if !ok {
		return
	}
	d.intValue(v, m.Line, full, lo, dst)
}

func (d *decoder) intValue(v *Value, line int, full string, lo int64, dst *int) bool {
	if v.Kind != Int || v.Int < lo || v.Int > math.MaxInt32 {
		want := "an integer"
		switch lo {
		case 0:
			want = "a non-negative integer"
		case 1:
			want = "a positive integer"
		}
		d.fail(v, line, full, "want %s, got %s", want, describe(v))
		return false
	}
	*dst = int(v.Int)
	return true
}

// number reads a finite int or float.
func (d *decoder) number(m *Value, path, key string, dst *float64) {
	v, full, ok := d.get(m, path, key)
	if !ok {
		return
	}
	d.numValue(v, m.Line, full, dst)
}

func (d *decoder) numValue(v *Value, line int, full string, dst *float64) bool {
	if v.Kind != Int && v.Kind != Float {
		d.fail(v, line, full, "want a number, got %s", describe(v))
		return false
	}
	f, _ := v.Number()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.fail(v, line, full, "want a finite number, got %s", describe(v))
		return false
	}
	*dst = f
	return true
}

// triple reads a list of exactly 3 numbers.
func (d *decoder) triple(m *Value, path, key string, dst *[3]float64) bool {
	v, full, ok := d.get(m, path, key)
	if !ok {
		return false
	}
	if v.Kind != List || len(v.Items) != 3 {
		d.fail(v, m.Line, full, "want a list of 3 numbers, got %s", describe(v))
		return false
	}
	for i, it := range v.Items {
		if !d.numValue(it, v.Line, fmt.Sprintf("%s.%d", full, i), &dst[i]) {
			return false
		}
	}
	return true
}

// size reads an int n (→ [n, n]) or a list of 2 positive ints.
// maxSide bounds a resize target's side and a padding stride: a model
// input is allocated from them before any image is seen, so a config
// must not be able to ask for gigabytes (the official ones use 224–640).
const maxSide = 8192

func (d *decoder) size(m *Value, path, key string, dst *[2]int) bool {
	v, full, ok := d.get(m, path, key)
	if !ok {
		return false
	}
	side := func(v *Value, line int, full string, dst *int) bool {
		if !d.intValue(v, line, full, 1, dst) {
			return false
		}
		if *dst > maxSide {
			d.fail(v, line, full, "%d is out of range: at most %d pixels", *dst, maxSide)
			return false
		}
		return true
	}
	switch {
	case v.Kind == Int:
		var n int
		if !side(v, m.Line, full, &n) {
			return false
		}
		*dst = [2]int{n, n}
		return true
	case v.Kind == List && len(v.Items) == 2:
		for i, it := range v.Items {
			if !side(it, v.Line, fmt.Sprintf("%s.%d", full, i), &dst[i]) {
				return false
			}
		}
		return true
	}
	d.fail(v, m.Line, full, "want a positive integer or a list of 2, got %s", describe(v))
	return false
}

func (c *Config) decode() error {
	d := &decoder{file: c.Path}
	c.Global = d.global(d.section(c.Raw, "Global"))
	c.DetPreProcess.Ops = d.ops(d.section(c.Raw, "DetPreProcess"), "DetPreProcess", detOps)
	c.RecPreProcess.Ops = d.ops(d.section(c.Raw, "RecPreProcess"), "RecPreProcess", recOps)
	c.RecPostProcess = d.recPost(d.section(c.Raw, "RecPostProcess"))
	c.IndexProcess = d.index(d.section(c.Raw, "IndexProcess"))
	if v, ok := c.Raw.Get("DetPostProcess"); ok && v.Kind != Null && v.Kind != Map {
		d.fail(v, 0, "DetPostProcess", "want a mapping, got %s", describe(v))
	}
	if len(d.errs) == 0 {
		c.warnings = d.warnings(c)
	}
	return errors.Join(d.errs...)
}

func (d *decoder) global(m *Value) Global {
	g := Global{
		RecNMSThreshold: 0.05,
		BatchSize:       1,
		ImageShape:      []int{3, 640, 640},
		Threshold:       0.2,
		MaxDetResults:   5,
		LabelList:       []string{"foreground"},
		IROptim:         true,
		GPUMem:          8000,
		OutputDir:       "./output/",
	}
	const p = "Global"
	d.str(m, p, "infer_imgs", &g.InferImgs)
	d.str(m, p, "det_inference_model_dir", &g.DetInferenceModelDir)
	d.str(m, p, "rec_inference_model_dir", &g.RecInferenceModelDir)
	d.number(m, p, "rec_nms_thresold", &g.RecNMSThreshold)
	d.integer(m, p, "batch_size", 1, &g.BatchSize)
	if v, full, ok := d.get(m, p, "image_shape"); ok {
		if v.Kind != List {
			d.fail(v, m.Line, full, "want a list of integers, got %s", describe(v))
		} else {
			g.ImageShape = make([]int, len(v.Items))
			for i, it := range v.Items {
				d.intValue(it, v.Line, fmt.Sprintf("%s.%d", full, i), 0, &g.ImageShape[i])
			}
		}
	}
	d.number(m, p, "threshold", &g.Threshold)
	d.integer(m, p, "max_det_results", 0, &g.MaxDetResults)
	if v, full, ok := d.get(m, p, "label_list"); ok {
		if v.Kind != List {
			d.fail(v, m.Line, full, "want a list of names, got %s", describe(v))
		} else {
			g.LabelList = make([]string, len(v.Items))
			for i, it := range v.Items {
				switch it.Kind {
				case String:
					g.LabelList[i] = it.Str
				case Int, Float, Bool:
					g.LabelList[i] = it.Repr()
				default:
					d.fail(it, v.Line, fmt.Sprintf("%s.%d", full, i), "want a name, got %s", describe(it))
				}
			}
		}
	}
	d.boolean(m, p, "use_gpu", &g.UseGPU)
	d.boolean(m, p, "enable_mkldnn", &g.EnableMKLDNN)
	d.integer(m, p, "cpu_num_threads", 0, &g.CPUNumThreads)
	d.boolean(m, p, "enable_benchmark", &g.EnableBenchmark)
	d.boolean(m, p, "use_fp16", &g.UseFP16)
	d.boolean(m, p, "ir_optim", &g.IROptim)
	d.boolean(m, p, "use_tensorrt", &g.UseTensorRT)
	d.integer(m, p, "gpu_mem", 0, &g.GPUMem)
	d.boolean(m, p, "enable_profile", &g.EnableProfile)
	d.str(m, p, "output_dir", &g.OutputDir)
	if g.OutputDir == "" {
		g.OutputDir = "./output/"
	}
	return g
}

type opDecoder func(d *decoder, params *Value, path string) any

var detOps = map[string]opDecoder{
	"DetResize": func(d *decoder, m *Value, p string) any {
		r := &DetResize{Interp: 1}
		if !d.size(m, p, "target_size", &r.TargetSize) {
			if _, _, ok := d.get(m, p, "target_size"); !ok {
				d.fail(m, 0, p+".target_size", "missing (DetResize needs target_size)")
			}
		}
		d.boolean(m, p, "keep_ratio", &r.KeepRatio)
		if v, full, ok := d.get(m, p, "interp"); ok {
			if d.intValue(v, m.Line, full, 0, &r.Interp) && r.Interp > 4 {
				d.fail(v, m.Line, full, "want an OpenCV interpolation code 0..4, got %d", r.Interp)
			}
		}
		return r
	},
	"DetNormalizeImage": func(d *decoder, m *Value, p string) any {
		n := &DetNormalizeImage{IsScale: true}
		for _, k := range []string{"mean", "std"} {
			dst := &n.Mean
			if k == "std" {
				dst = &n.Std
			}
			if _, _, ok := d.get(m, p, k); !ok {
				d.fail(m, 0, p+"."+k, "missing (DetNormalizeImage needs mean and std)")
				continue
			}
			if d.triple(m, p, k, dst) && k == "std" {
				for i, s := range n.Std {
					if s == 0 {
						v, _ := m.Get("std")
						d.fail(v.Items[i], v.Line, fmt.Sprintf("%s.std.%d", p, i), "must not be 0")
					}
				}
			}
		}
		d.boolean(m, p, "is_scale", &n.IsScale)
		return n
	},
	"DetPermute": func(d *decoder, m *Value, p string) any { return &DetPermute{} },
	"DetPadStride": func(d *decoder, m *Value, p string) any {
		s := &DetPadStride{}
		if v, full, ok := d.get(m, p, "stride"); ok && d.intValue(v, m.Line, full, math.MinInt32, &s.Stride) && s.Stride > maxSide {
			d.fail(v, m.Line, full, "%d is out of range: at most %d", s.Stride, maxSide)
		}
		return s
	},
}

var recOps = map[string]opDecoder{
	"ResizeImage": func(d *decoder, m *Value, p string) any {
		r := &ResizeImage{Backend: "cv2"}
		sv, _, sizeKey := d.get(m, p, "size")
		sizeKey = sizeKey && sv.Kind != Null // size: null is PaddleClas' default
		hasSize := sizeKey && d.size(m, p, "size", &r.Size)
		if v, full, ok := d.get(m, p, "resize_short"); ok && v.Kind != Null {
			d.intValue(v, m.Line, full, 1, &r.ResizeShort)
			if sizeKey {
				d.fail(v, m.Line, full, "give either size or resize_short, not both")
			}
		} else if !hasSize && !sizeKey {
			d.fail(m, 0, p, "ResizeImage needs size or resize_short")
		}
		if v, _, ok := d.get(m, p, "interpolation"); ok && v.Kind == Null {
			r.Interpolation = ""
		} else {
			d.str(m, p, "interpolation", &r.Interpolation)
		}
		d.str(m, p, "backend", &r.Backend)
		// return_numpy only picks numpy vs PIL output in PaddleClas's
		// Python; shitu always works on pixel arrays. Known, no effect.
		d.get(m, p, "return_numpy")
		return r
	},
	"CropImage": func(d *decoder, m *Value, p string) any {
		c := &CropImage{}
		if !d.size(m, p, "size", &c.Size) {
			if _, _, ok := d.get(m, p, "size"); !ok {
				d.fail(m, 0, p+".size", "missing (CropImage needs size)")
			}
		}
		return c
	},
	"NormalizeImage": func(d *decoder, m *Value, p string) any {
		n := &NormalizeImage{
			Scale: 1.0 / 255.0,
			Mean:  [3]float64{0.485, 0.456, 0.406},
			Std:   [3]float64{0.229, 0.224, 0.225},
			Order: "chw",
		}
		if v, full, ok := d.get(m, p, "scale"); ok && v.Kind != Null {
			if v.Kind == String {
				// The operator evaluates a string scale itself (§6.1).
				ev, err := Eval(v.Str)
				if err != nil {
					d.fail(v, m.Line, full, "want a number or an expression such as 1.0/255.0, got %s", describe(v))
				} else {
					ev.Line, ev.Origin = v.Line, v.Origin
					d.numValue(ev, m.Line, full, &n.Scale)
				}
			} else {
				d.numValue(v, m.Line, full, &n.Scale)
			}
		}
		d.triple(m, p, "mean", &n.Mean)
		d.triple(m, p, "std", &n.Std)
		if v, _, ok := d.get(m, p, "order"); !ok || v.Kind != Null {
			d.str(m, p, "order", &n.Order)
		}
		return n
	},
	"ToCHWImage": func(d *decoder, m *Value, p string) any { return &ToCHWImage{} },
}

// ops decodes a section's transform_ops list.
func (d *decoder) ops(sec *Value, name string, known map[string]opDecoder) []Op {
	v, full, ok := d.get(sec, name, "transform_ops")
	if !ok || v.Kind == Null {
		return nil
	}
	if v.Kind != List {
		d.fail(v, sec.Line, full, "want a list of operators, got %s", describe(v))
		return nil
	}
	var out []Op
	for i, it := range v.Items {
		p := fmt.Sprintf("%s.%d", full, i)
		if it.Kind != Map || len(it.Keys) != 1 {
			d.fail(it, v.Line, p, "want a single-key mapping {Operator: params}, got %s", describe(it))
			continue
		}
		op := Op{Name: it.Keys[0], Params: it.Fields[it.Keys[0]], Line: it.Line}
		if op.Params != nil && op.Params.Kind == Null {
			op.Params = nil
		}
		p += "." + op.Name
		dec, ok := known[op.Name]
		if !ok {
			names := make([]string, 0, len(known))
			for k := range known {
				names = append(names, k)
			}
			sort.Strings(names)
			d.fail(it, v.Line, p, "unknown operator (known: %s)", strings.Join(names, ", "))
			continue
		}
		params := op.Params
		if params == nil {
			params = NewMap()
		} else if params.Kind != Map {
			d.fail(params, it.Line, p, "want a mapping of parameters, got %s", describe(params))
			continue
		}
		op.Typed = dec(d, params, p)
		out = append(out, op)
	}
	return out
}

func (d *decoder) recPost(m *Value) RecPostProcess {
	var r RecPostProcess
	if m == nil {
		return r
	}
	const p = "RecPostProcess"
	d.str(m, p, "main_indicator", &r.MainIndicator)
	if b, full, ok := d.get(m, p, "Binarize"); ok {
		r.BinarizeMethod = "round"
		switch b.Kind {
		case Null:
		case Map:
			d.str(b, full, "method", &r.BinarizeMethod)
			if r.BinarizeMethod != "sign" && r.BinarizeMethod != "round" {
				mv, _ := b.Get("method")
				d.fail(mv, b.Line, full+".method", "want \"sign\" or \"round\", got %q", r.BinarizeMethod)
			}
		default:
			d.fail(b, m.Line, full, "want a mapping, got %s", describe(b))
		}
	}
	if r.MainIndicator != "" && r.MainIndicator != "Binarize" {
		v, _ := m.Get("main_indicator")
		d.fail(v, m.Line, p+".main_indicator", "unknown post-process %q (known: Binarize)", r.MainIndicator)
	}
	if r.MainIndicator == "Binarize" && r.BinarizeMethod == "" {
		r.BinarizeMethod = "round"
	}
	return r
}

func (d *decoder) index(m *Value) IndexProcess {
	x := IndexProcess{
		IndexMethod:    "HNSW32",
		IndexOperation: "new",
		Delimiter:      "\t",
		DistType:       "IP",
		EmbeddingSize:  512,
		BatchSize:      32,
		ReturnK:        5,
		ScoreThres:     0.5,
	}
	if m == nil {
		return x
	}
	const p = "IndexProcess"
	d.str(m, p, "index_method", &x.IndexMethod)
	d.str(m, p, "image_root", &x.ImageRoot)
	d.str(m, p, "index_dir", &x.IndexDir)
	d.str(m, p, "data_file", &x.DataFile)
	d.str(m, p, "index_operation", &x.IndexOperation)
	x.IndexOperation = strings.ToLower(x.IndexOperation)
	if op := x.IndexOperation; op != "new" && op != "append" && op != "remove" {
		v, _ := m.Get("index_operation")
		d.fail(v, m.Line, p+".index_operation", "want new, append or remove, got %q", op)
	}
	d.str(m, p, "delimiter", &x.Delimiter)
	if x.Delimiter == "" {
		v, _ := m.Get("delimiter")
		d.fail(v, m.Line, p+".delimiter", "must not be empty")
	}
	d.str(m, p, "dist_type", &x.DistType)
	d.integer(m, p, "embedding_size", 1, &x.EmbeddingSize)
	d.integer(m, p, "batch_size", 1, &x.BatchSize)
	d.integer(m, p, "return_k", 1, &x.ReturnK)
	_, _, x.HasScoreThres = d.get(m, p, "score_thres")
	d.number(m, p, "score_thres", &x.ScoreThres)
	_, _, x.HasHammingRadius = d.get(m, p, "hamming_radius")
	d.integer(m, p, "hamming_radius", 0, &x.HammingRadius)
	if x.DistType == "hamming" && !x.HasHammingRadius {
		d.fail(m, 0, p+".hamming_radius", "missing (required when dist_type is hamming)")
	}
	return x
}
