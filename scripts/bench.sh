#!/usr/bin/env bash
# make bench: every benchmark, each beside the peer it is compared with, in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${MQTT_DASHBOARD_TOOLS:-$HOME/.cache/mqtt-dashboard-tools}
out=target/bench-wasm

echo "== native codec: mqtt-proto vs mqttbytes 0.6 (criterion, mean ns per packet, lower is better)"
rm -rf target/criterion
cargo bench -q -p bench --bench codec -- --noplot >/dev/null 2>&1
python3 scripts/criterion-table.py target/criterion

echo
echo "== wasm codec: mqtt-proto (wasm) vs mqtt-packet (Node $(node --version); packets per second, higher is better)"
[ -d "$tools/node_modules/mqtt-packet" ] || npm install --silent --no-audit --no-fund --prefix "$tools" mqtt-packet@9 >/dev/null
cargo build -q -p bench-wasm --target wasm32-unknown-unknown --profile wasm-release
mkdir -p "$out"
wasm-bindgen --target nodejs --out-dir "$out" target/wasm32-unknown-unknown/wasm-release/bench_wasm.wasm
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
  "$out/bench_wasm_bg.wasm" -o "$out/bench_wasm_bg.wasm"
node crates/bench-wasm/bench.cjs "$out" "$tools"

echo
echo "== size: the codec's share of a page (decoder-only wasm module, wasm-opt -Oz)"
printf 'bench_wasm_bg.wasm: %s bytes, %s gzipped\n' "$(stat -c %s "$out/bench_wasm_bg.wasm")" "$(gzip -9c "$out/bench_wasm_bg.wasm" | wc -c)"

echo
echo "== broker: bridge vs Mosquitto vs rumqttd (crates/loadgen; 64-byte payloads; one broker at a time on this machine)"
cargo build -q --release -p bridge -p loadgen
python3 scripts/bench-brokers.py "$tools"

echo
echo "== dashboard: 10,000 msg/s over 500 topics for 60 s in headless Chromium, beside a page using mqtt.js"
[ -f dist/index.html ] || trunk build --release --offline >/dev/null 2>&1
python3 scripts/bench-dashboard.py
