#!/bin/sh
# Regenerates the Go code of the .proto files here (committed, so building
# and testing need no protoc). Versions used for the committed code:
#   protoc 3.21.12 (Debian bookworm's protobuf-compiler; `make peers` installs it)
#   protoc-gen-go v1.36.12 (google.golang.org/protobuf, as in go.mod)
#   protoc-gen-go-grpc v1.6.2 (google.golang.org/grpc/cmd/protoc-gen-go-grpc)
# Run from the repository root: `make proto` or sh api/proto/gen.sh.
set -eu
PROTOC_GEN_GO=v1.36.12
PROTOC_GEN_GO_GRPC=v1.6.2
cd "$(dirname "$0")"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO
GOBIN=$bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC
PATH=$bin:$PATH protoc -I . \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  shitu/v1/shitu.proto pipeline/pipeline_service.proto
