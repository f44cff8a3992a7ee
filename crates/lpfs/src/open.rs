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
use crate::volume::{
    COMPACT_SUFFIX, FIRST_RECORD, REBUILD_SUFFIX, VolumeFile, index_path, sync_dir, volume_path,
    with_suffix, write_index_header,
};

/// What opening the store found and repaired.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RecoveryReport {
    /// Torn or damaged tails set aside in `lost+found` and cut off: (volume, offset, bytes).
    pub torn_tails: Vec<(u32, u64, u64)>,
    /// Volumes whose index log was rebuilt from the volume.
    pub index_rebuilt: Vec<u32>,
    /// Records found after the last index entry and indexed.
    pub records_reindexed: u64,
    /// Unfinished compactions rolled back (their temporary files removed).
    pub compactions_rolled_back: Vec<String>,
    /// Volume files whose header is unreadable, moved to `lost+found`.
    pub volumes_set_aside: Vec<String>,
}

impl RecoveryReport {
    /// Whether anything had to be repaired.
    pub fn is_clean(&self) -> bool {
        self.torn_tails.is_empty()
            && self.index_rebuilt.is_empty()
            && self.records_reindexed == 0
            && self.compactions_rolled_back.is_empty()
            && self.volumes_set_aside.is_empty()
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

/// Copies `len` bytes at `offset` of `vol` into `lost+found`, durably.
pub(crate) fn set_aside(
    dir: &Path,
    vol: &VolumeFile,
    offset: u64,
    len: u64,
    what: &str,
) -> Result<PathBuf> {
    let lf = lost_and_found(dir);
    fs::create_dir_all(&lf).map_err(Error::io(&lf))?;
    let path = lf.join(format!("{:08}-g{}-{offset}.{what}", vol.id, vol.generation));
    let mut buf = vec![0u8; len as usize];
    let n = read_up_to(&vol.file, &mut buf, offset).map_err(Error::io(&vol.path))?;
    let mut out = File::create(&path).map_err(Error::io(&path))?;
    out.write_all(&buf[..n]).map_err(Error::io(&path))?;
    out.sync_all().map_err(Error::io(&path))?;
    sync_dir(&lf)?;
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
        None => Ok(scan_records(vol, FIRST_RECORD, vol.len()?).0),
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

/// Scans records from `from` to `end`, stopping at the first that is not intact. Returns the
/// entries found and where the intact prefix ends.
fn scan_records(vol: &VolumeFile, from: u64, end: u64) -> (Vec<IndexEntry>, u64) {
    let mut entries = Vec::new();
    let mut pos = from;
    while pos < end {
        let Ok((header, payload)) = vol.read_record(pos, end) else {
            break;
        };
        let Ok(entry) = IndexEntry::for_record(&header, pos, &payload) else {
            break;
        };
        if let IndexEntryKind::Blob { len } = entry.kind
            && len > crate::MAX_BLOB_BYTES
        {
            break;
        }
        pos = entry.record_end();
        entries.push(entry);
    }
    (entries, pos)
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

/// Opens and checks one volume, returning its file, valid length and records.
fn load_volume(
    dir: &Path,
    id: u32,
    read_only: bool,
    map_ahead: u64,
    is_last: bool,
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
    let header = read_up_to(&file, &mut head, 0)
        .map_err(Error::io(&path))
        .map(|n| {
            if n == head.len() {
                VolumeHeader::decode(&head).ok()
            } else {
                None
            }
        })?;
    let header = match header {
        Some(h) if h.volume_id == id => h,
        _ => {
            // A volume whose header never became durable (a crash while creating the last volume)
            // holds nothing; any other unreadable header is damage. Either way the file is moved
            // aside, never deleted, and the store opens without it.
            if !read_only {
                let lf = lost_and_found(dir);
                fs::create_dir_all(&lf).map_err(Error::io(&lf))?;
                let name = format!("{id:08}.vol.unreadable-header");
                fs::rename(&path, lf.join(&name)).map_err(Error::io(&path))?;
                let idx = index_path(dir, id);
                if idx.exists() {
                    fs::remove_file(&idx).map_err(Error::io(&idx))?;
                }
                sync_dir(dir)?;
                if !(is_last && file_len < VOLUME_HEADER_LEN) {
                    tracing::error!(volume = id, "volume header unreadable; moved to lost+found");
                }
                report.volumes_set_aside.push(name);
            }
            return Ok(None);
        }
    };
    let vol = VolumeFile::new(id, header.generation, path, file, map_ahead);

    let idx_path = index_path(dir, id);
    let logged = read_index_log(&idx_path, id, header.generation)?;
    let mut rebuild = logged.is_none();
    let mut entries = logged.unwrap_or_default();
    let logged_count = entries.len();
    // Entries past the end of the volume describe records that are no longer there.
    while entries.last().is_some_and(|e| e.record_end() > file_len) {
        entries.pop();
    }
    if !entries_plausible(&entries) {
        rebuild = true;
    }
    // The last entry must describe a record that is really there, or the log is not trusted.
    if !rebuild && let Some(last) = entries.last() {
        match vol.read_record(last.offset, file_len) {
            Ok((h, p)) if IndexEntry::for_record(&h, last.offset, &p).ok() == Some(*last) => {}
            _ => rebuild = true,
        }
    }
    if rebuild {
        entries.clear();
    }
    let scan_from = entries.last().map_or(FIRST_RECORD, |e| e.record_end());
    let (tail, valid_end) = scan_records(&vol, scan_from, file_len);
    let kept = entries.len();
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
    for (i, &id) in ids.iter().enumerate() {
        let Some((vol, size, entries)) = load_volume(
            dir,
            id,
            read_only,
            map_ahead,
            i + 1 == ids.len(),
            &mut report,
        )?
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
