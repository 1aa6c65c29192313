package arch

import (
	"testing"

	"github.com/shitu-go/shitu/onnx"
)

// BenchmarkBuildRec measures building the rec network (calibration forward
// pass included) and serialising it.
func BenchmarkBuildRec(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		n, err := RecNet(1, RecOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.Bytes(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildDet is BenchmarkBuildRec for the detector.
func BenchmarkBuildDet(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		n, err := DetNet(1, DetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.Bytes(0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeDet measures onnx.Analyze on the 413-node detector.
func BenchmarkAnalyzeDet(b *testing.B) {
	m := cachedModel(b, true)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := onnx.Analyze(m); err != nil {
			b.Fatal(err)
		}
	}
}
