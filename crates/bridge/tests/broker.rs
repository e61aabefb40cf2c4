//! The bridge binary over real sockets, spoken to in raw MQTT 3.1.1 bytes.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn first_stdout_line_names_bound_ports() {
    let bridge = RunningBridge::start(&[]).await;
    assert_ne!(bridge.tcp.port(), 0);
    assert_ne!(bridge.ws.port(), 0);
    assert_ne!(bridge.tcp.port(), bridge.ws.port());
    bridge.stop().await;
}

#[tokio::test]
async fn tcp_publish_reaches_tcp_and_ws_subscribers_with_wildcards() {
    let bridge = RunningBridge::start(&[]).await;
    let mut exact = RawClient::tcp(bridge.tcp).await;
    exact.handshake("exact").await;
    exact.subscribe(1, "sensors/e2e/temperature").await;
    let mut plus = RawClient::ws(bridge.ws).await;
    plus.handshake("plus-over-ws").await;
    plus.subscribe(7, "sensors/+/temperature").await;
    let mut hash = RawClient::tcp(bridge.tcp).await;
    hash.handshake("hash").await;
    hash.subscribe(2, "sensors/#").await;

    let mut publisher = RawClient::tcp(bridge.tcp).await;
    publisher.handshake("publisher").await;
    let publish = publish_bytes("sensors/e2e/temperature", b"23.5");
    publisher.send(&publish).await;

    for subscriber in [&mut exact, &mut plus, &mut hash] {
        assert_eq!(subscriber.recv_exact(publish.len()).await, publish);
    }
    bridge.stop().await;
}

