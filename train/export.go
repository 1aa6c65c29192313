package train

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/shitu-go/shitu/models"
	"github.com/shitu-go/shitu/onnx"
	"github.com/shitu-go/shitu/paddle"
)

// File names in the output folder.
const (
	ONNXFile     = "inference.onnx"
	ManifestFile = "shitu-train.json"
	ReportText   = "train_report.txt"
	ReportJSON   = "train_report.json"
	LossPNG      = "train_loss.png"
	RecallPNG    = "train_recall.png"
)

// Manifest records where a fine-tuned model came from.
type Manifest struct {
	Format  string    `json:"format"` // "shitu-train-manifest"
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	// BaseModel is the folder (or file) of the starting model and the
	// sha256 of its ONNX form.
	BaseModel       string `json:"base_model"`
	BaseModelSHA256 string `json:"base_model_sha256"`
	// DataList is the training list and its sha256; Config the training
	// config and the sha256 of its text (before -o overrides).
	DataList       string `json:"data_list"`
	DataListSHA256 string `json:"data_list_sha256"`
	Config         string `json:"config"`
	ConfigSHA256   string `json:"config_sha256,omitempty"`
	Seed           uint64 `json:"seed"`
	Epochs         int    `json:"epochs"`
	Views          int    `json:"augment_views"`
	Classes        int    `json:"classes"`
	// Trained and Frozen say which layers changed.
	Trained []string `json:"trained"`
	Frozen  []string `json:"frozen"`
	// Files are the model files written, with their sha256.
	Files map[string]string `json:"files"`
	// PaddleNote says why the Paddle files are missing, when they are.
	PaddleNote string `json:"paddle_note,omitempty"`
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// exportModels returns the ONNX bytes of the trained model and, when it
// can be made, the Paddle model.
func exportModels(o Options, base *onnx.ModelProto, t *tail, h *Head) ([]byte, *paddle.Model, string, error) {
	f32 := func(s []float64) []float32 {
		out := make([]float32, len(s))
		for i, v := range s {
			out[i] = float32(v)
		}
		return out
	}
	vals := map[string][]float32{t.Weight: f32(h.W), t.Bias: f32(h.B), t.BNScale: f32(h.Gamma),
		t.BNBias: f32(h.Beta), t.BNMean: f32(h.Mean), t.BNVar: f32(h.Var)}
	m := proto.Clone(base).(*onnx.ModelProto)
	if err := setInitializers(m, vals); err != nil {
		return nil, nil, "", err
	}
	m.GetGraph().DocString = proto.String("fine-tuned by shitu train (class_expand and BNNeck) from: " + m.GetGraph().GetDocString())
	b, err := onnx.Marshal(m)
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: %v", ErrModel, err)
	}
	// Paddle: edit the base's own parameters when it is a Paddle folder
	// (the converter keeps Paddle's variable names), else write the ONNX
	// graph as a Paddle program.
	if o.BaseDir != "" {
		if l, err := models.DetectLayout(o.BaseDir); err == nil && (l.Kind == models.KindPaddle || l.Kind == models.KindPaddleUncombined) {
			pm, err := paddle.Load(l.Model)
			if err != nil {
				return b, nil, fmt.Sprintf("the base Paddle model could not be read: %v", err), nil
			}
			for name, v := range vals {
				old, ok := pm.Params[name]
				if !ok {
					return b, nil, fmt.Sprintf("the base Paddle model has no parameter %q", name), nil
				}
				pm.Params[name] = paddle.NewFloat32(old.Dims, v)
			}
			return b, pm, "", nil
		}
	}
	pm, err := paddle.FromONNX(m)
	if err != nil {
		return b, nil, fmt.Sprintf("the ONNX graph could not be written as a Paddle program: %v", err), nil
	}
	return b, pm, "", nil
}

// export writes the folder through a temporary sibling and renames it into
// place at the end, so an interrupted run leaves no half-written model.
func export(ctx context.Context, o Options, base *onnx.ModelProto, t *tail, h *Head, rep *Report, out string) (err error) {
	onnxBytes, pm, note, err := exportModels(o, base, t, h)
	if err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(out))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(out))+".tmp-")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	files := map[string]string{}
	write := func(name string, b []byte) error {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return fmt.Errorf("train: %w", err)
		}
		files[name] = sum(b)
		return nil
	}
	if err := write(ONNXFile, onnxBytes); err != nil {
		return err
	}
	if pm != nil {
		if err := paddle.Write(tmp, pm); err != nil {
			return err
		}
		for _, n := range []string{"inference.pdmodel", "inference.pdiparams"} {
			b, err := os.ReadFile(filepath.Join(tmp, n))
			if err != nil {
				return fmt.Errorf("train: %w", err)
			}
			files[n] = sum(b)
		}
	}
	if note != "" {
		rep.Warnings = append(rep.Warnings, "no Paddle files: "+note)
	}
	dataSum := ""
	if b, err := os.ReadFile(o.Recipe.TrainList); err == nil {
		dataSum = sum(b)
	}
	man := Manifest{Format: "shitu-train-manifest", Version: 1, Created: o.Now().UTC().Truncate(time.Second),
		BaseModel: o.BaseDir, BaseModelSHA256: sum(o.BaseModel), DataList: o.Recipe.TrainList, DataListSHA256: dataSum,
		Config: o.ConfigPath, Seed: o.Recipe.Seed, Epochs: o.Recipe.Epochs, Views: o.Recipe.Views, Classes: rep.Classes,
		Trained: rep.Trained, Frozen: rep.Frozen, Files: files, PaddleNote: note}
	if o.ConfigText != nil {
		man.ConfigSHA256 = sum(o.ConfigText)
	}
	mb, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ManifestFile), append(mb, '\n'), 0o644); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if err := rep.writeFiles(tmp); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrCanceled, err)
	}
	// Swap: the old folder (if any) moves aside, the new one takes its
	// name, the old one is removed.
	var old string
	if _, err := os.Stat(out); err == nil {
		old = tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return fmt.Errorf("train: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}
