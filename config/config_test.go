package config

import (
	"errors"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestShippedConfigs(t *testing.T) {
	dir := sharedConfigs(t)
	imagenetMean := [3]float64{0.485, 0.456, 0.406}
	imagenetStd := [3]float64{0.229, 0.224, 0.225}
	det := []Op{
		{Name: "DetResize", Line: 26, Typed: &DetResize{TargetSize: [2]int{640, 640}, Interp: 2}},
		{Name: "DetNormalizeImage", Line: 30, Typed: &DetNormalizeImage{Mean: imagenetMean, Std: imagenetStd, IsScale: true}},
		{Name: "DetPermute", Line: 34, Typed: &DetPermute{}},
	}
	tests := []struct {
		file    string
		global  func(g *Global)
		rec     []any
		post    RecPostProcess
		index   func(x *IndexProcess)
		checkDP bool
	}{
		{
			file: "inference_general.yaml",
			global: func(g *Global) {
				g.InferImgs = "./drink_dataset_v2.0/test_images/100.jpeg"
				g.RecInferenceModelDir = "./models/general_PPLCNetV2_base_pretrained_v1.0_infer"
			},
			rec: []any{
				&ResizeImage{Size: [2]int{224, 224}, Interpolation: "bilinear", Backend: "cv2"},
				&NormalizeImage{Scale: 1.0 / 255.0, Mean: imagenetMean, Std: imagenetStd, Order: "hwc"},
				&ToCHWImage{},
			},
			index: func(x *IndexProcess) {
				x.ImageRoot = "./drink_dataset_v2.0/gallery/"
				x.IndexDir = "./drink_dataset_v2.0/index"
				x.DataFile = "./drink_dataset_v2.0/gallery/drink_label.txt"
			},
			checkDP: true,
		},
		{
			file: "inference_general_binary.yaml",
			global: func(g *Global) {
				g.InferImgs = "./drink_dataset_v1.0/test_images/001.jpeg"
				g.RecInferenceModelDir = "./models/general_PPLCNet_x2_5_lite_binary_v1.0_infer"
			},
			rec: []any{
				&ResizeImage{Size: [2]int{224, 224}, Backend: "cv2"},
				&NormalizeImage{Scale: 0.00392157, Mean: imagenetMean, Std: imagenetStd, Order: ""},
				&ToCHWImage{},
			},
			post: RecPostProcess{MainIndicator: "Binarize", BinarizeMethod: "sign"},
			index: func(x *IndexProcess) {
				x.IndexMethod = "Flat"
				x.ImageRoot = "./drink_dataset_v1.0/gallery/"
				x.IndexDir = "./drink_dataset_v1.0/index_bin"
				x.DataFile = "./drink_dataset_v1.0/gallery/drink_label.txt"
				x.DistType = "hamming"
				x.HammingRadius, x.HasHammingRadius, x.HasScoreThres = 100, true, false
			},
		},
		{
			file: "inference_drink.yaml",
			global: func(g *Global) {
				g.InferImgs = "./drink_dataset_v2.0/test_images/100.jpeg"
				g.RecInferenceModelDir = "./models/general_PPLCNetV2_base_pretrained_v1.0_infer"
				g.EnableMKLDNN, g.EnableBenchmark = false, false
			},
			rec: []any{
				&ResizeImage{Size: [2]int{224, 224}, Backend: "cv2"},
				&NormalizeImage{Scale: 0.00392157, Mean: imagenetMean, Std: imagenetStd, Order: ""},
				&ToCHWImage{},
			},
			index: func(x *IndexProcess) {
				x.ImageRoot = "./drink_dataset_v2.0/gallery"
				x.IndexDir = "./drink_dataset_v2.0/index"
				x.DataFile = "./drink_dataset_v2.0/gallery/drink_label.txt"
				x.ScoreThres = 0.4
			},
		},
		{
			file: "inference_product.yaml",
			global: func(g *Global) {
				g.InferImgs = "./recognition_demo_data_v1.1/test_product/daoxiangcunjinzhubing_6.jpg"
				g.DetInferenceModelDir = "./models/ppyolov2_r50vd_dcn_mainbody_v1.0_infer"
				g.RecInferenceModelDir = "./models/product_ResNet50_vd_aliproduct_v1.0_infer"
			},
			rec: []any{
				&ResizeImage{Size: [2]int{224, 224}, Backend: "cv2"},
				&NormalizeImage{Scale: 0.00392157, Mean: imagenetMean, Std: imagenetStd, Order: ""},
				&ToCHWImage{},
			},
			index: func(x *IndexProcess) {
				x.ImageRoot = "./recognition_demo_data_v1.1/gallery_product/"
				x.IndexDir = "./recognition_demo_data_v1.1/gallery_product/index"
				x.DataFile = "./recognition_demo_data_v1.1/gallery_product/data_file.txt"
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			c, err := Load(filepath.Join(dir, tc.file), nil)
			if err != nil {
				t.Fatal(err)
			}
			g := Global{
				DetInferenceModelDir: "./models/picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer",
				RecNMSThreshold:      0.05, BatchSize: 1, ImageShape: []int{3, 640, 640},
				Threshold: 0.2, MaxDetResults: 5, LabelList: []string{"foreground"},
				UseGPU: true, EnableMKLDNN: true, CPUNumThreads: 10, EnableBenchmark: true,
				IROptim: true, GPUMem: 8000, OutputDir: "./output/",
			}
			tc.global(&g)
			if !reflect.DeepEqual(c.Global, g) {
				t.Errorf("Global\n got  %+v\n want %+v", c.Global, g)
			}
			var rec []any
			for _, op := range c.RecPreProcess.Ops {
				rec = append(rec, op.Typed)
			}
			if !reflect.DeepEqual(rec, tc.rec) {
				t.Errorf("RecPreProcess\n got  %+v\n want %+v", rec, tc.rec)
			}
			if c.RecPostProcess != tc.post {
				t.Errorf("RecPostProcess = %+v, want %+v", c.RecPostProcess, tc.post)
			}
			x := IndexProcess{
				IndexMethod: "HNSW32", IndexOperation: "new", Delimiter: "\t", DistType: "IP",
				EmbeddingSize: 512, BatchSize: 32, ReturnK: 5, ScoreThres: 0.5, HasScoreThres: true,
			}
			tc.index(&x)
			if c.IndexProcess != x {
				t.Errorf("IndexProcess\n got  %+v\n want %+v", c.IndexProcess, x)
			}
			var dp []Op
			for _, op := range c.DetPreProcess.Ops {
				op.Params = nil
				dp = append(dp, op)
			}
			if tc.checkDP && !reflect.DeepEqual(dp, det) {
				t.Errorf("DetPreProcess\n got  %+v\n want %+v", dp, det)
			}
			if len(dp) != 3 {
				t.Errorf("DetPreProcess has %d ops", len(dp))
			}
			if !c.Has("IndexProcess") || c.Has("Eval") {
				t.Error("Has")
			}
		})
	}
}

func TestOverridesTyped(t *testing.T) {
	c, err := Load(filepath.Join(sharedConfigs(t), "inference_general.yaml"), []string{
		"Global.threshold=0.5",
		"Global.max_det_results=3",
		"Global.output_dir=./vis/",
		"Global.det_inference_model_dir=None",
		"RecPreProcess.transform_ops.0.ResizeImage.size=256",
		"RecPreProcess.transform_ops.1.NormalizeImage.scale=1/256",
		"IndexProcess.score_thres=0.7",
		"IndexProcess.index_operation=APPEND",
		"Global.my_key=[1,2]",
	})
	if err != nil {
		t.Fatal(err)
	}
	g := c.Global
	if g.Threshold != 0.5 || g.MaxDetResults != 3 || g.OutputDir != "./vis/" || g.DetInferenceModelDir != "" {
		t.Errorf("Global = %+v", g)
	}
	if r := c.RecPreProcess.Ops[0].Typed.(*ResizeImage); r.Size != [2]int{256, 256} {
		t.Errorf("ResizeImage = %+v", r)
	}
	if n := c.RecPreProcess.Ops[1].Typed.(*NormalizeImage); n.Scale != 1.0/256 {
		t.Errorf("NormalizeImage = %+v", n)
	}
	if c.IndexProcess.ScoreThres != 0.7 || c.IndexProcess.IndexOperation != "append" {
		t.Errorf("IndexProcess = %+v", c.IndexProcess)
	}
	if v, ok := c.Raw.Lookup("Global.my_key"); !ok || v.Repr() != "[1, 2]" || v.Origin != "Global.my_key=[1,2]" {
		t.Errorf("our own key: %v %v", v, ok)
	}
}

const sample = `Global:
  batch_size: 1
  threshold: 0.2
  max_det_results: 5
  use_gpu: False
  label_list:
    - foreground
RecPreProcess:
  transform_ops:
    - ResizeImage:
        size: [224, 224]
    - NormalizeImage:
        scale: 1.0/255.0
    - ToCHWImage:
IndexProcess:
  dist_type: "IP"
  score_thres: 0.5
`

func TestValidationErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string // replaces sample when not empty
		sub  [2]string
		opts []string
		want string
		err  error
	}{
		{"bad batch size", "", [2]string{"batch_size: 1", "batch_size: x"}, nil,
			`config: inference_general.yaml:2: Global.batch_size: want a positive integer, got "x"`, ErrInvalid},
		{"zero batch size", "", [2]string{"batch_size: 1", "batch_size: 0"}, nil,
			`config: inference_general.yaml:2: Global.batch_size: want a positive integer, got 0`, ErrInvalid},
		{"threshold not a number", "", [2]string{"threshold: 0.2", "threshold: [1]"}, nil,
			`config: inference_general.yaml:3: Global.threshold: want a number, got [1]`, ErrInvalid},
		{"bool as YAML 1.1 word works", "", [2]string{"use_gpu: False", "use_gpu: off"}, nil, "", nil},
		{"bool from a string", "", [2]string{"use_gpu: False", `use_gpu: "false"`}, nil,
			`config: inference_general.yaml:5: Global.use_gpu: want True or False, got "false"`, ErrInvalid},
		{"override names the option", "", [2]string{}, []string{"Global.batch_size=x"},
			`config: -o Global.batch_size=x: Global.batch_size: want a positive integer, got "x"`, ErrInvalid},
		{"override lowercase false", "", [2]string{}, []string{"Global.use_gpu=false"},
			`config: -o Global.use_gpu=false: Global.use_gpu: want True or False, got "false"`, ErrInvalid},
		{"label list element", "", [2]string{"- foreground", "- {a: 1}"}, nil,
			`config: inference_general.yaml:7: Global.label_list.0: want a name, got {'a': 1}`, ErrInvalid},
		{"unknown operator", "", [2]string{"- ToCHWImage:", "- ToHWC:"}, nil,
			`config: inference_general.yaml:14: RecPreProcess.transform_ops.2.ToHWC: unknown operator (known: CropImage, NormalizeImage, ResizeImage, ToCHWImage)`, ErrInvalid},
		{"bad scale expression", "", [2]string{"scale: 1.0/255.0", "scale: one/255"}, nil,
			`config: inference_general.yaml:13: RecPreProcess.transform_ops.1.NormalizeImage.scale: want a number or an expression such as 1.0/255.0, got "one/255"`, ErrInvalid},
		{"size list element", "", [2]string{"size: [224, 224]", "size: [224, -1]"}, nil,
			`config: inference_general.yaml:11: RecPreProcess.transform_ops.0.ResizeImage.size.1: want a positive integer, got -1`, ErrInvalid},
		{"hamming needs a radius", "", [2]string{`dist_type: "IP"`, `dist_type: "hamming"`}, nil,
			`config: inference_general.yaml:16: IndexProcess.hamming_radius: missing (required when dist_type is hamming)`, ErrInvalid},
		{"section not a mapping", "Global: 3\n", [2]string{}, nil,
			`config: inference_general.yaml:1: Global: want a mapping, got 3`, ErrInvalid},
		{"YAML syntax", "Global: [1, 2\n", [2]string{}, nil, "", ErrSyntax},
		{"top level list", "- 1\n", [2]string{}, nil,
			`config: inference_general.yaml:1: the top level must be a mapping`, ErrSyntax},
		{"override without =", "", [2]string{}, []string{"Global.batch_size"},
			`config: -o Global.batch_size: want Key.sub=value`, ErrOverride},
		{"override with two =", "", [2]string{}, []string{"Global.a=b=c"},
			`config: -o Global.a=b=c: there can be only one '=' in an option`, ErrOverride},
		{"override missing section", "", [2]string{}, []string{"Nope.x=1"},
			`config: -o Nope.x=1: Nope: no such key (intermediate keys must exist)`, ErrOverride},
		{"override index out of range", "", [2]string{}, []string{"RecPreProcess.transform_ops.5.x=1"},
			`config: -o RecPreProcess.transform_ops.5.x=1: RecPreProcess.transform_ops.5: index 5 out of range (list of 3)`, ErrOverride},
		{"override through a scalar", "", [2]string{}, []string{"Global.batch_size.x=1"},
			`config: -o Global.batch_size.x=1: Global.batch_size: int is not a dict or a list`, ErrOverride},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			if y == "" {
				y = sample
				if tc.sub[0] != "" {
					if !strings.Contains(y, tc.sub[0]) {
						t.Fatalf("sample has no %q", tc.sub[0])
					}
					y = strings.Replace(y, tc.sub[0], tc.sub[1], 1)
				}
			}
			_, err := Parse([]byte(y), "inference_general.yaml", tc.opts)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.want != "" && err.Error() != tc.want {
				t.Errorf("message\n got  %s\n want %s", err, tc.want)
			}
		})
	}
}

