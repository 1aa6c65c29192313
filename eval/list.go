package eval

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ListEntry is one line of a PaddleClas metric-learning list file:
// `path label [unique_id]`, fields separated by spaces, or by TABs (then a
// label may contain spaces).
type ListEntry struct {
	Path     string `json:"path"`
	Label    string `json:"label"`
	UniqueID string `json:"unique_id,omitempty"` // empty when the line has no 3rd field
	Line     int    `json:"line"`                // 1-based line number in the file
}

// ParseList reads a list file in PaddleClas' format
// (ppshitu-pipeline.md §16.1, docs/zh_CN/training/metric_learning/dataset.md):
// each non-blank line is `path label [unique_id]`. PaddleClas splits these
// lines on whitespace; so does ParseList, except that a line holding a TAB
// is split on TABs only, each field trimmed, as gallery data_files are
// (§11.1, delimiter TAB): `path<TAB>安慕希 酸奶` has the label "安慕希 酸奶",
// the label gallery build gives it, where PaddleClas would read label 安慕希
// and unique id 酸奶. Lines with fewer than two or more than three fields,
// or an empty TAB field, are errors (a 4th space-separated field almost
// always means a path or label containing spaces: separate the fields with
// TABs). Blank lines are skipped. Labels and unique ids are compared as
// strings.
func ParseList(r io.Reader) ([]ListEntry, error) {
	var out []ListEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\uFEFF")
		}
		f, tabs := listFields(line)
		switch {
		case len(f) == 0:
			continue
		case len(f) < 2:
			return nil, fmt.Errorf("%w: line %d: want `path label [unique_id]`, got %q", ErrListFormat, n, truncate(line))
		case len(f) > 3 && tabs:
			return nil, fmt.Errorf("%w: line %d: %d TAB-separated fields, want `path<TAB>label[<TAB>unique_id]`: %q", ErrListFormat, n, len(f), truncate(line))
		case len(f) > 3:
			return nil, fmt.Errorf("%w: line %d: %d fields (a path or label with spaces needs TABs between the fields): %q", ErrListFormat, n, len(f), truncate(line))
		case slices.Contains(f, ""):
			return nil, fmt.Errorf("%w: line %d: empty TAB-separated field: %q", ErrListFormat, n, truncate(line))
		}
		e := ListEntry{Path: f[0], Label: f[1], Line: n}
		if len(f) == 3 {
			e.UniqueID = f[2]
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrListFormat, n+1, err)
	}
	return out, nil
}

// listFields splits a list line: on TABs (fields trimmed) when it holds
// one, else on whitespace. tabs reports which.
func listFields(line string) (f []string, tabs bool) {
	s := strings.TrimSpace(line)
	if !strings.Contains(s, "\t") {
		return strings.Fields(s), false
	}
	f = strings.Split(s, "\t")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	return f, true
}

// ReadList opens and parses a list file (see ParseList).
func ReadList(path string) ([]ListEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	es, err := ParseList(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return es, nil
}

// ResolvePaths joins root with every relative entry path (absolute paths
// are kept, as os.path.join does) and returns the paths in order.
func ResolvePaths(root string, es []ListEntry) []string {
	ps := make([]string, len(es))
	for i, e := range es {
		if root == "" || filepath.IsAbs(e.Path) {
			ps[i] = e.Path
		} else {
			ps[i] = filepath.Join(root, e.Path)
		}
	}
	return ps
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
