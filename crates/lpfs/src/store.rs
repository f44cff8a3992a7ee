//! [`Store`]: the LittlePandaFS blob store over a directory of volumes.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::format::{RECORD_HEADER_LEN, VOLUME_HEADER_LEN};
use crate::hash::BlobHash;
use crate::index::{Index, Loc};
use crate::open::{RecoveryReport, VolumeInfo, load};
use crate::volume::{RecordProblem, VolumeFile};
use crate::writer::{Request, Writer};
use crate::{BlobStore, Bytes, MAX_BLOB_BYTES, PutOutcome};

/// Settings of a store.
#[derive(Debug, Clone)]
pub struct Options {
    /// A volume is sealed once it would grow past this; a larger blob gets a volume of its own.
    pub max_volume_bytes: u64,
    /// Check the payload checksum on every read, even of a blob already checked since the store
    /// opened and still in the page cache. Off by default: payloads are always checked when read
    /// from the disk and the first time they are served from the page cache.
    pub verify_every_read: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_volume_bytes: 1 << 30,
            verify_every_read: false,
        }
    }
}

impl Options {
    fn validate(&self) -> Result<()> {
        if self.max_volume_bytes < 4096 || self.max_volume_bytes > Loc::MAX_VOLUME_BYTES {
            return Err(Error::Options(format!(
                "max volume size must be between 4 KiB and {} bytes, got {}",
                Loc::MAX_VOLUME_BYTES,
                self.max_volume_bytes
            )));
        }
        Ok(())
    }
}

/// What readers and the writer share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub options: Options,
    pub state: RwLock<State>,
    /// Serialises compaction and repair.
    pub maintenance: Mutex<()>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub index: Index,
    pub volumes: BTreeMap<u32, VolumeInfo>,
    /// The volume the writer appends to; never compacted.
    pub active_volume: Option<u32>,
}

/// The key named by the header of the record at `loc`: how the index tells apart keys that share
/// the 8 bytes it keeps ([`crate::index`]).
pub(crate) fn key_at(volumes: &BTreeMap<u32, VolumeInfo>, loc: Loc) -> Option<BlobHash> {
    volumes.get(&loc.volume)?.file.key_at(loc.offset())
}

impl State {
    /// Reads record headers' keys for the index.
    pub fn keys(&self) -> impl Fn(Loc) -> Option<BlobHash> + '_ {
        |loc| key_at(&self.volumes, loc)
    }
}

/// A LittlePandaFS store: content-addressed blobs packed into append-only volume files.
///
/// Many threads may read at once; writes go through one writer thread that commits them in groups.
/// Only one process may open a store for writing; others may open it read-only.
#[derive(Debug)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
    writer: Option<(SyncSender<Request>, JoinHandle<()>)>,
    recovery: RecoveryReport,
    _lock: Option<File>,
}

/// Where a blob's bytes are in a volume file, for sending them without copying (`sendfile`) or
/// reading them with `pread`. The header has been checked; the payload has not.
#[derive(Debug, Clone)]
pub struct BlobLocation {
    volume: Arc<VolumeFile>,
    /// Offset of the first payload byte in the file.
    pub offset: u64,
    /// Payload length.
    pub len: u64,
}

impl BlobLocation {
    /// The id of the volume the blob is in.
    pub fn volume_id(&self) -> u32 {
        self.volume.id
    }

    /// The open volume file. It stays readable even if compaction replaces the volume meanwhile.
    pub fn file(&self) -> &File {
        &self.volume.file
    }
}

/// Counts and sizes of a store.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    pub volumes: usize,
    pub blobs: u64,
    /// Payload bytes of live blobs.
    pub live_bytes: u64,
    /// Bytes of all volume files.
    pub volume_bytes: u64,
    /// Bytes of dead records (deleted blobs, tombstones, set-aside damage) that compaction can reclaim.
    pub garbage_bytes: u64,
    /// Heap bytes of the in-memory index.
    pub index_memory_bytes: u64,
    pub per_volume: Vec<VolumeStats>,
}

/// Sizes of one volume.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VolumeStats {
    pub id: u32,
    pub generation: u32,
    pub bytes: u64,
    pub live_bytes: u64,
    pub garbage_bytes: u64,
    pub active: bool,
}

impl VolumeStats {
    /// Share of the volume's record bytes that are garbage.
    pub fn garbage_ratio(&self) -> f64 {
        let records = self.bytes.saturating_sub(VOLUME_HEADER_LEN);
        if records == 0 {
            0.0
        } else {
            self.garbage_bytes as f64 / records as f64
        }
    }
}

