//! Compaction reclaims garbage, keeps every live blob, keeps deletes deleted, works while reads and
//! writes go on, and an interrupted compaction is rolled back or finished on open.

mod common;

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{assert_all_present, blob, small_volumes};
use lpfs::{BlobHash, BlobStore, Store};

fn fill(store: &Store, n: u64) -> Vec<(u64, usize)> {
    let blobs: Vec<(u64, usize)> = (0..n).map(|i| (i, 100 + (i as usize * 53) % 900)).collect();
    for &(s, len) in &blobs {
        store.put(&blob(s, len)).unwrap();
    }
    blobs
}

#[test]
fn compaction_reclaims_space_and_keeps_deletes_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_volumes(32 * 1024);
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let blobs = fill(&store, 300);
    let (gone, kept): (Vec<_>, Vec<_>) = blobs.iter().partition(|(s, _)| s % 3 != 0);
    for &(s, len) in &gone {
        assert!(store.delete(&BlobHash::of(&blob(s, len))).unwrap());
    }
    let before = store.stats();
    assert!(before.garbage_bytes > before.live_bytes, "{before:?}");
    let report = store.compact(0.3).unwrap();
    assert!(!report.volumes_compacted.is_empty(), "{report:?}");
    let after = store.stats();
    assert!(
        after.volume_bytes < before.volume_bytes / 2,
        "{before:?} -> {after:?}"
    );
    assert_all_present(&store, &kept);
    drop(store);
    let store = Store::open(dir.path(), opts).unwrap();
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert_all_present(&store, &kept);
    for &(s, len) in &gone {
        assert_eq!(
            store.get(&BlobHash::of(&blob(s, len))).unwrap(),
            None,
            "deleted blob {s} came back"
        );
    }
    assert!(store.fsck(false).unwrap().is_clean());
    // Only the active volume, which holds the tombstones and is never compacted, has garbage left.
    store.compact(0.0).unwrap();
    let stats = store.stats();
    assert!(
        stats
            .per_volume
            .iter()
            .all(|v| v.active || v.garbage_bytes == 0),
        "{stats:?}"
    );
}

#[test]
fn volumes_with_nothing_live_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_volumes(8 * 1024)).unwrap();
    let blobs = fill(&store, 60);
    for &(s, len) in &blobs[..30] {
        store.delete(&BlobHash::of(&blob(s, len))).unwrap();
    }
    let report = store.compact(0.0).unwrap();
    assert!(!report.volumes_removed.is_empty(), "{report:?}");
    assert!(!dir.path().join("00000001.vol").exists());
    assert_all_present(&store, &blobs[30..]);
}

#[test]
fn reads_and_writes_go_on_during_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_volumes(16 * 1024)).unwrap();
    let blobs = fill(&store, 400);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // Deleter: deletes every other blob while compaction runs.
        s.spawn(|| {
            for &(seed, len) in blobs.iter().filter(|(seed, _)| seed % 2 == 1) {
                store.delete(&BlobHash::of(&blob(seed, len))).unwrap();
            }
        });
        // Readers: every even blob must read back intact throughout.
        for t in 0..2u64 {
            let (store, blobs, stop) = (&store, &blobs, &stop);
            s.spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                while !stop.load(Ordering::Relaxed) {
                    let (seed, len) = blobs[rng.usize(0..blobs.len()) & !1];
                    let data = blob(seed, len);
                    assert_eq!(
                        store.get(&BlobHash::of(&data)).unwrap().as_deref(),
                        Some(&data[..])
                    );
                }
            });
        }
        // Writer: new blobs keep arriving.
        s.spawn(|| {
            for i in 10_000..10_200u64 {
                store.put(&blob(i, 300)).unwrap();
            }
        });
        for _ in 0..10 {
            store.compact(0.0).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
    });
    store.compact(0.0).unwrap();
    let even: Vec<_> = blobs.iter().copied().filter(|(s, _)| s % 2 == 0).collect();
    let new: Vec<_> = (10_000..10_200u64).map(|i| (i, 300)).collect();
    assert_all_present(&store, &even);
    assert_all_present(&store, &new);
    let dir_path = dir.path().to_path_buf();
    drop(store);
    let store = Store::open(&dir_path, small_volumes(16 * 1024)).unwrap();
    assert_all_present(&store, &even);
    assert_all_present(&store, &new);
    for &(s, len) in blobs.iter().filter(|(s, _)| s % 2 == 1) {
        assert_eq!(
            store.get(&BlobHash::of(&blob(s, len))).unwrap(),
            None,
            "deleted blob {s} came back"
        );
    }
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn an_interrupted_compaction_is_rolled_back_or_finished_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_volumes(8 * 1024);
    let blobs = {
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        fill(&store, 40)
    };
    // Crash before any rename: temporary files lie beside the intact volume.
    fs::write(dir.path().join("00000001.vol.compact"), b"half a volume").unwrap();
    fs::write(dir.path().join("00000001.idx.compact"), b"half an index").unwrap();
    {
        let store = Store::open(dir.path(), opts.clone()).unwrap();
        assert_eq!(store.recovery_report().compactions_rolled_back.len(), 2);
        assert!(!dir.path().join("00000001.vol.compact").exists());
        assert_all_present(&store, &blobs);
    }
    // Crash between the index's rename and the volume's: the index belongs to a generation the
    // volume does not have yet, so it is rebuilt from the volume.
    let idx = dir.path().join("00000002.idx");
    let mut bytes = fs::read(&idx).unwrap();
    bytes[16] = bytes[16].wrapping_add(1); // the generation field; the checksum now fails too
    fs::write(&idx, bytes).unwrap();
    let store = Store::open(dir.path(), opts).unwrap();
    assert_eq!(store.recovery_report().index_rebuilt, vec![2]);
    assert_all_present(&store, &blobs);
    assert!(store.fsck(false).unwrap().is_clean());
}
