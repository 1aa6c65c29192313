package paddle

import (
	"fmt"

	"github.com/shitu-go/shitu/onnx"
)

// handlers maps Paddle op types to their converters. feed and fetch are
// handled by the driver (graph inputs and outputs in `col` order). More
// entries are added by init in convert_more.go.
var handlers = map[string]func(*conv, *Op) error{
	"conv2d":                     convConv,
	"depthwise_conv2d":           convConv,
	"conv2d_transpose":           convConvTranspose,
	"depthwise_conv2d_transpose": convConvTranspose,
	"batch_norm":                 convBatchNorm,
	"pool2d":                     convPool,
	"relu":                       unary("Relu"),
	"sigmoid":                    unary("Sigmoid"),
	"tanh":                       unary("Tanh"),
	"exp":                        unary("Exp"),
	"sqrt":                       unary("Sqrt"),
	"abs":                        unary("Abs"),
	"relu6":                      convRelu6,
	"leaky_relu":                 convLeakyRelu,
	"hard_swish":                 convHardSwish,
	"hard_sigmoid":               convHardSigmoid,
	"swish":                      convSwish,
	"softmax":                    convSoftmax,
	"dropout":                    convDropout,
	"scale":                      convScale,
	"elementwise_add":            elementwise("Add"),
	"elementwise_sub":            elementwise("Sub"),
	"elementwise_mul":            elementwise("Mul"),
	"elementwise_div":            elementwise("Div"),
	"elementwise_pow":            elementwise("Pow"),
	"elementwise_max":            elementwise("Max"),
	"elementwise_min":            elementwise("Min"),
	"flatten_contiguous_range":   convFlattenRange,
	"flatten2":                   convFlatten2,
	"flatten":                    convFlatten2,
	"reshape2":                   convReshape,
	"reshape":                    convReshape,
	"transpose2":                 convTranspose,
	"transpose":                  convTranspose,
	"concat":                     convConcat,
	"split":                      convSplit,
	"nearest_interp_v2":          convInterp,
	"bilinear_interp_v2":         convInterp,
	"nearest_interp":             convInterp,
	"bilinear_interp":            convInterp,
	"matmul":                     convMatmul,
	"matmul_v2":                  convMatmul,
	"shape":                      convShape,
	"slice":                      convSlice,
	"fill_constant":              convFillConstant,
	"cast":                       convCast,
	"unsqueeze2":                 convUnsqueeze,
	"squeeze2":                   convSqueeze,
	"clip":                       convClip,
	"assign":                     unary("Identity"),
	"multiclass_nms3":            convMulticlassNMS,
}

// x1 resolves X and binds Out as the same element type.
func (c *conv) x1(op *Op) (string, string, error) {
	x, err := c.input(op, "X")
	if err != nil {
		return "", "", err
	}
	out, err := c.output(op, "Out", c.dt[x])
	return x, out, err
}

func unary(onnxOp string) func(*conv, *Op) error {
	return func(c *conv, op *Op) error {
		x, out, err := c.x1(op)
		if err != nil {
			return err
		}
		c.g.node(onnxOp, []string{x}, []string{out})
		return nil
	}
}

// pads4 turns Paddle's paddings (2 symmetric values or 4 as
// [top,bottom,left,right]) into ONNX [top,left,bottom,right]
// (models-and-formats §D.3).
func pads4(p []int64) ([]int64, error) {
	switch len(p) {
	case 0:
		return []int64{0, 0, 0, 0}, nil
	case 2:
		return []int64{p[0], p[1], p[0], p[1]}, nil
	case 4:
		return []int64{p[0], p[2], p[1], p[3]}, nil
	}
	return nil, fmt.Errorf("paddings %v: want 2 or 4 values", p)
}

func checkNCHW(op *Op, attr string) error {
	if f := op.Str(attr, "NCHW"); f != "NCHW" && f != "AnyLayout" {
		return fmt.Errorf("%s %q is not supported (NCHW only)", attr, f)
	}
	return nil
}

