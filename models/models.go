// Package models knows the official PP-ShiTuV2 models, downloads them with
// resume and checksums, unpacks them safely, converts Paddle inference
// models to ONNX once (cached next to them) and describes every installed
// model folder with a small JSON manifest (manifest.go).
//
// The main entry points:
//
//   - Pull / PullEntry: download a catalogue model (or its mirror copy),
//     verify size and sha256, extract, convert, write the manifest, install
//     atomically under a models root.
//   - Resolve: turn a PaddleClas model folder (det_inference_model_dir,
//     rec_inference_model_dir) holding Paddle or ONNX files into an ONNX file,
//     converting once and caching the result.
//   - List: the models installed under a root; Verify: check a folder's
//     files against its manifest.
//   - PaddleConverter: the Converter backed by package paddle.
//   - SynthMirror, TarDir: official-layout tarballs for an offline mirror.
//   - Synth: write architecture-faithful networks with seeded weights plus a
//     manifest, for machines that cannot reach the official downloads.
//
// Nothing here reads the environment: callers pass the models root (see
// DefaultRoot), the mirror and the converter.
package models

import (
	"errors"
	"path/filepath"
)

// Errors. Functions wrap them with %w and add the detail (file, URL, entry).
var (
	// ErrUnknownModel means a name is not in the catalogue.
	ErrUnknownModel = errors.New("models: unknown model")
	// ErrDownload means a download failed after all retries.
	ErrDownload = errors.New("models: download failed")
	// ErrSize means a downloaded file does not have the expected size.
	ErrSize = errors.New("models: size mismatch")
	// ErrChecksum means a downloaded file does not have the expected sha256.
	ErrChecksum = errors.New("models: sha256 mismatch")
	// ErrUnsafeArchive means a tarball holds an entry that would escape the
	// target folder (absolute path, "..", a link pointing outside, a link
	// in the path of another entry, a device file) or exceeds the size caps.
	ErrUnsafeArchive = errors.New("models: unsafe archive")
	// ErrArchive means a tarball cannot be read.
	ErrArchive = errors.New("models: bad archive")
	// ErrNoModel means a folder holds neither Paddle nor ONNX model files.
	ErrNoModel = errors.New("models: no model files")
	// ErrNoConverter means Paddle files must be converted but no Converter
	// was given.
	ErrNoConverter = errors.New("models: no converter for paddle models")
	// ErrConvert means the converter failed.
	ErrConvert = errors.New("models: conversion failed")
	// ErrManifest means a manifest is missing, unreadable or invalid.
	ErrManifest = errors.New("models: bad manifest")
	// ErrExists means the model is already installed (use Force to replace).
	ErrExists = errors.New("models: already installed")
)

// DefaultRoot is the default models root below the user cache folder
// (os.UserCacheDir, e.g. ~/.cache): <cacheDir>/shitu/models. The CLI calls
// it; library code never guesses the cache folder itself.
func DefaultRoot(userCacheDir string) string {
	return filepath.Join(userCacheDir, "shitu", "models")
}
