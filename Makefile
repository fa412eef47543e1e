# Vigil: the two commands are `make run` and `make test`.
SWIFT ?= swift
PORT ?= 8080

.PHONY: deps build run test bench lint format release

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build --product vigil

## Build and start `vigil serve` with the built-in test-pattern camera.
run: build
	@echo "Starting Vigil; open the URL printed below (Ctrl-C to stop)."
	.build/debug/vigil serve --port $(PORT)

## Build and run every test.
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --no-parallel

release: deps
	$(SWIFT) build -c release --product vigil

## Benchmarks (framing throughput, MJPEG fan-out load); see README.
bench: deps
	scripts/bench.sh

lint:
	$(SWIFT) format lint -r Sources Tests

format:
	$(SWIFT) format -i -r Sources Tests
