//! The store's single writer: one thread that appends records to the active volume and makes them
//! durable in groups, so that concurrent and batched puts share one `fdatasync`.
//!
//! Order of a commit: records are written to the volume, the volume is synced, the entries are
//! appended to its index log (not synced: the volume is the truth and recovery re-derives missing
//! entries), the in-memory index is updated, and only then are the callers answered.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::{Arc, PoisonError};

use crate::error::{Error, Result};
use crate::format::{
    IndexEntry, IndexEntryKind, RECORD_HEADER_LEN, RecordHeader, Tombstone, record_size,
};
use crate::hash::BlobHash;
use crate::index::Loc;
use crate::open::VolumeInfo;
use crate::store::Shared;
use crate::store::State;
use crate::volume::{FIRST_RECORD, VolumeFile, index_path, volume_path};

/// Work for the writer thread.
pub(crate) enum Request {
    /// Store these blobs; answers, per blob, whether it was newly written.
    Put {
        blobs: Vec<(BlobHash, Vec<u8>)>,
        reply: SyncSender<Result<Vec<bool>>>,
    },
    /// Delete these blobs; answers, per blob, whether it was there.
    Delete {
        keys: Vec<BlobHash>,
        reply: SyncSender<Result<Vec<bool>>>,
    },
    /// Runs with exclusive use of the writer (compaction's commit, repairs).
    Exclusive(Box<dyn FnOnce(&mut Writer) + Send>),
}

/// The volume being appended to.
struct Active {
    vol: Arc<VolumeFile>,
    /// Durable length of the volume.
    size: u64,
    index_log: File,
    /// The volume opened for direct I/O (`O_DIRECT`), when the file system supports it: large
    /// appends then go to the disk without being copied into the page cache first.
    direct: Option<File>,
}

/// Alignment of offsets, lengths and memory for direct I/O.
const DIRECT_ALIGN: u64 = 4096;
/// Appends shorter than this go through the page cache.
const DIRECT_MIN: u64 = 256 << 10;

fn open_direct(path: &std::path::Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let flags = rustix::fs::OFlags::DIRECT.bits() as i32;
    OpenOptions::new()
        .write(true)
        .custom_flags(flags)
        .open(path)
        .ok()
}

/// Encoded records waiting to be written, placed so that the bytes bound for a 4096-aligned file
/// offset sit at a 4096-aligned memory address, as direct I/O requires.
struct GroupBuf {
    raw: Vec<u8>,
    /// Index in `raw` of the byte bound for `file_start`.
    base: usize,
    file_start: u64,
    len: usize,
}

impl GroupBuf {
    fn new() -> Self {
        Self {
            raw: Vec::new(),
            base: 0,
            file_start: 0,
            len: 0,
        }
    }

    fn placement(raw: &[u8], file_start: u64) -> usize {
        raw.as_ptr().align_offset(DIRECT_ALIGN as usize) + (file_start % DIRECT_ALIGN) as usize
    }

    /// Empties the buffer; the next byte is bound for `file_start`.
    fn reset(&mut self, file_start: u64) {
        self.file_start = file_start;
        self.len = 0;
        self.base = Self::placement(&self.raw, file_start);
    }

