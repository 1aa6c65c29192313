package arch

import (
	"sync"
	"testing"

	"github.com/shitu-go/shitu/onnx"
)

// Default-option builds with seed 1, made once per test binary.
var (
	cacheOnce     sync.Once
	cacheRec      *Net
	cacheDet      *Net
	cacheRecBytes []byte
	cacheDetBytes []byte
	cacheErr      error
)

func buildCache() {
	if cacheRec, cacheErr = RecNet(1, RecOptions{}); cacheErr != nil {
		return
	}
	if cacheDet, cacheErr = DetNet(1, DetOptions{}); cacheErr != nil {
		return
	}
	if cacheRecBytes, cacheErr = cacheRec.Bytes(0); cacheErr != nil {
		return
	}
	cacheDetBytes, cacheErr = cacheDet.Bytes(0)
}

// CachedNets returns the default rec and det networks (seed 1).
func CachedNets(t testing.TB) (rec, det *Net) {
	t.Helper()
	cacheOnce.Do(buildCache)
	if cacheErr != nil {
		t.Fatal(cacheErr)
	}
	return cacheRec, cacheDet
}

// CachedModels returns the default rec and det networks as ONNX bytes.
func CachedModels(t testing.TB) (rec, det []byte) {
	t.Helper()
	CachedNets(t)
	return cacheRecBytes, cacheDetBytes
}

// cachedModel decodes a cached model for analysis.
func cachedModel(t testing.TB, det bool) *onnx.ModelProto {
	t.Helper()
	r, d := CachedModels(t)
	b := r
	if det {
		b = d
	}
	m, err := onnx.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// CgoBuild reports whether the ONNX Runtime backend is compiled in.
const CgoBuild = cgoBuild
