//! Compaction: rewriting a sealed volume without its dead records, online and crash-safe.
//!
//! The live records are copied to `NNNNNNNN.vol.compact` (generation + 1) with a fresh index log
//! beside it; both are synced. Then, on the writer thread (so no write interleaves): tombstones are
//! written for blobs deleted during the copy, the index log and then the volume are renamed into
//! place, the directory is synced, and the in-memory index is pointed at the new offsets. Readers
//! holding the old file keep reading it. A crash before the volume's rename leaves the old volume
//! in force and the temporary files are removed on open; after it, the new volume is complete.

use std::fs;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, PoisonError};

use crate::error::{Error, Result};
use crate::format::{IndexEntry, IndexEntryKind, RecordHeader, RecordKind, Tombstone, record_size};
use crate::hash::BlobHash;
use crate::index::{Loc, Tag, tag_of};
use crate::open::{VolumeInfo, read_index_log_entries, set_aside};
use crate::scan::Damage;
use crate::store::Store;
use crate::volume::{
    COMPACT_SUFFIX, FIRST_RECORD, RecordProblem, VolumeFile, index_path, sync_dir, volume_path,
    with_suffix,
};

/// What a compaction did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CompactReport {
    /// Volumes rewritten without their garbage.
    pub volumes_compacted: Vec<u32>,
    /// Volumes removed because nothing in them was live.
    pub volumes_removed: Vec<u32>,
    pub blobs_moved: u64,
    /// Volume bytes before and after, over the volumes touched.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Records found damaged while copying; set aside in `lost+found` and dropped from the index.
    pub damaged: Vec<Damage>,
}

/// One record to carry over into the new volume.
enum Item {
    Blob {
        /// From the volume's index log; else read from the record's header.
        key: Option<BlobHash>,
        tag: Tag,
        old: Loc,
    },
    Tombstone {
        key: BlobHash,
        offset: u64,
        tombstone: Tombstone,
    },
}

impl Item {
    fn offset(&self) -> u64 {
        match self {
            Item::Blob { old, .. } => old.offset(),
            Item::Tombstone { offset, .. } => *offset,
        }
    }
}

impl Store {
    /// Compacts every sealed volume whose garbage is at least `min_garbage_ratio` of its records
    /// (0.0 compacts every volume with any garbage). Reads and writes go on meanwhile.
    pub fn compact(&self, min_garbage_ratio: f64) -> Result<CompactReport> {
        if self.is_read_only() {
            return Err(Error::ReadOnly);
        }
        let _guard = self
            .shared
            .maintenance
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut report = CompactReport::default();
        let candidates: Vec<u32> = self
            .stats()
            .per_volume
            .iter()
            .filter(|v| !v.active && v.garbage_bytes > 0 && v.garbage_ratio() >= min_garbage_ratio)
            .map(|v| v.id)
            .collect();
        for id in candidates {
            self.compact_volume(id, &mut report)?;
        }
        Ok(report)
    }

