package models

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// tarEntry is one entry of a test tarball.
type tarEntry struct {
	name string
	body string
	typ  byte // tar.TypeReg when 0
	link string
	mode int64
}

func makeTar(t testing.TB, gz bool, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = tar.NewWriter(zw)
	} else {
		w = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := w.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// officialTar is a tarball in the official layout with dummy bytes:
// <name>/inference.pdmodel, .pdiparams, .pdiparams.info (+ infer_cfg.yml).
func officialTar(t testing.TB, name string, det bool) []byte {
	t.Helper()
	e := []tarEntry{
		{name: name + "/", typ: tar.TypeDir, mode: 0o755},
		{name: name + "/inference.pdmodel", body: "program of " + name},
		{name: name + "/inference.pdiparams", body: "params of " + name},
		{name: name + "/inference.pdiparams.info", body: "info"},
	}
	if det {
		e = append(e, tarEntry{name: name + "/infer_cfg.yml", body: "mode: paddle\narch: PicoDet\n"})
	}
	return makeTar(t, false, e...)
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// tinyONNX is a ModelProto with one float input [-1,3,224,224], one
// initializer that is also listed as an input, and one output [-1,512].
func tinyONNX(in, out string) []byte {
	dim := func(v int64) []byte {
		var d []byte
		if v < 0 {
			d = protowire.AppendTag(d, 2, protowire.BytesType)
			d = protowire.AppendString(d, "N")
		} else {
			d = protowire.AppendTag(d, 1, protowire.VarintType)
			d = protowire.AppendVarint(d, uint64(v))
		}
		return d
	}
	vi := func(name string, dims ...int64) []byte {
		var shape []byte
		for _, v := range dims {
			shape = protowire.AppendTag(shape, 1, protowire.BytesType)
			shape = protowire.AppendBytes(shape, dim(v))
		}
		var tt []byte
		tt = protowire.AppendTag(tt, 1, protowire.VarintType)
		tt = protowire.AppendVarint(tt, 1)
		tt = protowire.AppendTag(tt, 2, protowire.BytesType)
		tt = protowire.AppendBytes(tt, shape)
		var typ []byte
		typ = protowire.AppendTag(typ, 1, protowire.BytesType)
		typ = protowire.AppendBytes(typ, tt)
		var v []byte
		v = protowire.AppendTag(v, 1, protowire.BytesType)
		v = protowire.AppendString(v, name)
		v = protowire.AppendTag(v, 2, protowire.BytesType)
		v = protowire.AppendBytes(v, typ)
		return v
	}
	var init []byte
	init = protowire.AppendTag(init, 8, protowire.BytesType)
	init = protowire.AppendString(init, "w")
	var g []byte
	g = protowire.AppendTag(g, 5, protowire.BytesType)
	g = protowire.AppendBytes(g, init)
	g = protowire.AppendTag(g, 11, protowire.BytesType)
	g = protowire.AppendBytes(g, vi(in, -1, 3, 224, 224))
	g = protowire.AppendTag(g, 11, protowire.BytesType)
	g = protowire.AppendBytes(g, vi("w", 4))
	g = protowire.AppendTag(g, 12, protowire.BytesType)
	g = protowire.AppendBytes(g, vi(out, -1, 512))
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType)
	m = protowire.AppendVarint(m, 8)
	m = protowire.AppendTag(m, 7, protowire.BytesType)
	m = protowire.AppendBytes(m, g)
	return m
}

// fakeConverter counts its calls and returns tinyONNX tagged with the
// params bytes, so a changed source gives a changed model.
type fakeConverter struct{ calls int }

func (f *fakeConverter) convert(_ context.Context, l Layout) (*Converted, error) {
	f.calls++
	if l.Kind == KindONNX {
		return nil, fmt.Errorf("fake: asked to convert %s", l.Model)
	}
	return &Converted{ONNX: tinyONNX("x", fmt.Sprintf("feat%d", f.calls)),
		Form: "plain", Ops: map[string]int{"conv2d": 1}, Converter: "fake"}, nil
}
