//! Opening a store: reading each volume's index log, checking it against the volume, re-indexing
//! records written after the last index entry, and setting a torn tail aside.
//!
//! The volumes are the truth; index logs are a cache of them that is checked and repaired here. See
//! `docs/lpfs-format.md`, "Recovery".

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::{
    INDEX_ENTRY_LEN, INDEX_HEADER_LEN, IndexEntry, IndexEntryKind, IndexHeader, VOLUME_HEADER_LEN,
    VolumeHeader,
};
use crate::hash::BlobHash;
use crate::index::{Index, Loc};
use crate::scan::{Damage, scan};
use crate::volume::{
    COMPACT_SUFFIX, FIRST_RECORD, REBUILD_SUFFIX, VolumeFile, index_path, sync_dir, volume_path,
    with_suffix, write_index_header,
};

/// What opening the store found and repaired.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RecoveryReport {
    /// Torn tails (bytes past the last durable commit point that do not form a record: a write
    /// cut short by a crash) set aside in `lost+found` and cut off: (volume, offset, bytes).
    pub torn_tails: Vec<(u32, u64, u64)>,
    /// Damaged records and stretches found while opening: kept in place and reported, never cut.
    /// Those of indexed records read back as damaged; the records after them are read as usual.
    pub damaged: Vec<Damage>,
    /// Records the index log knew that the volume no longer holds (it was cut short): lost.
    pub cut_off: Vec<(u32, u64, u64)>,
    /// Volumes whose index log was rebuilt from the volume.
    pub index_rebuilt: Vec<u32>,
    /// Volumes whose damaged header was rebuilt (from the file name and the index log); the
    /// damaged header was copied to `lost+found` first.
    pub headers_rebuilt: Vec<u32>,
    /// Records found after the last index entry and indexed.
    pub records_reindexed: u64,
    /// Unfinished compactions rolled back (their temporary files removed).
    pub compactions_rolled_back: Vec<String>,
    /// Volume files that never got a whole header (a crash while creating the newest volume;
    /// they hold nothing), moved to `lost+found` under these names.
    pub volumes_set_aside: Vec<String>,
}

impl RecoveryReport {
    /// Whether anything had to be repaired.
    pub fn is_clean(&self) -> bool {
        self.torn_tails.is_empty()
            && self.damaged.is_empty()
            && self.cut_off.is_empty()
            && self.index_rebuilt.is_empty()
            && self.headers_rebuilt.is_empty()
            && self.records_reindexed == 0
            && self.compactions_rolled_back.is_empty()
            && self.volumes_set_aside.is_empty()
    }

    /// Whether anything committed was found damaged or lost (as opposed to the ordinary repairs
    /// after a crash: a torn tail, a rolled-back compaction, an index log caught up).
    pub fn found_damage(&self) -> bool {
        !self.damaged.is_empty() || !self.cut_off.is_empty() || !self.headers_rebuilt.is_empty()
    }
}

/// A volume as the store tracks it.
#[derive(Debug, Clone)]
pub(crate) struct VolumeInfo {
    pub file: Arc<VolumeFile>,
    /// Bytes of the volume that hold records (the append position).
    pub size: u64,
    /// Bytes of records that the index points at, padding included.
    pub live_bytes: u64,
}

pub(crate) struct Loaded {
    pub index: Index,
    pub volumes: BTreeMap<u32, VolumeInfo>,
    pub report: RecoveryReport,
}

/// The directory that receives bytes set aside by recovery and repair.
pub(crate) fn lost_and_found(dir: &Path) -> PathBuf {
    dir.join("lost+found")
}

/// A name in `lost+found` that no file has yet: `name`, else `name.2`, `name.3`, … Nothing in
/// `lost+found` is ever overwritten.
pub(crate) fn unique_in_lost_and_found(dir: &Path, name: &str) -> Result<PathBuf> {
    let lf = lost_and_found(dir);
    fs::create_dir_all(&lf).map_err(Error::io(&lf))?;
    let mut path = lf.join(name);
    let mut n = 1;
    while path.exists() {
        n += 1;
        path = lf.join(format!("{name}.{n}"));
    }
    Ok(path)
}

