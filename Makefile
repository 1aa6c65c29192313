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
# protobuf code), the peers the tests compare against (faiss, hnswlib) and the
# browser of the console tests (chromium, driven headless by chromedp); `make peers`
# adds what the benchmark and fixture scripts use (OpenCV, PyYAML, onnx, protoc).
APT_PEERS := python3-opencv python3-yaml python3-onnx protobuf-compiler hyperfine
APT_BUILD := gcc libturbojpeg0-dev fonts-noto-cjk
APT_TEST := python3-numpy python3-faiss python3-hnswlib chromium
# Whether package $$p is installed; with arm64 (multiarch) twins installed, a
# bare name is ambiguous to dpkg, so the native-arch name is tried too.
INSTALLED = dpkg -s $$p >/dev/null 2>&1 || dpkg -s $$p:$$(dpkg --print-architecture) >/dev/null 2>&1
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
BIN := $(CURDIR)/bin/shitu

export SHITU_ORT_LIB ?= $(ORT_LIB)
export CGO_ENABLED ?= 1

.PHONY: vendor-htmx all setup setup-test setup-arm64 peers ort build test test-short test-arm64 vet demo bench dist clean proto

# Release archives and the emulated arm64 tests (see `dist` and `test-arm64`).
# Cross builds use Debian's cross gcc and the arm64 libjpeg-turbo (multiarch);
# arm64 code runs here under qemu-user with the multiarch arm64 libc/libstdc++.
DIST_ARCHES := amd64 arm64
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CC_amd64 := gcc
CC_arm64 := aarch64-linux-gnu-gcc
NPM_ARCH_amd64 := x64
NPM_ARCH_arm64 := arm64
ORT_SHA256_amd64 := ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23
ORT_SHA256_arm64 := 1f549d46250b005580b597f4164984aaf75b3bcb9f3aeb07c7f8a8fe60b23c76
APT_ARM64 := gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libturbojpeg0-dev:arm64 libstdc++6:arm64
ORT_LIB_arm64 := $(DEPS)/linux-arm64/onnxruntime/libonnxruntime.so.1
BIN_arm64 := $(CURDIR)/bin/linux-arm64/shitu
QEMU_arm64 := qemu-aarch64
# Packages whose unit tests run emulated; -short keeps them to a few minutes.
ARM64_TEST_PKGS := ./tensor/... ./vecindex/... ./imaging/... ./detect/... ./feature/... ./gallery
# Skipped under emulation: tests that run a network in the emulated ORT (minutes
# each; the e2e predict below runs both networks instead), the faiss peer
# comparison (builds HNSW graphs for minutes; the native run covers it) and the
# kill -9 test, which re-executes its binary (no binfmt in a container).
ARM64_SKIP := TestDetectorORT|TestExtractWithRecModel|TestBuildWithRecModel|TestFaissPeer|TestDurabilityKill9

all: build

setup: ort
	@missing=""; for p in $(APT_BUILD); do { $(INSTALLED); } || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "setup: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(GO) mod download

setup-test: setup
	@missing=""; for p in $(APT_TEST); do { $(INSTALLED); } || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "setup-test: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

peers: setup-test
	@missing=""; for p in $(APT_PEERS); do { $(INSTALLED); } || missing="$$missing $$p"; done; \
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

# The library for another architecture (linux-amd64, linux-arm64), checked
# like `ort`. (The npm package has no licence file; its package.json says MIT,
# whose text is docs/licenses/onnxruntime.LICENSE.)
$(DEPS)/linux-%/onnxruntime/libonnxruntime.so.1:
	@mkdir -p $(@D)/tmp
	@echo "setup: fetching ONNX Runtime $(ORT_VERSION) for linux/$* (npm package onnxruntime-node@$(ORT_VERSION))"
	@cd $(@D)/tmp && npm pack --silent onnxruntime-node@$(ORT_VERSION) >/dev/null
	@tar -xzf $(@D)/tmp/onnxruntime-node-$(ORT_VERSION).tgz -C $(@D)/tmp package/bin/napi-v6/linux/$(NPM_ARCH_$*)/libonnxruntime.so.1
	@echo "$(ORT_SHA256_$*)  $(@D)/tmp/package/bin/napi-v6/linux/$(NPM_ARCH_$*)/libonnxruntime.so.1" | sha256sum -c --quiet - \
	  || { echo "setup: ONNX Runtime library checksum mismatch"; rm -rf $(@D)/tmp; exit 1; }
	@mv $(@D)/tmp/package/bin/napi-v6/linux/$(NPM_ARCH_$*)/libonnxruntime.so.1 $@.part && mv $@.part $@ && rm -rf $(@D)/tmp
	@echo "setup: $@"

