package imaging

import "encoding/binary"

// jpegOrientation returns the EXIF orientation (1–8) stored in the first
// APP1 "Exif" segment of a JPEG, or 1 when there is none or it is invalid
// (cv2.imread then leaves the image as stored; go-stack.md §4.3).
func jpegOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 1
		}
		m := b[i+1]
		if m == 0xFF { // fill byte
			i++
			continue
		}
		if m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7) {
			i += 2
			continue
		}
		if m == 0xDA || m == 0xD9 { // image data starts: no more headers
			return 1
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		seg := b[i+4 : i+2+n]
		if m == 0xE1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of an EXIF TIFF block.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(t[2:]) != 42 {
		return 1
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 1
	}
	n := int64(bo.Uint16(t[off:]))
	for k := int64(0); k < n; k++ {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 1
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		var v uint32
		switch bo.Uint16(t[e+2:]) {
		case 3: // SHORT
			v = uint32(bo.Uint16(t[e+8:]))
		case 4: // LONG
			v = bo.Uint32(t[e+8:])
		default:
			return 1
		}
		if v < 1 || v > 8 {
			return 1
		}
		return int(v)
	}
	return 1
}

// Orient returns img transformed so that an image stored with EXIF
// orientation o (1–8) is upright, as OpenCV's ApplyExifOrientation does:
// 2 mirror, 3 rotate 180°, 4 flip vertically, 5 transpose, 6 rotate 90°
// clockwise, 7 transverse, 8 rotate 90° counter-clockwise. Other values
// return img unchanged.
func Orient(img *Image, o int) *Image {
	if o < 2 || o > 8 {
		return img
	}
	c := img.Channels()
	w, h := img.W, img.H
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	out := &Image{W: ow, H: oh, C: img.C, Pix: make([]uint8, len(img.Pix))}
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-ox, oy
			case 3:
				sx, sy = w-1-ox, h-1-oy
			case 4:
				sx, sy = ox, h-1-oy
			case 5:
				sx, sy = oy, ox
			case 6:
				sx, sy = oy, h-1-ox
			case 7:
				sx, sy = w-1-oy, h-1-ox
			case 8:
				sx, sy = w-1-oy, ox
			}
			d, s := (oy*ow+ox)*c, (sy*w+sx)*c
			copy(out.Pix[d:d+c], img.Pix[s:s+c])
		}
	}
	return out
}
