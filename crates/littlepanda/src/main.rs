//! `littlepanda`: the command-line program. It only parses arguments, loads the configuration and
//! calls into the library crates; see ARCHITECTURE.md for where the work happens.

mod allocator;
mod background;
mod bench;
mod config;
mod control;
mod import_cmd;
mod store_cmd;
mod thumbnailer;
mod user_cmd;
mod watch;

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
    /// Metadata database: sqlite://PATH or mysql://USER@HOST:PORT/DB (default: SQLite in <data>).
    #[arg(long, global = true)]
    database_url: Option<String>,
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
        /// Import archives dropped into this folder once they stop growing.
        #[arg(long)]
        watch: Option<PathBuf>,
    },
    /// Import archives (zip/cbz, rar/cbr, 7z/cb7, tar/cbt, tar.gz) and folders of images.
    Import {
        /// Archives, folders of images, or folders of those.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Tags to add to every gallery, e.g. "artist:x, language:japanese".
        #[arg(long)]
        tags: Option<String>,
        /// Title for every gallery (instead of the one from the name or metadata files).
        #[arg(long)]
        title: Option<String>,
        /// Keep the pages before a damaged entry instead of failing the archive.
        #[arg(long)]
        allow_partial: bool,
        /// One JSON object per archive on standard output.
        #[arg(long)]
        json: bool,
    },
    /// Write a gallery to a .cbz: its pages byte for byte, with a ComicInfo.xml.
    Export {
        /// The gallery's id.
        gallery: String,
        #[arg(long)]
        to: PathBuf,
    },
    /// Add or remove tags of a gallery (as the user's own edit); prints its tags now.
    Tag {
        /// The gallery's id.
        gallery: String,
        /// A tag to add, `namespace:name` (repeat for more).
        #[arg(long)]
        add: Vec<String>,
        /// A tag to remove (repeat for more).
        #[arg(long)]
        remove: Vec<String>,
    },
    /// Move a gallery to the trash (it can be restored).
    Trash { gallery: String },
    /// Bring a gallery back from the trash.
    Restore { gallery: String },
    /// Delete a gallery for good, releasing images nothing else uses.
    Purge { gallery: String },
    /// Release stored images that no gallery uses (left by imports that were killed).
    Gc,
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
    /// Fill the library with synthetic galleries (for benchmarks and trying things out).
    Synth {
        /// How many galleries to add.
        #[arg(long)]
        galleries: u64,
        /// Galleries per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        which: user_cmd::UserCommand,
    },
    /// Measure LittlePanda against a baseline, side by side in one run.
    Bench {
        #[command(subcommand)]
        which: bench::BenchCommand,
    },
}

