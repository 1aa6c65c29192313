//go:build amd64 && !purego

#include "textflag.h"

// func hgatherAVX2(s *uint8, d *int32, n int, ofs *int32, alpha *int32, plane int, ks int)
// d[j] = Σ_t s[ofs[t*plane+j]] * alpha[t*plane+j] for j < n (n a multiple of 8).
// Each tap reads a dword at s+ofs and keeps its low byte; callers make sure
// ofs+4 stays inside the row.
TEXT ·HGather(SB), NOSPLIT, $0-56
	MOVQ s+0(FP), SI
	MOVQ d+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ ofs+24(FP), R8
	MOVQ alpha+32(FP), R9
	MOVQ plane+40(FP), R10
	SHLQ $2, R10
	MOVQ ks+48(FP), R11
	VPCMPEQD Y15, Y15, Y15
	VPSRLD $24, Y15, Y14
	XORQ AX, AX

hloop:
	CMPQ CX, $8
	JLT  hdone
	VPXOR Y0, Y0, Y0
	MOVQ R8, R12
	MOVQ R9, R13
	MOVQ R11, BX

htap:
	VMOVDQU (R12)(AX*1), Y1
	VMOVDQA Y15, Y2
	VPXOR Y3, Y3, Y3
	VPGATHERDD Y2, (SI)(Y1*1), Y3
	VPAND Y14, Y3, Y3
	VMOVDQU (R13)(AX*1), Y4
	VPMULLD Y4, Y3, Y3
	VPADDD Y3, Y0, Y0
	ADDQ R10, R12
	ADDQ R10, R13
	DECQ BX
	JNZ  htap
	VMOVDQU Y0, (DI)(AX*1)
	ADDQ $32, AX
	SUBQ $8, CX
	JMP  hloop

hdone:
	VZEROUPPER
	RET

// func vlinearAVX2(t0, t1 *int32, out *uint8, n int, b0, b1 int32)
// out[x] = sat_u8(((b0*(t0[x]>>4))>>16 + (b1*(t1[x]>>4))>>16 + 2) >> 2), n a multiple of 8.
TEXT ·vlinear256(SB), NOSPLIT, $0-40
	MOVQ t0+0(FP), SI
	MOVQ t1+8(FP), DX
	MOVQ out+16(FP), DI
	MOVQ n+24(FP), CX
	MOVL b0+32(FP), R12
	MOVL b1+36(FP), R13
	MOVQ R12, X8
	MOVQ R13, X9
	VPBROADCASTD X8, Y8
	VPBROADCASTD X9, Y9
	VPCMPEQD Y10, Y10, Y10
	VPSRLD $31, Y10, Y10
	VPSLLD $1, Y10, Y10
	XORQ AX, AX
	XORQ BX, BX

vlloop:
	CMPQ CX, $8
	JLT  vldone
	VMOVDQU (SI)(AX*1), Y0
	VMOVDQU (DX)(AX*1), Y1
	VPSRAD $4, Y0, Y0
	VPSRAD $4, Y1, Y1
	VPMULLD Y8, Y0, Y0
	VPMULLD Y9, Y1, Y1
	VPSRAD $16, Y0, Y0
	VPSRAD $16, Y1, Y1
	VPADDD Y1, Y0, Y0
	VPADDD Y10, Y0, Y0
	VPSRAD $2, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW X1, X0, X0
	VPACKUSWB X0, X0, X0
	MOVQ X0, (DI)(BX*1)
	ADDQ $32, AX
	ADDQ $8, BX
	SUBQ $8, CX
	JMP  vlloop

vldone:
	VZEROUPPER
	RET

