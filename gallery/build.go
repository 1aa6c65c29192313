package gallery

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Line is one parsed list line (ppshitu-pipeline.md §11.1).
type Line struct {
	No     int    // 1-based line number
	Source string // first column, as written
	Path   string // Source joined to the image root (absolute Source kept)
	Label  string // second column
	Doc    string // the whole stripped line, as PaddleClas stores it
	// Meta holds extra columns of the form key=value.
	Meta map[string]string
}

// Problem is a line that was skipped, with its reason.
type Problem struct {
	Line   int
	Path   string
	Reason string
	// Kept marks a note about a line that was used all the same (an
	// extra column that was ignored); strict builds do not stop on it.
	Kept bool
}

func (p Problem) String() string {
	s := fmt.Sprintf("line %d: %s", p.Line, p.Reason)
	if p.Path != "" {
		s = fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Reason)
	}
	if p.Kept {
		s += " (line used)"
	}
	return s
}

// ParseList reads a PaddleClas data_file: each line is stripped of leading
// and trailing whitespace and split on delim (default TAB); it needs at
// least two parts (path, label). The label is the whole second part, spaces
// included (`path<TAB>安慕希 酸奶` → "安慕希 酸奶"). With delim " " (as in
// evaluation_general.yaml) a line holding a TAB is split on TABs, so such a
// label stays whole there too and eval's list reader agrees; PaddleClas
// would take "path<TAB>安慕希" for the image path and fail (§11.1). Extra
// columns of the form key=value become metadata. Blank lines are skipped
// (PaddleClas aborts on them); malformed lines are returned as problems
// with their line number and reason.
func ParseList(r io.Reader, imageRoot, delim string) ([]Line, []Problem, error) {
	if delim == "" {
		delim = "\t"
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var lines []Line
	var probs []Problem
	no := 0
	for sc.Scan() {
		no++
		raw := sc.Text()
		if no == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		if !utf8.ValidString(s) {
			probs = append(probs, Problem{Line: no, Reason: "not valid UTF-8"})
			continue
		}
		d := delim
		if d == " " && strings.Contains(s, "\t") {
			d = "\t"
		}
		parts := strings.Split(s, d)
		if lead := strings.TrimLeft(raw, " "); len(parts) < 2 && strings.Contains(lead, d) {
			// The trimming took the delimiter: "<TAB>cola" has no path,
			// "a.jpg<TAB>" no label.
			if strings.HasPrefix(lead, d) {
				probs = append(probs, Problem{Line: no, Reason: "empty path"})
			} else {
				probs = append(probs, Problem{Line: no, Path: s, Reason: "empty label (nothing after the delimiter)"})
			}
			continue
		}
		if len(parts) < 2 {
			reason := fmt.Sprintf("want <path>%s<label>, found no %q delimiter", delimName(delim), delim)
			if delim == "\t" && strings.Contains(s, " ") {
				reason += " (spaces instead of a TAB? set the delimiter to \" \")"
			}
			probs = append(probs, Problem{Line: no, Reason: reason})
			continue
		}
		src, label := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		if src == "" {
			probs = append(probs, Problem{Line: no, Reason: "empty path"})
			continue
		}
		if label == "" {
			probs = append(probs, Problem{Line: no, Path: src, Reason: "empty label"})
			continue
		}
		if err := CheckLabel(label); err != nil {
			probs = append(probs, Problem{Line: no, Path: src, Reason: strings.TrimPrefix(err.Error(), "gallery: ")})
			continue
		}
		l := Line{No: no, Source: src, Label: label, Doc: s, Path: src}
		if !filepath.IsAbs(src) && imageRoot != "" {
			l.Path = filepath.Join(imageRoot, src)
		}
		for i, extra := range parts[2:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(extra), "="); ok && k != "" {
				if l.Meta == nil {
					l.Meta = map[string]string{}
				}
				l.Meta[k] = v
			} else if strings.TrimSpace(extra) != "" {
				probs = append(probs, Problem{Line: no, Path: src, Kept: true,
					Reason: fmt.Sprintf("column %d %q ignored (only key=value columns after the label become metadata)", i+3, extra)})
			}
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("gallery: read list: %w", err)
	}
	return lines, probs, nil
}

// reasonOf is err's message without the path the problem line names
// already (error lines name the file once).
func reasonOf(err error, path string) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == path {
		return pe.Op + ": " + pe.Err.Error()
	}
	return strings.ReplaceAll(err.Error(), path+": ", "")
}

// firstBad is the first problem that skipped its line, or nil.
func firstBad(probs []Problem) *Problem {
	for i := range probs {
		if !probs[i].Kept {
			return &probs[i]
		}
	}
	return nil
}

func delimName(d string) string {
	switch d {
	case "\t":
		return "<TAB>"
	case " ":
		return "<SPACE>"
	}
	return d
}

