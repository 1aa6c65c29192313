// Package pyrepr prints values as Python's repr does: str, float and
// numpy float32 (numpy 1.x). PaddleClas prints its results and shitu reads
// and writes PaddleClas configs through these rules.
package pyrepr

import (
	"math"
	"strconv"
	"strings"
	"unicode"
)

// Str is Python's repr of a str: single quotes unless the text holds a
// single quote and no double quote; backslash escapes for \\, \n, \r, \t
// and other non-printable characters; printable non-ASCII text literally.
func Str(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == unicode.ReplacementChar:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(int(r)))
		case r < 0x7f || unicode.IsPrint(r):
			b.WriteRune(r)
		case r <= 0xff:
			b.WriteString(`\x` + hex2(int(r)))
		case r <= 0xffff:
			b.WriteString(`\u` + strconv.FormatInt(int64(r)|0x10000, 16)[1:])
		default:
			b.WriteString(`\U` + strconv.FormatInt(int64(r)|0x100000000, 16)[1:])
		}
	}
	b.WriteByte(q)
	return b.String()
}

func hex2(v int) string { return strconv.FormatInt(int64(v)|0x100, 16)[1:] }

// Float32 is numpy 1.x's repr of a float32: the shortest digits that
// round-trip in float32, positional for 1e-4 ≤ |x| < 1e16 (always with a
// decimal point), scientific otherwise ("1e-05").
func Float32(f float32) string { return float(float64(f), 32) }

// Float64 is Python's repr of a float, by the same rules with float64
// round-trip digits.
func Float64(f float64) string { return float(f, 64) }

func float(x float64, bits int) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	a := math.Abs(x)
	if a != 0 && (a < 1e-4 || a >= 1e16) {
		s := strconv.FormatFloat(x, 'e', -1, bits)
		// Go writes "1e-05" and "1.5e+16" like Python; keep as is.
		return s
	}
	s := strconv.FormatFloat(x, 'f', -1, bits)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}
