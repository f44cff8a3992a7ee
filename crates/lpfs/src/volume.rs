//! Volume files: naming, creation, and reading and checking single records.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::format::{
    FORMAT_VERSION, FormatError, IndexHeader, RECORD_HEADER_LEN, RecordHeader, RecordKind, VOLUME_HEADER_LEN,
    VolumeHeader, record_size,
};
use crate::hash::BlobHash;

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
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io(dir))
}

/// An open volume file at one generation. Compaction replaces the file and the generation together;
/// readers holding the old `Arc` keep reading the old, unlinked file safely.
#[derive(Debug)]
pub(crate) struct VolumeFile {
    pub id: u32,
    pub generation: u32,
    pub path: PathBuf,
    pub file: File,
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
}

impl std::fmt::Display for RecordProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Short => f.write_str("the volume ends inside the record"),
            Self::Header(e) => write!(f, "record header: {e}"),
            Self::Payload => f.write_str("payload checksum mismatch"),
            Self::Mismatch => f.write_str("the record there is not this blob's"),
        }
    }
}

impl VolumeFile {
    /// Creates a new, empty volume file with its header, durably, plus an empty index log.
    /// `path` may be a temporary name; the header names volume `id`.
    pub fn create(dir: &Path, path: PathBuf, index: PathBuf, id: u32, generation: u32) -> Result<Self> {
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
        file.write_all_at(&header.encode(), 0).map_err(Error::io(&path))?;
        file.sync_all().map_err(Error::io(&path))?;
        write_index_header(&index, id, generation)?;
        sync_dir(dir)?;
        Ok(Self { id, generation, path, file })
    }

    /// Reads `len` payload bytes of the record at `offset` and checks that it is an intact blob
    /// record of `key`.
    pub fn read_blob(&self, key: &BlobHash, offset: u64, len: u64) -> Result<Vec<u8>, RecordProblem> {
        let mut buf = vec![0u8; (RECORD_HEADER_LEN + len) as usize];
        self.read_exact_at(&mut buf, offset)?;
        let header = RecordHeader::decode(&buf).map_err(RecordProblem::Header)?;
        if header.key != *key || header.kind != RecordKind::Blob || header.len != len {
            return Err(RecordProblem::Mismatch);
        }
        if !header.payload_intact(&buf[RECORD_HEADER_LEN as usize..]) {
            return Err(RecordProblem::Payload);
        }
        buf.drain(..RECORD_HEADER_LEN as usize);
        Ok(buf)
    }

    /// Reads and checks only the header of `key`'s record at `offset`.
    pub fn check_header(&self, key: &BlobHash, offset: u64, len: u64) -> Result<(), RecordProblem> {
        let mut buf = [0u8; RECORD_HEADER_LEN as usize];
        self.read_exact_at(&mut buf, offset)?;
        let header = RecordHeader::decode(&buf).map_err(RecordProblem::Header)?;
        if header.key != *key || header.kind != RecordKind::Blob || header.len != len {
            return Err(RecordProblem::Mismatch);
        }
        Ok(())
    }

    /// Reads the whole record at `offset` (any kind) and checks header and payload checksum.
    /// `end` is where the volume's valid bytes end.
    pub fn read_record(&self, offset: u64, end: u64) -> Result<(RecordHeader, Vec<u8>), RecordProblem> {
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

    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> Result<(), RecordProblem> {
        self.file.read_exact_at(buf, offset).map_err(|_| RecordProblem::Short)
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
    let header = IndexHeader { version: FORMAT_VERSION, volume_id: id, generation };
    f.write_all(&header.encode()).map_err(Error::io(path))?;
    f.sync_all().map_err(Error::io(path))?;
    Ok(f)
}

/// The first offset after the volume header.
pub(crate) const FIRST_RECORD: u64 = VOLUME_HEADER_LEN;