// padAttrs gives the pads/auto_pad attributes for padding_algorithm.
func padAttrs(op *Op) ([]*onnx.AttributeProto, error) {
	switch alg := op.Str("padding_algorithm", "EXPLICIT"); alg {
	case "SAME":
		return []*onnx.AttributeProto{aStr("auto_pad", "SAME_UPPER")}, nil
	case "VALID":
		return []*onnx.AttributeProto{aInts("pads", 0, 0, 0, 0)}, nil
	case "EXPLICIT", "":
		p, err := pads4(op.Ints("paddings", nil))
		if err != nil {
			return nil, err
		}
		return []*onnx.AttributeProto{aInts("pads", p...)}, nil
	default:
		return nil, fmt.Errorf("padding_algorithm %q", alg)
	}
}

func convConv(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_format"); err != nil {
		return err
	}
	x, err := c.input(op, "Input")
	if err != nil {
		return err
	}
	w, err := c.input(op, "Filter")
	if err != nil {
		return err
	}
	ins := []string{x, w}
	if hasInput(op, "Bias") {
		b, err := c.input(op, "Bias")
		if err != nil {
			return err
		}
		ins = append(ins, b)
	}
	if hasInput(op, "ResidualData") {
		return fmt.Errorf("fused ResidualData is not supported")
	}
	out, err := c.output(op, "Output", c.dt[x])
	if err != nil {
		return err
	}
	attrs, err := padAttrs(op)
	if err != nil {
		return err
	}
	attrs = append(attrs,
		aInts("strides", op.Ints("strides", []int64{1, 1})...),
		aInts("dilations", op.Ints("dilations", []int64{1, 1})...),
		aInt("group", op.Int("groups", 1)))
	if wd := c.dims(op.Input("Filter")[0]); len(wd) == 4 && wd[2] > 0 && wd[3] > 0 {
		attrs = append(attrs, aInts("kernel_shape", wd[2], wd[3]))
	}
	c.g.node("Conv", ins, []string{out}, attrs...)
	return nil
}

func convConvTranspose(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_format"); err != nil {
		return err
	}
	x, err := c.input(op, "Input")
	if err != nil {
		return err
	}
	w, err := c.input(op, "Filter")
	if err != nil {
		return err
	}
	ins := []string{x, w}
	if hasInput(op, "Bias") {
		b, err := c.input(op, "Bias")
		if err != nil {
			return err
		}
		ins = append(ins, b)
	}
	out, err := c.output(op, "Output", c.dt[x])
	if err != nil {
		return err
	}
	attrs, err := padAttrs(op)
	if err != nil {
		return err
	}
	attrs = append(attrs,
		aInts("strides", op.Ints("strides", []int64{1, 1})...),
		aInts("dilations", op.Ints("dilations", []int64{1, 1})...),
		aInt("group", op.Int("groups", 1)))
	if p := op.Ints("output_padding", nil); len(p) > 0 {
		attrs = append(attrs, aInts("output_padding", p...))
	}
	if s := op.Ints("output_size", nil); len(s) > 0 {
		attrs = append(attrs, aInts("output_shape", s...))
	}
	c.g.node("ConvTranspose", ins, []string{out}, attrs...)
	return nil
}

func convBatchNorm(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_layout"); err != nil {
		return err
	}
	var ins []string
	for _, s := range []string{"X", "Scale", "Bias", "Mean", "Variance"} {
		v, err := c.input(op, s)
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	out, err := c.output(op, "Y", c.dt[ins[0]])
	if err != nil {
		return err
	}
	c.g.node("BatchNormalization", ins, []string{out}, aFloat("epsilon", float32(op.Float("epsilon", 1e-5))))
	return nil
}

