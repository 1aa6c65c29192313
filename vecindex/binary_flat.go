package vecindex

import (
	"fmt"
	"sync"
)

// BinaryFlat is an exact Hamming index over packed bit codes (Dims() bits,
// Dims()/8 bytes each, most significant bit first). Concurrency as Flat.
type BinaryFlat struct {
	mu    sync.RWMutex
	dims  int
	codes []byte
	ids   []int64
	pos   map[int64]int32
}

// NewBinaryFlat returns an empty index of dims-bit codes (dims a positive
// multiple of 8).
func NewBinaryFlat(dims int) (*BinaryFlat, error) {
	if dims <= 0 || dims%8 != 0 {
		return nil, fmt.Errorf("%w: binary dims %d (need a positive multiple of 8)", ErrArgs, dims)
	}
	return &BinaryFlat{dims: dims, pos: map[int64]int32{}}, nil
}

// NewBinaryFlatFrom builds a BinaryFlat that takes ownership of codes.
func NewBinaryFlatFrom(dims int, ids []int64, codes []byte) (*BinaryFlat, error) {
	b, err := NewBinaryFlat(dims)
	if err != nil {
		return nil, err
	}
	if len(codes) != len(ids)*dims/8 {
		return nil, fmt.Errorf("%w: %d bytes for %d codes of %d bits", ErrDims, len(codes), len(ids), dims)
	}
	b.pos = make(map[int64]int32, len(ids))
	for i, id := range ids {
		if _, dup := b.pos[id]; dup {
			return nil, fmt.Errorf("%w: %d", ErrDuplicate, id)
		}
		b.pos[id] = int32(i)
	}
	b.ids, b.codes = ids, codes
	return b, nil
}

// Dims is the code length in bits.
func (b *BinaryFlat) Dims() int { return b.dims }

// Len is the number of codes.
func (b *BinaryFlat) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.ids)
}

// Add inserts codes (len(codes) == len(ids)*Dims()/8).
func (b *BinaryFlat) Add(ids []int64, codes []byte) error {
	cs := b.dims / 8
	if len(codes) != len(ids)*cs {
		return fmt.Errorf("%w: %d bytes for %d codes of %d bits", ErrDims, len(codes), len(ids), b.dims)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := checkNew(b.pos, ids); err != nil {
		return err
	}
	if len(b.ids)+len(ids) > maxVectors {
		return fmt.Errorf("%w: more than %d vectors", ErrArgs, maxVectors)
	}
	for i, id := range ids {
		b.pos[id] = int32(len(b.ids) + i)
	}
	b.ids = append(b.ids, ids...)
	b.codes = append(b.codes, codes...)
	return nil
}

// Remove deletes ids and reports how many were present.
func (b *BinaryFlat) Remove(ids ...int64) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	cs := b.dims / 8
	n := 0
	for _, id := range ids {
		p, ok := b.pos[id]
		if !ok {
			continue
		}
		last := int32(len(b.ids) - 1)
		if p != last {
			copy(b.codes[int(p)*cs:int(p+1)*cs], b.codes[int(last)*cs:int(last+1)*cs])
			b.ids[p] = b.ids[last]
			b.pos[b.ids[p]] = p
		}
		b.ids = b.ids[:last]
		b.codes = b.codes[:int(last)*cs]
		delete(b.pos, id)
		n++
	}
	return n
}

// Data returns copies of the ids and codes in storage order.
func (b *BinaryFlat) Data() ([]int64, []byte) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return append([]int64(nil), b.ids...), append([]byte(nil), b.codes...)
}

// Search returns the k nearest codes by Hamming distance, exactly.
func (b *BinaryFlat) Search(q []byte, k int, filter Filter) ([]Result, error) {
	cs := b.dims / 8
	if len(q) != cs {
		return nil, fmt.Errorf("%w: query of %d bytes, index codes have %d", ErrDims, len(q), cs)
	}
	if k < 0 {
		return nil, fmt.Errorf("%w: k %d", ErrArgs, k)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	h := newTopK(k)
	b.scan(q, h, filter)
	return h.results(Hamming), nil
}

func (b *BinaryFlat) scan(q []byte, h *topK, filter Filter) {
	cs := b.dims / 8
	for i, id := range b.ids {
		if filter != nil && !filter(id) {
			continue
		}
		s := float32(hamming(q, b.codes[i*cs:i*cs+cs]))
		if !h.full() || s <= h.bound() {
			h.push(s, id)
		}
	}
}

// SearchBatch runs len(qs)/(Dims()/8) queries.
func (b *BinaryFlat) SearchBatch(qs []byte, k int, filter Filter) ([][]Result, error) {
	cs := b.dims / 8
	if len(qs)%cs != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a multiple of %d", ErrDims, len(qs), cs)
	}
	out := make([][]Result, len(qs)/cs)
	for i := range out {
		r, err := b.Search(qs[i*cs:(i+1)*cs], k, filter)
		if err != nil {
			return nil, err
		}
		out[i] = r
	}
	return out, nil
}
