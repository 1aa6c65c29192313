package paddle

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// decoder walks one protobuf message. Every field is visited; unknown
// fields are skipped (models-and-formats §C.2). Repeated scalars are
// accepted both packed and unpacked.
type fieldFunc func(num protowire.Number, typ protowire.Type, b []byte) (int, error)

// walk calls f for each field of msg; f returns the number of bytes it
// consumed of b (the bytes after the tag), or -1 to have the field skipped.
func walk(msg []byte, what string, f fieldFunc) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return fmt.Errorf("%w: %s: bad tag: %v", ErrFormat, what, protowire.ParseError(n))
		}
		msg = msg[n:]
		m, err := f(num, typ, msg)
		if err != nil {
			return err
		}
		if m < 0 {
			m = protowire.ConsumeFieldValue(num, typ, msg)
			if m < 0 {
				return fmt.Errorf("%w: %s: field %d: %v", ErrFormat, what, num, protowire.ParseError(m))
			}
		}
		msg = msg[m:]
	}
	return nil
}

func perr(what string, num protowire.Number, n int) error {
	return fmt.Errorf("%w: %s: field %d: %v", ErrFormat, what, num, protowire.ParseError(n))
}

func wantType(what string, num protowire.Number, got, want protowire.Type) error {
	if got != want {
		return fmt.Errorf("%w: %s: field %d has wire type %d, want %d", ErrFormat, what, num, got, want)
	}
	return nil
}

// bytesField reads a length-delimited field.
func bytesField(what string, num protowire.Number, typ protowire.Type, b []byte) ([]byte, int, error) {
	if err := wantType(what, num, typ, protowire.BytesType); err != nil {
		return nil, 0, err
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return nil, 0, perr(what, num, n)
	}
	return v, n, nil
}

// varintField reads a varint field.
func varintField(what string, num protowire.Number, typ protowire.Type, b []byte) (uint64, int, error) {
	if err := wantType(what, num, typ, protowire.VarintType); err != nil {
		return 0, 0, err
	}
	v, n := protowire.ConsumeVarint(b)
	if n < 0 {
		return 0, 0, perr(what, num, n)
	}
	return v, n, nil
}

// repeatedVarint appends one element (unpacked) or a packed run.
func repeatedVarint(what string, num protowire.Number, typ protowire.Type, b []byte, add func(uint64)) (int, error) {
	if typ == protowire.VarintType {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return 0, perr(what, num, n)
		}
		add(v)
		return n, nil
	}
	p, n, err := bytesField(what, num, typ, b)
	if err != nil {
		return 0, err
	}
	for len(p) > 0 {
		v, m := protowire.ConsumeVarint(p)
		if m < 0 {
			return 0, perr(what, num, m)
		}
		add(v)
		p = p[m:]
	}
	return n, nil
}

func repeatedFixed32(what string, num protowire.Number, typ protowire.Type, b []byte, add func(uint32)) (int, error) {
	if typ == protowire.Fixed32Type {
		v, n := protowire.ConsumeFixed32(b)
		if n < 0 {
			return 0, perr(what, num, n)
		}
		add(v)
		return n, nil
	}
	p, n, err := bytesField(what, num, typ, b)
	if err != nil {
		return 0, err
	}
	for len(p) > 0 {
		v, m := protowire.ConsumeFixed32(p)
		if m < 0 {
			return 0, perr(what, num, m)
		}
		add(v)
		p = p[m:]
	}
	return n, nil
}

func repeatedFixed64(what string, num protowire.Number, typ protowire.Type, b []byte, add func(uint64)) (int, error) {
	if typ == protowire.Fixed64Type {
		v, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return 0, perr(what, num, n)
		}
		add(v)
		return n, nil
	}
	p, n, err := bytesField(what, num, typ, b)
	if err != nil {
		return 0, err
	}
	for len(p) > 0 {
		v, m := protowire.ConsumeFixed64(p)
		if m < 0 {
			return 0, perr(what, num, m)
		}
		add(v)
		p = p[m:]
	}
	return n, nil
}

