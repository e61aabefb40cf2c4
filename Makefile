# The two commands: `make run` and `make test`. Both install what is missing first.
SHELL := /bin/bash
TOOLS ?= $(HOME)/.cache/mqtt-dashboard-tools
export PATH := $(HOME)/.cargo/bin:$(TOOLS)/node_modules/.bin:$(PATH)
export CARGO_TERM_QUIET ?= false

.PHONY: run test bench size setup setup-test dist lint screenshot

setup:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

# Build, start the bridge with demo devices and trunk's dev server; Ctrl-C stops both.
run: setup
	@scripts/run.sh

# The optimized dashboard in dist/, as users get it.
dist: setup
	trunk build --release --offline

# Every test: formatting, lints on both targets, unit and integration tests,
# the wasm build, and the browser end-to-end test against dist/.
test: setup-test
	@scripts/test.sh

# Benchmarks, each printed beside its peer from the same run (BENCHMARKS.md).
bench: setup-test
	@scripts/bench.sh

# The dashboard's transfer size and each group of panels' share (BENCHMARKS.md).
size: setup-test
	@scripts/size-by-panel.py

# scripts/screenshot.sh against a running `make run`.
screenshot:
	@scripts/screenshot.sh http://127.0.0.1:8080/ dashboard.png 1280x800 6
	@scripts/screenshot.sh http://127.0.0.1:8080/ dashboard-phone.png 390x844 6
