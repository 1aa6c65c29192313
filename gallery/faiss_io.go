package gallery

import (
	"fmt"

	"github.com/shitu-go/shitu/vecindex"
)

// faissData is a vector.index as read: ids in storage order and their
// vectors or codes, plus the loaded index when it can serve the gallery
// directly (same graph, so the same results as faiss).
type faissData struct {
	dims   int
	metric vecindex.Metric
	method string
	ids    []int64
	vecs   []float32
	codes  []byte
	index  vecindex.Index
	bindex vecindex.BinaryIndex
}

// readVectorIndex reads a faiss vector.index. Stub until vecindex/faiss lands.
func readVectorIndex(path string) (*faissData, error) {
	return nil, fmt.Errorf("%w: reading faiss files (vecindex/faiss not available yet): %s", ErrUnsupported, path)
}

// writeVectorIndex writes the gallery's index as a faiss vector.index in
// dir and returns the items by faiss id. Stub until vecindex/faiss lands.
func (g *Gallery) writeVectorIndex(dir string) (map[int64]*Item, error) {
	return nil, fmt.Errorf("%w: writing faiss files (vecindex/faiss not available yet)", ErrUnsupported)
}
