# Vigil: the two commands are `make run` and `make test`.
SWIFT ?= swift
PORT ?= 8080
# Release builds: Swift runtime and Foundation linked in statically (one file
# to copy to a Pi, nothing else to install), position-independent with packed
# relative relocations (lld, glibc >= 2.36) so that loading the binary costs
# little memory. Output: .build-static/release/vigil
RELEASE_FLAGS = -c release --static-swift-stdlib --scratch-path .build-static \
	-Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
export RELEASE_FLAGS

.PHONY: deps build run test bench lint format release screenshot

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build --product vigil

## Build and start `vigil serve` with the built-in test-pattern camera.
run: build
	@echo "Starting Vigil; open the URL printed below (Ctrl-C to stop)."
	.build/debug/vigil serve --port $(PORT)

## Build and run every test: the Swift suites, then the browser test
## (headless Chromium driving the web page against a real server).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	scripts/browser-test.sh --screenshot .build-browser/screenshot.png

## Refresh docs/screenshot.png from a browser test run.
screenshot: deps
	$(SWIFT) build --product vigil
	scripts/browser-test.sh --screenshot docs/screenshot.png

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product vigil
	@echo "built .build-static/release/vigil"


## Benchmarks (framing throughput, MJPEG fan-out load); see README.
bench: deps
	scripts/bench.sh

lint:
	$(SWIFT) format lint -r Sources Tests

format:
	$(SWIFT) format -i -r Sources Tests
