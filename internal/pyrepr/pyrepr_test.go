package pyrepr

import "testing"

func TestStr(t *testing.T) {
	cases := map[string]string{
		"元气森林":      `'元气森林'`,
		"a b":       `'a b'`,
		"it's":      `"it's"`,
		`say "x"`:   `'say "x"'`,
		`both '"`:   `'both \'"'`,
		`back\`:     `'back\\'`,
		"tab\tnl\n": `'tab\tnl\n'`,
		"\x01":      `'\x01'`,
	}
	for in, want := range cases {
		if got := Str(in); got != want {
			t.Errorf("Str(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestFloat32(t *testing.T) {
	// Expected values as numpy 1.24 prints repr(np.float32(x)).
	cases := []struct {
		in   float32
		want string
	}{
		{0.7740249, "0.7740249"},
		{0.74081033, "0.74081033"},
		{0.5, "0.5"},
		{1, "1.0"},
		{0, "0.0"},
		{1e-5, "1e-05"},
		{0.0001, "1e-04"}, // float32(1e-4) is just below 1e-4
		{-0.25, "-0.25"},
		{123456.5, "123456.5"},
		{1e16, "1e+16"},
		{0.00012, "0.00012"},
	}
	for _, c := range cases {
		if got := Float32(c.in); got != c.want {
			t.Errorf("Float32(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestFloat64(t *testing.T) {
	// Python: repr(1/255), repr(1e16), repr(1e-5), repr(2.0), repr(0.1)
	cases := map[float64]string{1.0 / 255: "0.00392156862745098", 1e16: "1e+16", 1e-5: "1e-05", 2: "2.0", 0.1: "0.1"}
	for in, want := range cases {
		if got := Float64(in); got != want {
			t.Errorf("Float64(%v) = %s, want %s", in, got, want)
		}
	}
}
