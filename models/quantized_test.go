package models

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteQuantized(t *testing.T) {
	root := t.TempDir()
	seed := int64(3)
	src := &Manifest{Name: "rec", Role: RoleExtractor, Form: "plain", Synthetic: true, Note: SynthNote, Seed: &seed,
		Preprocess: &Preprocess{Width: 224, Height: 224}, Description: "extractor"}
	dest := filepath.Join(root, "rec"+QuantizedSuffix)
	model := tinyONNX("x", "features")
	inst, err := WriteQuantized(src, filepath.Join(root, "rec"), dest, model, "int8 QDQ (test)")
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(dest); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(dest)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "rec_int8" || m.Role != RoleExtractor || m.Kind != KindONNX || m.Model != QuantizedFile || m.Form != "plain" ||
		!m.Synthetic || !strings.Contains(m.Note, "int8 QDQ (test)") || !strings.Contains(m.Note, "synthetic") ||
		m.Preprocess == nil || m.Preprocess.Width != 224 || len(m.Inputs) != 1 || m.Inputs[0].Name != "x" || len(m.Files) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	if inst.Dir != dest {
		t.Errorf("installed at %s", inst.Dir)
	}
	// The folder resolves like any ONNX model folder.
	l, err := DetectLayout(dest)
	if err != nil || l.Kind != KindONNX || filepath.Base(l.Model) != QuantizedFile {
		t.Fatalf("layout %+v %v", l, err)
	}
	// Replacing works; a bad model does not install.
	if _, err := WriteQuantized(src, "", dest, model, "again"); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteQuantized(src, "", filepath.Join(root, "bad"), []byte("not onnx"), ""); err == nil {
		t.Error("garbage installed")
	}
	if _, err := WriteQuantized(nil, "", filepath.Join(root, "none"), model, ""); err == nil {
		t.Error("nil manifest accepted")
	}
}
