//go:build !linux

package binio

// adviseHuge is a no-op where transparent huge pages are not available.
func adviseHuge([]byte) {}
