#![allow(unsafe_code)]
unsafe extern "C" {
    fn malloc_trim(pad: usize) -> i32;
}
use std::time::Instant;
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 4096
        / 1_000_000
}
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let db = db::Db::open_sqlite(std::path::Path::new(&path)).unwrap();
    let before = rss();
    let t = Instant::now();
    let index = search::Index::build(&db).unwrap();
    eprintln!(
        "build {:.2}s len {} rss +{} MB",
        t.elapsed().as_secs_f64(),
        index.len(),
        rss() - before
    );
    drop(db);
    eprintln!("after closing the db rss +{} MB", rss() - before);
    unsafe {
        malloc_trim(0);
    }
    eprintln!("after trim rss +{} MB", rss() - before);
    for q in [
        "秘密",
        "だいすき",
        "お姉ちゃん",
        "物語",
        "holiday",
        "sort:title",
    ] {
        let q = search::parse(q).unwrap();
        let mut ts = vec![];
        let mut total = 0;
        for _ in 0..40 {
            let t = Instant::now();
            let r = index.search(&q, search::Viewer::default(), 0, 50);
            ts.push(t.elapsed().as_secs_f64() * 1e3);
            total = r.total;
        }
        ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
        eprintln!("  total {} p50 {:.2} max {:.2}", total, ts[20], ts[39]);
    }
}
