//! Read-only memory maps of volume files, for zero-copy reads of blobs that are in the page cache.
//!
//! A read first asks the kernel (`mincore`) whether every page of the record is resident. If so,
//! the record is checked in place and handed out as a [`Bytes`] that keeps the map alive: no
//! system call for the bytes, no copy. If not, a small record is read with one `pread`, because a
//! fault on a cold map reads far more than the record. A large one (a page image) is brought in
//! through the map instead ([`populate`]): maps are advised `MADV_HUGEPAGE`, so the page cache
//! then holds it in large folios (up to 2 MiB), as it holds a file written in one piece. Sending
//! from large folios (`sendfile`) costs the kernel far less per byte than from 4 KiB pages, and
//! the read-around brings in the neighbouring pages of the same gallery, which a reader asks for
//! next.
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
//! `mincore` and `madvise` are only asked about memory inside a live map (`cachestat`, asked
//! first, is asked about the file). A disk error while populating is reported by `madvise`
//! (`EFAULT`), not raised as `SIGBUS`; the caller then falls back to `pread`, which reports it as
//! an error.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use memmap2::{Advice, Mmap, MmapOptions};

/// A volume's map, known by address while it lives, so that bytes handed out from it can be
/// traced back to their file and offset ([`file_range`]): a server can then send them to a
/// socket straight from the page cache (`sendfile`) instead of copying them through the process.
pub(crate) struct VolumeMap {
    mmap: Mmap,
    /// The mapped file (for asking what of it is in memory).
    file: Arc<File>,
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
    // Only advice: a kernel without large folios for this file system ignores it.
    if let Err(e) = mmap.advise(Advice::HugePage) {
        tracing::debug!(error = %e, "MADV_HUGEPAGE refused");
    }
    let handle = Arc::new(file.try_clone()?);
    let start = mmap.as_ptr() as usize;
    REGIONS
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Region {
            start,
            end: start + mmap.len(),
            file: handle.clone(),
        });
    Ok(VolumeMap { mmap, file: handle })
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
    match cached_pages(&map.file, start as u64, (end - start) as u64) {
        Some(cached) => cached == pages as u64,
        None => all_in_core(map, start, end, pages),
    }
}

/// [`resident`] by `mincore`, for `start..end` (page aligned at the start) of `pages` pages.
fn all_in_core(map: &VolumeMap, start: usize, end: usize, pages: usize) -> bool {
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

/// `cachestat`'s number: new system calls have the same number on every architecture.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
const SYS_CACHESTAT: libc::c_long = 451;

/// Whether `cachestat` may be tried; cleared when the kernel refuses it (before Linux 6.5).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
static CACHESTAT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// How many pages of `file[offset..offset + len]` are in the page cache, by `cachestat`: one
/// walk over the page cache's folios, where `mincore` looks up every 4 KiB page. `None` where
/// the kernel does not have it (then [`resident`] asks `mincore`).
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn cached_pages(file: &File, offset: u64, len: u64) -> Option<u64> {
    use std::os::fd::AsRawFd;
    use std::sync::atomic::Ordering;
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    if !CACHESTAT.load(Ordering::Relaxed) {
        return None;
    }
    let range = Range { off: offset, len };
    let mut stat = Stat::default();
    // SAFETY: `cachestat(fd, &range, &stat, 0)` reads `range` and writes `stat`, both live
    // `#[repr(C)]` values laid out as the kernel's `struct cachestat_range` and `cachestat`.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut Stat,
            0u32,
        )
    };
    if rc == 0 {
        return Some(stat.nr_cache);
    }
    tracing::debug!(error = %io::Error::last_os_error(), "cachestat refused; using mincore");
    CACHESTAT.store(false, Ordering::Relaxed);
    None
}

/// Elsewhere there is no `cachestat` to ask.
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn cached_pages(_file: &File, _offset: u64, _len: u64) -> Option<u64> {
    None
}

/// Brings every page of `map[offset..offset + len]` into memory through the map
/// (`MADV_POPULATE_READ`, Linux 5.14+); false if it could not (an older kernel, a disk error).
pub(crate) fn populate(map: &VolumeMap, offset: usize, len: usize) -> bool {
    match offset.checked_add(len) {
        Some(end) if end <= map.len() => {}
        _ => return false,
    }
    match map.mmap.advise_range(Advice::PopulateRead, offset, len) {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(error = %e, "populating a record through the map failed; using pread");
            false
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// `cachestat` and `mincore` tell the same, before and after the file's pages are dropped.
    #[test]
    fn both_ways_of_asking_what_is_in_memory_agree() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&vec![7u8; 256 << 10]).unwrap();
        file.sync_all().unwrap();
        let map = map(&file, 256 << 10).unwrap();
        let page = page_size();
        let answers = |start: usize, len: usize| {
            let end = start + len;
            let pages = (end - start).div_ceil(page);
            let by_cachestat =
                cached_pages(&map.file, start as u64, len as u64).map(|n| n == pages as u64);
            (by_cachestat, all_in_core(&map, start, end, pages))
        };
        // Just written: in memory, by both.
        let (stat, core) = answers(0, 256 << 10);
        assert!(core);
        assert!(stat.is_none_or(|s| s), "cachestat disagrees: {stat:?}");
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
        let (stat, core) = answers(64 << 10, 64 << 10);
        assert!(!core);
        assert!(stat.is_none_or(|s| !s), "cachestat disagrees: {stat:?}");
        assert!(!resident(&map, 64 << 10, 64 << 10));
        // Brought back in through the map, by `populate`.
        assert!(populate(&map, 64 << 10, 64 << 10));
        assert!(resident(&map, 64 << 10, 64 << 10));
        let (stat, core) = answers(64 << 10, 64 << 10);
        assert!(core);
        assert!(stat.is_none_or(|s| s), "cachestat disagrees: {stat:?}");
    }
}
