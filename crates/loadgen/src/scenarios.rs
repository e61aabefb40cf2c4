//! The measured scenarios. Messages carry their send time and their
//! publisher's number, so subscribers measure end-to-end latency and
//! publishers keep at most `window` of their messages between sending and
//! delivery (a closed loop: the broker's sustained rate is measured, not how
//! much it buffers or drops in a burst).

use crate::client::Client;
use anyhow::{Context, Result};
use mqtt_proto::{Event, Publish, QoS};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use tokio::task::JoinSet;

pub const PAYLOAD: usize = 64;
const GIVE_UP: Duration = Duration::from_secs(120);
/// No progress for this long ends a scenario with what was delivered (a
/// broker that dropped messages would otherwise keep it waiting forever).
const STALL: Duration = Duration::from_secs(3);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// What one scenario measured.
#[derive(Debug)]
pub struct Report {
    pub delivered: u64,
    pub expected: u64,
    pub elapsed: Duration,
    /// End-to-end latencies in microseconds, sorted.
    pub latencies_us: Vec<u32>,
}

impl Report {
    pub fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> u32 {
        if self.latencies_us.is_empty() {
            return 0;
        }
        let at = ((self.latencies_us.len() - 1) as f64 * p).round() as usize;
        self.latencies_us[at]
    }
}

fn message(topic: &str, publisher: u16, qos: QoS) -> Publish {
    let mut payload = [0u8; PAYLOAD];
    let sent = origin().elapsed().as_nanos() as u64;
    payload[..8].copy_from_slice(&sent.to_le_bytes());
    payload[8..10].copy_from_slice(&publisher.to_le_bytes());
    let mut p = Publish::new(topic, payload);
    p.qos = qos;
    p
}

/// (publisher, latency) of a message a subscriber received.
fn stamp(p: &Publish) -> Option<(usize, u32)> {
    let payload = p.payload();
    let sent = u64::from_le_bytes(payload.get(..8)?.try_into().ok()?);
    let publisher = u16::from_le_bytes(payload.get(8..10)?.try_into().ok()?);
    let now = origin().elapsed().as_nanos() as u64;
    Some((
        usize::from(publisher),
        (now.saturating_sub(sent) / 1000) as u32,
    ))
}

/// Shared progress: messages sent and delivered, per publisher.
struct Progress {
    delivered: Vec<AtomicU64>,
    changed: Notify,
}

/// What one publisher sends: `count` messages to `topic`, at most `window`
/// more than have been delivered.
struct Plan {
    topic: String,
    qos: QoS,
    count: u64,
    window: u64,
}

/// Publishes as `plan` says, pacing itself by `delivered()`, and waits for
/// the broker's acknowledgements.
async fn publish_loop(
    mut client: Client,
    index: u16,
    plan: Plan,
    delivered: impl Fn() -> u64,
    changed: &Notify,
) -> Result<()> {
    let Plan {
        topic,
        qos,
        count,
        window,
    } = plan;
    let mut sent = 0u64;
    let mut last_progress = (Instant::now(), 0u64);
    loop {
        let now_delivered = delivered();
        if now_delivered != last_progress.1 {
            last_progress = (Instant::now(), now_delivered);
        } else if last_progress.0.elapsed() > STALL {
            if std::env::var_os("LOADGEN_DEBUG").is_some() {
                eprintln!("publisher {index} stalled: sent {sent}, delivered {now_delivered}, unacknowledged {}", client.unacknowledged());
            }
            return Ok(());
        }
        while let Some(event) = client.poll_event() {
            if let Event::Disconnected(reason) = event {
                anyhow::bail!("publisher {index} disconnected: {reason:?}");
            }
        }
        if sent == count && client.unacknowledged() == 0 {
            return Ok(());
        }
        let notified = changed.notified();
        let mut batch = 0;
        while sent < count && sent < delivered() + window && batch < 64 {
            client.publish(message(&topic, index, qos))?;
            sent += 1;
            batch += 1;
        }
        client.flush().await?;
        if batch > 0 {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            read = client.read() => read?,
            _ = notified => {}
            _ = tokio::time::sleep(Duration::from_millis(5)) => {}
        }
        client.flush().await?;
    }
}

