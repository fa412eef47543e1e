# Vigil: the two commands are `make run` and `make test`.
SWIFT ?= swift
PORT ?= 8080
# Python with the test tools (Selenium, matplotlib), set up by `make deps`.
PYTHON = .build-python/venv/bin/python
# Release builds (scripts/release.sh says how and why): the Swift runtime
# linked in statically (one file to copy to a Pi, nothing else to install),
# stripped, with the code laid out in the order it runs.
# `make release` leaves the stripped binary in dist/vigil and its debug
# symbols beside it in dist/vigil.debug (linked by .gnu_debuglink).
# `make release-small` builds it without the PostgreSQL store and clusters
# (postgres-nio imports Foundation, which brings ICU's 40 MB of data), for a
# Raspberry Pi or any single box: dist/vigil-small, same layout.

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
	scripts/release.sh .build-static vigil

release-small: deps
	scripts/release.sh .build-small vigil-small --disable-default-traits


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

