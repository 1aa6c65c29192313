package paddleclas

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

var wantDocs = map[int64]string{
	0:       "gallery/0.jpg\t红牛-强化型",
	1:       "gallery/1.jpg\tcola",
	7:       "a b/c.jpg\tlabel with spaces",
	300:     "x.jpg\tmilk",
	70000:   "y.jpg\t光明",
	1 << 40: "z.jpg\tbig",
}

func TestReadIDMapFixtures(t *testing.T) {
	// Fixtures written by CPython 3.11 + numpy (testdata/gen_idmap.py).
	for _, name := range []string{"id_map_np_p2.pkl", "id_map_np_p3.pkl", "id_map_np_p4.pkl", "id_map_np_p5.pkl", "id_map_int_p4.pkl", "id_map_np2_p4.pkl"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			m, err := ReadIDMap(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != len(wantDocs) {
				t.Fatalf("%d entries: %v", len(m), m)
			}
			for k, v := range wantDocs {
				if m[k] != v {
					t.Fatalf("id %d: %q, want %q", k, m[k], v)
				}
			}
		})
	}
}

func TestWriteIDMapRoundTrip(t *testing.T) {
	m := map[int64]string{-5: "neg", 255: "b", 256: "c", 65535: "d", 65536: "e", 1<<31 - 1: "f", 1 << 31: "g", -1 << 40: "h", 1<<63 - 1: "max"}
	for i := int64(1000); i < 3500; i++ {
		m[i] = string(bytes.Repeat([]byte("x"), int(i%300)))
	}
	for k, v := range wantDocs {
		m[k] = v
	}
	var b bytes.Buffer
	if err := WriteIDMap(&b, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadIDMap(&b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(m) {
		t.Fatalf("%d entries, want %d", len(got), len(m))
	}
	for k, v := range m {
		if got[k] != v {
			t.Fatalf("id %d: %q, want %q", k, got[k], v)
		}
	}
}

func TestReadIDMapRejects(t *testing.T) {
	for _, in := range []string{"", "\x80\x04K\x01.", "\x80\x04]\x94.", "\x80\x04}(K\x01K\x02u.", "garbage"} {
		if _, err := ReadIDMap(bytes.NewReader([]byte(in))); err == nil {
			t.Errorf("ReadIDMap(%q) accepted", in)
		}
	}
}

func FuzzReadIDMap(f *testing.F) {
	for _, name := range []string{"id_map_np_p2.pkl", "id_map_np_p4.pkl", "id_map_int_p4.pkl"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadIDMap(bytes.NewReader(b))
		if err != nil {
			return
		}
		var w bytes.Buffer
		if err := WriteIDMap(&w, m); err != nil {
			t.Fatal(err)
		}
		m2, err := ReadIDMap(&w)
		if err != nil || len(m2) != len(m) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
