//! `bench search`: the search index against a straightforward SQL search, in one run, on the same
//! synthetic SQLite library: a fixed mix of query types, p50 and p99 of each, the index's build
//! time and memory.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use db::{BaselineQuery, Db, TagName};
use search::{Index, Viewer};

#[derive(Debug, Args)]
pub struct SearchBenchArgs {
    /// Galleries in the synthetic library.
    #[arg(long, default_value_t = 1_000_000)]
    galleries: u64,
    /// Timed runs of each query type on the index.
    #[arg(long, default_value_t = 200)]
    runs: usize,
    /// Timed runs of each query type in SQL (slower: fewer).
    #[arg(long, default_value_t = 10)]
    sql_runs: usize,
    /// Timed builds of the index (the median is the figure: one build on a shared virtual machine
    /// can take half as long again as the next).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=20))]
    builds: u64,
    #[arg(long)]
    json: bool,
    /// Keep the synthetic library in this folder and use it again on later runs with the same
    /// `--galleries` (filling one takes minutes); default: a fresh one, removed afterwards.
    #[arg(long)]
    library: Option<std::path::PathBuf>,
}

#[derive(Debug, serde::Serialize)]
struct Row {
    query: &'static str,
    example: String,
    index_p50_ms: f64,
    index_p99_ms: f64,
    /// The example whose slowest run on the index was the slowest, and that run.
    slowest_example: String,
    slowest_ms: f64,
    sql_p50_ms: f64,
    sql_p99_ms: f64,
    /// SQL's p50 over the index's.
    speedup_p50: f64,
}

#[derive(Debug, serde::Serialize)]
struct Results {
    galleries: u64,
    /// The allocator the figures were measured with.
    allocator: &'static str,
    /// The median of `index_build_runs_s`.
    index_build_s: f64,
    index_build_runs_s: Vec<f64>,
    /// Resident memory the index holds: what the process gives back when the index is dropped at
    /// the end (freed memory given back before and after).
    index_memory_mb: f64,
    /// How much resident memory grew over the first build, once the allocator gave back what it
    /// freed. Less than the index holds (the build reuses pages that were resident before it);
    /// kept to compare with figures measured this way earlier.
    build_resident_growth_mb: f64,
    /// What the allocator still kept of the build's freed temporaries before it gave them back
    /// (a server gives them back right after its build).
    allocator_retained_mb: f64,
    /// `index_memory_mb` part by part: the resident memory each part gives back when the index
    /// is dropped one part after another (allocator overhead included).
    index_parts_mb: std::collections::BTreeMap<&'static str, f64>,
    rows: Vec<Row>,
}

