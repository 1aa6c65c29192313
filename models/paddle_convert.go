package models

import (
	"context"
	"errors"
	"fmt"

	"github.com/shitu-go/shitu/paddle"
)

// controlFlowOps are the post-processing ops of the released PP-ShiTu
// detector that do not convert (models-and-formats.md §B.4, §E).
var controlFlowOps = []string{"while", "conditional_block", "select_input",
	"write_to_array", "tensor_array_to_tensor", "lod_array_length"}

// nmsOps are the in-graph NMS ops of detectors exported with NMS.
var nmsOps = []string{"multiclass_nms3", "multiclass_nms2", "multiclass_nms", "matrix_nms"}

// PaddleConverter converts legacy Paddle models with the paddle package
// (no Python, no paddle2onnx), at the paddle package's default opset:
//   - programs whose post-processing is control flow (the released
//     PP-ShiTu detector) are cut where the head outputs leave the network:
//     form "raw-head", decoded by detect (models-and-formats.md §F.2);
//   - programs with NMS but no control flow convert whole: form "nms";
//     should that fail, they are cut at the head too;
//   - everything else converts whole: form "plain".
//
// Image feeds keep dynamic spatial dims (paddle.ConvertOptions); see
// PaddleConverterPinned to keep the stored ones. PIR programs are refused
// with the paddle package's message.
func PaddleConverter(ctx context.Context, l Layout) (*Converted, error) {
	return paddleConvert(ctx, l, false)
}

// PaddleConverterPinned is PaddleConverter keeping the feed dims the
// program stores (paddle.ConvertOptions.PinInputShapes): a model exported
// at [-1,3,32,100] then refuses other image sizes.
func PaddleConverterPinned(ctx context.Context, l Layout) (*Converted, error) {
	return paddleConvert(ctx, l, true)
}

func paddleConvert(ctx context.Context, l Layout, pin bool) (*Converted, error) {
	if l.Kind == KindPIR {
		return nil, fmt.Errorf("%w: %s: %w", ErrConvert, l.Model, paddle.ErrPIR)
	}
	m, err := paddle.Load(l.Model)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv := m.OpInventory()
	has := func(ops []string) bool {
		for _, o := range ops {
			if inv[o] > 0 {
				return true
			}
		}
		return false
	}
	name := "shitu paddle"
	if pin {
		name = "shitu paddle (input dims pinned)"
	}
	switch {
	case has(controlFlowOps):
		b, err := paddle.ToONNX(m, paddle.ConvertOptions{DetectorHead: true, PinInputShapes: pin})
		if err != nil {
			return nil, err
		}
		return &Converted{ONNX: b, Form: "raw-head", Ops: inv, Converter: name}, nil
	case has(nmsOps):
		b, err := paddle.ToONNX(m, paddle.ConvertOptions{PinInputShapes: pin})
		if err == nil {
			return &Converted{ONNX: b, Form: "nms", Ops: inv, Converter: name}, nil
		}
		b, err2 := paddle.ToONNX(m, paddle.ConvertOptions{DetectorHead: true, PinInputShapes: pin})
		if err2 != nil {
			return nil, errors.Join(err, err2)
		}
		return &Converted{ONNX: b, Form: "raw-head", Ops: inv, Converter: name}, nil
	default:
		b, err := paddle.ToONNX(m, paddle.ConvertOptions{PinInputShapes: pin})
		if err != nil {
			return nil, err
		}
		return &Converted{ONNX: b, Form: "plain", Ops: inv, Converter: name}, nil
	}
}
