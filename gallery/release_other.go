//go:build !linux

package gallery

// releaseMapping is a no-op outside Linux.
func (g *Gallery) releaseMapping() {}
