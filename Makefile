# shitu — PP-ShiTuV2 in Go. `make demo` runs the main job; `make test` runs every test.
# Every target installs what it needs first and is safe to run again.

SHELL := /bin/bash
GO ?= go
ORT_VERSION := 1.30.0
DEPS := $(CURDIR)/.deps
ORT_DIR := $(DEPS)/onnxruntime
ORT_LIB := $(ORT_DIR)/libonnxruntime.so.1
ARCH := $(shell uname -m)
ifeq ($(ARCH),aarch64)
ORT_NPM_PATH := package/bin/napi-v6/linux/arm64/libonnxruntime.so.1
ORT_SHA256 := 1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76
else
ORT_NPM_PATH := package/bin/napi-v6/linux/x64/libonnxruntime.so.1
ORT_SHA256 := ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
endif
# Debian packages: the build (libjpeg-turbo, CJK font, protoc for regenerating
# protobuf code) and the peers the tests compare against (faiss, hnswlib); `make peers`
# adds what the benchmark and fixture scripts use (OpenCV, PyYAML, onnx, protoc).
APT_PEERS := python3-opencv python3-yaml python3-onnx protobuf-compiler hyperfine
APT_BUILD := gcc libturbojpeg0-dev fonts-noto-cjk
APT_TEST := python3-numpy python3-faiss python3-hnswlib
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN := $(CURDIR)/bin/shitu

export SHITU_ORT_LIB ?= $(ORT_LIB)
export CGO_ENABLED ?= 1

.PHONY: all setup setup-test peers ort build test test-short vet demo bench clean proto

all: build

setup: ort
	@missing=""; for p in $(APT_BUILD); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "setup: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(GO) mod download

setup-test: setup
	@missing=""; for p in $(APT_TEST); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "setup-test: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

peers: setup-test
	@missing=""; for p in $(APT_PEERS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "peers: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# ONNX Runtime from the onnxruntime-node npm package: `npm pack` fetches the
# tarball without running its install script; we extract the one library.
ort: $(ORT_LIB)
$(ORT_LIB):
	@mkdir -p $(ORT_DIR)/tmp
	@echo "setup: fetching ONNX Runtime $(ORT_VERSION) (npm package onnxruntime-node@$(ORT_VERSION), ~114 MB)"
	@cd $(ORT_DIR)/tmp && npm pack --silent onnxruntime-node@$(ORT_VERSION) >/dev/null
	@tar -xzf $(ORT_DIR)/tmp/onnxruntime-node-$(ORT_VERSION).tgz -C $(ORT_DIR)/tmp $(ORT_NPM_PATH)
	@echo "$(ORT_SHA256)  $(ORT_DIR)/tmp/$(ORT_NPM_PATH)" | sha256sum -c --quiet - \
	  || { echo "setup: ONNX Runtime library checksum mismatch"; rm -rf $(ORT_DIR)/tmp; exit 1; }
	@mv $(ORT_DIR)/tmp/$(ORT_NPM_PATH) $@.part && mv $@.part $@ && rm -rf $(ORT_DIR)/tmp
	@echo "setup: $@"

build: setup
	$(GO) build -o $(BIN) ./cmd/shitu

vet:
	gofmt -l . | (! grep .) || { echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test: setup-test vet
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test -count=1 -timeout 25m ./...

test-short: setup
	$(GO) test -short ./...

demo: build
	$(BIN) demo

bench: build
	$(BIN) bench models

clean:
	rm -rf bin

# Regenerates the committed gRPC code (api/proto; versions in api/proto/gen.sh).
proto: peers
	sh api/proto/gen.sh