// ParseProgram decodes a serialized ProgramDesc (a .pdmodel or __model__ file).
func ParseProgram(data []byte) (*Program, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty ProgramDesc", ErrFormat)
	}
	if isPIRJSON(data) {
		return nil, fmt.Errorf("%w: this is a PIR program (JSON), not a ProgramDesc", ErrPIR)
	}
	p := &Program{}
	err := walk(data, "ProgramDesc", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := bytesField("ProgramDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			blk, err := parseBlock(v)
			if err != nil {
				return 0, fmt.Errorf("block %d: %w", len(p.Blocks), err)
			}
			p.Blocks = append(p.Blocks, blk)
			return n, nil
		case 4:
			v, n, err := bytesField("ProgramDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			err = walk(v, "Version", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				if num != 1 {
					return -1, nil
				}
				x, n, err := varintField("Version", num, typ, b)
				p.Version = int64(x)
				return n, err
			})
			return n, err
		case 5:
			v, n, err := bytesField("ProgramDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			if p.OpVersions == nil {
				p.OpVersions = map[string]int32{}
			}
			return n, parseOpVersionMap(v, p.OpVersions)
		}
		return -1, nil
	})
	if err != nil {
		return nil, err
	}
	if len(p.Blocks) == 0 {
		return nil, fmt.Errorf("%w: ProgramDesc has no blocks", ErrFormat)
	}
	return p, nil
}

func parseOpVersionMap(msg []byte, m map[string]int32) error {
	return walk(msg, "OpVersionMap", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		if num != 1 {
			return -1, nil
		}
		v, n, err := bytesField("OpVersionMap", num, typ, b)
		if err != nil {
			return 0, err
		}
		var name string
		var ver int32
		err = walk(v, "OpVersionPair", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
			switch num {
			case 1:
				s, n, err := bytesField("OpVersionPair", num, typ, b)
				name = string(s)
				return n, err
			case 2:
				s, n, err := bytesField("OpVersionPair", num, typ, b)
				if err != nil {
					return 0, err
				}
				return n, walk(s, "OpVersion", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
					if num != 1 {
						return -1, nil
					}
					x, n, err := varintField("OpVersion", num, typ, b)
					ver = int32(x)
					return n, err
				})
			}
			return -1, nil
		})
		m[name] = ver
		return n, err
	})
}

func parseBlock(msg []byte) (*Block, error) {
	blk := &Block{ParentIdx: -1, ForwardBlockIdx: -1}
	err := walk(msg, "BlockDesc", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 2, 5:
			x, n, err := varintField("BlockDesc", num, typ, b)
			switch num {
			case 1:
				blk.Idx = int32(x)
			case 2:
				blk.ParentIdx = int32(x)
			case 5:
				blk.ForwardBlockIdx = int32(x)
			}
			return n, err
		case 3:
			v, n, err := bytesField("BlockDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			vd, err := parseVar(v)
			if err != nil {
				return 0, err
			}
			blk.Vars = append(blk.Vars, vd)
			return n, nil
		case 4:
			v, n, err := bytesField("BlockDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			op, err := parseOp(v)
			if err != nil {
				return 0, fmt.Errorf("op %d: %w", len(blk.Ops), err)
			}
			blk.Ops = append(blk.Ops, op)
			return n, nil
		}
		return -1, nil
	})
	return blk, err
}

func parseVar(msg []byte) (*Var, error) {
	v := &Var{Kind: -1, DType: -1}
	err := walk(msg, "VarDesc", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			s, n, err := bytesField("VarDesc", num, typ, b)
			v.Name = string(s)
			return n, err
		case 2:
			s, n, err := bytesField("VarDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			return n, parseVarType(s, v)
		case 7:
			s, n, err := bytesField("VarDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			a, err := parseVarAttr(s)
			v.Attrs = append(v.Attrs, a)
			return n, err
		case 3, 4, 5, 6:
			x, n, err := varintField("VarDesc", num, typ, b)
			switch num {
			case 3:
				v.Persistable = x != 0
			case 4:
				v.NeedCheckFeed = x != 0
			case 5:
				v.IsParameter = x != 0
			case 6:
				v.StopGradient = x != 0
			}
			return n, err
		}
		return -1, nil
	})
	if err != nil {
		return nil, fmt.Errorf("var %q: %w", v.Name, err)
	}
	return v, nil
}

