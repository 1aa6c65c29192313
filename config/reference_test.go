package config

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shitu-go/shitu/internal/testutil"
)

func sharedConfigs(t testing.TB) string {
	return filepath.Join(testutil.SharedDir(t), "testdata", "configs", "paddleclas")
}

// TestReference compares the raw tree with what PaddleClas' Python sees
// (testdata/gen_reference.py: PyYAML SafeLoader, the literal_eval pass and
// override_config with eval), through Python's repr.
func TestReference(t *testing.T) {
	dir := sharedConfigs(t)
	f, err := os.Open(filepath.Join("testdata", "reference.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	files, opts := 0, 0
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		switch fields[0] {
		case "file":
			files++
			c, err := Load(filepath.Join(dir, fields[1]), nil)
			if err != nil {
				t.Errorf("%s: %v", fields[1], err)
				continue
			}
			if got := c.Raw.Repr(); got != fields[2] {
				t.Errorf("%s:\n got  %s\n want %s", fields[1], got, fields[2])
			}
		case "opt":
			opts++
			opt := fields[1]
			c, err := Load(filepath.Join(dir, "inference_general.yaml"), nil)
			if err != nil {
				t.Fatal(err)
			}
			err = Override(c.Raw, opt)
			if fields[2] == "ERROR" {
				if err == nil {
					t.Errorf("-o %q: want an error, got none", opt)
				}
				continue
			}
			if err != nil {
				t.Errorf("-o %q: %v", opt, err)
				continue
			}
			sec, _ := c.Raw.Get(fields[2])
			if got := sec.Repr(); got != fields[3] {
				t.Errorf("-o %q:\n got  %s\n want %s", opt, got, fields[3])
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if files < 10 || opts < 50 {
		t.Fatalf("reference has %d files and %d options; regenerate it", files, opts)
	}
}
