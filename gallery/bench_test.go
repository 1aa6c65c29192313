package gallery

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shitu-go/shitu/arch"
	"github.com/shitu-go/shitu/feature"
	"github.com/shitu-go/shitu/infer"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/vecindex"
)

// BenchmarkBuildRec measures a full gallery build from a list of 128
// synthesized 640×480 product JPEGs with the synthesized PP-ShiTuV2
// recognition model through ONNX Runtime: hashing, decoding,
// preprocessing, batched inference (batch 32), commits and indexing.
// Reports images/s and the share of build time the model was busy.
// SHITU_BENCH_THREADS sets ORT intra-op threads (default 1).
func BenchmarkBuildRec(b *testing.B) {
	threads := 1
	if s := os.Getenv("SHITU_BENCH_THREADS"); s != "" {
		threads, _ = strconv.Atoi(s)
	}
	be, err := ort.New(ort.Config{LibPath: testutil.ORTLib(b)})
	if errors.Is(err, infer.ErrUnavailable) {
		b.Skip(err)
	}
	if err != nil {
		b.Fatal(err)
	}
	m, err := arch.BuildRec(7, arch.RecOptions{})
	if err != nil {
		b.Fatal(err)
	}
	mb, _ := onnx.Marshal(m)
	sess, err := be.Open(mb, infer.Options{IntraOpThreads: threads})
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	root := b.TempDir()
	var lines []string
	for i, p := range synthdata.Products(32, 5) {
		for v := range 4 {
			data, err := synthdata.EncodeJPEG(p.Render(640, 480, v), 90)
			if err != nil {
				b.Fatal(err)
			}
			name := fmt.Sprintf("%02d_%d.jpg", i, v)
			if err := synthdata.WriteFile(filepath.Join(root, name), data); err != nil {
				b.Fatal(err)
			}
			lines = append(lines, name+"\t"+p.Label)
		}
	}
	list := filepath.Join(root, "list.txt")
	os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	ex, err := feature.New(sess, feature.Config{BatchSize: 32})
	if err != nil {
		b.Fatal(err)
	}
	var wall time.Duration
	var busy0 = ex.Stats().Busy
	images := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		g, err := Create(filepath.Join(b.TempDir(), strconv.Itoa(i)), Options{Model: "synth-rec", Method: MethodHNSW})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		s, err := g.Build(context.Background(), BuildOptions{List: list, ImageRoot: root, Extractor: ex})
		wall += time.Since(t0)
		if err != nil || s.Added != len(lines) {
			b.Fatalf("%v %v", s, err)
		}
		images += s.Added
		b.StopTimer()
		g.Close()
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(images)/wall.Seconds(), "img/s")
	b.ReportMetric(100*float64(ex.Stats().Busy-busy0)/float64(wall), "busy%")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkOpenFlat measures opening a Flat gallery of SHITU_BENCH_N
// (default 100000) 512-d items from its snapshot, and reports the heap in
// use after the open relative to the raw vector bytes.
func BenchmarkOpenFlat(b *testing.B) {
	n := 100000
	if s := os.Getenv("SHITU_BENCH_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	dir := filepath.Join(b.TempDir(), "g")
	g, err := Create(dir, Options{Model: "m", Dims: 512, Method: MethodFlat})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 1))
	const chunk = 10000
	for done := 0; done < n; done += chunk {
		items := make([]Item, min(chunk, n-done))
		for i := range items {
			items[i] = Item{Label: "label" + strconv.Itoa((done+i)%5000), Source: fmt.Sprintf("img/%07d.jpg", done+i), Vector: unitVec(r, 512)}
		}
		if _, err := g.Add(items...); err != nil {
			b.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		b.Fatal(err)
	}
	raw := float64(n) * 512 * 4
	b.ResetTimer()
	for range b.N {
		heap0 := heapInUse()
		t0 := time.Now()
		g, err := Open(dir, Options{Model: "m"})
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(t0)
		heap := heapInUse() - heap0
		b.ReportMetric(el.Seconds(), "open-s")
		b.ReportMetric(float64(heap)/raw, "heap/raw")
		if g.Len() != n || g.Metric() != vecindex.IP {
			b.Fatal("bad gallery")
		}
		g.Close()
	}
}
