//! The store read back at start-up.

use super::record::{self, SessionRecord, Stage};
use super::{INCOMING_QOS2, MESSAGES, RETAINED, SESSIONS, STAGES, SUBSCRIPTIONS};
use crate::trie::{SessionKey, SubOptions};
use mqtt_proto::Publish;
use redb::{Database, ReadableTable};
use std::collections::{BTreeMap, HashMap};
use std::time::{Instant, SystemTime};

/// A message a session still holds, in the order it was routed.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub seq: u64,
    pub publish: Publish,
    pub expires_at: Option<Instant>,
    /// `Some` for a QoS 2 message already sent with a packet id.
    pub stage: Option<Stage>,
}

#[derive(Debug, Clone)]
pub struct StoredSession {
    pub key: SessionKey,
    pub record: SessionRecord,
    pub subscriptions: Vec<(String, SubOptions)>,
    pub messages: Vec<StoredMessage>,
    pub incoming_qos2: Vec<u16>,
}

/// Everything the store held when it was opened.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub retained: Vec<(Publish, Option<Instant>)>,
    pub sessions: Vec<StoredSession>,
    /// The highest session key seen: new sessions are numbered above it.
    pub max_key: SessionKey,
    /// The highest message sequence number seen.
    pub max_seq: u64,
    /// Keys with rows but no session (a session replaced by a newer one of
    /// the same client id); dropped once the store is open.
    pub orphans: Vec<SessionKey>,
}

pub(super) enum LoadError {
    Redb(redb::Error),
    Record(String),
}

impl<E: Into<redb::Error>> From<E> for LoadError {
    fn from(e: E) -> Self {
        LoadError::Redb(e.into())
    }
}

fn damaged(what: impl std::fmt::Display) -> LoadError {
    LoadError::Record(what.to_string())
}

pub(super) fn read(db: &Database, now: Instant, wall: SystemTime) -> Result<Snapshot, LoadError> {
    let tx = db.begin_read()?;
    let mut snapshot = Snapshot::default();
    for row in tx.open_table(RETAINED)?.iter()? {
        let (topic, value) = row?;
        let (publish, expiry) = record::decode_message(value.value())
            .map_err(|e| damaged(format!("retained message on {:?}: {e}", topic.value())))?;
        let expires_at = record::unix_to_instant(expiry, now, wall);
        if expires_at.is_none_or(|at| at > now) {
            snapshot.retained.push((publish, expires_at));
        }
    }
    let mut sessions: BTreeMap<SessionKey, StoredSession> = BTreeMap::new();
    let mut by_client: HashMap<String, SessionKey> = HashMap::new();
    for row in tx.open_table(SESSIONS)?.iter()? {
        let (key, value) = row?;
        let key = key.value();
        snapshot.max_key = snapshot.max_key.max(key);
        let record = SessionRecord::decode(value.value())
            .map_err(|e| damaged(format!("session {key}: {e}")))?;
        // Keys grow: of two sessions for one client id, the later is current.
        if let Some(older) = by_client.insert(record.client_id.clone(), key) {
            sessions.remove(&older);
            snapshot.orphans.push(older);
        }
        sessions.insert(
            key,
            StoredSession {
                key,
                record,
                subscriptions: Vec::new(),
                messages: Vec::new(),
                incoming_qos2: Vec::new(),
            },
        );
    }
    let orphan = |key: SessionKey, snapshot: &mut Snapshot| {
        snapshot.max_key = snapshot.max_key.max(key);
        if !snapshot.orphans.contains(&key) {
            snapshot.orphans.push(key);
        }
    };
    for row in tx.open_table(SUBSCRIPTIONS)?.iter()? {
        let (k, value) = row?;
        let (key, filter) = k.value();
        let options = record::decode_options(value.value())
            .map_err(|e| damaged(format!("subscription {filter:?}: {e}")))?;
        match sessions.get_mut(&key) {
            Some(s) => s.subscriptions.push((filter.to_owned(), options)),
            None => orphan(key, &mut snapshot),
        }
    }
    let mut stages: HashMap<(SessionKey, u64), Stage> = HashMap::new();
    for row in tx.open_table(STAGES)?.iter()? {
        let (k, value) = row?;
        let stage = Stage::decode(value.value())
            .map_err(|e| damaged(format!("message {:?}: {e}", k.value())))?;
        stages.insert(k.value(), stage);
    }
    // In key order: each session's messages come in the order they were routed.
    for row in tx.open_table(MESSAGES)?.iter()? {
        let (k, value) = row?;
        let (key, seq) = k.value();
        snapshot.max_seq = snapshot.max_seq.max(seq);
        let Some(session) = sessions.get_mut(&key) else {
            orphan(key, &mut snapshot);
            continue;
        };
        let (publish, expiry) = record::decode_message(value.value())
            .map_err(|e| damaged(format!("queued message {seq}: {e}")))?;
        session.messages.push(StoredMessage {
            seq,
            publish,
            expires_at: record::unix_to_instant(expiry, now, wall),
            stage: stages.get(&(key, seq)).copied(),
        });
    }
    for row in tx.open_table(INCOMING_QOS2)?.iter()? {
        let (k, _) = row?;
        let (key, packet_id) = k.value();
        match sessions.get_mut(&key) {
            Some(s) => s.incoming_qos2.push(packet_id),
            None => orphan(key, &mut snapshot),
        }
    }
    snapshot.sessions = sessions.into_values().collect();
    Ok(snapshot)
}
