package paddle

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/shitu-go/shitu/onnx"
	"google.golang.org/protobuf/proto"
)

// ConvertOptions configure ToONNX. The zero value converts the whole
// program from its feed ops to its fetch ops at opset 14.
type ConvertOptions struct {
	// Opset is the ai.onnx opset to target (default 14, minimum 13). With
	// 14 and above hard_swish with the standard attributes becomes HardSwish.
	Opset int64
	// Outputs cuts the graph: convert only what these Paddle variables need
	// and make them the graph outputs (default: the fetch ops' variables in
	// `col` order).
	Outputs []string
	// DetectorHead cuts a PicoDet detector where the head outputs leave the
	// network (models-and-formats §B.4, §F.2): every `split` of a head
	// convolution into [classes, 4·(reg_max+1)] channels becomes two outputs,
	// the sigmoid class scores [N, H·W, C] then the distance logits
	// [N, H·W, 4·(reg_max+1)], levels in program order, all scores first:
	// the raw-head form of §B.5 that detect.DecodeRaw decodes. The
	// post-processing (control flow, NMS) and the inputs only it uses are
	// dropped.
	DetectorHead bool
	// HeadLogits, with DetectorHead, emits the split outputs unchanged
	// instead: class logits [N, C, H, W] and distance logits
	// [N, 4·(reg_max+1), H, W] (the form package arch builds; detect
	// decodes both).
	HeadLogits bool
	// AutoCut converts the whole program when it can and otherwise, when
	// the failure is unsupported ops and the program has PicoDet head
	// splits, falls back to DetectorHead: what a PaddleClas model folder
	// needs without knowing which model it holds (default false).
	AutoCut bool
	// InputShapes overrides the dims of graph inputs (-1 = dynamic).
	InputShapes map[string][]int64
	// PinInputShapes keeps the feed dims exactly as the program stores
	// them. By default the spatial dims (H, W) of image feeds — 4-D
	// floating-point feeds, NCHW (NHWC when the last dim holds 1 or 3
	// channels) — become dynamic, because Paddle
	// Inference accepts any image size there while a program exported
	// with [-1,3,32,100] would otherwise convert to an input that refuses
	// 48×160. Dims derived from such feeds are then not taken from the
	// program's VarDescs (they hold the export-time size): ops that need
	// them are converted with runtime shapes, and when one cannot be (an
	// adaptive max pooling to more than 1×1, for instance) the model is
	// converted pinned and its doc string says why. Feeds listed in
	// InputShapes take those dims either way.
	PinInputShapes bool
}

// ToONNX converts the model to a serialized ONNX model.
func ToONNX(m *Model, opts ConvertOptions) ([]byte, error) {
	mp, err := ConvertModel(m, opts)
	if err != nil {
		return nil, err
	}
	return onnx.Marshal(mp)
}

// ConvertModel converts the model to an ONNX ModelProto (see ToONNX).
func ConvertModel(m *Model, opts ConvertOptions) (*onnx.ModelProto, error) {
	if m == nil || m.Program == nil || len(m.Program.Blocks) == 0 {
		return nil, fmt.Errorf("%w: empty model", ErrConvert)
	}
	if opts.Opset == 0 {
		opts.Opset = 14
	}
	if opts.Opset < 13 {
		return nil, fmt.Errorf("%w: opset %d is below the minimum 13", ErrConvert, opts.Opset)
	}
	mp, err := convertOnce(m, opts)
	if err != nil && !opts.PinInputShapes && errors.Is(err, errNeedsStatic) {
		// A dynamic image size cannot be converted faithfully: convert at
		// the stored size rather than give a model that is wrong at others.
		opts.PinInputShapes = true
		if mp, err2 := convertOnce(m, opts); err2 == nil {
			note := fmt.Sprintf("input dims pinned as stored (%v)", err)
			if d := mp.GetDocString(); d != "" {
				note = d + "; " + note
			}
			mp.DocString = proto.String(note)
			return mp, nil
		}
	}
	return mp, err
}

// errNeedsStatic marks an op that cannot be converted for a dynamic
// input size (ConvertOptions.PinInputShapes).
var errNeedsStatic = errors.New("needs a static input size")

