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
	if (st.index != nil && loadIndexSnapshot == nil) || (st.bindex != nil && loadBinarySnapshot == nil) {
		return nil // nothing could read it back
	}
	var body bytes.Buffer
	var err error
	if st.bindex != nil {
		err = st.bindex.Save(&body)
	} else {
		err = st.index.Save(&body)
	}
	if errors.Is(err, ErrUnsupported) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("gallery: snapshot: %w", err)
	}
	var h []byte
	h = append(h, snapMagic...)
	h = binary.LittleEndian.AppendUint32(h, snapV1)
	h = binary.LittleEndian.AppendUint64(h, st.version)
	kind := uint32(0)
	if st.bindex != nil {
		kind = 1
	}
	h = binary.LittleEndian.AppendUint32(h, kind)
	h = appendStr(h, g.hdr.Model)
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

// loadSnapshot installs the snapshot's index into st when it is intact and
// was written at st.version for this model.
func (g *Gallery) loadSnapshot(st *state) bool {
	if (g.hdr.binary() && loadBinarySnapshot == nil) || (!g.hdr.binary() && loadIndexSnapshot == nil) {
		return false
	}
	data, err := os.ReadFile(filepath.Join(g.dir, SnapshotFile))
	if err != nil || len(data) < 8+4+8+4+1+8+4 {
		return false
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return false
	}
	if string(body[:8]) != snapMagic || binary.LittleEndian.Uint32(body[8:]) != snapV1 ||
		binary.LittleEndian.Uint64(body[12:]) != st.version {
		return false
	}
	kind := binary.LittleEndian.Uint32(body[20:])
	r := reader{b: body[24:]}
	model := r.str()
	if r.err != nil || model != g.hdr.Model || len(r.b) < 8 || (kind == 1) != g.hdr.binary() {
		return false
	}
	n := binary.LittleEndian.Uint64(r.b)
	payload := r.b[8:]
	if uint64(len(payload)) != n {
		return false
	}
	if kind == 1 {
		bi, err := loadBinarySnapshot(bytes.NewReader(payload))
		if err != nil || bi.Len() != st.n || bi.Dims() != g.hdr.Dims {
			return false
		}
		st.bindex = bi
		return true
	}
	ix, err := loadIndexSnapshot(bytes.NewReader(payload))
	if err != nil || ix.Len() != st.n || ix.Dims() != g.hdr.Dims || ix.Metric() != g.hdr.Metric {
		return false
	}
	st.index = ix
	return true
}

// writeAtomic writes path through a temp file in the same directory:
// write, fsync, rename, fsync the directory. A crash leaves either the old
// file or the new one, never a half-written one.
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
