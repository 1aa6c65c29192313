package paddle

import (
	"fmt"
)

// PicoDetPost configures AppendPicoDetPost. Zero values give the PP-ShiTuV2
// mainbody detector's settings (models-and-formats §B.4): strides 8, 16,
// 32, 64; reg_max 7; score_threshold 0.025; nms_top_k 1000; keep_top_k
// 100; nms_threshold 0.6.
type PicoDetPost struct {
	Strides        []int64
	RegMax         int64
	ScoreThreshold float32
	NMSTopK        int32
	KeepTopK       int32
	NMSThreshold   float32
	// Released selects the form of the released v1.0 file (§B.4): feeds
	// image, im_shape and scale_factor and a post-processing built from a
	// `while` loop over a sub-block with tensor arrays. That form is a
	// structural stand-in — Paddle could not run it — used to test that
	// converters cut the head (ConvertOptions.DetectorHead) and report the
	// control-flow ops. Without it the modern export's convertible
	// post-processing is emitted (§B.5): DFL decode, ÷scale_factor,
	// multiclass_nms3, feeds image and scale_factor.
	Released bool
}

func (p PicoDetPost) withDefaults() PicoDetPost {
	if len(p.Strides) == 0 {
		p.Strides = []int64{8, 16, 32, 64}
	}
	if p.RegMax == 0 {
		p.RegMax = 7
	}
	if p.ScoreThreshold == 0 {
		p.ScoreThreshold = 0.025
	}
	if p.NMSTopK == 0 {
		p.NMSTopK = 1000
	}
	if p.KeepTopK == 0 {
		p.KeepTopK = 100
	}
	if p.NMSThreshold == 0 {
		p.NMSThreshold = 0.6
	}
	return p
}

// AppendPicoDetPost turns a PicoDet program in raw-head form — fetches
// are the class logits [N, C, H, W] of every level, then the distance
// logits [N, 4·(reg_max+1), H, W], as FromONNX makes of package arch's
// detector — into an exported detector with post-processing whose outputs
// are `save_infer_model/scale_0.tmp_1` [K, 6] (class, score, x1, y1, x2,
// y2) and `save_infer_model/scale_1.tmp_1` [N] int32, as the PP-ShiTuV2
// detector's (models-and-formats §0, §B.4, §B.5). m is modified.
func AppendPicoDetPost(m *Model, p PicoDetPost) error {
	p = p.withDefaults()
	if m == nil || m.Program == nil || len(m.Program.Blocks) != 1 {
		return fmt.Errorf("%w: AppendPicoDetPost needs a single-block program", ErrConvert)
	}
	heads := m.Program.Fetches()
	L := len(p.Strides)
	if len(heads) != 2*L {
		return fmt.Errorf("%w: AppendPicoDetPost: %d fetches for %d levels", ErrConvert, len(heads), L)
	}
	blk := m.Program.Blocks[0]
	// Drop the fetch ops; keep the feed op(s) and the network.
	var ops []*Op
	var feeds []*Op
	for _, op := range blk.Ops {
		switch op.Type {
		case "fetch":
		case "feed":
			feeds = append(feeds, op)
		default:
			ops = append(ops, op)
		}
	}
	b := &ProgramBuilder{blk: &Block{Idx: 0, ParentIdx: -1, ForwardBlockIdx: -1}, params: m.Params,
		count: map[string]int{}, names: map[string]bool{}}
	for _, v := range blk.Vars {
		b.addVar(v)
	}
	// Feed ops come first in reverse col order; rebuild them in col order.
	for i := len(feeds) - 1; i >= 0; i-- {
		b.feeds = append(b.feeds, feeds[i])
	}
	b.blk.Ops = ops
	// Counters continue after the names FromONNX used.
	for _, pre := range []string{"sigmoid", "reshape2", "transpose", "softmax", "matmul_v2", "scale", "elementwise_mul",
		"elementwise_add", "elementwise_div", "concat", "split", "create_parameter", "multiclass_nms3", "while", "tmp"} {
		for b.names[fmt.Sprintf("%s_%d.tmp_0", pre, b.count[pre])] || b.hasPrefix(fmt.Sprintf("%s_%d.", pre, b.count[pre])) {
			b.count[pre]++
		}
	}
	var err error
	if p.Released {
		err = releasedPost(b, m, heads, p)
	} else {
		err = modernPost(b, m, heads, p)
	}
	if err != nil {
		return err
	}
	out, err := b.Model()
	if err != nil {
		return err
	}
	out.Program.Version = m.Program.Version
	if p.Released {
		out.Program.Version = 2002002 // the released detector predates Paddle 2.3 (§0)
	}
	*m = *out
	return nil
}