func convPool(c *conv, op *Op) error {
	if err := checkNCHW(op, "data_format"); err != nil {
		return err
	}
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	typ := op.Str("pooling_type", "max")
	if typ != "max" && typ != "avg" {
		return fmt.Errorf("pooling_type %q", typ)
	}
	ks := op.Ints("ksize", nil)
	adaptive := op.Bool("adaptive", false)
	global := op.Bool("global_pooling", false)
	if adaptive && len(ks) == 2 && ks[0] == 1 && ks[1] == 1 {
		global = true // adaptive 1×1 = global pooling (models-and-formats §D.1)
	}
	if global {
		name := "GlobalMaxPool"
		if typ == "avg" {
			name = "GlobalAveragePool"
		}
		c.g.node(name, []string{x}, []string{out})
		return nil
	}
	if len(ks) != 2 {
		return fmt.Errorf("ksize %v", ks)
	}
	strides := op.Ints("strides", []int64{1, 1})
	var attrs []*onnx.AttributeProto
	if adaptive {
		// A static size divisible by the output is a plain pooling; other
		// sizes (the stored export-time size of a dynamic feed included)
		// need the runtime bins, which average pooling has.
		d := c.staticDims(op.Input("X")[0])
		if len(d) != 4 || d[2] <= 0 || d[3] <= 0 || d[2]%ks[0] != 0 || d[3]%ks[1] != 0 {
			if typ == "avg" {
				c.adaptiveAvgDynamic(x, out, ks[0], ks[1])
				return nil
			}
			if c.dyn[op.Input("X")[0]] {
				return needsStatic("adaptive max pooling to %v", ks)
			}
			return fmt.Errorf("adaptive max pooling to %v needs a static input size divisible by it (have %v)", ks, d)
		}
		k := []int64{d[2] / ks[0], d[3] / ks[1]}
		ks, strides = k, k
		attrs = append(attrs, aInts("pads", 0, 0, 0, 0))
	} else {
		pa, err := padAttrs(op)
		if err != nil {
			return err
		}
		attrs = append(attrs, pa...)
	}
	attrs = append(attrs, aInts("kernel_shape", ks...), aInts("strides", strides...))
	if op.Bool("ceil_mode", false) {
		attrs = append(attrs, aInt("ceil_mode", 1))
	}
	name := "MaxPool"
	if typ == "avg" {
		name = "AveragePool"
		// exclusive=true (default) means padding is not counted (§D.3).
		if !op.Bool("exclusive", true) {
			attrs = append(attrs, aInt("count_include_pad", 1))
		}
	}
	c.g.node(name, []string{x}, []string{out}, attrs...)
	return nil
}

func convRelu6(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	lo := c.g.constF32("relu6_min", nil, []float32{0})
	hi := c.g.constF32("relu6_max", nil, []float32{float32(op.Float("threshold", 6))})
	c.g.node("Clip", []string{x, lo, hi}, []string{out})
	return nil
}

func convLeakyRelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("LeakyRelu", []string{x}, []string{out}, aFloat("alpha", float32(op.Float("alpha", 0.02))))
	return nil
}

// convHardSwish: y = x·min(max(x+offset, 0), threshold)/scale; ONNX
// HardSwish only for the standard 6/6/3 attributes at opset ≥ 14 (§D.2).
func convHardSwish(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	th, sc, off := op.Float("threshold", 6), op.Float("scale", 6), op.Float("offset", 3)
	if th == 6 && sc == 6 && off == 3 && c.opts.Opset >= 14 {
		c.g.node("HardSwish", []string{x}, []string{out})
		return nil
	}
	o := c.g.constF32("hswish_offset", nil, []float32{float32(off)})
	lo := c.g.constF32("hswish_min", nil, []float32{0})
	hi := c.g.constF32("hswish_max", nil, []float32{float32(th)})
	s := c.g.constF32("hswish_scale", nil, []float32{float32(sc)})
	a := c.g.op1("Add", "hswish", []string{x, o})
	cl := c.g.op1("Clip", "hswish", []string{a, lo, hi})
	m := c.g.op1("Mul", "hswish", []string{x, cl})
	c.g.node("Div", []string{m, s}, []string{out})
	return nil
}

