#!/usr/bin/env python3
"""Records MQTT bytes from real third-party software for mqtt-proto's fixture test.

A recording TCP proxy sits between real clients and a real Mosquitto broker.
Every byte each side sends is split into packets by the fixed header and
written, one packet per line, to crates/mqtt-proto/tests/fixtures/<scenario>.txt:

    <protocol level> <c2s|s2c> <hex bytes>

crates/mqtt-proto/tests/fixtures.rs decodes each line with that protocol
version and checks it re-encodes byte for byte.

Regenerate (Debian packages mosquitto and mosquitto-clients, and paho-mqtt 2.1
in a virtualenv):

    python3 -m venv ~/.cache/mqtt-dashboard-tools/venv
    ~/.cache/mqtt-dashboard-tools/venv/bin/pip install paho-mqtt==2.1.0
    ~/.cache/mqtt-dashboard-tools/venv/bin/python scripts/record-fixtures.py

Everything binds to 127.0.0.1 on free ports and is stopped at the end.
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "mqtt-proto", "tests", "fixtures")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def split_packets(data):
    """Splits a byte stream at MQTT fixed-header boundaries."""
    packets, i = [], 0
    while i < len(data):
        length, multiplier, j = 0, 1, i + 1
        while True:
            byte = data[j]
            length += (byte & 0x7F) * multiplier
            multiplier *= 128
            j += 1
            if byte & 0x80 == 0:
                break
        packets.append(data[i : j + length])
        i = j + length
    return packets


class RecordingProxy:
    """Forwards TCP connections to the broker and keeps what crossed, per connection."""

    def __init__(self, broker_port):
        self.broker_port = broker_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen()
        self.port = self.listener.getsockname()[1]
        self.connections = []  # list of [(direction, bytes chunk), ...] in arrival order
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.broker_port))
            log = []
            with self.lock:
                self.connections.append(log)
            for src, dst, direction in ((client, upstream, "c2s"), (upstream, client, "s2c")):
                threading.Thread(
                    target=self._pump, args=(src, dst, direction, log), daemon=True
                ).start()

    def _pump(self, src, dst, direction, log):
        while True:
            try:
                chunk = src.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:
                log.append((direction, chunk))
            dst.sendall(chunk)

    def take(self):
        """Per connection: the c2s and s2c streams split into packets."""
        time.sleep(0.3)
        with self.lock:
            connections, self.connections = self.connections, []
        result = []
        for log in connections:
            streams = {"c2s": b"", "s2c": b""}
            for direction, chunk in log:
                streams[direction] += chunk
            result.append({d: split_packets(s) for d, s in streams.items()})
        return result


def level_of(connect):
    """Protocol level from a CONNECT packet's bytes."""
    i = 1
    while connect[i] & 0x80:
        i += 1
    name_len = int.from_bytes(connect[i + 1 : i + 3], "big")
    return connect[i + 3 + name_len]


def write_fixture(name, connections, note):
    os.makedirs(OUT, exist_ok=True)
    lines = [f"# {note}", "# <protocol level> <c2s|s2c> <packet bytes in hex>"]
    for conn in connections:
        if not conn["c2s"]:
            continue
        level = level_of(conn["c2s"][0])
        for direction in ("c2s", "s2c"):
            for packet in conn[direction]:
                lines.append(f"{level} {direction} {packet.hex()}")
    path = os.path.join(OUT, f"{name}.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {path}: {len(lines) - 2} packets")


def run(*args):
    subprocess.run(args, check=True, timeout=20)


