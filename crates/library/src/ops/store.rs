//! The image store's upkeep: its sizes, compaction (online: reads and writes go on), and the
//! library's images checked against it.

use lpfs::BlobStore;

use super::{Error, Result};

/// Share of garbage above which a volume is compacted when none is asked for.
pub const DEFAULT_THRESHOLD: f64 = 0.2;

/// Volumes, blobs, live and garbage bytes, the index's memory.
pub fn stats(store: &lpfs::Store) -> lpfs::Stats {
    store.stats()
}

/// Rewrites the volumes whose share of garbage is at least `threshold` (0.0 to 1.0;
/// [`DEFAULT_THRESHOLD`] when `None`) without it; answers what was done.
pub fn compact(store: &lpfs::Store, threshold: Option<f64>) -> Result<lpfs::CompactReport> {
    let threshold = threshold.unwrap_or(DEFAULT_THRESHOLD);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(Error::Invalid(format!(
            "the threshold is a share between 0.0 and 1.0, got {threshold}"
        )));
    }
    Ok(store.compact(threshold)?)
}

/// The metadata's side of a check: the images the library uses that the store lacks or holds
/// damaged, the galleries they cost, and the images the store holds that nothing uses.
#[derive(Debug, Default, serde::Serialize)]
pub struct LibraryCheck {
    /// Images something in the library uses: a page, a thumbnail, a cover.
    pub images_in_use: usize,
    /// Of those, the ones the store does not hold, or holds damaged.
    pub unreadable: Vec<lpfs::BlobHash>,
    /// The galleries (and pages) those cost.
    pub affected: Vec<db::AffectedGallery>,
    /// Images the store holds that nothing uses (`littlepanda gc` releases them).
    pub unused: usize,
}

/// Checks the library's images against the store, given what the store's own check (`report`)
/// and opening it (`recovery`) found.
pub fn check_library(
    store: &lpfs::Store,
    db: &db::Db,
    report: &lpfs::FsckReport,
    recovery: &lpfs::RecoveryReport,
) -> Result<LibraryCheck> {
    use std::collections::HashSet;
    let in_use = db.integrity().images_in_use()?;
    let mut bad: HashSet<lpfs::BlobHash> = report.missing.iter().copied().collect();
    bad.extend(
        report
            .damaged
            .iter()
            .chain(&recovery.damaged)
            .filter_map(|d| d.hash),
    );
    let unreadable: HashSet<lpfs::BlobHash> = in_use
        .iter()
        .filter(|h| bad.contains(h) || matches!(store.locate(h), Ok(None)))
        .copied()
        .collect();
    let used: HashSet<&lpfs::BlobHash> = in_use.iter().collect();
    let unused = store
        .list(None, usize::MAX)?
        .iter()
        .filter(|h| !used.contains(h))
        .count();
    let mut unreadable_list: Vec<lpfs::BlobHash> = unreadable.iter().copied().collect();
    unreadable_list.sort_unstable();
    Ok(LibraryCheck {
        images_in_use: in_use.len(),
        affected: db.integrity().galleries_using(&unreadable)?,
        unreadable: unreadable_list,
        unused,
    })
}
