//! Damage is detected on read and by fsck, never returned as good, and repair sets it aside.

mod common;

use std::fs;
use std::os::unix::fs::FileExt;

use common::{assert_all_present, blob, small_volumes};
use lpfs::{BlobHash, BlobStore, Error, Store};

fn flip_byte(path: &std::path::Path, offset: u64) {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8; 1];
    f.read_exact_at(&mut b, offset).unwrap();
    b[0] ^= 0x5a;
    f.write_all_at(&b, offset).unwrap();
}

#[test]
fn a_flipped_payload_byte_is_caught_reported_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_volumes(16 * 1024);
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let blobs: Vec<(u64, usize)> = (0..50).map(|i| (i, 700)).collect();
    for &(s, len) in &blobs {
        store.put(&blob(s, len)).unwrap();
    }
    let victim = BlobHash::of(&blob(3, 700));
    let loc = store.locate(&victim).unwrap().unwrap();
    drop(store);
    flip_byte(&dir.path().join("00000001.vol"), loc.offset + 100);

    let store = Store::open(dir.path(), opts.clone()).unwrap();
    match store.get(&victim) {
        Err(Error::Corrupt { hash, .. }) => assert_eq!(hash, victim),
        other => panic!("a damaged blob was returned: {other:?}"),
    }
    assert!(
        store.get_range(&victim, 0..10).is_err(),
        "a range of a damaged blob was returned"
    );
    let report = store.fsck(false).unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.missing, vec![victim]);
    assert_eq!(report.damaged.len(), 1);
    assert_eq!(report.damaged[0].hash, Some(victim));
    assert!(!report.repaired);

    let report = store.fsck(true).unwrap();
    assert!(report.repaired);
    assert!(dir.path().join("lost+found").read_dir().unwrap().count() >= 1);
    assert_eq!(
        store.get(&victim).unwrap(),
        None,
        "the damaged blob is no longer served"
    );
    // Storing it again heals it, and the store is clean after repair.
    assert!(store.put(&blob(3, 700)).unwrap().created);
    let after = store.fsck(false).unwrap();
    assert!(after.is_clean(), "{after:?}");
    let others: Vec<_> = blobs.iter().copied().filter(|&(s, _)| s != 3).collect();
    assert_all_present(&store, &others);
    drop(store);
    let store = Store::open(dir.path(), opts).unwrap();
    assert_all_present(&store, &blobs);
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn a_damaged_header_is_caught_and_the_scan_resynchronises() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_volumes(64 * 1024)).unwrap();
    let blobs: Vec<(u64, usize)> = (0..20).map(|i| (i, 300 + i as usize)).collect();
    for &(s, len) in &blobs {
        store.put(&blob(s, len)).unwrap();
    }
    let victim = BlobHash::of(&blob(5, 305));
    let loc = store.locate(&victim).unwrap().unwrap();
    drop(store);
    // The record header sits just before the payload; damage its length field.
    flip_byte(&dir.path().join("00000001.vol"), loc.offset - 56 + 41);
    let store = Store::open(dir.path(), small_volumes(64 * 1024)).unwrap();
    assert!(matches!(store.get(&victim), Err(Error::Corrupt { .. })));
    let report = store.fsck(false).unwrap();
    assert_eq!(report.missing, vec![victim]);
    assert_eq!(report.damaged.len(), 1, "{report:?}");
    assert_eq!(report.damaged[0].hash, None);
    // Every record after the damaged one is still found and checked.
    assert_eq!(report.records_checked, 19);
    store.fsck(true).unwrap();
    let others: Vec<_> = blobs.iter().copied().filter(|&(s, _)| s != 5).collect();
    assert_all_present(&store, &others);
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn payloads_are_checked_once_in_memory_or_every_time_when_asked() {
    for every_read in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let opts = lpfs::Options {
            verify_every_read: every_read,
            ..lpfs::Options::default()
        };
        let data = blob(1, 9000);
        let hash = {
            let store = Store::open(dir.path(), opts.clone()).unwrap();
            store.put(&data).unwrap().hash
        };
        let store = Store::open(dir.path(), opts).unwrap();
        assert_eq!(
            store.get(&hash).unwrap().as_deref(),
            Some(&data[..]),
            "first read checks and passes"
        );
        // Damage the bytes in the page cache itself, after the blob was checked once.
        let loc = store.locate(&hash).unwrap().unwrap();
        flip_byte(&dir.path().join("00000001.vol"), loc.offset + 4000);
        let second = store.get(&hash);
        if every_read {
            assert!(
                matches!(second, Err(Error::Corrupt { .. })),
                "every read is checked: {second:?}"
            );
        } else {
            // The documented trade-off: a payload checked once is trusted while it stays in memory.
            assert!(second.is_ok());
        }
        // fsck always reads and checks everything.
        assert_eq!(store.fsck(false).unwrap().missing, vec![hash]);
    }
}

