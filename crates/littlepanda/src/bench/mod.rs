//! `littlepanda bench`: LittlePanda measured side by side with a baseline in the same run, on the
//! same disk, reported as ratios.

mod db;
mod import;
mod load;
mod search;
mod serve;
mod store;

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// LittlePandaFS against one file per blob in `ab/cd/<hash>` folders.
    Store(store::StoreBenchArgs),
    /// The metadata store on SQLite and MariaDB: bulk insert, page and gallery fetches.
    Db(db::DbBenchArgs),
    /// Import throughput against unzip, thumbnails against vipsthumbnail, and import into an
    /// empty library against a big one.
    Import(import::ImportBenchArgs),
    /// The search index against a straightforward SQL search on a synthetic library.
    Search(search::SearchBenchArgs),
    /// Page images against nginx (both under wrk), and grid and search pages of a big library.
    Serve(serve::ServeBenchArgs),
    /// Many clients at once (grid, search, page images, thumbnails): errors, memory, and the grid
    /// with 100 connections against 16.
    Load(load::LoadBenchArgs),
}

pub fn run(which: BenchCommand, data: &Path) -> anyhow::Result<ExitCode> {
    crate::allocator::ensure_in_use()?;
    match which {
        BenchCommand::Store(args) => store::run(&args, data)?,
        BenchCommand::Db(args) => db::run(&args, data)?,
        BenchCommand::Import(args) => import::run(&args, data)?,
        BenchCommand::Search(args) => search::run(&args, data)?,
        BenchCommand::Serve(args) => serve::run(&args, data)?,
        BenchCommand::Load(args) => load::run(&args, data)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Empties the kernel's page cache so the next reads come from the disk. Needs root; says why
/// not otherwise.
pub fn drop_page_cache() -> Result<(), String> {
    rustix::fs::sync();
    std::fs::write("/proc/sys/vm/drop_caches", "3")
        .map_err(|e| format!("cannot drop the page cache: {e}"))
}

/// This process's resident memory (bytes).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}