/// Copies `len` bytes at `offset` of `vol` into `lost+found`, durably, a megabyte at a time.
pub(crate) fn set_aside(
    dir: &Path,
    vol: &VolumeFile,
    offset: u64,
    len: u64,
    what: &str,
) -> Result<PathBuf> {
    let path = unique_in_lost_and_found(
        dir,
        &format!("{:08}-g{}-{offset}.{what}", vol.id, vol.generation),
    )?;
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(Error::io(&path))?;
    let mut buf = vec![0u8; (1 << 20).min(len as usize)];
    let mut done = 0;
    while done < len {
        let want = buf.len().min((len - done) as usize);
        let n = vol
            .read_up_to(&mut buf[..want], offset + done)
            .map_err(Error::io(&vol.path))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).map_err(Error::io(&path))?;
        done += n as u64;
    }
    out.sync_all().map_err(Error::io(&path))?;
    sync_dir(&lost_and_found(dir))?;
    Ok(path)
}

fn read_up_to(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64)? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// The highest volume id named in `lost+found` (volumes set aside keep their number there), so
/// that no new volume takes an id a volume ever had.
pub(crate) fn highest_id_set_aside(dir: &Path) -> u32 {
    let Ok(entries) = fs::read_dir(lost_and_found(dir)) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.get(..8)?.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Lists volume ids present in `dir`, ascending, and removes (or, read-only, ignores) leftovers of
/// interrupted compactions and index rebuilds.
fn list_volumes(dir: &Path, read_only: bool, report: &mut RecoveryReport) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(COMPACT_SUFFIX) || name.ends_with(REBUILD_SUFFIX) {
            if !read_only {
                fs::remove_file(entry.path()).map_err(Error::io(&entry.path()))?;
                report.compactions_rolled_back.push(name.to_string());
            }
            continue;
        }
        if let Some(stem) = name.strip_suffix(".vol")
            && stem.len() == 8
            && let Ok(id) = stem.parse::<u32>()
        {
            ids.push(id);
        }
    }
    if !read_only && !report.compactions_rolled_back.is_empty() {
        sync_dir(dir)?;
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Reads the valid prefix of a volume's index log. `None` when the log is missing or belongs to
/// another generation, so that it must be rebuilt.
fn read_index_log(path: &Path, id: u32, generation: u32) -> Result<Option<Vec<IndexEntry>>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path)(e)),
    };
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut head = [0u8; INDEX_HEADER_LEN as usize];
    if r.read_exact(&mut head).is_err() {
        return Ok(None);
    }
    match IndexHeader::decode(&head) {
        Ok(h) if h.volume_id == id && h.generation == generation => {}
        _ => return Ok(None),
    }
    let mut entries = Vec::new();
    let mut buf = [0u8; INDEX_ENTRY_LEN as usize];
    while r.read_exact(&mut buf).is_ok() {
        match IndexEntry::decode(&buf) {
            Ok(e) => entries.push(e),
            // A torn last entry (or damage): everything after it is re-derived from the volume.
            Err(_) => break,
        }
    }
    Ok(Some(entries))
}

/// The entries of a volume's index log, or of the volume itself when the log is unusable.
pub(crate) fn read_index_log_entries(dir: &Path, vol: &VolumeFile) -> Result<Vec<IndexEntry>> {
    match read_index_log(&index_path(dir, vol.id), vol.id, vol.generation)? {
        Some(entries) => Ok(entries),
        None => Ok(scan(vol, FIRST_RECORD, vol.len()?, false).intact),
    }
}

/// Whether `entries` can describe a volume of `len` bytes: in order, aligned, inside it.
fn entries_plausible(entries: &[IndexEntry]) -> bool {
    let mut next = FIRST_RECORD;
    entries.iter().all(|e| {
        let ok = e.offset >= next && e.offset % 8 == 0 && e.offset <= Loc::MAX_VOLUME_BYTES;
        let ok = ok
            && matches!(
                e.kind,
                IndexEntryKind::Tombstone(_)
                    | IndexEntryKind::Blob {
                        len: 0..=crate::MAX_BLOB_BYTES
                    }
            );
        next = e.record_end();
        ok
    })
}

