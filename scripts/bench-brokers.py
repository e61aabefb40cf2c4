#!/usr/bin/env python3
"""Runs crates/loadgen against the bridge, Mosquitto and rumqttd, one after
the other on this machine, and prints one table with ratios.

Usage: scripts/bench-brokers.py TOOLS_DIR  (after `cargo build --release -p bridge -p loadgen`)

Brokers:
- bridge: target/release/bridge, default settings, $SYS off.
- Mosquitto (Debian package): persistence off, logging off, and
  max_queued_messages 0 (unlimited): with its default of 1000 it drops QoS 1
  messages for the fan-in subscriber even with only 200 outstanding.
- rumqttd 0.20.0 from crates.io, installed into TOOLS_DIR/rumqttd on first use:
  its generated default config, v4 listener only, no connection delay.

Then the QoS 1 scenarios again with persistent subscribers (clean session 0),
so every message delivered is stored: the bridge with --data-dir and fsync on
every acknowledgement, with fsync batched every 100 ms, and in memory; beside
Mosquitto with `persistence true` (its default autosave: the in-memory state
is written on shutdown and every 30 minutes, never per message).

Last, forwarding to an upstream broker: 100 publishers on the local broker, the
subscriber on an upstream Mosquitto, the local broker forwarding `bench/#` to it
(QoS 1 link). The bridge's [[upstream]] beside Mosquitto's own bridge
(`connection` in mosquitto.conf), both forwarding to the same kind of upstream.
"""
import os
import re
import socket
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = sys.argv[1] if len(sys.argv) > 1 else os.path.expanduser("~/.cache/mqtt-dashboard-tools")
RUMQTTD_VERSION = "0.20.0"
SCENARIOS = ["fan-in-0", "fan-in-1", "fan-out-0", "fan-out-1"]
NAMES = {
    "fan-in-0": "fan-in QoS 0 (100 pub -> 1 sub)",
    "fan-in-1": "fan-in QoS 1 (100 pub -> 1 sub)",
    "fan-out-0": "fan-out QoS 0 (1 pub -> 100 sub)",
    "fan-out-1": "fan-out QoS 1 (1 pub -> 100 sub)",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"{what} exited at start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}")


def rumqttd_binary():
    binary = os.path.join(TOOLS, "rumqttd", "bin", "rumqttd")
    if not os.path.exists(binary):
        print(f"installing rumqttd {RUMQTTD_VERSION} into {TOOLS}/rumqttd (a few minutes, once)", file=sys.stderr)
        subprocess.run(["cargo", "install", "--quiet", "rumqttd", "--version", RUMQTTD_VERSION,
                        "--root", os.path.join(TOOLS, "rumqttd")], check=True)
    return binary


def start(name, port, workdir):
    data = os.path.join(workdir, "data")
    shutil.rmtree(data, ignore_errors=True)
    os.makedirs(data)
    if name.startswith("bridge"):
        cmd = [os.path.join(ROOT, "target/release/bridge"), "--tcp", f"127.0.0.1:{port}",
               "--ws", "127.0.0.1:0", "--log", "error", "--sys-interval", "0"]
        if name == "bridge-fsync":
            cmd += ["--data-dir", data, "--fsync", "every-ack"]
        elif name == "bridge-batched":
            cmd += ["--data-dir", data, "--fsync", "100ms"]
    elif name.startswith("mosquitto"):
        conf = os.path.join(workdir, "mosquitto.conf")
        persistence = (f"persistence true\npersistence_location {data}/\n"
                       if name == "mosquitto-persistent" else "persistence false\n")
        # The shared upstream of the forwarding table: Nagle off, so its 40 ms
        # delayed-ACK stalls do not decide which forwarder looks faster.
        if name == "mosquitto-upstream":
            persistence += "set_tcp_nodelay true\n"
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n{persistence}"
                    "log_dest none\nmax_connections -1\nmax_queued_messages 0\n")
        cmd = ["mosquitto", "-c", conf]
    else:
        conf = os.path.join(workdir, "rumqttd.toml")
        with open(conf, "w") as f:
            f.write(f"""id = 0
[router]
id = 0
max_connections = 10100
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "v4-1"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 20480
    max_inflight_count = 100
    dynamic_filters = true
""")
        cmd = [rumqttd_binary(), "-q", "-c", conf]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc, name)
    return proc


def measure(name, workdir, scenarios=SCENARIOS + ["idle"], extra=()):
    """{scenario: (rate, p50, p99, delivered)} and idle bytes per connection."""
    results = {}
    for scenario in scenarios:
        # A fresh broker per scenario: nothing left over from the previous one.
        port = free_port()
        proc = start(name, port, workdir)
        try:
            out = subprocess.run(
                [os.path.join(ROOT, "target/release/loadgen"), "--tcp", f"127.0.0.1:{port}",
                 "--pid", str(proc.pid), "--scenarios", scenario, *extra],
                capture_output=True, text=True, timeout=300)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if out.returncode != 0:
            results[scenario] = None
            print(f"{name} {scenario}: {out.stderr.strip().splitlines()[0] if out.stderr.strip() else 'failed'}", file=sys.stderr)
            continue
        fields = out.stdout.strip().split("\t")
        if scenario == "idle":
            results[scenario] = float(fields[1])
        else:
            rate, p50, p99, delivered = float(fields[1]), int(fields[2]), int(fields[3]), fields[4]
            results[scenario] = (rate, p50, p99, delivered)
    return results


