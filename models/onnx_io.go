package models

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

var errONNX = errors.New("not an ONNX model")

// onnxIO reads the graph inputs (initializers excluded) and outputs of a
// serialized ONNX ModelProto. It reads only the fields it needs: ModelProto
// graph (7); GraphProto initializer (5), input (11), output (12);
// ValueInfoProto name (1), type (2); TypeProto tensor_type (1); tensor
// elem_type (1), shape (2); shape dim (1); dim_value (1), dim_param (2).
func onnxIO(model []byte) (inputs, outputs []Tensor, err error) {
	var graph []byte
	err = eachField(model, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num == 7 && typ == protowire.BytesType {
			graph = v
		}
		return nil
	})
	if err != nil || graph == nil {
		return nil, nil, fmt.Errorf("%w: no graph", errONNX)
	}
	inits := map[string]bool{}
	err = eachField(graph, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 5:
			return eachField(v, func(n protowire.Number, t protowire.Type, b []byte, _ uint64) error {
				if n == 8 && t == protowire.BytesType {
					inits[string(b)] = true
				}
				return nil
			})
		case 11, 12:
			t, err := valueInfo(v)
			if err != nil {
				return err
			}
			if num == 11 {
				inputs = append(inputs, t)
			} else {
				outputs = append(outputs, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	kept := inputs[:0]
	for _, t := range inputs {
		if !inits[t.Name] {
			kept = append(kept, t)
		}
	}
	return kept, outputs, nil
}

func valueInfo(b []byte) (Tensor, error) {
	t := Tensor{DType: "unknown"}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			t.Name = string(v)
		case 2:
			return eachField(v, func(n protowire.Number, ty protowire.Type, tt []byte, _ uint64) error {
				if n != 1 || ty != protowire.BytesType {
					return nil
				}
				return eachField(tt, func(n protowire.Number, ty protowire.Type, x []byte, u uint64) error {
					switch {
					case n == 1 && ty == protowire.VarintType:
						t.DType = onnxDType(u)
					case n == 2 && ty == protowire.BytesType:
						t.Shape = []int64{}
						return eachField(x, func(n protowire.Number, ty protowire.Type, d []byte, _ uint64) error {
							if n != 1 || ty != protowire.BytesType {
								return nil
							}
							dim := int64(-1)
							err := eachField(d, func(n protowire.Number, ty protowire.Type, _ []byte, u uint64) error {
								if n == 1 && ty == protowire.VarintType {
									dim = int64(u)
								}
								return nil
							})
							t.Shape = append(t.Shape, dim)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return t, err
}

func onnxDType(t uint64) string {
	switch t {
	case 1:
		return "float32"
	case 2:
		return "uint8"
	case 3:
		return "int8"
	case 6:
		return "int32"
	case 7:
		return "int64"
	case 9:
		return "bool"
	case 10:
		return "float16"
	case 11:
		return "float64"
	}
	return fmt.Sprintf("onnx-type-%d", t)
}

// eachField calls fn for each field of a protobuf message: v holds the
// bytes of length-delimited fields, u the value of varint and fixed ones.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, u uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errONNX, protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		var u uint64
		switch typ {
		case protowire.VarintType:
			u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			u = uint64(x)
		case protowire.Fixed64Type:
			u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: %v", errONNX, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v, u); err != nil {
			return err
		}
	}
	return nil
}
