//! A store written by format version 1, committed under `tests/fixtures/v1`, must stay readable by
//! every later version (`examples/make_v1_fixture.rs` wrote it).

use std::fs;
use std::path::Path;

use lpfs::{BlobHash, BlobStore, Options, Store};

#[path = "fixtures/v1_contents.rs"]
mod v1_contents;
use v1_contents::contents;

/// Opens a copy of the fixture for writing, with the fixture's small volumes.
fn open_copy(dir: &Path) -> Store {
    Store::open(
        dir,
        Options {
            max_volume_bytes: 4096,
            ..Options::default()
        },
    )
    .unwrap()
}

fn fixture() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1"))
}

fn check(store: &Store, expected_blobs: u64) {
    for (i, c) in contents().iter().enumerate() {
        let got = store.get(&BlobHash::of(c)).unwrap();
        if i == 2 {
            assert_eq!(got, None, "blob 2 was deleted in the fixture");
        } else {
            assert_eq!(got.as_deref(), Some(&c[..]), "fixture blob {i}");
        }
    }
    assert_eq!(store.stats().blobs, expected_blobs);
}

#[test]
fn version_1_fixture_reads_read_only_without_changes() {
    let before: Vec<(String, Vec<u8>)> = fs::read_dir(fixture())
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let store = Store::open_read_only(fixture()).unwrap();
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    check(&store, 9);
    drop(store);
    for (name, bytes) in before {
        assert_eq!(
            fs::read(fixture().join(&name)).unwrap(),
            bytes,
            "{name} changed by a read-only open"
        );
    }
}

#[test]
fn version_1_fixture_opens_for_writing_checks_clean_and_compacts() {
    let dir = tempfile::tempdir().unwrap();
    for e in fs::read_dir(fixture()).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    let store = open_copy(dir.path());
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    check(&store, 9);
    let report = store.fsck(false).unwrap();
    assert!(
        report.is_clean() && report.stale_index_logs.is_empty(),
        "{report:?}"
    );
    store.compact(0.0).unwrap();
    check(&store, 9);
    store.put(b"written by a newer LittlePanda").unwrap();
    drop(store);
    let store = open_copy(dir.path());
    check(&store, 10);
}

#[test]
fn version_1_volume_header_bytes_are_stable() {
    let vol = fs::read(fixture().join("00000001.vol")).unwrap();
    assert_eq!(&vol[0..8], b"LPFSVOL\0");
    assert_eq!(&vol[8..12], &1u32.to_le_bytes(), "format version");
    assert_eq!(&vol[12..16], &1u32.to_le_bytes(), "volume id");
    assert_eq!(
        &vol[64..68],
        b"LPRC",
        "the first record starts right after the 64-byte header"
    );
}
