// Package binio reads and writes little-endian binary streams for the
// vecindex file formats: sticky errors, an optional running CRC-32C, and
// allocations bounded by the bytes actually left in the input, so a
// corrupt length cannot make a reader allocate gigabytes.
package binio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"unsafe"
)

// ErrShort reports input that ends early or claims more data than it has.
var ErrShort = errors.New("binio: truncated input")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reader decodes a stream. The first error sticks; later reads return zero
// values.
type Reader struct {
	r      *bufio.Reader
	crc    hash.Hash32
	remain int64 // bytes left, -1 when unknown
	err    error
	tmp    [8]byte
	chunk  []byte
}

// NewReader wraps r; with crc set, every byte read feeds a CRC-32C.
func NewReader(r io.Reader, crc bool) *Reader {
	rd := &Reader{r: bufio.NewReaderSize(r, 1<<16), remain: -1}
	if crc {
		rd.crc = crc32.New(castagnoli)
	}
	switch v := r.(type) {
	case interface{ Len() int }:
		rd.remain = int64(v.Len())
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			if off, err := v.Seek(0, io.SeekCurrent); err == nil {
				rd.remain = st.Size() - off
			}
		}
	}
	return rd
}

// Err is the first error met.
func (r *Reader) Err() error { return r.err }

// Fail records err unless an error is already recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Sum is the CRC-32C of the bytes read so far.
func (r *Reader) Sum() uint32 {
	if r.crc == nil {
		return 0
	}
	return r.crc.Sum32()
}

func (r *Reader) full(b []byte) bool {
	if r.err != nil {
		return false
	}
	if _, err := io.ReadFull(r.r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = ErrShort
		}
		r.err = err
		return false
	}
	if r.crc != nil {
		r.crc.Write(b)
	}
	if r.remain >= 0 {
		r.remain -= int64(len(b))
	}
	return true
}

// Check fails unless n elements of size bytes can still be in the input.
func (r *Reader) Check(n uint64, size int) bool {
	if r.err != nil {
		return false
	}
	if n > math.MaxInt64/uint64(size) {
		r.err = fmt.Errorf("%w: count %d", ErrShort, n)
		return false
	}
	if r.remain >= 0 && int64(n)*int64(size) > r.remain {
		r.err = fmt.Errorf("%w: %d×%d bytes claimed, %d left", ErrShort, n, size, r.remain)
		return false
	}
	return true
}

// Raw reads len(b) bytes.
func (r *Reader) Raw(b []byte) { r.full(b) }

// U8 reads a byte.
func (r *Reader) U8() uint8 {
	if !r.full(r.tmp[:1]) {
		return 0
	}
	return r.tmp[0]
}

// U32 reads a uint32.
func (r *Reader) U32() uint32 {
	if !r.full(r.tmp[:4]) {
		return 0
	}
	return binary.LittleEndian.Uint32(r.tmp[:4])
}

// I32 reads an int32.
func (r *Reader) I32() int32 { return int32(r.U32()) }

// U64 reads a uint64.
func (r *Reader) U64() uint64 {
	if !r.full(r.tmp[:8]) {
		return 0
	}
	return binary.LittleEndian.Uint64(r.tmp[:8])
}

// I64 reads an int64.
func (r *Reader) I64() int64 { return int64(r.U64()) }

// F32 reads a float32.
func (r *Reader) F32() float32 { return math.Float32frombits(r.U32()) }

// chunked reads n elements of size bytes in bounded chunks, calling put
// for each chunk, so memory grows only as data actually arrives.
func (r *Reader) chunked(n uint64, size int, put func(b []byte)) {
	if !r.Check(n, size) {
		return
	}
	if r.chunk == nil {
		r.chunk = make([]byte, 1<<16)
	}
	per := uint64(len(r.chunk) / size)
	for n > 0 && r.err == nil {
		c := min(n, per)
		b := r.chunk[:int(c)*size]
		if !r.full(b) {
			return
		}
		put(b)
		n -= c
	}
}

// capFor is the initial capacity for n elements: all of them when the
// input is known to hold them, else a bounded start.
func (r *Reader) capFor(n uint64) int {
	if r.remain >= 0 {
		return int(n)
	}
	return int(min(n, 1<<20))
}

// Bytes reads n bytes.
func (r *Reader) Bytes(n uint64) []byte {
	if !r.Check(n, 1) {
		return nil
	}
	out := make([]byte, 0, r.capFor(n))
	r.chunked(n, 1, func(b []byte) { out = append(out, b...) })
	return out
}

