//! `bench db`: the metadata store on SQLite and on MariaDB in the same run: bulk insert of
//! galleries with tags, then, in a library of a million galleries, fetching a page of 50 galleries
//! with their tags and covers, and fetching one gallery of 400 pages.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use db::{Db, ListQuery, NewGallery};
use library::synth::{GalleryMaker, TagVocabulary};

#[derive(Debug, Args)]
pub struct DbBenchArgs {
    /// Galleries in the library the fetches run against.
    #[arg(long, default_value_t = 1_000_000)]
    galleries: u64,
    /// Galleries in the timed bulk insert (part of the library).
    #[arg(long, default_value_t = 100_000)]
    insert: u64,
    /// Timed fetches of each kind.
    #[arg(long, default_value_t = 1000)]
    fetches: usize,
    /// MariaDB/MySQL server to measure beside SQLite (a database `littlepanda_bench` is created
    /// there and dropped afterwards). Default: $LITTLEPANDA_BENCH_MYSQL_URL, else the local server
    /// at mysql://root@127.0.0.1:3306/ if it answers.
    #[arg(long)]
    mysql_url: Option<String>,
    /// Measure SQLite only.
    #[arg(long, conflicts_with = "mariadb_only")]
    sqlite_only: bool,
    /// Measure MariaDB/MySQL only.
    #[arg(long)]
    mariadb_only: bool,
    #[arg(long)]
    json: bool,
}

/// What one backend measured.
#[derive(Debug, serde::Serialize)]
struct BackendResult {
    backend: &'static str,
    insert_galleries_per_s: f64,
    fill_galleries_per_s: f64,
    page_of_50_by_id: Percentiles,
    page_of_50_newest: Percentiles,
    gallery_with_400_pages: Percentiles,
}

#[derive(Debug, serde::Serialize)]
struct Percentiles {
    p50_ms: f64,
    p99_ms: f64,
}

fn percentiles(mut times: Vec<Duration>) -> Percentiles {
    times.sort();
    let at = |q: f64| {
        times[((times.len() as f64 * q) as usize).min(times.len() - 1)].as_secs_f64() * 1e3
    };
    Percentiles {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    }
}

fn measure(
    name: &'static str,
    db: &Db,
    store: &lpfs::Store,
    args: &DbBenchArgs,
) -> anyhow::Result<BackendResult> {
    let vocabulary = TagVocabulary::standard();
    let pool = library::synth::image_pool(store, 64)?;
    let mut maker = GalleryMaker::new(7, &vocabulary, &pool);
    let batch = 10_000usize;

    // Bulk insert (as `synth` and bulk imports do it), in transactions of 10,000 galleries, timed
    // less the time spent making the galleries and freeing them.
    let mut making = Duration::ZERO;
    let mut done = 0u64;
    let t = Instant::now();
    while done < args.insert {
        let n = (args.insert - done).min(batch as u64) as usize;
        let m = Instant::now();
        let galleries: Vec<NewGallery> = (0..n).map(|_| maker.next(None)).collect();
        making += m.elapsed();
        db.galleries().create_many(&galleries)?;
        // Freeing the caller's galleries is the maker's cost too.
        let m = Instant::now();
        drop(galleries);
        making += m.elapsed();
        done += n as u64;
    }
    let insert_time = t.elapsed() - making;
    let insert_rate = args.insert as f64 / insert_time.as_secs_f64();
    eprintln!(
        "  {name}: inserted {} galleries at {insert_rate:.0}/s",
        args.insert
    );

    // The rest of the library, with the 400-page galleries among it.
    let t = Instant::now();
    let mut big = Vec::new();
    for _ in 0..20 {
        big.push(db.galleries().create(&maker.next(Some(400)))?);
    }
    let rest = args.galleries.saturating_sub(done + 20);
    let mut filled = 0u64;
    while filled < rest {
        let n = (rest - filled).min(batch as u64) as usize;
        let galleries: Vec<NewGallery> = (0..n).map(|_| maker.next(None)).collect();
        db.galleries().create_many(&galleries)?;
        filled += n as u64;
        if filled % 100_000 < batch as u64 {
            eprintln!("  {name}: library at {} galleries", done + 20 + filled);
        }
    }
    let fill_rate = (rest + 20) as f64 / t.elapsed().as_secs_f64();

    let total = db.galleries().count()?;
    let max_id = total as i64;
    let mut rng = fastrand::Rng::with_seed(3);
    let mut by_id = Vec::with_capacity(args.fetches);
    let mut newest = Vec::with_capacity(args.fetches);
    let mut gallery = Vec::with_capacity(args.fetches);
    let big_ids: Vec<String> = big
        .into_iter()
        .filter_map(|c| match c {
            db::Created::New { public_id, .. } => Some(public_id),
            db::Created::Duplicate { .. } => None,
        })
        .collect();
    for i in 0..args.fetches {
        let ids: Vec<i64> = (0..50).map(|_| rng.i64(1..=max_id)).collect();
        let t = Instant::now();
        let page = db.galleries().summaries(&ids)?;
        by_id.push(t.elapsed());
        anyhow::ensure!(
            !page.is_empty() && page.iter().all(|g| !g.tags.is_empty()),
            "a page came back without tags"
        );

        let t = Instant::now();
        let page = db.galleries().list(&ListQuery {
            limit: 50,
            ..ListQuery::default()
        })?;
        newest.push(t.elapsed());
        anyhow::ensure!(page.len() == 50, "a listing page came back short");

        let id = &big_ids[i % big_ids.len()];
        let t = Instant::now();
        let g = db.galleries().get(id)?;
        let pages = db.galleries().pages(id)?;
        gallery.push(t.elapsed());
        anyhow::ensure!(
            pages.len() == 400 && g.page_count == 400,
            "the big gallery came back wrong"
        );
    }
    Ok(BackendResult {
        backend: name,
        insert_galleries_per_s: insert_rate,
        fill_galleries_per_s: fill_rate,
        page_of_50_by_id: percentiles(by_id),
        page_of_50_newest: percentiles(newest),
        gallery_with_400_pages: percentiles(gallery),
    })
}

