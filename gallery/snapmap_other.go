//go:build !linux

package gallery

import "os"

// mapFloats reads the vectors into memory (readFloats): only Linux maps
// them.
func mapFloats(f *os.File, off int64, n, capN int) ([]float32, func(), error) {
	return readFloats(f, off, n, capN)
}
