// Package train fine-tunes the embedding layers of a PP-ShiTuV2
// recognition model on a labelled image list, on the CPU, with
// PaddleClas' recipe (GeneralRecognitionV2_PPLCNetV2_base.yaml): CE with
// label smoothing plus TripletAngularMarginLoss on the BNNeck output, PK
// sampling, Momentum with a cosine learning rate after a linear warmup,
// L2 decay, and the yaml's augmentations (resize, flip, pad, random crop,
// random rotation) with shitu's OpenCV-exact imaging.
//
// What is trained: the layers after global pooling — the 1×1 conv to the
// embedding (class_expand), the BNNeck's scale and running statistics (its
// bias stays frozen, as the yaml freezes it) — and a classification FC that
// the export drops. The backbone is frozen: its pooled output is computed
// once per augmented view of every image with ONNX Runtime (the graph cut
// at the pooling output) and cached, so an epoch costs only the head.
// Full training of the backbone and of the detector stays with
// PaddleClas/PaddleDetection on GPUs.
//
// The result is a model folder in the official layout (inference.pdmodel /
// .pdiparams through package paddle's writer, plus inference.onnx), a
// train manifest (base model, data list, config, seed) and a report (loss
// curve, held-out recall@1 and mAP before and after) as text, JSON and PNG.
package train
