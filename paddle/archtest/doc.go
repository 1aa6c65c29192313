// Package archtest checks package paddle against package arch: the seeded
// PP-ShiTuV2 networks written as official-layout Paddle models (FromONNX,
// AppendPicoDetPost, WriteTar) convert back to ONNX (ToONNX) with the same
// outputs as arch's own ONNX. It holds only tests; it is a separate
// package so that paddle's own tests do not depend on arch building.
package archtest
