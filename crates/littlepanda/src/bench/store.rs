//! `bench store`: LittlePandaFS against the layout it replaced, one file per blob in
//! `ab/cd/<hash>` folders. Both get the same blobs in the same batches, each batch made durable
//! once (LPFS: one `fdatasync` per batch; folders: one `syncfs` per batch, the cheapest durable
//! way to write many files), then the same random reads, cold (page cache dropped) and warm.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use lpfs::{BlobHash, BlobStore, Options, Store};

#[derive(Debug, Args)]
pub struct StoreBenchArgs {
    /// Blobs to store (sizes 2–200 KB, mean about 20 KB).
    #[arg(long, default_value_t = 100_000)]
    blobs: usize,
    /// Random reads per measured pass.
    #[arg(long, default_value_t = 10_000)]
    reads: usize,
    /// Size of the separate store of tiny blobs whose opening time and index memory are measured.
    #[arg(long, default_value_t = 1_000_000)]
    open_blobs: usize,
    /// Blobs per durable batch.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Where to write (default: inside the data directory). Removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// End with one JSON line of results.
    #[arg(long)]
    json: bool,
    /// Measure warm reads only. Cold reads need the page cache dropped, which needs root;
    /// without this flag, a run that cannot drop it fails rather than report figures that cannot
    /// be compared.
    #[arg(long)]
    warm_only: bool,
}

fn blob_sizes(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            // 2 KB plus an exponential tail with mean 18 KB, capped at 200 KB: mean about 20 KB.
            let tail = -18_000.0 * (1.0 - rng.f64()).ln();
            (2_000 + tail as usize).min(200_000)
        })
        .collect()
}

