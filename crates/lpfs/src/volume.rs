//! Volume files: naming, creation, and reading and checking single records.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::mapped::VolumeMap;
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::format::{
    FORMAT_VERSION, FormatError, IndexHeader, RECORD_HEADER_LEN, RecordHeader, RecordKind,
    VOLUME_HEADER_LEN, VolumeHeader, record_size,
};
use crate::hash::BlobHash;

/// Records at least this large that are not in memory are brought in through the map rather than
/// read with `pread` (see [`crate::mapped`]): page images, not thumbnails, whose read-around of up
/// to 2 MiB would be mostly waste.
const FAULT_IN_MIN: u64 = 128 << 10;

/// The file of volume `id` in `dir`.
pub(crate) fn volume_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:08}.vol"))
}

/// The index log of volume `id` in `dir`.
pub(crate) fn index_path(dir: &Path, id: u32) -> PathBuf {
    dir.join(format!("{id:08}.idx"))
}

/// Suffix of files that compaction writes before renaming them into place.
pub(crate) const COMPACT_SUFFIX: &str = ".compact";
/// Suffix of index logs being rewritten.
pub(crate) const REBUILD_SUFFIX: &str = ".rebuild";

/// `path` with `suffix` appended to its file name.
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Makes a directory's entries (created, renamed, removed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io(dir))
}

/// An open volume file at one generation. Compaction replaces the file and the generation together;
/// readers holding the old `Arc` keep reading the old, unlinked file safely.
pub(crate) struct VolumeFile {
    pub id: u32,
    pub generation: u32,
    pub path: PathBuf,
    pub file: File,
    /// A read-only map of the file, made on first use and replaced by a longer one when the
    /// volume grows past it.
    map: RwLock<Option<Arc<VolumeMap>>>,
    /// How far past what is needed to map, so that an active volume is not remapped as it grows.
    map_ahead: u64,
}

impl std::fmt::Debug for VolumeFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeFile")
            .field("id", &self.id)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Whether `header` is the blob record of `key`, `len` bytes long.
fn header_names(header: &RecordHeader, key: &BlobHash, len: u64) -> Result<(), RecordProblem> {
    if header.kind != RecordKind::Blob {
        return Err(RecordProblem::Mismatch);
    }
    if header.key != *key {
        return Err(RecordProblem::OtherKey);
    }
    if header.len != len {
        return Err(RecordProblem::Mismatch);
    }
    Ok(())
}

/// Why a record cannot be read back as good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordProblem {
    /// The volume ends before the record does.
    Short,
    /// The header does not decode.
    Header(FormatError),
    /// The header is fine but the payload does not match its checksum.
    Payload,
    /// The header is fine but describes another record than expected.
    Mismatch,
    /// The header is fine and names another blob: the index's entry for this key shares only its
    /// tag with that blob's (see [`crate::index`]), so the key is not stored.
    OtherKey,
}

impl std::fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short => f.write_str("the volume ends inside the record"),
            Self::Header(e) => write!(f, "record header: {e}"),
            Self::Payload => f.write_str("payload checksum mismatch"),
            Self::Mismatch => f.write_str("the record there is not this blob's"),
            Self::OtherKey => f.write_str("the record there names another blob"),
        }
    }
}

impl VolumeFile {
    pub fn new(id: u32, generation: u32, path: PathBuf, file: File, map_ahead: u64) -> Self {
        Self {
            id,
            generation,
            path,
            file,
            map: RwLock::new(None),
            map_ahead,
        }
    }

    /// A map covering at least the first `end` bytes, or `None` if the file cannot be mapped.
    fn mapping(&self, end: u64) -> Option<Arc<VolumeMap>> {
        if end == 0 {
            return None;
        }
        {
            let current = self.map.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(m) = current.as_ref()
                && m.len() as u64 >= end
            {
                return Some(m.clone());
            }
        }
        let mut current = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = current.as_ref()
            && m.len() as u64 >= end
        {
            return Some(m.clone());
        }
        let len = end.max(self.map_ahead);
        match crate::mapped::map(&self.file, len) {
            Ok(m) => {
                let m = Arc::new(m);
                *current = Some(m.clone());
                Some(m)
            }
            Err(e) => {
                tracing::debug!(volume = self.id, error = %e, "volume not mapped; reading with pread");
                None
            }
        }
    }

