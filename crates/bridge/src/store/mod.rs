//! Durable state with `--data-dir`: retained messages and persistent
//! sessions (subscriptions, queued and in-flight QoS 1/2 messages, QoS 2
//! packet ids received) in one redb file.
//!
//! The router and sessions describe each change as an [`Op`] and push it; one
//! writer thread applies everything pushed so far in one transaction (group
//! commit: a hundred publishers waiting cost one fsync, not a hundred). With
//! [`SyncPolicy::EveryAck`] a connection about to acknowledge a PUBLISH, or to
//! send a stored QoS 2 message, waits until the ops before it are on disk;
//! with [`SyncPolicy::Every`] the writer commits on a timer and nobody waits,
//! so a crash loses at most that interval of changes.
//!
//! - [`record`]: how each value is laid out.
//! - [`load`]: the file read back at start-up, as a [`Snapshot`].

// redb's error is 160 bytes; here errors end the start-up or the writer,
// once, so carrying them unboxed costs nothing that matters.
#![allow(clippy::result_large_err)]

mod load;
pub mod record;

pub use load::{Snapshot, StoredMessage, StoredSession};

use crate::trie::{SessionKey, SubOptions};
use mqtt_proto::Publish;
use record::{SessionRecord, Stage};
use redb::{Database, Durability, ReadableTable, TableDefinition};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// The store's file inside the data directory.
pub const FILE_NAME: &str = "bridge.redb";
/// Changes waiting for a timed commit beyond which acknowledgements wait too.
pub const BACKLOG: usize = 65_536;
/// Changes pending beyond which a timed writer commits without waiting for
/// its timer: sleeping through a backlog would cap throughput at what one
/// interval holds.
const EARLY_COMMIT: usize = BACKLOG / 4;
/// Bumped when a layout in [`record`] changes.
const FORMAT: u64 = 1;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const RETAINED: TableDefinition<&str, &[u8]> = TableDefinition::new("retained");
const SESSIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("sessions");
const SUBSCRIPTIONS: TableDefinition<(u64, &str), &[u8]> = TableDefinition::new("subscriptions");
/// Keyed by session and a sequence number that orders its messages.
const MESSAGES: TableDefinition<(u64, u64), &[u8]> = TableDefinition::new("messages");
/// QoS 2 messages' packet ids, once sent: [`Stage`].
const STAGES: TableDefinition<(u64, u64), u32> = TableDefinition::new("stages");
const INCOMING_QOS2: TableDefinition<(u64, u16), ()> = TableDefinition::new("incoming_qos2");

/// When changes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Before each acknowledgement (PUBACK, PUBREC, PUBCOMP) that depends on them.
    EveryAck,
    /// On a timer; acknowledgements do not wait.
    Every(Duration),
}

impl std::str::FromStr for SyncPolicy {
    type Err = String;

    /// `every-ack`, or an interval such as `100ms` (1 to 60000).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "every-ack" {
            return Ok(SyncPolicy::EveryAck);
        }
        match s.strip_suffix("ms").map(str::parse::<u64>) {
            Some(Ok(ms @ 1..=60_000)) => Ok(SyncPolicy::Every(Duration::from_millis(ms))),
            _ => Err(format!(
                "{s:?} is neither \"every-ack\" nor an interval from \"1ms\" to \"60000ms\""
            )),
        }
    }
}

/// One change to the durable state.
#[derive(Debug)]
pub enum Op {
    /// A topic's retained message, or `None` to clear it.
    Retain {
        topic: Box<str>,
        message: Option<(Publish, Option<Instant>)>,
    },
    /// A persistent session is created or changed (expiry, connected or not).
    Session {
        key: SessionKey,
        record: SessionRecord,
    },
    /// The session ends: it and everything it holds go.
    DropSession {
        key: SessionKey,
    },
    Subscribe {
        key: SessionKey,
        filter: Box<str>,
        options: SubOptions,
    },
    Unsubscribe {
        key: SessionKey,
        filter: Box<str>,
    },
    /// A QoS 1/2 message routed to the session.
    Enqueue {
        key: SessionKey,
        seq: u64,
        publish: Publish,
        expires_at: Option<Instant>,
    },
    /// A stored QoS 2 message was sent with this id, or released.
    Stage {
        key: SessionKey,
        seq: u64,
        stage: Stage,
    },
    /// The message's flow is complete (or it was dropped): forget it.
    Done {
        key: SessionKey,
        seq: u64,
    },
    /// A QoS 2 packet id received from the client, held until its PUBREL.
    IncomingQos2 {
        key: SessionKey,
        packet_id: u16,
        held: bool,
    },
}

