//go:build cgo && !shitu_purejpeg

package imaging

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdlib.h>
#include <turbojpeg.h>

static int shitu_tj_header(tjhandle h, const unsigned char *buf, unsigned long n,
                           int *w, int *hh, int *ss, int *cs) {
	return tjDecompressHeader3(h, buf, n, w, hh, ss, cs);
}

static int shitu_tj_decode(tjhandle h, const unsigned char *buf, unsigned long n,
                           unsigned char *dst, int w, int hh, int pf) {
	return tjDecompress2(h, buf, n, dst, w, 0, hh, pf, 0);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// JPEGBackend names the JPEG decoder compiled in: "libjpeg-turbo" or "image/jpeg".
const JPEGBackend = "libjpeg-turbo"

// A TurboJPEG handle is not thread-safe (go-stack.md §4.1): one per
// goroutine through a pool.
type tjHandle struct{ h C.tjhandle }

var tjPool = sync.Pool{New: func() any {
	h := C.tjInitDecompress()
	if h == nil {
		return nil
	}
	t := &tjHandle{h: h}
	runtime.SetFinalizer(t, func(t *tjHandle) { C.tjDestroy(t.h) })
	return t
}}

func tjGet() (*tjHandle, error) {
	t, _ := tjPool.Get().(*tjHandle)
	if t == nil {
		return nil, fmt.Errorf("%w: cannot initialise libjpeg-turbo", ErrFormat)
	}
	return t, nil
}

func tjErr(t *tjHandle) string { return C.GoString(C.tjGetErrorStr2(t.h)) }

// tjPut returns a handle to the pool, or destroys it after a failed call:
// a handle that saw a corrupt stream can fail the next, valid one
// ("Bogus Huffman table definition" on a good JPEG after a truncated one).
func tjPut(t *tjHandle, failed bool) {
	if failed {
		runtime.SetFinalizer(t, nil)
		C.tjDestroy(t.h)
		return
	}
	tjPool.Put(t)
}

// jpegInfo reads the dimensions and colour space of a JPEG stream.
func jpegInfo(b []byte) (w, h int, cmyk bool, err error) {
	if len(b) == 0 {
		return 0, 0, false, fmt.Errorf("%w: empty JPEG", ErrFormat)
	}
	t, err := tjGet()
	if err != nil {
		return 0, 0, false, err
	}
	var cw, ch, ss, cs C.int
	rc := C.shitu_tj_header(t.h, (*C.uchar)(unsafe.Pointer(&b[0])), C.ulong(len(b)), &cw, &ch, &ss, &cs)
	if rc != 0 {
		msg := tjErr(t)
		tjPut(t, true)
		return 0, 0, false, fmt.Errorf("%w: jpeg header: %s", ErrFormat, msg)
	}
	tjPut(t, false)
	return int(cw), int(ch), cs == C.TJCS_CMYK || cs == C.TJCS_YCCK, nil
}

// decodeJPEG decodes to RGB with libjpeg-turbo's default (ISLOW IDCT,
// fancy upsampling), which is what cv2.imread does (go-stack.md §4.1).
func decodeJPEG(b []byte, opts DecodeOptions) (*Image, error) {
	w, h, cmyk, err := jpegInfo(b)
	if err != nil {
		return nil, err
	}
	if err := opts.checkPixels(w, h); err != nil {
		return nil, err
	}
	t, err := tjGet()
	if err != nil {
		return nil, err
	}
	pf, cn := C.int(C.TJPF_RGB), 3
	if cmyk {
		pf, cn = C.TJPF_CMYK, 4
	}
	buf := make([]uint8, w*h*cn)
	rc := C.shitu_tj_decode(t.h, (*C.uchar)(unsafe.Pointer(&b[0])), C.ulong(len(b)),
		(*C.uchar)(unsafe.Pointer(&buf[0])), C.int(w), C.int(h), pf)
	if rc != 0 {
		msg := tjErr(t)
		tjPut(t, true)
		return nil, fmt.Errorf("%w: jpeg: %s", ErrFormat, msg)
	}
	tjPut(t, false)
	if cmyk {
		return cmykToRGB(w, h, buf), nil
	}
	return &Image{W: w, H: h, C: 3, Pix: buf}, nil
}
