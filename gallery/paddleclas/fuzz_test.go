package paddleclas

import "testing"

// FuzzReadPaddleXMap: id_map.yaml is foreign input.
func FuzzReadPaddleXMap(f *testing.F) {
	f.Add([]byte("id_map:\n  0: Pulse\n  5: 红牛\nindex_type: HNSW32\nmetric_type: IP\n"))
	f.Add([]byte("id_map: {1: a}\nindex_type: Flat\nmetric_type: hamming\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		readPaddleXMap(b)
	})
}