def mosquitto_clients(proxy_port, version, extra_pub, extra_sub):
    """mosquitto_sub waits for three messages that mosquitto_pub sends at QoS 0, 1, 2."""
    port = str(proxy_port)
    sub = subprocess.Popen(
        ["mosquitto_sub", "-p", port, "-V", version, "-q", "2", "-t", "fx/#", "-C", "4",
         "-i", f"fx-sub-{version}", *extra_sub],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    for qos in ("0", "1", "2"):
        run("mosquitto_pub", "-p", port, "-V", version, "-q", qos, "-t", f"fx/q{qos}",
            "-m", f"reading {qos}", "-i", f"fx-pub-{version}-{qos}", *extra_pub)
    run("mosquitto_pub", "-p", port, "-V", version, "-q", "1", "-r", "-t", "fx/retained",
        "-m", "", "-i", f"fx-clear-{version}")
    sub.wait(timeout=10)


def paho_v5(proxy_port):
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions

    done = threading.Event()
    got = []

    def on_message(client, userdata, message):
        got.append(message)
        if len(got) == 2:
            done.set()

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="fx-paho",
                    protocol=mqtt.MQTTv5)
    c.on_message = on_message
    connect_props = Properties(PacketTypes.CONNECT)
    connect_props.SessionExpiryInterval = 120
    connect_props.ReceiveMaximum = 20
    connect_props.UserProperty = ("site", "greenhouse")
    will_props = Properties(PacketTypes.WILLMESSAGE)
    will_props.WillDelayInterval = 5
    will_props.ContentType = "text/plain"
    c.will_set("sensors/fx/status", "offline", qos=1, retain=True, properties=will_props)
    c.username_pw_set("fx-user", "fx-pass")
    c.connect("127.0.0.1", proxy_port, keepalive=30, clean_start=True, properties=connect_props)
    c.loop_start()
    time.sleep(0.3)
    sub_props = Properties(PacketTypes.SUBSCRIBE)
    sub_props.SubscriptionIdentifier = 42
    c.subscribe([
        ("fx/cmd/#", SubscribeOptions(qos=2, noLocal=False, retainAsPublished=True,
                                      retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)),
        ("fx/other", SubscribeOptions(qos=1, noLocal=True)),
    ], properties=sub_props)
    time.sleep(0.3)
    pub_props = Properties(PacketTypes.PUBLISH)
    pub_props.ResponseTopic = "fx/cmd/ack"
    pub_props.CorrelationData = b"\x01\x02req-7"
    pub_props.ContentType = "application/json"
    pub_props.PayloadFormatIndicator = 1
    pub_props.MessageExpiryInterval = 300
    pub_props.UserProperty = [("k", "v"), ("k", "w")]
    c.publish("fx/cmd/pump", b'{"pump":"on"}', qos=2, properties=pub_props).wait_for_publish(5)
    c.publish("fx/cmd/led", b'{"led":"off"}', qos=1).wait_for_publish(5)
    done.wait(5)
    c.unsubscribe(["fx/cmd/#", "fx/other"])
    time.sleep(0.3)
    disc_props = Properties(PacketTypes.DISCONNECT)
    disc_props.SessionExpiryInterval = 0
    c.disconnect(reasoncode=mqtt.ReasonCode(PacketTypes.DISCONNECT, "Normal disconnection"),
                 properties=disc_props)
    time.sleep(0.3)
    c.loop_stop()


def main():
    broker_port = free_port()
    workdir = tempfile.mkdtemp(prefix="fixtures-mosquitto-")
    conf = os.path.join(workdir, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n")
    broker = subprocess.Popen(["mosquitto", "-c", conf], stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        proxy = RecordingProxy(broker_port)
        mosquitto_clients(proxy.port, "mqttv311", [], [])
        write_fixture("mosquitto-v311", proxy.take(),
                      "mosquitto_sub/mosquitto_pub 2.0 with -V mqttv311 against Mosquitto 2.0")
        mosquitto_clients(
            proxy.port, "mqttv5",
            ["-D", "publish", "user-property", "unit", "C",
             "-D", "publish", "content-type", "text/plain",
             "-D", "publish", "message-expiry-interval", "60",
             "-D", "connect", "session-expiry-interval", "30"],
            ["-D", "subscribe", "subscription-identifier", "9",
             "-D", "connect", "receive-maximum", "10"],
        )
        write_fixture("mosquitto-v5", proxy.take(),
                      "mosquitto_sub/mosquitto_pub 2.0 with -V mqttv5 and -D properties against Mosquitto 2.0")
        paho_v5(proxy.port)
        write_fixture("paho-v5", proxy.take(),
                      "paho-mqtt 2.1 (Python) MQTT 5.0 with properties against Mosquitto 2.0")
    finally:
        broker.terminate()
        broker.wait(timeout=5)


if __name__ == "__main__":
    sys.exit(main())
