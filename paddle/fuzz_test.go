package paddle

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
)

// seedReal adds the first bytes of a real model file to the corpus when
// the shared test data is present.
func seedReal(f *testing.F, rel string, n int) {
	p := filepath.Join(testutil.RepoRoot(), "..", "shared", "testdata", "real-models", rel)
	if b, err := os.ReadFile(p); err == nil {
		f.Add(b[:min(n, len(b))])
	}
}

func FuzzParseProgram(f *testing.F) {
	m := tinyModel(f)
	f.Add(EncodeProgram(m.Program))
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte(`{"base_code":{"magic":"pir"}}`))
	seedReal(f, "ch_ppocr_mobile_v2.0_cls/paddle-2.3/inference.pdmodel", 4096)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProgram(data)
		if err != nil {
			return
		}
		// Whatever decodes must survive the program's own walks and a
		// conversion attempt without panicking.
		_ = p.OpInventory()
		_ = p.Persistables()
		_, _ = p.Feeds(), p.Fetches()
		_, _ = ToONNX(&Model{Program: p, Params: map[string]*Tensor{}}, ConvertOptions{})
		_, _ = ParseProgram(EncodeProgram(p))
	})
}

func FuzzParseParams(f *testing.F) {
	m := tinyModel(f)
	good, err := EncodeParams(m.Program, m.Params)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:30])
	f.Add(AppendRecord(nil, &Tensor{DType: Int64, Dims: []int64{1 << 40, 1 << 40}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := ParseParams(data, m.Program)
		if err == nil && len(ps) != 1 {
			t.Fatalf("%d params without error", len(ps))
		}
		if tt, err := ParseRecord(data, nil); err == nil {
			if int64(len(tt.Data)) != tt.Numel()*int64(tt.DType.Size()) {
				t.Fatalf("record of %v %v holds %d bytes", tt.DType, tt.Dims, len(tt.Data))
			}
		}
	})
}

func FuzzParsePIR(f *testing.F) {
	f.Add([]byte(pirSample))
	f.Add([]byte(`{"base_code":{"magic":"pir"},"program":{"regions":[]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePIR(data)
		if err != nil {
			return
		}
		_ = p.OpInventory()
		_, _ = ParsePIRParams(nil, p)
	})
}

func FuzzFromONNX(f *testing.F) {
	m := tinyModel(f)
	b, err := ToONNX(m, ConvertOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		mp, err := onnx.Read(data)
		if err != nil {
			return
		}
		pm, err := FromONNX(mp)
		if err != nil {
			return
		}
		_, _ = EncodeParams(pm.Program, pm.Params)
	})
}
