#!/usr/bin/env bash
# make test: every check, in the order that fails fastest. Exits non-zero on
# the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "clippy, native (all targets)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "clippy, wasm32 (dashboard and codec)"
cargo clippy -p mqtt-dashboard -p mqtt-proto --all-targets --target wasm32-unknown-unknown --quiet -- -D warnings

step "codec builds as no_std for wasm32"
cargo build -p mqtt-proto --no-default-features --target wasm32-unknown-unknown --quiet

step "dashboard release build (trunk, wasm-opt)"
trunk build --release --offline
wasm=$(ls dist/*.wasm)
printf 'wasm: %s bytes, %s gzipped\n' "$(stat -c %s "$wasm")" "$(gzip -9c "$wasm" | wc -c)"

step "unit, integration and end-to-end tests"
cargo test --workspace
