//! Generated packets of every type, in MQTT 3.1.1 and 5.0: decode(encode(p)) == p,
//! whatever the chunking. And arbitrary bytes, arbitrarily chunked, never panic
//! the decoder nor make it buffer beyond its limit.
#![cfg(not(target_arch = "wasm32"))]

use bytes::Bytes;
use mqtt_proto::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

const V3: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn text() -> impl Strategy<Value = ByteStr> {
    "[a-zA-Z0-9 _.-]{0,8}".prop_map(ByteStr::from)
}

fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..12).prop_map(Bytes::from)
}

fn topic_name() -> impl Strategy<Value = ByteStr> {
    vec("[a-z0-9$]{1,5}", 1..4).prop_map(|levels| ByteStr::from(levels.join("/")))
}

fn topic_filter() -> impl Strategy<Value = ByteStr> {
    let level = prop_oneof!["[a-z0-9]{1,4}", Just("+".to_owned())];
    (vec(level, 1..4), any::<bool>(), any::<bool>()).prop_map(|(levels, hash, shared)| {
        let mut f = levels.join("/");
        if hash {
            f.push_str("/#");
        }
        if shared {
            f = format!("$share/group/{f}");
        }
        ByteStr::from(f)
    })
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn property(id: u8) -> BoxedStrategy<Property> {
    use Property::*;
    match id {
        0x01 => (0u8..=1).prop_map(PayloadFormatIndicator).boxed(),
        0x02 => any::<u32>().prop_map(MessageExpiryInterval).boxed(),
        0x03 => text().prop_map(ContentType).boxed(),
        0x08 => topic_name().prop_map(ResponseTopic).boxed(),
        0x09 => binary().prop_map(CorrelationData).boxed(),
        0x0B => (1u32..=268_435_455)
            .prop_map(SubscriptionIdentifier)
            .boxed(),
        0x11 => any::<u32>().prop_map(SessionExpiryInterval).boxed(),
        0x12 => text().prop_map(AssignedClientIdentifier).boxed(),
        0x13 => any::<u16>().prop_map(ServerKeepAlive).boxed(),
        0x15 => text().prop_map(AuthenticationMethod).boxed(),
        0x16 => binary().prop_map(AuthenticationData).boxed(),
        0x17 => (0u8..=1).prop_map(RequestProblemInformation).boxed(),
        0x18 => any::<u32>().prop_map(WillDelayInterval).boxed(),
        0x19 => (0u8..=1).prop_map(RequestResponseInformation).boxed(),
        0x1A => text().prop_map(ResponseInformation).boxed(),
        0x1C => text().prop_map(ServerReference).boxed(),
        0x1F => text().prop_map(ReasonString).boxed(),
        0x21 => (1u16..).prop_map(ReceiveMaximum).boxed(),
        0x22 => any::<u16>().prop_map(TopicAliasMaximum).boxed(),
        0x23 => (1u16..).prop_map(TopicAlias).boxed(),
        0x24 => (0u8..=1).prop_map(MaximumQoS).boxed(),
        0x25 => (0u8..=1).prop_map(RetainAvailable).boxed(),
        0x27 => (1u32..).prop_map(MaximumPacketSize).boxed(),
        0x28 => (0u8..=1).prop_map(WildcardSubscriptionAvailable).boxed(),
        0x29 => (0u8..=1).prop_map(SubscriptionIdentifierAvailable).boxed(),
        0x2A => (0u8..=1).prop_map(SharedSubscriptionAvailable).boxed(),
        other => panic!("no strategy for property {other:#x}"),
    }
}

/// Any subset of `ids` (each once, in order) plus a few user properties.
fn properties(ids: &'static [u8]) -> BoxedStrategy<Properties> {
    let singles = subsequence(ids, 0..=ids.len())
        .prop_flat_map(|ids| ids.into_iter().map(property).collect::<Vec<_>>());
    let users = vec(
        (text(), text()).prop_map(|(k, v)| Property::UserProperty(k, v)),
        0..3,
    );
    (singles, users)
        .prop_map(|(mut s, u)| {
            s.extend(u);
            s.into_iter().collect()
        })
        .boxed()
}

const CONNECT_PROPS: &[u8] = &[0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x27];
const WILL_PROPS: &[u8] = &[0x01, 0x02, 0x03, 0x08, 0x09, 0x18];
const CONNACK_PROPS: &[u8] = &[
    0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x24, 0x25, 0x27, 0x28, 0x29, 0x2A,
];
const PUBLISH_PROPS: &[u8] = &[0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23];
const ACK_PROPS: &[u8] = &[0x1F];
const SUBSCRIBE_PROPS: &[u8] = &[0x0B];
const NO_PROPS: &[u8] = &[];
const DISCONNECT_PROPS: &[u8] = &[0x11, 0x1C, 0x1F];
const AUTH_PROPS: &[u8] = &[0x15, 0x16, 0x1F];

/// Properties for `version`: none before 5.0.
fn props_for(version: ProtocolVersion, ids: &'static [u8]) -> BoxedStrategy<Properties> {
    if version.is_v5() {
        properties(ids)
    } else {
        Just(Properties::new()).boxed()
    }
}

fn reason(version: ProtocolVersion, packet: PacketType) -> BoxedStrategy<ReasonCode> {
    if version.is_v5() {
        select(ReasonCode::allowed_in(packet)).boxed()
    } else {
        Just(ReasonCode::Success).boxed()
    }
}

fn connect(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let will = (
        topic_name(),
        binary(),
        qos(),
        any::<bool>(),
        props_for(version, WILL_PROPS),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| LastWill {
            topic,
            payload,
            qos,
            retain,
            properties,
        });
    (
        any::<bool>(),
        any::<u16>(),
        text(),
        proptest::option::of(will),
        proptest::option::of(text()),
        proptest::option::of(binary()),
        props_for(version, CONNECT_PROPS),
        any::<bool>(),
    )
        .prop_map(
            move |(clean, keep_alive, id, will, user, pass, properties, v31)| {
                let protocol = match (version, v31) {
                    (ProtocolVersion::V5, _) => ProtocolVersion::V5,
                    (_, true) => ProtocolVersion::V31,
                    _ => ProtocolVersion::V311,
                };
                // Before 5.0 a password needs a user name.
                let password = if protocol.is_v5() || user.is_some() {
                    pass
                } else {
                    None
                };
                Packet::from(Connect {
                    protocol,
                    clean_session: clean,
                    keep_alive,
                    client_id: id,
                    will,
                    username: user,
                    password,
                    properties,
                })
            },
        )
}

const V3_CONNACK_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::UnsupportedProtocolVersion,
    ReasonCode::ClientIdentifierNotValid,
    ReasonCode::ServerUnavailable,
    ReasonCode::BadUserNameOrPassword,
    ReasonCode::NotAuthorized,
];