// func vcubicAVX2(t0, t1, t2, t3 *int32, out *uint8, n int, b *[4]float32)
// out[x] = sat_u8(round_even(t0*b0 + (t1*b1 + (t2*b2 + t3*b3)))) in float32
// without FMA, n a multiple of 8 (OpenCV's VResizeCubicVec_32s8u).
TEXT ·vcubic256(SB), NOSPLIT, $0-56
	MOVQ t0+0(FP), R8
	MOVQ t1+8(FP), R9
	MOVQ t2+16(FP), R10
	MOVQ t3+24(FP), R11
	MOVQ out+32(FP), DI
	MOVQ n+40(FP), CX
	MOVQ b+48(FP), DX
	VBROADCASTSS 0(DX), Y8
	VBROADCASTSS 4(DX), Y9
	VBROADCASTSS 8(DX), Y10
	VBROADCASTSS 12(DX), Y11
	XORQ AX, AX
	XORQ BX, BX

vcloop:
	CMPQ CX, $8
	JLT  vcdone
	VCVTDQ2PS (R11)(AX*1), Y3
	VMULPS Y11, Y3, Y3
	VCVTDQ2PS (R10)(AX*1), Y2
	VMULPS Y10, Y2, Y2
	VADDPS Y3, Y2, Y2
	VCVTDQ2PS (R9)(AX*1), Y1
	VMULPS Y9, Y1, Y1
	VADDPS Y2, Y1, Y1
	VCVTDQ2PS (R8)(AX*1), Y0
	VMULPS Y8, Y0, Y0
	VADDPS Y1, Y0, Y0
	VCVTPS2DQ Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKSSDW X1, X0, X0
	VPACKUSWB X0, X0, X0
	MOVQ X0, (DI)(BX*1)
	ADDQ $32, AX
	ADDQ $8, BX
	SUBQ $8, CX
	JMP  vcloop

vcdone:
	VZEROUPPER
	RET

// Byte shuffle for HLinear3: 8 source bytes p0.rgb p1.rgb x x become the
// words r0 r1 g0 g1 b0 b1 0 0.
DATA lin3shuf<>+0(SB)/8, $0x8004800180038000
DATA lin3shuf<>+8(SB)/8, $0x8080808080058002
GLOBL lin3shuf<>(SB), RODATA|NOPTR, $16

// func HLinear3(s *uint8, d *int32, n int, ofs *int32, w *int16)
// For dx < n: d[3dx+c] = s[ofs[dx]+c]*w[8dx] + s[ofs[dx]+3+c]*w[8dx+1]
// (w holds a0 a1 a0 a1 a0 a1 0 0 per dx). Writes one int32 past 3n; reads
// 8 bytes at s+ofs[dx].
TEXT ·HLinear3(SB), NOSPLIT, $0-40
	MOVQ s+0(FP), SI
	MOVQ d+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ ofs+24(FP), R8
	MOVQ w+32(FP), R9
	MOVOU lin3shuf<>(SB), X7
	TESTQ CX, CX
	JEQ  l3done

l3loop:
	MOVLQSX (R8), AX
	MOVQ (SI)(AX*1), X0
	PSHUFB X7, X0
	PMADDWL (R9), X0
	MOVOU X0, (DI)
	ADDQ $4, R8
	ADDQ $16, R9
	ADDQ $12, DI
	DECQ CX
	JNZ  l3loop

l3done:
	RET

// Pairs (i, i+3) of 12 bytes made adjacent for PMADDUBSW.
DATA area3shuf<>+0(SB)/8, $0x0906050204010300
DATA area3shuf<>+8(SB)/8, $0x808080800b080a07
GLOBL area3shuf<>(SB), RODATA|NOPTR, $16

DATA bytes1<>+0(SB)/8, $0x0101010101010101
DATA bytes1<>+8(SB)/8, $0x0101010101010101
GLOBL bytes1<>(SB), RODATA|NOPTR, $16

DATA words2<>+0(SB)/8, $0x0002000200020002
DATA words2<>+8(SB)/8, $0x0002000200020002
GLOBL words2<>(SB), RODATA|NOPTR, $16

// func Area2(r0, r1, d *uint8, n int, cn int)
// Exact 2×2 INTER_AREA, (a+b+c+d+2)>>2. cn 3: n groups of 2 output
// pixels, reading 16 bytes at r+12i and writing 8 bytes at d+6i. cn 1: n
// groups of 8 outputs, reading 16 bytes at r+16i, writing 8 at d+8i.
TEXT ·Area2(SB), NOSPLIT, $0-40
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DX
	MOVQ d+16(FP), DI
	MOVQ n+24(FP), CX
	MOVQ cn+32(FP), BX
	MOVOU bytes1<>(SB), X6
	MOVOU words2<>(SB), X5
	MOVOU area3shuf<>(SB), X7
	TESTQ CX, CX
	JEQ  a2done
	CMPQ BX, $3
	JEQ  a2loop3