func parseVarAttr(msg []byte) (VarAttr, error) {
	var a VarAttr
	const w = "VarDesc.Attr"
	err := walk(msg, w, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 4:
			v, n, err := bytesField(w, num, typ, b)
			if num == 1 {
				a.Name = string(v)
			} else {
				a.S = string(v)
			}
			return n, err
		case 2, 3:
			x, n, err := varintField(w, num, typ, b)
			if num == 2 {
				a.Type = AttrType(int32(x))
			} else {
				a.I = int32(x)
			}
			return n, err
		case 5:
			return repeatedVarint(w, num, typ, b, func(x uint64) { a.Ints = append(a.Ints, int32(x)) })
		}
		return -1, nil
	})
	return a, err
}

func parseVarType(msg []byte, v *Var) error {
	return walk(msg, "VarType", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			x, n, err := varintField("VarType", num, typ, b)
			v.Kind = DType(int32(x))
			return n, err
		case 2, 8, 9, 10, 11, 12: // selected_rows and other plain TensorDesc kinds
			s, n, err := bytesField("VarType", num, typ, b)
			if err != nil {
				return 0, err
			}
			return n, parseTensorDesc(s, &v.DType, &v.Dims)
		case 3, 4: // lod_tensor, tensor_array: {1 tensor, 2 lod_level}
			s, n, err := bytesField("VarType", num, typ, b)
			if err != nil {
				return 0, err
			}
			return n, walk(s, "LoDTensorDesc", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				switch num {
				case 1:
					t, n, err := bytesField("LoDTensorDesc", num, typ, b)
					if err != nil {
						return 0, err
					}
					return n, parseTensorDesc(t, &v.DType, &v.Dims)
				case 2:
					x, n, err := varintField("LoDTensorDesc", num, typ, b)
					v.LoDLevel = int32(x)
					return n, err
				}
				return -1, nil
			})
		}
		return -1, nil
	})
}

func parseTensorDesc(msg []byte, dt *DType, dims *[]int64) error {
	*dims = (*dims)[:0]
	return walk(msg, "TensorDesc", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			x, n, err := varintField("TensorDesc", num, typ, b)
			*dt = DType(int32(x))
			return n, err
		case 2:
			return repeatedVarint("TensorDesc", num, typ, b, func(x uint64) { *dims = append(*dims, int64(x)) })
		}
		return -1, nil
	})
}

func parseSlot(msg []byte) (Slot, error) {
	var s Slot
	err := walk(msg, "OpDesc.Var", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1:
			v, n, err := bytesField("OpDesc.Var", num, typ, b)
			s.Param = string(v)
			return n, err
		case 2:
			v, n, err := bytesField("OpDesc.Var", num, typ, b)
			s.Args = append(s.Args, string(v))
			return n, err
		}
		return -1, nil
	})
	return s, err
}

func parseOp(msg []byte) (*Op, error) {
	op := &Op{}
	err := walk(msg, "OpDesc", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 2:
			v, n, err := bytesField("OpDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			s, err := parseSlot(v)
			if err != nil {
				return 0, err
			}
			if num == 1 {
				op.Inputs = append(op.Inputs, s)
			} else {
				op.Outputs = append(op.Outputs, s)
			}
			return n, nil
		case 3:
			v, n, err := bytesField("OpDesc", num, typ, b)
			op.Type = string(v)
			return n, err
		case 4:
			v, n, err := bytesField("OpDesc", num, typ, b)
			if err != nil {
				return 0, err
			}
			a, err := parseAttr(v)
			if err != nil {
				return 0, err
			}
			op.Attrs = append(op.Attrs, a)
			return n, nil
		case 5:
			x, n, err := varintField("OpDesc", num, typ, b)
			op.IsTarget = x != 0
			return n, err
		}
		return -1, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%q: %w", op.Type, err)
	}
	return op, nil
}

