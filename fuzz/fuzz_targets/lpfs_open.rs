//! Fuzzes opening a store from arbitrary volume and index-log bytes: recovery and fsck must never
//! panic, and no read may return bytes that do not hash to the key asked for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lpfs::{BlobHash, BlobStore, Options, Store};

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the volume ends and the index log begins.
    let Some((&split, rest)) = data.split_first() else { return };
    let cut = (usize::from(split) * rest.len()) / 255;
    let (volume, index) = rest.split_at(cut);
    let Ok(dir) = tempfile::tempdir() else { return };
    if std::fs::write(dir.path().join("00000001.vol"), volume).is_err()
        || std::fs::write(dir.path().join("00000001.idx"), index).is_err()
    {
        return;
    }
    let Ok(store) = Store::open(dir.path(), Options::default()) else { return };
    for hash in store.list(None, 1000).unwrap_or_default() {
        if let Ok(Some(bytes)) = store.get(&hash) {
            assert_eq!(BlobHash::of(&bytes), hash, "a read returned bytes of another blob");
        }
    }
    let _ = store.fsck(true);
});