a2loop1:
	MOVOU (SI), X0
	MOVOU (DX), X1
	PMADDUBSW X6, X0
	PMADDUBSW X6, X1
	PADDW X1, X0
	PADDW X5, X0
	PSRLW $2, X0
	PACKUSWB X0, X0
	MOVQ X0, (DI)
	ADDQ $16, SI
	ADDQ $16, DX
	ADDQ $8, DI
	DECQ CX
	JNZ  a2loop1
	JMP  a2done

a2loop3:
	MOVOU (SI), X0
	MOVOU (DX), X1
	PSHUFB X7, X0
	PSHUFB X7, X1
	PMADDUBSW X6, X0
	PMADDUBSW X6, X1
	PADDW X1, X0
	PADDW X5, X0
	PSRLW $2, X0
	PACKUSWB X0, X0
	MOVQ X0, (DI)
	ADDQ $12, SI
	ADDQ $12, DX
	ADDQ $6, DI
	DECQ CX
	JNZ  a2loop3

a2done:
	RET

// func HGroups(s *uint8, d *int32, ng int, base *int32, cnt *int32, idx *uint8, w *int16, ks int, pf *uint8)
// AVX-512 (F, BW, VBMI) horizontal pass in groups of up to 16 output
// elements whose taps lie in the 128 bytes at s+base[g]: per group and
// half h < ks/2, VPERMI2B picks the tap bytes named by 64 index bytes into
// the low bytes of 32 words (the high bytes zeroed by the mask), VPMADDWD
// multiplies them by 32 weights and adds the pairs; the halves are added
// and cnt[g] int32 are stored at d, which then moves on by cnt[g]. The
// same windows of the row at pf (the next one to be filtered) are
// prefetched.
TEXT ·HGroups(SB), NOSPLIT, $0-72
	MOVQ s+0(FP), SI
	MOVQ d+8(FP), DI
	MOVQ ng+16(FP), CX
	MOVQ base+24(FP), R8
	MOVQ cnt+32(FP), R9
	MOVQ idx+40(FP), R10
	MOVQ w+48(FP), R11
	MOVQ ks+56(FP), R12
	MOVQ pf+64(FP), R13
	MOVQ $0x5555555555555555, AX
	KMOVQ AX, K1
	TESTQ CX, CX
	JEQ  hgdone
	CMPQ R12, $4
	JEQ  hgloop4

hgloop2:
	MOVLQSX (R8), AX
	PREFETCHT0 (R13)(AX*1)
	PREFETCHT0 64(R13)(AX*1)
	VMOVDQU8 (SI)(AX*1), Z1
	VMOVDQU8 64(SI)(AX*1), Z2
	VMOVDQU8 (R10), Z0
	VPERMI2B.Z Z2, Z1, K1, Z0
	VPMADDWD (R11), Z0, Z0
	MOVL (R9), DX
	MOVL $1, BX
	SHLXL DX, BX, BX
	DECL BX
	KMOVW BX, K2
	VMOVDQU32 Z0, K2, (DI)
	LEAQ (DI)(DX*4), DI
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ CX
	JNZ  hgloop2
	JMP  hgdone

hgloop4:
	MOVLQSX (R8), AX
	PREFETCHT0 (R13)(AX*1)
	PREFETCHT0 64(R13)(AX*1)
	VMOVDQU8 (SI)(AX*1), Z1
	VMOVDQU8 64(SI)(AX*1), Z2
	VMOVDQU8 (R10), Z0
	VMOVDQU8 64(R10), Z3
	VPERMI2B.Z Z2, Z1, K1, Z0
	VPERMI2B.Z Z2, Z1, K1, Z3
	VPMADDWD (R11), Z0, Z0
	VPMADDWD 64(R11), Z3, Z3
	VPADDD Z3, Z0, Z0
	MOVL (R9), DX
	MOVL $1, BX
	SHLXL DX, BX, BX
	DECL BX
	KMOVW BX, K2
	VMOVDQU32 Z0, K2, (DI)
	LEAQ (DI)(DX*4), DI
	ADDQ $4, R8
	ADDQ $4, R9
	ADDQ $128, R10
	ADDQ $128, R11
	DECQ CX
	JNZ  hgloop4

