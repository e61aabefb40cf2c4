//! Load generator for `make bench`: drives any MQTT 3.1.1 broker with
//! mqtt-proto's client session and prints one line per scenario:
//! `name<TAB>messages/s<TAB>p50 us<TAB>p99 us<TAB>delivered/expected`, or for
//! `idle`, `idle<TAB>bytes per connection`.

mod client;
mod scenarios;

use anyhow::Result;
use clap::Parser;
use mqtt_proto::QoS;
use std::net::SocketAddr;

#[derive(Parser)]
struct Cli {
    /// The broker's MQTT/TCP address.
    #[arg(long)]
    tcp: SocketAddr,
    /// The broker's process id, to read its memory for the idle scenario.
    #[arg(long)]
    pid: Option<u32>,
    /// Scenarios to run, in order: fan-in-0, fan-in-1, fan-out-0, fan-out-1, idle;
    /// or stream (a steady rate over many topics, for the dashboard benchmark).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fan-in-0,fan-in-1,fan-out-0,fan-out-1,idle"
    )]
    scenarios: Vec<String>,
    /// Messages per fan-in publisher (100 publishers).
    #[arg(long, default_value_t = 1000)]
    per_publisher: u64,
    /// Messages the fan-out publisher sends (to 100 subscribers).
    #[arg(long, default_value_t = 1000)]
    fan_out_messages: u64,
    /// Messages each fan-in publisher may have between sending and delivery
    /// (100 of them: 800 in all, within every broker's per-client queue).
    #[arg(long, default_value_t = 8)]
    fan_in_window: u64,
    /// Messages the fan-out publisher may have ahead of its slowest subscriber.
    #[arg(long, default_value_t = 64)]
    fan_out_window: u64,
    /// Idle connections to open.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// stream: messages a second.
    #[arg(long, default_value_t = 10_000)]
    rate: u64,
    /// stream: topics the messages are spread over.
    #[arg(long, default_value_t = 500)]
    topics: usize,
    /// stream: how long, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// fan-in and fan-out subscribers keep a session (clean session 0), so a
    /// broker with persistence stores each message it delivers to them.
    #[arg(long)]
    persistent: bool,
    /// fan-in: the subscriber connects here instead of --tcp (another broker
    /// the first forwards to: the forwarding benchmark).
    #[arg(long)]
    sub_tcp: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    for name in &cli.scenarios {
        let qos = if name.ends_with("-1") {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        };
        let report = match name.as_str() {
            "fan-in-0" | "fan-in-1" => {
                scenarios::fan_in(
                    cli.tcp,
                    cli.sub_tcp.unwrap_or(cli.tcp),
                    qos,
                    100,
                    cli.per_publisher,
                    cli.fan_in_window,
                    cli.persistent,
                )
                .await?
            }
            "fan-out-0" | "fan-out-1" => {
                scenarios::fan_out(
                    cli.tcp,
                    qos,
                    100,
                    cli.fan_out_messages,
                    cli.fan_out_window,
                    cli.persistent,
                )
                .await?
            }
            "stream" => {
                let sent = scenarios::stream(cli.tcp, cli.topics, cli.rate, cli.seconds).await?;
                println!("stream\t{sent}");
                continue;
            }
            "idle" => {
                let pid = cli.pid.ok_or_else(|| anyhow::anyhow!("idle needs --pid"))?;
                let per = scenarios::idle(cli.tcp, cli.connections, pid).await?;
                println!("idle\t{per:.0}");
                continue;
            }
            other => anyhow::bail!("unknown scenario {other}"),
        };
        println!(
            "{name}\t{:.0}\t{}\t{}\t{}/{}",
            report.rate(),
            report.percentile(0.5),
            report.percentile(0.99),
            report.delivered,
            report.expected
        );
    }
    Ok(())
}
