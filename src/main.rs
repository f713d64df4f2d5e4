//! The `strom` binary: `strom server` runs the broker; `strom perf` is the load tool;
//! `strom topics`, `console-producer`, … are Kafka's console tools (`strom::tools`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "strom",
    version,
    propagate_version = true,
    about = "A Kafka-compatible broker"
)]
struct Cli {
    /// Client properties (Kafka's names: security.protocol, sasl.mechanism,
    /// sasl.jaas.config, ssl.truststore.location, …) for the tools and `strom perf`.
    #[arg(long, global = true, value_name = "FILE")]
    command_config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker.
    Server {
        /// TOML file of Kafka broker properties.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A broker property, `name=value`; wins over the environment and the file.
        #[arg(long = "override", value_name = "NAME=VALUE")]
        overrides: Vec<String>,
    },
    /// Load tool: produce, consume or end-to-end against any Kafka broker.
    #[command(subcommand)]
    Perf(strom::perf::PerfCommand),
    /// Kafka's console tools (also run as `kafka-topics`, … via symlinks).
    #[command(flatten)]
    Tool(strom::tools::ToolCommand),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STROM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = parse_cli();
    if let Some(path) = &cli.command_config {
        match strom::client::security::ClientSecurity::from_file(path) {
            Ok(security) => strom::client::security::set_default(security),
            Err(e) => {
                eprintln!("Error: --command-config {}: {e}", path.display());
                std::process::exit(1);
            }
        }
    }
    match cli.command {
        Command::Server { config, overrides } => {
            // A broker that cannot start says why in one line naming the
            // property or path and the fix (the errors' own text), with no
            // cause chain and no backtrace, whatever RUST_BACKTRACE says.
            if let Err(e) = run_server(config.as_deref(), &overrides) {
                eprintln!("Error: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Perf(cmd) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("strom-perf")
            .build()
            .context("cannot start the async runtime")?
            .block_on(strom::perf::run(cmd))
            .context("strom perf failed"),
        Command::Tool(cmd) => {
            // One line, no backtrace: the tools are run by operators and scripts.
            // A reader that went away (`| head`) ends the tool quietly, as
            // for any shell tool.
            match strom::tools::run(cmd) {
                Ok(()) | Err(strom::tools::ToolError::OutputClosed) => Ok(()),
                Err(e) => {
                    eprintln!("Error: {e}");
                    std::process::exit(1);
                }
            }
        }
    }
}

/// Why `strom server` stopped: each variant's text is the whole message.
#[derive(Debug, thiserror::Error)]
enum ServerExit {
    #[error("invalid configuration: {0}")]
    Config(#[from] strom::config::ConfigError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{0}")]
    Start(strom::server::ServerError),
    #[error("unclean shutdown: {0}")]
    Shutdown(strom::server::ServerError),
}

fn run_server(config: Option<&std::path::Path>, overrides: &[String]) -> Result<(), ServerExit> {
    let config = strom::config::BrokerConfig::load(config, std::env::vars(), overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("strom")
        .build()
        .map_err(ServerExit::Runtime)?;
    runtime.block_on(async move {
        let broker = strom::server::start(config)
            .await
            .map_err(ServerExit::Start)?;
        wait_for_signal().await;
        broker.shutdown().await.map_err(ServerExit::Shutdown)
    })
}

/// The command line; run under a Kafka tool's name (`kafka-topics`), usage
/// and `--version` lines name that tool alone.
fn parse_cli() -> Cli {
    let args = strom::tools::rewrite_args(std::env::args_os());
    let mut command = Cli::command();
    if let Some(kafka_name) = strom::tools::invoked_as(&args) {
        let sub = args.get(1).and_then(|a| a.to_str()).unwrap_or_default();
        // The usage the tool would have as a program of its own: `Usage:
        // kafka-topics [OPTIONS]`, not the subcommand's path.
        let usage = command.find_subcommand(sub).map(|c| {
            let mut alone = c.clone().name(kafka_name).bin_name(kafka_name);
            let text = alone.render_usage().to_string();
            text.strip_prefix("Usage: ").unwrap_or(&text).to_string()
        });
        command = command.mut_subcommand(sub, |c| {
            let c = c.bin_name(kafka_name).display_name(kafka_name);
            match usage {
                Some(u) => c.override_usage(u),
                None => c,
            }
        });
    }
    let matches = command.get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the broker");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
