package gallery

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of what an item may carry. Labels end up in id_map.pkl, in
// PaddleClas-format output lines and in terminal tables, so characters
// that break those (control characters, line separators, bidirectional
// overrides) are refused where an item enters the gallery.
const (
	MaxLabelBytes  = 512       // a label, in UTF-8 bytes
	MaxSourceBytes = 4096      // a source path
	MaxMetaKeys    = 64        // metadata keys per item
	MaxMetaBytes   = 4096      // one metadata key or value
	maxItemMeta    = 64 * 1024 // all metadata of one item
)

// CheckLabel reports whether label may be stored: non-empty after trimming
// spaces, valid UTF-8, at most MaxLabelBytes, and without control
// characters (NUL, TAB, newlines, DEL, C1), line or paragraph separators, or
// bidirectional embedding, override, isolate and mark characters. The error
// wraps ErrLabel and names the offending character.
func CheckLabel(label string) error {
	if strings.TrimSpace(label) == "" {
		return fmt.Errorf("%w: empty label", ErrLabel)
	}
	return checkText("label", label, MaxLabelBytes)
}

func checkText(what, s string, maxBytes int) error {
	if len(s) > maxBytes {
		return fmt.Errorf("%w: %s is %d bytes, at most %d are allowed", ErrLabel, what, len(s), maxBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrLabel, what, s)
	}
	for i, r := range s {
		if badRune(r) {
			return fmt.Errorf("%w: %s %q has the control or direction character %U at byte %d (not allowed: it breaks id_map.pkl and printed output)",
				ErrLabel, what, s, r, i)
		}
	}
	return nil
}

// badRune is a character refused in labels and metadata.
func badRune(r rune) bool {
	switch {
	case unicode.IsControl(r): // C0 (NUL, TAB, LF, CR, …), DEL and C1
		return true
	case r == '\u2028' || r == '\u2029': // line and paragraph separators
		return true
	case r >= '\u202a' && r <= '\u202e': // LRE, RLE, PDF, LRO, RLO
		return true
	case r >= '\u2066' && r <= '\u2069': // LRI, RLI, FSI, PDI
		return true
	case r == '\u200e' || r == '\u200f' || r == '\u061c': // LRM, RLM, ALM
		return true
	}
	return false
}

// checkItemText validates the text fields of an item to add.
func checkItemText(it *Item) error {
	if err := CheckLabel(it.Label); err != nil {
		return err
	}
	if len(it.Source) > MaxSourceBytes {
		return fmt.Errorf("%w: source is %d bytes, at most %d are allowed", ErrLabel, len(it.Source), MaxSourceBytes)
	}
	if !utf8.ValidString(it.Source) || strings.ContainsRune(it.Source, 0) {
		return fmt.Errorf("%w: source %q is not valid UTF-8 or has a NUL byte", ErrLabel, it.Source)
	}
	if len(it.Meta) > MaxMetaKeys {
		return fmt.Errorf("%w: %d metadata keys, at most %d are allowed", ErrLabel, len(it.Meta), MaxMetaKeys)
	}
	total := 0
	for k, v := range it.Meta {
		if k == "" {
			return fmt.Errorf("%w: empty metadata key", ErrLabel)
		}
		if err := checkText("metadata key", k, MaxMetaBytes); err != nil {
			return err
		}
		if err := checkText("metadata value", v, MaxMetaBytes); err != nil {
			return err
		}
		total += len(k) + len(v)
	}
	if total > maxItemMeta {
		return fmt.Errorf("%w: item metadata is %d bytes, at most %d are allowed", ErrLabel, total, maxItemMeta)
	}
	return nil
}

// CheckItem reports whether an item's label, source and metadata may be
// stored (Add checks them too; callers use it to refuse early).
func CheckItem(it Item) error { return checkItemText(&it) }
