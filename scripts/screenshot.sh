#!/usr/bin/env bash
# Screenshot of a page in headless Chromium after it has run for a while in
# real time (live data needs real seconds, which --virtual-time-budget skips).
#   scripts/screenshot.sh [URL] [OUT.png] [WIDTHxHEIGHT] [WAIT_SECONDS] [light|dark]
set -euo pipefail
url=${1:-http://127.0.0.1:8080/}
out=${2:-dashboard.png}
size=${3:-1280x800}
wait_s=${4:-5}
scheme=${5:-light}
width=${size%x*}
height=${size#*x}

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
profile=$(mktemp -d)
chromedriver --port="$port" >/dev/null 2>&1 &
driver=$!
trap 'kill $driver 2>/dev/null; rm -rf "$profile"' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/status" >/dev/null && break; sleep 0.1; done

api() { curl -sf -X "$1" -H 'Content-Type: application/json' "http://127.0.0.1:$port$2" ${3:+-d "$3"}; }
caps=$(python3 - "$width" "$height" "$profile" "$scheme" <<'PY'
import json, sys
w, h, profile, scheme = sys.argv[1:]
args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", f"--window-size={w},{h}"]
if scheme == "dark":
    # The system preference the page follows: prefers-color-scheme: dark.
    args.append("--force-dark-mode")
mobile = int(w) < 600
opts = {"args": args, "binary": "/usr/bin/chromium"}
if mobile:
    opts["mobileEmulation"] = {"deviceMetrics": {"width": int(w), "height": int(h), "pixelRatio": 2}}
print(json.dumps({"capabilities": {"alwaysMatch": {"goog:chromeOptions": opts}}}))
PY
)
session=$(api POST /session "$caps" | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"]["sessionId"])')
api POST "/session/$session/url" "{\"url\": \"$url\"}" >/dev/null
sleep "$wait_s"
api GET "/session/$session/screenshot" | python3 -c 'import json,sys,base64; sys.stdout.buffer.write(base64.b64decode(json.load(sys.stdin)["value"]))' > "$out"
api DELETE "/session/$session" >/dev/null || true
echo "wrote $out (${width}x${height}, after ${wait_s}s)"
