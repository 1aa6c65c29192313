package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/shitu-go/shitu"
	"github.com/shitu-go/shitu/api"
	"github.com/shitu-go/shitu/gallery"
)

// servedFile, in a gallery folder, says which `shitu serve` has the gallery
// open (a bbolt store has one process at a time): the read-only gallery
// commands then ask that server, and the changing ones say how to change
// the gallery through its API. serve writes it after it starts listening
// and removes it when it stops; one left by a killed server is ignored
// (its process is gone).
const servedFile = "serving.json"

type servedInfo struct {
	PID     int    `json:"pid"`
	URL     string `json:"url"`
	Gallery string `json:"gallery"`
}

// localURL is the URL a local client reaches a listener at.
func localURL(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

func writeServed(dir, name, url string) error {
	b, _ := json.Marshal(servedInfo{PID: os.Getpid(), URL: url, Gallery: name})
	tmp := filepath.Join(dir, servedFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, servedFile))
}

func removeServed(dir string) { os.Remove(filepath.Join(dir, servedFile)) }

// readServed returns who serves the gallery in dir, or nil.
func readServed(dir string) *servedInfo {
	b, err := os.ReadFile(filepath.Join(dir, servedFile))
	if err != nil {
		return nil
	}
	var s servedInfo
	if json.Unmarshal(b, &s) != nil || s.PID <= 0 || s.URL == "" {
		return nil
	}
	if err := syscall.Kill(s.PID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return nil // left by a server that is gone
	}
	return &s
}

// lockedError explains a gallery that another process has open, naming
// the server and how to change the gallery through it.
func lockedError(dir string, err error) error {
	s := readServed(dir)
	if s == nil {
		return fmt.Errorf("%w (another shitu command has it open; wait for it or stop it)", err)
	}
	q := ""
	if s.Gallery != "" && s.Gallery != "default" {
		q = "?gallery=" + s.Gallery
	}
	return fmt.Errorf("%s is served by shitu serve (pid %d at %s): change it through its API while it runs — "+
		"POST %s/v1/gallery/items%s to add, DELETE %s/v1/gallery/items/ID%s or DELETE %s/v1/gallery/labels/LABEL%s to remove "+
		"(see %s/v1/openapi.json) — or stop the server first: %w",
		dir, s.PID, s.URL, s.URL, q, s.URL, q, s.URL, q, s.URL, err)
}

// servedClient returns an API client for the server that has dir open, or
// nil when none does.
func servedClient(dir string) (*api.Client, string) {
	s := readServed(dir)
	if s == nil {
		return nil, ""
	}
	return &api.Client{Base: s.URL, APIKey: os.Getenv("SHITU_API_KEY")}, s.Gallery
}

// openLocal opens a gallery for a changing command; a served gallery gets
// the explanation of lockedError.
func openLocal(dir string) (*gallery.Gallery, error) {
	g, err := shitu.OpenGalleryDir(dir)
	if errors.Is(err, gallery.ErrLocked) {
		return nil, lockedError(dir, err)
	}
	return g, err
}
