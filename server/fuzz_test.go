package server

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// The request decoders of the three protocols, fuzzed through the whole
// handler: no input may panic (the middleware would turn a panic into a
// 500, which is checked), answer 500, or cost more than a bounded amount of
// memory (the fixture allows 1 MiB bodies and 4 MP images, so one request
// may allocate tens of MiB at most, never by a number it names).

// fuzzAllocBound is the most one fuzzed request may allocate.
const fuzzAllocBound = 96 << 20

func fuzzHandler(f *testing.F, path, ctype string, seeds ...string) {
	fx := newFixture(f, Config{MaxBodyBytes: 1 << 20, MaxPixels: 4_000_000})
	fx.addColours(f, "red", "green")
	h := fx.srv.Handler()
	for _, s := range seeds {
		f.Add(s)
	}
	img := b64(pngBytes(f, solid(palette[0], 8, 8)))
	f.Fuzz(func(t *testing.T, body string) {
		body = strings.ReplaceAll(body, "IMG", img)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		runtime.ReadMemStats(&after)
		if rec.Code == http.StatusInternalServerError {
			t.Fatalf("500 for %q: %s", body, rec.Body.String())
		}
		if rec.Body.Len() == 0 || !strings.HasPrefix(rec.Body.String(), "{") {
			t.Fatalf("%d without a JSON body for %q", rec.Code, body)
		}
		if d := after.TotalAlloc - before.TotalAlloc; d > fuzzAllocBound {
			t.Fatalf("request allocated %d bytes (bound %d): %q", d, fuzzAllocBound, body)
		}
	})
}

func FuzzV1RecognizeJSON(f *testing.F) {
	fuzzHandler(f, "/v1/recognize", "application/json",
		`{"image":"IMG"}`, `{"image":"IMG","topk":2000000000}`, `{"image":"IMG","topk":-1}`,
		`{"image":"IMG","score_threshold":1e39}`, `{"image":"IMG","labels":["red"],"metadata":{"shelf":"a"}}`,
		`{"image":"IMG","whole_image":"never","visualize":true}`, `{"image":"data:image/png;base64,IMG"}`,
		`{"image":"http://127.0.0.1/x.png"}`, `{"image":"iVBORw0KGgo="}`, `{"image":[1,2]}`, `[[[[[[[[[[]]]]]]]]]]`, `{`)
}

func FuzzV1AddItemsJSON(f *testing.F) {
	fuzzHandler(f, "/v1/gallery/items", "application/json",
		`{"image":"IMG","label":"red"}`, `{"items":[{"image":"IMG","label":"x"},{"image":"IMG","label":"y"}]}`,
		`{"image":"IMG","label":"a\u0000b"}`, `{"image":"IMG","label":"ok","metadata":{"k":"v"}}`, `{"items":[]}`)
}

func FuzzPaddleXInfer(f *testing.F) {
	fuzzHandler(f, "/shitu-infer", "application/json",
		`{"image":"IMG"}`, `{"image":"IMG","topk":2000000000,"detThreshold":0.1}`, `{"image":"IMG","indexKey":"nope"}`,
		`{"image":"IMG","recThreshold":-7,"hammingRadius":3}`, `{"image":"IMG","visualize":false}`, `{}`)
}

func FuzzPaddleXIndex(f *testing.F) {
	fuzzHandler(f, "/shitu-index-build", "application/json",
		`{"imageLabelPairs":[{"image":"IMG","label":"red"}]}`, `{"imageLabelPairs":[]}`, `{"imageLabelPairs":null}`,
		`{"imageLabelPairs":[{"image":"IMG","label":"a\nb"}]}`, `{"imageLabelPairs":[{"image":"","label":""}]}`)
}

func FuzzPaddleXRemove(f *testing.F) {
	fuzzHandler(f, "/shitu-index-remove", "application/json",
		`{"ids":[0],"indexKey":"default"}`, `{"ids":[]}`, `{"indexKey":"default"}`, `{"ids":[9223372036854775807],"indexKey":"default"}`, `{"ids":[1.5]}`)
}

func FuzzServing(f *testing.F) {
	fuzzHandler(f, "/recognition/prediction", "application/json",
		`{"key":["image"],"value":["IMG"]}`, `{"key":["image","x"],"value":["IMG"]}`, `{"key":[],"value":[]}`,
		`{"key":["image"],"value":["!!!"]}`, `{"key":"image"}`)
}