func newConv(m *Model, opts ConvertOptions) *conv {
	return &conv{m: m, p: m.Program, opts: opts, g: newGraph(),
		val: map[string]string{}, dt: map[string]onnx.TensorProto_DataType{},
		dyn: map[string]bool{}, consts: map[string][]int64{}}
}

func convertOnce(m *Model, opts ConvertOptions) (*onnx.ModelProto, error) {
	mp, err := newConv(m, opts).run()
	if err != nil && opts.AutoCut && !opts.DetectorHead && errors.Is(err, ErrUnsupported) {
		opts.DetectorHead = true
		c := newConv(m, opts)
		if _, herr := c.findHeadSplits(); herr == nil {
			return c.run()
		}
	}
	return mp, err
}

type conv struct {
	vars map[string]*Var // block-0 variables by name
	m    *Model
	p    *Program
	opts ConvertOptions
	g    *graph
	val  map[string]string                    // Paddle var → ONNX value
	dt   map[string]onnx.TensorProto_DataType // ONNX value → element type
	// dyn holds the Paddle vars computed from a feed whose dims were made
	// dynamic: their VarDesc dims are the export-time ones, not facts.
	dyn map[string]bool
	// consts holds the values of integer Paddle vars known at conversion
	// time (fill_constant, assign_value, integer parameters).
	consts map[string][]int64
}

// headSplit is one PicoDet level: the split of the head conv into class
// logits and distance logits.
type headSplit struct{ cls, reg string }

func (c *conv) findHeadSplits() ([]headSplit, error) {
	var hs []headSplit
	producer := map[string]string{}
	for _, op := range c.p.Blocks[0].Ops {
		for _, s := range op.Outputs {
			for _, a := range s.Args {
				producer[a] = op.Type
			}
		}
		if op.Type != "split" {
			continue
		}
		// The head split reads the head conv: conv2d, or its bias add.
		if in := op.Input("X"); len(in) != 1 || (producer[in[0]] != "conv2d" && producer[in[0]] != "elementwise_add") {
			continue
		}
		outs := op.Output("Out")
		if len(outs) != 2 || op.Int("axis", 0) != 1 {
			continue
		}
		secs := op.Ints("sections", nil)
		if len(secs) != 2 || secs[1] <= 0 || secs[1]%4 != 0 || secs[0] <= 0 {
			continue
		}
		hs = append(hs, headSplit{outs[0], outs[1]})
	}
	if len(hs) == 0 {
		return nil, fmt.Errorf("%w: DetectorHead: no head split of [classes, 4·(reg_max+1)] channels along axis 1", ErrConvert)
	}
	return hs, nil
}

