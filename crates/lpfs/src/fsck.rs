//! `fsck`: reading every record of every volume, checking both checksums and the content hash,
//! comparing what is there with the index, and (on request) repairing what can be repaired.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};

use crate::error::Result;
use crate::format::{IndexEntry, IndexEntryKind, Tombstone};
use crate::hash::BlobHash;
use crate::index::{Loc, Tag, tag_of};
use crate::open::{read_index_log_entries, rewrite_index_log, set_aside};
use crate::scan::{Damage, scan};
use crate::store::{Stats, Store};
use crate::volume::{FIRST_RECORD, VolumeFile};

/// What `fsck` found (and repaired).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FsckReport {
    pub volumes_checked: usize,
    pub records_checked: u64,
    pub bytes_checked: u64,
    /// Records or regions that do not verify.
    pub damaged: Vec<Damage>,
    /// Live blobs with no intact record behind them: reading them fails.
    pub missing: Vec<BlobHash>,
    /// Volumes whose index log does not match their records.
    pub stale_index_logs: Vec<u32>,
    /// Whether the repairs were made: damage set aside in `lost+found`, missing blobs dropped from
    /// the index (so that importing them again stores them again), index logs rewritten.
    pub repaired: bool,
    pub stats: Stats,
}

impl FsckReport {
    /// Whether nothing is damaged or missing.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty() && self.missing.is_empty()
    }
}

/// The intact records of a volume, its damaged stretches noted in `report`.
fn scan_volume(vol: &VolumeFile, size: u64, report: &mut FsckReport) -> Vec<IndexEntry> {
    let scanned = scan(vol, FIRST_RECORD, size, true);
    report.records_checked += scanned.records_checked;
    report.bytes_checked += scanned.bytes_checked;
    report.damaged.extend(scanned.damaged);
    scanned.intact
}

impl Store {
    /// Checks every record of every volume. With `repair`, damaged bytes are copied to
    /// `lost+found`, live blobs without an intact record are dropped from the index (durably, with
    /// a tombstone), and index logs that disagree with their volume are rewritten.
    pub fn fsck(&self, repair: bool) -> Result<FsckReport> {
        let _guard = self
            .shared
            .maintenance
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let volumes: Vec<(Arc<VolumeFile>, u64)> = self
            .state()
            .volumes
            .values()
            .map(|v| (v.file.clone(), v.size))
            .collect();
        let mut report = FsckReport {
            volumes_checked: volumes.len(),
            ..FsckReport::default()
        };
        // (volume, offset) → key of every intact blob record, and of every logged one.
        let mut intact_blobs = HashMap::new();
        let mut logged_blobs = HashMap::new();
        let is_blob = |e: &&IndexEntry| !matches!(e.kind, IndexEntryKind::Tombstone(_));
        let mut stale = Vec::new();
        for (vol, size) in &volumes {
            let intact = scan_volume(vol, *size, &mut report);
            intact_blobs.extend(
                intact
                    .iter()
                    .filter(is_blob)
                    .map(|e| ((vol.id, e.offset), e.key)),
            );
            let logged = read_index_log_entries(&self.shared.dir, vol)?;
            logged_blobs.extend(
                logged
                    .iter()
                    .filter(is_blob)
                    .map(|e| ((vol.id, e.offset), e.key)),
            );
            if logged != intact {
                report.stale_index_logs.push(vol.id);
                stale.push((vol.clone(), intact));
            }
        }
        // The index keeps each key's tag; the full key of an entry whose record is gone comes
        // from the index log (or the index itself, for recent inserts).
        let missing: Vec<(Option<BlobHash>, Tag, Loc)> = {
            let state = self.state();
            state
                .index
                .locations()
                .filter(|(tag, loc)| {
                    intact_blobs
                        .get(&(loc.volume, loc.offset()))
                        .is_none_or(|k| tag_of(k) != *tag)
                })
                .map(|(tag, loc)| {
                    let key = logged_blobs
                        .get(&(loc.volume, loc.offset()))
                        .copied()
                        .filter(|k| tag_of(k) == tag)
                        .or_else(|| state.index.recent_key_at(loc));
                    (key, tag, loc)
                })
                .collect()
        };
        report.missing = missing.iter().filter_map(|(k, _, _)| *k).collect();
        report.missing.sort_unstable();

        let needs_repair = !report.damaged.is_empty() || !missing.is_empty() || !stale.is_empty();
        if repair && !self.is_read_only() && needs_repair {
            let damaged = report.damaged.clone();
            self.exclusive(move |w| {
                let dir = w.shared.dir.clone();
                for d in &damaged {
                    if let Some((vol, _)) = volumes.iter().find(|(v, _)| v.id == d.volume) {
                        set_aside(&dir, vol, d.offset, d.bytes, "damaged")?;
                    }
                }
                for (key, tag, loc) in &missing {
                    let Some(key) = key else {
                        // Known to nothing on disk: a reopen cannot bring it back either.
                        w.shared
                            .state
                            .write()
                            .unwrap_or_else(PoisonError::into_inner)
                            .index
                            .remove_at(tag, *loc);
                        continue;
                    };
                    let generation = volumes
                        .iter()
                        .find(|(v, _)| v.id == loc.volume)
                        .map_or(0, |(v, _)| v.generation);
                    let t = Tombstone {
                        target_volume: loc.volume,
                        target_generation: generation,
                        target_offset: loc.offset(),
                    };
                    w.append_tombstone(*key, t)?;
                }
                w.commit()?;
                for (vol, intact) in &stale {
                    rewrite_index_log(&dir, vol, intact)?;
                }
                w.reopen_index_log()
            })?;
            // The damaged bytes stay in their volume as garbage until it is rewritten: do that now,
            // so that a repaired store checks clean.
            let mut damaged_volumes: Vec<u32> = report.damaged.iter().map(|d| d.volume).collect();
            damaged_volumes.dedup();
            let mut compaction = crate::CompactReport::default();
            for id in damaged_volumes {
                if self.state().active_volume == Some(id) {
                    self.exclusive(|w| w.seal_active())?;
                }
                self.compact_volume(id, &mut compaction)?;
            }
            report.repaired = true;
        }
        report.stats = self.stats();
        Ok(report)
    }
}
