package paddle

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

// docs/paddle-ops.md lists exactly the ops SupportedOps converts.
func TestSupportedOpsDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "paddle-ops.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| ([^|]*)\\|").FindAllStringSubmatch(string(b), -1) {
		for _, op := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(m[1], -1) {
			documented[op[1]] = true
		}
	}
	// `_sub`-style shorthands in the elementwise row.
	for _, s := range []string{"sub", "mul", "div", "pow", "max", "min"} {
		if documented["_"+s] {
			documented["elementwise_"+s] = true
			delete(documented, "_"+s)
		}
	}
	supported := map[string]bool{}
	for _, op := range SupportedOps() {
		supported[op] = true
		if !documented[op] {
			t.Errorf("op %s is converted but not listed in docs/paddle-ops.md", op)
		}
	}
	var extra []string
	for op := range documented {
		if !supported[op] {
			extra = append(extra, op)
		}
	}
	sort.Strings(extra)
	for _, op := range extra {
		t.Errorf("docs/paddle-ops.md lists %s, which is not converted", op)
	}
}