// tmpOp appends a one-input one-output op with a fresh temporary.
func (b *ProgramBuilder) tmpOp(typ, x string, dims []int64, attrs ...Attr) string {
	out := b.Tmp(b.Unique(typ)+".tmp_0", FP32, dims)
	b.Op(typ, []Slot{SlotOf("X", x)}, []Slot{SlotOf("Out", out)}, attrs...)
	return out
}

func (b *ProgramBuilder) withXShape(typ, x string, dims []int64, attrs ...Attr) string {
	layer := b.Unique(typ)
	out := b.Tmp(layer+".tmp_0", FP32, dims)
	xs := b.Tmp(layer+".tmp_1", FP32, nil)
	b.Op(typ, []Slot{SlotOf("X", x)}, []Slot{SlotOf("Out", out), SlotOf("XShape", xs)}, attrs...)
	return out
}

func (b *ProgramBuilder) binOp(typ, x, y string, axis int32, dims []int64) string {
	out := b.Tmp(b.Unique(typ)+".tmp_0", FP32, dims)
	b.Op(typ, []Slot{SlotOf("X", x), SlotOf("Y", y)}, []Slot{SlotOf("Out", out)}, AInt("axis", axis))
	return out
}

func levelDims(m *Model, name string) ([]int64, error) {
	v := m.Program.Var(0, name)
	if v == nil || len(v.Dims) != 4 || v.Dims[1] <= 0 || v.Dims[2] <= 0 || v.Dims[3] <= 0 {
		return nil, fmt.Errorf("%w: head output %q needs static [N,C,H,W] dims", ErrConvert, name)
	}
	return v.Dims, nil
}