fn mysql_server(args: &DbBenchArgs) -> Option<String> {
    if args.sqlite_only {
        return None;
    }
    let url = args
        .mysql_url
        .clone()
        .or_else(|| std::env::var("LITTLEPANDA_BENCH_MYSQL_URL").ok())
        .unwrap_or_else(|| "mysql://root@127.0.0.1:3306/".to_string());
    Some(
        url.rsplit_once('/')
            .map_or(url.clone(), |(base, _)| format!("{base}/")),
    )
}

pub fn run(args: &DbBenchArgs, data: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data)?;
    let work = tempfile::Builder::new()
        .prefix("bench-db-")
        .tempdir_in(data)?;
    let store = lpfs::Store::open(work.path().join("lpfs"), lpfs::Options::default())?;
    let mut results = Vec::new();

    if !args.mariadb_only {
        eprintln!("bench db: SQLite, {} galleries", args.galleries);
        let sqlite = Db::open_sqlite(&work.path().join("bench.db"))?;
        results.push(measure("sqlite", &sqlite, &store, args)?);
    }

    if let Some(server) = mysql_server(args) {
        use mysql::prelude::Queryable;
        let name = "littlepanda_bench";
        match mysql::Pool::new(server.as_str()).and_then(|p| p.get_conn()) {
            Ok(mut conn) => {
                conn.query_drop(format!("DROP DATABASE IF EXISTS {name}"))?;
                conn.query_drop(format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                ))?;
                eprintln!(
                    "bench db: MariaDB at {server}, {} galleries",
                    args.galleries
                );
                let db =
                    Db::open(&format!("{server}{name}")).context("opening the bench database")?;
                let result = measure("mariadb", &db, &store, args);
                drop(db);
                conn.query_drop(format!("DROP DATABASE IF EXISTS {name}"))?;
                results.push(result?);
            }
            Err(e) => eprintln!("bench db: MariaDB not measured: cannot reach {server}: {e}"),
        }
    }

    println!(
        "metadata store, {} galleries ({} of them bulk-inserted and timed)",
        args.galleries, args.insert
    );
    println!(
        "{:<10} {:>12} {:>12} {:>20} {:>20} {:>20}",
        "", "insert/s", "fill/s", "50 by id p50/p99", "newest 50 p50/p99", "400 pages p50/p99"
    );
    for r in &results {
        let pair = |p: &Percentiles| format!("{:.2}/{:.2} ms", p.p50_ms, p.p99_ms);
        println!(
            "{:<10} {:>12.0} {:>12.0} {:>20} {:>20} {:>20}",
            r.backend,
            r.insert_galleries_per_s,
            r.fill_galleries_per_s,
            pair(&r.page_of_50_by_id),
            pair(&r.page_of_50_newest),
            pair(&r.gallery_with_400_pages)
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "galleries": args.galleries, "results": results })
        );
    }
    Ok(())
}
