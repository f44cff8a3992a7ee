//! Read-only memory maps of volume files, for zero-copy reads of blobs that are in the page cache.
//!
//! A read first asks the kernel (`mincore`) whether every page of the record is resident. If so,
//! the record is checked in place and handed out as a [`Bytes`] that keeps the map alive: no
//! system call for the bytes, no copy. If not, the caller reads it with one `pread` instead,
//! because a fault on a cold map reads far more than the record and costs several times a `pread`.
//!
//! # Why this module uses `unsafe`
//! Mapping a file is unsafe because the mapped bytes can change, or vanish (`SIGBUS`), if the file
//! is modified or truncated underneath. LittlePandaFS upholds what makes it sound:
//! - bytes of a volume below its durable length are never rewritten or truncated while the store
//!   is open (volumes are append-only; compaction writes a new file and renames it over the old
//!   one, whose inode stays alive while mapped; recovery truncates only before anything is mapped);
//! - only bytes below the durable length are ever read through a map, even though an active
//!   volume is mapped further ahead so that it need not be remapped as it grows;
//! - the store directory belongs to LittlePanda: the lock file keeps other writers out, and
//!   changing volume files by hand while the store is open is outside what it promises.
//!
//! `mincore` is only asked about memory inside a live map.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use memmap2::{Mmap, MmapOptions};

/// A volume's map, known by address while it lives, so that bytes handed out from it can be
/// traced back to their file and offset ([`file_range`]): a server can then send them to a
/// socket straight from the page cache (`sendfile`) instead of copying them through the process.
pub(crate) struct VolumeMap {
    mmap: Mmap,
}

impl std::ops::Deref for VolumeMap {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.mmap
    }
}

impl Drop for VolumeMap {
    fn drop(&mut self) {
        let start = self.mmap.as_ptr() as usize;
        REGIONS
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|r| r.start != start);
    }
}

/// A live map's address range and its own handle on the file.
struct Region {
    start: usize,
    end: usize,
    file: Arc<File>,
}

static REGIONS: RwLock<Vec<Region>> = RwLock::new(Vec::new());

/// Maps `len` bytes of `file` read-only. `len` may exceed the file's length; bytes past its end
/// must not be read.
pub(crate) fn map(file: &File, len: u64) -> io::Result<VolumeMap> {
    let len = usize::try_from(len).map_err(|_| io::Error::other("volume too large to map"))?;
    // SAFETY: see the module documentation: mapped bytes below the durable length never change
    // while mapped, and nothing past it is read.
    let mmap = unsafe { MmapOptions::new().len(len).map(file) }?;
    let handle = Arc::new(file.try_clone()?);
    let start = mmap.as_ptr() as usize;
    REGIONS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Region {
            start,
            end: start + mmap.len(),
            file: handle,
        });
    Ok(VolumeMap { mmap })
}

/// The volume file and offset that `len` bytes at `ptr` were mapped from, when they lie in a live
/// map of this store (as blobs read from memory do), else `None`. The bytes at that offset are
/// the ones at `ptr` and do not change: volumes are append-only.
pub fn file_range(ptr: *const u8, len: usize) -> Option<(Arc<File>, u64)> {
    let at = ptr as usize;
    let end = at.checked_add(len)?;
    REGIONS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|r| r.start <= at && end <= r.end)
        .map(|r| (r.file.clone(), (at - r.start) as u64))
}

fn page_size() -> usize {
    rustix::param::page_size()
}

/// Whether every page holding `map[offset..offset + len]` is in the page cache.
pub(crate) fn resident(map: &VolumeMap, offset: usize, len: usize) -> bool {
    let page = page_size();
    let start = offset - offset % page;
    let end = match offset.checked_add(len.max(1)) {
        Some(e) if e <= map.len() => e,
        _ => return false,
    };
    let pages = (end - start).div_ceil(page);
    let mut small = [0u8; 64];
    let mut large = Vec::new();
    let status: &mut [u8] = if pages <= small.len() {
        &mut small[..pages]
    } else {
        large.resize(pages, 0);
        &mut large
    };
    // SAFETY: `start..end` lies inside the live mapping `map` (checked above, `start` is page
    // aligned because the map is), and `status` has one byte per page of that range.
    let rc = unsafe {
        libc::mincore(
            map.as_ptr().add(start) as *mut libc::c_void,
            end - start,
            status.as_mut_ptr(),
        )
    };
    rc == 0 && status.iter().all(|s| s & 1 == 1)
}

/// A slice of a map that keeps the map alive; the owner of a zero-copy [`Bytes`].
struct MapSlice {
    map: Arc<VolumeMap>,
    start: usize,
    len: usize,
}

impl AsRef<[u8]> for MapSlice {
    fn as_ref(&self) -> &[u8] {
        &self.map[self.start..self.start + self.len]
    }
}

/// `map[start..start + len]` as `Bytes`, without copying.
pub(crate) fn bytes(map: Arc<VolumeMap>, start: usize, len: usize) -> Bytes {
    Bytes::from_owner(MapSlice { map, start, len })
}