fn blob(i: usize, len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

fn sharded_path(root: &Path, hash: &BlobHash) -> PathBuf {
    let hex = hash.to_hex();
    root.join(&hex[0..2]).join(&hex[2..4]).join(hex)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

struct ReadTimes {
    lpfs: Duration,
    sharded: Duration,
}

/// The median time of each layout over several rounds.
fn median(mut rounds: Vec<ReadTimes>) -> ReadTimes {
    let mid = rounds.len() / 2;
    rounds.sort_by_key(|r| r.lpfs);
    let lpfs = rounds[mid].lpfs;
    rounds.sort_by_key(|r| r.sharded);
    ReadTimes {
        lpfs,
        sharded: rounds[mid].sharded,
    }
}

fn time_reads(
    store: &Store,
    sharded: &Path,
    picks: &[BlobHash],
    cold: bool,
) -> anyhow::Result<ReadTimes> {
    let mut bytes = (0u64, 0u64);
    if cold {
        super::drop_page_cache().map_err(anyhow::Error::msg)?;
    }
    let t = Instant::now();
    for h in picks {
        bytes.0 += store.get(h)?.context("blob missing from LPFS")?.len() as u64;
    }
    let lpfs = t.elapsed();
    if cold {
        super::drop_page_cache().map_err(anyhow::Error::msg)?;
    }
    let t = Instant::now();
    for h in picks {
        bytes.1 += fs::read(sharded_path(sharded, h))?.len() as u64;
    }
    let sharded = t.elapsed();
    anyhow::ensure!(
        bytes.0 == bytes.1,
        "the two layouts returned different bytes"
    );
    Ok(ReadTimes { lpfs, sharded })
}

pub fn run(args: &StoreBenchArgs, data: &Path) -> anyhow::Result<()> {
    if !args.warm_only {
        super::drop_page_cache().map_err(|e| {
            anyhow::anyhow!("{e}: cold reads cannot be measured (run as root, or pass --warm-only)")
        })?;
    }
    let parent = args.dir.clone().unwrap_or_else(|| data.to_path_buf());
    fs::create_dir_all(&parent)?;
    let work = tempfile::Builder::new()
        .prefix("bench-store-")
        .tempdir_in(&parent)?;
    let lpfs_dir = work.path().join("lpfs");
    let sharded_dir = work.path().join("sharded");
    fs::create_dir_all(&sharded_dir)?;
    let sizes = blob_sizes(args.blobs, args.seed);
    let total: usize = sizes.iter().sum();
    eprintln!(
        "bench store: {} blobs, {:.2} GB, batches of {}, in {}",
        args.blobs,
        total as f64 / 1e9,
        args.batch,
        work.path().display()
    );

    // Writes: the same batches, generated outside the timed sections.
    let store = Store::open(&lpfs_dir, Options::default())?;
    let mut hashes = Vec::with_capacity(args.blobs);
    let mut lpfs_write = Duration::ZERO;
    let mut sharded_write = Duration::ZERO;
    let mut made_dirs = HashSet::new();
    let sharded_fd = fs::File::open(&sharded_dir)?;
    for start in (0..args.blobs).step_by(args.batch.max(1)) {
        let end = (start + args.batch).min(args.blobs);
        let batch: Vec<Vec<u8>> = (start..end).map(|i| blob(i, sizes[i], args.seed)).collect();
        let copy = batch.clone();
        let t = Instant::now();
        hashes.extend(store.put_many(batch)?.into_iter().map(|o| o.hash));
        lpfs_write += t.elapsed();
        let t = Instant::now();
        for data in &copy {
            let path = sharded_path(&sharded_dir, &BlobHash::of(data));
            let parent = path.parent().context("sharded path has a parent")?;
            if made_dirs.insert(parent.to_path_buf()) {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, data)?;
        }
        rustix::fs::syncfs(&sharded_fd)?;
        sharded_write += t.elapsed();
    }
    eprintln!("  written: LPFS {lpfs_write:.2?}, folders {sharded_write:.2?}");
    drop(store);
    let store = Store::open(&lpfs_dir, Options::default())?;

    // Reads: the same random picks for both. Cold: each layout right after the page cache is
    // dropped, three rounds of fresh picks. Warm: after two passes have brought both into memory
    // (and LPFS's maps into its page tables), three passes; the median pass of each counts.
    let mut rng = fastrand::Rng::with_seed(args.seed + 1);
    let mut pick = |n: usize| -> Vec<BlobHash> {
        (0..n).map(|_| hashes[rng.usize(0..hashes.len())]).collect()
    };
    let cold = if args.warm_only {
        None
    } else {
        let rounds = (0..3)
            .map(|_| time_reads(&store, &sharded_dir, &pick(args.reads), true))
            .collect::<Result<Vec<_>>>()?;
        Some(median(rounds))
    };
    let picks = pick(args.reads);
    for _ in 0..2 {
        time_reads(&store, &sharded_dir, &picks, false)?;
    }
    let warm = median(
        (0..3)
            .map(|_| time_reads(&store, &sharded_dir, &picks, false))
            .collect::<Result<Vec<_>>>()?,
    );
    drop(store);

    // Opening a store of many small blobs: time and index memory.
    let open_dir = work.path().join("lpfs-open");
    {
        let store = Store::open(&open_dir, Options::default())?;
        let mut rng = fastrand::Rng::with_seed(args.seed + 2);
        for start in (0..args.open_blobs).step_by(10_000) {
            let end = (start + 10_000).min(args.open_blobs);
            let batch: Vec<Vec<u8>> = (start..end)
                .map(|i| {
                    let mut v = (i as u64).to_le_bytes().to_vec();
                    v.extend((0..rng.usize(24..248)).map(|_| rng.u8(..)));
                    v
                })
                .collect();
            store.put_many(batch)?;
        }
    }
    let mut open_best = Duration::MAX;
    let mut index_bytes = 0;
    let mut opened_blobs = 0;
    let mut resident = 0;
    for round in 0..3 {
        crate::allocator::release_freed_memory();
        let before = super::resident_bytes();
        let t = Instant::now();
        let store = Store::open(&open_dir, Options::default())?;
        open_best = open_best.min(t.elapsed());
        if round == 0 {
            // What the open store holds in memory, measured once the opening's temporaries are
            // given back (later rounds reuse memory the allocator kept: not measurable).
            crate::allocator::release_freed_memory();
            resident = super::resident_bytes().saturating_sub(before);
        }
        let s = store.stats();
        index_bytes = s.index_memory_bytes;
        opened_blobs = s.blobs;
    }
    anyhow::ensure!(
        opened_blobs as usize == args.open_blobs,
        "the open test store lost blobs"
    );

    let ratio = |base: Duration, ours: Duration| base.as_secs_f64() / ours.as_secs_f64();
    let write_ratio = ratio(sharded_write, lpfs_write);
    let warm_ratio = ratio(warm.sharded, warm.lpfs);
    let cold_ratio = cold.as_ref().map(|c| ratio(c.sharded, c.lpfs));
    let mbps = |d: Duration| total as f64 / 1e6 / d.as_secs_f64();
    println!(
        "LittlePandaFS vs one file per blob (ab/cd/<hash>): {} blobs, {:.2} GB",
        args.blobs,
        total as f64 / 1e9
    );
    println!("{:<22} {:>14} {:>14} {:>8}", "", "LPFS", "folders", "ratio");
    println!(
        "{:<22} {:>14.1} {:>14.1} {:>7.2}x",
        "write (MB/s)",
        mbps(lpfs_write),
        mbps(sharded_write),
        write_ratio
    );
    if let Some(c) = &cold {
        println!(
            "{:<22} {:>14.0} {:>14.0} {:>7.2}x",
            "cold read (reads/s)",
            rate(args.reads, c.lpfs),
            rate(args.reads, c.sharded),
            ratio(c.sharded, c.lpfs)
        );
    } else {
        println!(
            "{:<22} {:>14} {:>14} {:>8}",
            "cold read (reads/s)", "n/a", "n/a", "n/a"
        );
    }
    println!(
        "{:<22} {:>14.0} {:>14.0} {:>7.2}x",
        "warm read (reads/s)",
        rate(args.reads, warm.lpfs),
        rate(args.reads, warm.sharded),
        warm_ratio
    );
    let per_blob = index_bytes as f64 / args.open_blobs.max(1) as f64;
    println!(
        "open: {} blobs in {:.1} ms; index {:.1} MB in memory ({per_blob:.1} bytes per blob); \
         the open store {:.1} MB resident",
        args.open_blobs,
        open_best.as_secs_f64() * 1e3,
        index_bytes as f64 / 1e6,
        resident as f64 / 1e6
    );
    if args.json {
        let json = serde_json::json!({
            "ratios": { "write": write_ratio, "cold_read": cold_ratio, "warm_read": warm_ratio },
            "open_ms": open_best.as_secs_f64() * 1e3,
            "open_blobs": args.open_blobs,
            "index_bytes_per_blob": per_blob,
            "open_store_resident_mb": resident as f64 / 1e6,
            "allocator": crate::allocator::NAME,
            "blobs": args.blobs,
            "bytes": total,
            "reads": args.reads,
            "lpfs": {
                "write_s": lpfs_write.as_secs_f64(),
                "cold_read_s": cold.as_ref().map(|c| c.lpfs.as_secs_f64()),
                "warm_read_s": warm.lpfs.as_secs_f64(),
            },
            "sharded": {
                "write_s": sharded_write.as_secs_f64(),
                "cold_read_s": cold.as_ref().map(|c| c.sharded.as_secs_f64()),
                "warm_read_s": warm.sharded.as_secs_f64(),
            },
        });
        println!("{json}");
    }
    Ok(())
}
