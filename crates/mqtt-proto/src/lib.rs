//! Sans-IO MQTT 3.1, 3.1.1 and 5.0: packets, framing, topics and a client
//! session state machine.
//!
//! Nothing here touches a socket, a timer or a thread. Callers feed bytes and the
//! current time in and take bytes and events out, so the same code runs natively
//! in the bridge and as WebAssembly in the dashboard.
//!
//! Map of the crate:
//! - [`packet`]: one module per control packet, each with `read` (decode a body)
//!   and `write` (encode into a caller-supplied buffer); [`Packet`] ties them together.
//! - [`framing`]: [`framing::check`] finds a whole frame in a buffer and rejects an
//!   oversized one before any of it is buffered; [`StreamDecoder`] turns arbitrarily
//!   chunked bytes into packets.
//! - [`topic`]: topic-name and topic-filter validation, and filter matching.
//! - [`client`]: [`ClientSession`], the client side of a connection as a
//!   deterministic state machine (`handle_*` in, `poll_*` out).
//! - [`ByteStr`]: validated UTF-8 that shares the input buffer instead of copying.
//! - [`Error`]: the one error type of the crate.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

mod bytestr;
pub mod client;
mod error;
pub mod framing;
pub mod packet;
pub mod topic;
mod varint;

pub use bytestr::ByteStr;
pub use client::{ClientConfig, ClientSession, DisconnectReason, Event, Instant, SessionState};
pub use error::Error;
pub use framing::StreamDecoder;
pub use packet::{
    Ack, ConnAck, Connect, LastWill, Packet, PacketType, Properties, Property, PropertyContext,
    ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, Status, SubAck, Subscribe,
    Subscription, UnsubAck, Unsubscribe,
};

/// The largest packet MQTT can express: a remaining length of 268,435,455 bytes
/// plus the five-byte fixed header.
pub const MAX_POSSIBLE_PACKET_SIZE: usize = 268_435_455 + 5;
