package models

import (
	"fmt"
	"sort"
)

// Role says what a model (or data set) is for.
type Role string

// Roles of catalogue entries.
const (
	RoleDetector  Role = "det"        // mainbody detector
	RoleExtractor Role = "rec"        // float feature extractor
	RoleBinary    Role = "rec-binary" // feature extractor whose features are binarised
	RoleDataset   Role = "dataset"    // demo gallery and queries, nothing to convert
)

// Tensor describes one model input or output. Dynamic dimensions are -1.
type Tensor struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
}

// Preprocess is the preprocessing a model expects, as PaddleClas applies it
// (ppshitu-pipeline.md §4.1 for the detector, §6.1 for extractors).
type Preprocess struct {
	// Width and Height of the resized network input.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Interp is the OpenCV interpolation: "cubic" (detector) or "linear".
	Interp string `json:"interp"`
	// KeepRatio is false for both PP-ShiTuV2 networks.
	KeepRatio bool `json:"keep_ratio"`
	// Scale multiplies the uint8 pixel first (1/255).
	Scale float64 `json:"scale"`
	// Mean and Std are per channel, in Channels order.
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
	// Channels is the channel order fed to the network ("RGB").
	Channels string `json:"channels"`
	// Layout is the tensor layout ("NCHW").
	Layout string `json:"layout"`
	// PadStride pads the bottom and right up to a multiple (0: none).
	PadStride int `json:"pad_stride,omitempty"`
}

// Entry is one catalogue item: an official tarball.
type Entry struct {
	// Name is the folder name inside the tarball and the installed folder.
	Name string `json:"name"`
	// Role is what the model does.
	Role Role `json:"role"`
	// Description is one line for `shitu models list`.
	Description string `json:"description"`
	// URL is the official download; empty when no official URL is recorded
	// (the entry can then only come from a mirror).
	URL string `json:"url,omitempty"`
	// File is the tarball's file name, looked up in a mirror.
	File string `json:"file"`
	// Size is the tarball size in bytes when known (0: unknown).
	Size int64 `json:"size,omitempty"`
	// SHA256 is the pinned tarball digest when known (empty: recorded on
	// first download, never invented).
	SHA256 string `json:"sha256,omitempty"`
	// Inputs and Outputs are the tensors of the released Paddle model
	// (models-and-formats.md §0); the manifest records those of the
	// converted ONNX, which for the detector are the raw head outputs.
	Inputs  []Tensor `json:"inputs,omitempty"`
	Outputs []Tensor `json:"outputs,omitempty"`
	// Preprocess is nil for data sets.
	Preprocess *Preprocess `json:"preprocess,omitempty"`
}

const officialBase = "https://paddle-imagenet-models-name.bj.bcebos.com/dygraph/rec/"

var imagenetMean = []float64{0.485, 0.456, 0.406}
var imagenetStd = []float64{0.229, 0.224, 0.225}

func recPre() *Preprocess {
	return &Preprocess{Width: 224, Height: 224, Interp: "linear", Scale: 1.0 / 255,
		Mean: imagenetMean, Std: imagenetStd, Channels: "RGB", Layout: "NCHW"}
}

func detPre() *Preprocess {
	return &Preprocess{Width: 640, Height: 640, Interp: "cubic", Scale: 1.0 / 255,
		Mean: imagenetMean, Std: imagenetStd, Channels: "RGB", Layout: "NCHW"}
}

