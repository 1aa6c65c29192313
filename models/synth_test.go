package models

import (
	"context"
	"os"
	"testing"
)

func TestSynth(t *testing.T) {
	dir := t.TempDir()
	got, err := Synth(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d models", len(got))
	}
	for _, inst := range got {
		m := inst.Manifest
		if !m.Synthetic || m.Note != SynthNote || m.Seed == nil || *m.Seed != 3 || m.Kind != KindONNX {
			t.Errorf("%s: manifest %+v", m.Name, m)
		}
		if len(m.Files) != 1 || m.Files[0].Path != SynthFile || m.Preprocess == nil || len(m.Inputs) == 0 || len(m.Outputs) == 0 {
			t.Errorf("%s: files %+v, preprocess %+v, io %+v %+v", m.Name, m.Files, m.Preprocess, m.Inputs, m.Outputs)
		}
		r, err := Resolve(context.Background(), inst.Dir, ResolveOptions{})
		if err != nil || r.Converted || r.Manifest.Name != m.Name {
			t.Fatalf("resolve %s: %+v %v", inst.Dir, r, err)
		}
	}
	rec := got[1].Manifest
	if rec.Name != recName || rec.Inputs[0].Name != "x" || rec.Outputs[0].Shape[1] != 512 || rec.Form != "plain" {
		t.Errorf("rec manifest %+v", rec)
	}
	if det := got[0].Manifest; det.Name != detName || det.Form != "raw-head" || det.Preprocess.Width != 640 {
		t.Errorf("det manifest %+v", det)
	}
	list, err := List(dir)
	if err != nil || len(list) != 2 {
		t.Fatalf("list %+v %v", list, err)
	}
	// Same seed, same bytes; another seed, other weights (three more
	// builds of both networks: long mode only).
	if os.Getenv("SHITU_LONG") != "1" {
		t.Skip("seed determinism: set SHITU_LONG=1")
	}
	again, err := Synth(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Synth(t.TempDir(), 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		a, b, c := got[i].Manifest.Files[0].SHA256, again[i].Manifest.Files[0].SHA256, other[i].Manifest.Files[0].SHA256
		if a != b || a == c {
			t.Errorf("%s: seed 3 %s, again %s, seed 4 %s", got[i].Manifest.Name, a, b, c)
		}
	}
}
