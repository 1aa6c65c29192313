package gallery

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// mapFloats maps n float32 values that start at file offset off
// copy-on-write into memory, inside a reservation of capN values, and returns them as a slice of length n and
// capacity capN, with the function that unmaps the region. Opening a large
// Flat gallery then costs no copy and no zeroing of fresh memory: the
// vectors are the page cache's pages, and a change writes only the pages it
// touches (MAP_PRIVATE). The slack after the file's values is anonymous
// memory reserved without backing (MAP_NORESERVE), so vectors added later
// are appended in place until it is used up.
//
// The snapshot file is only ever replaced by rename, never written in
// place, so the mapped pages stay those that were checked at open.
func mapFloats(f *os.File, off int64, n, capN int) ([]float32, func(), error) {
	ps := os.Getpagesize()
	if capN < n || capN <= 0 {
		return nil, nil, fmt.Errorf("gallery: map %d of %d values at %d", n, capN, off)
	}
	if off%int64(ps) != 0 {
		// Pages larger than the snapshot's alignment (16 or 64 KiB on
		// some arm64 kernels): read instead of map.
		return readFloats(f, off, n, capN)
	}
	total := (capN*4 + ps - 1) / ps * ps
	region, err := syscall.Mmap(-1, 0, total, syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, nil, fmt.Errorf("gallery: reserve %d bytes: %w", total, err)
	}
	release := func() { syscall.Munmap(region) }
	if n > 0 {
		base := uintptr(unsafe.Pointer(&region[0]))
		flen := (n*4 + ps - 1) / ps * ps
		addr, _, errno := syscall.Syscall6(syscall.SYS_MMAP, base, uintptr(flen),
			syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_FIXED, f.Fd(), uintptr(off))
		if errno != 0 || addr != base {
			release()
			return nil, nil, fmt.Errorf("gallery: map %d bytes of the snapshot: %w", flen, errno)
		}
	}
	vals := unsafe.Slice((*float32)(unsafe.Pointer(&region[0])), capN)[:n]
	return vals, release, nil
}
