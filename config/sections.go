package config

// Global is the Global section (ppshitu-pipeline.md §2.3). Missing keys
// take the default named on each field.
type Global struct {
	// InferImgs is the file or folder to recognise (default "").
	InferImgs string
	// DetInferenceModelDir is the detector model folder; "" or null disables
	// the detector (default "").
	DetInferenceModelDir string
	// RecInferenceModelDir is the recogniser model folder (default "").
	RecInferenceModelDir string
	// RecNMSThreshold is rec_nms_thresold (sic), the IoU threshold of the
	// recognition-level NMS (default 0.05).
	RecNMSThreshold float64
	// BatchSize is batch_size, a positive integer (default 1).
	BatchSize int
	// ImageShape is image_shape, never fed to a model (default [3, 640, 640]).
	ImageShape []int
	// Threshold is the detection score threshold, kept if ≥ (default 0.2).
	Threshold float64
	// MaxDetResults is max_det_results, ≥ 0 (default 5).
	MaxDetResults int
	// LabelList maps detector class ids to names (default ["foreground"]).
	LabelList []string
	// UseGPU is use_gpu (default false; shitu runs on the CPU).
	UseGPU bool
	// EnableMKLDNN is enable_mkldnn (default false; not used by shitu).
	EnableMKLDNN bool
	// CPUNumThreads is cpu_num_threads (default 0: the runtime's choice).
	CPUNumThreads int
	// EnableBenchmark is enable_benchmark (default false; dead in PaddleClas).
	EnableBenchmark bool
	// UseFP16 is use_fp16 (default false).
	UseFP16 bool
	// IROptim is ir_optim (default true).
	IROptim bool
	// UseTensorRT is use_tensorrt (default false).
	UseTensorRT bool
	// GPUMem is gpu_mem in MB (default 8000).
	GPUMem int
	// EnableProfile is enable_profile (default false).
	EnableProfile bool
	// OutputDir is output_dir, where visualisations go (default
	// "./output/"; no shipped YAML has it although develop's
	// predict_system requires it).
	OutputDir string
}

// Op is one entry of a transform_ops list: a single-key mapping from the
// operator name to its parameters (null or a mapping).
type Op struct {
	// Name is the operator ("DetResize", "ResizeImage", ...).
	Name string
	// Params are the raw parameters (nil when the YAML value is null).
	Params *Value
	// Line is the op's line in the file (0 if set by -o).
	Line int
	// Typed is the decoded operator: *DetResize, *DetNormalizeImage,
	// *DetPermute, *DetPadStride, *ResizeImage, *CropImage,
	// *NormalizeImage or *ToCHWImage.
	Typed any
}

// DetPreProcess is the detector's preprocessing (§4.1).
type DetPreProcess struct {
	// Ops are the transform_ops in order (default: none; the detector
	// package then uses PaddleClas' shipped pipeline).
	Ops []Op
}

// DetResize is the DetResize operator.
type DetResize struct {
	// TargetSize is target_size as [h, w] (required; an int means square).
	TargetSize [2]int
	// KeepRatio is keep_ratio (default false).
	KeepRatio bool
	// Interp is interp, a raw OpenCV code: 0 nearest, 1 linear, 2 cubic,
	// 3 area, 4 lanczos4 (default 1, linear).
	Interp int
}

// DetNormalizeImage is the DetNormalizeImage operator.
type DetNormalizeImage struct {
	// Mean and Std are per RGB channel (required).
	Mean, Std [3]float64
	// IsScale divides by 255 first (default true).
	IsScale bool
}

// DetPermute is the DetPermute operator (HWC → CHW; no parameters).
type DetPermute struct{}

// DetPadStride is the DetPadStride operator.
type DetPadStride struct {
	// Stride pads bottom/right to a multiple; ≤ 0 is a no-op (default 0).
	Stride int
}

// RecPreProcess is the recogniser's preprocessing (§6.1).
type RecPreProcess struct {
	// Ops are the transform_ops in order (default: none).
	Ops []Op
}

// ResizeImage is the ResizeImage operator: exactly one of Size and
// ResizeShort is set.
type ResizeImage struct {
	// Size is size as [w, h] (an int n means [n, n]).
	Size [2]int
	// ResizeShort is resize_short: the short side's target length.
	ResizeShort int
	// Interpolation is the name ("bilinear", "bicubic", ...); "" means
	// OpenCV's default, linear.
	Interpolation string
	// Backend is backend (default "cv2").
	Backend string
}

// CropImage is the CropImage operator (centre crop).
type CropImage struct {
	// Size is size as [w, h] (an int n means [n, n]).
	Size [2]int
}

// NormalizeImage is the NormalizeImage operator.
type NormalizeImage struct {
	// Scale multiplies pixel values; a string such as "1.0/255.0" is
	// evaluated as PaddleClas does (default 1/255).
	Scale float64
	// Mean and Std are per channel (default ImageNet's).
	Mean, Std [3]float64
	// Order is order: "chw" changes broadcasting, anything else ("hwc",
	// "") means HWC (default "chw", as PaddleClas' constructor).
	Order string
}

// ToCHWImage is the ToCHWImage operator (HWC → CHW; no parameters).
type ToCHWImage struct{}

// RecPostProcess is the recogniser's post-processing (§6.4). The zero
// value (RecPostProcess: null) means none.
type RecPostProcess struct {
	// MainIndicator is main_indicator ("Binarize" or "").
	MainIndicator string
	// BinarizeMethod is Binarize.method ("sign" or "round"; default "round"
	// when a Binarize block has no method).
	BinarizeMethod string
}

// IndexProcess is the gallery/index section (§2.3, §7, §11).
type IndexProcess struct {
	// IndexMethod is index_method: "HNSW32", "IVF", "Flat" (default "HNSW32").
	IndexMethod string
	// ImageRoot is image_root, prefixed to data_file paths (default "").
	ImageRoot string
	// IndexDir is index_dir, holding vector.index + id_map.pkl (default "").
	IndexDir string
	// DataFile is data_file, the gallery list (default "").
	DataFile string
	// IndexOperation is index_operation, lower-cased: new, append, remove
	// (default "new").
	IndexOperation string
	// Delimiter is the data_file column separator (default "\t").
	Delimiter string
	// DistType is dist_type: "IP", "hamming", anything else means L2
	// (default "IP").
	DistType string
	// EmbeddingSize is embedding_size (default 512).
	EmbeddingSize int
	// BatchSize is batch_size for gallery feature extraction (default 32).
	BatchSize int
	// ReturnK is return_k, the number of neighbours searched (default 5).
	ReturnK int
	// ScoreThres is score_thres, the minimum score to accept (≥) for
	// non-hamming indexes (default 0.5).
	ScoreThres float64
	// HammingRadius is hamming_radius, the maximum distance to accept (≤)
	// for hamming indexes (default 0).
	HammingRadius int
	// HasScoreThres and HasHammingRadius report whether the keys are present.
	HasScoreThres, HasHammingRadius bool
}
