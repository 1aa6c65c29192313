package paddle

import (
	"fmt"
	"strings"
)

// ProgramBuilder assembles a single-block legacy program the way
// paddle.jit.save lays it out: persistable `feed`/`fetch` variables, feed
// ops first (in reverse `col` order), fetch ops last, parameters named
// "<layer>_<n>.w_<k>"/".b_<k>" and temporaries "<op>_<n>.tmp_<k>". It is
// used to write test fixtures and offline mirrors.
type ProgramBuilder struct {
	blk     *Block
	params  map[string]*Tensor
	count   map[string]int
	feeds   []*Op
	fetches []*Op
	names   map[string]bool
	extra   []*Block // sub-blocks after block 0
	err     error
}

// NewProgramBuilder starts an empty program.
func NewProgramBuilder() *ProgramBuilder {
	b := &ProgramBuilder{
		blk:    &Block{Idx: 0, ParentIdx: -1, ForwardBlockIdx: -1},
		params: map[string]*Tensor{},
		count:  map[string]int{},
		names:  map[string]bool{},
	}
	b.addVar(&Var{Name: "feed", Kind: FeedMinibatch, DType: -1, Persistable: true})
	b.addVar(&Var{Name: "fetch", Kind: FetchList, DType: -1, Persistable: true})
	return b
}

// Err is the first error met (duplicate names, bad parameters).
func (b *ProgramBuilder) Err() error { return b.err }

func (b *ProgramBuilder) fail(format string, a ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: builder: "+format, append([]any{ErrFormat}, a...)...)
	}
}

func (b *ProgramBuilder) addVar(v *Var) {
	if b.names[v.Name] {
		b.fail("variable %q defined twice", v.Name)
		return
	}
	b.names[v.Name] = true
	b.blk.Vars = append(b.blk.Vars, v)
}

// Unique returns prefix_N for the next free N of that prefix.
func (b *ProgramBuilder) Unique(prefix string) string {
	for {
		n := b.count[prefix]
		b.count[prefix]++
		s := fmt.Sprintf("%s_%d", prefix, n)
		if !b.names[s] && !b.hasPrefix(s+".") {
			return s
		}
	}
}

func (b *ProgramBuilder) hasPrefix(p string) bool {
	for n := range b.names {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// Feed declares input name (dims with -1 for dynamic) at the next `col`.
func (b *ProgramBuilder) Feed(name string, dt DType, dims []int64) string {
	b.addVar(&Var{Name: name, Kind: LoDTensor, DType: dt, Dims: dims, NeedCheckFeed: true})
	b.feeds = append(b.feeds, &Op{Type: "feed",
		Inputs:  []Slot{{"X", []string{"feed"}}},
		Outputs: []Slot{{"Out", []string{name}}},
		Attrs:   []Attr{AInt("col", int32(len(b.feeds)))}})
	return name
}

// Fetch makes an existing variable the next output.
func (b *ProgramBuilder) Fetch(name string) {
	b.fetches = append(b.fetches, &Op{Type: "fetch",
		Inputs:  []Slot{{"X", []string{name}}},
		Outputs: []Slot{{"Out", []string{"fetch"}}},
		Attrs:   []Attr{AInt("col", int32(len(b.fetches)))}})
}

// Param adds a persistable parameter with the given name and value.
func (b *ProgramBuilder) Param(name string, t *Tensor) string {
	if int64(len(t.Data)) != t.Numel()*int64(t.DType.Size()) {
		b.fail("parameter %q: %d bytes for %v %v", name, len(t.Data), t.DType, t.Dims)
	}
	b.addVar(&Var{Name: name, Kind: LoDTensor, DType: t.DType, Dims: append([]int64(nil), t.Dims...), Persistable: true, IsParameter: true})
	b.params[name] = t
	return name
}

// Tmp declares a temporary variable "<prefix>.tmp_<k>".
func (b *ProgramBuilder) Tmp(name string, dt DType, dims []int64) string {
	b.addVar(&Var{Name: name, Kind: LoDTensor, DType: dt, Dims: append([]int64(nil), dims...)})
	return name
}

// Op appends an op.
func (b *ProgramBuilder) Op(typ string, inputs, outputs []Slot, attrs ...Attr) {
	b.blk.Ops = append(b.blk.Ops, &Op{Type: typ, Inputs: inputs, Outputs: outputs, Attrs: attrs})
}

// Model finishes the program (version 2.3.2, as the released PP-ShiTuV2
// rec model) with its parameters.
func (b *ProgramBuilder) Model() (*Model, error) {
	if b.err != nil {
		return nil, b.err
	}
	blk := *b.blk
	var ops []*Op
	for i := len(b.feeds) - 1; i >= 0; i-- {
		ops = append(ops, b.feeds[i])
	}
	ops = append(ops, blk.Ops...)
	ops = append(ops, b.fetches...)
	blk.Ops = ops
	blk.Vars = append([]*Var(nil), blk.Vars...)
	return &Model{Program: &Program{Version: 2003002, Blocks: append([]*Block{&blk}, b.extra...)}, Params: b.params}, nil
}

// SlotOf makes an op input or output slot.
func SlotOf(param string, args ...string) Slot { return Slot{Param: param, Args: args} }

// Attribute constructors for ProgramBuilder.Op.

// AInt makes an INT attribute.
func AInt(name string, v int32) Attr { return Attr{Name: name, Type: AttrInt, I: v} }

// ALong makes a LONG attribute.
func ALong(name string, v int64) Attr { return Attr{Name: name, Type: AttrLong, L: v} }

// AFloat makes a FLOAT attribute.
func AFloat(name string, v float32) Attr { return Attr{Name: name, Type: AttrFloat, F: v} }

// AString makes a STRING attribute.
func AString(name, v string) Attr { return Attr{Name: name, Type: AttrString, S: v} }

// ABool makes a BOOLEAN attribute.
func ABool(name string, v bool) Attr { return Attr{Name: name, Type: AttrBool, B: v} }

// AInts makes an INTS attribute.
func AInts(name string, v ...int32) Attr {
	return Attr{Name: name, Type: AttrInts, Ints: append([]int32{}, v...)}
}

// AFloats makes a FLOATS attribute.
func AFloats(name string, v ...float32) Attr {
	return Attr{Name: name, Type: AttrFloats, Floats: append([]float32{}, v...)}
}