/// Receives until `done()` is true, recording each message's latency and
/// telling `progress` which publisher it came from.
async fn subscribe_loop(
    mut client: Client,
    progress: Arc<Progress>,
    count_for: impl Fn(&Progress, usize),
    done: impl Fn(&Progress) -> bool,
) -> Result<Vec<u32>> {
    let mut latencies = Vec::new();
    while !done(&progress) {
        match tokio::time::timeout(STALL, client.read()).await {
            Ok(read) => read?,
            Err(_) => break,
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::Message(p) => {
                    if let Some((publisher, latency)) = stamp(&p) {
                        latencies.push(latency);
                        count_for(&progress, publisher);
                    }
                }
                Event::Disconnected(reason) => anyhow::bail!("subscriber disconnected: {reason:?}"),
                _ => {}
            }
        }
        progress.changed.notify_waiters();
        client.flush().await?;
    }
    Ok(latencies)
}

/// `publishers` clients each publish `per_publisher` messages to their own
/// topic; one client subscribed to all of them receives them.
pub async fn fan_in(
    addr: SocketAddr,
    sub_addr: SocketAddr,
    qos: QoS,
    publishers: u16,
    per_publisher: u64,
    window: u64,
    persistent: bool,
) -> Result<Report> {
    let mut subscriber = Client::connect(sub_addr, "bench-fan-in-sub", 60, !persistent).await?;
    subscriber.subscribe("bench/in/#", qos).await?;
    let progress = Arc::new(Progress {
        delivered: (0..publishers).map(|_| AtomicU64::new(0)).collect(),
        changed: Notify::new(),
    });
    let mut clients = Vec::new();
    for i in 0..publishers {
        clients.push(Client::connect(addr, &format!("bench-fan-in-pub-{i}"), 60, true).await?);
    }
    let expected = u64::from(publishers) * per_publisher;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    let sub_progress = progress.clone();
    let receiving = tokio::spawn(subscribe_loop(
        subscriber,
        sub_progress,
        |p, publisher| {
            if let Some(c) = p.delivered.get(publisher) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        },
        move |p| {
            p.delivered
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .sum::<u64>()
                >= expected
        },
    ));
    for (i, client) in clients.into_iter().enumerate() {
        let progress = progress.clone();
        tasks.spawn(async move {
            let delivered = || progress.delivered[i].load(Ordering::Relaxed);
            let plan = Plan {
                topic: format!("bench/in/{i}"),
                qos,
                count: per_publisher,
                window,
            };
            publish_loop(client, i as u16, plan, delivered, &progress.changed).await
        });
    }
    let latencies = finish(receiving, tasks).await?;
    Ok(report(latencies, expected, started.elapsed()))
}

/// One client publishes `messages` to a topic `subscribers` clients
/// subscribe to; each of them receives every message.
pub async fn fan_out(
    addr: SocketAddr,
    qos: QoS,
    subscribers: u16,
    messages: u64,
    window: u64,
    persistent: bool,
) -> Result<Report> {
    let progress = Arc::new(Progress {
        delivered: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
        changed: Notify::new(),
    });
    let mut receivers = JoinSet::new();
    for i in 0..usize::from(subscribers) {
        let mut client =
            Client::connect(addr, &format!("bench-fan-out-sub-{i}"), 60, !persistent).await?;
        client.subscribe("bench/out", qos).await?;
        receivers.spawn(subscribe_loop(
            client,
            progress.clone(),
            move |p, _| {
                p.delivered[i].fetch_add(1, Ordering::Relaxed);
            },
            move |p| p.delivered[i].load(Ordering::Relaxed) >= messages,
        ));
    }
    let publisher = Client::connect(addr, "bench-fan-out-pub", 60, true).await?;
    let started = Instant::now();
    let pub_progress = progress.clone();
    let publishing = tokio::spawn(async move {
        // The slowest subscriber sets the pace.
        let delivered = || {
            pub_progress
                .delivered
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .min()
                .unwrap_or(0)
        };
        let plan = Plan {
            topic: "bench/out".to_owned(),
            qos,
            count: messages,
            window,
        };
        publish_loop(publisher, 0, plan, delivered, &pub_progress.changed).await
    });
    let mut latencies = Vec::new();
    let all = tokio::time::timeout(GIVE_UP, async {
        while let Some(done) = receivers.join_next().await {
            latencies.extend(done??);
        }
        publishing.await??;
        anyhow::Ok(())
    })
    .await;
    all.context("fan-out did not finish in time")??;
    Ok(report(
        latencies,
        u64::from(subscribers) * messages,
        started.elapsed(),
    ))
}

