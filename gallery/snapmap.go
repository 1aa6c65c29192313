package gallery

import (
	"fmt"
	"io"
	"os"
	"unsafe"
)

// readFloats reads n float32 values at file offset off into memory of
// capacity capN with one read (the file's bytes are the host's on
// little-endian hosts; the caller checks that). It is mapFloats where the
// vectors cannot be mapped: other systems, or a page size that the
// snapshot's 4096-byte alignment is not a multiple of.
func readFloats(f *os.File, off int64, n, capN int) ([]float32, func(), error) {
	if capN < n || capN <= 0 {
		return nil, nil, fmt.Errorf("gallery: read %d of %d values", n, capN)
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
