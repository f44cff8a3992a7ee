//! `bench load`: the server under a mixed load of many clients at once (grid pages, searches,
//! page images, thumbnails), driven by `wrk`, checking that it stays correct and small: no
//! errors, memory after the load close to memory after a warm-up, and the grid as fast with 100
//! connections as with 16. The server runs as its own process (`littlepanda serve` on a
//! synthetic library), so its resident memory is its own.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use super::serve::{Load, Running, free_port, need, script, wait_for_port, wrk};

#[derive(Debug, Args)]
pub struct LoadBenchArgs {
    /// Galleries in the synthetic library.
    #[arg(long, default_value_t = 20_000)]
    galleries: u64,
    /// Open connections for the heavy load.
    #[arg(long, default_value_t = 100)]
    connections: u32,
    /// Open connections for the warm-up and the baseline grid run.
    #[arg(long, default_value_t = 16)]
    baseline_connections: u32,
    /// Seconds of load for each run.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Results {
    galleries: u64,
    connections: u32,
    baseline_connections: u32,
    /// The mixed load at the baseline's connections (the warm-up) and at the heavy load's.
    mixed_baseline: Load,
    mixed: Load,
    /// The grid alone, at each.
    grid_baseline: Load,
    grid: Load,
    /// Grid throughput with many connections over with few (target ≥ 0.9).
    grid_ratio: f64,
    /// The server's resident memory after start, after the warm-up and after the load.
    rss_start: Rss,
    rss_warm: Rss,
    rss_after: Rss,
    /// After the load over after the warm-up (target ≤ 1.5, and under 400 MB).
    rss_ratio: f64,
    /// Requests answered with an error or failing on the socket, over every run.
    errors: u64,
}

/// Resident memory of a process, in MB: all of it, and the part that is the process's own heap
/// and stacks (anonymous) rather than files it maps (the volumes, whose pages the kernel may drop
/// whenever it needs the memory).
#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Rss {
    total_mb: f64,
    anon_mb: f64,
    file_mb: f64,
}

fn rss(pid: u32) -> anyhow::Result<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in /proc/PID/status"))?;
        Ok(kb / 1024.0)
    };
    Ok(Rss {
        total_mb: field("VmRSS:")?,
        anon_mb: field("RssAnon:")?,
        file_mb: field("RssFile:")?,
    })
}

