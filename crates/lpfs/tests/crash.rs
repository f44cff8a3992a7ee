//! Crash safety: a volume cut at every byte offset, and a writer killed with SIGKILL at random
//! moments. Every acknowledged blob must survive, nothing may panic, and fsck must be clean after
//! recovery.

mod common;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::blob;
use lpfs::{BlobHash, BlobStore, Options, Store};

/// A scratch directory on tmpfs when there is one: these tests are about logic, and thousands of
/// reopenings with real fsyncs would take minutes.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[derive(Clone, Copy)]
struct Written {
    hash: BlobHash,
    data_seed: u64,
    len: usize,
    /// Where the blob's record ends in the volume.
    put_end: u64,
    /// Where its tombstone ends, if it was deleted.
    delete_end: Option<u64>,
}

#[test]
fn cutting_the_last_volume_at_every_offset_loses_nothing_acknowledged() {
    let original = scratch();
    let mut acked: Vec<Written> = Vec::new();
    let vol_len = {
        let store = Store::open(original.path(), Options::default()).unwrap();
        let size = |s: &Store| s.stats().per_volume.last().map_or(0, |v| v.bytes);
        for i in 0..14u64 {
            let len = (i as usize * 13) % 70;
            let data = blob(i, len);
            let hash = store.put(&data).unwrap().hash;
            acked.push(Written {
                hash,
                data_seed: i,
                len,
                put_end: size(&store),
                delete_end: None,
            });
            if i % 5 == 4 {
                // Delete an earlier blob: its tombstone lands here.
                let victim = (i - 3) as usize;
                assert!(store.delete(&acked[victim].hash).unwrap());
                acked[victim].delete_end = Some(size(&store));
            }
        }
        size(&store)
    };
    let vol = "00000001.vol";
    assert_eq!(
        fs::metadata(original.path().join(vol)).unwrap().len(),
        vol_len
    );
    for cut in 0..=vol_len {
        let work = scratch();
        copy_dir(original.path(), work.path());
        fs::OpenOptions::new()
            .write(true)
            .open(work.path().join(vol))
            .unwrap()
            .set_len(cut)
            .unwrap();
        let store = Store::open(work.path(), Options::default())
            .unwrap_or_else(|e| panic!("open after a cut at {cut}: {e}"));
        for a in &acked {
            let got = store
                .get(&a.hash)
                .unwrap_or_else(|e| panic!("cut {cut}: {e}"));
            let deleted = a.delete_end.is_some_and(|end| end <= cut);
            if a.put_end <= cut && !deleted {
                assert_eq!(
                    got.as_deref(),
                    Some(&blob(a.data_seed, a.len)[..]),
                    "cut {cut}: acknowledged blob lost"
                );
            } else {
                assert_eq!(got, None, "cut {cut}: blob {} should be gone", a.data_seed);
            }
        }
        let report = store.fsck(false).unwrap();
        assert!(
            report.is_clean() && report.stale_index_logs.is_empty(),
            "cut {cut}: {report:?}"
        );
        // The store works on after recovery, and a second opening has nothing left to repair.
        store.put(b"after the crash").unwrap();
        drop(store);
        let store = Store::open(work.path(), Options::default()).unwrap();
        assert!(
            store.recovery_report().is_clean(),
            "cut {cut}: {:?}",
            store.recovery_report()
        );
        assert!(
            store
                .get(&BlobHash::of(b"after the crash"))
                .unwrap()
                .is_some()
        );
    }
}

#[test]
fn a_lost_or_damaged_index_log_is_rebuilt_from_the_volumes() {
    let dir = scratch();
    let blobs: Vec<(u64, usize)> = (0..60)
        .map(|i| (i, 10 + (i as usize * 97) % 2000))
        .collect();
    {
        let store = Store::open(dir.path(), common::small_volumes(16 * 1024)).unwrap();
        for &(s, len) in &blobs {
            store.put(&blob(s, len)).unwrap();
        }
    }
    fs::remove_file(dir.path().join("00000002.idx")).unwrap();
    let idx3 = dir.path().join("00000003.idx");
    let mut bytes = fs::read(&idx3).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0xff;
    fs::write(&idx3, bytes).unwrap();
    let idx4 = dir.path().join("00000004.idx");
    let len4 = fs::metadata(&idx4).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&idx4)
        .unwrap()
        .set_len(len4 - 100)
        .unwrap();

    let store = Store::open(dir.path(), common::small_volumes(16 * 1024)).unwrap();
    let report = store.recovery_report();
    assert_eq!(report.index_rebuilt, vec![2]);
    assert!(report.records_reindexed >= 2, "{report:?}");
    common::assert_all_present(&store, &blobs);
    assert!(store.fsck(false).unwrap().is_clean());
}

