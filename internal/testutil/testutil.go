// Package testutil finds the files tests share: the repository root, the
// ../shared folder beside it, and the ONNX Runtime library.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// RepoRoot is the folder holding go.mod.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// SharedDir returns ../shared beside the repository, or skips the test
// with a message when it is absent.
func SharedDir(t testing.TB) string {
	t.Helper()
	d := filepath.Join(RepoRoot(), "..", "shared")
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		t.Skipf("../shared is absent (%s): this test needs the shared test data", d)
	}
	return d
}

// ORTLib returns the ONNX Runtime library path (SHITU_ORT_LIB, else the
// location `make setup` fills), or skips the test with a message.
func ORTLib(t testing.TB) string {
	t.Helper()
	p := ORTLibPath()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("ONNX Runtime library not found at %s: run `make setup` or set SHITU_ORT_LIB", p)
	}
	return p
}

// ORTLibPath is SHITU_ORT_LIB or the repository's .deps location.
func ORTLibPath() string {
	if p := os.Getenv("SHITU_ORT_LIB"); p != "" {
		return p
	}
	return filepath.Join(RepoRoot(), ".deps", "onnxruntime", "libonnxruntime.so.1")
}