func parseScalar(msg []byte) (Scalar, error) {
	var s Scalar
	err := walk(msg, "Scalar", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 2, 3:
			x, n, err := varintField("Scalar", num, typ, b)
			switch num {
			case 1:
				s.Type = int32(x)
			case 2:
				s.B = x != 0
			case 3:
				s.I = int64(x)
			}
			return n, err
		case 4:
			if err := wantType("Scalar", num, typ, protowire.Fixed64Type); err != nil {
				return 0, err
			}
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return 0, perr("Scalar", num, n)
			}
			s.R = math.Float64frombits(x)
			return n, nil
		case 5:
			v, n, err := bytesField("Scalar", num, typ, b)
			if err != nil {
				return 0, err
			}
			return n, walk(v, "Complex", func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
				if num != 1 && num != 2 {
					return -1, nil
				}
				if err := wantType("Complex", num, typ, protowire.Fixed64Type); err != nil {
					return 0, err
				}
				x, n := protowire.ConsumeFixed64(b)
				if n < 0 {
					return 0, perr("Complex", num, n)
				}
				s.C[num-1] = math.Float64frombits(x)
				return n, nil
			})
		}
		return -1, nil
	})
	return s, err
}

func parseAttr(msg []byte) (Attr, error) {
	var a Attr
	const w = "OpDesc.Attr"
	err := walk(msg, w, func(num protowire.Number, typ protowire.Type, b []byte) (int, error) {
		switch num {
		case 1, 5, 17:
			v, n, err := bytesField(w, num, typ, b)
			switch num {
			case 1:
				a.Name = string(v)
			case 5:
				a.S = string(v)
			case 17:
				a.VarName = string(v)
			}
			return n, err
		case 8:
			v, n, err := bytesField(w, num, typ, b)
			a.Strings = append(a.Strings, string(v))
			return n, err
		case 18:
			v, n, err := bytesField(w, num, typ, b)
			a.VarNames = append(a.VarNames, string(v))
			return n, err
		case 2, 3, 10, 12, 13:
			x, n, err := varintField(w, num, typ, b)
			switch num {
			case 2:
				a.Type = AttrType(int32(x))
			case 3:
				a.I = int32(x)
			case 10:
				a.B = x != 0
			case 12:
				a.Block = int32(x)
			case 13:
				a.L = int64(x)
			}
			return n, err
		case 4:
			if err := wantType(w, num, typ, protowire.Fixed32Type); err != nil {
				return 0, err
			}
			x, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return 0, perr(w, num, n)
			}
			a.F = math.Float32frombits(x)
			return n, nil
		case 19:
			if err := wantType(w, num, typ, protowire.Fixed64Type); err != nil {
				return 0, err
			}
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return 0, perr(w, num, n)
			}
			a.Float64 = math.Float64frombits(x)
			return n, nil
		case 6:
			return repeatedVarint(w, num, typ, b, func(x uint64) { a.Ints = append(a.Ints, int32(x)) })
		case 11:
			return repeatedVarint(w, num, typ, b, func(x uint64) { a.Bools = append(a.Bools, x != 0) })
		case 14:
			return repeatedVarint(w, num, typ, b, func(x uint64) { a.Blocks = append(a.Blocks, int32(x)) })
		case 15:
			return repeatedVarint(w, num, typ, b, func(x uint64) { a.Longs = append(a.Longs, int64(x)) })
		case 7:
			return repeatedFixed32(w, num, typ, b, func(x uint32) { a.Floats = append(a.Floats, math.Float32frombits(x)) })
		case 16:
			return repeatedFixed64(w, num, typ, b, func(x uint64) { a.Float64s = append(a.Float64s, math.Float64frombits(x)) })
		case 20, 21:
			v, n, err := bytesField(w, num, typ, b)
			if err != nil {
				return 0, err
			}
			s, err := parseScalar(v)
			if err != nil {
				return 0, err
			}
			if num == 20 {
				a.Scalar = &s
			} else {
				a.Scalars = append(a.Scalars, s)
			}
			return n, nil
		}
		return -1, nil
	})
	if err != nil {
		return a, fmt.Errorf("attr %q: %w", a.Name, err)
	}
	return a, nil
}
