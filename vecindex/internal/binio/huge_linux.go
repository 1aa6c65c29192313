package binio

import (
	"os"
	"syscall"
	"unsafe"
)

// adviseHuge asks the kernel to back b with transparent huge pages (where
// THP is in "madvise" mode): a large array that is about to be filled
// then takes one fault per 2 MiB instead of one per 4 KiB page, which is
// most of the cost of reading a large index. Failure is harmless.
func adviseHuge(b []byte) {
	const hugePage = 2 << 20
	if len(b) < 2*hugePage {
		return
	}
	ps := uintptr(os.Getpagesize())
	start := uintptr(unsafe.Pointer(&b[0]))
	off := (ps - start%ps) % ps
	if off >= uintptr(len(b)) {
		return
	}
	syscall.Madvise(b[off:], syscall.MADV_HUGEPAGE)
}
