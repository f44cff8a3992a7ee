//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use std::path::Path;

use lpfs::{BlobStore, Options, Store};

/// Deterministic pseudo-random bytes of `len` for `seed`.
pub fn blob(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Options with small volumes, so that tests cross volume boundaries.
pub fn small_volumes(bytes: u64) -> Options {
    Options {
        max_volume_bytes: bytes,
        ..Options::default()
    }
}

pub fn open(dir: &Path) -> Store {
    Store::open(dir, Options::default()).expect("open store")
}

/// Asserts that every `(seed, len)` blob reads back byte-identical.
pub fn assert_all_present(store: &Store, blobs: &[(u64, usize)]) {
    for &(seed, len) in blobs {
        let data = blob(seed, len);
        let hash = lpfs::BlobHash::of(&data);
        let got = store
            .get(&hash)
            .expect("get")
            .unwrap_or_else(|| panic!("blob {seed}/{len} lost"));
        assert!(got == data, "blob {seed}/{len} changed");
    }
}
