#!/usr/bin/env bash
# The README's screenshots: the dashboard against the bridge's demo devices,
# desktop (1280x800) and phone (390x844) width, light and dark, in headless
# Chromium after real seconds of live data. Writes docs/screenshots/*.png.
#   scripts/readme-screenshots.sh [WAIT_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
wait_s=${1:-8}
out=docs/screenshots
mkdir -p "$out"

cargo build -q --release -p bridge
[ -f dist/index.html ] || trunk build --release --offline >/dev/null 2>&1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tcp=$(free_port); ws=$(free_port); http=$(free_port)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
target/release/bridge --demo --tcp "127.0.0.1:$tcp" --ws "127.0.0.1:$ws" --sys-interval 2 --log warn >/dev/null &
pids+=($!)
python3 -m http.server "$http" --bind 127.0.0.1 --directory dist >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$http/" && break; sleep 0.1; done

url="http://127.0.0.1:$http/index.html?broker=ws://127.0.0.1:$ws/mqtt"
for scheme in light dark; do
  scripts/screenshot.sh "$url" "$out/desktop-$scheme.png" 1280x800 "$wait_s" "$scheme"
  scripts/screenshot.sh "$url" "$out/phone-$scheme.png" 390x844 "$wait_s" "$scheme"
done
