//go:build cgo

package arch

// cgoBuild: the ONNX Runtime backend is compiled in.
const cgoBuild = true
