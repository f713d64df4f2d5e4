//! The `strom` binary: `strom server` runs the broker; `strom perf` is the load tool;
//! `strom topics`, `console-producer`, … are Kafka's console tools (`strom::tools`).

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "strom", version, about = "A Kafka-compatible broker")]
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
    let cli = Cli::parse_from(strom::tools::rewrite_args(std::env::args_os()));
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
            let config =
                strom::config::BrokerConfig::load(config.as_deref(), std::env::vars(), &overrides)
                    .context("invalid configuration")?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("strom")
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(async move {
                let broker = strom::server::start(config)
                    .await
                    .context("broker failed to start")?;
                wait_for_signal().await;
                broker.shutdown().await.context("unclean shutdown")
            })
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
            if let Err(e) = strom::tools::run(cmd) {
                eprintln!("Error: {e}");
                std::process::exit(1);
            }
            Ok(())
        }
    }
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
