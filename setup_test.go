package shitu_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/infer/ort"
	"github.com/shitu-go/shitu/internal/synthdata"
	"github.com/shitu-go/shitu/internal/testutil"
	"github.com/shitu-go/shitu/models"
)

// What the examples and tests share, made once by TestMain: synthesized
// PP-ShiTuV2 networks (seeded weights), 6 rendered products × 2 views with
// their PaddleClas list file, a config naming them, the gallery built from
// it, and a query image (another rendering of product_01).
var (
	ortLib        string // libonnxruntime.so.1
	exampleConfig string // the PaddleClas config
	exampleList   string // its IndexProcess.data_file
	exampleQuery  string // a query image of product_01
	exampleDir    string // a scratch folder
)

const testConfig = `# PP-ShiTuV2 on synthesized networks (inference_general.yaml layout)
Global:
  det_inference_model_dir: %q
  rec_inference_model_dir: %q
  threshold: 0.2
  max_det_results: 5
  rec_nms_thresold: 0.05
DetPreProcess:
  transform_ops:
    - DetResize: {interp: 2, keep_ratio: false, target_size: [640, 640]}
    - DetNormalizeImage: {is_scale: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
    - DetPermute: {}
RecPreProcess:
  transform_ops:
    - ResizeImage: {size: [224, 224], interpolation: bilinear}
    - NormalizeImage: {scale: 0.00392157, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], order: hwc}
    - ToCHWImage:
RecPostProcess: null
IndexProcess:
  index_method: HNSW32
  image_root: %q
  index_dir: %q
  data_file: %q
  index_operation: new
  delimiter: "\t"
  dist_type: IP
  embedding_size: 512
  return_k: 5
  score_thres: 0.9
`

func TestMain(m *testing.M) {
	ortLib = testutil.ORTLibPath()
	if _, err := ort.New(ort.Config{LibPath: ortLib}); err != nil {
		fmt.Printf("shitu: skipping the examples and tests of package shitu: ONNX Runtime unavailable: %v\n", err)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "shitu-test-")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if err := writeTestData(dir); err != nil {
		fmt.Println("shitu: test data:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func writeTestData(dir string) error {
	exampleDir = filepath.Join(dir, "scratch")
	inst, err := models.Synth(filepath.Join(dir, "models"), 1)
	if err != nil {
		return err
	}
	det, rec := inst[0].Dir, inst[1].Dir // Synth installs the detector, then the extractor
	root := filepath.Join(dir, "images")
	var lines []string
	products := synthdata.Products(6, 2026)
	for _, p := range products {
		for v := 0; v < 2; v++ {
			rel := fmt.Sprintf("%s/%d.jpg", p.Label, v)
			b, err := synthdata.EncodeJPEG(p.Render(240, 320, v), 92)
			if err != nil {
				return err
			}
			if err := synthdata.WriteFile(filepath.Join(root, rel), b); err != nil {
				return err
			}
			lines = append(lines, rel+"\t"+p.Label)
		}
	}
	exampleList = filepath.Join(root, "label.txt")
	if err := os.WriteFile(exampleList, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	q, err := synthdata.EncodeJPEG(synthdata.Perturb(products[1].Render(240, 320, 0), 2, 1, 8), 90)
	if err != nil {
		return err
	}
	exampleQuery = filepath.Join(dir, "query", "product_01.jpg")
	if err := synthdata.WriteFile(exampleQuery, q); err != nil {
		return err
	}
	exampleConfig = filepath.Join(dir, "inference.yaml")
	body := fmt.Sprintf(testConfig, det, rec, root, filepath.Join(dir, "index"), exampleList)
	if err := os.WriteFile(exampleConfig, []byte(body), 0o644); err != nil {
		return err
	}
	sys, err := shitu.OpenFile(context.Background(), exampleConfig, nil,
		shitu.Options{ORTLib: ortLib, NoDetector: true, NoGallery: true, CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		return err
	}
	defer sys.Close()
	_, err = sys.Build(context.Background(), shitu.BuildOptions{})
	return err
}