// BuildOptions configure Build. Zero values: TAB delimiter, incremental
// (no removal), lenient (bad lines and images skipped), commits every 1024
// items.
type BuildOptions struct {
	List      string // the data_file path
	ImageRoot string // prefix of relative paths (default: none)
	Delimiter string // column separator (default TAB)
	// Sync also removes items (with a source path) whose (path, label) line
	// is no longer in the list.
	Sync bool
	// Strict stops at the first bad line or image and leaves the gallery
	// unchanged; otherwise they are reported in Summary.Problems and skipped.
	Strict bool
	// Extractor makes the features of new or changed images.
	Extractor Extractor
	// Progress, when set, is called as images are processed (done of total).
	Progress func(done, total int)
	// CommitEvery is the number of items per durable commit in lenient
	// mode (default 1024); strict builds commit once.
	CommitEvery int
}

// Summary reports what a build did.
type Summary struct {
	Lines     int // well-formed list lines
	Added     int // new items
	Updated   int // items whose image content changed (re-extracted, same line)
	Unchanged int
	Removed   int
	Extracted int // images run through the model
	Reused    int // new items whose vector was reused from identical content
	Problems  []Problem
	Elapsed   time.Duration
}

func (s Summary) String() string {
	return fmt.Sprintf("%d lines: %d added, %d updated, %d unchanged, %d removed; %d extracted, %d reused; %d problems; %s",
		s.Lines, s.Added, s.Updated, s.Unchanged, s.Removed, s.Extracted, s.Reused, len(s.Problems), s.Elapsed.Round(time.Millisecond))
}

// Build brings the gallery in line with a list file, incrementally: lines
// whose (path, label) is already stored with the same content sha256 cost
// one hash and nothing else; new content is extracted; content identical to
// a stored item reuses its vector; changed images are re-extracted and
// replace their item. With Sync, items whose line vanished are removed.
func (g *Gallery) Build(ctx context.Context, o BuildOptions) (Summary, error) {
	start := time.Now()
	f, err := os.Open(o.List)
	if err != nil {
		return Summary{}, fmt.Errorf("gallery: %w", err)
	}
	lines, probs, err := ParseList(f, o.ImageRoot, o.Delimiter)
	f.Close()
	if err != nil {
		return Summary{}, err
	}
	sum := Summary{Lines: len(lines), Problems: probs}
	if bad := firstBad(probs); o.Strict && bad != nil {
		return sum, fmt.Errorf("%w: %s (strict: gallery unchanged)", ErrListLine, bad)
	}
	if o.CommitEvery <= 0 {
		o.CommitEvery = 1024
	}
	// Serialise builds with other writers for the planning phase only:
	// commits take the lock themselves.
	g.mu.Lock()
	if g.db == nil {
		g.mu.Unlock()
		return sum, ErrClosed
	}
	st := g.view.Load()
	g.mu.Unlock()
	// Lookup maps are built per build rather than kept: they would cost
	// ~150 bytes per item for the gallery's whole life.
	keys := make(map[string]int64, st.n)
	known := make(map[[32]byte]int64, st.n) // content → an item with it
	st.each(func(e *entry) {
		keys[itemKey(e.source, e.label)] = e.id
		if e.hasSHA {
			known[e.sha] = e.id
		}
	})

	type job struct {
		line  Line
		sha   [32]byte
		old   int64 // item replaced, or -1
		reuse int64 // item whose vector is reused, or -1
	}
	var jobs []job
	var removes []int64
	inList := map[string]int{}
	bySHA := map[[32]byte]int64{}
	hashes, herrs := hashAll(ctx, lines)
	for li, l := range lines {
		k := itemKey(l.Source, l.Label)
		if first, dup := inList[k]; dup {
			sum.Problems = append(sum.Problems, Problem{Line: l.No, Path: l.Path, Reason: fmt.Sprintf("duplicate of line %d, skipped", first)})
			continue
		}
		inList[k] = l.No
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		sha, err := hashes[li], herrs[li]
		if err != nil {
			p := Problem{Line: l.No, Path: l.Path, Reason: reasonOf(err, l.Path)}
			if o.Strict {
				return sum, fmt.Errorf("%w: %s (strict: gallery unchanged)", ErrImage, p)
			}
			sum.Problems = append(sum.Problems, p)
			continue
		}
		j := job{line: l, sha: sha, old: -1, reuse: -1}
		if id, ok := keys[k]; ok {
			if e := st.get(id); e != nil && e.hasSHA && e.sha == sha && e.Doc() == l.Doc {
				sum.Unchanged++
				continue
			} else if e != nil && e.hasSHA && e.sha == sha {
				j.reuse = id // same image, new doc line or metadata
			}
			j.old = id
		}
		if j.reuse < 0 {
			if id, ok := known[sha]; ok {
				j.reuse = id
			} else if id, ok := bySHA[sha]; ok {
				j.reuse = -2 - id // index into jobs: same content earlier in this list
			}
		}
		if j.reuse == -1 {
			bySHA[sha] = int64(len(jobs))
		}
		jobs = append(jobs, j)
	}
	if o.Sync {
		st.each(func(e *entry) {
			if e.source != "" {
				if _, ok := inList[itemKey(e.source, e.label)]; !ok {
					removes = append(removes, e.id)
				}
			}
		})
	}

	// Extract what is new, in list order.
	var paths []string
	var slot []int
	for i, j := range jobs {
		if j.reuse == -1 {
			paths = append(paths, j.line.Path)
			slot = append(slot, i)
		}
	}
	vecs := make([][]float32, len(jobs))
	failed := make([]bool, len(jobs))
	pending := change{removes: removes}
	flushed := 0 // jobs[:flushed] are queued or committed
	total := len(jobs)
	done := 0
	// queue moves finished jobs (in order) into the pending change and
	// commits it in lenient mode when it is large enough.
	queue := func(upto int, final bool) error {
		for ; flushed < upto; flushed++ {
			j := jobs[flushed]
			done++
			if failed[flushed] {
				continue
			}
			it := Item{Label: j.line.Label, Source: j.line.Source, SHA256: hex.EncodeToString(j.sha[:]), Doc: j.line.Doc, Meta: j.line.Meta}
			switch {
			case j.reuse == -1:
				it.Vector = vecs[flushed]
				sum.Extracted++
			case j.reuse <= -2:
				src := int(-2 - j.reuse)
				if failed[src] {
					failed[flushed] = true
					continue
				}
				it.Vector = vecs[src]
				sum.Reused++
			default:
				v, err := g.Get(j.reuse)
				if err != nil {
					return err
				}
				it.Vector, it.Code = v.Vector, v.Code
				if j.reuse != j.old {
					sum.Reused++
				}
			}
			if j.old >= 0 {
				pending.removes = append(pending.removes, j.old)
				sum.Updated++
			} else {
				sum.Added++
			}
			pending.adds = append(pending.adds, it)
		}
		if o.Progress != nil {
			o.Progress(done, total)
		}
		if (!o.Strict && len(pending.adds) >= o.CommitEvery) || final {
			if err := g.commitBuild(pending); err != nil {
				return err
			}
			pending = change{}
		}
		return nil
	}
	next := 0 // next job index to check for queueing
	advance := func(final bool) error {
		for next < len(jobs) && (jobs[next].reuse != -1 || vecs[next] != nil || failed[next]) {
			next++
		}
		return queue(next, final)
	}
	if len(paths) > 0 {
		if o.Extractor == nil {
			return sum, fmt.Errorf("%w: %d images need features but no extractor is configured", ErrConfig, len(paths))
		}
		err := ExtractFiles(ctx, o.Extractor, paths, func(i int, vec []float32, err error) error {
			ji := slot[i]
			if err != nil {
				p := Problem{Line: jobs[ji].line.No, Path: jobs[ji].line.Path, Reason: reasonOf(err, jobs[ji].line.Path)}
				if o.Strict {
					return fmt.Errorf("%w: %s (strict: gallery unchanged)", ErrImage, p)
				}
				sum.Problems = append(sum.Problems, p)
				failed[ji] = true
			} else {
				vecs[ji] = vec
			}
			return advance(false)
		})
		if err != nil {
			return sum, err
		}
	}
	if err := advance(true); err != nil {
		return sum, err
	}
	sum.Removed = len(removes)
	sum.Elapsed = time.Since(start)
	return sum, nil
}