/// The name of the lock file in a store directory.
const LOCK_FILE: &str = "lock";

/// Payload sizes up to this are checksummed whole even for a range read.
const VERIFY_WHOLE_UP_TO: u64 = 16 << 20;

impl Store {
    /// Opens (creating if needed) the store in `dir` for reading and writing, recovering from any
    /// crash first. Fails with [`Error::Locked`] if another process has it open for writing.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Self> {
        Self::open_with(dir.as_ref(), options, false)
    }

    /// Opens the store like [`Store::open`], but first discards every index log, so that the
    /// whole index is rebuilt from the volumes.
    pub fn open_rebuilding_index(dir: impl AsRef<Path>, options: Options) -> Result<Self> {
        Self::open_with(dir.as_ref(), options, true)
    }

    fn open_with(dir: &Path, options: Options, rebuild_index: bool) -> Result<Self> {
        options.validate()?;
        let dir = dir.to_path_buf();
        fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io(&lock_path))?;
        // A lock can be held for a moment by a child process between its fork and its exec
        // (the descriptor is close-on-exec), so a busy lock is retried briefly before giving up.
        let mut attempts = 0;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if attempts < 20 => {
                    attempts += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Locked(dir)),
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path)(e)),
            }
        }
        if rebuild_index {
            for entry in fs::read_dir(&dir).map_err(Error::io(&dir))? {
                let path = entry.map_err(Error::io(&dir))?.path();
                if path.extension().is_some_and(|e| e == "idx") {
                    fs::remove_file(&path).map_err(Error::io(&path))?;
                }
            }
        }
        let loaded = load(&dir, false, options.max_volume_bytes)?;
        let shared = Arc::new(Shared {
            dir,
            options,
            state: RwLock::new(State {
                index: loaded.index,
                volumes: loaded.volumes,
                active_volume: None,
            }),
            maintenance: Mutex::new(()),
        });
        let writer = Writer::new(shared.clone())?;
        let (tx, rx) = mpsc::sync_channel(1024);
        let thread = std::thread::Builder::new()
            .name("lpfs-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(Error::io(&shared.dir))?;
        Ok(Self {
            shared,
            writer: Some((tx, thread)),
            recovery: loaded.report,
            _lock: Some(lock),
        })
    }

    /// Opens the store in `dir` read-only, as it is on disk now. Nothing is repaired or written;
    /// a torn tail is only skipped. Works while another process has the store open for writing.
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(Error::io(&dir)(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no store directory here",
            )));
        }
        let loaded = load(&dir, true, 0)?;
        let shared = Arc::new(Shared {
            dir,
            options: Options::default(),
            state: RwLock::new(State {
                index: loaded.index,
                volumes: loaded.volumes,
                active_volume: None,
            }),
            maintenance: Mutex::new(()),
        });
        Ok(Self {
            shared,
            writer: None,
            recovery: loaded.report,
            _lock: None,
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Whether the store was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.writer.is_none()
    }

    /// What opening the store found and repaired.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.recovery
    }

    pub(crate) fn state(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends a request to the writer and waits for its answer.
    fn ask<T>(&self, make: impl FnOnce(SyncSender<Result<T>>) -> Request) -> Result<T> {
        let (tx, _) = self.writer.as_ref().ok_or(Error::ReadOnly)?;
        let (reply, answer) = mpsc::sync_channel(1);
        tx.send(make(reply)).map_err(|_| Error::WriterGone)?;
        answer.recv().map_err(|_| Error::WriterGone)?
    }

    /// Runs `f` on the writer thread with exclusive use of it.
    pub(crate) fn exclusive<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Writer) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        self.ask(move |reply| {
            Request::Exclusive(Box::new(move |w| {
                let _ = reply.send(f(w));
            }))
        })
    }

    /// Stores many blobs with one durability point; answers in the same order.
    pub fn put_many(&self, blobs: Vec<Vec<u8>>) -> Result<Vec<PutOutcome>> {
        if self.writer.is_none() {
            return Err(Error::ReadOnly);
        }
        if let Some(big) = blobs.iter().find(|b| b.len() as u64 > MAX_BLOB_BYTES) {
            return Err(Error::TooLarge(big.len() as u64));
        }
        let hashes = hash_all(&blobs);
        let mut outcomes = Vec::with_capacity(blobs.len());
        let mut new = Vec::new();
        let mut new_at = Vec::new();
        {
            let state = self.state();
            for (i, (data, hash)) in blobs.into_iter().zip(hashes).enumerate() {
                outcomes.push(PutOutcome {
                    hash,
                    len: data.len() as u64,
                    created: false,
                });
                // Already stored: nothing to write.
                if state.index.get_exact(&hash, state.keys()).is_none() {
                    new_at.push(i);
                    new.push((hash, data));
                }
            }
        }
        if new.is_empty() {
            return Ok(outcomes);
        }
        let created = self.ask(|reply| Request::Put { blobs: new, reply })?;
        for (i, c) in new_at.into_iter().zip(created) {
            outcomes[i].created = c;
        }
        Ok(outcomes)
    }

    /// Where `hash` is, with its volume file, if it is stored.
    fn lookup(&self, hash: &BlobHash) -> Option<(Loc, Arc<VolumeFile>)> {
        let state = self.state();
        let loc = state.index.get(hash, state.keys())?;
        let vol = state.volumes.get(&loc.volume)?.file.clone();
        Some((loc, vol))
    }

    /// Like [`Store::lookup`], also telling whether the payload may be trusted without a check.
    fn lookup_checked(&self, hash: &BlobHash) -> Option<(Loc, Arc<VolumeFile>, bool)> {
        let state = self.state();
        let (loc, verified) = state.index.get_checked(hash, state.keys())?;
        let vol = state.volumes.get(&loc.volume)?.file.clone();
        Some((loc, vol, verified && !self.shared.options.verify_every_read))
    }

    fn corrupt(hash: &BlobHash, loc: Loc, reason: impl ToString) -> Error {
        Error::Corrupt {
            hash: *hash,
            volume: loc.volume,
            offset: loc.offset(),
            reason: reason.to_string(),
        }
    }

    /// What reading `hash`'s record at `loc` came to: its value, `None` when the header names
    /// another blob (a key sharing only its tag with `hash`'s: `hash` is not stored), or the
    /// damage as an error.
    fn read_as<T>(
        hash: &BlobHash,
        loc: Loc,
        read: std::result::Result<T, RecordProblem>,
    ) -> Result<Option<T>> {
        match read {
            Ok(v) => Ok(Some(v)),
            Err(RecordProblem::OtherKey) => Ok(None),
            Err(p) => Err(Self::corrupt(hash, loc, p)),
        }
    }

    /// The bytes' location of `hash`, after checking its record header.
    pub fn locate(&self, hash: &BlobHash) -> Result<Option<BlobLocation>> {
        let Some((loc, volume)) = self.lookup(hash) else {
            return Ok(None);
        };
        let checked = volume.check_header(hash, loc.offset(), u64::from(loc.len));
        Ok(Self::read_as(hash, loc, checked)?.map(|()| BlobLocation {
            volume,
            offset: loc.offset() + RECORD_HEADER_LEN,
            len: u64::from(loc.len),
        }))
    }

    /// A blob whose payload was already verified and whose pages are in memory, without any
    /// disk access (so it may be called on an async worker); `Ok(None)` when it would need the
    /// disk or a checksum (then use [`BlobStore::get`]) or is not stored.
    pub fn get_resident(&self, hash: &BlobHash) -> Result<Option<Bytes>> {
        let Some((loc, vol, trusted)) = self.lookup_checked(hash) else {
            return Ok(None);
        };
        if !trusted {
            return Ok(None);
        }
        match vol.read_resident(hash, loc.offset(), u64::from(loc.len)) {
            None => Ok(None),
            Some(read) => Self::read_as(hash, loc, read),
        }
    }

    /// Statistics of the store.
    pub fn stats(&self) -> Stats {
        let state = self.state();
        let mut s = Stats {
            volumes: state.volumes.len(),
            blobs: state.index.len() as u64,
            index_memory_bytes: state.index.memory_bytes() as u64,
            ..Stats::default()
        };
        s.live_bytes = state
            .index
            .locations()
            .map(|(_, loc)| u64::from(loc.len))
            .sum();
        for (&id, v) in &state.volumes {
            let garbage = v.size.saturating_sub(VOLUME_HEADER_LEN + v.live_bytes);
            s.volume_bytes += v.size;
            s.garbage_bytes += garbage;
            s.per_volume.push(VolumeStats {
                id,
                generation: v.file.generation,
                bytes: v.size,
                live_bytes: v.live_bytes,
                garbage_bytes: garbage,
                active: state.active_volume == Some(id),
            });
        }
        s
    }
}