#[tokio::test]
async fn ws_publish_reaches_tcp_subscriber_and_not_non_matching_ones() {
    let bridge = RunningBridge::start(&[]).await;
    let mut matching = RawClient::tcp(bridge.tcp).await;
    matching.handshake("matching").await;
    matching.subscribe(1, "cmd/+").await;
    let mut other = RawClient::tcp(bridge.tcp).await;
    other.handshake("other").await;
    other.subscribe(1, "cmd/x/+").await;

    let mut browser = RawClient::ws(bridge.ws).await;
    browser.handshake("browser").await;
    let first = publish_bytes("cmd/pump", br#"{"pump":"on"}"#);
    browser.send(&first).await;
    assert_eq!(matching.recv_exact(first.len()).await, first);

    // `other` must have nothing: ping it and the PINGRESP must be the next bytes.
    other.send(&[0xC0, 0x00]).await;
    assert_eq!(other.recv_exact(2).await, [0xD0, 0x00]);
    bridge.stop().await;
}

#[tokio::test]
async fn ping_unsubscribe_and_disconnect() {
    let bridge = RunningBridge::start(&[]).await;
    let mut c = RawClient::tcp(bridge.tcp).await;
    c.handshake("c").await;
    c.send(&[0xC0, 0x00]).await;
    assert_eq!(c.recv_exact(2).await, [0xD0, 0x00]);
    c.subscribe(3, "a/b").await;
    // UNSUBSCRIBE id 4 "a/b" -> UNSUBACK id 4.
    c.send(&[0xA2, 0x07, 0x00, 0x04, 0x00, 0x03, b'a', b'/', b'b'])
        .await;
    assert_eq!(c.recv_exact(4).await, [0xB0, 0x02, 0x00, 0x04]);
    let mut p = RawClient::tcp(bridge.tcp).await;
    p.handshake("p").await;
    p.send(&publish_bytes("a/b", b"gone")).await;
    c.send(&[0xC0, 0x00]).await;
    assert_eq!(
        c.recv_exact(2).await,
        [0xD0, 0x00],
        "nothing after unsubscribe"
    );
    c.send(&[0xE0, 0x00]).await;
    assert!(c.closed_by_peer().await);
    bridge.stop().await;
}

#[tokio::test]
async fn qos1_and_qos2_publishes_are_acknowledged_and_delivered_once() {
    let bridge = RunningBridge::start(&[]).await;
    let mut sub = RawClient::tcp(bridge.tcp).await;
    sub.handshake("sub").await;
    sub.subscribe(1, "q/#").await;
    let mut publisher = RawClient::tcp(bridge.tcp).await;
    publisher.handshake("pub").await;
    // QoS 1, id 5, topic "q/1", payload "x" -> PUBACK 5.
    publisher
        .send(&[0x32, 0x08, 0x00, 0x03, b'q', b'/', b'1', 0x00, 0x05, b'x'])
        .await;
    assert_eq!(publisher.recv_exact(4).await, [0x40, 0x02, 0x00, 0x05]);
    // QoS 2, id 6, sent twice (the second with DUP) -> PUBREC twice, one delivery.
    let qos2 = [0x34, 0x08, 0x00, 0x03, b'q', b'/', b'2', 0x00, 0x06, b'y'];
    let dup = [0x3C, 0x08, 0x00, 0x03, b'q', b'/', b'2', 0x00, 0x06, b'y'];
    publisher.send(&qos2).await;
    publisher.send(&dup).await;
    assert_eq!(
        publisher.recv_exact(8).await,
        [0x50, 0x02, 0x00, 0x06, 0x50, 0x02, 0x00, 0x06]
    );
    publisher.send(&[0x62, 0x02, 0x00, 0x06]).await;
    assert_eq!(publisher.recv_exact(4).await, [0x70, 0x02, 0x00, 0x06]);

    // Delivered at the granted QoS 0.
    for expected in [publish_bytes("q/1", b"x"), publish_bytes("q/2", b"y")] {
        assert_eq!(sub.recv_exact(expected.len()).await, expected);
    }
    sub.send(&[0xC0, 0x00]).await;
    assert_eq!(
        sub.recv_exact(2).await,
        [0xD0, 0x00],
        "QoS 2 was routed once"
    );
    bridge.stop().await;
}

#[tokio::test]
async fn protocol_violations_close_only_the_offender() {
    let bridge = RunningBridge::start(&[]).await;
    let mut good = RawClient::tcp(bridge.tcp).await;
    good.handshake("good").await;
    good.subscribe(1, "t").await;

    // An unknown protocol level gets CONNACK 0x01 and a close (MQTT-3.1.2-2).
    let mut v6 = RawClient::tcp(bridge.tcp).await;
    v6.send(&[
        0x10, 0x0C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, 0x02, 0x00, 0x00, 0x00, 0x00,
    ])
    .await;
    assert_eq!(v6.recv_exact(4).await, [0x20, 0x02, 0x00, 0x01]);
    assert!(v6.closed_by_peer().await);

    // A 3.1.1 client may not leave its id empty with clean session 0: 0x02.
    let mut anonymous = RawClient::tcp(bridge.tcp).await;
    anonymous
        .send(&[
            0x10, 0x0C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
        ])
        .await;
    assert_eq!(anonymous.recv_exact(4).await, [0x20, 0x02, 0x00, 0x02]);
    assert!(anonymous.closed_by_peer().await);

    // PUBLISH before CONNECT.
    let mut early = RawClient::tcp(bridge.tcp).await;
    early.send(&publish_bytes("t", b"sneaky")).await;
    assert!(early.closed_by_peer().await);

    // A wildcard in a PUBLISH topic, after a proper handshake.
    let mut wild = RawClient::tcp(bridge.tcp).await;
    wild.handshake("wild").await;
    wild.send(&publish_bytes("t/#", b"x")).await;
    assert!(wild.closed_by_peer().await);

    // A remaining length announcing 256 MiB is refused from the header.
    let mut huge = RawClient::tcp(bridge.tcp).await;
    huge.handshake("huge").await;
    huge.send(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F]).await;
    assert!(huge.closed_by_peer().await);

    // A second CONNECT.
    let mut twice = RawClient::tcp(bridge.tcp).await;
    twice.handshake("twice").await;
    twice.send(&connect_bytes("twice")).await;
    assert!(twice.closed_by_peer().await);

    // A WebSocket text frame (MQTT-6.0.0-1).
    let mut text = RawClient::ws(bridge.ws).await;
    if let RawClient::Ws(ws) = &mut text {
        use futures_util::SinkExt;
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            "hello".into(),
        ))
        .await
        .expect("send text");
    }
    assert!(text.closed_by_peer().await);

    // The well-behaved client is still served.
    let mut publisher = RawClient::tcp(bridge.tcp).await;
    publisher.handshake("after").await;
    let msg = publish_bytes("t", b"still here");
    publisher.send(&msg).await;
    assert_eq!(good.recv_exact(msg.len()).await, msg);
    bridge.stop().await;
}

