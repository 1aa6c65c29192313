package gallery

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/shitu-go/shitu/vecindex"
)

// Index snapshot file (docs/format/gallery.md): magic, format version,
// store version, kind, model fingerprint, the index in vecindex's own
// format, and a CRC-32C of everything before it.
const (
	snapMagic = "SHITUSNP"
	snapV1    = 1
)

// snapshotLoaders read an index written by Index.Save / BinaryIndex.Save.
// They stay nil until vecindex provides loaders; then every open rebuilds
// the index from the store instead.
var (
	loadIndexSnapshot  func(r io.Reader) (vecindex.Index, error)
	loadBinarySnapshot func(r io.Reader) (vecindex.BinaryIndex, error)
)

// Snapshot writes the index snapshot now (it is also written by Close).
func (g *Gallery) Snapshot() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.db == nil {
		return ErrClosed
	}
	return g.saveSnapshotLocked()
}

func (g *Gallery) saveSnapshotLocked() error {
	st := g.view.Load()
	if fl := flatOf(st.ix); fl != nil {
		err := g.saveFlatSnapshot(fl, st.version)
		if err == nil {
			g.dirty = false
		}
		return err
	}
	if !g.loadable() {
		return nil // nothing could read it back
	}
	var body bytes.Buffer
	err := st.ix.save(&body)
	if errors.Is(err, ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gallery: snapshot: %w", err)
	}
	h := g.snapHeader(snapV1, st.version)
	h = binary.LittleEndian.AppendUint64(h, uint64(body.Len()))
	crc := crc32.Update(crc32.Checksum(h, castagnoli), castagnoli, body.Bytes())
	err = writeAtomic(filepath.Join(g.dir, SnapshotFile), func(w io.Writer) error {
		if _, err := w.Write(h); err != nil {
			return err
		}
		if _, err := w.Write(body.Bytes()); err != nil {
			return err
		}
		_, err := w.Write(binary.LittleEndian.AppendUint32(nil, crc))
		return err
	})
	if err == nil {
		g.dirty = false
	}
	return err
}

// loadSnapshot returns the snapshot's index, and the store version it
// reflects, when it is intact and was written for this model at store
// version version — or, for a format-2 (Flat) snapshot, at an earlier
// version, which load then brings up to date (catchUp) — else nil. The file is
// streamed: the checksum is computed while the index loads, and the index
// is discarded if it does not match, so a large snapshot is never held
// twice in memory. The caller checks the index holds every item.
func (g *Gallery) loadSnapshot(version uint64) (index, uint64) {
	if !g.loadable() {
		return nil, 0
	}
	f, err := os.Open(filepath.Join(g.dir, SnapshotFile))
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	crc := crc32.New(castagnoli)
	// A small buffer: the index reader asks for large blocks, which then go
	// from the file straight into the index arrays instead of through it.
	br := bufio.NewReaderSize(f, 64<<10)
	tr := io.TeeReader(br, crc)
	var fixed [24]byte
	if _, err := io.ReadFull(tr, fixed[:]); err != nil {
		return nil, 0
	}
	format := binary.LittleEndian.Uint32(fixed[8:])
	at := binary.LittleEndian.Uint64(fixed[12:])
	if string(fixed[:8]) != snapMagic || (format != snapV1 && format != snapV2) ||
		at > version || (format == snapV1 && at != version) {
		return nil, 0
	}
	kind := binary.LittleEndian.Uint32(fixed[20:])
	if (kind == 1) != g.hdr.binary() {
		return nil, 0
	}
	ml, err := binary.ReadUvarint(byteReader{tr})
	if err != nil || ml > 1<<16 {
		return nil, 0
	}
	model := make([]byte, ml)
	var plen [8]byte
	if _, err := io.ReadFull(tr, model); err != nil || string(model) != g.hdr.Model {
		return nil, 0
	}
	sl, err := binary.ReadUvarint(byteReader{tr})
	if err != nil || sl > 64 {
		return nil, 0
	}
	sid := make([]byte, sl)
	if _, err := io.ReadFull(tr, sid); err != nil || string(sid) != g.hdr.StoreID {
		return nil, 0
	}
	if format == snapV2 {
		off := int64(len(fixed)) + int64(uvarintLen(ml)) + int64(ml) + int64(uvarintLen(sl)) + int64(sl)
		ix, err := g.loadFlatSnapshot(f, tr, crc, off)
		if err != nil {
			return nil, 0
		}
		return ix, at
	}
	if _, err := io.ReadFull(tr, plen[:]); err != nil {
		return nil, 0
	}
	payload := &sizedReader{io.LimitedReader{R: tr, N: int64(binary.LittleEndian.Uint64(plen[:]))}}
	ix, _, err := g.loadIndex(payload)
	if err != nil || payload.N != 0 {
		return nil, 0
	}
	var trailer [4]byte
	if _, err := io.ReadFull(br, trailer[:]); err != nil || binary.LittleEndian.Uint32(trailer[:]) != crc.Sum32() {
		return nil, 0
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, 0
	}
	if ix.dims() != g.hdr.Dims {
		return nil, 0
	}
	return ix, at
}

// uvarintLen is the encoded length of v.
func uvarintLen(v uint64) int { return len(binary.AppendUvarint(nil, v)) }

// sizedReader tells the index loader how many bytes remain (Len), so it
// can allocate its arrays once instead of growing them.
type sizedReader struct{ io.LimitedReader }

func (s *sizedReader) Len() int { return int(s.N) }

// byteReader adapts an io.Reader for binary.ReadUvarint.
type byteReader struct{ io.Reader }

func (b byteReader) ReadByte() (byte, error) {
	var c [1]byte
	_, err := io.ReadFull(b.Reader, c[:])
	return c[0], err
}

// WriteFileAtomic writes path through a temp file in the same directory:
// write, fsync, rename, fsync the directory. A crash leaves either the old
// file or the new one, never a half-written one.
func WriteFileAtomic(path string, write func(io.Writer) error) error { return writeAtomic(path, write) }

func writeAtomic(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("gallery: %w", err)
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("gallery: write %s: %w", path, err)
	}
	return syncDir(dir)
}
