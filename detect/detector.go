package detect

import (
	"context"
	"fmt"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/tensor"
)

// Form is the output form of a detector model.
type Form int

const (
	// FormNMS: the graph ends in multiclass_nms3: an [N, 6] float32 output
	// and an optional count (models-and-formats.md §B.4, the released form).
	FormNMS Form = iota + 1
	// FormRaw: the graph ends at the head: 2·L score and distribution
	// outputs, decoded and NMSed here (§B.5).
	FormRaw
)

func (f Form) String() string {
	switch f {
	case FormNMS:
		return "nms"
	case FormRaw:
		return "raw"
	}
	return fmt.Sprintf("form(%d)", int(f))
}

// Options configure a Detector. The zero value is PaddleClas' shipped
// configuration of the PP-ShiTuV2 mainbody detector. The selection of
// detections (Global.max_det_results, Global.threshold) is not the
// detector's: recognize applies it with SelectTop, per call.
type Options struct {
	// Pre is the preprocessing (default: DefaultPre()).
	Pre *PreConfig
	// NMS are the multiclass_nms3 attributes for raw-head models
	// (default: PicoDetNMS()).
	NMS *NMSParams
	// Decode configures the raw-head decode (default: the released v1.0
	// graph, see DecodeConfig).
	Decode DecodeConfig
}

// Detector runs the mainbody detector. It is safe for concurrent use when
// its Session is (infer.Session implementations are).
type Detector struct {
	sess   infer.Session
	form   Form
	pre    PreConfig
	nms    NMSParams
	decode DecodeConfig

	imageName              string
	feedImShape, feedScale bool
	detsOut, countOut      int // FormNMS output indices; countOut -1 if none
}

// New wraps a session of a PicoDet-style detector; the caller keeps
// ownership of sess (closing it is theirs). The model must have a
// float32 input named "image" (or exactly one rank-4 float32 input); the
// inputs "im_shape" and "scale_factor" are fed only when the model declares
// them (ppshitu-pipeline.md §4.2). The output form is recognised from the
// declared outputs: 2·L outputs (L = len(Decode.Strides), default 4) are
// raw head outputs; otherwise a float32 rank-2 output is the [N, 6]
// detections and an integer rank-1 output, if any, the count.
func New(sess infer.Session, opts Options) (*Detector, error) {
	if sess == nil {
		return nil, fmt.Errorf("%w: nil session", ErrInput)
	}
	d := &Detector{sess: sess, countOut: -1, detsOut: -1}
	d.pre = DefaultPre()
	if opts.Pre != nil {
		d.pre = *opts.Pre
	}
	d.nms = PicoDetNMS()
	if opts.NMS != nil {
		d.nms = *opts.NMS
	}
	d.decode = opts.Decode.withDefaults()
	if d.decode.SkipAtOrBelow == 0 {
		d.decode.SkipAtOrBelow = d.nms.ScoreThreshold
	}

	var rank4 []string
	for _, in := range sess.Inputs() {
		switch in.Name {
		case "image":
			d.imageName = in.Name
		case "im_shape":
			d.feedImShape = true
		case "scale_factor":
			d.feedScale = true
		default:
			if len(in.Shape) == 4 && in.DType == tensor.Float32 {
				rank4 = append(rank4, in.Name)
			}
		}
	}
	if d.imageName == "" && len(rank4) == 1 {
		d.imageName = rank4[0]
	}
	if d.imageName == "" {
		return nil, fmt.Errorf("%w: no image input (inputs: %v)", ErrModel, sess.Inputs())
	}
	if want := len(sess.Inputs()) - 1; want != btoi(d.feedImShape)+btoi(d.feedScale) {
		return nil, fmt.Errorf("%w: unexpected inputs %v (want image, and optionally im_shape and scale_factor)", ErrModel, sess.Inputs())
	}
	outs := sess.Outputs()
	if len(outs) == 2*len(d.decode.Strides) {
		d.form = FormRaw
		return d, nil
	}
	for i, o := range outs {
		switch {
		case o.DType == tensor.Float32 && len(o.Shape) == 2 && d.detsOut < 0:
			d.detsOut = i
		case (o.DType == tensor.Int32 || o.DType == tensor.Int64) && len(o.Shape) == 1 && d.countOut < 0:
			d.countOut = i
		}
	}
	if d.detsOut < 0 {
		return nil, fmt.Errorf("%w: outputs %v are neither %d raw head outputs nor an [N, 6] NMS output", ErrModel, outs, 2*len(d.decode.Strides))
	}
	d.form = FormNMS
	return d, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Form reports the model's output form.
func (d *Detector) Form() Form { return d.form }

// Pre returns the preprocessing the detector uses.
func (d *Detector) Pre() PreConfig { return d.pre }

// Detect preprocesses an RGB image, runs the model and returns every
// detection its NMS keeps, in original-image pixels, in the model's order
// (SelectTop then applies max_det_results and the threshold).
func (d *Detector) Detect(ctx context.Context, img *imaging.Image) ([]Box, error) {
	in, err := Preprocess(img, d.pre)
	if err != nil {
		return nil, err
	}
	return d.DetectInput(ctx, in)
}

// DetectInput runs the model on a preprocessed image and post-processes
// (Postprocess): raw outputs are decoded (DecodeRaw) and reduced with
// MultiClassNMS; NMS outputs are parsed (ParseNMSOutput). No selection.
func (d *Detector) DetectInput(ctx context.Context, in *Input) ([]Box, error) {
	if in == nil || in.Image == nil {
		return nil, fmt.Errorf("%w: nil input", ErrInput)
	}
	feeds := map[string]*tensor.Tensor{d.imageName: in.Image}
	if d.feedImShape {
		feeds["im_shape"] = tensor.Must([]int{1, 2}, []float32{in.ImShape[0], in.ImShape[1]})
	}
	if d.feedScale {
		feeds["scale_factor"] = tensor.Must([]int{1, 2}, []float32{in.Scale[0], in.Scale[1]})
	}
	outs, err := d.sess.Run(ctx, feeds)
	if err != nil {
		return nil, fmt.Errorf("detect: %w", err)
	}
	return d.Postprocess(outs, in)
}

// Postprocess turns the model outputs into detections in original-image
// pixels, before SelectTop: for raw outputs DecodeRaw with in's im_shape
// and scale_factor, then MultiClassNMS; for NMS outputs ParseNMSOutput.
func (d *Detector) Postprocess(outs []*tensor.Tensor, in *Input) ([]Box, error) {
	switch d.form {
	case FormRaw:
		boxes, scores, err := DecodeRaw(outs, in.ImShape, in.Scale, d.decode)
		if err != nil {
			return nil, err
		}
		return MultiClassNMS(boxes, scores, d.nms)
	case FormNMS:
		if d.detsOut >= len(outs) {
			return nil, fmt.Errorf("%w: model returned %d outputs", ErrOutput, len(outs))
		}
		var count *tensor.Tensor
		if d.countOut >= 0 && d.countOut < len(outs) {
			count = outs[d.countOut]
		}
		return ParseNMSOutput(outs[d.detsOut], count)
	}
	return nil, fmt.Errorf("%w: unknown form", ErrModel)
}
