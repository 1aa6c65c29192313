package faiss

import (
	"fmt"
	"io"

	"github.com/shitu-go/shitu/vecindex"
	"github.com/shitu-go/shitu/vecindex/internal/binio"
)

// binParsed is a binary index as read.
type binParsed struct {
	hnsw  bool
	d, n  int
	ids   []int64
	codes []byte
	graph vecindex.HNSWGraph
}

// binHeader reads the binary index header (d, code_size, ntotal,
// is_trained, metric_type).
func (r reader) binHeader() (d, n int, err error) {
	d32 := r.I32()
	cs := r.I32()
	nt := r.I64()
	r.U8()
	r.I32()
	if r.Err() != nil {
		return 0, 0, r.fail("")
	}
	if d32 <= 0 || d32 > maxDims || d32%8 != 0 || cs != d32/8 || nt < 0 || nt > 1<<31-2 {
		return 0, 0, r.fail("binary header d %d, code size %d, ntotal %d", d32, cs, nt)
	}
	return int(d32), int(nt), nil
}

// ReadBinary reads a binary index written by faiss.write_index_binary.
func ReadBinary(rd io.Reader) (vecindex.BinaryIndex, error) {
	r := reader{binio.NewReader(rd, false)}
	p, err := r.binIndex(0)
	if err != nil {
		return nil, err
	}
	ids := p.ids
	if ids == nil {
		ids = make([]int64, p.n)
		for i := range ids {
			ids[i] = int64(i)
		}
	}
	var idx vecindex.BinaryIndex
	if p.hnsw {
		var h *vecindex.BinaryHNSW
		if h, err = vecindex.NewBinaryHNSWFromGraph(p.d, p.graph, ids, p.codes); err == nil {
			h.SetFaissSearch(true)
			idx = h
		}
	} else {
		idx, err = vecindex.NewBinaryFlatFrom(p.d, ids, p.codes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return idx, nil
}

func (r reader) binIndex(depth int) (*binParsed, error) {
	if depth > 2 {
		return nil, r.fail("indexes nested too deep")
	}
	h := r.fourcc()
	if r.Err() != nil {
		return nil, r.fail("")
	}
	switch h {
	case "IBxF":
		d, n, err := r.binHeader()
		if err != nil {
			return nil, err
		}
		c, ok := r.vecLen(1)
		if !ok || c != uint64(n)*uint64(d/8) {
			return nil, r.fail("binary flat of %d bytes for %d codes", c, n)
		}
		codes := r.Bytes(c)
		if r.Err() != nil {
			return nil, r.fail("")
		}
		return &binParsed{d: d, n: n, codes: codes}, nil
	case "IBHf":
		d, n, err := r.binHeader()
		if err != nil {
			return nil, err
		}
		g, err := r.hnsw(n)
		if err != nil {
			return nil, err
		}
		st, err := r.binIndex(depth + 1)
		if err != nil {
			return nil, err
		}
		if st.hnsw || st.ids != nil || st.d != d || st.n != n {
			return nil, r.fail("binary HNSW storage is not a matching flat index")
		}
		st.hnsw, st.graph = true, g
		return st, nil
	case "IBMp", "IBM2":
		d, n, err := r.binHeader()
		if err != nil {
			return nil, err
		}
		p, err := r.binIndex(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.d != d || p.n != n || p.ids != nil {
			return nil, r.fail("%s over %d codes holds %d", h, n, p.n)
		}
		p.ids = r.int64s()
		if r.Err() != nil {
			return nil, r.fail("")
		}
		if len(p.ids) != n {
			return nil, r.fail("id map of %d ids for %d codes", len(p.ids), n)
		}
		return p, nil
	}
	return nil, fmt.Errorf("%w: binary fourcc %q", ErrUnsupported, h)
}

func binHeader(w *binio.Writer, fourcc string, d, n int) {
	w.Raw([]byte(fourcc))
	w.I32(int32(d))
	w.I32(int32(d / 8))
	w.I64(int64(n))
	w.U8(1)
	w.I32(metricL2) // faiss writes METRIC_L2 for binary indexes
}

// WriteBinary writes idx as faiss.write_index_binary would: IBxF for a
// BinaryFlat, IBHf for a BinaryHNSW; when the ids are not the positions
// 0..n-1 the index is wrapped in an IBM2 id map (PaddleClas' own binary
// galleries are never wrapped, so their ids are positions).
func WriteBinary(w io.Writer, idx vecindex.BinaryIndex) error {
	bw := binio.NewWriter(w, false)
	var (
		ids   []int64
		codes []byte
		g     *vecindex.HNSWGraph
	)
	switch v := idx.(type) {
	case *vecindex.BinaryFlat:
		ids, codes = v.Data()
	case *vecindex.BinaryHNSW:
		gr, i, c := v.Graph()
		g, ids, codes = &gr, i, c
	default:
		return fmt.Errorf("%w: %T", ErrUnsupported, idx)
	}
	d, n := idx.Dims(), len(ids)
	wrap := !sequential(ids)
	if wrap {
		binHeader(bw, "IBM2", d, n)
	}
	if g != nil {
		binHeader(bw, "IBHf", d, n)
		writeHNSW(bw, *g)
	}
	binHeader(bw, "IBxF", d, n)
	bw.U64(uint64(len(codes)))
	bw.Raw(codes)
	if wrap {
		bw.U64(uint64(n))
		bw.I64s(ids)
	}
	return bw.Flush()
}
