//go:build !linux

package gallery

import (
	"fmt"
	"io"
	"os"
	"unsafe"
)

// mapFloats reads n float32 values at file offset off into memory of
// capacity capN (the file's bytes are the host's on little-endian hosts;
// the caller checks that). Only Linux maps them.
func mapFloats(f *os.File, off int64, n, capN int) ([]float32, func(), error) {
	if capN < n || capN <= 0 {
		return nil, nil, fmt.Errorf("gallery: map %d of %d values", n, capN)
	}
	vals := make([]float32, n, capN)
	if n > 0 {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&vals[0])), n*4)
		if _, err := io.ReadFull(io.NewSectionReader(f, off, int64(n)*4), raw); err != nil {
			return nil, nil, fmt.Errorf("gallery: read snapshot vectors: %w", err)
		}
	}
	return vals, func() {}, nil
}