async fn finish(
    receiving: tokio::task::JoinHandle<Result<Vec<u32>>>,
    mut publishers: JoinSet<Result<()>>,
) -> Result<Vec<u32>> {
    tokio::time::timeout(GIVE_UP, async {
        while let Some(done) = publishers.join_next().await {
            done??;
        }
        receiving.await?
    })
    .await
    .context("the scenario did not finish in time")?
}

fn report(mut latencies_us: Vec<u32>, expected: u64, elapsed: Duration) -> Report {
    latencies_us.sort_unstable();
    Report {
        delivered: latencies_us.len() as u64,
        expected,
        elapsed,
        latencies_us,
    }
}

/// Opens `connections` idle connections and returns the broker's resident
/// memory growth per connection, in bytes, read from /proc.
pub async fn idle(addr: SocketAddr, connections: usize, broker_pid: u32) -> Result<f64> {
    // One connection first, so the broker's one-off allocations are not counted.
    // A keepalive (rumqttd refuses 0) long enough that no PINGREQ is due meanwhile.
    let warm = Client::connect(addr, "bench-idle-warm", 600, true).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss(broker_pid)?;
    let mut open = Vec::with_capacity(connections);
    let mut tasks = JoinSet::new();
    for i in 0..connections {
        tasks.spawn(async move {
            // A broker whose listen backlog overflows resets some attempts: retry those.
            let id = format!("bench-idle-{i}");
            let mut attempt = 0;
            loop {
                match Client::connect(addr, &id, 600, true).await {
                    Err(_) if attempt < 5 => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                    }
                    done => return done,
                }
            }
        });
        if tasks.len() >= 64 {
            if let Some(done) = tasks.join_next().await {
                open.push(done??);
            }
        }
    }
    while let Some(done) = tasks.join_next().await {
        open.push(done??);
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = rss(broker_pid)?;
    drop(open);
    drop(warm);
    Ok((after.saturating_sub(before)) as f64 / connections as f64)
}

/// Resident set size of process `pid`, in bytes.
fn rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok())
        .context("no VmRSS")?;
    Ok(kib * 1024)
}

/// A steady stream for the dashboard benchmark: `rate` QoS 0 messages a
/// second spread over `topics` topics (`bench/t000` ...), for `seconds`,
/// paced in 10 ms slices. Returns the messages sent.
pub async fn stream(addr: SocketAddr, topics: usize, rate: u64, seconds: u64) -> Result<u64> {
    let mut publisher = Client::connect(addr, "loadgen-stream", 60, true).await?;
    let names: Vec<String> = (0..topics.max(1))
        .map(|i| format!("bench/t{i:03}"))
        .collect();
    let start = tokio::time::Instant::now();
    let total = rate * seconds;
    let mut sent = 0u64;
    let mut slice = tokio::time::interval(Duration::from_millis(10));
    while sent < total {
        slice.tick().await;
        // Catch up to where the clock says the stream should be.
        let due = ((start.elapsed().as_secs_f64() * rate as f64) as u64).min(total);
        while sent < due {
            let topic = &names[(sent % names.len() as u64) as usize];
            let payload = format!(
                "{{\"seq\":{sent},\"value\":{:.2}}}",
                (sent % 1000) as f64 / 10.0
            );
            publisher.publish(Publish::new(topic, payload))?;
            sent += 1;
        }
        publisher.flush().await?;
    }
    Ok(sent)
}