hgdone:
	VZEROUPPER
	RET

// func vlinear512(t0, t1 *int32, out *uint8, n int, b0, b1 int32)
// VLinear with 16 elements a step (n a multiple of 16).
TEXT ·vlinear512(SB), NOSPLIT, $0-40
	MOVQ t0+0(FP), SI
	MOVQ t1+8(FP), DX
	MOVQ out+16(FP), DI
	MOVQ n+24(FP), CX
	MOVL b0+32(FP), R12
	MOVL b1+36(FP), R13
	VPBROADCASTD R12, Z8
	VPBROADCASTD R13, Z9
	MOVL $2, AX
	VPBROADCASTD AX, Z10
	VPXORD Z11, Z11, Z11
	XORQ AX, AX
	XORQ BX, BX

vl5loop:
	CMPQ CX, $16
	JLT  vl5done
	VMOVDQU32 (SI)(AX*1), Z0
	VMOVDQU32 (DX)(AX*1), Z1
	VPSRAD $4, Z0, Z0
	VPSRAD $4, Z1, Z1
	VPMULLD Z8, Z0, Z0
	VPMULLD Z9, Z1, Z1
	VPSRAD $16, Z0, Z0
	VPSRAD $16, Z1, Z1
	VPADDD Z1, Z0, Z0
	VPADDD Z10, Z0, Z0
	VPSRAD $2, Z0, Z0
	VPMAXSD Z11, Z0, Z0
	VPMOVUSDB Z0, X0
	VMOVDQU X0, (DI)(BX*1)
	ADDQ $64, AX
	ADDQ $16, BX
	SUBQ $16, CX
	JMP  vl5loop

vl5done:
	VZEROUPPER
	RET

// func vcubic512(t0, t1, t2, t3 *int32, out *uint8, n int, b *[4]float32)
// VCubic with 16 elements a step (n a multiple of 16).
TEXT ·vcubic512(SB), NOSPLIT, $0-56
	MOVQ t0+0(FP), R8
	MOVQ t1+8(FP), R9
	MOVQ t2+16(FP), R10
	MOVQ t3+24(FP), R11
	MOVQ out+32(FP), DI
	MOVQ n+40(FP), CX
	MOVQ b+48(FP), DX
	VBROADCASTSS 0(DX), Z8
	VBROADCASTSS 4(DX), Z9
	VBROADCASTSS 8(DX), Z10
	VBROADCASTSS 12(DX), Z11
	VPXORD Z12, Z12, Z12
	XORQ AX, AX
	XORQ BX, BX

vc5loop:
	CMPQ CX, $16
	JLT  vc5done
	VCVTDQ2PS (R11)(AX*1), Z3
	VMULPS Z11, Z3, Z3
	VCVTDQ2PS (R10)(AX*1), Z2
	VMULPS Z10, Z2, Z2
	VADDPS Z3, Z2, Z2
	VCVTDQ2PS (R9)(AX*1), Z1
	VMULPS Z9, Z1, Z1
	VADDPS Z2, Z1, Z1
	VCVTDQ2PS (R8)(AX*1), Z0
	VMULPS Z8, Z0, Z0
	VADDPS Z1, Z0, Z0
	VCVTPS2DQ Z0, Z0
	VPMAXSD Z12, Z0, Z0
	VPMOVUSDB Z0, X0
	VMOVDQU X0, (DI)(BX*1)
	ADDQ $64, AX
	ADDQ $16, BX
	SUBQ $16, CX
	JMP  vc5loop

vc5done:
	VZEROUPPER
	RET
