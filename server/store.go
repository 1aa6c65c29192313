package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
)

// DirStore keeps the galleries created through the API — PaddleX's
// /shitu-index-build and POST /v1/galleries — one folder each under Root.
// A Server reopens them when it starts, so an indexKey stays valid across
// restarts and crashes (every acknowledged change is already durable in the
// gallery itself). They are laid out as the System's IndexProcess says and
// bound to its model (shitu.System.CreateGallery).
type DirStore struct {
	// Root is the folder of the stored galleries (created when needed).
	Root string
}

// nameRE is what a stored gallery's name may be: it is a folder name and a
// URL path segment.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func checkName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: gallery name %q: use 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", errBadRequest, name)
	}
	return nil
}

func (d *DirStore) path(name string) string { return filepath.Join(d.Root, name) }

// names lists the stored galleries, sorted.
func (d *DirStore) names() ([]string, error) {
	ents, err := os.ReadDir(d.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() || checkName(e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d.Root, e.Name(), gallery.DBFile)); err == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// remove deletes a stored gallery's folder (the gallery is closed).
func (d *DirStore) remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return os.RemoveAll(d.path(name))
}

// size is the bytes on disk of all stored galleries.
func (d *DirStore) size() (int64, error) {
	var n int64
	err := filepath.WalkDir(d.Root, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n, err
}

// openStored opens every stored gallery that is not configured under the
// same name. One that cannot be opened is logged and left alone: the
// service starts with the others.
func (s *Server) openStored(m map[string]*entry) {
	st := s.cfg.Store
	if st == nil {
		return
	}
	names, err := st.names()
	if err != nil {
		s.cfg.Logger.Error("stored galleries", "root", st.Root, "error", err.Error())
		return
	}
	for _, name := range names {
		if _, ok := m[name]; ok {
			s.cfg.Logger.Warn("stored gallery shadowed by a configured one", "gallery", name)
			continue
		}
		g, err := s.sys.OpenGallery(name, st.path(name))
		if err != nil {
			s.cfg.Logger.Error("stored gallery not opened", "gallery", name, "error", err.Error())
			continue
		}
		m[name] = s.newEntry(name, g, true)
	}
}

// checkQuota refuses work that would grow the store past its bounds.
func (s *Server) checkQuota(creating bool) error {
	st := s.cfg.Store
	if creating {
		n := 0
		for _, e := range *s.gals.Load() {
			if e.stored {
				n++
			}
		}
		if n >= s.cfg.MaxGalleries {
			return fmt.Errorf("%w: %d galleries exist, the limit is %d (--max-galleries); delete one first", errQuota, n, s.cfg.MaxGalleries)
		}
	}
	size, err := st.size()
	if err != nil {
		return err
	}
	if size >= s.cfg.MaxStoreBytes {
		return fmt.Errorf("%w: stored galleries use %d bytes, the limit is %d (--max-galleries-size); delete items or galleries first", errQuota, size, s.cfg.MaxStoreBytes)
	}
	return nil
}

// createGallery makes a new stored gallery and registers it.
func (s *Server) createGallery(name string) (*entry, error) {
	if s.cfg.Store == nil {
		return nil, fmt.Errorf("%w: this server was started without a folder for new galleries", errUnsupported)
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	s.galMu.Lock()
	defer s.galMu.Unlock()
	if _, ok := (*s.gals.Load())[name]; ok {
		return nil, fmt.Errorf("%w: gallery %q exists", errConflict, name)
	}
	if err := s.checkQuota(true); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.cfg.Store.Root, 0o755); err != nil {
		return nil, err
	}
	g, err := s.sys.CreateGallery(name, s.cfg.Store.path(name))
	if err != nil {
		return nil, err
	}
	e := s.newEntry(name, g, true)
	s.putLocked(name, e)
	return e, nil
}

// DeleteGallery closes a stored gallery, unregisters it and removes its
// folder. Galleries given at startup are not deleted here.
func (s *Server) DeleteGallery(name string) error {
	s.galMu.Lock()
	defer s.galMu.Unlock()
	old := *s.gals.Load()
	e, ok := old[name]
	if !ok {
		return fmt.Errorf("%w: %q", errNoGallery, name)
	}
	if !e.stored {
		return fmt.Errorf("%w: gallery %q was configured at startup (index_dir or --gallery); remove it from the configuration instead", errConflict, name)
	}
	m := make(map[string]*entry, len(old))
	for k, v := range old {
		if k != name {
			m[k] = v
		}
	}
	s.gals.Store(&m)
	if err := s.sys.CloseGallery(name); err != nil && !errors.Is(err, shitu.ErrNoGallery) {
		return err
	}
	return s.cfg.Store.remove(name)
}

func (s *Server) handleCreateGallery(w http.ResponseWriter, r *http.Request) {
	var req api.CreateGalleryRequest
	if err := decodeJSON(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.createGallery(req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, s.galleryInfo(e, false))
}

func (s *Server) handleDeleteGallery(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := s.DeleteGallery(name); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.DeleteGalleryResponse{Deleted: name})
}

// GalleryMap returns every gallery being served, by name (configured and
// stored ones), e.g. for a periodic snapshot loop.
func (s *Server) GalleryMap() map[string]*gallery.Gallery {
	out := map[string]*gallery.Gallery{}
	for k, e := range *s.gals.Load() {
		out[k] = e.g
	}
	return out
}
