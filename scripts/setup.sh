#!/usr/bin/env bash
# Installs what `make run` (setup.sh run) or `make test` (setup.sh test) needs
# and is missing. Silent when everything is present; one line per install
# otherwise, with the installer's log shown only if it fails.
#
# Traps this avoids (see ARCHITECTURE.md, "Toolchain"):
# - trunk 0.22 needs a newer rustc than ours: trunk is pinned to 0.21.14.
# - trunk downloads wasm-bindgen and wasm-opt from GitHub, unreachable here:
#   both are installed locally and trunk runs with --offline.
# - wasm-bindgen-cli must match Cargo.lock's wasm-bindgen exactly, and its own
#   lock file pins crates this registry lacks, so it is installed without --locked.
# - Debian's binaryen 108 silently breaks the wasm; npm's binaryen 132 works.
set -euo pipefail

mode=${1:-run}
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${MQTT_DASHBOARD_TOOLS:-$HOME/.cache/mqtt-dashboard-tools}
trunk_version=0.21.14
binaryen_version=132
paho_version=2.1.0
aedes_version=1.2.0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

say() { echo "setup: $*" >&2; }
run_logged() {
  if ! "$@" >"$log" 2>&1; then
    say "failed: $*"
    tail -n 40 "$log" >&2
    exit 1
  fi
}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} from Debian"
  if [ $apt_updated -eq 0 ]; then
    run_logged as_root apt-get update -qq
    apt_updated=1
  fi
  run_logged as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_wasm_target() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown && return 0
  say "adding the wasm32-unknown-unknown target"
  run_logged rustup target add wasm32-unknown-unknown
}

ensure_trunk() {
  [ "$(trunk --version 2>/dev/null)" = "trunk $trunk_version" ] && return 0
  say "installing trunk $trunk_version (about 9 minutes the first time)"
  run_logged cargo install --locked trunk --version "$trunk_version"
}

ensure_wasm_bindgen() {
  local want
  want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$root/Cargo.lock")
  [ -n "$want" ] || { say "no wasm-bindgen in Cargo.lock"; exit 1; }
  [ "$(wasm-bindgen --version 2>/dev/null)" = "wasm-bindgen $want" ] && return 0
  say "installing wasm-bindgen-cli $want (about 3 minutes the first time)"
  run_logged cargo install --force wasm-bindgen-cli --version "$want"
}

ensure_wasm_opt() {
  "$tools/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $binaryen_version" && return 0
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing wasm-opt from npm's binaryen $binaryen_version into $tools"
  mkdir -p "$tools"
  run_logged npm install --silent --no-audit --no-fund --prefix "$tools" "binaryen@$binaryen_version"
}

ensure_wasm_target
ensure_trunk
ensure_wasm_bindgen
ensure_wasm_opt
# paho-mqtt, the Python client the interop tests drive, in its own virtualenv.
ensure_paho() {
  "$tools/venv/bin/python" -c "import paho.mqtt, sys; sys.exit(paho.mqtt.__version__ != '$paho_version')" 2>/dev/null && return 0
  apt_install python3 python3-venv
  say "installing paho-mqtt $paho_version into $tools/venv"
  mkdir -p "$tools"
  run_logged python3 -m venv "$tools/venv"
  run_logged "$tools/venv/bin/pip" install --quiet "paho-mqtt==$paho_version"
}

# Aedes, a Node MQTT broker with a WebSocket listener (Debian's Mosquitto has
# none), for the test that points the dashboard at a third-party WebSocket broker.
ensure_aedes() {
  [ -f "$tools/node_modules/aedes/aedes.js" ] && [ -d "$tools/node_modules/ws" ] && return 0
  command -v npm >/dev/null || apt_install nodejs npm
  say "installing aedes $aedes_version and ws into $tools"
  mkdir -p "$tools"
  run_logged npm install --silent --no-audit --no-fund --prefix "$tools" "aedes@$aedes_version" "ws@8"
}

if [ "$mode" = test ]; then
  apt_install chromium chromium-driver mosquitto mosquitto-clients curl python3 openssl
  ensure_paho
  ensure_aedes
fi