// convHardSigmoid: y = clip(slope·x+offset, 0, 1); the op's default slope
// is 0.2, but nn.Hardsigmoid passes 1/6 explicitly (§D.2).
func convHardSigmoid(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("HardSigmoid", []string{x}, []string{out},
		aFloat("alpha", float32(op.Float("slope", 0.2))), aFloat("beta", float32(op.Float("offset", 0.5))))
	return nil
}

func convSwish(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	in := x
	if b := op.Float("beta", 1); b != 1 {
		in = c.g.op1("Mul", "swish", []string{x, c.g.constF32("swish_beta", nil, []float32{float32(b)})})
	}
	s := c.g.op1("Sigmoid", "swish", []string{in})
	c.g.node("Mul", []string{x, s}, []string{out})
	return nil
}

func convSoftmax(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Softmax", []string{x}, []string{out}, aInt("axis", op.Int("axis", -1)))
	return nil
}

// convDropout: at inference downgrade_in_infer (the default) scales by
// 1−p, upscale_in_train is the identity (models-and-formats §A.2, §D.1).
func convDropout(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	impl := op.Str("dropout_implementation", "downgrade_in_infer")
	p := op.Float("dropout_prob", 0.5)
	if impl == "upscale_in_train" || p == 0 {
		c.g.node("Identity", []string{x}, []string{out})
		return nil
	}
	if impl != "downgrade_in_infer" {
		return fmt.Errorf("dropout_implementation %q", impl)
	}
	k := c.g.constF32("dropout_keep", nil, []float32{float32(1 - p)})
	c.g.node("Mul", []string{x, k}, []string{out})
	return nil
}

// convScale: out = scale·x + bias when bias_after_scale (default), else
// scale·(x + bias) (models-and-formats §D.2).
func convScale(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	dt := c.dt[x]
	sc, bias := op.Float("scale", 1), op.Float("bias", 0)
	after := op.Bool("bias_after_scale", true)
	var sName string
	if hasInput(op, "ScaleTensor") {
		if sName, err = c.input(op, "ScaleTensor"); err != nil {
			return err
		}
		if c.dt[sName] != dt {
			sName = c.g.op1("Cast", "scale_t", []string{sName}, aInt("to", int64(dt)))
		}
	} else if sc == 1 && bias == 0 {
		c.g.node("Identity", []string{x}, []string{out})
		return nil
	} else if sc != 1 {
		if sName, err = c.g.constScalar("scale", dt, sc); err != nil {
			return err
		}
	}
	cur := x
	if bias != 0 && !after {
		b, err := c.g.constScalar("scale_bias", dt, bias)
		if err != nil {
			return err
		}
		cur = c.g.op1("Add", "scale", []string{cur, b})
	}
	if sName != "" {
		cur = c.g.op1("Mul", "scale", []string{cur, sName})
	}
	if bias != 0 && after {
		b, err := c.g.constScalar("scale_bias", dt, bias)
		if err != nil {
			return err
		}
		cur = c.g.op1("Add", "scale", []string{cur, b})
	}
	c.g.node("Identity", []string{cur}, []string{out})
	return nil
}

func convClip(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	if hasInput(op, "Min") || hasInput(op, "Max") {
		return fmt.Errorf("tensor Min/Max inputs are not supported")
	}
	dt := c.dt[x]
	lo, err := c.g.constScalar("clip_min", dt, op.Float("min", -3.4e38))
	if err != nil {
		return err
	}
	hi, err := c.g.constScalar("clip_max", dt, op.Float("max", 3.4e38))
	if err != nil {
		return err
	}
	c.g.node("Clip", []string{x, lo, hi}, []string{out})
	return nil
}