// commitBuild assigns fresh ids and applies one change.
func (g *Gallery) commitBuild(c change) error {
	if len(c.adds) == 0 && len(c.removes) == 0 {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return ErrClosed
	}
	for i := range c.adds {
		c.adds[i].ID = g.nextID + int64(i)
	}
	st := g.view.Load()
	live := c.removes[:0:0]
	for _, id := range c.removes {
		if st.get(id) != nil {
			live = append(live, id)
		}
	}
	c.removes = live
	return g.applyLocked(c)
}

// hashAll hashes the lines' files on a few goroutines (a re-run over an
// unchanged list costs only this).
func hashAll(ctx context.Context, lines []Line) ([][32]byte, []error) {
	sums := make([][32]byte, len(lines))
	errs := make([]error, len(lines))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.NumCPU()*2, 16) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				sums[i], errs[i] = hashFile(lines[i].Path)
			}
		}()
	}
	for i := range lines {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return sums, errs
}

func hashFile(path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return sum, errors.New("image file not found")
		}
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

// RemoveListed removes the items named by a list file, as PaddleClas'
// "remove" does (§11.5): an item goes when its stored doc line equals a
// stripped line exactly, or when its (path, label) equals the line's.
func (g *Gallery) RemoveListed(list, delim string) (Summary, error) {
	f, err := os.Open(list)
	if err != nil {
		return Summary{}, fmt.Errorf("gallery: %w", err)
	}
	lines, probs, err := ParseList(f, "", delim)
	f.Close()
	if err != nil {
		return Summary{}, err
	}
	docs, keys := map[string]bool{}, map[string]bool{}
	for _, l := range lines {
		docs[l.Doc] = true
		keys[itemKey(l.Source, l.Label)] = true
	}
	n, err := g.removeWhere(func(e *entry) bool { return docs[e.Doc()] || keys[itemKey(e.source, e.label)] })
	return Summary{Lines: len(lines), Removed: n, Problems: probs}, err
}
