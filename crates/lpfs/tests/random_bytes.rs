//! Untrusted bytes: every decoder gets random input, and the store opens volumes and index logs
//! with random damage without panicking and without ever returning wrong bytes as good.

mod common;

use std::fs;

use common::blob;
use lpfs::format::{IndexEntry, IndexHeader, RecordHeader, Tombstone, VolumeHeader};
use lpfs::{BlobHash, BlobStore, Options, Store};

#[test]
fn decoders_survive_random_bytes() {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut buf = [0u8; 128];
    for _ in 0..200_000 {
        let len = rng.usize(0..128);
        rng.fill(&mut buf[..len]);
        let b = &buf[..len];
        let _ = VolumeHeader::decode(b);
        let _ = IndexHeader::decode(b);
        let _ = IndexEntry::decode(b);
        let _ = Tombstone::decode(b);
        if let Ok(h) = RecordHeader::decode(b) {
            // A random header that passes its checksum is astronomically unlikely; if one does,
            // it must at least re-encode to the same bytes.
            assert_eq!(&h.encode()[..], &b[..56]);
        }
    }
}

fn mutate(rng: &mut fastrand::Rng, bytes: &mut Vec<u8>) {
    match rng.u8(0..4) {
        0 => {
            for _ in 0..rng.usize(1..8) {
                if !bytes.is_empty() {
                    let i = rng.usize(0..bytes.len());
                    bytes[i] = rng.u8(..);
                }
            }
        }
        1 => bytes.truncate(rng.usize(0..=bytes.len())),
        2 => {
            let at = rng.usize(0..=bytes.len());
            let junk: Vec<u8> = (0..rng.usize(1..300)).map(|_| rng.u8(..)).collect();
            bytes.splice(at..at, junk);
        }
        _ => {
            if !bytes.is_empty() {
                let at = rng.usize(0..bytes.len());
                let n = rng.usize(0..(bytes.len() - at).min(200) + 1);
                bytes[at..at + n].fill(0);
            }
        }
    }
}

#[test]
fn damaged_volumes_and_logs_open_without_panics_or_wrong_bytes() {
    let pristine = tempfile::tempdir().unwrap();
    let blobs: Vec<Vec<u8>> = (0..12).map(|i| blob(i, 50 + i as usize * 40)).collect();
    {
        let store = Store::open(pristine.path(), Options::default()).unwrap();
        for b in &blobs {
            store.put(b).unwrap();
        }
        store.delete(&BlobHash::of(&blobs[4])).unwrap();
    }
    let vol = fs::read(pristine.path().join("00000001.vol")).unwrap();
    let idx = fs::read(pristine.path().join("00000001.idx")).unwrap();
    let mut rng = fastrand::Rng::with_seed(99);
    for round in 0..300 {
        let dir = tempfile::tempdir_in(if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .unwrap();
        let (mut v, mut i) = (vol.clone(), idx.clone());
        match rng.u8(0..3) {
            0 => mutate(&mut rng, &mut v),
            1 => mutate(&mut rng, &mut i),
            _ => {
                mutate(&mut rng, &mut v);
                mutate(&mut rng, &mut i);
            }
        }
        fs::write(dir.path().join("00000001.vol"), &v).unwrap();
        fs::write(dir.path().join("00000001.idx"), &i).unwrap();
        let store = match Store::open(dir.path(), Options::default()) {
            Ok(s) => s,
            Err(e) => panic!("round {round}: damaged files must open, got {e}"),
        };
        for b in &blobs {
            match store.get(&BlobHash::of(b)) {
                Ok(Some(got)) => assert!(got == *b, "round {round}: wrong bytes returned as good"),
                Ok(None) | Err(lpfs::Error::Corrupt { .. }) => {}
                Err(e) => panic!("round {round}: unexpected error {e}"),
            }
        }
        store.fsck(true).unwrap();
        let after = store.fsck(false).unwrap();
        assert!(
            after.is_clean(),
            "round {round}: not clean after repair: {after:?}"
        );
    }
}