#[tokio::test]
async fn same_client_id_takes_over() {
    let bridge = RunningBridge::start(&[]).await;
    let mut first = RawClient::tcp(bridge.tcp).await;
    first.handshake("device-7").await;
    let mut second = RawClient::tcp(bridge.tcp).await;
    second.handshake("device-7").await;
    assert!(first.closed_by_peer().await);
    second.send(&[0xC0, 0x00]).await;
    assert_eq!(second.recv_exact(2).await, [0xD0, 0x00]);
    bridge.stop().await;
}

#[tokio::test]
async fn websocket_upgrade_checks_path_and_subprotocol() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let bridge = RunningBridge::start(&[]).await;
    let wrong_path = tokio_tungstenite::connect_async(format!("ws://{}/other", bridge.ws)).await;
    assert!(wrong_path.is_err(), "only /mqtt is served");

    let mut request = format!("ws://{}/mqtt", bridge.ws)
        .into_client_request()
        .expect("valid URL");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "chat".parse().expect("header"));
    assert!(
        tokio_tungstenite::connect_async(request).await.is_err(),
        "unknown subprotocol refused"
    );

    let mut request = format!("ws://{}/mqtt", bridge.ws)
        .into_client_request()
        .expect("valid URL");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "mqttv3.1".parse().expect("header"),
    );
    let (_ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("mqttv3.1 accepted");
    assert_eq!(response.headers()["sec-websocket-protocol"], "mqttv3.1");
    bridge.stop().await;
}

#[tokio::test]
async fn keepalive_zero_allows_silence() {
    // keepalive 0 means the bridge never times the client out (spec 3.1.2.10).
    let bridge = RunningBridge::start(&[]).await;
    let mut idle = RawClient::tcp(bridge.tcp).await;
    idle.handshake("idle").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    idle.send(&[0xC0, 0x00]).await;
    assert_eq!(idle.recv_exact(2).await, [0xD0, 0x00]);
    bridge.stop().await;
}

fn retained_bytes(topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut v = publish_bytes(topic, payload);
    v[0] = 0x31; // PUBLISH with RETAIN
    v
}

/// Sends PINGREQ and waits for PINGRESP: everything sent before it was handled.
async fn sync(c: &mut RawClient) {
    c.send(&[0xC0, 0x00]).await;
    assert_eq!(c.recv_exact(2).await, [0xD0, 0x00]);
}

#[tokio::test]
async fn retained_messages_are_kept_replaced_cleared_and_delivered_on_subscribe() {
    let bridge = RunningBridge::start(&[]).await;
    let mut live = RawClient::tcp(bridge.tcp).await;
    live.handshake("live").await;
    live.subscribe(1, "sensors/#").await;

    let mut publisher = RawClient::tcp(bridge.tcp).await;
    publisher.handshake("publisher").await;
    publisher
        .send(&retained_bytes("sensors/r1/temperature", b"21.5"))
        .await;
    publisher
        .send(&retained_bytes("sensors/r2/temperature", b"19.0"))
        .await;
    publisher
        .send(&publish_bytes("sensors/r3/temperature", b"18.0"))
        .await;
    sync(&mut publisher).await;
    // A live delivery to an existing subscription carries retain 0 (MQTT-3.3.1-9).
    for (topic, payload) in [
        ("sensors/r1/temperature", &b"21.5"[..]),
        ("sensors/r2/temperature", b"19.0"),
        ("sensors/r3/temperature", b"18.0"),
    ] {
        let expected = publish_bytes(topic, payload);
        assert_eq!(live.recv_exact(expected.len()).await, expected);
    }

    // A new subscription gets SUBACK, then the retained messages with RETAIN set, and only those.
    let mut late = RawClient::tcp(bridge.tcp).await;
    late.handshake("late").await;
    late.subscribe(4, "sensors/+/temperature").await;
    for expected in [
        retained_bytes("sensors/r1/temperature", b"21.5"),
        retained_bytes("sensors/r2/temperature", b"19.0"),
    ] {
        assert_eq!(late.recv_exact(expected.len()).await, expected);
    }
    sync(&mut late).await;

    // Replace r1, clear r2 with an empty retained payload.
    publisher
        .send(&retained_bytes("sensors/r1/temperature", b"22.0"))
        .await;
    publisher
        .send(&retained_bytes("sensors/r2/temperature", b""))
        .await;
    sync(&mut publisher).await;
    let mut later = RawClient::tcp(bridge.tcp).await;
    later.handshake("later").await;
    later.subscribe(5, "sensors/#").await;
    let expected = retained_bytes("sensors/r1/temperature", b"22.0");
    assert_eq!(later.recv_exact(expected.len()).await, expected);
    sync(&mut later).await;
    bridge.stop().await;
}

