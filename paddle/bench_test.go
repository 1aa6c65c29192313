package paddle

import (
	"os"
	"path/filepath"
	"testing"
)

func readReal(b *testing.B, rel string) []byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(realDir(b, filepath.Dir(rel)), filepath.Base(rel)))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkParseProgramOCRDet(b *testing.B) {
	data := readReal(b, "ch_PP-OCRv3_det/paddle/inference.pdmodel")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProgram(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseProgramLayoutPicoDet(b *testing.B) {
	data := readReal(b, "picodet_lcnet_x1_0_fgd_layout/paddle/model.pdmodel")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseProgram(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseParamsOCRDet(b *testing.B) {
	p, err := ParseProgram(readReal(b, "ch_PP-OCRv3_det/paddle/inference.pdmodel"))
	if err != nil {
		b.Fatal(err)
	}
	data := readReal(b, "ch_PP-OCRv3_det/paddle/inference.pdiparams")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseParams(data, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToONNXOCRDet(b *testing.B) {
	m, err := Load(realDir(b, "ch_PP-OCRv3_det/paddle"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ToONNX(m, ConvertOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeProgramOCRDet(b *testing.B) {
	p, err := ParseProgram(readReal(b, "ch_PP-OCRv3_det/paddle/inference.pdmodel"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeProgram(p)
	}
}
