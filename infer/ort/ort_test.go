package ort

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/tensor"
)

// tinyModel hand-encodes an ONNX model (IR 7, opset 13):
// y = Relu(x) with x float32 [N,4], and j = Identity(i) with i int64 [N].
func tinyModel() []byte { return handModel(false, false) }

// handModel is tinyModel, or with scalar a model whose second output is
// s = ReduceSum(x) with keepdims 0 (rank 0), or with noInputs a model whose
// only node is a Constant.
func handModel(scalar, noInputs bool) []byte {
	msg := func(field protowire.Number, body []byte) []byte {
		b := protowire.AppendTag(nil, field, protowire.BytesType)
		return protowire.AppendBytes(b, body)
	}
	str := func(field protowire.Number, s string) []byte { return msg(field, []byte(s)) }
	varint := func(field protowire.Number, v uint64) []byte {
		b := protowire.AppendTag(nil, field, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	// ValueInfoProto{name=1, type=2{tensor_type=1{elem_type=1, shape=2{dim=1{dim_value=1|dim_param=2}}}}}
	vi := func(name string, elem uint64, dims ...any) []byte {
		var shape []byte
		for _, d := range dims {
			switch d := d.(type) {
			case int:
				shape = append(shape, msg(1, varint(1, uint64(d)))...)
			case string:
				shape = append(shape, msg(1, str(2, d))...)
			}
		}
		return cat(str(1, name), msg(2, msg(1, cat(varint(1, elem), msg(2, shape)))))
	}
	node := func(op, in, out string, attrs ...[]byte) []byte {
		n := cat(str(2, out), str(4, op))
		if in != "" {
			n = cat(str(1, in), n)
		}
		for _, a := range attrs {
			n = append(n, msg(5, a)...)
		}
		return n
	}
	graph := cat(
		msg(1, node("Relu", "x", "y")),
		msg(1, node("Identity", "i", "j")),
		str(2, "tiny"),
		msg(11, vi("x", 1, "N", 4)),
		msg(11, vi("i", 7, "N")),
		msg(12, vi("y", 1, "N", 4)),
		msg(12, vi("j", 7, "N")),
	)
	if scalar {
		// AttributeProto{name=1, i=3, type=20 (INT=2)}
		keep := cat(str(1, "keepdims"), varint(3, 0), varint(20, 2))
		graph = cat(msg(1, node("Relu", "x", "y")), msg(1, node("ReduceSum", "x", "s", keep)), str(2, "scalar"),
			msg(11, vi("x", 1, "N", 4)), msg(12, vi("y", 1, "N", 4)), msg(12, vi("s", 1)))
	}
	if noInputs {
		// AttributeProto{name=1, f=2 (fixed32), type=20 (FLOAT=1)}
		f := protowire.AppendTag(nil, 2, protowire.Fixed32Type)
		f = protowire.AppendFixed32(f, 0x3f800000)
		val := cat(str(1, "value_float"), f, varint(20, 1))
		graph = cat(msg(1, node("Constant", "", "c", val)), str(2, "const"), msg(12, vi("c", 1)))
	}
	return cat(varint(1, 7), msg(8, cat(str(1, ""), varint(2, 13))), msg(7, graph))
}

func newBackend(t *testing.T) *Backend {
	t.Helper()
	b, err := New(Config{LibPath: testutil.ORTLib(t)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunTinyModel(t *testing.T) {
	b := newBackend(t)
	s, err := b.Open(tinyModel(), infer.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Inputs(); len(got) != 2 || got[0].Name != "x" || got[0].DType != tensor.Float32 ||
		len(got[0].Shape) != 2 || got[0].Shape[0] != -1 || got[0].Shape[1] != 4 || got[1].DType != tensor.Int64 {
		t.Fatalf("inputs = %v", got)
	}
	if got := s.Outputs(); len(got) != 2 || got[0].Name != "y" || got[1].Name != "j" {
		t.Fatalf("outputs = %v", got)
	}
	for _, n := range []int{1, 3} { // dynamic batch
		x := make([]float32, n*4)
		idx := make([]int64, n)
		for k := range x {
			x[k] = float32(k) - 5
		}
		for k := range idx {
			idx[k] = int64(k * 1000)
		}
		out, err := s.Run(context.Background(), map[string]*tensor.Tensor{
			"x": tensor.Must([]int{n, 4}, x), "i": tensor.Must([]int{n}, idx)})
		if err != nil {
			t.Fatal(err)
		}
		if !tensor.EqualShape(out[0].Shape(), []int{n, 4}) || out[1].DType() != tensor.Int64 {
			t.Fatalf("out shapes %v %v", out[0], out[1])
		}
		for k, v := range out[0].Float32s() {
			want := max(x[k], 0)
			if v != want {
				t.Fatalf("y[%d] = %v, want %v", k, v, want)
			}
		}
		for k, v := range out[1].Int64s() {
			if v != idx[k] {
				t.Fatalf("j[%d] = %v", k, v)
			}
		}
	}
}

func TestConcurrentRuns(t *testing.T) {
	b := newBackend(t)
	s, err := b.Open(tinyModel(), infer.Options{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for r := 0; r < 50; r++ {
				x := []float32{float32(g), -1, float32(r), 2}
				out, err := s.Run(context.Background(), map[string]*tensor.Tensor{
					"x": tensor.Must([]int{1, 4}, x), "i": tensor.Must([]int{1}, []int64{int64(g)})})
				if err != nil {
					errs <- err
					return
				}
				y := out[0].Float32s()
				if y[0] != float32(g) || y[1] != 0 || y[2] != float32(r) || out[1].Int64s()[0] != int64(g) {
					errs <- errors.New("wrong result under concurrency")
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestBadInputs(t *testing.T) {
	b := newBackend(t)
	s, err := b.Open(tinyModel(), infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	good := tensor.Must([]int{1}, []int64{1})
	cases := map[string]map[string]*tensor.Tensor{
		"missing input": {"x": tensor.Must([]int{1, 4}, make([]float32, 4))},
		"wrong name":    {"x": tensor.Must([]int{1, 4}, make([]float32, 4)), "i": good, "z": good},
		"wrong shape":   {"x": tensor.Must([]int{1, 5}, make([]float32, 5)), "i": good},
		"wrong rank":    {"x": tensor.Must([]int{4}, make([]float32, 4)), "i": good},
		"wrong dtype":   {"x": tensor.Must([]int{1, 4}, make([]int32, 4)), "i": good},
	}
	for name, in := range cases {
		_, err := s.Run(context.Background(), in)
		if !errors.Is(err, infer.ErrInput) {
			t.Errorf("%s: err = %v, want ErrInput", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	s.Close()
	if _, err := s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.Must([]int{1, 4}, make([]float32, 4)), "i": good}); !errors.Is(err, infer.ErrClosed) {
		t.Errorf("run after close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestBadModels(t *testing.T) {
	b := newBackend(t)
	m := tinyModel()
	cases := map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("this is not an onnx model at all"),
		"truncated": m[:len(m)/2],
	}
	for name, data := range cases {
		_, err := b.Open(data, infer.Options{})
		if !errors.Is(err, infer.ErrModel) {
			t.Errorf("%s: err = %v, want ErrModel", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	dir := t.TempDir()
	if _, err := b.OpenFile(filepath.Join(dir, "missing.onnx"), infer.Options{}); !errors.Is(err, infer.ErrModel) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(dir, "trunc.onnx")
	os.WriteFile(p, m[:len(m)-7], 0o644)
	if _, err := b.OpenFile(p, infer.Options{}); !errors.Is(err, infer.ErrModel) {
		t.Errorf("truncated file: %v", err)
	}
}

func TestMissingLibrary(t *testing.T) {
	_, err := New(Config{LibPath: filepath.Join(t.TempDir(), "libonnxruntime.so.1")})
	if !errors.Is(err, infer.ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
	if _, err := New(Config{}); !errors.Is(err, infer.ErrUnavailable) {
		t.Fatalf("empty path: %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	b := newBackend(t)
	s, err := b.Open(tinyModel(), infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.Run(ctx, map[string]*tensor.Tensor{"x": tensor.Must([]int{1, 4}, make([]float32, 4)), "i": tensor.Must([]int{1}, []int64{1})})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

// TestCorruptLibrary loads a file that is not a shared library in a child
// process (one ORT environment per process) and expects a clean error.
func TestCorruptLibrary(t *testing.T) {
	if p := os.Getenv("SHITU_TEST_CORRUPT_LIB"); p != "" {
		_, err := New(Config{LibPath: p})
		if !errors.Is(err, infer.ErrUnavailable) {
			t.Fatalf("err = %v", err)
		}
		t.Log(err)
		return
	}
	if !cgoEnabled {
		t.Skip("needs cgo")
	}
	p := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	os.WriteFile(p, []byte("not an ELF file"), 0o644)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCorruptLibrary$", "-test.v")
	cmd.Env = append(os.Environ(), "SHITU_TEST_CORRUPT_LIB="+p)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "cannot load the ONNX Runtime library") {
		t.Fatalf("child output lacks the error:\n%s", out)
	}
}

// TestUnusualModels: a model without inputs is refused at Open; a rank-0
// output makes Run fail with an error, not a crash.
func TestUnusualModels(t *testing.T) {
	b := newBackend(t)
	if _, err := b.Open(handModel(false, true), infer.Options{}); !errors.Is(err, infer.ErrModel) {
		t.Fatalf("no inputs: %v", err)
	}
	s, err := b.Open(handModel(true, false), infer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Run(context.Background(), map[string]*tensor.Tensor{"x": tensor.Must([]int{1, 4}, []float32{1, 2, 3, 4})})
	if err == nil {
		t.Fatal("rank-0 output: no error")
	}
	t.Log(err)
}