    /// The record bytes at `offset..offset + len` straight from the map, if all are in memory.
    fn resident_record(&self, offset: u64, len: u64) -> Option<(Arc<VolumeMap>, usize)> {
        let map = self.mapping(offset.checked_add(len)?)?;
        let start = usize::try_from(offset).ok()?;
        crate::mapped::resident(&map, start, len as usize).then_some((map, start))
    }

    /// The record bytes at `offset..offset + len`, brought into memory through the map, when the
    /// record is large enough for that to pay ([`crate::mapped`]).
    fn faulted_in_record(&self, offset: u64, len: u64) -> Option<(Arc<VolumeMap>, usize)> {
        if len < FAULT_IN_MIN {
            return None;
        }
        let map = self.mapping(offset.checked_add(len)?)?;
        let start = usize::try_from(offset).ok()?;
        crate::mapped::populate(&map, start, len as usize).then_some((map, start))
    }

    /// Creates a new, empty volume file with its header, durably, plus an empty index log.
    /// `path` may be a temporary name; the header names volume `id`.
    pub fn create(
        dir: &Path,
        path: PathBuf,
        index: PathBuf,
        id: u32,
        generation: u32,
        map_ahead: u64,
    ) -> Result<Self> {
        let header = VolumeHeader {
            version: FORMAT_VERSION,
            volume_id: id,
            generation,
            flags: 0,
            created_unix_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(Error::io(&path))?;
        file.write_all_at(&header.encode(), 0)
            .map_err(Error::io(&path))?;
        file.sync_all().map_err(Error::io(&path))?;
        write_index_header(&index, id, generation)?;
        sync_dir(dir)?;
        Ok(Self::new(id, generation, path, file, map_ahead))
    }

    /// The `len` payload bytes of the record at `offset`, checked to be an intact blob record of
    /// `key`: straight from the page cache without a copy when it is there, else with one `pread`.
    ///
    /// The header is always checked. The payload checksum is checked on every read from the disk,
    /// and on a read from the page cache unless `trusted` says it was checked before. Returns
    /// whether the payload checksum was checked by this call.
    pub fn read_blob(
        &self,
        key: &BlobHash,
        offset: u64,
        len: u64,
        trusted: bool,
    ) -> Result<(Bytes, bool), RecordProblem> {
        let total = RECORD_HEADER_LEN + len;
        let check = |record: &[u8], payload: bool| -> Result<(), RecordProblem> {
            let header = RecordHeader::decode(record).map_err(RecordProblem::Header)?;
            header_names(&header, key, len)?;
            if payload && !header.payload_intact(&record[RECORD_HEADER_LEN as usize..]) {
                return Err(RecordProblem::Payload);
            }
            Ok(())
        };
        if let Some((map, start)) = self.resident_record(offset, total) {
            check(&map[start..start + total as usize], !trusted)?;
            return Ok((
                crate::mapped::bytes(map, start + RECORD_HEADER_LEN as usize, len as usize),
                !trusted,
            ));
        }
        // Just read from the disk: checked whole, as a `pread` would be.
        if let Some((map, start)) = self.faulted_in_record(offset, total) {
            check(&map[start..start + total as usize], true)?;
            return Ok((
                crate::mapped::bytes(map, start + RECORD_HEADER_LEN as usize, len as usize),
                true,
            ));
        }
        let mut buf = vec![0u8; total as usize];
        self.read_exact_at(&mut buf, offset)?;
        check(&buf, true)?;
        Ok((Bytes::from(buf).slice(RECORD_HEADER_LEN as usize..), true))
    }

    /// The payload of an already verified blob record when its pages are in memory (a few
    /// microseconds, no disk access: safe to call where blocking is not), else `None`. The
    /// header is still checked.
    pub fn read_resident(
        &self,
        key: &BlobHash,
        offset: u64,
        len: u64,
    ) -> Option<Result<Bytes, RecordProblem>> {
        let total = RECORD_HEADER_LEN + len;
        let (map, start) = self.resident_record(offset, total)?;
        let record = &map[start..start + total as usize];
        let header = match RecordHeader::decode(record) {
            Ok(h) => h,
            Err(e) => return Some(Err(RecordProblem::Header(e))),
        };
        if let Err(p) = header_names(&header, key, len) {
            return Some(Err(p));
        }
        Some(Ok(crate::mapped::bytes(
            map,
            start + RECORD_HEADER_LEN as usize,
            len as usize,
        )))
    }

    /// Reads and checks only the header of `key`'s record at `offset`.
    pub fn check_header(&self, key: &BlobHash, offset: u64, len: u64) -> Result<(), RecordProblem> {
        let mut buf = [0u8; RECORD_HEADER_LEN as usize];
        match self.resident_record(offset, RECORD_HEADER_LEN) {
            Some((map, start)) => {
                buf.copy_from_slice(&map[start..start + RECORD_HEADER_LEN as usize])
            }
            None => self.read_exact_at(&mut buf, offset)?,
        }
        let header = RecordHeader::decode(&buf).map_err(RecordProblem::Header)?;
        header_names(&header, key, len)
    }

    /// The key named by the blob record header at `offset` (from memory when it is there), or
    /// `None` when the header cannot be read or is not a blob's.
    pub fn key_at(&self, offset: u64) -> Option<BlobHash> {
        let mut buf = [0u8; RECORD_HEADER_LEN as usize];
        match self.resident_record(offset, RECORD_HEADER_LEN) {
            Some((map, start)) => {
                buf.copy_from_slice(&map[start..start + RECORD_HEADER_LEN as usize])
            }
            None => self.read_exact_at(&mut buf, offset).ok()?,
        }
        let header = RecordHeader::decode(&buf).ok()?;
        (header.kind == RecordKind::Blob).then_some(header.key)
    }

    /// Reads the whole record at `offset` (any kind) and checks header and payload checksum.
    /// `end` is where the volume's valid bytes end.
    pub fn read_record(
        &self,
        offset: u64,
        end: u64,
    ) -> Result<(RecordHeader, Vec<u8>), RecordProblem> {
        if offset + RECORD_HEADER_LEN > end {
            return Err(RecordProblem::Short);
        }
        let mut head = [0u8; RECORD_HEADER_LEN as usize];
        self.read_exact_at(&mut head, offset)?;
        let header = RecordHeader::decode(&head).map_err(RecordProblem::Header)?;
        if offset.saturating_add(record_size(header.len)) > end {
            return Err(RecordProblem::Short);
        }
        let mut payload = vec![0u8; header.len as usize];
        self.read_exact_at(&mut payload, offset + RECORD_HEADER_LEN)?;
        if !header.payload_intact(&payload) {
            return Err(RecordProblem::Payload);
        }
        Ok((header, payload))
    }

    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the file.
    pub fn read_up_to(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64)? {
                0 => break,
                n => done += n,
            }
        }
        Ok(done)
    }

    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), RecordProblem> {
        self.file
            .read_exact_at(buf, offset)
            .map_err(|_| RecordProblem::Short)
    }

    /// The volume's length on disk.
    pub fn len(&self) -> Result<u64> {
        Ok(self.file.metadata().map_err(Error::io(&self.path))?.len())
    }
}

/// Writes a fresh index log holding only its header, durably.
pub(crate) fn write_index_header(path: &Path, id: u32, generation: u32) -> Result<File> {
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(Error::io(path))?;
    let header = IndexHeader {
        version: FORMAT_VERSION,
        volume_id: id,
        generation,
    };
    f.write_all(&header.encode()).map_err(Error::io(path))?;
    f.sync_all().map_err(Error::io(path))?;
    Ok(f)
}

/// The first offset after the volume header.
pub(crate) const FIRST_RECORD: u64 = VOLUME_HEADER_LEN;