// F32s reads n float32 values.
func (r *Reader) F32s(n uint64) []float32 {
	return readArray(r, n, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
}

// F64s reads n float64 values.
func (r *Reader) F64s(n uint64) []float64 {
	return readArray(r, n, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
}

// I32s reads n int32 values.
func (r *Reader) I32s(n uint64) []int32 {
	return readArray(r, n, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
}

// I64s reads n int64 values.
func (r *Reader) I64s(n uint64) []int64 {
	return readArray(r, n, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
}

// U64s reads n uint64 values.
func (r *Reader) U64s(n uint64) []uint64 {
	return readArray(r, n, binary.LittleEndian.Uint64)
}

// number is what readArray reads: fixed-size little-endian values.
type number interface {
	~int32 | ~uint32 | ~int64 | ~uint64 | ~float32 | ~float64
}

// directChunk is how many bytes a direct read takes at a time: the CRC
// then runs over bytes still in the cache.
const directChunk = 1 << 20

// readArray reads n values. When the input's length is known (so n is
// already checked against it) and the host is little-endian, the bytes
// are read straight into the result's memory: opening a large index costs
// one sequential read, not a decode per value. Otherwise the values are
// decoded from bounded chunks, so memory grows only as data arrives.
func readArray[T number](r *Reader, n uint64, decode func([]byte) T) []T {
	var zero T
	size := int(unsafe.Sizeof(zero))
	if !r.Check(n, size) {
		return nil
	}
	if n == 0 {
		return []T{}
	}
	if r.remain >= 0 && littleEndian {
		out := make([]T, n)
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), int(n)*size)
		adviseHuge(raw)
		for len(raw) > 0 && r.err == nil {
			c := min(len(raw), directChunk)
			r.full(raw[:c])
			raw = raw[c:]
		}
		if r.err != nil {
			return nil
		}
		return out
	}
	out := make([]T, 0, r.capFor(n))
	r.chunked(n, size, func(b []byte) {
		for i := 0; i+size <= len(b); i += size {
			out = append(out, decode(b[i:]))
		}
	})
	return out
}

// littleEndian reports whether the host stores numbers as the file does.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Writer encodes a stream with a sticky error and an optional CRC-32C.
type Writer struct {
	w   *bufio.Writer
	crc hash.Hash32
	err error
	buf []byte
}

// NewWriter wraps w; with crc set, every byte written feeds a CRC-32C.
func NewWriter(w io.Writer, crc bool) *Writer {
	wr := &Writer{w: bufio.NewWriterSize(w, 1<<16), buf: make([]byte, 0, 1<<16)}
	if crc {
		wr.crc = crc32.New(castagnoli)
	}
	return wr
}

func (w *Writer) put(b []byte) {
	if w.err != nil {
		return
	}
	if w.crc != nil {
		w.crc.Write(b)
	}
	_, w.err = w.w.Write(b)
}

// Sum is the CRC-32C of the bytes written so far.
func (w *Writer) Sum() uint32 {
	if w.crc == nil {
		return 0
	}
	return w.crc.Sum32()
}

// Flush writes buffered data and returns the first error.
func (w *Writer) Flush() error {
	if w.err == nil {
		w.err = w.w.Flush()
	}
	return w.err
}

// Raw writes b.
func (w *Writer) Raw(b []byte) { w.put(b) }

// U8 writes a byte.
func (w *Writer) U8(v uint8) { w.put([]byte{v}) }

// U32 writes a uint32.
func (w *Writer) U32(v uint32) { w.put(binary.LittleEndian.AppendUint32(w.buf[:0], v)) }

// I32 writes an int32.
func (w *Writer) I32(v int32) { w.U32(uint32(v)) }

// U64 writes a uint64.
func (w *Writer) U64(v uint64) { w.put(binary.LittleEndian.AppendUint64(w.buf[:0], v)) }

// I64 writes an int64.
func (w *Writer) I64(v int64) { w.U64(uint64(v)) }

// F32 writes a float32.
func (w *Writer) F32(v float32) { w.U32(math.Float32bits(v)) }

// F32s writes float32 values (no count).
func (w *Writer) F32s(v []float32) {
	for len(v) > 0 {
		c := min(len(v), cap(w.buf)/4)
		b := w.buf[:0]
		for _, x := range v[:c] {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		w.put(b)
		v = v[c:]
	}
}

// F64s writes float64 values (no count).
func (w *Writer) F64s(v []float64) {
	for len(v) > 0 {
		c := min(len(v), cap(w.buf)/8)
		b := w.buf[:0]
		for _, x := range v[:c] {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		w.put(b)
		v = v[c:]
	}
}

// I32s writes int32 values (no count).
func (w *Writer) I32s(v []int32) {
	for len(v) > 0 {
		c := min(len(v), cap(w.buf)/4)
		b := w.buf[:0]
		for _, x := range v[:c] {
			b = binary.LittleEndian.AppendUint32(b, uint32(x))
		}
		w.put(b)
		v = v[c:]
	}
}

// I64s writes int64 values (no count).
func (w *Writer) I64s(v []int64) {
	for len(v) > 0 {
		c := min(len(v), cap(w.buf)/8)
		b := w.buf[:0]
		for _, x := range v[:c] {
			b = binary.LittleEndian.AppendUint64(b, uint64(x))
		}
		w.put(b)
		v = v[c:]
	}
}

// U64s writes uint64 values (no count).
func (w *Writer) U64s(v []uint64) {
	for len(v) > 0 {
		c := min(len(v), cap(w.buf)/8)
		b := w.buf[:0]
		for _, x := range v[:c] {
			b = binary.LittleEndian.AppendUint64(b, x)
		}
		w.put(b)
		v = v[c:]
	}
}
