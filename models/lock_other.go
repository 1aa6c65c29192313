//go:build !unix

package models

// lockFile is a no-op where advisory locks are not available: concurrent
// pulls of the same model into the same root are then not serialised.
func lockFile(path string) (unlock func(), err error) { return func() {}, nil }
