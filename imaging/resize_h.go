package imaging

import "github.com/shitu-go/shitu/imaging/internal/simd"

// Horizontal passes: every output element is Σ src[tap]·alpha in int32
// (exact), so they are free to be specialised by channel count and taps.

// next is the row that will be filtered after s (for prefetching; s
// itself when unknown).
func (p *plan) hresize(s, next []uint8, d []int32) {
	if p.ng > 0 {
		simd.HGroups(&s[0], &d[0], p.ng, &p.gbase[0], &p.gcnt[0], &p.gidx[0], &p.gw[0], p.ks, &next[0])
		return
	}
	if p.n3 > 0 {
		simd.HLinear3(&s[0], &d[0], p.n3, &p.pofs[0], &p.w3[0])
		n := 3 * p.n3
		hresize2c3(s, d[n:], p.xofs[2*p.n3:], p.alpha[2*p.n3:])
		return
	}
	if p.asm && p.nsafe > 0 {
		W := len(d)
		simd.HGather(&s[0], &d[0], p.nsafe, &p.eofs[0], &p.ealpha[0], W, p.ks)
		for j := p.nsafe; j < W; j++ {
			var v int32
			for t := 0; t < p.ks; t++ {
				v += int32(s[p.eofs[t*W+j]]) * p.ealpha[t*W+j]
			}
			d[j] = v
		}
		return
	}
	switch {
	case p.cn == 3 && p.ks == 2:
		hresize2c3(s, d, p.xofs, p.alpha)
	case p.cn == 3:
		hresize4c3(s, d, p.xofs, p.alpha)
	case p.ks == 2:
		hresize2c1(s, d, p.xofs, p.alpha)
	default:
		hresize4c1(s, d, p.xofs, p.alpha)
	}
}

func hresize2c1(s []uint8, d []int32, xofs []int32, alpha []int16) {
	xofs = xofs[:2*len(d)]
	alpha = alpha[:2*len(d)]
	for j := range d {
		o := xofs[2*j : 2*j+2 : 2*j+2]
		a := alpha[2*j : 2*j+2 : 2*j+2]
		d[j] = int32(s[o[0]])*int32(a[0]) + int32(s[o[1]])*int32(a[1])
	}
}

func hresize4c1(s []uint8, d []int32, xofs []int32, alpha []int16) {
	xofs = xofs[:4*len(d)]
	alpha = alpha[:4*len(d)]
	for j := range d {
		o := xofs[4*j : 4*j+4 : 4*j+4]
		a := alpha[4*j : 4*j+4 : 4*j+4]
		d[j] = int32(s[o[0]])*int32(a[0]) + int32(s[o[1]])*int32(a[1]) +
			int32(s[o[2]])*int32(a[2]) + int32(s[o[3]])*int32(a[3])
	}
}

func hresize2c3(s []uint8, d []int32, xofs []int32, alpha []int16) {
	n := len(d) / 3
	xofs = xofs[:2*n]
	alpha = alpha[:2*n]
	for dx := 0; dx < n; dx++ {
		o0, o1 := int(xofs[2*dx]), int(xofs[2*dx+1])
		a0, a1 := int32(alpha[2*dx]), int32(alpha[2*dx+1])
		p0 := s[o0 : o0+3 : o0+3]
		p1 := s[o1 : o1+3 : o1+3]
		q := d[3*dx : 3*dx+3 : 3*dx+3]
		q[0] = int32(p0[0])*a0 + int32(p1[0])*a1
		q[1] = int32(p0[1])*a0 + int32(p1[1])*a1
		q[2] = int32(p0[2])*a0 + int32(p1[2])*a1
	}
}

func hresize4c3(s []uint8, d []int32, xofs []int32, alpha []int16) {
	n := len(d) / 3
	xofs = xofs[:4*n]
	alpha = alpha[:4*n]
	for dx := 0; dx < n; dx++ {
		o := xofs[4*dx : 4*dx+4 : 4*dx+4]
		a := alpha[4*dx : 4*dx+4 : 4*dx+4]
		a0, a1, a2, a3 := int32(a[0]), int32(a[1]), int32(a[2]), int32(a[3])
		p0 := s[o[0] : o[0]+3 : o[0]+3]
		p1 := s[o[1] : o[1]+3 : o[1]+3]
		p2 := s[o[2] : o[2]+3 : o[2]+3]
		p3 := s[o[3] : o[3]+3 : o[3]+3]
		q := d[3*dx : 3*dx+3 : 3*dx+3]
		q[0] = int32(p0[0])*a0 + int32(p1[0])*a1 + int32(p2[0])*a2 + int32(p3[0])*a3
		q[1] = int32(p0[1])*a0 + int32(p1[1])*a1 + int32(p2[1])*a2 + int32(p3[1])*a3
		q[2] = int32(p0[2])*a0 + int32(p1[2])*a1 + int32(p2[2])*a2 + int32(p3[2])*a3
	}
}

// groupWindow is the span of source bytes one HGroups group may read.
const groupWindow = 128

// buildGroups lays out the AVX-512 horizontal pass (simd.HGroups): the
// dw·cn output elements of a row, in order, cut into groups of at most 16
// whose taps all lie in a 128-byte window of the row; per group, the
// window's start, the tap bytes' positions in it and the weights. Rows
// shorter than the window keep the other kernels. Crops of every size
// get their own plan, so this is kept cheap.
func (p *plan) buildGroups() {
	cn, ks := p.cn, p.ks
	W, rowLen := p.dw*cn, p.sw*cn
	if rowLen < groupWindow || (ks != 2 && ks != 4) {
		return
	}
	est := W/8 + 1
	base, cnt := make([]int32, 0, est), make([]int32, 0, est)
	idx, w := make([]uint8, 0, est*ks*32), make([]int16, 0, est*ks*16)
	var zi [128]uint8
	var zw [64]int16
	var taps [4]int
	for j := 0; j < W; {
		b, start := -1, j
		idx, w = append(idx, zi[:ks*32]...), append(w, zw[:ks*16]...)
		gi, gw := idx[len(idx)-ks*32:], w[len(w)-ks*16:]
		for ; j < W && j-start < 16; j++ {
			x, c := j/cn, j%cn
			lo, hi := rowLen, 0
			for t := 0; t < ks; t++ {
				taps[t] = int(p.xofs[x*ks+t]) + c
				lo, hi = min(lo, taps[t]), max(hi, taps[t])
			}
			if b < 0 {
				b = min(lo, rowLen-groupWindow)
			}
			if lo < b || hi >= b+groupWindow {
				break
			}
			e := j - start
			for t := 0; t < ks; t++ {
				h, odd := t>>1, t&1
				gi[h*64+4*e+2*odd] = uint8(taps[t] - b)
				gw[h*32+2*e+odd] = p.alpha[x*ks+t]
			}
		}
		if j == start {
			return // taps wider than the window: keep the other kernels
		}
		base, cnt = append(base, int32(b)), append(cnt, int32(j-start))
	}
	p.ng, p.gbase, p.gcnt, p.gidx, p.gw = len(base), base, cnt, idx, w
}
