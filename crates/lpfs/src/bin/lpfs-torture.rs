//! Writes, deletes and compacts blobs in a store forever, logging each acknowledged put and delete
//! to a file, so that a test can kill it at any moment and check that everything acknowledged
//! survived.
//!
//! Usage: `lpfs-torture STORE_DIR ACK_LOG SEED`. Blob contents are derived from (seed, counter),
//! so the log holds `P <content-seed> <len>` (stored), `d …` (about to delete) and `D …`
//! (deleted) lines, not the bytes.

use std::fs::OpenOptions;
use std::io::Write;

use lpfs::{BlobHash, BlobStore, Options, Store};

fn blob(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, log, seed] = &args[..] else {
        return Err("usage: lpfs-torture STORE_DIR ACK_LOG SEED".into());
    };
    let seed: u64 = seed.parse()?;
    let store = Store::open(
        dir,
        Options {
            max_volume_bytes: 256 * 1024,
            ..Options::default()
        },
    )?;
    let mut log = OpenOptions::new().create(true).append(true).open(log)?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut stored: Vec<(u64, usize)> = Vec::new();
    for i in 0u64.. {
        let content_seed = seed * 1_000_000_000 + i;
        // Now and then compact, so that some kills land in the middle of a compaction.
        if i % 25 == 24 {
            store.compact(0.0)?;
        }
        match rng.u8(0..12) {
            0 if !stored.is_empty() => {
                let (s, len) = stored.swap_remove(rng.usize(0..stored.len()));
                // The delete may take effect and the process die before it is logged: the intent
                // line tells the checker that this blob may be either there or gone.
                log.write_all(format!("d {s} {len}\n").as_bytes())?;
                store.delete(&BlobHash::of(&blob(s, len)))?;
                log.write_all(format!("D {s} {len}\n").as_bytes())?;
            }
            1 | 2 => {
                // Batches of up to about a megabyte also take the direct-I/O path.
                let n = if rng.bool() { 5 } else { 40 };
                let batch: Vec<(u64, usize)> = (0..n)
                    .map(|j| (content_seed * 100 + j, rng.usize(1..30_000)))
                    .collect();
                store.put_many(batch.iter().map(|&(s, len)| blob(s, len)).collect())?;
                // One write for the whole batch: it was acknowledged as a whole.
                let lines: String = batch
                    .iter()
                    .map(|(s, len)| format!("P {s} {len}\n"))
                    .collect();
                log.write_all(lines.as_bytes())?;
                stored.extend(batch);
            }
            _ => {
                let len = rng.usize(1..30_000);
                store.put(&blob(content_seed, len))?;
                log.write_all(format!("P {content_seed} {len}\n").as_bytes())?;
                stored.push((content_seed, len));
            }
        }
    }
    Ok(())
}
