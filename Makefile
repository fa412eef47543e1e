# Vigil: the two commands are `make run` and `make test`.
SWIFT ?= swift
PORT ?= 8080
# Python with the test tools (Selenium, matplotlib), set up by `make deps`.
PYTHON = .build-python/venv/bin/python
# Release builds: Swift runtime and Foundation linked in statically (one file
# to copy to a Pi, nothing else to install), position-independent with packed
# relative relocations (lld, glibc >= 2.36) so that loading the binary costs
# little memory. Output: .build-static/release/vigil
RELEASE_FLAGS = -c release --static-swift-stdlib --scratch-path .build-static \
	-Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
export RELEASE_FLAGS

.PHONY: deps build run test bench soak lint format release screenshot

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build --product vigil

## Build and start `vigil serve` with the built-in test-pattern camera.
run: build
	@echo "Starting Vigil; open the URL printed below (Ctrl-C to stop)."
	.build/debug/vigil serve --port $(PORT)

## Build and run every test: the Swift suites, the browser test (headless
## Chromium driving the web page against a real server), then a 5-minute soak.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel
	scripts/browser-test.sh --screenshot .build-browser/screenshot.png
	$(PYTHON) scripts/soak.py --vigil .build/debug/vigil --duration 300 --out .build-soak/test

## Refresh docs/screenshot.png from a browser test run.
screenshot: deps
	$(SWIFT) build --product vigil
	scripts/browser-test.sh --screenshot docs/screenshot.png

release: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product vigil
	@echo "built .build-static/release/vigil"


## An accelerated day (SOAK_SECONDS, default one hour) of the release build
## under churn and faults; fails if memory, descriptors or children grow.
## Table on stdout, plot and samples in .build-soak/.
SOAK_SECONDS ?= 3600
soak: release
	$(PYTHON) scripts/soak.py --vigil .build-static/release/vigil --duration $(SOAK_SECONDS) --out .build-soak/release

## Benchmarks (framing throughput, MJPEG fan-out load); see README.
bench: deps
	scripts/bench.sh

lint:
	$(SWIFT) format lint -r Sources Tests

format:
	$(SWIFT) format -i -r Sources Tests