/// Rewrites a volume's index log from `entries` via a temporary file and a rename.
pub(crate) fn rewrite_index_log(
    dir: &Path,
    vol: &VolumeFile,
    entries: &[IndexEntry],
) -> Result<()> {
    let path = index_path(dir, vol.id);
    let tmp = with_suffix(&path, REBUILD_SUFFIX);
    let mut f = write_index_header(&tmp, vol.id, vol.generation)?;
    let mut buf = Vec::with_capacity(entries.len() * INDEX_ENTRY_LEN as usize);
    for e in entries {
        buf.extend_from_slice(&e.encode());
    }
    f.write_all(&buf).map_err(Error::io(&tmp))?;
    f.sync_all().map_err(Error::io(&tmp))?;
    fs::rename(&tmp, &path).map_err(Error::io(&path))?;
    sync_dir(dir)
}

/// Appends entries to a volume's index log after truncating it to `keep` valid entries.
fn extend_index_log(path: &Path, keep: usize, entries: &[IndexEntry]) -> Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(Error::io(path))?;
    f.set_len(INDEX_HEADER_LEN + keep as u64 * INDEX_ENTRY_LEN)
        .map_err(Error::io(path))?;
    let mut buf = Vec::with_capacity(entries.len() * INDEX_ENTRY_LEN as usize);
    for e in entries {
        buf.extend_from_slice(&e.encode());
    }
    use std::io::{Seek, SeekFrom};
    f.seek(SeekFrom::End(0)).map_err(Error::io(path))?;
    f.write_all(&buf).map_err(Error::io(path))?;
    f.sync_all().map_err(Error::io(path))
}

/// A volume as found on open: its file, the length of its valid records, and those records.
type LoadedVolume = (Arc<VolumeFile>, u64, Vec<IndexEntry>);

/// The generation an index log's header names for volume `id`, if the log's header is readable.
fn logged_generation(dir: &Path, id: u32) -> Option<u32> {
    let mut head = [0u8; INDEX_HEADER_LEN as usize];
    let file = File::open(index_path(dir, id)).ok()?;
    (read_up_to(&file, &mut head, 0).ok()? == head.len()).then_some(())?;
    IndexHeader::decode(&head)
        .ok()
        .filter(|h| h.volume_id == id)
        .map(|h| h.generation)
}

/// The header of volume `id`, rebuilt when the one on disk is damaged: everything it holds is
/// the file name's id, the generation its index log names (generation 1 when the log is gone
/// too), and fields nothing depends on. Read-write, the damaged header is copied to `lost+found`
/// and the rebuilt one written in its place, durably.
fn rebuild_header(
    dir: &Path,
    id: u32,
    file: &File,
    damaged: &[u8],
    read_only: bool,
) -> Result<VolumeHeader> {
    let header = VolumeHeader {
        version: crate::format::FORMAT_VERSION,
        volume_id: id,
        generation: logged_generation(dir, id).unwrap_or(1),
        flags: 0,
        created_unix_ms: 0,
    };
    if !read_only {
        use std::os::unix::fs::FileExt;
        let aside = unique_in_lost_and_found(dir, &format!("{id:08}.vol.damaged-header"))?;
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&aside)
            .map_err(Error::io(&aside))?;
        out.write_all(damaged).map_err(Error::io(&aside))?;
        out.sync_all().map_err(Error::io(&aside))?;
        sync_dir(&lost_and_found(dir))?;
        let path = volume_path(dir, id);
        file.write_all_at(&header.encode(), 0)
            .map_err(Error::io(&path))?;
        file.sync_data().map_err(Error::io(&path))?;
        tracing::error!(volume = id, generation = header.generation, to = %aside.display(),
            "volume header damaged: rebuilt from the file name and the index log");
    }
    Ok(header)
}