# The arm64 cross toolchain, arm64 libraries (multiarch) and qemu-user.
setup-arm64: setup $(ORT_LIB_arm64)
	@dpkg --print-foreign-architectures | grep -qx arm64 || { [ "$$(dpkg --print-architecture)" = arm64 ] || \
	  { echo "setup-arm64: dpkg --add-architecture arm64"; $(SUDO) dpkg --add-architecture arm64 && $(SUDO) apt-get update -qq; }; }
	@missing=""; for p in $(APT_ARM64); do { $(INSTALLED); } || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "setup-arm64: installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BIN_arm64): setup-arm64 FORCE
	@mkdir -p $(@D)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=1 CC=$(CC_arm64) $(GO) build -o $@ ./cmd/shitu

# The arm64 build under user-mode emulation: unit tests (go test -exec) and
# one image through `shitu predict` whose answers must equal the amd64 ones.
# The library is loaded by the emulated process, so it is the arm64 one.
test-arm64: setup-arm64 build $(BIN_arm64)
	@start=$$(date +%s); \
	SHITU_ORT_LIB=$(ORT_LIB_arm64) GOOS=linux GOARCH=arm64 CGO_ENABLED=1 CC=$(CC_arm64) \
	  $(GO) test -count=1 -short -timeout 20m -exec $(QEMU_arm64) -skip '$(ARM64_SKIP)' $(ARM64_TEST_PKGS) || exit 1; \
	scripts/arm64_e2e.sh $(BIN) $(ORT_LIB) "$(QEMU_arm64) $(BIN_arm64)" $(ORT_LIB_arm64) || exit 1; \
	echo "test-arm64: $$(( $$(date +%s) - start ))s"

# Release archives dist/shitu-VERSION-linux-ARCH.tar.gz: the binary, the
# matching ONNX Runtime library in lib/, licences (ours, Go's, every linked
# module's, ONNX Runtime's) and the README.
dist: setup setup-arm64 $(foreach a,$(DIST_ARCHES),$(DEPS)/linux-$(a)/onnxruntime/libonnxruntime.so.1)
	@set -e; mkdir -p dist; for a in $(DIST_ARCHES); do \
	  cc=$(CC_amd64); if [ $$a = arm64 ]; then cc=$(CC_arm64); fi; \
	  name=shitu-$(VERSION)-linux-$$a; d=dist/$$name; rm -rf $$d; mkdir -p $$d/lib $$d/licenses; \
	  GOOS=linux GOARCH=$$a CGO_ENABLED=1 CC=$$cc $(GO) build -trimpath \
	    -ldflags "-s -w -X github.com/shitu-go/shitu/internal/cli.Version=$(VERSION)" -o $$d/shitu ./cmd/shitu; \
	  cp $(DEPS)/linux-$$a/onnxruntime/libonnxruntime.so.1 $$d/lib/; \
	  cp docs/licenses/onnxruntime.LICENSE $$d/licenses/; \
	  cp "$$($(GO) env GOROOT)/LICENSE" $$d/licenses/go.LICENSE; \
	  if [ -f LICENSE ]; then cp LICENSE $$d/; fi; \
	  GOOS=linux GOARCH=$$a CGO_ENABLED=1 $(GO) list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Dir}}{{end}}{{end}}' ./cmd/shitu | sort -u | \
	  while read -r mod dir; do for f in "$$dir"/LICENSE* "$$dir"/COPYING* "$$dir"/NOTICE*; do \
	    if [ -f "$$f" ]; then cp "$$f" "$$d/licenses/$$(echo $$mod | tr / _).$$(basename $$f)"; fi; done; done; \
	  cp README.md $$d/; \
	  tar -C dist -czf dist/$$name.tar.gz $$name; \
	  (cd dist && sha256sum $$name.tar.gz > $$name.tar.gz.sha256); \
	  echo "dist: dist/$$name.tar.gz ($$(du -h dist/$$name.tar.gz | cut -f1))"; tar -tzvf dist/$$name.tar.gz; \
	done

FORCE:

build: setup
	$(GO) build -o $(BIN) ./cmd/shitu

vet:
	gofmt -l . | (! grep .) || { echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test: setup-test vet
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) test -count=1 -timeout 25m ./...
	$(MAKE) --no-print-directory test-arm64

test-short: setup
	$(GO) test -short ./...

demo: build
	$(BIN) demo

bench: build
	$(BIN) bench models

clean:
	rm -rf bin dist

# Checks (UPDATE=1: refreshes) the console's vendored htmx against the npm
# package and its recorded sha256 (server/console/static; version in the script).
vendor-htmx:
	sh scripts/vendor-htmx.sh

# Regenerates the committed gRPC code (api/proto; versions in api/proto/gen.sh).
proto: peers
	sh api/proto/gen.sh
