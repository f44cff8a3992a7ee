//! The image store's upkeep: its sizes, and compaction (online: reads and writes go on).

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