pub fn run(args: &LoadBenchArgs, data: &Path) -> anyhow::Result<()> {
    let wrk_bin = need("wrk", "wrk")?;
    std::fs::create_dir_all(data)?;
    let work = tempfile::Builder::new()
        .prefix("bench-load-")
        .tempdir_in(data)
        .with_context(|| format!("making a work folder in {}", data.display()))?;
    // A data directory `serve` opens as it is: the store and the database in their places.
    let lib = work.path().join("library");
    std::fs::create_dir_all(&lib)?;
    let (paths, header) = {
        let store = lpfs::Store::open(lib.join("lpfs"), lpfs::Options::default())?;
        let db = db::Db::open_sqlite(&lib.join("littlepanda.db"))?;
        eprintln!(
            "bench load: a synthetic library of {} galleries…",
            args.galleries
        );
        library::synth::fill(&db, &store, args.galleries, 10_000, 13, |_| {})?;
        db.checkpoint()?;
        let hash = server::auth::hash_password("bench-password-long")
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let user = db
            .accounts()
            .create_user("bench", &hash, db::Role::Reader)?;
        let (_, key) = server::auth::new_api_key(&db, user.id, "bench", db::KeyScope::Read)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        // What people do: browse the grid, search, read pages, look at thumbnails.
        let listed = db.galleries().list(&db::ListQuery {
            limit: 50,
            ..db::ListQuery::default()
        })?;
        let mut images = Vec::new();
        for g in listed.iter().take(20) {
            for p in db.galleries().pages(&g.public_id)?.iter().take(4) {
                images.push(p.blob.hash);
            }
        }
        images.sort_unstable();
        images.dedup();
        let mut paths = Vec::new();
        for (i, image) in images.iter().enumerate() {
            paths.push(format!("/?page={}", i % 20 + 1));
            paths.push(format!("/api/v1/blobs/{image}"));
            paths.push(format!("/api/v1/thumbnails/{image}"));
            let q = [
                "artist:a*",
                "female:glasses | female:ponytail",
                "language:english",
                "holiday",
                "-misc:x pages:>50",
            ];
            paths.push(format!(
                "/api/v1/search?q={}&limit=40",
                server::web::encode(q[i % q.len()])
            ));
        }
        (paths, format!("Bearer {key}"))
    };
    let grid_paths: Vec<String> = (1..=20).map(|p| format!("/?page={p}")).collect();
    let scripts = work.path().join("wrk");
    std::fs::create_dir_all(&scripts)?;
    let mixed_script = script(&scripts, "mixed.lua", &paths, &header)?;
    let grid_script = script(&scripts, "grid.lua", &grid_paths, &header)?;

    let port = free_port()?;
    let exe = std::env::current_exe()?;
    let server = Running(
        Command::new(exe)
            .arg("--data")
            .arg(&lib)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("LITTLEPANDA_LOG", "warn")
            .env_remove("LITTLEPANDA_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting `littlepanda serve`")?,
    );
    wait_for_port(port)?;
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    std::thread::sleep(Duration::from_millis(500));
    let rss_start = rss(pid)?;

    eprintln!(
        "  warm-up: the mixed load at {} connections…",
        args.baseline_connections
    );
    let mixed_baseline = wrk(
        &wrk_bin,
        &base,
        &mixed_script,
        args.baseline_connections,
        args.seconds,
    )?;
    let rss_warm = rss(pid)?;
    let grid_baseline = wrk(
        &wrk_bin,
        &base,
        &grid_script,
        args.baseline_connections,
        args.seconds,
    )?;
    eprintln!("  the mixed load at {} connections…", args.connections);
    let mixed = wrk(
        &wrk_bin,
        &base,
        &mixed_script,
        args.connections,
        args.seconds,
    )?;
    let grid = wrk(
        &wrk_bin,
        &base,
        &grid_script,
        args.connections,
        args.seconds,
    )?;
    // Memory once the load is over and the server has settled.
    std::thread::sleep(Duration::from_secs(2));
    let rss_after = rss(pid)?;
    drop(server);

    let errors = [mixed_baseline, grid_baseline, mixed, grid]
        .iter()
        .map(|l| l.socket_errors)
        .sum();
    let r = Results {
        galleries: args.galleries,
        connections: args.connections,
        baseline_connections: args.baseline_connections,
        mixed_baseline,
        mixed,
        grid_baseline,
        grid,
        grid_ratio: grid.requests_per_s / grid_baseline.requests_per_s.max(f64::MIN_POSITIVE),
        rss_start,
        rss_warm,
        rss_after,
        rss_ratio: rss_after.total_mb / rss_warm.total_mb.max(f64::MIN_POSITIVE),
        errors,
    };
    if args.json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        let c = args.connections;
        let b = args.baseline_connections;
        println!("load on {} galleries:", r.galleries);
        println!(
            "  mixed   {b:>3} conns {:>8.0} req/s p99 {:>6.1} ms   {c:>3} conns {:>8.0} req/s p99 {:>6.1} ms",
            r.mixed_baseline.requests_per_s,
            r.mixed_baseline.p99_ms,
            r.mixed.requests_per_s,
            r.mixed.p99_ms
        );
        println!(
            "  grid    {b:>3} conns {:>8.0} req/s p99 {:>6.1} ms   {c:>3} conns {:>8.0} req/s p99 {:>6.1} ms   ratio {:.2} (target ≥ 0.9)",
            r.grid_baseline.requests_per_s,
            r.grid_baseline.p99_ms,
            r.grid.requests_per_s,
            r.grid.p99_ms,
            r.grid_ratio
        );
        println!(
            "  memory  {:.0} MB at start, {:.0} MB after the warm-up, {:.0} MB after the load: ratio {:.2} (target ≤ 1.5, under 400 MB)",
            r.rss_start.total_mb, r.rss_warm.total_mb, r.rss_after.total_mb, r.rss_ratio
        );
        println!(
            "          of which the heap and stacks {:.0} / {:.0} / {:.0} MB, mapped volumes {:.0} / {:.0} / {:.0} MB",
            r.rss_start.anon_mb,
            r.rss_warm.anon_mb,
            r.rss_after.anon_mb,
            r.rss_start.file_mb,
            r.rss_warm.file_mb,
            r.rss_after.file_mb
        );
        println!("  errors  {} (target 0)", r.errors);
    }
    if errors > 0 {
        bail!("{errors} requests failed on the socket under load");
    }
    Ok(())
}
