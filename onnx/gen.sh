#!/bin/sh
# Regenerates onnx.pb.go from onnx.proto (copied from Debian python3-onnx 1.12,
# /usr/lib/python3/dist-packages/onnx/onnx.proto, Apache-2.0, IR version 8).
#
# Needs: protoc (Debian protobuf-compiler) and
#   go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
set -eu
cd "$(dirname "$0")"
PATH="$(go env GOPATH)/bin:$PATH"
protoc --proto_path=. \
	--go_out=. --go_opt=paths=source_relative \
	--go_opt=Monnx.proto=github.com/shitu-go/shitu/onnx\;onnx \
	onnx.proto
