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
