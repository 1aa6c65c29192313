// Package detect is the PP-ShiTuV2 mainbody detector: PaddleClas'
// DetPreProcess (resize, normalise, CHW), the model run through an
// infer.Session, and the post-processing of either output form the
// detector can be exported with:
//
//   - raw head outputs (8 tensors: per level scores and 32-bin
//     distributions): decoded here (DecodeRaw) and reduced with a port of
//     Paddle's multiclass_nms3 (MultiClassNMS);
//   - in-graph NMS outputs: an [N,6] float32 tensor of rows
//     (class, score, x1, y1, x2, y2) plus a per-image count (ParseNMSOutput).
//
// Either way the detections then go through PaddleClas' selection
// (SelectTop: sort by score, keep max_det_results, drop score < threshold).
// RecNMS is the recognition-level NMS of predict_system.py.
//
// The post-processing files import only tensor; references are to
// ../shared/spec/ppshitu-pipeline.md and models-and-formats.md.
package detect
