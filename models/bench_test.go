package models

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func benchSizes() []struct {
	name string
	n    int
} {
	return []struct {
		name string
		n    int
	}{{"1MB", 1 << 20}, {"16MB", 16 << 20}}
}

func BenchmarkExtractOfficialLayout(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			tb := makeTar(b, false,
				tarEntry{name: "m/inference.pdmodel", body: string(payload(sz.n / 16))},
				tarEntry{name: "m/inference.pdiparams", body: string(payload(sz.n))})
			base := b.TempDir()
			b.SetBytes(int64(len(tb)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dir, _ := os.MkdirTemp(base, "x")
				if err := Extract(bytes.NewReader(tb), dir, ExtractOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}

func BenchmarkFetchHTTP(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			data := payload(sz.n)
			ts := httptest.NewServer(&tarServer{files: map[string][]byte{"m.tar": data}})
			defer ts.Close()
			dir := b.TempDir()
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				dest := filepath.Join(dir, "m.tar")
				if _, err := Fetch(context.Background(), ts.URL+"/m.tar", dest, FetchOptions{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.Remove(dest)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkResolveCached is the cost of a Resolve that finds a valid
// conversion: hashing the Paddle sources and the cached ONNX.
func BenchmarkResolveCached(b *testing.B) {
	for _, sz := range benchSizes() {
		b.Run(sz.name, func(b *testing.B) {
			dir := b.TempDir()
			os.WriteFile(filepath.Join(dir, "inference.pdmodel"), payload(sz.n/16), 0o644)
			os.WriteFile(filepath.Join(dir, "inference.pdiparams"), payload(sz.n), 0o644)
			fc := &fakeConverter{}
			if _, err := Resolve(context.Background(), dir, ResolveOptions{Converter: fc.convert}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(sz.n + sz.n/16))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r, err := Resolve(context.Background(), dir, ResolveOptions{})
				if err != nil || r.Converted {
					b.Fatal(err)
				}
			}
		})
	}
}