def measure_forwarding(name, workdir):
    """{scenario: (rate, p50, p99, delivered)} through `name` to an upstream Mosquitto."""
    results = {}
    for scenario in ["fan-in-0", "fan-in-1"]:
        up_port, port = free_port(), free_port()
        up = start("mosquitto-upstream", up_port, os.path.join(workdir, "upstream"))
        conf_dir = os.path.join(workdir, "forwarder")
        os.makedirs(conf_dir, exist_ok=True)
        if name == "bridge":
            conf = os.path.join(conf_dir, "bridge.toml")
            with open(conf, "w") as f:
                f.write(f"""[[upstream]]
name = "up"
address = "mqtt://127.0.0.1:{up_port}"
[[upstream.topics]]
pattern = "bench/#"
direction = "out"
qos = 1
""")
            cmd = [os.path.join(ROOT, "target/release/bridge"), "--config", conf, "--tcp", f"127.0.0.1:{port}",
                   "--ws", "127.0.0.1:0", "--log", "error", "--sys-interval", "0"]
        else:
            conf = os.path.join(conf_dir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n"
                        f"max_queued_messages 0\nconnection up\naddress 127.0.0.1:{up_port}\n"
                        "topic bench/# out 1\nbridge_attempt_unsubscribe false\n")
            cmd = ["mosquitto", "-c", conf]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_listening(port, proc, name)
            time.sleep(1.5)  # the link connects
            out = subprocess.run(
                [os.path.join(ROOT, "target/release/loadgen"), "--tcp", f"127.0.0.1:{port}",
                 "--sub-tcp", f"127.0.0.1:{up_port}", "--scenarios", scenario, "--per-publisher", "500"],
                capture_output=True, text=True, timeout=300)
        finally:
            for p in (proc, up):
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
        if out.returncode != 0:
            results[scenario] = None
            print(f"forwarding {name} {scenario}: {out.stderr.strip().splitlines()[0] if out.stderr.strip() else 'failed'}", file=sys.stderr)
            continue
        fields = out.stdout.strip().split("\t")
        results[scenario] = (float(fields[1]), int(fields[2]), int(fields[3]), fields[4])
    return results


def cell(r, show):
    """A table cell for the result `r` (rate, p50 us, p99 us, "got/sent"),
    shown by `show`, noting messages lost; "failed" for a failed run."""
    if r is None:
        return "failed"
    got, sent = r[3].split("/")
    return show(r) + ("" if got == sent else f" ({r[3]})")


def ratio(a, b):
    return f"{a[0]/b[0]:.2f}x" if a and b and b[0] else "-"


def rate(r):
    return f"{r[0]/1000:.0f} k/s"


def main():
    workdir = os.path.join(ROOT, "target", "bench-brokers")
    os.makedirs(workdir, exist_ok=True)
    brokers = ["bridge", "mosquitto", "rumqttd"]
    runs = {b: measure(b, workdir) for b in brokers}
    print("| scenario | bridge | Mosquitto | rumqttd | vs Mosquitto | vs rumqttd |")
    print("| --- | --- | --- | --- | --- | --- |")
    for s in SCENARIOS:
        row = [runs[b][s] for b in brokers]
        cells = [cell(r, rate) for r in row] + [ratio(row[0], r) for r in row[1:]]
        print(f"| {NAMES[s]} | " + " | ".join(cells) + " |")
    print()
    print("| latency p50 / p99 (ms) | bridge | Mosquitto | rumqttd |")
    print("| --- | --- | --- | --- |")
    for s in SCENARIOS:
        cells = ["failed" if runs[b][s] is None else f"{runs[b][s][1]/1000:.1f} / {runs[b][s][2]/1000:.1f}" for b in brokers]
        print(f"| {NAMES[s]} | " + " | ".join(cells) + " |")
    print()
    print("| memory | bridge | Mosquitto | rumqttd |")
    print("| --- | --- | --- | --- |")
    cells = ["failed" if runs[b]["idle"] is None else f"{runs[b]['idle']/1024:.1f} KiB" for b in brokers]
    print("| RSS per idle connection (10,000 connections) | " + " | ".join(cells) + " |")
    print()

    durable = ["bridge-fsync", "bridge-batched", "bridge", "mosquitto-persistent"]
    qos1 = ["fan-in-1", "fan-out-1"]
    runs = {b: measure(b, workdir, qos1, ["--persistent"]) for b in durable}
    print("| persistent subscribers (rate, p99 ms) | bridge, fsync every ack | bridge, fsync every 100 ms "
          "| bridge, in memory | Mosquitto, persistence on | fsync every ack vs Mosquitto |")
    print("| --- | --- | --- | --- | --- | --- |")
    for s in qos1:
        row = [runs[b][s] for b in durable]
        cells = [cell(r, lambda r: f"{rate(r)}, {r[2]/1000:.1f}") for r in row]
        print(f"| {NAMES[s]} | " + " | ".join(cells) + f" | {ratio(row[0], row[3])} |")
    print()

    forwarding = {b: measure_forwarding(b, workdir) for b in ["bridge", "mosquitto"]}
    print("| forwarding to an upstream Mosquitto (rate, p50 / p99 ms) | bridge [[upstream]] | Mosquitto bridge | vs Mosquitto |")
    print("| --- | --- | --- | --- |")
    for s in ["fan-in-0", "fan-in-1"]:
        row = [forwarding[b][s] for b in ["bridge", "mosquitto"]]
        cells = [cell(r, lambda r: f"{rate(r)}, {r[1]/1000:.1f} / {r[2]/1000:.1f}") for r in row]
        print(f"| {NAMES[s]} | " + " | ".join(cells) + f" | {ratio(row[0], row[1])} |")


if __name__ == "__main__":
    main()