// modernPost emits the §B.5 modern export: per level sigmoid scores and
// DFL distances × stride around cell centres ((col+0.5)·s, (row+0.5)·s),
// no clipping, boxes ÷ [sx, sy, sx, sy], multiclass_nms3.
func modernPost(b *ProgramBuilder, m *Model, heads []string, p PicoDetPost) error {
	L := len(p.Strides)
	bins := p.RegMax + 1
	sf := b.Feed("scale_factor", FP32, []int64{-1, 2})
	proj := make([]float32, bins)
	for i := range proj {
		proj[i] = float32(i)
	}
	project := b.Param(b.Unique("create_parameter")+".w_0", NewFloat32([]int64{bins}, proj))
	sign := b.Param(b.Unique("create_parameter")+".w_0", NewFloat32([]int64{4}, []float32{-1, -1, 1, 1}))
	var scores, boxes []string
	var C, M int64
	for i := 0; i < L; i++ {
		cd, err := levelDims(m, heads[i])
		if err != nil {
			return err
		}
		rd, err := levelDims(m, heads[L+i])
		if err != nil {
			return err
		}
		C = cd[1]
		h, w := cd[2], cd[3]
		hw := h * w
		if rd[1] != 4*bins {
			return fmt.Errorf("%w: %q has %d channels, want %d", ErrConvert, heads[L+i], rd[1], 4*bins)
		}
		s := b.tmpOp("sigmoid", heads[i], cd)
		scores = append(scores, b.withXShape("reshape2", s, []int64{-1, C, hw}, AInts("shape", 0, int32(C), -1)))
		r := b.withXShape("transpose2", heads[L+i], []int64{-1, h, w, 4 * bins}, AInts("axis", 0, 2, 3, 1))
		r = b.withXShape("reshape2", r, []int64{-1, hw, 4, bins}, AInts("shape", 0, -1, 4, int32(bins)))
		r = b.tmpOp("softmax", r, []int64{-1, hw, 4, bins}, AInt("axis", -1))
		d := b.Tmp(b.Unique("matmul_v2")+".tmp_0", FP32, []int64{-1, hw, 4})
		b.Op("matmul_v2", []Slot{SlotOf("X", r), SlotOf("Y", project)}, []Slot{SlotOf("Out", d)}, ABool("trans_x", false), ABool("trans_y", false))
		d = b.tmpOp("scale", d, []int64{-1, hw, 4}, AFloat("scale", float32(p.Strides[i])), AFloat("bias", 0), ABool("bias_after_scale", true))
		d = b.binOp("elementwise_mul", d, sign, -1, []int64{-1, hw, 4})
		ctr := make([]float32, 0, 4*hw)
		st := float32(p.Strides[i])
		for row := int64(0); row < h; row++ {
			for col := int64(0); col < w; col++ {
				cx, cy := (float32(col)+0.5)*st, (float32(row)+0.5)*st
				ctr = append(ctr, cx, cy, cx, cy)
			}
		}
		centres := b.Param(b.Unique("create_parameter")+".w_0", NewFloat32([]int64{hw, 4}, ctr))
		boxes = append(boxes, b.binOp("elementwise_add", d, centres, -1, []int64{-1, hw, 4}))
		M += hw
	}
	bx := b.Tmp(b.Unique("concat")+".tmp_0", FP32, []int64{-1, M, 4})
	b.Op("concat", []Slot{SlotOf("X", boxes...)}, []Slot{SlotOf("Out", bx)}, AInt("axis", 1))
	sc := b.Tmp(b.Unique("concat")+".tmp_0", FP32, []int64{-1, C, M})
	b.Op("concat", []Slot{SlotOf("X", scores...)}, []Slot{SlotOf("Out", sc)}, AInt("axis", 2))
	// scale_factor = [sy, sx] → [sx, sy, sx, sy] (§B.4).
	sl := b.Unique("split")
	sy, sx := b.Tmp(sl+".tmp_0", FP32, []int64{-1, 1}), b.Tmp(sl+".tmp_1", FP32, []int64{-1, 1})
	b.Op("split", []Slot{SlotOf("X", sf)}, []Slot{SlotOf("Out", sy, sx)}, AInt("num", 2), AInt("axis", -1))
	s4 := b.Tmp(b.Unique("concat")+".tmp_0", FP32, []int64{-1, 4})
	b.Op("concat", []Slot{SlotOf("X", sx, sy, sx, sy)}, []Slot{SlotOf("Out", s4)}, AInt("axis", -1))
	s4 = b.withXShape("reshape2", s4, []int64{-1, 1, 4}, AInts("shape", -1, 1, 4))
	bx = b.binOp("elementwise_div", bx, s4, -1, []int64{-1, M, 4})
	return nmsAndFetch(b, bx, sc, p)
}

func nmsAndFetch(b *ProgramBuilder, bx, sc string, p PicoDetPost) error {
	layer := b.Unique("multiclass_nms3")
	out := b.Tmp(layer+".tmp_0", FP32, []int64{-1, 6})
	idx := b.Tmp(layer+".tmp_1", Int32, []int64{-1, 1})
	num := b.Tmp(layer+".tmp_2", Int32, []int64{-1})
	b.Op("multiclass_nms3", []Slot{SlotOf("BBoxes", bx), SlotOf("Scores", sc), SlotOf("RoisNum")},
		[]Slot{SlotOf("Out", out), SlotOf("Index", idx), SlotOf("NmsRoisNum", num)},
		AFloat("score_threshold", p.ScoreThreshold), AInt("nms_top_k", p.NMSTopK), AInt("keep_top_k", p.KeepTopK),
		AFloat("nms_threshold", p.NMSThreshold), ABool("normalized", true), AFloat("nms_eta", 1), AInt("background_label", -1))
	// Paddle's save_inference_model puts scale(1.0) before each output (§C.2).
	for i, v := range []string{out, num} {
		dt := FP32
		if i == 1 {
			dt = Int32
		}
		name := fmt.Sprintf("save_infer_model/scale_%d.tmp_1", i)
		dims := []int64{-1, 6}
		if i == 1 {
			dims = []int64{-1}
		}
		b.addVar(&Var{Name: name, Kind: LoDTensor, DType: dt, Dims: dims})
		b.Op("scale", []Slot{SlotOf("X", v), SlotOf("ScaleTensor")}, []Slot{SlotOf("Out", name)},
			AFloat("scale", 1), AFloat("bias", 0), ABool("bias_after_scale", true))
		b.Fetch(name)
	}
	return nil
}

