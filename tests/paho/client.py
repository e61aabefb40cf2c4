#!/usr/bin/env python3
"""paho-mqtt 2.x clients the e2e tests drive against the bridge.

Each mode plays one client and prints what the test checks as JSON lines on
stdout: {"event": "ready"} once subscribed, then one object per message.

  client.py subscribe PORT ID VERSION CLEAN COUNT FILTER QOS  # prints COUNT messages
  client.py away      PORT ID VERSION FILTER QOS              # subscribe, then leave a kept session
  client.py publish   PORT ID VERSION TOPIC PAYLOAD QOS [KEY=VALUE ...]  # 5.0: user properties

VERSION is 311 or 5. For 5.0 a kept session has a Session Expiry Interval of
300 s; for 3.1.1 it is clean session 0.
"""
import json
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

TIMEOUT = 10
# paho's network thread and the main thread both print.
PRINT = threading.Lock()


def emit(obj):
    with PRINT:
        try:
            print(json.dumps(obj), flush=True)
        except BrokenPipeError:
            # The test has read what it needed and stopped listening.
            sys.stdout = None


def make_client(client_id, version, clean):
    v5 = version == "5"
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else clean,
    )
    return client, v5


def connect(client, v5, port, clean):
    connected = threading.Event()

    def on_connect(_c, _u, flags, reason_code, _props):
        # Printed here, on the network thread, so it comes before any message.
        emit({"event": "connected", "present": flags.session_present, "code": str(reason_code)})
        connected.set()

    client.on_connect = on_connect
    if v5:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0 if clean else 300
        client.connect("127.0.0.1", port, clean_start=clean, properties=props)
    else:
        client.connect("127.0.0.1", port)
    client.loop_start()
    if not connected.wait(TIMEOUT):
        sys.exit("no CONNACK")


def subscribe(client, topic_filter, qos):
    done = threading.Event()
    client.on_subscribe = lambda *_args: done.set()
    client.subscribe(topic_filter, qos)
    if not done.wait(TIMEOUT):
        sys.exit("no SUBACK")
    emit({"event": "ready"})


def mode_subscribe(port, client_id, version, clean, count, topic_filter, qos):
    client, v5 = make_client(client_id, version, clean == "1")
    got = []
    finished = threading.Event()

    def on_message(_c, _u, msg):
        props = getattr(msg, "properties", None)
        user = dict(props.UserProperty) if props is not None and hasattr(props, "UserProperty") else {}
        content_type = getattr(props, "ContentType", None) if props is not None else None
        emit({"topic": msg.topic, "payload": msg.payload.decode(), "qos": msg.qos,
              "retain": bool(msg.retain), "user": user, "content_type": content_type})
        got.append(msg)
        if len(got) >= int(count):
            finished.set()

    client.on_message = on_message
    connect(client, v5, int(port), clean == "1")
    subscribe(client, topic_filter, int(qos))
    if not finished.wait(TIMEOUT):
        sys.exit(f"only {len(got)} of {count} messages")
    client.disconnect()
    client.loop_stop()


def mode_away(port, client_id, version, topic_filter, qos):
    client, v5 = make_client(client_id, version, False)
    connect(client, v5, int(port), False)
    subscribe(client, topic_filter, int(qos))
    client.disconnect()
    client.loop_stop()


def mode_publish(port, client_id, version, topic, payload, qos, *user):
    client, v5 = make_client(client_id, version, True)
    connect(client, v5, int(port), True)
    props = None
    if v5 and user:
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [tuple(kv.split("=", 1)) for kv in user]
        props.ContentType = "text/plain"
    info = client.publish(topic, payload, qos=int(qos), properties=props)
    info.wait_for_publish(TIMEOUT)
    emit({"event": "published", "mid": info.mid})
    client.disconnect()
    client.loop_stop()


if __name__ == "__main__":
    modes = {"subscribe": mode_subscribe, "away": mode_away, "publish": mode_publish}
    modes[sys.argv[1]](*sys.argv[2:])