/// Hashes blobs on up to four threads when there is enough to share.
fn hash_all(blobs: &[Vec<u8>]) -> Vec<BlobHash> {
    let total: usize = blobs.iter().map(Vec::len).sum();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4);
    if threads < 2 || blobs.len() < 2 || total < (4 << 20) {
        return blobs.iter().map(|b| BlobHash::of(b)).collect();
    }
    let chunk = blobs.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = blobs
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|b| BlobHash::of(b)).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some((tx, thread)) = self.writer.take() {
            drop(tx);
            if thread.join().is_err() {
                tracing::error!("the store's writer thread panicked");
            }
        }
    }
}

impl BlobStore for Store {
    fn put(&self, data: &[u8]) -> Result<PutOutcome> {
        if data.len() as u64 > MAX_BLOB_BYTES {
            return Err(Error::TooLarge(data.len() as u64));
        }
        let hash = BlobHash::of(data);
        let mut outcome = PutOutcome {
            hash,
            len: data.len() as u64,
            created: false,
        };
        if self.writer.is_none() {
            return Err(Error::ReadOnly);
        }
        {
            let state = self.state();
            if state.index.get_exact(&hash, state.keys()).is_some() {
                return Ok(outcome);
            }
        }
        let created = self.ask(|reply| Request::Put {
            blobs: vec![(hash, data.to_vec())],
            reply,
        })?;
        outcome.created = created.first().copied().unwrap_or(false);
        Ok(outcome)
    }

