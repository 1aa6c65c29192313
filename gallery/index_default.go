package gallery

import (
	"fmt"

	"github.com/shitu-go/shitu/vecindex"
)

// DefaultIndexFactory makes the in-memory float index of a gallery:
// "Flat" → vecindex.Flat, "HNSW32" → vecindex.HNSW with faiss' HNSW32
// defaults (M 32, efConstruction 40, efSearch 16), "IVF" → vecindex.IVF
// (nprobe 1, nlist = min(max(n/8, 1), 65536) as PaddleClas intends,
// §11.4), trained on the first vectors added (on a rebuild: all of them).
func DefaultIndexFactory(s IndexSpec) (vecindex.Index, error) {
	if s.Dims <= 0 || s.Metric == vecindex.Hamming {
		return nil, fmt.Errorf("%w: float index with dims %d metric %v", ErrConfig, s.Dims, s.Metric)
	}
	var ix vecindex.Index
	var err error
	switch s.Method {
	case MethodFlat:
		ix, err = vecindex.NewFlat(s.Dims, s.Metric)
	case MethodHNSW, "":
		ix, err = vecindex.NewHNSW(s.Dims, s.Metric, vecindex.HNSWConfig{})
	case MethodIVF:
		ix, err = vecindex.NewIVF(s.Dims, s.Metric, vecindex.IVFConfig{})
	default:
		return nil, fmt.Errorf("%w: index method %q", ErrConfig, s.Method)
	}
	if err != nil {
		return nil, fmt.Errorf("gallery: %w", err)
	}
	return ix, nil
}

// DefaultBinaryIndexFactory makes the in-memory binary index of a gallery:
// "HNSW32" → vecindex.BinaryHNSW, otherwise vecindex.BinaryFlat.
func DefaultBinaryIndexFactory(s IndexSpec) (vecindex.BinaryIndex, error) {
	if s.Dims <= 0 || s.Dims%8 != 0 {
		return nil, fmt.Errorf("%w: binary index with %d bits", ErrConfig, s.Dims)
	}
	var ix vecindex.BinaryIndex
	var err error
	switch s.Method {
	case MethodHNSW, "":
		ix, err = vecindex.NewBinaryHNSW(s.Dims, vecindex.HNSWConfig{})
	default:
		ix, err = vecindex.NewBinaryFlat(s.Dims)
	}
	if err != nil {
		return nil, fmt.Errorf("gallery: %w", err)
	}
	return ix, nil
}

func init() {
	loadIndexSnapshot = vecindex.Load
	loadBinarySnapshot = vecindex.LoadBinary
}
