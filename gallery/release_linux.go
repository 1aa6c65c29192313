//go:build linux

package gallery

import (
	"os"
	"syscall"
)

// releaseMapping drops the pages of bbolt's read-only file mapping that
// the open scan touched from the process' resident set (they stay in the
// page cache and fault back in on demand). It only affects memory
// accounting, never data.
func (g *Gallery) releaseMapping() {
	fi, err := os.Stat(g.db.Path())
	if err != nil {
		return
	}
	ps := int64(os.Getpagesize())
	size := fi.Size() / ps * ps
	if size <= 0 {
		return
	}
	syscall.Syscall(syscall.SYS_MADVISE, g.db.Info().Data, uintptr(size), uintptr(syscall.MADV_DONTNEED))
}
