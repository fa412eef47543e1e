# Vigil: the two commands are `make run` and `make test`.
SWIFT ?= swift
PORT ?= 8080
# Python with the test tools (Selenium, matplotlib), set up by `make deps`.
PYTHON = .build-python/venv/bin/python
# Release builds: Swift runtime and Foundation linked in statically (one file
# to copy to a Pi, nothing else to install), position-independent with packed
# relative relocations (lld, glibc >= 2.36) so that loading the binary costs
# little memory, and without the dynamic symbol table that the static Swift
# runtime's link options ask for (-export-dynamic: 42,000 symbols, 4 MB of
# file and 2.5-4.6 MB of resident memory; nothing looks them up).
# `make release` leaves the stripped binary in dist/vigil and its debug
# symbols beside it in dist/vigil.debug (linked by .gnu_debuglink).
# `make release-small` builds it without the PostgreSQL store and clusters
# (postgres-nio imports Foundation, which brings ICU's 40 MB of data), for a
# Raspberry Pi or any single box: dist/vigil-small, same layout.
RELEASE_FLAGS = -c release --static-swift-stdlib --scratch-path .build-static \
	-Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
export RELEASE_FLAGS

.PHONY: deps build run test bench soak lint format release release-small screenshot fuzz

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
	@mkdir -p dist
	objcopy --only-keep-debug .build-static/release/vigil dist/vigil.debug
	strip --strip-all -o dist/vigil .build-static/release/vigil
	cd dist && objcopy --add-gnu-debuglink=vigil.debug vigil
	@ls -l dist/vigil dist/vigil.debug

release-small: deps
	$(SWIFT) build $(RELEASE_FLAGS:.build-static=.build-small) --disable-default-traits --product vigil
	@mkdir -p dist
	objcopy --only-keep-debug .build-small/release/vigil dist/vigil-small.debug
	strip --strip-all -o dist/vigil-small .build-small/release/vigil
	cd dist && objcopy --add-gnu-debuglink=vigil-small.debug vigil-small
	@ls -l dist/vigil-small dist/vigil-small.debug


## An accelerated day (SOAK_SECONDS, default one hour) of the release build
## under churn and faults; fails if memory, descriptors or children grow.
## Table on stdout, plot and samples in .build-soak/.
SOAK_SECONDS ?= 3600
soak: release
	$(PYTHON) scripts/soak.py --vigil dist/vigil --duration $(SOAK_SECONDS) --out .build-soak/release

## Benchmarks (framing throughput, MJPEG fan-out load); see README.
bench: deps
	scripts/bench.sh

lint:
	$(SWIFT) format lint -r Sources Tests

format:
	$(SWIFT) format -i -r Sources Tests

# libFuzzer on every parser of outside bytes, FUZZ_SECONDS each (default 60).
# Corpora grow in .build-fuzz/corpus; a crash leaves its input in Fuzz/crashes.
fuzz: deps
	scripts/fuzz.sh

