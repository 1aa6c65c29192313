package paddle

// Activations beyond the PP-LCNet set: gelu (ViT), silu/swish (SVTR), mish, elu, softplus, prelu, selu and friends.

import (
	"fmt"
	"math"
)

// convGelu: exact 0.5·x·(1+erf(x/√2)), or with approximate the tanh form
// 0.5·x·(1+tanh(√(2/π)·(x+0.044715·x³))).
func convGelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	k := func(base string, v float64) string {
		s, e := c.scalarLike(base, x, v)
		if e != nil && err == nil {
			err = e
		}
		return s
	}
	var inner string
	if op.Bool("approximate", false) {
		x3 := c.g.op1("Mul", "gelu", []string{c.g.op1("Mul", "gelu", []string{x, x}), x})
		t := c.g.op1("Add", "gelu", []string{x, c.g.op1("Mul", "gelu", []string{x3, k("gelu_c", 0.044715)})})
		inner = c.g.op1("Tanh", "gelu", []string{c.g.op1("Mul", "gelu", []string{t, k("gelu_k", math.Sqrt(2/math.Pi))})})
	} else {
		inner = c.g.op1("Erf", "gelu", []string{c.g.op1("Mul", "gelu", []string{x, k("gelu_r2", 1/math.Sqrt2)})})
	}
	one := c.g.op1("Add", "gelu", []string{inner, k("gelu_1", 1)})
	half := c.g.op1("Mul", "gelu", []string{x, k("gelu_h", 0.5)})
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{half, one}, []string{out})
	return nil
}

func convSilu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{x, c.g.op1("Sigmoid", "silu", []string{x})}, []string{out})
	return nil
}

// softplusT is Paddle's softplus: x where β·x > threshold, else
// log(1+exp(β·x))/β.
func (c *conv) softplusT(x string, beta, threshold float64) (string, error) {
	bx := x
	if beta != 1 {
		b, err := c.scalarLike("sp_beta", x, beta)
		if err != nil {
			return "", err
		}
		bx = c.g.op1("Mul", "sp", []string{x, b})
	}
	sp := c.g.op1("Softplus", "sp", []string{bx})
	if beta != 1 {
		b, _ := c.scalarLike("sp_beta", x, beta)
		sp = c.g.op1("Div", "sp", []string{sp, b})
	}
	th, err := c.scalarLike("sp_th", x, threshold)
	if err != nil {
		return "", err
	}
	return c.like(c.g.op1("Where", "sp", []string{c.g.op1("Greater", "sp", []string{bx, th}), x, sp}), x), nil
}

func convSoftplus(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	sp, err := c.softplusT(x, op.Float("beta", 1), op.Float("threshold", 20))
	if err != nil {
		return err
	}
	c.g.node("Identity", []string{sp}, []string{out})
	return nil
}

// convMish: x·tanh(softplus(x)), softplus with Paddle's threshold (20).
func convMish(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	sp, err := c.softplusT(x, 1, op.Float("threshold", 20))
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{x, c.g.op1("Tanh", "mish", []string{sp})}, []string{out})
	return nil
}

func convElu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Elu", []string{x}, []string{out}, aFloat("alpha", float32(op.Float("alpha", 1))))
	return nil
}

func convLogSoftmax(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("LogSoftmax", []string{x}, []string{out}, aInt("axis", op.Int("axis", -1)))
	return nil
}

func convSquare(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Mul", []string{x, x}, []string{out})
	return nil
}

func convRsqrt(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Reciprocal", []string{c.g.op1("Sqrt", "rsqrt", []string{x})}, []string{out})
	return nil
}

// convPRelu: mode "all" (one slope), "channel" (a slope per channel, axis
// 1 for NCHW, the last axis for NHWC) or "element" (a slope per element of
// x's dims after the batch).
func convPRelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	a, err := c.input(op, "Alpha")
	if err != nil {
		return err
	}
	r := c.rank(op.Input("X")[0])
	ra := c.rank(op.Input("Alpha")[0])
	switch mode := op.Str("mode", "all"); mode {
	case "all":
		a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("one", []int64{1}, []int64{1})})
	case "channel":
		if f := op.Str("data_format", "NCHW"); f == "NCHW" || f == "NCDHW" || f == "NCL" {
			if r < 2 {
				return fmt.Errorf("channel mode on rank %d", r)
			}
			shape := make([]int64, r-1)
			for i := range shape {
				shape[i] = 1
			}
			shape[0] = -1
			a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("prelu_shape", []int64{int64(len(shape))}, shape)})
		} else {
			a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("m1", []int64{1}, []int64{-1})})
		}
	case "element":
		if r < 1 || ra < 0 {
			return fmt.Errorf("element mode needs the ranks")
		}
		if ra == r-1 {
			a = c.g.op1("Unsqueeze", "prelu", []string{a, c.g.constI64("axes", []int64{1}, []int64{0})})
		} else if ra != r {
			d := c.staticDims(op.Input("X")[0])
			if len(d) != r {
				return fmt.Errorf("element mode with alpha of rank %d needs x's static dims", ra)
			}
			shape := append([]int64{1}, d[1:]...)
			a = c.g.op1("Reshape", "prelu", []string{a, c.g.constI64("prelu_shape", []int64{int64(len(shape))}, shape)})
		}
	default:
		return fmt.Errorf("mode %q", mode)
	}
	c.g.node("PRelu", []string{x, a}, []string{out})
	return nil
}

// convBRelu: the fluid bounded relu, clip(x, t_min, t_max).
func convBRelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	lo, err := c.scalarLike("brelu_min", x, op.Float("t_min", 0))
	if err != nil {
		return err
	}
	hi, err := c.scalarLike("brelu_max", x, op.Float("t_max", 24))
	if err != nil {
		return err
	}
	c.g.node("Clip", []string{x, lo, hi}, []string{out})
	return nil
}

func convSelu(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	c.g.node("Selu", []string{x}, []string{out},
		aFloat("alpha", float32(op.Float("alpha", 1.6732632423543772848170429916717))),
		aFloat("gamma", float32(op.Float("scale", 1.0507009873554804934193349852946))))
	return nil
}

// convLogSigmoid: log(sigmoid(x)) = −softplus(−x).
func convLogSigmoid(c *conv, op *Op) error {
	x, out, err := c.x1(op)
	if err != nil {
		return err
	}
	sp := c.g.op1("Softplus", "logsig", []string{c.g.op1("Neg", "logsig", []string{x})})
	c.g.node("Neg", []string{sp}, []string{out})
	return nil
}