#[test]
fn a_garbage_tail_is_set_aside_not_deleted() {
    let dir = scratch();
    {
        let store = Store::open(dir.path(), Options::default()).unwrap();
        store.put(b"kept").unwrap();
    }
    let vol = dir.path().join("00000001.vol");
    let mut bytes = fs::read(&vol).unwrap();
    let good_len = bytes.len() as u64;
    bytes.extend_from_slice(b"LPRC half a record that never finished");
    fs::write(&vol, &bytes).unwrap();
    let store = Store::open(dir.path(), Options::default()).unwrap();
    assert_eq!(store.recovery_report().torn_tails, vec![(1, good_len, 38)]);
    assert_eq!(fs::metadata(&vol).unwrap().len(), good_len);
    let aside: Vec<_> = fs::read_dir(dir.path().join("lost+found"))
        .unwrap()
        .collect();
    assert_eq!(aside.len(), 1);
    let saved = fs::read(aside[0].as_ref().unwrap().path()).unwrap();
    assert_eq!(saved, b"LPRC half a record that never finished");
    assert!(store.get(&BlobHash::of(b"kept")).unwrap().is_some());
}

/// What the log says of a blob.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Acked {
    Stored,
    /// A delete was under way when the writer died: either state is right.
    Deleting,
    Deleted,
}

fn read_acks(path: &Path) -> (HashMap<(u64, usize), Acked>, usize) {
    let text = fs::read_to_string(path).unwrap_or_default();
    let mut live = HashMap::new();
    let mut lines = 0;
    // Only whole lines count: a line cut by the kill was never finished, so never acknowledged.
    for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        let mut parts = line.split_whitespace();
        let (op, seed, len) = (parts.next(), parts.next(), parts.next());
        let key = (
            seed.unwrap().parse().unwrap(),
            len.unwrap().parse().unwrap(),
        );
        let state = match op {
            Some("P") => Acked::Stored,
            Some("d") => Acked::Deleting,
            _ => Acked::Deleted,
        };
        live.insert(key, state);
        lines += 1;
    }
    (live, lines)
}

#[test]
fn a_writer_killed_at_random_moments_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let log = dir.path().join("acks.log");
    let mut rng = fastrand::Rng::with_seed(2026);
    let mut total_acks = 0;
    for trial in 0..20u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lpfs-torture"))
            .arg(&store_dir)
            .arg(&log)
            .arg((trial + 1).to_string())
            .spawn()
            .expect("start the torture writer");
        std::thread::sleep(Duration::from_millis(rng.u64(30..250)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "trial {trial}: the writer exited on its own: {status}"
        );

        let store = Store::open(
            &store_dir,
            Options {
                max_volume_bytes: 256 * 1024,
                ..Options::default()
            },
        )
        .unwrap_or_else(|e| panic!("trial {trial}: reopen failed: {e}"));
        let (acks, lines) = read_acks(&log);
        for (&(seed, len), &state) in &acks {
            let data = blob(seed, len);
            let got = store.get(&BlobHash::of(&data)).unwrap();
            match state {
                Acked::Stored => {
                    assert!(
                        got.as_deref() == Some(&data[..]),
                        "trial {trial}: acknowledged blob {seed} lost"
                    )
                }
                Acked::Deleted => {
                    assert_eq!(got, None, "trial {trial}: deleted blob {seed} came back")
                }
                Acked::Deleting => assert!(got.is_none() || got.as_deref() == Some(&data[..])),
            }
        }
        let report = store.fsck(false).unwrap();
        assert!(report.is_clean(), "trial {trial}: {report:?}");
        total_acks = lines;
    }
    assert!(
        total_acks > 100,
        "the writer got too little done to test anything: {total_acks} acks"
    );
}