/// Reads `path` through (into the page cache); answers its size.
fn warm_file(path: &Path) -> anyhow::Result<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match f.read(&mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

fn pct(mut t: Vec<Duration>) -> (f64, f64) {
    t.sort();
    let at = |q: f64| t[((t.len() as f64 * q) as usize).min(t.len() - 1)].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

/// One query of the mix, as the index and as SQL.
struct Case {
    text: String,
    sql: Option<BaselineQuery>,
    /// Autocomplete: the prefix typed.
    suggest: Option<String>,
}

pub fn run(args: &SearchBenchArgs, data: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data)?;
    let (_fresh, dir) = match &args.library {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            (None, dir.clone())
        }
        None => {
            let work = tempfile::Builder::new()
                .prefix("bench-search-")
                .tempdir_in(data)
                .with_context(|| format!("making a work folder in {}", data.display()))?;
            let dir = work.path().to_path_buf();
            (Some(work), dir)
        }
    };
    let db = Db::open_sqlite(&dir.join("bench.db"))?;
    let had = db.galleries().count()?;
    if had == 0 {
        let store = lpfs::Store::open(dir.join("lpfs"), lpfs::Options::default())?;
        eprintln!(
            "bench search: a synthetic library of {} galleries…",
            args.galleries
        );
        library::synth::fill(&db, &store, args.galleries, 10_000, 11, |_| {})?;
    } else {
        anyhow::ensure!(
            had == args.galleries,
            "{} holds {had} galleries, not {}: use another folder",
            dir.display(),
            args.galleries
        );
        eprintln!("bench search: the synthetic library in {}", dir.display());
    }
    // The build is timed as a server start would find the library: written, checkpointed and on
    // disk, not while the kernel is still writing the synthetic library out.
    db.checkpoint()?;
    rustix::fs::sync();
    // Timed from a warm page cache, every run alike: the database file read through once first
    // (how much of a just-written file the kernel still holds varies from run to run).
    let db_bytes = warm_file(&dir.join("bench.db"))?;
    eprintln!(
        "  database file: {:.0} MB, read into the page cache",
        db_bytes as f64 / 1e6
    );

    // The first build is timed and the resident memory's growth over it measured, as a server's
    // start would find them (what filling or checking the library freed is given back first);
    // the others are timed and dropped.
    crate::allocator::release_freed_memory();
    let before = super::resident_bytes();
    let t = Instant::now();
    let index = Index::build(&db)?;
    let mut builds = vec![t.elapsed().as_secs_f64()];
    let with_retained = super::resident_bytes().saturating_sub(before);
    crate::allocator::release_freed_memory();
    let growth = super::resident_bytes().saturating_sub(before);
    for _ in 1..args.builds {
        let t = Instant::now();
        let again = Index::build(&db)?;
        builds.push(t.elapsed().as_secs_f64());
        drop(again);
        crate::allocator::release_freed_memory();
    }
    let mut sorted = builds.clone();
    sorted.sort_by(f64::total_cmp);
    let build = sorted[sorted.len() / 2];
    eprintln!(
        "  index built in {:.2} s (median of {}: {}): resident memory grew {:.0} MB ({:.0} MB more \
         kept by {} until given back)",
        build,
        builds.len(),
        builds
            .iter()
            .map(|b| format!("{b:.2}"))
            .collect::<Vec<_>>()
            .join(" / "),
        growth as f64 / 1e6,
        with_retained.saturating_sub(growth) as f64 / 1e6,
        crate::allocator::NAME
    );

    // Tags to ask for: popular ones (as people search), picked by rank from the counts.
    let mut counts: Vec<(TagName, u64)> = db.tags().counts()?;
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let id_of: std::collections::HashMap<TagName, i64> =
        db.tags().all()?.into_iter().map(|(i, t)| (t, i)).collect();
    let popular: Vec<&TagName> = counts.iter().take(200).map(|(t, _)| t).collect();
    let mut rng = fastrand::Rng::with_seed(5);
    let mut pick = || popular[rng.usize(..popular.len())].clone();
    let mut cases: Vec<(&'static str, Vec<Case>)> = Vec::new();
    let tag_case = |all: &[TagName], none: &[TagName]| Case {
        text: all
            .iter()
            .map(|t| format!("{}:\"{}\"$", t.namespace, t.name))
            .chain(
                none.iter()
                    .map(|t| format!("-{}:\"{}\"$", t.namespace, t.name)),
            )
            .collect::<Vec<_>>()
            .join(" "),
        sql: Some(BaselineQuery::Tags {
            all: all.iter().map(|t| id_of[t]).collect(),
            none: none.iter().map(|t| id_of[t]).collect(),
        }),
        suggest: None,
    };
    let n = 8;
    cases.push((
        "single tag",
        (0..n).map(|_| tag_case(&[pick()], &[])).collect(),
    ));
    cases.push((
        "3 tags AND",
        (0..n)
            .map(|_| tag_case(&[pick(), pick(), pick()], &[]))
            .collect(),
    ));
    cases.push((
        "AND with exclusion",
        (0..n).map(|_| tag_case(&[pick()], &[pick()])).collect(),
    ));
    cases.push((
        "OR group",
        (0..n)
            .map(|_| {
                let (a, b, c) = (pick(), pick(), pick());
                Case {
                    text: format!(
                        "({}:\"{}\"$ | {}:\"{}\"$) {}:\"{}\"$",
                        a.namespace, a.name, b.namespace, b.name, c.namespace, c.name
                    ),
                    sql: Some(BaselineQuery::AnyOf {
                        any: vec![id_of[&a], id_of[&b]],
                        all: vec![id_of[&c]],
                    }),
                    suggest: None,
                }
            })
            .collect(),
    ));
    cases.push((
        "wildcard prefix",
        ["ac", "bl", "ch", "dr", "su", "mo", "ra", "st"]
            .iter()
            .map(|p| Case {
                text: format!("artist:{p}*"),
                sql: Some(BaselineQuery::TagPrefix {
                    namespace: "artist".into(),
                    prefix: (*p).into(),
                }),
                suggest: None,
            })
            .collect(),
    ));
    let words = |list: &[&str]| -> Vec<Case> {
        list.iter()
            .map(|w| Case {
                text: (*w).to_string(),
                sql: Some(BaselineQuery::Title((*w).to_string())),
                suggest: None,
            })
            .collect()
    };
    cases.push((
        "title word (Latin)",
        words(&[
            "holiday", "diary", "rain", "party", "melody", "maid", "summer", "girl",
        ]),
    ));
    cases.push((
        "title word (Japanese)",
        words(&[
            "秘密",
            "温泉",
            "天使",
            "物語",
            "学園",
            "夜星",
            "だいすき",
            "お姉ちゃん",
        ]),
    ));
    // A word's prefix: every word starting with it (most words are in one title only).
    cases.push((
        "title word prefix",
        ["ho", "ma", "st", "pa", "su", "mi", "ra", "a"]
            .iter()
            .map(|p| Case {
                text: format!("{p}*"),
                sql: Some(BaselineQuery::TitleWordPrefix((*p).into())),
                suggest: None,
            })
            .collect(),
    ));
    cases.push((
        "numeric range",
        [(10, 50), (100, 200), (200, 400), (30, 31)]
            .iter()
            .map(|&(a, b)| Case {
                text: format!("pages:{a}..{b}"),
                sql: Some(BaselineQuery::Pages(a, b)),
                suggest: None,
            })
            .collect(),
    ));
    cases.push((
        "sort by title",
        vec![Case {
            text: "sort:title:asc".into(),
            sql: Some(BaselineQuery::ByTitle),
            suggest: None,
        }],
    ));
    cases.push((
        "autocomplete",
        ["a", "ac", "fe", "sch", "gl", "ma", "c", "sw"]
            .iter()
            .map(|p| Case {
                text: (*p).into(),
                sql: None,
                suggest: Some((*p).into()),
            })
            .collect(),
    ));

    let mut rows = Vec::new();
    for (name, list) in &cases {
        let parsed: Vec<Option<search::Query>> = list
            .iter()
            .map(|c| match c.suggest {
                Some(_) => Ok(None),
                None => search::parse(&c.text).map(Some),
            })
            .collect::<Result<_, _>>()?;
        let mut index_times = Vec::with_capacity(args.runs);
        for i in 0..args.runs {
            let k = i % list.len();
            let t = Instant::now();
            match (&list[k].suggest, &parsed[k]) {
                (Some(p), _) => {
                    std::hint::black_box(index.suggest(p, 10));
                }
                (None, Some(q)) => {
                    std::hint::black_box(index.search(q, Viewer::default(), 0, 50));
                }
                (None, None) => {}
            }
            index_times.push(t.elapsed());
        }
        let (slowest, slowest_time) = index_times
            .iter()
            .enumerate()
            .max_by_key(|(_, t)| **t)
            .map_or((0, Duration::ZERO), |(i, t)| (i % list.len(), *t));
        let mut sql_times = Vec::with_capacity(args.sql_runs);
        for i in 0..args.sql_runs.max(1) {
            let k = i % list.len();
            let t = Instant::now();
            match (&list[k].suggest, &list[k].sql) {
                (Some(p), _) => {
                    std::hint::black_box(db.baseline_suggest(p, 10)?);
                }
                (None, Some(q)) => {
                    std::hint::black_box(db.baseline_search(q, 50)?);
                }
                (None, None) => {}
            }
            sql_times.push(t.elapsed());
        }
        let (ip50, ip99) = pct(index_times);
        let (sp50, sp99) = pct(sql_times);
        eprintln!(
            "  {name}: index {ip50:.3}/{ip99:.3} ms (slowest {:.3} ms: {}), SQL {sp50:.1}/{sp99:.1} ms",
            slowest_time.as_secs_f64() * 1e3,
            list[slowest].text
        );
        rows.push(Row {
            query: name,
            example: list[0].text.clone(),
            index_p50_ms: ip50,
            index_p99_ms: ip99,
            slowest_example: list[slowest].text.clone(),
            slowest_ms: slowest_time.as_secs_f64() * 1e3,
            sql_p50_ms: sp50,
            sql_p99_ms: sp99,
            speedup_p50: sp50 / ip50.max(1e-6),
        });
    }
    // What the index holds: the resident memory given back when it is dropped, part by part.
    let galleries = index.len();
    crate::allocator::release_freed_memory();
    let with_index = super::resident_bytes();
    let mut parts = std::collections::BTreeMap::new();
    let mut last = with_index;
    index.drop_by_part(|part| {
        crate::allocator::release_freed_memory();
        let now = super::resident_bytes();
        parts.insert(part, last.saturating_sub(now) as f64 / 1e6);
        last = now;
    });
    let index_memory = with_index.saturating_sub(last);
    eprintln!(
        "  the index held {:.0} MB resident (given back when it was dropped): {}",
        index_memory as f64 / 1e6,
        parts
            .iter()
            .map(|(k, v)| format!("{k} {v:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let results = Results {
        galleries,
        index_build_s: build,
        index_build_runs_s: builds,
        allocator: crate::allocator::NAME,
        index_memory_mb: index_memory as f64 / 1e6,
        build_resident_growth_mb: growth as f64 / 1e6,
        allocator_retained_mb: with_retained.saturating_sub(growth) as f64 / 1e6,
        index_parts_mb: parts,
        rows,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    } else {
        println!(
            "search, {} galleries: index built in {:.2} s, {:.0} MB",
            results.galleries, results.index_build_s, results.index_memory_mb
        );
        println!(
            "{:24} {:>20} {:>22} {:>10}",
            "", "index p50/p99", "SQL p50/p99", "speed-up"
        );
        for r in &results.rows {
            println!(
                "{:24} {:>9.3}/{:>7.3} ms {:>10.1}/{:>8.1} ms {:>9.0}×",
                r.query, r.index_p50_ms, r.index_p99_ms, r.sql_p50_ms, r.sql_p99_ms, r.speedup_p50
            );
        }
    }
    Ok(())
}
