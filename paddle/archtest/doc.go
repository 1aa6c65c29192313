// Package archtest checks package paddle against packages arch and detect:
// multiclass_nms3 converted into the graph against detect's port of the
// kernel, and the seeded PP-ShiTuV2 networks written as official-layout
// Paddle models (FromONNX, AppendPicoDetPost, WriteTar) converted back to
// ONNX (ToONNX) against arch's own ONNX. It holds only tests; it is a
// separate package so that paddle's own tests do not depend on arch or
// detect building.
package archtest
