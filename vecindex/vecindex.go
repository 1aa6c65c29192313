// Package vecindex holds shitu's vector indexes: exact Flat search, HNSW
// with delete, IVF-Flat, and binary (Hamming) variants, all behind one
// interface. It imports no other project package.
//
// Kernels: inner product, squared L2 and a four-query inner product are
// AVX2+FMA assembly on amd64 (chosen at run time), with a pure-Go
// fallback (build tag purego, or other architectures).
//
// Concurrency: every index guards itself with a sync.RWMutex; searches run
// in parallel, Add and Remove are exclusive, and a search sees an index
// either before or after a write.
//
// Results are sorted best first (IP descending, L2 and Hamming ascending)
// and padded to k with PadID and the metric's worst score as faiss pads
// them (ppshitu-pipeline.md §7.2). Save writes shitu's own checksummed
// format (docs/format/vecindex.md); vecindex/faiss reads and writes faiss
// files.
package vecindex

import (
	"errors"
	"fmt"
	"io"
	"math"
)

// Metric is the similarity of an index.
type Metric int

// Metrics. IP scores sort descending; L2 (squared distance) and Hamming
// sort ascending, as in faiss.
const (
	IP Metric = iota
	L2
	Hamming
)

func (m Metric) String() string {
	switch m {
	case IP:
		return "IP"
	case L2:
		return "L2"
	case Hamming:
		return "hamming"
	}
	return "metric?"
}

// Padding of missing result slots, as faiss pads them (ppshitu-pipeline.md
// §7.2): id -1 with the worst score of the metric.
const (
	PadID      int64   = -1
	PadIP      float32 = -math.MaxFloat32
	PadL2      float32 = math.MaxFloat32
	PadHamming float32 = math.MaxInt32
)

// Errors.
var (
	ErrDims      = errors.New("vecindex: vector dimension mismatch")
	ErrDuplicate = errors.New("vecindex: duplicate id")
	ErrNotFound  = errors.New("vecindex: id not found")
	ErrFormat    = errors.New("vecindex: malformed index data")
	ErrUntrained = errors.New("vecindex: index is not trained")
)

// Result is one hit. For Hamming indexes Score is the bit distance.
type Result struct {
	ID    int64
	Score float32
}

// Filter restricts a search to the ids for which it returns true. A nil
// Filter allows every id.
type Filter func(id int64) bool

// Index is a float32 vector index. Vectors are passed flat: n×Dims values.
// Implementations are safe for concurrent searches during writes.
type Index interface {
	Dims() int
	Metric() Metric
	Len() int
	// Add inserts vectors under the given ids (len(vecs) == len(ids)*Dims()).
	Add(ids []int64, vecs []float32) error
	// Remove deletes ids and reports how many were present.
	Remove(ids ...int64) int
	// Search returns the k best hits, sorted best first and padded to k
	// with PadID as faiss pads.
	Search(q []float32, k int, filter Filter) ([]Result, error)
	// SearchBatch runs len(qs)/Dims() queries.
	SearchBatch(qs []float32, k int, filter Filter) ([][]Result, error)
	// Save writes the index in shitu's own format (see docs/format/).
	Save(w io.Writer) error
}

// BinaryIndex is an index of packed bit vectors (Dims() bits, Dims()/8
// bytes each, most significant bit first) searched by Hamming distance.
type BinaryIndex interface {
	Dims() int
	Len() int
	Add(ids []int64, codes []byte) error
	Remove(ids ...int64) int
	Search(q []byte, k int, filter Filter) ([]Result, error)
	SearchBatch(qs []byte, k int, filter Filter) ([][]Result, error)
	Save(w io.Writer) error
}

// ErrArgs reports an invalid argument (k < 0, dims ≤ 0, wrong metric, ...).
var ErrArgs = errors.New("vecindex: invalid argument")

// maxVectors bounds the number of vectors in one index (positions are int32).
const maxVectors = 1<<31 - 2

// normalize scales v to unit length (no-op for the zero vector).
func normalize(v []float32) {
	s := float64(Dot(v, v))
	if s == 0 {
		return
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
}

// ParseMetric maps a PaddleClas IndexProcess.dist_type to a metric:
// "IP" → IP, "hamming" → Hamming, and, as build_gallery.py does for float
// indexes, any other value (including "L2") → L2 (ppshitu-pipeline.md
// §11.4 item 3).
func ParseMetric(distType string) Metric {
	switch distType {
	case "IP":
		return IP
	case "hamming":
		return Hamming
	}
	return L2
}

// NewIndex returns an empty float index for a PaddleClas index_method:
// "HNSW32" (the default when empty) → HNSW with faiss' HNSW32 settings,
// "Flat" → Flat, "IVF" → an untrained IVF (train it with Train before Add;
// nlist is then chosen from the training set size).
func NewIndex(method string, dims int, metric Metric) (Index, error) {
	switch method {
	case "", "HNSW32":
		return NewHNSW(dims, metric, HNSWConfig{})
	case "Flat":
		return NewFlat(dims, metric)
	case "IVF":
		return NewIVF(dims, metric, IVFConfig{})
	}
	return nil, fmt.Errorf("%w: index_method %q (want HNSW32, IVF or Flat)", ErrArgs, method)
}

// NewBinaryIndex returns an empty binary index for a PaddleClas
// index_method: "HNSW32" (default) → BinaryHNSW, "Flat" → BinaryFlat.
func NewBinaryIndex(method string, bits int) (BinaryIndex, error) {
	switch method {
	case "", "HNSW32":
		return NewBinaryHNSW(bits, HNSWConfig{})
	case "Flat":
		return NewBinaryFlat(bits)
	}
	return nil, fmt.Errorf("%w: binary index_method %q (want HNSW32 or Flat)", ErrArgs, method)
}