/// Opens and checks one volume, returning its file, valid length and records.
///
/// The index log says which records were committed (an entry is written only after its record
/// is durable). A logged record that no longer checks is **damaged**: it is reported and kept in
/// place, and reading it says so. Past the last logged record the volume is scanned: records
/// that check are indexed; a damaged stretch followed by good records is damaged, reported and
/// kept, and the scan goes on after it; only bytes after the last good record that do not form a
/// record are a **torn tail** (a write cut short), set aside in `lost+found` and cut off. Without
/// a usable log nothing tells where the last commit was, so a whole record whose header checks
/// is never cut, only reported.
fn load_volume(
    dir: &Path,
    id: u32,
    read_only: bool,
    map_ahead: u64,
    report: &mut RecoveryReport,
) -> Result<Option<LoadedVolume>> {
    let path = volume_path(dir, id);
    let file = OpenOptions::new()
        .read(true)
        .write(!read_only)
        .open(&path)
        .map_err(Error::io(&path))?;
    let file_len = file.metadata().map_err(Error::io(&path))?.len();
    let mut head = [0u8; VOLUME_HEADER_LEN as usize];
    let got = read_up_to(&file, &mut head, 0).map_err(Error::io(&path))?;
    let header = match VolumeHeader::decode(&head) {
        Ok(h) if got == head.len() && h.volume_id == id => h,
        _ if got < head.len() => {
            // A volume whose header never became durable (a crash while creating the newest
            // volume) holds nothing. It is moved aside, never deleted, and its id not reused.
            // If its index log names records, the volume was cut short and they are lost.
            if let Some(generation) = logged_generation(dir, id)
                && let Some(entries) = read_index_log(&index_path(dir, id), id, generation)?
            {
                for e in entries {
                    report
                        .cut_off
                        .push((id, e.offset, e.record_end() - e.offset));
                }
            }
            if !read_only {
                let to = unique_in_lost_and_found(dir, &format!("{id:08}.vol.unfinished"))?;
                fs::rename(&path, &to).map_err(Error::io(&path))?;
                let idx = index_path(dir, id);
                if idx.exists() {
                    fs::remove_file(&idx).map_err(Error::io(&idx))?;
                }
                sync_dir(dir)?;
                report.volumes_set_aside.push(
                    to.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            }
            return Ok(None);
        }
        _ => {
            report.headers_rebuilt.push(id);
            rebuild_header(dir, id, &file, &head, read_only)?
        }
    };
    let vol = VolumeFile::new(id, header.generation, path, file, map_ahead);

    let idx_path = index_path(dir, id);
    let logged = read_index_log(&idx_path, id, header.generation)?;
    let mut rebuild = logged.is_none();
    let mut entries = logged.unwrap_or_default();
    let logged_count = entries.len();
    if !entries_plausible(&entries) {
        rebuild = true;
    }
    if rebuild {
        entries.clear();
    }
    // A logged record was durable before its entry was written: one past the end of the volume
    // was cut off the volume afterwards, and is lost.
    while let Some(last) = entries.last().filter(|e| e.record_end() > file_len) {
        report
            .cut_off
            .push((id, last.offset, last.record_end() - last.offset));
        tracing::error!(
            volume = id,
            offset = last.offset,
            "a committed record is cut off the volume"
        );
        entries.pop();
    }
    // The last logged record is checked (the others are checked by reads and by fsck).
    if let Some(&last) = entries.last() {
        let good = matches!(vol.read_record(last.offset, file_len),
            Ok((h, p)) if IndexEntry::for_record(&h, last.offset, &p).ok() == Some(last));
        if !good {
            let mut found = scan(&vol, last.offset, last.record_end(), false).damaged;
            for d in &mut found {
                d.reason = format!("a committed record does not check: {}", d.reason);
            }
            report.damaged.extend(found);
        }
    }
    let kept = entries.len();
    let scan_from = entries.last().map_or(FIRST_RECORD, |e| e.record_end());
    let scanned = scan(&vol, scan_from, file_len, false);
    let last_good_end = scanned.intact.last().map_or(scan_from, |e| e.record_end());
    let mut tail = scanned.intact;
    // Where the torn tail starts, if there is one. With the log, everything after the last good
    // record is past the last commit point: a write a crash cut short, whatever it looks like
    // (a group's last records may be whole but for their payload). Without it, only a trailing
    // stretch that does not form a whole record is cut.
    let torn_from = if rebuild {
        scanned
            .damaged
            .last()
            .filter(|d| {
                d.offset >= last_good_end
                    && d.offset + d.bytes >= file_len
                    && d.whole_record.is_none()
            })
            .map(|d| d.offset)
    } else {
        scanned
            .damaged
            .iter()
            .find(|d| d.offset >= last_good_end)
            .map(|d| d.offset)
    };
    let valid_end = torn_from.unwrap_or(file_len);
    for d in scanned.damaged {
        if d.offset >= valid_end {
            continue;
        }
        // Kept in place; a whole blob record stays indexed, so reading it reports the damage.
        if let Some(h) = d.whole_record
            && h.kind == crate::format::RecordKind::Blob
        {
            tail.push(IndexEntry {
                key: h.key,
                offset: d.offset,
                kind: IndexEntryKind::Blob { len: h.len },
            });
        }
        tracing::error!(volume = id, offset = d.offset, bytes = d.bytes, reason = %d.reason,
            "damaged record kept in place");
        report.damaged.push(d);
    }
    tail.sort_unstable_by_key(|e| e.offset);
    entries.extend(tail.iter().copied());

    if valid_end < file_len {
        report
            .torn_tails
            .push((id, valid_end, file_len - valid_end));
        if !read_only {
            let aside = set_aside(dir, &vol, valid_end, file_len - valid_end, "tail")?;
            tracing::warn!(volume = id, offset = valid_end, bytes = file_len - valid_end, to = %aside.display(),
                "torn volume tail set aside and cut off");
            vol.file.set_len(valid_end).map_err(Error::io(&vol.path))?;
            vol.file.sync_all().map_err(Error::io(&vol.path))?;
        }
    }
    if rebuild {
        report.index_rebuilt.push(id);
        if !read_only {
            rewrite_index_log(dir, &vol, &entries)?;
        }
    } else if !tail.is_empty() || kept != logged_count {
        report.records_reindexed += tail.len() as u64;
        if !read_only {
            extend_index_log(&idx_path, kept, &tail)?;
        }
    }
    Ok(Some((Arc::new(vol), valid_end, entries)))
}

/// Loads every volume of the store in `dir` and builds the index. Volumes are mapped `map_ahead`
/// bytes long at least, so that growing ones need not be remapped.
pub(crate) fn load(dir: &Path, read_only: bool, map_ahead: u64) -> Result<Loaded> {
    let mut report = RecoveryReport::default();
    let ids = list_volumes(dir, read_only, &mut report)?;
    let mut volumes = BTreeMap::new();
    let mut puts: Vec<(BlobHash, Loc)> = Vec::new();
    let mut tombstones = Vec::new();
    for &id in &ids {
        let Some((vol, size, entries)) = load_volume(dir, id, read_only, map_ahead, &mut report)?
        else {
            continue;
        };
        for e in entries {
            match e.kind {
                IndexEntryKind::Blob { len } => {
                    puts.push((e.key, Loc::new(id, e.offset, len as u32)))
                }
                IndexEntryKind::Tombstone(t) => tombstones.push((e.key, t)),
            }
        }
        volumes.insert(
            id,
            VolumeInfo {
                file: vol,
                size,
                live_bytes: 0,
            },
        );
    }
    // Later records win: (volume, offset) orders records by age. Sorting the newest first lets
    // `dedup` keep it, in place, so the peak memory stays one entry per record.
    puts.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then(b.1.volume.cmp(&a.1.volume))
            .then(b.1.offset().cmp(&a.1.offset()))
    });
    puts.dedup_by_key(|(key, _)| *key);
    // A tombstone deletes exactly the record it names, if that is still the live one.
    const DELETED: u32 = u32::MAX;
    for (key, t) in tombstones {
        if let Ok(i) = puts.binary_search_by(|(k, _)| k.cmp(&key)) {
            let loc = puts[i].1;
            let generation = volumes
                .get(&loc.volume)
                .map(|v: &VolumeInfo| v.file.generation);
            if loc.volume == t.target_volume
                && loc.offset() == t.target_offset
                && generation == Some(t.target_generation)
            {
                puts[i].1.volume = DELETED;
            }
        }
    }
    puts.retain(|(_, loc)| loc.volume != DELETED);
    for (_, loc) in &puts {
        if let Some(v) = volumes.get_mut(&loc.volume) {
            v.live_bytes += crate::format::record_size(u64::from(loc.len));
        }
    }
    Ok(Loaded {
        index: Index::from_sorted_unique(puts),
        volumes,
        report,
    })
}