    pub(crate) fn compact_volume(&self, id: u32, report: &mut CompactReport) -> Result<()> {
        let dir = self.shared.dir.clone();
        // What is live in the volume now, and the generation of every volume.
        let (old, old_size, mut items, generations) = {
            let state = self.state();
            let Some(info) = state.volumes.get(&id) else {
                return Ok(());
            };
            if state.active_volume == Some(id) {
                return Ok(());
            }
            let items: Vec<Item> = state
                .index
                .locations()
                .filter(|(_, loc)| loc.volume == id)
                .map(|(tag, old)| Item::Blob {
                    key: None,
                    tag,
                    old,
                })
                .collect();
            let generations: std::collections::HashMap<u32, u32> = state
                .volumes
                .iter()
                .map(|(&v, i)| (v, i.file.generation))
                .collect();
            (info.file.clone(), info.size, items, generations)
        };
        // The index keeps only each key's tag: the full keys come from the index log.
        let mut logged_keys = std::collections::HashMap::new();
        // Tombstones stay while the record they delete still exists in another volume.
        for e in read_index_log_entries(&dir, &old)? {
            if let IndexEntryKind::Blob { .. } = e.kind {
                logged_keys.insert(e.offset, e.key);
            }
            if let IndexEntryKind::Tombstone(t) = e.kind
                && t.target_volume != id
                && generations.get(&t.target_volume) == Some(&t.target_generation)
            {
                items.push(Item::Tombstone {
                    key: e.key,
                    offset: e.offset,
                    tombstone: t,
                });
            }
        }
        for item in &mut items {
            if let Item::Blob { key, tag, old } = item {
                *key = logged_keys
                    .get(&old.offset())
                    .filter(|k| tag_of(k) == *tag)
                    .copied();
            }
        }
        items.sort_unstable_by_key(Item::offset);

        let generation = old.generation + 1;
        let tmp_vol = with_suffix(&volume_path(&dir, id), COMPACT_SUFFIX);
        let tmp_idx = with_suffix(&index_path(&dir, id), COMPACT_SUFFIX);
        let new = VolumeFile::create(&dir, tmp_vol.clone(), tmp_idx.clone(), id, generation, 0)?;
        let mut entries = Vec::with_capacity(items.len());
        let mut moved = Vec::new();
        let mut damaged = Vec::new();
        let mut buf = Vec::with_capacity(1 << 20);
        let mut pos = FIRST_RECORD;
        let mut written = FIRST_RECORD;
        for item in &items {
            let (header, payload, kind) = match item {
                Item::Blob { key, tag, old: loc } => {
                    let len = u64::from(loc.len);
                    let read = match key {
                        Some(key) => old
                            .read_blob(key, loc.offset(), len, false)
                            .map(|(data, _)| (*key, data)),
                        None => {
                            old.read_record(loc.offset(), old_size)
                                .and_then(|(header, data)| {
                                    let blob = header.kind == RecordKind::Blob
                                        && tag_of(&header.key) == *tag
                                        && header.len == len;
                                    if blob {
                                        Ok((header.key, bytes::Bytes::from(data)))
                                    } else {
                                        Err(RecordProblem::Mismatch)
                                    }
                                })
                        }
                    };
                    match read {
                        Ok((key, data)) => (
                            RecordHeader::for_blob(key, &data),
                            data,
                            IndexEntryKind::Blob { len },
                        ),
                        Err(problem) => {
                            let bytes = record_size(len).min(old_size.saturating_sub(loc.offset()));
                            set_aside(&dir, &old, loc.offset(), bytes, "damaged")?;
                            damaged.push((*tag, *loc));
                            report.damaged.push(Damage {
                                volume: id,
                                offset: loc.offset(),
                                bytes,
                                hash: *key,
                                reason: problem.to_string(),
                                whole_record: None,
                            });
                            continue;
                        }
                    }
                }
                Item::Tombstone { key, tombstone, .. } => (
                    tombstone.header(*key),
                    bytes::Bytes::copy_from_slice(&tombstone.encode()),
                    IndexEntryKind::Tombstone(*tombstone),
                ),
            };
            entries.push(IndexEntry {
                key: header.key,
                offset: pos,
                kind,
            });
            if let Item::Blob { old: loc, .. } = item {
                moved.push((header.key, *loc, Loc::new(id, pos, loc.len)));
            }
            header.encode_record(&payload, &mut buf);
            pos += record_size(header.len);
            if buf.len() >= 8 << 20 {
                new.file
                    .write_all_at(&buf, written)
                    .map_err(Error::io(&tmp_vol))?;
                written += buf.len() as u64;
                buf.clear();
            }
        }
        new.file
            .write_all_at(&buf, written)
            .map_err(Error::io(&tmp_vol))?;
        new.file.sync_all().map_err(Error::io(&tmp_vol))?;
        let mut log = Vec::with_capacity(entries.len() * 64);
        for e in &entries {
            log.extend_from_slice(&e.encode());
        }
        let mut idx = fs::OpenOptions::new()
            .append(true)
            .open(&tmp_idx)
            .map_err(Error::io(&tmp_idx))?;
        std::io::Write::write_all(&mut idx, &log).map_err(Error::io(&tmp_idx))?;
        idx.sync_all().map_err(Error::io(&tmp_idx))?;
        drop(idx);
        let new_size = pos;
        let empty = entries.is_empty();

        let outcome = self.exclusive(move |w| {
            // Blobs deleted while they were being copied must stay deleted after a reopen.
            let deleted: Vec<(BlobHash, Loc)> = {
                let state = w
                    .shared
                    .state
                    .read()
                    .unwrap_or_else(PoisonError::into_inner);
                moved
                    .iter()
                    .filter(|(k, _, _)| state.index.get_exact(k, state.keys()).is_none())
                    .map(|(k, _, n)| (*k, *n))
                    .collect()
            };
            for (key, at) in &deleted {
                let t = Tombstone {
                    target_volume: id,
                    target_generation: generation,
                    target_offset: at.offset(),
                };
                w.append_tombstone(*key, t)?;
            }
            w.commit()?;
            let vol_path = volume_path(&w.shared.dir, id);
            let idx_path = index_path(&w.shared.dir, id);
            if empty {
                for p in [&tmp_vol, &tmp_idx, &idx_path, &vol_path] {
                    fs::remove_file(p).map_err(Error::io(p))?;
                }
            } else {
                fs::rename(&tmp_idx, &idx_path).map_err(Error::io(&idx_path))?;
                fs::rename(&tmp_vol, &vol_path).map_err(Error::io(&vol_path))?;
            }
            sync_dir(&w.shared.dir)?;
            let mut state = w
                .shared
                .state
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            let mut live_bytes = 0;
            for (key, before, after) in &moved {
                if state.index.relocate(key, *before, *after) {
                    live_bytes += record_size(u64::from(after.len));
                }
            }
            for (tag, loc) in &damaged {
                state.index.remove_at(tag, *loc);
            }
            if empty {
                state.volumes.remove(&id);
            } else {
                let file = VolumeFile::new(id, generation, vol_path, new.file, 0);
                state.volumes.insert(
                    id,
                    VolumeInfo {
                        file: Arc::new(file),
                        size: new_size,
                        live_bytes,
                    },
                );
            }
            Ok(moved.len() as u64)
        })?;
        report.bytes_before += old_size;
        if empty {
            report.volumes_removed.push(id);
        } else {
            report.volumes_compacted.push(id);
            report.bytes_after += new_size;
        }
        report.blobs_moved += outcome;
        Ok(())
    }
}
