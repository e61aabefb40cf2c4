use anyhow::Context;
use bridge::{Bridge, Config};
use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use tokio_util::sync::CancellationToken;

/// MQTT broker for a site's sensor network: devices connect over TCP,
/// browsers over WebSocket at /mqtt.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Address of the MQTT/TCP listener (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:1883")]
    tcp: SocketAddr,
    /// Address of the MQTT-over-WebSocket listener, served at path /mqtt.
    #[arg(long, default_value = "127.0.0.1:9001")]
    ws: SocketAddr,
    /// Start three simulated sensor devices that publish temperature and moisture.
    #[arg(long)]
    demo: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config {
        tcp: cli.tcp,
        ws: cli.ws,
        demo: cli.demo,
        ..Config::default()
    };
    let bridge = Bridge::bind(config).await?;
    // The first stdout line is the contract scripts and tests read bound ports from.
    let mut stdout = std::io::stdout();
    writeln!(
        stdout,
        "bridge listening tcp={} ws={}",
        bridge.tcp_addr(),
        bridge.ws_addr()
    )
    .and_then(|()| stdout.flush())
    .context("writing the address line to stdout")?;

    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    bridge.run(shutdown).await;
    tracing::info!("bridge stopped");
    Ok(())
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only Ctrl-C stops the bridge");
            let _ = tokio::signal::ctrl_c().await;
            shutdown.cancel();
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}
