//! The store's behaviour as its callers see it: put, get, ranges, delete, list, reopen, locking.

mod common;

use common::{blob, open, small_volumes};
use lpfs::{BlobHash, BlobStore, Error, Store};

#[test]
fn put_get_round_trip_and_idempotence() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let data = blob(1, 5000);
    let first = store.put(&data).unwrap();
    assert!(first.created);
    assert_eq!(first.hash, BlobHash::of(&data));
    assert_eq!(first.len, 5000);
    let before = store.stats().volume_bytes;
    let again = store.put(&data).unwrap();
    assert!(!again.created, "a stored blob is not written again");
    assert_eq!(store.stats().volume_bytes, before);
    assert_eq!(store.get(&first.hash).unwrap().unwrap(), data);
    assert_eq!(store.stat(&first.hash).unwrap(), Some(5000));
    assert_eq!(store.get(&BlobHash::of(b"nope")).unwrap(), None);
    // The empty blob is a blob too.
    let empty = store.put(b"").unwrap();
    assert_eq!(store.get(&empty.hash).unwrap().unwrap(), Vec::<u8>::new());
}

#[test]
fn ranges() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let data = blob(2, 1000);
    let h = store.put(&data).unwrap().hash;
    assert_eq!(store.get_range(&h, 0..10).unwrap().unwrap(), &data[..10]);
    assert_eq!(
        store.get_range(&h, 990..1000).unwrap().unwrap(),
        &data[990..]
    );
    assert_eq!(
        store.get_range(&h, 500..500).unwrap().unwrap(),
        Vec::<u8>::new()
    );
    assert!(matches!(
        store.get_range(&h, 10..1001),
        Err(Error::Range { .. })
    ));
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 20..10;
    assert!(matches!(
        store.get_range(&h, backwards),
        Err(Error::Range { .. })
    ));
}

#[test]
fn batches_deletes_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let blobs: Vec<Vec<u8>> = (0..300)
        .map(|i| blob(i, 100 + (i as usize * 37) % 3000))
        .collect();
    let hashes: Vec<BlobHash> = {
        let store = Store::open(dir.path(), small_volumes(64 * 1024)).unwrap();
        let out = store.put_many(blobs.clone()).unwrap();
        assert!(out.iter().all(|o| o.created));
        assert!(
            store.stats().volumes > 5,
            "small volumes were sealed and new ones started"
        );
        for o in out.iter().step_by(3) {
            assert!(store.delete(&o.hash).unwrap());
            assert!(
                !store.delete(&o.hash).unwrap(),
                "a second delete finds nothing"
            );
        }
        out.iter().map(|o| o.hash).collect()
    };
    let store = Store::open(dir.path(), small_volumes(64 * 1024)).unwrap();
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    for (i, h) in hashes.iter().enumerate() {
        let got = store.get(h).unwrap();
        if i % 3 == 0 {
            assert_eq!(got, None, "deleted blob {i} came back");
        } else {
            assert_eq!(got.as_deref(), Some(&blobs[i][..]));
        }
    }
    assert_eq!(store.stats().blobs, 200);
    // A deleted blob can be stored again.
    assert!(store.put(&blobs[0]).unwrap().created);
    assert_eq!(
        store.get(&hashes[0]).unwrap().as_deref(),
        Some(&blobs[0][..])
    );
}

#[test]
fn list_pages_through_everything_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut all: Vec<BlobHash> = (0..250)
        .map(|i| store.put(&blob(i, 64)).unwrap().hash)
        .collect();
    all.sort();
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.list(after.as_ref(), 40).unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().copied();
        seen.extend(page);
    }
    assert_eq!(seen, all);
}

#[test]
fn a_blob_larger_than_a_volume_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_volumes(8192)).unwrap();
    let small = store.put(&blob(1, 100)).unwrap().hash;
    let big_data = blob(2, 50_000);
    let big = store.put(&big_data).unwrap().hash;
    let after = store.put(&blob(3, 100)).unwrap().hash;
    let stats = store.stats();
    assert_eq!(stats.volumes, 3, "{stats:?}");
    assert_eq!(store.get(&big).unwrap().unwrap(), big_data);
    assert!(store.get(&small).unwrap().is_some() && store.get(&after).unwrap().is_some());
}

#[test]
fn a_second_writer_is_refused_and_readers_are_welcome() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let h = store.put(b"shared").unwrap().hash;
    match Store::open(dir.path(), lpfs::Options::default()) {
        Err(Error::Locked(_)) => {}
        other => panic!("expected a lock error, got {other:?}"),
    }
    let reader = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(reader.get(&h).unwrap().as_deref(), Some(&b"shared"[..]));
    assert!(matches!(reader.put(b"x"), Err(Error::ReadOnly)));
    assert!(matches!(reader.delete(&h), Err(Error::ReadOnly)));
    drop(store);
    // Once the writer is gone, the lock is free again.
    drop(open(dir.path()));
}

#[test]
fn many_threads_put_and_read_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_volumes(256 * 1024)).unwrap();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let store = &store;
            s.spawn(move || {
                for i in 0..200u64 {
                    // Threads overlap on half of their blobs, to race identical puts.
                    let seed = if i % 2 == 0 { i } else { t * 1000 + i };
                    let data = blob(seed, 200 + (seed as usize % 700));
                    let h = store.put(&data).unwrap().hash;
                    assert_eq!(store.get(&h).unwrap().unwrap(), data);
                }
            });
        }
    });
    let stats = store.stats();
    assert_eq!(stats.blobs, 100 + 8 * 100);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.stats().blobs, 900);
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn locate_points_at_the_payload() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let data = blob(9, 3333);
    let h = store.put(&data).unwrap().hash;
    let loc = store.locate(&h).unwrap().unwrap();
    let mut buf = vec![0u8; loc.len as usize];
    loc.file().read_exact_at(&mut buf, loc.offset).unwrap();
    assert_eq!(buf, data);
}

#[test]
fn oversized_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::open(dir.path(), small_volumes(100)),
        Err(Error::Options(_))
    ));
    assert!(matches!(
        Store::open(dir.path(), small_volumes(u64::MAX)),
        Err(Error::Options(_))
    ));
}

#[test]
fn large_batches_read_back_after_reopen() {
    // Big groups are written partly with direct I/O (on file systems that allow it); what comes
    // back must be the same bytes, both straight after the write and after reopening.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let blobs: Vec<Vec<u8>> = (0..60)
        .map(|i| blob(i, 1 + (i as usize * 7919) % 150_000))
        .collect();
    let hashes: Vec<BlobHash> = {
        let store = Store::open(dir.path(), small_volumes(2 << 20)).unwrap();
        store.put(b"an unaligned start").unwrap();
        let out = store.put_many(blobs.clone()).unwrap();
        for (o, b) in out.iter().zip(&blobs) {
            assert_eq!(store.get(&o.hash).unwrap().as_deref(), Some(&b[..]));
        }
        out.iter().map(|o| o.hash).collect()
    };
    let store = Store::open(dir.path(), small_volumes(2 << 20)).unwrap();
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    for (h, b) in hashes.iter().zip(&blobs) {
        assert_eq!(store.get(h).unwrap().as_deref(), Some(&b[..]));
    }
    assert!(store.fsck(false).unwrap().is_clean());
}