    fn put_many(&self, blobs: Vec<Vec<u8>>) -> Result<Vec<PutOutcome>> {
        Store::put_many(self, blobs)
    }

    fn get(&self, hash: &BlobHash) -> Result<Option<Bytes>> {
        let Some((loc, vol, trusted)) = self.lookup_checked(hash) else {
            return Ok(None);
        };
        let read = vol.read_blob(hash, loc.offset(), u64::from(loc.len), trusted);
        let Some((bytes, checked)) = Self::read_as(hash, loc, read)? else {
            return Ok(None);
        };
        if checked {
            self.state().index.mark_verified(hash, loc);
        }
        Ok(Some(bytes))
    }

    fn get_range(&self, hash: &BlobHash, range: Range<u64>) -> Result<Option<Bytes>> {
        let Some((loc, vol)) = self.lookup(hash) else {
            return Ok(None);
        };
        let len = u64::from(loc.len);
        if range.start > range.end || range.end > len {
            return Err(Error::Range {
                start: range.start,
                end: range.end,
                len,
            });
        }
        if len <= VERIFY_WHOLE_UP_TO {
            let read = vol.read_blob(hash, loc.offset(), len, false);
            return Ok(Self::read_as(hash, loc, read)?
                .map(|(whole, _)| whole.slice(range.start as usize..range.end as usize)));
        }
        if Self::read_as(hash, loc, vol.check_header(hash, loc.offset(), len))?.is_none() {
            return Ok(None);
        }
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        vol.read_exact_at(&mut buf, loc.offset() + RECORD_HEADER_LEN + range.start)
            .map_err(|p| Self::corrupt(hash, loc, p))?;
        Ok(Some(Bytes::from(buf)))
    }

    fn stat(&self, hash: &BlobHash) -> Result<Option<u64>> {
        let state = self.state();
        Ok(state
            .index
            .get_exact(hash, state.keys())
            .map(|loc| u64::from(loc.len)))
    }

    fn delete(&self, hash: &BlobHash) -> Result<bool> {
        if self.writer.is_none() {
            return Err(Error::ReadOnly);
        }
        {
            let state = self.state();
            if state.index.get_exact(hash, state.keys()).is_none() {
                return Ok(false);
            }
        }
        let found = self.ask(|reply| Request::Delete {
            keys: vec![*hash],
            reply,
        })?;
        Ok(found.first().copied().unwrap_or(false))
    }

    fn list(&self, after: Option<&BlobHash>, limit: usize) -> Result<Vec<BlobHash>> {
        let state = self.state();
        Ok(state.index.keys_after(after, limit, state.keys()))
    }

    fn locate(&self, hash: &BlobHash) -> Result<Option<BlobLocation>> {
        Store::locate(self, hash)
    }
}
