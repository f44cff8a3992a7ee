//! `littlepanda`: the command-line program. It only parses arguments, loads the configuration and
//! calls into the library crates; see ARCHITECTURE.md for where the work happens.

mod bench;
mod config;
mod store_cmd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{ByteSize, Config};

#[derive(Debug, Parser)]
#[command(name = "littlepanda", version, about = "A self-hosted gallery manager")]
struct Cli {
    /// Data directory: the image store, the database and the default config file live here.
    #[arg(
        long,
        global = true,
        env = "LITTLEPANDA_DATA",
        default_value = "littlepanda-data"
    )]
    data: PathBuf,
    /// Config file (TOML); default: <data>/littlepanda.toml if it exists.
    #[arg(long, global = true, env = "LITTLEPANDA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Seal volume files at this size (for example 1GiB).
        #[arg(long)]
        max_volume_size: Option<ByteSize>,
    },
    /// Check every stored image against its checksums and the index.
    Fsck {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Set damaged bytes aside in lost+found, drop damaged images from the index, rewrite
        /// index logs, and compact the damaged volumes.
        #[arg(long)]
        repair: bool,
        /// Discard the index logs and rebuild the whole index from the volumes first.
        #[arg(long)]
        rebuild_index: bool,
    },
    /// Show volumes, images, live and garbage bytes.
    Stats {
        #[arg(long)]
        json: bool,
    },
    /// Rewrite volumes whose garbage exceeds a share of their size, returning the space.
    Compact {
        /// Compact volumes with at least this share of garbage (0.0 to 1.0).
        #[arg(long, default_value_t = 0.2)]
        threshold: f64,
        #[arg(long)]
        json: bool,
    },
    /// Measure LittlePanda against a baseline, side by side in one run.
    Bench {
        #[command(subcommand)]
        which: bench::BenchCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LITTLEPANDA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(&cli.data, cli.config.as_deref())?;
    let store_dir = cli.data.join("lpfs");
    match cli.command {
        Command::Serve {
            listen,
            max_volume_size,
        } => {
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(s) = max_volume_size {
                config.store.max_volume_size = s;
            }
            config::validate(&config)?;
            serve(config, store_dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fsck {
            json,
            repair,
            rebuild_index,
        } => store_cmd::fsck(&store_dir, &config, json, repair, rebuild_index),
        Command::Stats { json } => store_cmd::stats(&store_dir, json),
        Command::Compact { threshold, json } => {
            store_cmd::compact(&store_dir, &config, threshold, json)
        }
        Command::Bench { which } => bench::run(which, &cli.data),
    }
}

fn serve(config: Config, store_dir: PathBuf) -> anyhow::Result<()> {
    let store = lpfs::Store::open(&store_dir, config.store_options())
        .with_context(|| format!("opening the image store in {}", store_dir.display()))?;
    let recovery = store.recovery_report();
    if !recovery.is_clean() {
        tracing::warn!(
            ?recovery,
            "the image store recovered from an unclean shutdown"
        );
    }
    let store = Arc::new(store);
    let state = server::AppState {
        blobs: store.clone(),
        lpfs: Some(store),
    };
    let http = server::ServerConfig {
        max_upload_bytes: config.server.max_upload_size.0 as usize,
    };
    let app = server::router(state, &http);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "listening beyond this machine, and LittlePanda has no user accounts yet");
        }
        tracing::info!("LittlePanda is serving http://{addr}/");
        server::serve(listener, app, shutdown_signal()).await.context("serving")
    })?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