// catalogue: ppshitu-pipeline.md §1. Sizes and digests are not pinned: they
// could not be verified from this machine and are recorded in the manifest
// on first download instead.
var catalogue = []Entry{
	{
		Name: "picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer", Role: RoleDetector,
		Description: "PP-ShiTu mainbody detector (PicoDet-LCNet x2.5, 640, 1 class)",
		URL:         officialBase + "models/inference/picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer.tar",
		Inputs: []Tensor{
			{Name: "image", DType: "float32", Shape: []int64{-1, 3, 640, 640}},
			{Name: "im_shape", DType: "float32", Shape: []int64{-1, 2}},
			{Name: "scale_factor", DType: "float32", Shape: []int64{-1, 2}},
		},
		Outputs: []Tensor{
			{Name: "save_infer_model/scale_0.tmp_1", DType: "float32", Shape: []int64{-1, 6}},
			{Name: "save_infer_model/scale_1.tmp_1", DType: "int32", Shape: []int64{-1}},
		},
		Preprocess: detPre(),
	},
	{
		Name: "general_PPLCNetV2_base_pretrained_v1.0_infer", Role: RoleExtractor,
		Description: "PP-ShiTuV2 feature extractor (PPLCNetV2-base, 512-d)",
		URL:         officialBase + "models/inference/PP-ShiTuV2/general_PPLCNetV2_base_pretrained_v1.0_infer.tar",
		Inputs:      []Tensor{{Name: "x", DType: "float32", Shape: []int64{-1, 3, 224, 224}}},
		Outputs:     []Tensor{{Name: "batch_norm_25.tmp_2", DType: "float32", Shape: []int64{-1, 512}}},
		Preprocess:  recPre(),
	},
	{
		Name: "general_PPLCNet_x2_5_lite_v1.0_infer", Role: RoleExtractor,
		Description: "PP-ShiTu V1 feature extractor (PPLCNet x2.5, 512-d)",
		URL:         officialBase + "models/inference/general_PPLCNet_x2_5_lite_v1.0_infer.tar",
		Inputs:      []Tensor{{Name: "x", DType: "float32", Shape: []int64{-1, 3, 224, 224}}},
		Outputs:     []Tensor{{Name: "save_infer_model/scale_0.tmp_1", DType: "float32", Shape: []int64{-1, 512}}},
		Preprocess:  recPre(),
	},
	{
		// No official URL is recorded in the spec (ppshitu-pipeline.md §1:
		// "referenced by inference_general_binary.yaml"): mirror only.
		Name: "general_PPLCNet_x2_5_lite_binary_v1.0_infer", Role: RoleBinary,
		Description: "PP-ShiTu binary (hash) feature extractor (512 bits); mirror only",
		Inputs:      []Tensor{{Name: "x", DType: "float32", Shape: []int64{-1, 3, 224, 224}}},
		Preprocess:  recPre(),
	},
	{
		Name: "drink_dataset_v2.0", Role: RoleDataset,
		Description: "demo data: drink gallery, prebuilt index and query images (ppshitu-pipeline.md §18.3)",
		URL:         officialBase + "data/drink_dataset_v2.0.tar",
	},
}

func init() {
	for i := range catalogue {
		if catalogue[i].File == "" {
			catalogue[i].File = catalogue[i].Name + ".tar"
		}
	}
}

// Catalog returns a copy of the known official models and data sets,
// sorted by name.
func Catalog() []Entry {
	out := make([]Entry, len(catalogue))
	copy(out, catalogue)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup finds a catalogue entry by name. It also accepts the short
// aliases "det", "rec", "rec-v1", "rec-binary" and "drink".
func Lookup(name string) (Entry, error) {
	if full, ok := aliases[name]; ok {
		name = full
	}
	for _, e := range catalogue {
		if e.Name == name {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("%w: %q (known: %s)", ErrUnknownModel, name, knownNames())
}

var aliases = map[string]string{
	"det":        "picodet_PPLCNet_x2_5_mainbody_lite_v1.0_infer",
	"rec":        "general_PPLCNetV2_base_pretrained_v1.0_infer",
	"rec-v1":     "general_PPLCNet_x2_5_lite_v1.0_infer",
	"rec-binary": "general_PPLCNet_x2_5_lite_binary_v1.0_infer",
	"drink":      "drink_dataset_v2.0",
}

func knownNames() string {
	s := ""
	for i, e := range Catalog() {
		if i > 0 {
			s += ", "
		}
		s += e.Name
	}
	return s
}
