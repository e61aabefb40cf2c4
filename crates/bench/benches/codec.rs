//! mqtt-proto against mqttbytes (rumqtt's codec), same frames, same run.
//! Decoding starts from a receive buffer holding one whole frame, as a
//! connection's read loop has it; encoding writes into a reused buffer.

use bench::cases;
use bytes::{Buf, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mqtt_proto::Packet;
use std::hint::black_box;
use std::time::Duration;

const MAX: usize = 1 << 20;

/// Something each decoded packet yields, so decoding cannot be skipped.
fn ours_weight(p: mqtt_proto::Packet) -> usize {
    match p {
        mqtt_proto::Packet::Publish(p) => p.payload().len() + p.topic().len(),
        mqtt_proto::Packet::Subscribe(s) => s.subscriptions.len(),
        mqtt_proto::Packet::Connect(c) => c.client_id.len(),
        _ => 0,
    }
}

fn v4_weight(p: mqttbytes::v4::Packet) -> usize {
    match p {
        mqttbytes::v4::Packet::Publish(p) => p.payload.len() + p.topic.len(),
        mqttbytes::v4::Packet::Subscribe(s) => s.filters.len(),
        _ => 0,
    }
}

fn v5_weight(p: mqttbytes::v5::Packet) -> usize {
    match p {
        mqttbytes::v5::Packet::Connect(c) => c.client_id.len(),
        _ => 0,
    }
}

/// How many copies of a frame one receive buffer holds: about 256 KiB of
/// them, as a busy connection's reads deliver them (at least one).
fn copies(frame_len: usize) -> usize {
    (256 * 1024 / frame_len).clamp(1, 64)
}

fn decode(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group(format!("decode/{}", case.name));
        let n = copies(case.frame.len());
        group.throughput(Throughput::Elements(n as u64));
        let stream: Vec<u8> = case
            .frame
            .iter()
            .copied()
            .cycle()
            .take(case.frame.len() * n)
            .collect();
        let v = case.version;
        group.bench_function("mqtt-proto", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&stream[..]),
                |buf| {
                    let mut sum = 0;
                    while let Some(p) = mqtt_proto::framing::decode(buf, MAX, v).expect("valid") {
                        sum += ours_weight(black_box(p));
                    }
                    sum
                },
                BatchSize::LargeInput,
            )
        });
        group.bench_function("mqttbytes", |b| {
            b.iter_batched_ref(
                || BytesMut::from(&stream[..]),
                |buf| {
                    let mut sum = 0;
                    while !buf.is_empty() {
                        sum += if v.is_v5() {
                            v5_weight(black_box(mqttbytes::v5::read(buf, MAX).expect("valid")))
                        } else {
                            v4_weight(black_box(mqttbytes::v4::read(buf, MAX).expect("valid")))
                        };
                    }
                    sum
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

/// Where in memory an encoder's source bytes sit changes a large copy's
/// speed by a third either way (measured: 545 to 760 ns for 64 KiB, in both
/// directions for both codecs), so each iteration encodes the same packet
/// decoded at eight different offsets, and neither codec wins by placement.
const PLACEMENTS: usize = 8;

/// `frame` decoded by `read` from buffers in which it starts at 0, 8, 16, ... bytes.
fn placed<P>(frame: &[u8], read: impl Fn(&mut BytesMut) -> P) -> Vec<P> {
    (0..PLACEMENTS)
        .map(|i| {
            let mut buf = BytesMut::with_capacity(frame.len() + 64);
            buf.extend_from_slice(&[0; 64][..i * 8]);
            buf.extend_from_slice(frame);
            buf.advance(i * 8);
            read(&mut buf)
        })
        .collect()
}

fn encode(c: &mut Criterion) {
    for case in cases() {
        let mut group = c.benchmark_group(format!("encode/{}", case.name));
        group.throughput(Throughput::Elements(PLACEMENTS as u64));
        let v = case.version;
        let ours = placed(&case.frame, |b| {
            mqtt_proto::framing::decode(b, MAX, v)
                .expect("valid")
                .expect("whole")
        });
        let mut buf = BytesMut::with_capacity(case.frame.len() * 2);
        group.bench_function("mqtt-proto", |b| {
            b.iter(|| {
                for p in &ours {
                    buf.clear();
                    p.write(&mut buf, v).expect("encodes");
                    black_box(buf.len());
                }
            })
        });
        // A PUBLISH that was decoded reuses its frame; one a client builds
        // cannot, and is measured on its own.
        if let Packet::Publish(_) = case.built {
            let built: Vec<Packet> = (0..PLACEMENTS).map(|_| case.built.clone()).collect();
            group.bench_function("mqtt-proto (built)", |b| {
                b.iter(|| {
                    for p in &built {
                        buf.clear();
                        p.write(&mut buf, v).expect("encodes");
                        black_box(buf.len());
                    }
                })
            });
        }
        if v.is_v5() {
            let theirs = placed(&case.frame, |b| match mqttbytes::v5::read(b, MAX) {
                Ok(mqttbytes::v5::Packet::Connect(c)) => c,
                other => panic!("the v5 case is a CONNECT, not {other:?}"),
            });
            group.bench_function("mqttbytes", |b| {
                b.iter(|| {
                    for p in &theirs {
                        buf.clear();
                        black_box(p.write(&mut buf).expect("encodes"));
                    }
                })
            });
        } else {
            let theirs = placed(&case.frame, |b| mqttbytes::v4::read(b, MAX).expect("valid"));
            group.bench_function("mqttbytes", |b| {
                b.iter(|| {
                    for p in &theirs {
                        buf.clear();
                        let n = match p {
                            mqttbytes::v4::Packet::Publish(p) => p.write(&mut buf),
                            mqttbytes::v4::Packet::Subscribe(p) => p.write(&mut buf),
                            other => panic!("no encode case for {other:?}"),
                        };
                        black_box(n.expect("encodes"));
                    }
                })
            });
        }
        group.finish();
    }
}

/// Both codecs must produce the frames the cases hold, or the comparison means nothing.
fn same_bytes_check() {
    for case in cases() {
        let mut buf = BytesMut::new();
        if case.version.is_v5() {
            if let mqttbytes::v5::Packet::Connect(c) =
                mqttbytes::v5::read(&mut BytesMut::from(&case.frame[..]), MAX).expect("valid")
            {
                c.write(&mut buf).expect("encodes");
            }
        } else {
            match mqttbytes::v4::read(&mut BytesMut::from(&case.frame[..]), MAX).expect("valid") {
                mqttbytes::v4::Packet::Publish(p) => drop(p.write(&mut buf)),
                mqttbytes::v4::Packet::Subscribe(p) => drop(p.write(&mut buf)),
                _ => {}
            }
        }
        if buf[..] != case.frame[..] {
            eprintln!(
                "note: mqttbytes re-encodes {} to {} bytes (ours: {})",
                case.name,
                buf.len(),
                case.frame.len()
            );
        }
    }
}

fn config() -> Criterion {
    same_bytes_check();
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, encode
}
criterion_main!(benches);
