//! `bench serve`: LittlePanda's HTTP serving against nginx (Debian's), in one run on loopback,
//! both driven by `wrk` (Debian's). The same page images are served by nginx from plain files
//! and by LittlePanda from LittlePandaFS, through the same URLs, with an API key on every request
//! (LittlePanda checks it; nginx ignores it). Then LittlePanda alone serves the grid page and
//! search pages of a synthetic library (1,000,000 galleries by default).
//!
//! Both servers start from a cold page cache (as after a reboot; dropping it needs root), so each
//! holds the images in memory as its own read path brings them in, rather than as the bench
//! happened to write them. The image load then runs in rounds, the two servers taking turns to
//! go first; each server's figures are the median of its rounds, because on a small machine a
//! single run moves by ±15% with whatever else the machine is doing.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use lpfs::BlobStore;

#[derive(Debug, Args)]
pub struct ServeBenchArgs {
    /// Galleries in the synthetic library behind the grid and search pages.
    #[arg(long, default_value_t = 1_000_000)]
    galleries: u64,
    /// Distinct page images requested in turn.
    #[arg(long, default_value_t = 64)]
    images: usize,
    /// Seconds of load for each measurement.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// Rounds of the image load (each server once per round).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Open connections for the image runs.
    #[arg(long, default_value_t = 64)]
    connections: u32,
    /// Open connections for the grid and search pages (people browsing at once).
    #[arg(long, default_value_t = 4)]
    page_connections: u32,
    #[arg(long)]
    json: bool,
}

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(super) struct Load {
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub mb_per_s: f64,
    /// Connections that failed (connect, read, write, timeout), as `wrk` counts them.
    pub socket_errors: u64,
}

#[derive(Debug, serde::Serialize)]
struct Results {
    galleries: u64,
    image_bytes_mean: u64,
    /// Whether both servers started from a cold page cache.
    cold_start: bool,
    /// Each server's figures, each the median over the rounds.
    images_nginx: Load,
    images_littlepanda: Load,
    /// LittlePanda's requests per second over nginx's (medians).
    images_ratio: f64,
    /// Every round: (nginx, LittlePanda).
    image_rounds: Vec<(Load, Load)>,
    grid_page: Load,
    search_pages: Load,
}

