package faiss

import (
	"fmt"
	"io"
	"math"

	"github.com/shitu-go/shitu/vecindex"
	"github.com/shitu-go/shitu/vecindex/internal/binio"
)

// IDMap selects the id-map wrapper Write puts around an index.
type IDMap int

// IDMap choices. IDMapAuto (the zero value) writes IndexIDMap2 ("IxM2", as
// PaddleClas' build_gallery.py does) when the ids are not the positions
// 0..n-1 and the bare index otherwise; an IVF index keeps its ids in its
// lists and is written bare.
const (
	IDMapAuto IDMap = iota
	IDMap2          // always IxM2
	IDMap1          // always IxMp
	IDMapNone       // never; ids must be 0..n-1 (IVF: any ids)
)

// WriteOptions tune Write. The zero value is what PaddleClas would write.
type WriteOptions struct {
	IDMap IDMap
}

// ErrIDs reports ids that the chosen layout cannot carry.
var ErrIDs = fmt.Errorf("%w: ids are not positions 0..n-1 and no id map was chosen", ErrUnsupported)

func sequential(ids []int64) bool {
	for i, id := range ids {
		if id != int64(i) {
			return false
		}
	}
	return true
}

func header(w *binio.Writer, fourcc string, d, n int, m vecindex.Metric) {
	w.Raw([]byte(fourcc))
	w.I32(int32(d))
	w.I64(int64(n))
	w.I64(1 << 20)
	w.I64(1 << 20)
	w.U8(1)
	if m == vecindex.IP {
		w.I32(metricIP)
	} else {
		w.I32(metricL2)
	}
}

func writeFlat(w *binio.Writer, d int, m vecindex.Metric, vecs []float32) {
	cc := "IxF2"
	if m == vecindex.IP {
		cc = "IxFI"
	}
	header(w, cc, d, len(vecs)/d, m)
	w.U64(uint64(len(vecs)))
	w.F32s(vecs)
}

// levelProbas is faiss' HNSW::set_default_probas for M: level l has
// probability exp(-l/mult)·(1-exp(-1/mult)), mult = 1/ln(M), cut below
// 1e-9; cum_nneighbor_per_level is [0, 2M, 3M, ...].
func levelProbas(m int) ([]float64, []int32) {
	mult := 1 / math.Log(float64(m))
	probas := []float64{}
	cum := []int32{0}
	nn := int32(0)
	for l := 0; ; l++ {
		p := math.Exp(-float64(l)/mult) * (1 - math.Exp(-1/mult))
		if p < 1e-9 {
			break
		}
		probas = append(probas, p)
		if l == 0 {
			nn += int32(2 * m)
		} else {
			nn += int32(m)
		}
		cum = append(cum, nn)
	}
	return probas, cum
}

// writeHNSW writes faiss' HNSW struct for g.
func writeHNSW(w *binio.Writer, g vecindex.HNSWGraph) {
	probas, cum := levelProbas(g.M)
	for _, l := range g.Levels {
		for int(l)+1 >= len(cum) { // a level above faiss' table: extend it
			cum = append(cum, cum[len(cum)-1]+int32(g.M))
			probas = append(probas, 0)
		}
	}
	w.U64(uint64(len(probas)))
	w.F64s(probas)
	w.U64(uint64(len(cum)))
	w.I32s(cum)
	n := len(g.Levels)
	w.U64(uint64(n))
	for _, l := range g.Levels {
		w.I32(l + 1)
	}
	offsets := make([]uint64, n+1)
	for i, l := range g.Levels {
		offsets[i+1] = offsets[i] + uint64(cum[l+1])
	}
	w.U64(uint64(n + 1))
	w.U64s(offsets)
	w.U64(offsets[n])
	var buf []int32
	for i, l := range g.Levels {
		for lv := 0; lv <= int(l); lv++ {
			slots := int(cum[lv+1] - cum[lv])
			buf = append(buf[:0], g.Links[i][lv]...)
			for len(buf) < slots {
				buf = append(buf, -1)
			}
			w.I32s(buf)
		}
	}
	w.I32(g.EntryPoint)
	w.I32(int32(g.MaxLevel))
	w.I32(int32(g.EfConstruction))
	w.I32(int32(g.EfSearch))
	w.I32(1) // upper_beam
}

// Write writes idx as faiss.write_index would: Flat → IxFI/IxF2, HNSW →
// IHNf, IVF → IwFl, wrapped in an id map as opt says.
func Write(w io.Writer, idx vecindex.Index, opt WriteOptions) error {
	bw := binio.NewWriter(w, false)
	d, m := idx.Dims(), idx.Metric()
	switch v := idx.(type) {
	case *vecindex.Flat:
		ids, vecs := v.Data()
		wrap, err := wrapper(opt.IDMap, ids)
		if err != nil {
			return err
		}
		if wrap != "" {
			header(bw, wrap, d, len(ids), m)
		}
		writeFlat(bw, d, m, vecs)
		if wrap != "" {
			bw.U64(uint64(len(ids)))
			bw.I64s(ids)
		}
	case *vecindex.HNSW:
		g, ids, vecs := v.Graph()
		wrap, err := wrapper(opt.IDMap, ids)
		if err != nil {
			return err
		}
		if wrap != "" {
			header(bw, wrap, d, len(ids), m)
		}
		header(bw, "IHNf", d, len(ids), m)
		writeHNSW(bw, g)
		writeFlat(bw, d, m, vecs)
		if wrap != "" {
			bw.U64(uint64(len(ids)))
			bw.I64s(ids)
		}
	case *vecindex.IVF:
		cents, lists, nprobe := v.Lists()
		if len(lists) == 0 {
			return fmt.Errorf("%w: IVF index is not trained", ErrUnsupported)
		}
		n := 0
		for _, l := range lists {
			n += len(l.IDs)
		}
		var idmap []int64
		wrap := ""
		switch opt.IDMap {
		case IDMap2:
			wrap = "IxM2"
		case IDMap1:
			wrap = "IxMp"
		}
		if wrap != "" {
			header(bw, wrap, d, n, m)
			idmap = make([]int64, 0, n)
		}
		header(bw, "IwFl", d, n, m)
		bw.U64(uint64(len(lists)))
		bw.U64(uint64(nprobe))
		writeFlat(bw, d, m, cents)
		bw.U8(0) // no direct map
		bw.U64(0)
		bw.Raw([]byte("ilar"))
		bw.U64(uint64(len(lists)))
		bw.U64(uint64(d * 4))
		bw.Raw([]byte("full"))
		bw.U64(uint64(len(lists)))
		for _, l := range lists {
			bw.U64(uint64(len(l.IDs)))
		}
		for _, l := range lists {
			if len(l.IDs) == 0 {
				continue
			}
			bw.F32s(l.Vecs)
			if wrap == "" {
				bw.I64s(l.IDs)
				continue
			}
			for _, id := range l.IDs {
				bw.I64(int64(len(idmap)))
				idmap = append(idmap, id)
			}
		}
		if wrap != "" {
			bw.U64(uint64(len(idmap)))
			bw.I64s(idmap)
		}
	default:
		return fmt.Errorf("%w: %T", ErrUnsupported, idx)
	}
	return bw.Flush()
}

func wrapper(c IDMap, ids []int64) (string, error) {
	switch c {
	case IDMap2:
		return "IxM2", nil
	case IDMap1:
		return "IxMp", nil
	case IDMapNone:
		if !sequential(ids) {
			return "", ErrIDs
		}
		return "", nil
	}
	if sequential(ids) {
		return "", nil
	}
	return "IxM2", nil
}
