#!/usr/bin/env bash
# make run: the bridge in demo mode and trunk's dev server, stopped together.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p bridge
trunk build --release --offline

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped"
}
trap stop INT TERM EXIT

target/release/bridge --demo &
pids+=($!)
trunk serve --release --offline --no-autoreload &
pids+=($!)

for _ in $(seq 100); do
  curl -sf -o /dev/null http://127.0.0.1:8080/ && break
  sleep 0.2
done
echo
echo "  Dashboard: http://127.0.0.1:8080   (MQTT: tcp 127.0.0.1:1883, ws 127.0.0.1:9001/mqtt)"
echo "  Ctrl-C stops the bridge and the dev server."
echo
wait -n "${pids[@]}"