/// A child process, stopped when dropped.
pub(super) struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn need(tool: &str, package: &str) -> anyhow::Result<PathBuf> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return Ok(p);
        }
    }
    bail!(
        "{tool} is not installed: `apt install {package}` (bench serve runs it beside LittlePanda)"
    )
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub(super) fn wait_for_port(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on port {port}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Page-like JPEGs: photo-sized noise over gradients, so they neither compress to nothing nor
/// all look alike. Each is about 0.3–0.5 MB.
fn page_images(n: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let (w, h) = (1100u32, 1560u32);
    let mut rng = fastrand::Rng::with_seed(42);
    (0..n)
        .map(|k| {
            let pixels: Vec<u8> = (0..w * h)
                .flat_map(|i| {
                    let (x, y) = (i % w, i / w);
                    let noise = rng.u8(..48);
                    [
                        ((x / 5) as u8).wrapping_add(k as u8 * 13) ^ noise,
                        ((y / 7) as u8).wrapping_add(noise),
                        ((x + y) / 9) as u8 ^ (k as u8),
                    ]
                })
                .collect();
            Ok(library::import::thumb::jpeg_from_rgb(&pixels, w, h, 80)?)
        })
        .collect()
}

/// Runs `wrk` with `script` against `base`; parses what it printed.
pub(super) fn wrk(
    wrk: &Path,
    base: &str,
    script: &Path,
    connections: u32,
    seconds: u32,
) -> anyhow::Result<Load> {
    let out = Command::new(wrk)
        .args([
            "-t2",
            &format!("-c{connections}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(base)
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses"))
    {
        bail!(
            "the server answered errors under load ({}):\n{text}",
            line.trim()
        );
    }
    parse_wrk(&text).with_context(|| format!("reading wrk's report:\n{text}"))
}

fn parse_wrk(text: &str) -> anyhow::Result<Load> {
    let duration_ms = |v: &str| -> Option<f64> {
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = num.parse().ok()?;
        Some(match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            "m" => n * 60_000.0,
            _ => return None,
        })
    };
    let rate_mb = |v: &str| -> Option<f64> {
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
        let n: f64 = num.parse().ok()?;
        Some(match unit {
            "B" => n / 1e6,
            "KB" => n * 1024.0 / 1e6,
            "MB" => n * 1024.0 * 1024.0 / 1e6,
            "GB" => n * 1024.0 * 1024.0 * 1024.0 / 1e6,
            _ => return None,
        })
    };
    let field = |prefix: &str| -> Option<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    Ok(Load {
        requests_per_s: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .context("no Requests/sec")?,
        p50_ms: field("50%").and_then(duration_ms).context("no 50%")?,
        p99_ms: field("99%").and_then(duration_ms).context("no 99%")?,
        mb_per_s: field("Transfer/sec:").and_then(rate_mb).unwrap_or(0.0),
        socket_errors: field("Socket errors:").map_or(0, |v| {
            v.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        }),
    })
}

/// Each figure's median over the rounds (the middle value; the mean of the two middle ones for
/// an even count).
fn median_load(rounds: Vec<Load>) -> Load {
    let median = |mut v: Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => 0.0,
            _ if n % 2 == 1 => v[n / 2],
            _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        }
    };
    let of = |f: fn(&Load) -> f64| median(rounds.iter().map(f).collect());
    Load {
        requests_per_s: of(|l| l.requests_per_s),
        p50_ms: of(|l| l.p50_ms),
        p99_ms: of(|l| l.p99_ms),
        mb_per_s: of(|l| l.mb_per_s),
        socket_errors: rounds.iter().map(|l| l.socket_errors).sum(),
    }
}

/// A wrk script that asks for `paths` in turn, with `header` on each request.
pub(super) fn script(
    dir: &Path,
    name: &str,
    paths: &[String],
    header: &str,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(name);
    let mut f = std::fs::File::create(&path)?;
    writeln!(f, "local paths = {{")?;
    for p in paths {
        writeln!(f, "  {:?},", p)?;
    }
    writeln!(f, "}}\nlocal i = 0")?;
    writeln!(f, "wrk.headers[\"Authorization\"] = {header:?}")?;
    writeln!(
        f,
        "request = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend"
    )?;
    Ok(path)
}

fn nginx_config(dir: &Path, port: u16) -> anyhow::Result<PathBuf> {
    for sub in ["logs", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let conf = dir.join("nginx.conf");
    let root = dir.join("blobs");
    std::fs::write(
        &conf,
        format!(
            "daemon off;\nworker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n\
               keepalive_requests 1000000;\n  open_file_cache max=10000 inactive=60s;\n\
               client_body_temp_path {d}/tmp/body;\n  proxy_temp_path {d}/tmp/proxy;\n\
               fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  scgi_temp_path {d}/tmp/scgi;\n\
               default_type image/jpeg;\n\
               server {{\n    listen 127.0.0.1:{port};\n\
                 location /api/v1/blobs/ {{\n      alias {root}/;\n      etag on;\n\
                   add_header Cache-Control \"public, max-age=31536000, immutable\";\n    }}\n  }}\n}}\n",
            d = dir.display(),
            root = root.display(),
        ),
    )?;
    Ok(conf)
}

pub fn run(args: &ServeBenchArgs, data: &Path) -> anyhow::Result<()> {
    let nginx = need("nginx", "nginx-light")?;
    let wrk_bin = need("wrk", "wrk")?;
    std::fs::create_dir_all(data)?;
    let work = tempfile::Builder::new()
        .prefix("bench-serve-")
        .tempdir_in(data)
        .with_context(|| format!("making a work folder in {}", data.display()))?;
    let store = Arc::new(lpfs::Store::open(
        work.path().join("lpfs"),
        lpfs::Options::default(),
    )?);
    let db = Arc::new(db::Db::open_sqlite(&work.path().join("bench.db"))?);
    eprintln!(
        "bench serve: a synthetic library of {} galleries…",
        args.galleries
    );
    library::synth::fill(&db, store.as_ref(), args.galleries, 10_000, 11, |_| {})?;
    db.checkpoint()?;

    // The same page images in LittlePandaFS and as plain files for nginx.
    eprintln!("  {} page images…", args.images);
    let images = page_images(args.images)?;
    let blobs_dir = work.path().join("nginx").join("blobs");
    std::fs::create_dir_all(&blobs_dir)?;
    let mut paths = Vec::new();
    for bytes in &images {
        let put = store.put(bytes)?;
        std::fs::write(blobs_dir.join(put.hash.to_string()), bytes)?;
        paths.push(format!("/api/v1/blobs/{}", put.hash));
    }
    let mean = images.iter().map(Vec::len).sum::<usize>() as u64 / images.len().max(1) as u64;
    let cold_start = match super::drop_page_cache() {
        Ok(()) => true,
        Err(e) => {
            eprintln!(
                "  {e}: nginx's files stay as written and LittlePanda's volume as its writer left it"
            );
            false
        }
    };

    // A reader's API key, as a client app would send.
    let hash =
        server::auth::hash_password("bench-password-long").map_err(|e| anyhow::anyhow!("{e}"))?;
    let user = db
        .accounts()
        .create_user("bench", &hash, db::Role::Reader)?;
    let (_, key) = server::auth::new_api_key(&db, user.id, "bench", db::KeyScope::Read)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let header = format!("Bearer {key}");

    eprintln!("  the search index…");
    let live = Arc::new(search::Live::build(db.clone())?);
    let state = server::AppState {
        lpfs: Some(store.clone()),
        search: Some(live),
        ..server::AppState::new(store.clone(), db.clone())
    };
    let app = server::router(state, &server::ServerConfig::default());
    let lp_port = free_port()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(async move {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], lp_port))).await?;
        server::serve(listener, app, async {
            let _ = stopped.await;
        })
        .await
    });
    wait_for_port(lp_port)?;

    let nginx_dir = work.path().join("nginx");
    let nginx_port = free_port()?;
    let conf = nginx_config(&nginx_dir, nginx_port)?;
    let _nginx = Running(
        Command::new(&nginx)
            .arg("-p")
            .arg(&nginx_dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(nginx_dir.join("logs/error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nginx")?,
    );
    wait_for_port(nginx_port)?;

    let scripts = work.path().join("scripts");
    std::fs::create_dir_all(&scripts)?;
    let images_script = script(&scripts, "images.lua", &paths, &header)?;
    let lp = format!("http://127.0.0.1:{lp_port}");
    let ng = format!("http://127.0.0.1:{nginx_port}");
    // A short warm-up of each (which also reads the images in), then the rounds.
    wrk(&wrk_bin, &ng, &images_script, args.connections, 2)?;
    wrk(&wrk_bin, &lp, &images_script, args.connections, 2)?;
    let mut image_rounds = Vec::new();
    for round in 0..args.rounds.max(1) {
        let run = |name: &str, base: &str| {
            eprintln!("  page images, round {}: {name}…", round + 1);
            wrk(
                &wrk_bin,
                base,
                &images_script,
                args.connections,
                args.seconds,
            )
        };
        let (nginx_load, lp_load) = if round % 2 == 0 {
            let n = run("nginx", &ng)?;
            (n, run("LittlePanda", &lp)?)
        } else {
            let l = run("LittlePanda", &lp)?;
            (run("nginx", &ng)?, l)
        };
        image_rounds.push((nginx_load, lp_load));
    }
    let images_nginx = median_load(image_rounds.iter().map(|r| r.0).collect());
    let images_littlepanda = median_load(image_rounds.iter().map(|r| r.1).collect());

    // The grid (newest first, and deeper pages) and search pages of popular tags.
    let mut counts = db.tags().counts()?;
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let top: Vec<String> = counts
        .iter()
        .take(20)
        .map(|(t, _)| format!("{}:\"{}\"$", t.namespace, t.name))
        .collect();
    let encode = |s: &str| server::web::encode(s);
    let grid_paths: Vec<String> = ["/", "/?page=2", "/?page=50", "/?page=1000"]
        .iter()
        .map(|s| (*s).to_string())
        .collect();
    let search_paths: Vec<String> = (0..top.len())
        .map(|i| match i % 4 {
            0 => format!("/?q={}", encode(&top[i])),
            1 => format!(
                "/?q={}",
                encode(&format!("{} {}", top[i], top[(i + 3) % top.len()]))
            ),
            2 => format!(
                "/?q={}",
                encode(&format!("{} -{}", top[i], top[(i + 5) % top.len()]))
            ),
            _ => format!("/?q={}&page=3", encode(&top[i])),
        })
        .collect();
    let page_connections = args.page_connections.max(1);
    let grid_script = script(&scripts, "grid.lua", &grid_paths, &header)?;
    let search_script = script(&scripts, "search.lua", &search_paths, &header)?;
    wrk(&wrk_bin, &lp, &grid_script, page_connections, 2)?;
    eprintln!("  grid pages…");
    let grid_page = wrk(&wrk_bin, &lp, &grid_script, page_connections, args.seconds)?;
    eprintln!("  search pages…");
    let search_pages = wrk(
        &wrk_bin,
        &lp,
        &search_script,
        page_connections,
        args.seconds,
    )?;

    let _ = stop.send(());
    runtime.block_on(server)??;

    let results = Results {
        galleries: args.galleries,
        image_bytes_mean: mean,
        cold_start,
        image_rounds,
        images_ratio: images_littlepanda.requests_per_s / images_nginx.requests_per_s,
        images_nginx,
        images_littlepanda,
        grid_page,
        search_pages,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        let row = |name: &str, l: &Load| {
            println!(
                "{name:<28} {:>10.0} {:>9.2} {:>9.2} {:>9.1}",
                l.requests_per_s, l.p50_ms, l.p99_ms, l.mb_per_s
            );
        };
        println!(
            "{:<28} {:>10} {:>9} {:>9} {:>9}",
            "", "req/s", "p50 ms", "p99 ms", "MB/s"
        );
        row("page images, nginx", &results.images_nginx);
        row("page images, LittlePanda", &results.images_littlepanda);
        for (i, (n, l)) in results.image_rounds.iter().enumerate() {
            println!(
                "  round {}: {:.0} vs {:.0} req/s ({:.2}×), p99 {:.2} vs {:.2} ms",
                i + 1,
                l.requests_per_s,
                n.requests_per_s,
                l.requests_per_s / n.requests_per_s,
                l.p99_ms,
                n.p99_ms
            );
        }
        row(
            &format!("grid page, {} galleries", results.galleries),
            &results.grid_page,
        );
        row(
            &format!("search pages, {}", results.galleries),
            &results.search_pages,
        );
        println!(
            "page images: LittlePanda {:.2}× nginx's requests/s (medians of {} rounds, mean image {} KB{}); p99 {:.2} vs {:.2} ms",
            results.images_ratio,
            results.image_rounds.len(),
            mean / 1000,
            if results.cold_start {
                ", from a cold page cache"
            } else {
                ""
            },
            results.images_littlepanda.p99_ms,
            results.images_nginx.p99_ms
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Load, median_load, parse_wrk};

    #[test]
    fn medians_take_the_middle_of_each_figure() {
        let load = |r: f64, p99: f64| Load {
            requests_per_s: r,
            p50_ms: 1.0,
            p99_ms: p99,
            mb_per_s: r / 10.0,
            socket_errors: 0,
        };
        let m = median_load(vec![load(300.0, 9.0), load(100.0, 7.0), load(200.0, 8.0)]);
        assert_eq!((m.requests_per_s, m.p99_ms, m.mb_per_s), (200.0, 8.0, 20.0));
        let m = median_load(vec![load(100.0, 4.0), load(300.0, 8.0)]);
        assert_eq!((m.requests_per_s, m.p99_ms), (200.0, 6.0));
    }

    #[test]
    fn reads_wrks_report() {
        let text = "Running 10s test @ http://127.0.0.1:1\n  2 threads and 64 connections\n\
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   1.10ms  300.00us   9.00ms   80.00%\n\
            Latency Distribution\n     50%  850.00us\n     75%    1.20ms\n     90%    1.90ms\n     99%    4.10ms\n\
            100000 requests in 10.00s, 40.00GB read\nRequests/sec:  10000.50\nTransfer/sec:      4.00GB\n";
        let l = parse_wrk(text).unwrap();
        assert!((l.requests_per_s - 10000.5).abs() < 1e-9);
        assert!((l.p50_ms - 0.85).abs() < 1e-9);
        assert!((l.p99_ms - 4.1).abs() < 1e-9);
        assert!((l.mb_per_s - 4294.967296).abs() < 1e-6);
        assert_eq!(l.socket_errors, 0);
        let failing = format!("{text}  Socket errors: connect 2, read 3, write 0, timeout 5\n");
        assert_eq!(parse_wrk(&failing).unwrap().socket_errors, 10);
    }
}