#[tokio::test]
async fn a_retained_will_is_kept() {
    let bridge = RunningBridge::start(&[]).await;
    // CONNECT 3.1.1, will retain + will flag + clean session, will topic "dev/status" = "offline".
    let mut body = vec![0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x26, 0x00, 0x00];
    for field in [&b"dev"[..], b"dev/status", b"offline"] {
        body.extend_from_slice(&(field.len() as u16).to_be_bytes());
        body.extend_from_slice(field);
    }
    let mut device = RawClient::tcp(bridge.tcp).await;
    device.send(&frame(0x10, &body)).await;
    assert_eq!(device.recv_exact(4).await, CONNACK_ACCEPTED);
    drop(device); // gone without DISCONNECT: the will is published, and retained

    let expected = retained_bytes("dev/status", b"offline");
    let got = tokio::time::timeout(WAIT, async {
        // A new watcher each try: one already subscribed would get the will
        // live (retain flag clear) the moment it is published, before the
        // SUBACK of its next try. (That race failed CI once under load.)
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut watcher = RawClient::tcp(bridge.tcp).await;
            watcher.handshake(&format!("watcher-{attempt}")).await;
            watcher.send(&subscribe_bytes(1, "dev/status")).await;
            assert_eq!(watcher.recv_exact(5).await, [0x90, 0x03, 0x00, 0x01, 0x00]);
            watcher.send(&[0xC0, 0x00]).await;
            let next = watcher.recv_exact(2).await;
            if next == [0xD0, 0x00] {
                // The will has not been handled yet; try again shortly.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            let mut rest = watcher.recv_exact(expected.len() - 2).await;
            let mut whole = next;
            whole.append(&mut rest);
            assert_eq!(watcher.recv_exact(2).await, [0xD0, 0x00]);
            return whole;
        }
    })
    .await
    .expect("the will arrives as a retained message");
    assert_eq!(got, expected);
    bridge.stop().await;
}

#[tokio::test]
async fn sigterm_stops_the_bridge_even_with_a_client_that_stopped_reading() {
    let bridge = RunningBridge::start(&[]).await;
    // A subscriber that never reads: its socket buffers fill and the bridge's
    // write to it blocks.
    let mut stuck = RawClient::tcp(bridge.tcp).await;
    stuck.handshake("stuck").await;
    stuck.subscribe(1, "flood").await;
    let mut publisher = RawClient::tcp(bridge.tcp).await;
    publisher.handshake("publisher").await;
    // 64 KiB payloads, 2-byte remaining-length header: 0x30, then 3 length bytes.
    let payload = vec![0x5a; 64 * 1024];
    let body_len = 2 + 5 + payload.len();
    let mut frame = vec![
        0x30,
        (body_len % 128) as u8 | 0x80,
        ((body_len / 128) % 128) as u8 | 0x80,
        (body_len / 16384) as u8,
    ];
    frame.extend_from_slice(&[0x00, 0x05]);
    frame.extend_from_slice(b"flood");
    frame.extend_from_slice(&payload);
    for _ in 0..300 {
        publisher.send(&frame).await;
    }
    sync(&mut publisher).await;
    assert!(
        bridge.terminate(Duration::from_secs(10)).await,
        "the bridge exits on SIGTERM within its shutdown grace"
    );
    drop(stuck);
}