/// A data directory that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the data store {path}: {source}")]
    Open { path: String, source: redb::Error },
    #[error("the data store {path} is damaged ({detail}); move it away or restore a backup, then start again")]
    Damaged { path: String, detail: String },
    #[error("cannot start the data store's writer thread")]
    Thread(#[source] std::io::Error),
}

/// The writer thread stopped after a failed write: nothing more can be
/// promised durable.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the data store cannot be written")]
pub struct StoreFailed;

#[derive(Debug, Default)]
struct Pending {
    ops: Vec<Op>,
    /// Ops pushed since start: the ticket of the latest.
    pushed: u64,
    closing: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Durable {
    /// Tickets up to this one are committed.
    up_to: u64,
    failed: bool,
}

struct Inner {
    pending: Mutex<Pending>,
    wake: Condvar,
    durable: watch::Sender<Durable>,
    next_seq: AtomicU64,
    sync: SyncPolicy,
    path: PathBuf,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The handle the router and sessions push changes through; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl Store {
    /// Opens (or creates) the store in `dir` and reads back what it holds.
    pub fn open(dir: &Path, sync: SyncPolicy) -> Result<(Store, Snapshot), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.display().to_string(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        let db = Database::create(&path).map_err(|e| classify(&shown, e.into()))?;
        prepare(&db).map_err(|e| match e {
            Prepared::Format(found) => StoreError::Damaged {
                path: shown.clone(),
                detail: format!("format {found}, this bridge reads {FORMAT}"),
            },
            Prepared::Redb(e) => classify(&shown, e),
        })?;
        let snapshot = load::read(&db, Instant::now(), SystemTime::now()).map_err(|e| match e {
            load::LoadError::Redb(e) => classify(&shown, e),
            load::LoadError::Record(detail) => StoreError::Damaged {
                path: shown.clone(),
                detail,
            },
        })?;
        let (durable, _) = watch::channel(Durable::default());
        let inner = Arc::new(Inner {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            durable,
            next_seq: AtomicU64::new(snapshot.max_seq + 1),
            sync,
            path,
            writer: Mutex::new(None),
        });
        let thread_inner = inner.clone();
        let writer = std::thread::Builder::new()
            .name("bridge-store".into())
            .spawn(move || write_loop(db, &thread_inner))
            .map_err(StoreError::Thread)?;
        *inner.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(writer);
        let store = Store { inner };
        for key in &snapshot.orphans {
            store.push(Op::DropSession { key: *key });
        }
        Ok((store, snapshot))
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn sync(&self) -> SyncPolicy {
        self.inner.sync
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.inner.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a change for the next transaction.
    pub fn push(&self, op: Op) {
        let mut pending = self.pending();
        pending.ops.push(op);
        pending.pushed += 1;
        let waiting = pending.ops.len();
        drop(pending);
        self.wake_writer(waiting);
    }

    /// Wakes the writer when a commit is due: at once for `EveryAck`, when
    /// the backlog is large for a timer.
    fn wake_writer(&self, waiting: usize) {
        if self.inner.sync == SyncPolicy::EveryAck || waiting == EARLY_COMMIT {
            self.inner.wake.notify_one();
        }
    }

    /// Holds the queue of changes so that several are pushed together, with
    /// no other thread's in between (and none taken by the writer half-way).
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            store: self,
            pending: self.pending(),
            pushed: false,
        }
    }

    /// A number for a message routed to a session, ordering its messages.
    pub fn next_seq(&self) -> u64 {
        self.inner.next_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// The ticket of the latest op pushed (by anyone).
    pub fn ticket(&self) -> u64 {
        self.pending().pushed
    }

    /// Whether acknowledgements wait for the disk: always with
    /// [`SyncPolicy::EveryAck`]; on a timer only while [`BACKLOG`] changes
    /// wait for it (a disk slower than the traffic must not grow memory
    /// without bound).
    pub fn waits(&self) -> bool {
        self.inner.sync == SyncPolicy::EveryAck || self.pending().ops.len() >= BACKLOG
    }

    /// Waits until every op up to `ticket` is committed.
    pub async fn durable(&self, ticket: u64) -> Result<(), StoreFailed> {
        let mut durable = self.inner.durable.subscribe();
        let failed = match durable.wait_for(|d| d.failed || d.up_to >= ticket).await {
            Ok(d) => d.failed,
            Err(_) => true,
        };
        match failed {
            false => Ok(()),
            true => Err(StoreFailed),
        }
    }

    /// Resolves if the writer fails.
    pub async fn failed(&self) {
        let mut durable = self.inner.durable.subscribe();
        let _ = durable.wait_for(|d| d.failed).await;
    }

    /// Commits what is pending and stops the writer; later pushes are not written.
    pub fn close(&self) {
        self.pending().closing = true;
        self.inner.wake.notify_one();
        let writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

/// Changes pushed together; see [`Store::batch`].
pub struct Batch<'a> {
    store: &'a Store,
    pending: MutexGuard<'a, Pending>,
    pushed: bool,
}

impl Batch<'_> {
    pub fn push(&mut self, op: Op) {
        self.pending.ops.push(op);
        self.pending.pushed += 1;
        self.pushed = true;
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.pushed {
            let waiting = self.pending.ops.len();
            // A batch may step over the exact threshold.
            let due = waiting >= EARLY_COMMIT;
            self.store
                .wake_writer(if due { EARLY_COMMIT } else { waiting });
        }
    }
}

/// Errors that say the file is damaged are told apart from others
/// (permissions, a bridge already using it).
fn classify(path: &str, e: redb::Error) -> StoreError {
    match e {
        redb::Error::Corrupted(detail) => StoreError::Damaged {
            path: path.to_owned(),
            detail,
        },
        // What redb says of a file that is not one of its own.
        redb::Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => StoreError::Damaged {
            path: path.to_owned(),
            detail: "not a store this bridge wrote, or its header is corrupt".to_owned(),
        },
        source => StoreError::Open {
            path: path.to_owned(),
            source,
        },
    }
}

enum Prepared {
    Format(u64),
    Redb(redb::Error),
}

impl<E: Into<redb::Error>> From<E> for Prepared {
    fn from(e: E) -> Self {
        Prepared::Redb(e.into())
    }
}

/// Creates the tables of a new file and checks the format of an old one.
fn prepare(db: &Database) -> Result<(), Prepared> {
    let tx = db.begin_write()?;
    {
        let mut meta = tx.open_table(META)?;
        let found = meta.get("format")?.map(|v| v.value());
        match found {
            None => {
                meta.insert("format", FORMAT)?;
            }
            Some(FORMAT) => {}
            Some(other) => return Err(Prepared::Format(other)),
        }
        tx.open_table(RETAINED)?;
        tx.open_table(SESSIONS)?;
        tx.open_table(SUBSCRIPTIONS)?;
        tx.open_table(MESSAGES)?;
        tx.open_table(STAGES)?;
        tx.open_table(INCOMING_QOS2)?;
    }
    tx.commit()?;
    Ok(())
}

fn write_loop(db: Database, inner: &Inner) {
    loop {
        let (ops, up_to, closing) = {
            let mut pending = inner.pending.lock().unwrap_or_else(|e| e.into_inner());
            match inner.sync {
                SyncPolicy::EveryAck => {
                    while pending.ops.is_empty() && !pending.closing {
                        pending = inner.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
                    }
                }
                SyncPolicy::Every(interval) => {
                    let deadline = Instant::now() + interval;
                    while !pending.closing && pending.ops.len() < EARLY_COMMIT {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        pending = inner
                            .wake
                            .wait_timeout(pending, left)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                }
            }
            let ops = std::mem::take(&mut pending.ops);
            (ops, pending.pushed, pending.closing)
        };
        if !ops.is_empty() {
            if let Err(e) = apply(&db, ops) {
                tracing::error!(
                    path = %inner.path.display(),
                    error = %e,
                    "cannot write the data store; stopping the bridge rather than acknowledge what is not stored"
                );
                inner.durable.send_modify(|d| d.failed = true);
                return;
            }
        }
        inner.durable.send_modify(|d| d.up_to = up_to);
        if closing {
            return;
        }
    }
}

/// Applies `ops` in order in one durable transaction.
fn apply(db: &Database, ops: Vec<Op>) -> Result<(), redb::Error> {
    let (now, wall) = (Instant::now(), SystemTime::now());
    // A message routed and acknowledged within one batch never touches the
    // disk: its Enqueue, Stage and Done cancel out (the common case when
    // subscribers keep up).
    let enqueued: std::collections::HashSet<(SessionKey, u64)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Enqueue { key, seq, .. } => Some((*key, *seq)),
            _ => None,
        })
        .collect();
    let settled: std::collections::HashSet<(SessionKey, u64)> = ops
        .iter()
        .filter_map(|op| match op {
            Op::Done { key, seq } if enqueued.contains(&(*key, *seq)) => Some((*key, *seq)),
            _ => None,
        })
        .collect();
    let mut tx = db.begin_write()?;
    tx.set_durability(Durability::Immediate);
    {
        let mut retained = tx.open_table(RETAINED)?;
        let mut sessions = tx.open_table(SESSIONS)?;
        let mut subscriptions = tx.open_table(SUBSCRIPTIONS)?;
        let mut messages = tx.open_table(MESSAGES)?;
        let mut stages = tx.open_table(STAGES)?;
        let mut incoming = tx.open_table(INCOMING_QOS2)?;
        for op in ops {
            let cancelled = match &op {
                Op::Enqueue { key, seq, .. }
                | Op::Stage { key, seq, .. }
                | Op::Done { key, seq } => settled.contains(&(*key, *seq)),
                _ => false,
            };
            if cancelled {
                continue;
            }
            match op {
                Op::Retain { topic, message } => match message {
                    Some((publish, expires_at)) => {
                        let expiry = record::instant_to_unix(expires_at, now, wall);
                        let value = record::encode_message(&publish, expiry);
                        retained.insert(&*topic, value.as_slice())?;
                    }
                    None => {
                        retained.remove(&*topic)?;
                    }
                },
                Op::Session { key, record } => {
                    sessions.insert(key, record.encode().as_slice())?;
                }
                Op::DropSession { key } => {
                    sessions.remove(key)?;
                    let next = key.saturating_add(1);
                    subscriptions.retain_in((key, "")..(next, ""), |_, _| false)?;
                    messages.retain_in((key, 0)..=(key, u64::MAX), |_, _| false)?;
                    stages.retain_in((key, 0)..=(key, u64::MAX), |_, _| false)?;
                    incoming.retain_in((key, 0)..=(key, u16::MAX), |_, _| false)?;
                }
                Op::Subscribe {
                    key,
                    filter,
                    options,
                } => {
                    let value = record::encode_options(&options);
                    subscriptions.insert((key, &*filter), value.as_slice())?;
                }
                Op::Unsubscribe { key, filter } => {
                    subscriptions.remove((key, &*filter))?;
                }
                Op::Enqueue {
                    key,
                    seq,
                    publish,
                    expires_at,
                } => {
                    let expiry = record::instant_to_unix(expires_at, now, wall);
                    let value = record::encode_message(&publish, expiry);
                    messages.insert((key, seq), value.as_slice())?;
                }
                Op::Stage { key, seq, stage } => {
                    stages.insert((key, seq), stage.encode())?;
                }
                Op::Done { key, seq } => {
                    messages.remove((key, seq))?;
                    stages.remove((key, seq))?;
                }
                Op::IncomingQos2 {
                    key,
                    packet_id,
                    held,
                } => {
                    if held {
                        incoming.insert((key, packet_id), ())?;
                    } else {
                        incoming.remove((key, packet_id))?;
                    }
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(topic: &str) -> Publish {
        let mut p = Publish::new(topic, &b"x"[..]);
        p.qos = mqtt_proto::QoS::AtLeastOnce;
        p
    }

    fn enqueue(key: SessionKey, seq: u64, topic: &str) -> Op {
        Op::Enqueue {
            key,
            seq,
            publish: message(topic),
            expires_at: None,
        }
    }

    fn session(key: SessionKey, id: &str) -> Op {
        Op::Session {
            key,
            record: SessionRecord {
                client_id: id.into(),
                expiry: crate::handshake::SessionExpiry::Never,
                disconnected_ms: 0,
            },
        }
    }

    #[test]
    fn what_is_acknowledged_in_the_same_batch_never_reaches_the_disk_and_the_rest_does() {
        let dir = std::env::temp_dir().join(format!("bridge-store-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (store, snapshot) = Store::open(&dir, SyncPolicy::EveryAck).expect("opens");
        assert!(snapshot.sessions.is_empty());
        {
            let mut batch = store.batch();
            batch.push(session(7, "sub"));
            batch.push(enqueue(7, 1, "t/settled"));
            batch.push(enqueue(7, 2, "t/kept"));
            batch.push(enqueue(7, 3, "t/done-later"));
            batch.push(Op::Done { key: 7, seq: 1 });
        }
        let ticket = store.ticket();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        rt.block_on(store.durable(ticket)).expect("committed");
        store.push(Op::Done { key: 7, seq: 3 });
        store.close();

        let (store, snapshot) = Store::open(&dir, SyncPolicy::EveryAck).expect("opens again");
        store.close();
        let [sub] = &snapshot.sessions[..] else {
            panic!("one session: {:?}", snapshot.sessions);
        };
        let topics: Vec<&str> = sub.messages.iter().map(|m| m.publish.topic()).collect();
        assert_eq!(topics, ["t/kept"]);
        assert_eq!(
            snapshot.max_seq, 2,
            "sequence numbers continue past what is stored"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