func (c *conv) run() (*onnx.ModelProto, error) {
	blk := c.p.Blocks[0]
	targets := c.opts.Outputs
	var heads []headSplit
	if c.opts.DetectorHead {
		var err error
		if heads, err = c.findHeadSplits(); err != nil {
			return nil, err
		}
		targets = nil
		for _, h := range heads {
			targets = append(targets, h.cls, h.reg)
		}
	}
	if len(targets) == 0 {
		targets = c.p.Fetches()
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: the program has no fetch ops and no outputs were given", ErrConvert)
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if seen[t] {
			return nil, fmt.Errorf("%w: output %q is listed twice", ErrConvert, t)
		}
		seen[t] = true
	}
	// Walk back from the targets to the ops they need (models-and-formats
	// §F.2: cutting drops the unconvertible post-processing).
	need := map[string]bool{}
	for _, t := range targets {
		need[t] = true
	}
	keep := make([]bool, len(blk.Ops))
	for i := len(blk.Ops) - 1; i >= 0; i-- {
		op := blk.Ops[i]
		if op.Type == "feed" || op.Type == "fetch" {
			continue
		}
		hit := false
		for _, s := range op.Outputs {
			for _, a := range s.Args {
				if need[a] && !c.isParam(a) {
					hit = true
				}
			}
		}
		if !hit {
			continue
		}
		keep[i] = true
		for _, s := range op.Inputs {
			for _, a := range s.Args {
				if a != "" {
					need[a] = true
				}
			}
		}
	}
	// Unsupported ops: one error naming every type with its count.
	bad := map[string]int{}
	for i, op := range blk.Ops {
		if keep[i] && handlers[op.Type] == nil {
			bad[op.Type]++
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnsupported, FormatInventory(bad))
	}
	// Graph inputs: the feeds the kept ops read, in `col` order.
	var inputs []*onnx.ValueInfoProto
	for _, f := range c.p.Feeds() {
		if !need[f] {
			continue
		}
		v := c.v(f)
		if v == nil {
			return nil, fmt.Errorf("%w: feed %q has no VarDesc", ErrConvert, f)
		}
		dt, ok := onnxType(v.DType)
		if !ok {
			return nil, fmt.Errorf("%w: feed %q has element type %v", ErrConvert, f, v.DType)
		}
		dims := v.Dims
		if d, ok := c.opts.InputShapes[f]; ok {
			// Dims other than the stored ones make the VarDescs below stale.
			c.dyn[f] = !slices.Equal(d, dims)
			dims = d
		} else if h, w, ok := imageAxes(dt, dims); ok && !c.opts.PinInputShapes {
			dims = append([]int64(nil), dims...)
			dims[h], dims[w] = -1, -1
			c.dyn[f] = true
		}
		inputs = append(inputs, valueInfo(f, dt, dims, sanitize(f)))
		c.val[f] = f
		c.dt[f] = dt
		c.g.names[f] = true
	}
	for i, op := range blk.Ops {
		if keep[i] {
			c.propagateDyn(op)
		}
	}
	for i, op := range blk.Ops {
		if !keep[i] {
			continue
		}
		if err := handlers[op.Type](c, op); err != nil {
			return nil, fmt.Errorf("%w: op %d %s: %w", ErrConvert, i, op.Type, err)
		}
	}
	var outputs []*onnx.ValueInfoProto
	if c.opts.DetectorHead {
		var err error
		if outputs, err = c.emitHeads(heads); err != nil {
			return nil, err
		}
	} else {
		var shapes map[string][]int64
		for _, t := range targets {
			if c.dyn[t] && shapes == nil {
				shapes = c.inferShapes(inputs)
			}
			name, ok := c.val[t]
			if !ok {
				return nil, fmt.Errorf("%w: output %q is not produced by the converted ops", ErrConvert, t)
			}
			var dims []int64
			if v := c.v(t); v != nil && len(v.Dims) > 0 {
				dims = v.Dims
				if c.dyn[t] {
					dims = dynDims(v.Dims, shapes[name])
				}
			}
			if name != t && !c.g.names[t] {
				c.g.node("Identity", []string{name}, []string{t})
				name = t
			}
			outputs = append(outputs, valueInfo(name, c.dt[name], dims, sanitize(t)))
		}
	}
	g := &onnx.GraphProto{
		Name:        proto.String("paddle"),
		Node:        c.g.nodes,
		Initializer: c.g.inits,
		Input:       inputs,
		Output:      outputs,
	}
	mp := &onnx.ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String("shitu-paddle"),
		OpsetImport:  []*onnx.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(c.opts.Opset)}},
		Graph:        g,
	}
	if c.p.Version != 0 {
		mp.DocString = proto.String(fmt.Sprintf("converted from a Paddle %d program", c.p.Version))
	}
	if err := onnx.Validate(mp); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConvert, err)
	}
	return mp, nil
}

// emitHeads makes the raw-head outputs of models-and-formats §B.5 from the
// split outputs: scores sigmoid → [N, H·W, C]; distances → [N, H·W, 4(R+1)].
func (c *conv) emitHeads(hs []headSplit) ([]*onnx.ValueInfoProto, error) {
	var scores, dists []*onnx.ValueInfoProto
	for i, h := range hs {
		for k, name := range []string{h.cls, h.reg} {
			x, err := c.in(name)
			if err != nil {
				return nil, err
			}
			ch := int64(-1)
			if v := c.v(name); v != nil && len(v.Dims) == 4 {
				ch = v.Dims[1]
			}
			out := fmt.Sprintf("cls_score_%d", i)
			if k == 1 {
				out = fmt.Sprintf("reg_dist_%d", i)
			}
			var vi *onnx.ValueInfoProto
			if c.opts.HeadLogits {
				out = fmt.Sprintf("cls_logits_%d", i)
				if k == 1 {
					out = fmt.Sprintf("reg_logits_%d", i)
				}
				c.g.node("Identity", []string{x}, []string{out})
				vi = valueInfo(out, onnx.TensorProto_FLOAT, []int64{-1, ch, -1, -1}, out)
			} else {
				if k == 0 {
					x = c.g.op1("Sigmoid", "head", []string{x})
				}
				x = c.g.op1("Transpose", "head", []string{x}, aInts("perm", 0, 2, 3, 1))
				shape := c.g.constI64("head_shape", []int64{3}, []int64{0, -1, ch})
				c.g.node("Reshape", []string{x, shape}, []string{out})
				vi = valueInfo(out, onnx.TensorProto_FLOAT, []int64{-1, -1, ch}, out)
			}
			if k == 0 {
				scores = append(scores, vi)
			} else {
				dists = append(dists, vi)
			}
		}
	}
	return append(scores, dists...), nil
}

