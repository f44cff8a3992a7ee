//! Property test: random sequences of put, put_many, get, delete, compact, fsck and reopen agree
//! with a `HashMap` model of what should be stored.

mod common;

use std::collections::HashMap;

use common::{blob, small_volumes};
use lpfs::{BlobHash, BlobStore, Store};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(u8),
    PutMany(Vec<u8>),
    Get(u8),
    Delete(u8),
    Compact,
    Fsck,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => any::<u8>().prop_map(Op::Put),
        2 => prop::collection::vec(any::<u8>(), 0..6).prop_map(Op::PutMany),
        3 => any::<u8>().prop_map(Op::Get),
        4 => any::<u8>().prop_map(Op::Delete),
        1 => Just(Op::Compact),
        1 => Just(Op::Fsck),
        1 => Just(Op::Reopen),
    ]
}

/// Forty distinct blobs, some larger than a volume.
fn content(i: u8) -> Vec<u8> {
    let i = u64::from(i % 40);
    let len = match i % 7 {
        0 => 0,
        1 => 5000,
        _ => (i as usize * 131) % 1500,
    };
    blob(i, len)
}

fn check(store: &Store, model: &HashMap<BlobHash, Vec<u8>>) {
    for i in 0..40u8 {
        let data = content(i);
        let h = BlobHash::of(&data);
        assert_eq!(
            store.get(&h).unwrap().as_deref(),
            model.get(&h).map(Vec::as_slice),
            "blob {i}"
        );
    }
    let mut listed = store.list(None, 1000).unwrap();
    listed.sort();
    let mut expected: Vec<BlobHash> = model.keys().copied().collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(store.stats().blobs as usize, model.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn store_matches_a_hash_map(ops in prop::collection::vec(op(), 1..60)) {
        let dir = tempfile::tempdir_in(if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" }).unwrap();
        let options = small_volumes(4096);
        let mut store = Store::open(dir.path(), options.clone()).unwrap();
        let mut model: HashMap<BlobHash, Vec<u8>> = HashMap::new();
        for op in ops {
            match op {
                Op::Put(i) => {
                    let data = content(i);
                    let out = store.put(&data).unwrap();
                    prop_assert_eq!(out.created, !model.contains_key(&out.hash));
                    model.insert(out.hash, data);
                }
                Op::PutMany(is) => {
                    let blobs: Vec<Vec<u8>> = is.iter().map(|&i| content(i)).collect();
                    let outs = store.put_many(blobs.clone()).unwrap();
                    for (out, data) in outs.iter().zip(blobs) {
                        model.insert(out.hash, data);
                    }
                }
                Op::Get(i) => {
                    let h = BlobHash::of(&content(i));
                    let got = store.get(&h).unwrap();
                    prop_assert_eq!(got.as_deref(), model.get(&h).map(Vec::as_slice));
                }
                Op::Delete(i) => {
                    let h = BlobHash::of(&content(i));
                    prop_assert_eq!(store.delete(&h).unwrap(), model.remove(&h).is_some());
                }
                Op::Compact => {
                    store.compact(0.0).unwrap();
                }
                Op::Fsck => {
                    let report = store.fsck(false).unwrap();
                    prop_assert!(report.is_clean() && report.stale_index_logs.is_empty(), "{:?}", report);
                }
                Op::Reopen => {
                    drop(store);
                    store = Store::open(dir.path(), options.clone()).unwrap();
                    prop_assert!(store.recovery_report().is_clean(), "{:?}", store.recovery_report());
                }
            }
        }
        check(&store, &model);
        drop(store);
        let store = Store::open(dir.path(), options).unwrap();
        check(&store, &model);
        prop_assert!(store.fsck(false).unwrap().is_clean());
    }
}
