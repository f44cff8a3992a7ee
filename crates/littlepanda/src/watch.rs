//! The watch folder of `serve --watch DIR`: archives dropped there are imported once they stop
//! growing. Files stay where they are. Each version of a file (path, size, modification time) is
//! tried once: a broken archive is reported in the log and as a failed job, and tried again only
//! when it changes (or after a restart, when re-imports of the ones that worked are recognised as
//! duplicates by their hash).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use library::import::{ImportOptions, Outcome, Quiet};

use crate::background::{Background, Stop};
use crate::import_cmd::{Library, import_one, record_failed_import};

/// How often the folder is looked at; a file must look the same twice in a row, and be this old,
/// before it is imported.
const INTERVAL: Duration = Duration::from_secs(2);

/// What a file looked like: its size and modification time.
type Version = (u64, SystemTime);

/// Starts watching `dir`; the watcher stops when the handle is dropped.
pub fn start(lib: Arc<Library>, dir: PathBuf) -> anyhow::Result<Background> {
    anyhow::ensure!(
        dir.is_dir(),
        "the watch folder {} does not exist or is not a folder",
        dir.display()
    );
    Background::spawn("watch", move |stop| {
        tracing::info!(dir = %dir.display(), "watching for archives to import");
        let mut seen: HashMap<PathBuf, Version> = HashMap::new();
        let mut tried: HashMap<PathBuf, Version> = HashMap::new();
        while !stop.requested() {
            if let Err(e) = scan(&lib, &dir, &mut seen, &mut tried, &stop) {
                tracing::warn!(error = %format!("{e:#}"), "watch folder");
            }
            stop.sleep(INTERVAL);
        }
    })
}

/// Names of files still being written by common tools.
fn in_progress(name: &str) -> bool {
    name.starts_with('.')
        || [".part", ".crdownload", ".tmp", ".download", ".!qb"]
            .iter()
            .any(|s| name.ends_with(s))
}

fn scan(
    lib: &Library,
    dir: &Path,
    seen: &mut HashMap<PathBuf, Version>,
    tried: &mut HashMap<PathBuf, Version>,
    stop: &Stop,
) -> anyhow::Result<()> {
    let mut now_seen = HashMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let meta = entry.metadata()?;
        if !meta.is_file() || in_progress(&name) {
            continue;
        }
        let version = (meta.len(), meta.modified()?);
        now_seen.insert(entry.path(), version);
    }
    for (path, version) in &now_seen {
        if stop.requested() {
            break;
        }
        let settled =
            seen.get(path) == Some(version) && version.1.elapsed().is_ok_and(|age| age >= INTERVAL);
        if !settled || tried.get(path) == Some(version) {
            continue;
        }
        tried.insert(path.clone(), *version);
        import_path(lib, path);
    }
    *seen = now_seen;
    tried.retain(|p, _| seen.contains_key(p));
    Ok(())
}

fn import_path(lib: &Library, path: &Path) {
    let sources = match lib.importer.discover(path) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "watch folder: not imported");
            if let Err(e) = record_failed_import(lib, path, &e.to_string()) {
                tracing::warn!(error = %format!("{e:#}"), "watch folder: the failure was not recorded");
            }
            return;
        }
    };
    for source in sources {
        match import_one(lib, &source, &ImportOptions::default(), &Quiet) {
            Ok(Outcome::Imported(g)) => tracing::info!(
                path = %path.display(), gallery = %g.public_id, pages = g.pages,
                warnings = g.warnings.len(), "watch folder: imported"
            ),
            Ok(Outcome::Duplicate { public_id }) => tracing::info!(
                path = %path.display(), gallery = %public_id, "watch folder: already in the library"
            ),
            Ok(Outcome::Failed(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "watch folder: import failed")
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %format!("{e:#}"), "watch folder")
            }
        }
    }
}
