package feature

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/shitu-go/shitu/imaging"
	"github.com/shitu-go/shitu/internal/testutil"
)

// TestPreprocessMatchesPaddleClas compares Preprocess with PaddleClas'
// RecPreProcess computed by cv2 + numpy (testdata/gen_preprocess.py):
// the float32 tensors must be identical bit for bit.
func TestPreprocessMatchesPaddleClas(t *testing.T) {
	dir := filepath.Join(testutil.SharedDir(t), "testdata", "images", "paddleclas-demo")
	b, err := os.ReadFile(filepath.Join("testdata", "preprocess.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Image string
		Op    struct {
			Size        []int
			ResizeShort int `json:"resize_short"`
			Scale       float32
		}
		Shape   []int
		SHA256  string
		Samples []float32
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Image, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(dir, c.Image))
			if err != nil {
				t.Fatal(err)
			}
			if imaging.Sniff(b) == imaging.JPEG && imaging.JPEGBackend != "libjpeg-turbo" {
				t.Skipf("JPEG decoded by %s, not libjpeg-turbo: pixels differ from cv2.imread", imaging.JPEGBackend)
			}
			img, err := imaging.Decode(b, imaging.DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{ResizeShort: c.Op.ResizeShort, Scale: c.Op.Scale}
			if len(c.Op.Size) == 2 {
				cfg.Width, cfg.Height = c.Op.Size[0], c.Op.Size[1]
			}
			w, h := cfg.TargetSize(img.W, img.H)
			if w != c.Shape[2] || h != c.Shape[1] {
				t.Fatalf("target %dx%d, want %dx%d", w, h, c.Shape[2], c.Shape[1])
			}
			buf := make([]float32, 3*w*h)
			if err := cfg.Preprocess(img, buf); err != nil {
				t.Fatal(err)
			}
			for k, i := range []int{0, 1, 777, len(buf) / 2, len(buf) - 1} {
				if buf[i] != c.Samples[k] {
					t.Errorf("value %d: %v, want %v", i, buf[i], c.Samples[k])
				}
			}
			raw := make([]byte, 0, 4*len(buf))
			for _, v := range buf {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
			}
			sum := sha256.Sum256(raw)
			if got := hex.EncodeToString(sum[:]); got != c.SHA256 {
				t.Fatalf("tensor sha256 %s, want %s", got, c.SHA256)
			}
		})
	}
}
