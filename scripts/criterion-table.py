#!/usr/bin/env python3
"""Prints criterion's results for groups with an `mqtt-proto` and a peer
function side by side: mean ns per packet and our speed-up (peer / ours)."""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
ours_name, peer_name = "mqtt-proto", "mqttbytes"


def mean_ns(group, function):
    """Mean time per element (packet) of one benchmark."""
    new = group / function / "new"
    mean = json.loads((new / "estimates.json").read_text())["mean"]["point_estimate"]
    throughput = json.loads((new / "benchmark.json").read_text()).get("throughput") or {}
    return mean / throughput.get("Elements", 1)


# Criterion names a group "decode/publish_16B" on disk as "decode_publish_16B".
# Our variants of a case ("mqtt-proto (built)") each get a row of their own.
rows = []
for group in sorted(root.iterdir()):
    if not (group / peer_name).is_dir():
        continue
    for ours in sorted(d.name for d in group.iterdir() if d.name.startswith(ours_name)):
        name = group.name.replace("_", " ", 1) + ours[len(ours_name):]
        rows.append((name, mean_ns(group, ours), mean_ns(group, peer_name)))
print(f"| case | {ours_name} | {peer_name} 0.6 | speed-up |")
print("| --- | --- | --- | --- |")
for name, ours, peer in rows:
    print(f"| {name} | {ours:.1f} ns | {peer:.1f} ns | {peer / ours:.2f}x |")
