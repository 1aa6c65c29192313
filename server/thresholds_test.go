package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/api"
)

func putJSON(t *testing.T, url, body string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestThresholdsAPI: PUT /v1/gallery/thresholds stores thresholds that
// the next recognition applies; GET reads them back; out-of-range values,
// bad labels and a missing key are refused before anything is stored.
func TestThresholdsAPI(t *testing.T) {
	f := newFixture(t, Config{APIKey: "k"})
	f.c.APIKey = "k"
	f.addColours(t, "red", "green")
	u := f.ts.URL + "/v1/gallery/thresholds"
	auth := []string{"X-API-Key", "k"}
	ctx := context.Background()
	img := pngBytes(t, solid(palette[0], 32, 24))
	res, err := f.c.Recognize(ctx, img, api.RecognizeOptions{})
	if err != nil || len(res.Objects) == 0 || res.Objects[0].Label == nil || *res.Objects[0].Label != "red" {
		t.Fatalf("before: %+v %v", res, err)
	}
	if code, body := doReq(t, http.MethodGet, u, auth...); code != 200 || !strings.Contains(body, `"set":false`) {
		t.Fatalf("GET before any: %d %s", code, body)
	}
	for _, bad := range []string{`{"global": 1.5}`, `{"global": 0.5, "per_label": {"red": -3}}`,
		`{"global": 0.5, "per_label": {"a\u0000b": 0.5}}`, `{"global": `} {
		if code, body := putJSON(t, u, bad, auth...); code != 400 {
			t.Fatalf("PUT %s: %d %s, want 400", bad, code, body)
		}
	}
	if code, body := putJSON(t, u, `{"global": 0.2}`); code != 401 {
		t.Fatalf("PUT without the key: %d %s, want 401", code, body)
	}
	if code, body := doReq(t, http.MethodGet, u, auth...); !strings.Contains(body, `"set":false`) {
		t.Fatalf("a refused PUT stored something: %d %s", code, body)
	}
	// The next recognition decides "red" by its own threshold.
	code, body := putJSON(t, u, `{"global": 0.2, "per_label": {"red": 0.75}}`, auth...)
	if code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	code, body = doReq(t, http.MethodGet, u, auth...)
	var got api.Thresholds
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 || !got.Set || got.Global != 0.2 || got.PerLabel["red"] != 0.75 {
		t.Fatalf("GET: %d %s", code, body)
	}
	res, err = f.c.Recognize(ctx, img, api.RecognizeOptions{})
	if err != nil || len(res.Objects) == 0 || res.Objects[0].Threshold != 0.75 {
		t.Fatalf("after a per-label threshold of 0.75 for red: %+v %v, want it applied", res, err)
	}
}