const V3_SUBACK_CODES: &[ReasonCode] = &[
    ReasonCode::Success,
    ReasonCode::GrantedQoS1,
    ReasonCode::GrantedQoS2,
    ReasonCode::UnspecifiedError,
];

fn connack(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let codes = if version.is_v5() {
        ReasonCode::allowed_in(PacketType::ConnAck)
    } else {
        V3_CONNACK_CODES
    };
    (
        any::<bool>(),
        select(codes),
        props_for(version, CONNACK_PROPS),
    )
        .prop_map(|(session_present, code, properties)| {
            Packet::ConnAck(ConnAck {
                session_present,
                code,
                properties,
            })
        })
}

fn publish(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        qos(),
        any::<bool>(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        props_for(version, PUBLISH_PROPS),
        binary(),
    )
        .prop_map(|(qos, dup, retain, topic, id, properties, payload)| {
            let mut publish = Publish::new(&topic, payload);
            publish.dup = dup && qos != QoS::AtMostOnce;
            publish.qos = qos;
            publish.retain = retain;
            publish.packet_id = (qos != QoS::AtMostOnce).then_some(id);
            publish.properties = properties;
            Packet::Publish(publish)
        })
}

fn ack(version: ProtocolVersion, kind: PacketType) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        reason(version, kind),
        props_for(version, ACK_PROPS),
    )
        .prop_map(move |(packet_id, reason, properties)| {
            let ack = Ack {
                packet_id,
                reason,
                properties,
            };
            match kind {
                PacketType::PubAck => Packet::PubAck(ack),
                PacketType::PubRec => Packet::PubRec(ack),
                PacketType::PubRel => Packet::PubRel(ack),
                _ => Packet::PubComp(ack),
            }
        })
}