func sanitize(s string) string {
	return strings.NewReplacer("/", "_", ".", "_").Replace(s)
}

// v looks a block-0 variable up by name (nil when absent).
func (c *conv) v(name string) *Var {
	if c.vars == nil {
		c.vars = make(map[string]*Var, len(c.p.Blocks[0].Vars))
		for _, v := range c.p.Blocks[0].Vars {
			if _, dup := c.vars[v.Name]; !dup {
				c.vars[v.Name] = v
			}
		}
	}
	return c.vars[name]
}

// isParam reports whether name is a persistable variable with a value.
func (c *conv) isParam(name string) bool {
	v := c.v(name)
	return v != nil && v.Persistable && v.Kind != FeedMinibatch && v.Kind != FetchList
}

// in resolves a Paddle variable to an ONNX value, adding parameters as
// initializers on first use.
func (c *conv) in(name string) (string, error) {
	if v, ok := c.val[name]; ok {
		return v, nil
	}
	if c.isParam(name) {
		t, ok := c.m.Params[name]
		if !ok {
			return "", fmt.Errorf("parameter %q has no value (model loaded without parameters?)", name)
		}
		tp, err := paramTensor(name, t, nil)
		if err != nil {
			return "", err
		}
		c.g.addInit(tp)
		c.val[name] = name
		c.dt[name] = onnx.TensorProto_DataType(tp.GetDataType())
		return name, nil
	}
	return "", fmt.Errorf("variable %q is read before it is produced", name)
}

// param returns a parameter's value (for ops that rewrite constants).
func (c *conv) param(name string) (*Tensor, bool) {
	if !c.isParam(name) {
		return nil, false
	}
	t, ok := c.m.Params[name]
	return t, ok
}

// input resolves the first argument of an input slot.
func (c *conv) input(op *Op, slot string) (string, error) {
	args := op.Input(slot)
	if len(args) == 0 || args[0] == "" {
		return "", fmt.Errorf("input %s is missing", slot)
	}
	return c.in(args[0])
}

// hasInput reports whether an optional input slot is bound.
func hasInput(op *Op, slot string) bool {
	args := op.Input(slot)
	return len(args) > 0 && args[0] != ""
}

// output returns the ONNX name for the first argument of an output slot
// and records the mapping; dt is its element type. A Paddle variable that is
// written twice (in-place ops) gets a fresh ONNX name.
func (c *conv) output(op *Op, slot string, dt onnx.TensorProto_DataType) (string, error) {
	args := op.Output(slot)
	if len(args) == 0 || args[0] == "" {
		return "", fmt.Errorf("output %s is missing", slot)
	}
	return c.bind(args[0], dt), nil
}

func (c *conv) bind(name string, dt onnx.TensorProto_DataType) string {
	out := name
	if c.g.names[name] {
		out = c.g.fresh(sanitize(name))
	}
	c.g.names[out] = true
	c.val[name] = out
	c.dt[out] = dt
	return out
}

// rank returns the rank of a Paddle variable from its VarDesc, or -1.
func (c *conv) rank(name string) int {
	if v := c.v(name); v != nil && (v.Kind == LoDTensor || v.Kind == SelectedRows || v.Kind < 0) {
		return len(v.Dims)
	}
	if t, ok := c.m.Params[name]; ok {
		return len(t.Dims)
	}
	return -1
}

// dims returns a Paddle variable's VarDesc dims (nil when unknown).
func (c *conv) dims(name string) []int64 {
	if v := c.v(name); v != nil {
		return v.Dims
	}
	return nil
}

// SupportedOps lists the Paddle op types ToONNX converts, sorted.
func SupportedOps() []string {
	var s []string
	for k := range handlers {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}