    fn extend(&mut self, bytes: &[u8]) {
        let need = self.base + self.len + bytes.len();
        if need > self.raw.len() {
            let size =
                (need + 2 * DIRECT_ALIGN as usize).max(WRITE_CHUNK + 2 * DIRECT_ALIGN as usize);
            let mut raw = vec![0u8; size.max(self.raw.len() * 2)];
            let base = Self::placement(&raw, self.file_start);
            if self.len > 0 {
                raw[base..base + self.len]
                    .copy_from_slice(&self.raw[self.base..self.base + self.len]);
            }
            self.raw = raw;
            self.base = base;
        }
        let at = self.base + self.len;
        self.raw[at..at + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    fn bytes(&self) -> &[u8] {
        &self.raw[self.base..self.base + self.len]
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// State owned by the writer thread.
pub(crate) struct Writer {
    pub shared: Arc<Shared>,
    active: Option<Active>,
    next_volume_id: u32,
    /// Records encoded but not yet written, starting at `active.size + unsynced`.
    buf: GroupBuf,
    /// Index-log entries for the records in `buf` (all in the active volume).
    pending: Vec<IndexEntry>,
    /// Bytes of the group already written to the volume but not yet synced.
    unsynced: u64,
    /// Some of the group went by direct I/O: its edges, written through the page cache as 4 KiB
    /// pages, are dropped from memory once durable (see [`Writer::commit`]).
    wrote_direct: bool,
    /// The effect of not-yet-committed records on the index: `Some` = put, `None` = deleted.
    overlay: HashMap<BlobHash, Option<Loc>, crate::hash::BlobHashState>,
}

/// Encoded bytes kept in memory before they are written out (the fsync still waits for the group).
const WRITE_CHUNK: usize = 8 << 20;
/// A group is closed once it holds this many payload bytes.
const GROUP_BYTES: usize = 64 << 20;

impl Writer {
    pub fn new(shared: Arc<Shared>) -> Result<Self> {
        let (active, next_volume_id) = {
            let state = shared.state.read().unwrap_or_else(PoisonError::into_inner);
            // Ids only grow: not even a volume set aside in `lost+found` gives its id up.
            let next = state
                .volumes
                .keys()
                .next_back()
                .copied()
                .unwrap_or(0)
                .max(crate::open::highest_id_set_aside(&shared.dir))
                + 1;
            let active = match state.volumes.iter().next_back() {
                Some((&id, info)) if info.size < shared.options.max_volume_bytes => {
                    let path = index_path(&shared.dir, id);
                    let index_log = OpenOptions::new()
                        .append(true)
                        .open(&path)
                        .map_err(Error::io(&path))?;
                    let direct = open_direct(&info.file.path);
                    Some(Active {
                        vol: info.file.clone(),
                        size: info.size,
                        index_log,
                        direct,
                    })
                }
                _ => None,
            };
            (active, next)
        };
        let mut state = shared.state.write().unwrap_or_else(PoisonError::into_inner);
        state.active_volume = active.as_ref().map(|a| a.vol.id);
        drop(state);
        Ok(Self {
            shared,
            active,
            next_volume_id,
            buf: GroupBuf::new(),
            pending: Vec::new(),
            unsynced: 0,
            wrote_direct: false,
            overlay: HashMap::default(),
        })
    }

    /// The thread's loop: take a request, gather what else is waiting, commit them together.
    pub fn run(mut self, rx: Receiver<Request>) {
        let mut waiting: Option<Request> = None;
        loop {
            let first = match waiting.take() {
                Some(r) => r,
                None => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            if let Request::Exclusive(f) = first {
                f(&mut self);
                continue;
            }
            let mut group = vec![first];
            let mut bytes = 0usize;
            while bytes < GROUP_BYTES && group.len() < 4096 {
                match rx.try_recv() {
                    Ok(Request::Exclusive(f)) => {
                        waiting = Some(Request::Exclusive(f));
                        break;
                    }
                    Ok(r) => {
                        if let Request::Put { blobs, .. } = &r {
                            bytes += blobs.iter().map(|(_, d)| d.len()).sum::<usize>();
                        }
                        group.push(r);
                    }
                    Err(_) => break,
                }
            }
            self.process(group);
        }
        if let Some(a) = &self.active
            && let Err(e) = a.index_log.sync_all()
        {
            tracing::warn!(error = %e, "could not sync the index log at shutdown; it is rebuilt on open");
        }
    }

    fn process(&mut self, group: Vec<Request>) {
        let mut answers: Vec<Vec<bool>> = Vec::with_capacity(group.len());
        let mut result = Ok(());
        for req in &group {
            let answer = match req {
                Request::Put { blobs, .. } => blobs
                    .iter()
                    .map(|(key, data)| self.put_one(*key, data))
                    .collect(),
                Request::Delete { keys, .. } => {
                    keys.iter().map(|key| self.delete_one(key)).collect()
                }
                Request::Exclusive(_) => Ok(Vec::new()),
            };
            match answer {
                Ok(a) => answers.push(a),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.is_ok() {
            result = self.commit();
        }
        if result.is_err() {
            self.abandon();
        }
        let mut answers = answers.into_iter();
        for req in group {
            let reply = match req {
                Request::Put { reply, .. } | Request::Delete { reply, .. } => reply,
                Request::Exclusive(_) => continue,
            };
            let answer = match &result {
                Ok(()) => Ok(answers.next().unwrap_or_default()),
                Err(e) => Err(clone_error(e)),
            };
            // The caller may have gone away; its blobs are stored all the same.
            let _ = reply.send(answer);
        }
    }

    fn lookup(&self, key: &BlobHash) -> Option<Loc> {
        if let Some(o) = self.overlay.get(key) {
            return *o;
        }
        let state = self
            .shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        state.index.get_exact(key, state.keys())
    }

    fn generation_of(&self, volume: u32) -> u32 {
        if let Some(a) = &self.active
            && a.vol.id == volume
        {
            return a.vol.generation;
        }
        let state = self
            .shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        state.volumes.get(&volume).map_or(0, |v| v.file.generation)
    }

    fn put_one(&mut self, key: BlobHash, data: &[u8]) -> Result<bool> {
        if self.lookup(&key).is_some() {
            return Ok(false);
        }
        let header = RecordHeader::for_blob(key, data);
        let offset = self.reserve(record_size(header.len))?;
        self.encode(&header, data);
        let len = data.len() as u64;
        self.pending.push(IndexEntry {
            key,
            offset,
            kind: IndexEntryKind::Blob { len },
        });
        let volume = self.active_id();
        self.overlay
            .insert(key, Some(Loc::new(volume, offset, len as u32)));
        self.write_out_if_full()?;
        Ok(true)
    }

    fn delete_one(&mut self, key: &BlobHash) -> Result<bool> {
        let Some(loc) = self.lookup(key) else {
            return Ok(false);
        };
        let tombstone = Tombstone {
            target_volume: loc.volume,
            target_generation: self.generation_of(loc.volume),
            target_offset: loc.offset(),
        };
        self.append_tombstone(*key, tombstone)?;
        Ok(true)
    }

    /// Appends a tombstone for `key` to the group.
    pub fn append_tombstone(&mut self, key: BlobHash, tombstone: Tombstone) -> Result<()> {
        let header = tombstone.header(key);
        let offset = self.reserve(record_size(header.len))?;
        self.encode(&header, &tombstone.encode());
        self.pending.push(IndexEntry {
            key,
            offset,
            kind: IndexEntryKind::Tombstone(tombstone),
        });
        self.overlay.insert(key, None);
        Ok(())
    }

    /// Appends a record (header, payload, padding) to the group's buffer.
    fn encode(&mut self, header: &RecordHeader, payload: &[u8]) {
        if self.buf.is_empty() {
            let start = self.active.as_ref().map_or(0, |a| a.size + self.unsynced);
            self.buf.reset(start);
        }
        self.buf.extend(&header.encode());
        self.buf.extend(payload);
        let pad = record_size(header.len) - RECORD_HEADER_LEN - header.len;
        self.buf.extend(&[0u8; 8][..pad as usize]);
    }

    fn active_id(&self) -> u32 {
        self.active.as_ref().map_or(0, |a| a.vol.id)
    }

    /// Makes room for a record of `size` bytes, sealing the active volume and starting a new one
    /// when it would grow past the limit, and returns the record's offset.
    fn reserve(&mut self, size: u64) -> Result<u64> {
        let max = self.shared.options.max_volume_bytes;
        let buffered = self.unsynced + self.buf.len as u64;
        let fits = |a: &Active| {
            let end = a.size + buffered;
            end == FIRST_RECORD || end + size <= max
        };
        match &self.active {
            Some(a) if fits(a) => {}
            _ => {
                self.commit()?;
                self.seal()?;
                self.start_volume()?;
            }
        }
        let a = self.active.as_ref().ok_or(Error::WriterGone)?;
        Ok(a.size + self.unsynced + self.buf.len as u64)
    }

    fn write_out_if_full(&mut self) -> Result<()> {
        if self.buf.len >= WRITE_CHUNK {
            self.write_out()?;
        }
        Ok(())
    }

    /// Writes buffered records to the active volume (without syncing). The whole 4 KiB blocks in
    /// the middle of a large write go by direct I/O; the partial blocks at either end, which may
    /// share a page with other records, go through the page cache.
    fn write_out(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let a = self.active.as_mut().ok_or(Error::WriterGone)?;
        let start = self.buf.file_start;
        debug_assert_eq!(start, a.size + self.unsynced);
        let end = start + self.buf.len as u64;
        let bytes = self.buf.bytes();
        let path = &a.vol.path;
        let head_end = start.next_multiple_of(DIRECT_ALIGN);
        let tail_start = end - end % DIRECT_ALIGN;
        let mut written_direct = false;
        if let Some(direct) = &a.direct
            && tail_start > head_end
            && tail_start - head_end >= DIRECT_MIN
        {
            let (h, t) = ((head_end - start) as usize, (tail_start - start) as usize);
            a.vol
                .file
                .write_all_at(&bytes[..h], start)
                .map_err(Error::io(path))?;
            match direct.write_all_at(&bytes[h..t], head_end) {
                Ok(()) => {
                    a.vol
                        .file
                        .write_all_at(&bytes[t..], tail_start)
                        .map_err(Error::io(path))?;
                    written_direct = true;
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                    tracing::debug!(
                        volume = a.vol.id,
                        "direct I/O refused; using the page cache"
                    );
                    a.direct = None;
                }
                Err(e) => return Err(Error::io(path)(e)),
            }
        }
        if !written_direct {
            a.vol
                .file
                .write_all_at(bytes, start)
                .map_err(Error::io(path))?;
        }
        self.unsynced += self.buf.len as u64;
        self.wrote_direct |= written_direct;
        self.buf.reset(end);
        Ok(())
    }

    /// Makes every record of the group durable, logs it and publishes it to readers.
    pub fn commit(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.write_out()?;
        let a = self.active.as_mut().ok_or(Error::WriterGone)?;
        a.vol.file.sync_data().map_err(Error::io(&a.vol.path))?;
        if std::mem::take(&mut self.wrote_direct) {
            // The group's middle is not in memory (direct I/O), but its first and last pages
            // are, as small pages. Dropped now that they are clean, they no longer stop a later
            // read from bringing the whole stretch in as large folios (`mapped`). Only advice:
            // pages someone has mapped stay. The range starts at a page boundary because the
            // kernel keeps a page the range covers only in part.
            let from = a.size - a.size % DIRECT_ALIGN;
            let _ = rustix::fs::fadvise(
                &a.vol.file,
                from,
                std::num::NonZeroU64::new(a.size + self.unsynced - from),
                rustix::fs::Advice::DontNeed,
            );
        }
        let mut log = Vec::with_capacity(self.pending.len() * 64);
        for e in &self.pending {
            log.extend_from_slice(&e.encode());
        }
        let log_path = index_path(&self.shared.dir, a.vol.id);
        a.index_log.write_all(&log).map_err(Error::io(&log_path))?;
        a.size += self.unsynced;
        self.unsynced = 0;
        let (id, size) = (a.vol.id, a.size);
        let mut state = self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (key, change) in self.overlay.drain() {
            let State { index, volumes, .. } = &mut *state;
            let key_at = |loc| crate::store::key_at(volumes, loc);
            let old = match change {
                Some(loc) => index.insert(key, loc, key_at),
                None => index.remove(&key, key_at),
            };
            if let Some(old) = old
                && let Some(v) = state.volumes.get_mut(&old.volume)
            {
                v.live_bytes -= record_size(u64::from(old.len));
            }
            if let Some(loc) = change
                && let Some(v) = state.volumes.get_mut(&loc.volume)
            {
                v.live_bytes += record_size(u64::from(loc.len));
            }
        }
        if let Some(v) = state.volumes.get_mut(&id) {
            v.size = size;
        }
        self.pending.clear();
        Ok(())
    }

    /// Forgets a failed group: its records are not acknowledged, and the next group overwrites
    /// whatever of them reached the volume.
    fn abandon(&mut self) {
        self.pending.clear();
        self.overlay.clear();
        self.unsynced = 0;
        // Whatever reached the file past the durable length is overwritten by the next group (or
        // cut off by recovery); it is never truncated here, since readers may have it mapped.
        let start = self.active.as_ref().map_or(0, |a| a.size);
        self.buf.reset(start);
    }

    /// Commits what is pending and closes the active volume, so that compaction may rewrite it;
    /// the next write starts a new volume.
    pub fn seal_active(&mut self) -> Result<()> {
        self.commit()?;
        self.seal()?;
        let mut state = self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        state.active_volume = None;
        Ok(())
    }

    /// Closes the active volume for appends.
    fn seal(&mut self) -> Result<()> {
        if let Some(a) = self.active.take() {
            let log_path = index_path(&self.shared.dir, a.vol.id);
            a.index_log.sync_all().map_err(Error::io(&log_path))?;
        }
        Ok(())
    }

    /// Reopens the active volume's index log after it was rewritten under a new inode.
    pub fn reopen_index_log(&mut self) -> Result<()> {
        if let Some(a) = &mut self.active {
            let path = index_path(&self.shared.dir, a.vol.id);
            a.index_log = OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(Error::io(&path))?;
        }
        Ok(())
    }

    fn start_volume(&mut self) -> Result<()> {
        let id = self.next_volume_id;
        let dir = &self.shared.dir;
        let ahead = self.shared.options.max_volume_bytes;
        let vol = Arc::new(VolumeFile::create(
            dir,
            volume_path(dir, id),
            index_path(dir, id),
            id,
            0,
            ahead,
        )?);
        let log_path = index_path(dir, id);
        let index_log = OpenOptions::new()
            .append(true)
            .open(&log_path)
            .map_err(Error::io(&log_path))?;
        self.next_volume_id += 1;
        let mut state = self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        state.volumes.insert(
            id,
            VolumeInfo {
                file: vol.clone(),
                size: FIRST_RECORD,
                live_bytes: 0,
            },
        );
        state.active_volume = Some(id);
        drop(state);
        let direct = open_direct(&vol.path);
        self.active = Some(Active {
            vol,
            size: FIRST_RECORD,
            index_log,
            direct,
        });
        Ok(())
    }
}

/// Errors go to every caller of a failed group; `io::Error` is not `Clone`, so it is rebuilt.
fn clone_error(e: &Error) -> Error {
    match e {
        Error::Io { path, source } => Error::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::Locked(p) => Error::Locked(p.clone()),
        Error::ReadOnly => Error::ReadOnly,
        Error::Corrupt {
            hash,
            volume,
            offset,
            reason,
        } => Error::Corrupt {
            hash: *hash,
            volume: *volume,
            offset: *offset,
            reason: reason.clone(),
        },
        Error::TooLarge(n) => Error::TooLarge(*n),
        Error::Range { start, end, len } => Error::Range {
            start: *start,
            end: *end,
            len: *len,
        },
        Error::Options(s) => Error::Options(s.clone()),
        Error::WriterGone => Error::WriterGone,
    }
}
