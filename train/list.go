package train

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Sample is one line of an image list.
type Sample struct {
	Path  string // resolved against the image root
	Label string
	Line  int
}

// ReadList reads a labelled image list: `path<TAB>label` (the gallery's
// data_file format) or PaddleClas' training format `path label` (fields
// separated by spaces). Paths are taken relative to root. Blank lines and
// lines starting with '#' are skipped; a line without a label is an error
// naming the line.
func ReadList(file, root string) ([]Sample, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrData, err)
	}
	defer f.Close()
	var out []Sample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(strings.TrimSpace(s), "#") {
			continue
		}
		var p, l string
		if i := strings.IndexByte(s, '\t'); i >= 0 {
			p, l = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
		} else if fs := strings.Fields(s); len(fs) >= 2 {
			p, l = fs[0], fs[1]
		}
		if p == "" || l == "" {
			return nil, fmt.Errorf("%w: %s:%d: want \"path<TAB>label\"", ErrData, file, line)
		}
		if !filepath.IsAbs(p) && root != "" {
			p = filepath.Join(root, p)
		}
		out = append(out, Sample{Path: p, Label: l, Line: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrData, file, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no images", ErrData, file)
	}
	return out, nil
}

// checkFiles reports every line whose image is missing (at most 20 named).
func checkFiles(file string, ss []Sample) error {
	var bad []string
	n := 0
	for _, s := range ss {
		st, err := os.Stat(s.Path)
		if err == nil && st.Mode().IsRegular() {
			continue
		}
		n++
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf("%s:%d: %s: no such image", file, s.Line, s.Path))
		}
	}
	if n == 0 {
		return nil
	}
	more := ""
	if n > len(bad) {
		more = fmt.Sprintf(" (and %d more)", n-len(bad))
	}
	return fmt.Errorf("%w: %d missing images: %s%s", ErrData, n, strings.Join(bad, "; "), more)
}
