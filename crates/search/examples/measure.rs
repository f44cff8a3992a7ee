//! A first look at the index on a real library, before `bench search` exists:
//! `cargo run --release -p littlepanda-search --example measure -- DATA/littlepanda.db`
//! builds the index, then times a few queries.

use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("the path of a littlepanda.db");
    let db = db::Db::open_sqlite(std::path::Path::new(&path)).expect("open");
    let rss = || {
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| {
                s.split_whitespace()
                    .nth(1)
                    .and_then(|p| p.parse::<u64>().ok())
            })
            .map_or(0, |pages| pages * 4096)
    };
    // How much of the build is reading the rows.
    let t = Instant::now();
    let (mut after, mut rows) = (0, 0usize);
    loop {
        let batch = db.galleries().index_rows(after, 20_000).expect("read");
        let Some(last) = batch.last() else { break };
        after = last.id;
        rows += batch.len();
    }
    println!("read {rows} rows in {:.2} s", t.elapsed().as_secs_f64());
    let before = rss();
    let t = Instant::now();
    let index = search::Index::build(&db).expect("build");
    println!(
        "built over {} galleries in {:.2} s, {} MB resident more",
        index.len(),
        t.elapsed().as_secs_f64(),
        (rss() - before) / 1_000_000
    );
    for typed in ["a", "artist:ac", "fem"] {
        let t = Instant::now();
        let s = index.suggest(typed, 10);
        println!(
            "suggest {typed:?}: {} in {:.2} ms",
            s.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    for q in [
        "language:japanese",
        "female:glasses female:stockings language:english",
        "language:japanese -female:glasses",
        "artist:a* | group:b*",
        "love",
        "pages:100..200",
        "language:english sort:title",
        "sort:title",
        "だいすき",
        "秘密",
        "sort:pages:asc",
    ] {
        let parsed = search::parse(q).expect("parse");
        let mut times: Vec<f64> = (0..50)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(index.search(&parsed, search::Viewer::default(), 0, 50));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let total = index.search(&parsed, search::Viewer::default(), 0, 1).total;
        println!(
            "{q:55} {total:>8} hits  p50 {:>7.2} ms  p99 {:>7.2} ms",
            times[25], times[49]
        );
    }
}