// releasedPost emits the released file's shape of post-processing: a while
// loop over images whose body (block 1) holds conditional_block and tensor
// array ops, then multiclass_nms3 (§B.4). It is not executable.
func releasedPost(b *ProgramBuilder, m *Model, heads []string, p PicoDetPost) error {
	ims := b.Feed("im_shape", FP32, []int64{-1, 2})
	sf := b.Feed("scale_factor", FP32, []int64{-1, 2})
	arr := &Var{Name: "array_write_0.out", Kind: LoDTensorArray, DType: FP32, Dims: []int64{-1, 4}}
	b.addVar(arr)
	cond := b.Tmp(b.Unique("tmp")+".tmp_0", Bool, []int64{1})
	b.Op("less_than", []Slot{SlotOf("X", ims), SlotOf("Y", sf)}, []Slot{SlotOf("Out", cond)}, AInt("axis", -1))
	ins := append(append([]string{}, heads...), ims, sf)
	scopes := &Var{Name: "_generated_var_0", Kind: StepScopes, DType: -1}
	b.addVar(scopes)
	b.Op("while", []Slot{SlotOf("X", ins...), SlotOf("Condition", cond)},
		[]Slot{SlotOf("Out", arr.Name), SlotOf("StepScopes", scopes.Name)},
		Attr{Name: "sub_block", Type: AttrBlock, Block: 1}, ABool("is_test", true))
	body := &Block{Idx: 1, ParentIdx: 0, ForwardBlockIdx: -1}
	body.Ops = []*Op{
		{Type: "conditional_block", Inputs: []Slot{SlotOf("Cond", cond), SlotOf("Input", heads[0])}, Outputs: []Slot{SlotOf("Out", arr.Name)},
			Attrs: []Attr{{Name: "sub_block", Type: AttrBlock, Block: 1}, ABool("is_scalar_condition", true)}},
		{Type: "select_input", Inputs: []Slot{SlotOf("X", heads[0], heads[1]), SlotOf("Mask", cond)}, Outputs: []Slot{SlotOf("Out", heads[0])}},
		{Type: "write_to_array", Inputs: []Slot{SlotOf("X", heads[0]), SlotOf("I", cond)}, Outputs: []Slot{SlotOf("Out", arr.Name)}},
	}
	bx := b.Tmp(b.Unique("tmp")+".tmp_0", FP32, []int64{-1, -1, 4})
	idx := b.Tmp(b.Unique("tmp")+".tmp_0", Int32, []int64{-1})
	b.Op("tensor_array_to_tensor", []Slot{SlotOf("X", arr.Name)}, []Slot{SlotOf("Out", bx), SlotOf("OutIndex", idx)}, AInt("axis", 0), ABool("use_stack", true))
	sc := b.Tmp(b.Unique("tmp")+".tmp_0", FP32, []int64{-1, 1, -1})
	b.Op("lod_array_length", []Slot{SlotOf("X", arr.Name)}, []Slot{SlotOf("Out", sc)})
	if err := nmsAndFetch(b, bx, sc, p); err != nil {
		return err
	}
	b.extra = append(b.extra, body)
	return nil
}
