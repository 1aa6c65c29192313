package config

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary YAML and one -o option: Parse must return a
// config or an error, never panic, and a successful load must print.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample), "Global.batch_size=2")
	f.Add([]byte("a: &x [1, *x]\n"), "a.0=1")
	f.Add([]byte("Global: {threshold: \"[1, {'a': 2}]\"}\n"), "Global.threshold=1/3")
	f.Add([]byte("RecPreProcess:\n  transform_ops:\n    - ResizeImage: {resize_short: 1}\n"), "RecPreProcess.transform_ops.-1.ResizeImage.size=[2,3]")
	f.Fuzz(func(t *testing.T, data []byte, opt string) {
		var opts []string
		if opt != "" {
			opts = []string{opt}
		}
		c, err := Parse(data, "fuzz.yaml", opts)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		_ = c.Raw.Repr()
	})
}

// FuzzEval checks that Eval and LiteralEval never panic and that a value
// Eval prints as a repr evaluates back to the same repr.
func FuzzEval(f *testing.F) {
	for _, s := range []string{"1/255", "[1, (2, 3), {'a': None}]", "-2**-2", "0x_1f", "'\\x41'", "1e400", "7 // -2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = LiteralEval(s)
		v, err := Eval(s)
		if err != nil {
			return
		}
		r := v.Repr()
		if strings.Contains(r, "inf") || strings.Contains(r, "nan") {
			return // Python prints these as names, not literals
		}
		w, err := Eval(r)
		if err != nil {
			t.Fatalf("Eval(%q) = %s, which does not evaluate: %v", s, r, err)
		}
		if w.Repr() != r {
			t.Fatalf("Eval(%q) = %s, re-evaluates to %s", s, r, w.Repr())
		}
	})
}