func TestErrorsAreJoined(t *testing.T) {
	y := strings.NewReplacer("batch_size: 1", "batch_size: -1", "threshold: 0.2", "threshold: x").Replace(sample)
	_, err := Parse([]byte(y), "f.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "f.yaml:2: Global.batch_size") || !strings.Contains(err.Error(), "f.yaml:3: Global.threshold") {
		t.Fatalf("want both errors, got %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || e.Key != "Global.batch_size" {
		t.Errorf("errors.As: %+v", e)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("Global:\n  rec_inference_model_dir: m\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Global.OutputDir != "./output/" || c.Global.RecNMSThreshold != 0.05 || c.Global.MaxDetResults != 5 ||
		c.Global.Threshold != 0.2 || c.Global.BatchSize != 1 || !reflect.DeepEqual(c.Global.LabelList, []string{"foreground"}) {
		t.Errorf("Global defaults: %+v", c.Global)
	}
	if c.IndexProcess.IndexOperation != "new" || c.IndexProcess.ReturnK != 5 || c.IndexProcess.Delimiter != "\t" {
		t.Errorf("IndexProcess defaults: %+v", c.IndexProcess)
	}
	if c.Has("IndexProcess") || len(c.RecPreProcess.Ops) != 0 {
		t.Error("absent sections")
	}
	empty, err := Parse(nil, "", nil)
	if err != nil || empty.Global.OutputDir != "./output/" {
		t.Errorf("empty file: %v", err)
	}
}

// TestPyYAMLTyping checks the YAML 1.1 rules PyYAML applies to plain
// scalars inside lists (where no literal_eval pass happens) and the
// literal_eval pass on quoted strings in mappings.
func TestPyYAMLTyping(t *testing.T) {
	c, err := Parse([]byte(`
l: [yes, No, on, OFF, true, ~, null, "", 1e-3, 1.0e-3, 1.5e+3, 010, 0x1f, 0b11, 1_000, 1:30, .inf, -.inf, 1., .5, "12", abc, 2023-01-01, 'True']
m:
  q: "123"
  f: "0.5"
  l: "[224, 224]"
  b: "True"
  s: "1.0/255.0"
  t: "\t"
  h: HNSW32
  e: 1e-3
  nested:
    q: '7'
  inlist:
    - {q: "7"}
`), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{'l': [True, False, True, False, True, None, None, '', '1e-3', 0.001, 1500.0, 8, 31, 3, 1000, 90, inf, -inf, 1.0, 0.5, '12', 'abc', '2023-01-01', 'True'], ` +
		`'m': {'q': 123, 'f': 0.5, 'l': [224, 224], 'b': True, 's': '1.0/255.0', 't': '\t', 'h': 'HNSW32', 'e': 0.001, 'nested': {'q': 7}, 'inlist': [{'q': '7'}]}}`
	if got := c.Raw.Repr(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestEval(t *testing.T) {
	tests := []struct {
		in   string
		want string // repr, or "ERR"
	}{
		{"5", "5"}, {"-5", "-5"}, {"+5", "5"}, {"1/255", "0.00392156862745098"}, {"2**10", "1024"},
		{"(1, 2)", "[1, 2]"}, // deviation: tuples are lists
		{"()", "[]"}, {"(5)", "5"}, {"[1,]", "[1]"}, {"'a' 'b'", "'ab'"},
		{"id", "ERR"}, {"dict", "ERR"}, {"print(1)", "ERR"}, // deviation: builtins stay strings
		{"1 if True else 2", "ERR"}, {"{1, 2}", "ERR"}, {"1j", "ERR"}, {"1 < 2", "ERR"},
		{"9223372036854775807", "9223372036854775807"}, {"9223372036854775808", "ERR"}, // 64-bit ints
		{"2**63", "ERR"}, {"1e308*10", "ERR"},
		{"007", "ERR"}, {"1__0", "ERR"}, {"1_", "ERR"}, {"0x", "ERR"}, {"'unterminated", "ERR"},
		{"True + 1", "2"}, {"-True", "-1"}, {"'a' + 'b'", "ERR"},
		{"[[[[1]]]]", "[[[[1]]]]"}, {strings.Repeat("[", 150) + strings.Repeat("]", 150), "ERR"},
	}
	for _, tc := range tests {
		v, err := Eval(tc.in)
		got := "ERR"
		if err == nil {
			got = v.Repr()
		}
		if got != tc.want {
			t.Errorf("Eval(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	lit := []struct{ in, want string }{
		{"1/255", "ERR"}, {"-1", "-1"}, {"[-1, 2.5]", "[-1, 2.5]"}, {"-'a'", "ERR"}, {"True", "True"},
	}
	for _, tc := range lit {
		v, err := LiteralEval(tc.in)
		got := "ERR"
		if err == nil {
			got = v.Repr()
		}
		if got != tc.want {
			t.Errorf("LiteralEval(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestFloatRepr(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0.1, "0.1"}, {1, "1.0"}, {1e16, "1e+16"}, {1e15, "1000000000000000.0"}, {1e-5, "1e-05"},
		{0.0001, "0.0001"}, {math.Copysign(0, -1), "-0.0"}, {math.Inf(1), "inf"}, {math.NaN(), "nan"}, {2.5e-7, "2.5e-07"},
	}
	for _, tc := range tests {
		if got := FloatRepr(tc.f); got != tc.want {
			t.Errorf("FloatRepr(%v) = %s, want %s", tc.f, got, tc.want)
		}
	}
	if got := StrRepr("it's"); got != `"it's"` {
		t.Errorf("StrRepr = %s", got)
	}
	if got := StrRepr("a'b\"c\\"); got != `'a\'b"c\\'` {
		t.Errorf("StrRepr = %s", got)
	}
}

func TestLookup(t *testing.T) {
	c, err := Parse([]byte(sample), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := c.Raw.Lookup("RecPreProcess.transform_ops.0.ResizeImage.size.1"); !ok || v.Int != 224 || v.Line != 11 {
		t.Errorf("Lookup = %+v %v", v, ok)
	}
	for _, p := range []string{"Nope", "Global.batch_size.x", "RecPreProcess.transform_ops.9", "RecPreProcess.transform_ops.-1"} {
		if _, ok := c.Raw.Lookup(p); ok {
			t.Errorf("Lookup(%q) found", p)
		}
	}
}

func TestAliasBomb(t *testing.T) {
	y := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 8; i++ {
		name := string(rune('b' + i))
		y += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	if _, err := Parse([]byte(y), "bomb.yaml", nil); !errors.Is(err, ErrSyntax) {
		t.Fatalf("err = %v, want ErrSyntax", err)
	}
}

func BenchmarkLoadGeneral(b *testing.B) {
	path := filepath.Join(sharedConfigs(b), "inference_general.yaml")
	opts := []string{"Global.threshold=0.5", "IndexProcess.score_thres=0.7"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(path, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func TestResizeImageForms(t *testing.T) {
	tests := []struct {
		params string
		want   ResizeImage
		err    bool
	}{
		{"{size: 224}", ResizeImage{Size: [2]int{224, 224}, Backend: "cv2"}, false},
		{"{size: [256, 128], interpolation: bicubic, backend: pil}", ResizeImage{Size: [2]int{256, 128}, Interpolation: "bicubic", Backend: "pil"}, false},
		{"{size: null, resize_short: 256}", ResizeImage{ResizeShort: 256, Backend: "cv2"}, false},
		{"{resize_short: 256, interpolation: null}", ResizeImage{ResizeShort: 256, Backend: "cv2"}, false},
		{"{size: 224, resize_short: 256}", ResizeImage{}, true},
		{"{}", ResizeImage{}, true},
		{"{size: [1, 2, 3]}", ResizeImage{}, true},
	}
	for _, tc := range tests {
		y := "RecPreProcess:\n  transform_ops:\n    - ResizeImage: " + tc.params + "\n"
		c, err := Parse([]byte(y), "r.yaml", nil)
		if tc.err {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err = %v, want ErrInvalid", tc.params, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.params, err)
			continue
		}
		if got := *c.RecPreProcess.Ops[0].Typed.(*ResizeImage); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.params, got, tc.want)
		}
	}
}

func TestOpsAndPostProcess(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(c *Config) bool
		errKey     string // "" = no error
	}{
		{"det ops defaults", "DetPreProcess:\n  transform_ops:\n    - DetResize: {target_size: 320}\n    - DetNormalizeImage: {mean: [0, 0, 0], std: [1, 1, 1]}\n    - DetPadStride: {stride: 32}\n",
			func(c *Config) bool {
				r := c.DetPreProcess.Ops[0].Typed.(*DetResize)
				n := c.DetPreProcess.Ops[1].Typed.(*DetNormalizeImage)
				return *r == DetResize{TargetSize: [2]int{320, 320}, Interp: 1} && n.IsScale &&
					c.DetPreProcess.Ops[2].Typed.(*DetPadStride).Stride == 32
			}, ""},
		{"DetResize needs target_size", "DetPreProcess:\n  transform_ops:\n    - DetResize: {interp: 2}\n", nil, "DetPreProcess.transform_ops.0.DetResize.target_size"},
		{"target_size too large", "DetPreProcess:\n  transform_ops:\n    - DetResize: {target_size: [640, 100000]}\n", nil, "DetPreProcess.transform_ops.0.DetResize.target_size.1"},
		{"stride too large", "DetPreProcess:\n  transform_ops:\n    - DetPadStride: {stride: 1000000}\n", nil, "DetPreProcess.transform_ops.0.DetPadStride.stride"},
		{"interp out of range", "DetPreProcess:\n  transform_ops:\n    - DetResize: {target_size: 8, interp: 7}\n", nil, "DetPreProcess.transform_ops.0.DetResize.interp"},
		{"DetNormalizeImage needs std", "DetPreProcess:\n  transform_ops:\n    - DetNormalizeImage: {mean: [0, 0, 0]}\n", nil, "DetPreProcess.transform_ops.0.DetNormalizeImage.std"},
		{"zero std", "DetPreProcess:\n  transform_ops:\n    - DetNormalizeImage: {mean: [0, 0, 0], std: [1, 0, 1]}\n", nil, "DetPreProcess.transform_ops.0.DetNormalizeImage.std.1"},
		{"op not a single-key map", "DetPreProcess:\n  transform_ops:\n    - {DetResize: {target_size: 8}, DetPermute: {}}\n", nil, "DetPreProcess.transform_ops.0"},
		{"Binarize default method", "RecPostProcess:\n  main_indicator: Binarize\n  Binarize:\n", func(c *Config) bool {
			return c.RecPostProcess == RecPostProcess{MainIndicator: "Binarize", BinarizeMethod: "round"}
		}, ""},
		{"unknown post-process", "RecPostProcess:\n  main_indicator: Topk\n", nil, "RecPostProcess.main_indicator"},
		{"bad binarize method", "RecPostProcess:\n  main_indicator: Binarize\n  Binarize: {method: floor}\n", nil, "RecPostProcess.Binarize.method"},
		{"index operation", "IndexProcess:\n  index_operation: Remove\n  delimiter: ' '\n", func(c *Config) bool {
			return c.IndexProcess.IndexOperation == "remove" && c.IndexProcess.Delimiter == " "
		}, ""},
		{"bad index operation", "IndexProcess:\n  index_operation: drop\n", nil, "IndexProcess.index_operation"},
		{"empty delimiter", "IndexProcess:\n  delimiter: ''\n", nil, "IndexProcess.delimiter"},
		{"return_k", "IndexProcess:\n  return_k: 0\n", nil, "IndexProcess.return_k"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml), "o.yaml", nil)
			if tc.errKey != "" {
				var e *Error
				if !errors.As(err, &e) || e.Key != tc.errKey || e.Line == 0 {
					t.Fatalf("err = %v (%+v), want key %s with a line", err, e, tc.errKey)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Errorf("unexpected result: %+v %+v %+v", c.DetPreProcess, c.RecPostProcess, c.IndexProcess)
			}
		})
	}
}
