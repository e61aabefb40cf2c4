use anyhow::Context;
use bridge::config::FileConfig;
use bridge::store::{StoreError, SyncPolicy};
use bridge::{Bridge, Config};
use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// MQTT broker for a site's sensor network: devices connect over TCP,
/// browsers over WebSocket at /mqtt. MQTT 3.1, 3.1.1 and 5.0 on both.
///
/// Settings come from the defaults, then the --config file, then flags.
/// The file's keys: tcp, ws, demo, log, sys_interval, max_packet_size,
/// max_queued_messages, max_inflight_messages, receive_maximum,
/// topic_alias_maximum, max_keepalive, max_retained_messages, connect_timeout,
/// data_dir, fsync, password_file, acl_file, allow_anonymous, tls_cert, tls_key,
/// tls_client_ca, tls, wss (see the README for what each does and its default).
///
/// Exits with status 78 when the data directory cannot be used (damaged,
/// unreadable, or in use by another bridge): restarting will not help.
#[derive(Parser, Debug)]
#[command(version, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address of the MQTT/TCP listener (port 0 picks a free port)
    /// [default: 127.0.0.1:1883].
    #[arg(long, value_name = "ADDR")]
    tcp: Option<SocketAddr>,
    /// Address of the MQTT-over-WebSocket listener, served at path /mqtt
    /// [default: 127.0.0.1:9001].
    #[arg(long, value_name = "ADDR")]
    ws: Option<SocketAddr>,
    /// Start three simulated sensor devices that publish temperature and moisture.
    #[arg(long)]
    demo: bool,
    /// Log level (error, warn, info, debug, trace) or a tracing filter such as
    /// "bridge=debug"; RUST_LOG is used when neither this nor the file sets one
    /// [default: info].
    #[arg(long, value_name = "LEVEL")]
    log: Option<String>,
    /// Seconds between $SYS/broker/... updates; 0 turns them off [default: 10].
    #[arg(long, value_name = "SECS")]
    sys_interval: Option<u64>,
    /// Keep retained messages and persistent sessions in DIR, across restarts
    /// and crashes [default: in memory only].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// When stored changes reach the disk: "every-ack" (before each PUBACK,
    /// PUBREC or PUBCOMP that depends on them) or an interval such as "100ms"
    /// (acknowledgements do not wait; a crash loses up to that much)
    /// [default: every-ack].
    #[arg(long, value_name = "WHEN")]
    fsync: Option<SyncPolicy>,
    /// Password file: clients must give a user name and password in it
    /// (anonymous ones are refused unless allow_anonymous = true in --config).
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// ACL file (Mosquitto's format): what each user may publish and receive.
    #[arg(long, value_name = "FILE")]
    acl_file: Option<PathBuf>,
    /// PEM certificate chain: turns on the MQTT/TLS and WSS listeners.
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// PEM CA certificates: TLS and WSS clients must present a certificate
    /// signed by one of them.
    #[arg(long, value_name = "FILE")]
    tls_client_ca: Option<PathBuf>,
    /// Address of the MQTT/TLS listener [default: the --tcp host, port 8883].
    #[arg(long, value_name = "ADDR")]
    tls: Option<SocketAddr>,
    /// Address of the WSS listener, path /mqtt [default: the --tcp host, port 9443].
    #[arg(long, value_name = "ADDR")]
    wss: Option<SocketAddr>,
    /// One port for a site: the dashboard (from --dashboard), MQTT over
    /// WebSocket at /mqtt, /metrics (Prometheus) and /healthz.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// The built dashboard served by --http (trunk's dist/) [default: dist].
    #[arg(long, value_name = "DIR")]
    dashboard: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Adds USER to the password FILE (created if missing) or changes their
    /// password. The password is read from the terminal, asked twice, or
    /// from the first line of stdin when it is not a terminal; never from
    /// the command line, where other users could see it.
    Passwd {
        file: PathBuf,
        user: String,
        /// Remove USER instead.
        #[arg(long)]
        delete: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The chain of causes on one line, without a backtrace: a bad
            // setting is the user's to fix, not a bug.
            eprintln!("bridge: {e:#}");
            match e.downcast_ref::<StoreError>() {
                // EX_CONFIG: a service manager should not restart in a loop
                // (systemd: RestartPreventExitStatus=78).
                Some(_) => ExitCode::from(78),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// `bridge passwd FILE USER`.
fn passwd(file: &std::path::Path, user: &str, delete: bool) -> anyhow::Result<()> {
    use bridge::auth::password::PasswordFile;
    let mut users = match file.exists() {
        true => PasswordFile::load(file)?,
        false => PasswordFile::default(),
    };
    if delete {
        anyhow::ensure!(users.remove(user), "{user:?} is not in {}", file.display());
    } else {
        let password = read_password()?;
        anyhow::ensure!(!password.is_empty(), "the password is empty");
        users.set(user, &password)?;
    }
    users.save(file)?;
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let again = rpassword::prompt_password("Again: ").context("reading the password")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(Command::Passwd { file, user, delete }) = &cli.command {
        return passwd(file, user, *delete);
    }
    let file = match &cli.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    let log = cli.log.clone().or(file.log.clone());
    let filter = match &log {
        Some(level) => tracing_subscriber::EnvFilter::try_new(level)
            .with_context(|| format!("--log {level:?} is not a log level or filter"))?,
        None => {
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .init();
    let mut config = file.apply(Config::default());
    config.tcp = cli.tcp.unwrap_or(config.tcp);
    config.ws = cli.ws.unwrap_or(config.ws);
    config.demo |= cli.demo;
    if let Some(secs) = cli.sys_interval {
        config.sys_interval = Duration::from_secs(secs);
    }
    config.data_dir = cli.data_dir.or(config.data_dir);
    config.sync = cli.fsync.unwrap_or(config.sync);
    config.auth.password_file = cli.password_file.or(config.auth.password_file);
    config.auth.acl_file = cli.acl_file.or(config.auth.acl_file);
    config.http = cli.http.or(config.http);
    config.dashboard_dir = cli.dashboard.unwrap_or(config.dashboard_dir);
    let tls = bridge::config::TlsChoice {
        cert: cli.tls_cert.or(file.tls_cert.clone()),
        key: cli.tls_key.or(file.tls_key.clone()),
        client_ca: cli.tls_client_ca.or(file.tls_client_ca.clone()),
        tcp: cli.tls.or(file.tls),
        ws: cli.wss.or(file.wss),
    };
    config.tls = tls
        .settings(config.tcp.ip())
        .map_err(|problem| anyhow::anyhow!("{problem}"))?;
    let bridge = Bridge::bind(config).await?;
    // The first stdout line is the contract scripts and tests read bound ports from.
    let mut stdout = std::io::stdout();
    let mut tls = match (bridge.tls_addr(), bridge.wss_addr()) {
        (Some(tls), Some(wss)) => format!(" tls={tls} wss={wss}"),
        _ => String::new(),
    };
    if let Some(http) = bridge.http_addr() {
        tls.push_str(&format!(" http={http}"));
    }
    writeln!(
        stdout,
        "bridge listening tcp={} ws={}{tls}",
        bridge.tcp_addr(),
        bridge.ws_addr()
    )
    .and_then(|()| stdout.flush())
    .context("writing the address line to stdout")?;

    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    bridge.run(shutdown).await?;
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