/// Drops the file's clean pages from the page cache, as if it had not been read since a reboot.
fn evict(path: &std::path::Path) {
    let f = fs::File::open(path).unwrap();
    f.sync_all().unwrap();
    rustix::fs::fadvise(&f, 0, None, rustix::fs::Advice::DontNeed).unwrap();
}

/// Whether any byte of `path[offset..offset + len]` is in the page cache: every page of the
/// range must be absent for the test to mean what it says.
#[allow(unsafe_code)]
fn any_cached(path: &std::path::Path, offset: u64, len: u64) -> bool {
    let f = fs::File::open(path).unwrap();
    // SAFETY: the map is only asked about by `mincore`, never read.
    let map = unsafe { memmap2::Mmap::map(&f) }.unwrap();
    let page = 4096;
    let start = (offset / page * page) as usize;
    let end = (offset + len) as usize;
    let mut status = vec![0u8; (end - start).div_ceil(page as usize)];
    // SAFETY: `start..end` lies inside `map` (page aligned, as maps are) and `status` has a byte
    // for each of its pages.
    let rc = unsafe {
        libc::mincore(
            map.as_ptr().add(start) as *mut libc::c_void,
            end - start,
            status.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0);
    status.iter().any(|s| s & 1 == 1)
}

/// A store holding `data` and then a small blob, reopened with the volume out of memory and,
/// if `damage`, one byte of `data`'s middle flipped on the disk.
fn stored_on_disk_only(data: &[u8], damage: bool) -> (tempfile::TempDir, Store, BlobHash) {
    let dir = tempfile::tempdir().unwrap();
    let (hash, offset) = {
        let store = Store::open(dir.path(), lpfs::Options::default()).unwrap();
        // Opening reads the volume's header, and the kernel reads ahead of it: a filler first.
        store.put(&blob(98, 1 << 20)).unwrap();
        let hash = store.put(data).unwrap().hash;
        // Opening reads the last record whole; this small one is it.
        store.put(&blob(99, 100)).unwrap();
        (hash, store.locate(&hash).unwrap().unwrap().offset)
    };
    let volume = dir.path().join("00000001.vol");
    if damage {
        flip_byte(&volume, offset + data.len() as u64 / 2);
    }
    evict(&volume);
    let store = Store::open(dir.path(), lpfs::Options::default()).unwrap();
    // The header may have been read; the payload's middle is on the disk only.
    assert!(!any_cached(
        &volume,
        offset + 8192,
        data.len() as u64 - 16384
    ));
    (dir, store, hash)
}

#[test]
fn a_large_blob_read_from_the_disk_comes_through_the_map_checked_whole() {
    let data = blob(1, 1 << 20);
    let (_dir, store, hash) = stored_on_disk_only(&data, false);
    let got = store.get(&hash).unwrap().unwrap();
    assert!(got == data[..], "the bytes read back are the ones stored");
    assert!(
        lpfs::mapped_file_range(got.as_ptr(), got.len()).is_some(),
        "a large blob read from the disk is handed out from the map, not copied"
    );
    // Now in memory and checked: the next read needs neither the disk nor a checksum.
    let again = store.get_resident(&hash).unwrap().unwrap();
    assert!(again == data[..]);

    // A damaged one is brought in the same way, and its checksum catches the flipped byte.
    let data = blob(2, 600 << 10);
    let (_dir, store, hash) = stored_on_disk_only(&data, true);
    match store.get(&hash) {
        Err(Error::Corrupt { hash: h, .. }) => assert_eq!(h, hash),
        other => panic!("a damaged large blob was returned: {other:?}"),
    }
    assert_eq!(store.get_resident(&hash).unwrap(), None);
    assert!(store.get_range(&hash, 0..10).is_err());
}

/// A large group goes to the disk by direct I/O, its partial first and last pages through the
/// page cache; once durable those are dropped too, so that a later read can bring the whole
/// stretch in as large folios. (Needs a file system with `O_DIRECT`, as ext4 and XFS have.)
#[test]
fn a_group_written_by_direct_io_leaves_nothing_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), lpfs::Options::default()).unwrap();
    let data = blob(5, 1 << 20);
    store.put(&data).unwrap();
    let volume = dir.path().join("00000001.vol");
    let len = fs::metadata(&volume).unwrap().len();
    assert!(
        !any_cached(&volume, 8192, 512 << 10),
        "the middle went by direct I/O"
    );
    assert!(!any_cached(&volume, 0, 10), "the first page was dropped");
    assert!(
        !any_cached(&volume, len - 10, 10),
        "the last page was dropped"
    );
    // And it reads back whole.
    assert!(store.get(&BlobHash::of(&data)).unwrap().unwrap() == data[..]);
}