fn subscription(version: ProtocolVersion) -> impl Strategy<Value = Subscription> {
    (topic_filter(), qos(), any::<bool>(), any::<bool>(), 0u8..3).prop_map(
        move |(filter, qos, no_local, rap, rh)| {
            let mut s = Subscription::new(filter, qos);
            if version.is_v5() {
                s.no_local = no_local && topic::parse_shared(&s.filter).is_none();
                s.retain_as_published = rap;
                s.retain_handling = match rh {
                    0 => RetainHandling::SendOnSubscribe,
                    1 => RetainHandling::SendIfNewSubscription,
                    _ => RetainHandling::DoNotSend,
                };
            }
            s
        },
    )
}

fn subscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec(subscription(version), 1..4),
        props_for(version, SUBSCRIBE_PROPS),
    )
        .prop_map(|(packet_id, subscriptions, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                subscriptions,
                properties,
            })
        })
}

fn suback(version: ProtocolVersion, kind: PacketType) -> impl Strategy<Value = Packet> {
    let codes: BoxedStrategy<Vec<ReasonCode>> = match (version.is_v5(), kind) {
        (true, _) => vec(select(ReasonCode::allowed_in(kind)), 1..4).boxed(),
        (false, PacketType::SubAck) => vec(select(V3_SUBACK_CODES), 1..4).boxed(),
        (false, _) => Just(Vec::new()).boxed(),
    };
    (packet_id(), codes, props_for(version, ACK_PROPS)).prop_map(move |(id, codes, properties)| {
        let ack = SubAck {
            packet_id: id,
            reason_codes: codes,
            properties,
        };
        if kind == PacketType::SubAck {
            Packet::SubAck(ack)
        } else {
            Packet::UnsubAck(ack)
        }
    })
}

