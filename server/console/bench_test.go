package console

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/shitu-go/shitu/server"
)

// BenchmarkAPIRecognize measures POST /v1/recognize with and without the
// console mounted, on the test system (no models: what is measured is the
// service and the console's share of it). Every image has one unsure box,
// the console's most expensive case.
func BenchmarkAPIRecognize(b *testing.B) {
	for _, mount := range []bool{false, true} {
		name := "console=off"
		if mount {
			name = "console=on"
		}
		b.Run(name, func(b *testing.B) {
			f := newFixtureMount(b, server.Config{Queue: 64}, 0, mount)
			img := pngBytes(b, shelf(red, mauve, green))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := http.Post(f.ts.URL+"/v1/recognize", "image/png", bytes.NewReader(img))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
