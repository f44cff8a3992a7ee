//! The store maintenance commands: `fsck`, `stats` and `compact`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use lpfs::{Error, Store};

use crate::config::Config;

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn open_for_writing(dir: &Path, config: &Config, rebuild_index: bool) -> anyhow::Result<Store> {
    let opened = if rebuild_index {
        Store::open_rebuilding_index(dir, config.store_options())
    } else {
        Store::open(dir, config.store_options())
    };
    opened.with_context(|| format!("opening the image store in {}", dir.display()))
}

/// `fsck`: the store's records, what opening it had to repair, and the library's images against
/// the store. It fails (exit 1) whenever anything committed is damaged, missing or was set
/// aside, and names the galleries and pages that costs.
pub fn fsck(
    data: &Path,
    config: &Config,
    json: bool,
    repair: bool,
    rebuild_index: bool,
) -> anyhow::Result<ExitCode> {
    let dir = data.join("lpfs");
    let dir = dir.as_path();
    if !dir.is_dir() {
        anyhow::bail!("no image store in {} (is --data right?)", dir.display());
    }
    // Checking alone works beside a running server, on a read-only view; repairs need the lock.
    let store = match Store::open(dir, config.store_options()) {
        Err(Error::Locked(_)) if !repair && !rebuild_index => {
            eprintln!(
                "note: the store is in use (a running server?): checking a read-only view, repairing nothing"
            );
            Store::open_read_only(dir)?
        }
        Err(e @ Error::Locked(_)) => {
            return Err(anyhow::Error::new(e)
                .context("repairs need the store to itself: stop the server first"));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("opening {}", dir.display()))),
        Ok(s) if rebuild_index => {
            drop(s);
            open_for_writing(dir, config, true)?
        }
        Ok(s) => s,
    };
    let recovery = store.recovery_report().clone();
    let report = store.fsck(repair)?;
    let db = crate::open_db(config, data)?;
    let library = library::ops::store::check_library(&store, &db, &report, &recovery)?;
    let clean = report.is_clean() && !recovery.found_damage() && library.unreadable.is_empty();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "clean": clean,
                "recovery": recovery,
                "fsck": report,
                "library": library,
            })
        );
    } else {
        if !recovery.is_clean() {
            println!("recovery on open: {recovery:?}");
        }
        for d in &recovery.damaged {
            println!(
                "DAMAGED (found on open) volume {} offset {} ({} bytes): {}",
                d.volume, d.offset, d.bytes, d.reason
            );
        }
        for (v, offset, bytes) in &recovery.cut_off {
            println!("LOST volume {v} offset {offset} ({bytes} bytes): the volume was cut short");
        }
        println!(
            "checked {} volumes, {} records, {}",
            report.volumes_checked,
            report.records_checked,
            mb(report.bytes_checked)
        );
        for d in &report.damaged {
            let what = d
                .hash
                .map_or_else(|| "unreadable record".to_string(), |h| format!("blob {h}"));
            println!(
                "DAMAGED volume {} offset {} ({} bytes): {what}: {}",
                d.volume, d.offset, d.bytes, d.reason
            );
        }
        for h in &report.missing {
            println!("MISSING blob {h}: no intact copy is stored");
        }
        if !report.stale_index_logs.is_empty() {
            println!(
                "index logs out of date for volumes {:?}",
                report.stale_index_logs
            );
        }
        print_stats(&report.stats);
        println!(
            "the library uses {} images; the store holds {} that nothing uses (`littlepanda gc` releases them)",
            library.images_in_use, library.unused
        );
        for h in &library.unreadable {
            println!(
                "UNREADABLE image {h}: the library uses it, the store lacks it or holds it damaged"
            );
        }
        for g in &library.affected {
            let mut what = Vec::new();
            if !g.pages.is_empty() {
                what.push(format!("pages {:?}", g.pages));
            }
            if g.cover {
                what.push("its cover".to_string());
            }
            if !g.thumbnails.is_empty() {
                what.push(format!(
                    "thumbnails of pages {:?} (made again on demand)",
                    g.thumbnails
                ));
            }
            println!(
                "AFFECTED gallery {} {:?}: {}",
                g.public_id,
                g.title,
                what.join(", ")
            );
        }
        match (clean, report.repaired) {
            (true, _) => println!("clean"),
            (false, true) => println!(
                "damage found and repaired: damaged bytes are in {}/lost+found; images the \
                 library lost must be imported again",
                dir.display()
            ),
            (false, false) => println!(
                "damage found; run `littlepanda fsck --repair` to set it aside (with the server \
                 stopped)"
            ),
        }
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_stats(s: &lpfs::Stats) {
    println!(
        "{} blobs, {} live in {} volumes of {} ({} garbage); index {} in memory",
        s.blobs,
        mb(s.live_bytes),
        s.volumes,
        mb(s.volume_bytes),
        mb(s.garbage_bytes),
        mb(s.index_memory_bytes)
    );
}

pub fn stats(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let store = Store::open_read_only(dir)
        .with_context(|| format!("no image store in {}", dir.display()))?;
    let s = store.stats();
    if json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>8} {:>5} {:>12} {:>12} {:>12} {:>8}",
        "volume", "gen", "bytes", "live", "garbage", "garbage%"
    );
    for v in &s.per_volume {
        println!(
            "{:>8} {:>5} {:>12} {:>12} {:>12} {:>7.1}%{}",
            v.id,
            v.generation,
            v.bytes,
            v.live_bytes,
            v.garbage_bytes,
            v.garbage_ratio() * 100.0,
            if v.active { "  (active)" } else { "" }
        );
    }
    print_stats(&s);
    Ok(ExitCode::SUCCESS)
}

pub fn compact(
    dir: &Path,
    config: &Config,
    threshold: f64,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store = match Store::open(dir, config.store_options()) {
        Err(e @ Error::Locked(_)) => {
            return Err(anyhow::Error::new(e).context(
                "a running LittlePanda server compacts online: POST /api/v1/store/compact to it instead",
            ));
        }
        other => other.with_context(|| format!("opening the image store in {}", dir.display()))?,
    };
    let report = library::ops::store::compact(&store, Some(threshold))?;
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "compacted volumes {:?}, removed {:?}: {} -> {}, {} blobs moved",
            report.volumes_compacted,
            report.volumes_removed,
            mb(report.bytes_before),
            mb(report.bytes_after),
            report.blobs_moved
        );
        for d in &report.damaged {
            println!(
                "DAMAGED blob {:?} in volume {} set aside: {}",
                d.hash, d.volume, d.reason
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