fn unsubscribe(version: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        packet_id(),
        vec(topic_filter(), 1..4),
        props_for(version, NO_PROPS),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn status(version: ProtocolVersion, kind: PacketType) -> impl Strategy<Value = Packet> {
    let ids = if kind == PacketType::Auth {
        AUTH_PROPS
    } else {
        DISCONNECT_PROPS
    };
    (reason(version, kind), props_for(version, ids)).prop_map(move |(reason, properties)| {
        let s = Status { reason, properties };
        if kind == PacketType::Auth {
            Packet::Auth(s)
        } else {
            Packet::Disconnect(s)
        }
    })
}

fn any_packet(version: ProtocolVersion) -> BoxedStrategy<Packet> {
    let v = version;
    let mut all = vec![
        connect(v).boxed(),
        connack(v).boxed(),
        publish(v).boxed(),
        ack(v, PacketType::PubAck).boxed(),
        ack(v, PacketType::PubRec).boxed(),
        ack(v, PacketType::PubRel).boxed(),
        ack(v, PacketType::PubComp).boxed(),
        subscribe(v).boxed(),
        suback(v, PacketType::SubAck).boxed(),
        unsubscribe(v).boxed(),
        suback(v, PacketType::UnsubAck).boxed(),
        Just(Packet::PingReq).boxed(),
        Just(Packet::PingResp).boxed(),
        status(v, PacketType::Disconnect).boxed(),
    ];
    if v.is_v5() {
        all.push(status(v, PacketType::Auth).boxed());
    }
    proptest::strategy::Union::new(all).boxed()
}

fn round_trip(packet: &Packet, version: ProtocolVersion) -> Result<(), TestCaseError> {
    let bytes = packet
        .to_bytes(version)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(packet.encoded_len(version), Ok(bytes.len()));
    let mut decoder = StreamDecoder::new(1 << 20, version);
    decoder.feed(&bytes);
    let decoded = decoder.next_packet();
    prop_assert_eq!(&decoded, &Ok(Some(packet.clone())));
    prop_assert_eq!(decoder.buffered(), 0);
    // A decoded packet writes the same bytes as the one it came from (a
    // PUBLISH does so by reusing its received frame).
    if let Ok(Some(decoded)) = decoded {
        prop_assert_eq!(decoded.to_bytes(version).ok(), Some(bytes));
    }
    Ok(())
}

/// What a broker does to a PUBLISH it forwards: new flags and packet id.
fn reflag(mut p: Publish, qos: QoS, dup: bool, retain: bool, id: u16) -> Publish {
    p.qos = qos;
    p.dup = dup && qos != QoS::AtMostOnce;
    p.retain = retain;
    p.packet_id = (qos != QoS::AtMostOnce).then_some(id);
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_packet_round_trips_in_311(p in any_packet(V3)) {
        round_trip(&p, V3)?;
    }

    #[test]
    fn every_packet_round_trips_in_5(p in any_packet(V5)) {
        round_trip(&p, V5)?;
    }

    #[test]
    fn a_forwarded_publish_writes_as_a_new_one_would(
        original in publish(V5),
        v5 in any::<bool>(),
        (qos, dup, retain, id) in (qos(), any::<bool>(), any::<bool>(), packet_id()),
    ) {
        let version = if v5 { V5 } else { V3 };
        let Packet::Publish(mut original) = original else { unreachable!() };
        if !v5 {
            original.properties = Properties::new();
        }
        let mut decoder = StreamDecoder::new(1 << 20, version);
        decoder.feed(&Packet::Publish(original.clone()).to_bytes(version).expect("encodes"));
        let Ok(Some(Packet::Publish(received))) = decoder.next_packet() else {
            return Err(TestCaseError::fail("did not decode"));
        };
        let rebuilt = {
            let mut p = Publish::new(original.topic(), original.payload());
            p.properties = original.properties.clone();
            p
        };
        // Also with the properties dropped, as for a 3.1.1 subscriber.
        for strip in [false, true] {
            let mut forwarded = reflag(received.clone(), qos, dup, retain, id);
            let mut expected = reflag(rebuilt.clone(), qos, dup, retain, id);
            if strip {
                forwarded.properties = Properties::new();
                expected.properties = Properties::new();
            }
            for out in [V3, V5] {
                prop_assert_eq!(
                    Packet::Publish(forwarded.clone()).to_bytes(out).ok(),
                    Packet::Publish(expected.clone()).to_bytes(out).ok()
                );
            }
        }
    }

    #[test]
    fn chunking_does_not_change_the_packets(
        packets in vec(any_packet(V5), 1..6),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut stream = Vec::new();
        for p in &packets {
            stream.extend_from_slice(&p.to_bytes(V5).expect("encodes"));
        }
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut decoder = StreamDecoder::new(1 << 20, V5);
        let mut decoded = Vec::new();
        let mut start = 0;
        for end in points.into_iter().chain([stream.len()]) {
            decoder.feed(&stream[start..end]);
            start = end;
            while let Some(p) = decoder.next_packet().expect("valid stream") {
                decoded.push(p);
            }
        }
        prop_assert_eq!(decoded, packets);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_overbuffer(
        bytes in vec(any::<u8>(), 0..600),
        chunk in 1usize..64,
        v5 in any::<bool>(),
    ) {
        const MAX: usize = 256;
        let version = if v5 { V5 } else { V3 };
        let mut decoder = StreamDecoder::new(MAX, version);
        'feed: for piece in bytes.chunks(chunk) {
            decoder.feed(piece);
            loop {
                match decoder.next_packet() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => break 'feed,
                }
            }
            // At most one partial packet under the limit plus the chunk just fed.
            prop_assert!(decoder.buffered() < MAX + chunk);
        }
    }
}