fn main() -> ExitCode {
    allocator::prefer_small_pages();
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
    if let Some(url) = cli.database_url {
        config.database.url = url;
    }
    let store_dir = cli.data.join("lpfs");
    match cli.command {
        Command::Serve {
            listen,
            max_volume_size,
            watch,
        } => {
            if let Some(w) = watch {
                config.import.watch = Some(w);
            }
            if let Some(l) = listen {
                config.listen = l;
            }
            if let Some(s) = max_volume_size {
                config.store.max_volume_size = s;
            }
            config::validate(&config)?;
            serve(config, &cli.data)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Synth {
            galleries,
            batch,
            seed,
        } => {
            synth(&config, &cli.data, &store_dir, galleries, batch, seed)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fsck {
            json,
            repair,
            rebuild_index,
        } => store_cmd::fsck(&cli.data, &config, json, repair, rebuild_index),
        Command::Stats { json } => store_cmd::stats(&store_dir, json),
        Command::Compact { threshold, json } => {
            store_cmd::compact(&store_dir, &config, threshold, json)
        }
        Command::Bench { which } => bench::run(which, &cli.data),
        Command::Import {
            paths,
            tags,
            title,
            allow_partial,
            json,
        } => import_cmd::import(
            &config,
            &cli.data,
            import_cmd::ImportArgs {
                paths,
                tags,
                title,
                allow_partial,
                json,
            },
        ),
        Command::Export { gallery, to } => import_cmd::export(&config, &cli.data, &gallery, &to),
        Command::Tag {
            gallery,
            add,
            remove,
        } => {
            let parse = |list: &[String]| -> anyhow::Result<Vec<db::TagName>> {
                list.iter()
                    .map(|t| db::TagName::parse(t).with_context(|| format!("tag {t:?}")))
                    .collect()
            };
            let (add, remove) = (parse(&add)?, parse(&remove)?);
            let db = open_db(&config, &cli.data)?;
            for t in library::ops::galleries::tags(&db, &gallery, &add, &remove)? {
                println!("{}", t.tag);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Trash { gallery } => {
            import_cmd::remove(&config, &cli.data, &gallery, import_cmd::Removal::Trash)
        }
        Command::Restore { gallery } => {
            import_cmd::remove(&config, &cli.data, &gallery, import_cmd::Removal::Restore)
        }
        Command::Purge { gallery } => {
            import_cmd::remove(&config, &cli.data, &gallery, import_cmd::Removal::Purge)
        }
        Command::Gc => import_cmd::gc(&config, &cli.data),
        Command::User { which } => user_cmd::run(which, &open_db(&config, &cli.data)?),
    }
}

/// Opens the metadata database, creating the data directory for an SQLite file if needed.
fn open_db(config: &Config, data: &std::path::Path) -> anyhow::Result<db::Db> {
    let url = config.database_url(data);
    if url.starts_with("sqlite://") {
        std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    }
    db::Db::open(&url).with_context(|| format!("opening the database {}", redact(&url)))
}

/// A database URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

fn synth(
    config: &Config,
    data: &std::path::Path,
    store_dir: &std::path::Path,
    galleries: u64,
    batch: usize,
    seed: u64,
) -> anyhow::Result<()> {
    let store = lpfs::Store::open(store_dir, config.store_options())
        .with_context(|| format!("opening the image store in {}", store_dir.display()))?;
    let db = open_db(config, data)?;
    let bar = indicatif::ProgressBar::new(galleries);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} galleries ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    library::synth::fill(&db, &store, galleries, batch.max(1), seed, |done| {
        bar.set_position(done)
    })?;
    bar.finish();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "added {galleries} synthetic galleries in {secs:.1} s ({:.0} galleries/s)",
        galleries as f64 / secs
    );
    Ok(())
}

/// Threads for the server's blocking work (database, store, imports, thumbnails).
const BLOCKING_THREADS: usize = 16;

fn serve(config: Config, data: &std::path::Path) -> anyhow::Result<()> {
    let files = server::raise_open_file_limit();
    tracing::debug!(files, "open-file limit");
    // Opening queues again the jobs the last stop interrupted; they are resumed below.
    let lib = import_cmd::open_library(&config, data)?;
    let recovery = lib.store.recovery_report();
    if !recovery.is_clean() {
        tracing::warn!(
            ?recovery,
            "the image store recovered from an unclean shutdown"
        );
    }
    let started = std::time::Instant::now();
    let live = Arc::new(lib.search_index().context("building the search index")?);
    // The build's temporaries are freed; the allocator gives them back rather than keep them.
    allocator::release_freed_memory();
    tracing::info!(
        galleries = live.len(),
        seconds = started.elapsed().as_secs_f64(),
        "search index built"
    );
    let has_admin = library::ops::accounts::has_admin(&lib.db)?;
    if !config.listen.ip().is_loopback() && !has_admin {
        anyhow::bail!(
            "refusing to listen on {}: no admin account exists yet, so the first-run setup would \
             be open to the network. Create one first with `littlepanda user add NAME --role admin`, \
             or listen on 127.0.0.1 and use the setup page from this machine.",
            config.listen
        );
    }
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => anyhow::bail!("[server] tls_cert and tls_key go together: set both or neither"),
    };
    let auth = server::auth::AuthConfig {
        anonymous_read: config.auth.anonymous_read,
        session_idle: std::time::Duration::from_secs(
            u64::from(config.auth.session_idle_days.max(1)) * 24 * 3600,
        ),
        trusted_proxies: config.auth.trusted_proxies.clone(),
        tls: tls.is_some(),
    };
    let upload_dir = data.join("uploads");
    // Uploads cut off by the last stop are of no use.
    let _ = std::fs::remove_dir_all(&upload_dir);
    std::fs::create_dir_all(&upload_dir)
        .with_context(|| format!("creating {}", upload_dir.display()))?;
    let state = server::AppState {
        lpfs: Some(lib.store.clone()),
        importer: Some(lib.importer.clone()),
        search: Some(live),
        auth: Arc::new(auth),
        upload_dir: Some(upload_dir.into()),
        max_upload_bytes: config.server.max_archive_upload_size.0,
        import_roots: Arc::new(config.import.roots.clone()),
        ..server::AppState::new(lib.store.clone(), lib.db.clone())
    };
    let lib = Arc::new(lib);
    let _thumbnailer = thumbnailer::start(server::jobs::runner(&state))?;
    let _watcher = match &config.import.watch {
        Some(dir) => Some(watch::start(lib.clone(), dir.clone())?),
        None => None,
    };
    // `littlepanda import` beside this server hands its work here.
    let _control = control::listen(data, lib.clone())?;
    let http = server::ServerConfig {
        max_upload_bytes: config.server.max_upload_size.0 as usize,
    };
    let app = server::router(state.clone(), &http);
    // Database and store work runs on blocking threads. Bounded, so that many clients at once
    // queue for a thread instead of each getting one (every thread keeps its own allocator
    // caches: memory grew with the peak number of clients); the database has at most 8 readers
    // anyway.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?;
    runtime.block_on(async move {
        // Jobs the last stop interrupted carry on (the thumbnails job with the thumbnailer).
        let resumed = server::jobs::resume(&state).context("resuming jobs")?;
        if resumed > 0 {
            tracing::info!(resumed, "interrupted import jobs resumed");
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        let addr = listener.local_addr()?;
        if !has_admin {
            tracing::info!(
                "no admin account yet: open http://{addr}/ on this machine to create one, or run \
                 `littlepanda user add NAME --role admin`"
            );
        }
        match tls {
            Some((cert, key)) => {
                tracing::info!("LittlePanda is serving https://{addr}/");
                let listener = listener.into_std()?;
                server::serve_tls(listener, app, &cert, &key, shutdown_signal())
                    .await
                    .context("serving")
            }
            None => {
                tracing::info!("LittlePanda is serving http://{addr}/");
                server::serve(listener, app, shutdown_signal())
                    .await
                    .context("serving")
            }
        }
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
