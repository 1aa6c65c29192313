package paddle

import (
	"fmt"

	"github.com/shitu-go/shitu/onnx"
)

// convMulticlassNMS converts multiclass_nms3 (models-and-formats §D.2) to
// NonMaxSuppression plus gathers: Out [K,6] rows (label, score, x1, y1, x2,
// y2) ordered by class then descending score, Index [K,1] int32 (box index
// in the flattened batch) and NmsRoisNum [N] int32.
//
// Differences from Paddle's kernel, as in Paddle2ONNX: nms_top_k becomes
// ONNX's max_output_boxes_per_class, a cap on boxes kept per class after
// suppression rather than on candidates before it (identical whenever
// fewer than nms_top_k candidates pass score_threshold); keep_top_k is
// applied over the whole batch, so it is exact for batch 1. normalized=false
// is emulated by adding 1 to x2 and y2 for the IoU. nms_eta < 1, a
// background_label other than -1 and the RoisNum input are refused.
func convMulticlassNMS(c *conv, op *Op) error {
	if hasInput(op, "RoisNum") {
		return fmt.Errorf("the RoisNum input (LoD boxes) is not supported")
	}
	if bg := op.Int("background_label", 0); bg != -1 {
		return fmt.Errorf("background_label %d is not supported (only -1)", bg)
	}
	if eta := op.Float("nms_eta", 1); eta != 1 {
		return fmt.Errorf("nms_eta %g is not supported (only 1)", eta)
	}
	boxes, err := c.input(op, "BBoxes")
	if err != nil {
		return err
	}
	scores, err := c.input(op, "Scores")
	if err != nil {
		return err
	}
	if r := c.rank(op.Input("Scores")[0]); r != 3 {
		return fmt.Errorf("scores of rank %d (only the 3-D [N,C,M] form)", r)
	}
	g := c.g
	i64 := func(base string, v ...int64) string { return g.constI64(base, []int64{int64(len(v))}, v) }
	nmsBoxes := boxes
	if !op.Bool("normalized", true) {
		nmsBoxes = g.op1("Add", "nms", []string{boxes, g.constF32("nms_plus1", []int64{4}, []float32{0, 0, 1, 1})})
	}
	topK := op.Int("nms_top_k", -1)
	if topK <= 0 {
		topK = 1 << 30
	}
	sel := g.op1("NonMaxSuppression", "nms_sel", []string{nmsBoxes, scores,
		i64("nms_max", topK),
		g.constF32("nms_iou", []int64{1}, []float32{float32(op.Float("nms_threshold", 0.3))}),
		g.constF32("nms_score", []int64{1}, []float32{float32(op.Float("score_threshold", 0))})})
	col := func(k int64) string {
		return g.op1("Gather", "nms_col", []string{sel, g.constI64("nms_k", nil, []int64{k})}, aInt("axis", 1))
	}
	bIdx, cIdx, mIdx := col(0), col(1), col(2)
	score := g.op1("GatherND", "nms_score", []string{scores, sel})
	unsq := func(v string) string { return g.op1("Unsqueeze", "nms", []string{v, i64("nms_ax", 1)}) }
	bm := g.op1("Concat", "nms_bm", []string{unsq(bIdx), unsq(mIdx)}, aInt("axis", 1))
	box := g.op1("GatherND", "nms_box", []string{boxes, bm})
	label := g.op1("Cast", "nms_label", []string{cIdx}, aInt("to", int64(onnx.TensorProto_FLOAT)))
	rows := g.op1("Concat", "nms_rows", []string{unsq(label), unsq(score), box}, aInt("axis", 1))
	m := g.op1("Gather", "nms_m", []string{g.op1("Shape", "nms", []string{boxes}), g.constI64("nms_one", nil, []int64{1})})
	flat := g.op1("Add", "nms_flat", []string{g.op1("Mul", "nms", []string{bIdx, m}), mIdx})
	if keep := op.Int("keep_top_k", -1); keep >= 0 {
		// Keep the keep_top_k best by score, then restore the class order:
		// sort by (class, rank) with rank the position in score order.
		k := g.op1("Min", "nms_k", []string{g.op1("Shape", "nms", []string{score}), i64("nms_keep", keep)})
		byScore := g.fresh("nms_topv")
		byScoreIdx := g.fresh("nms_topi")
		g.node("TopK", []string{score, k}, []string{byScore, byScoreIdx}, aInt("axis", 0), aInt("largest", 1), aInt("sorted", 1))
		rank := g.op1("Range", "nms_rank", []string{g.constI64("z", nil, []int64{0}),
			g.op1("Squeeze", "nms", []string{k, i64("nms_ax0", 0)}), g.constI64("o", nil, []int64{1})})
		cls := g.op1("Gather", "nms_cls", []string{cIdx, byScoreIdx})
		b := g.op1("Gather", "nms_b", []string{bIdx, byScoreIdx})
		// key = (batch·2^20 + class)·2^31 + rank, ascending.
		key := g.op1("Add", "nms_key", []string{
			g.op1("Mul", "nms", []string{
				g.op1("Add", "nms", []string{g.op1("Mul", "nms", []string{b, g.constI64("s20", nil, []int64{1 << 20})}), cls}),
				g.constI64("s31", nil, []int64{1 << 31})}),
			rank})
		keyV, keyI := g.fresh("nms_keyv"), g.fresh("nms_keyi")
		g.node("TopK", []string{key, k}, []string{keyV, keyI}, aInt("axis", 0), aInt("largest", 0), aInt("sorted", 1))
		order := g.op1("Gather", "nms_order", []string{byScoreIdx, keyI})
		rows = g.op1("Gather", "nms_rows", []string{rows, order}, aInt("axis", 0))
		flat = g.op1("Gather", "nms_flat", []string{flat, order})
		bIdx = g.op1("Gather", "nms_b", []string{bIdx, order})
	}
	out, err := c.output(op, "Out", onnx.TensorProto_FLOAT)
	if err != nil {
		return err
	}
	g.node("Identity", []string{rows}, []string{out})
	if args := op.Output("Index"); len(args) > 0 && args[0] != "" {
		idx := c.bind(args[0], onnx.TensorProto_INT32)
		g.node("Cast", []string{unsq(flat)}, []string{idx}, aInt("to", int64(onnx.TensorProto_INT32)))
	}
	if args := op.Output("NmsRoisNum"); len(args) > 0 && args[0] != "" {
		n := g.op1("Gather", "nms_n", []string{g.op1("Shape", "nms", []string{boxes}), g.constI64("nms_zero", nil, []int64{0})})
		r := g.op1("Range", "nms_batches", []string{g.constI64("z", nil, []int64{0}), n, g.constI64("o", nil, []int64{1})})
		eq := g.op1("Equal", "nms", []string{unsq(bIdx), r})
		cnt := g.op1("ReduceSum", "nms", []string{g.op1("Cast", "nms", []string{eq}, aInt("to", int64(onnx.TensorProto_INT32))), i64("nms_ax0", 0)}, aInt("keepdims", 0))
		num := c.bind(args[0], onnx.TensorProto_INT32)
		g.node("Identity", []string{cnt}, []string{num})
	}
	return nil
}
