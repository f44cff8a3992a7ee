//! Damage at every byte, in the style of redb's crash tests: a small store of several volumes; for
//! every byte offset of every file (volume headers, records, index logs) the byte is flipped and
//! the store reopened. The records holding that byte are the only ones reported damaged, every other
//! blob reads back exactly, nothing damaged is ever returned as good, and the damage is reported
//! (by recovery or by fsck). The same with each volume's index log deleted (the volume is then
//! scanned whole, and must resynchronise after the damage), and for truncation at every offset:
//! what a cut takes is reported, never silently dropped.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{blob, small_volumes};
use lpfs::{BlobHash, BlobStore, Error, Options, Store};

/// A store of three volumes, its files' pristine bytes, and where each blob's record lies.
struct Pristine {
    files: BTreeMap<String, Vec<u8>>,
    /// Each blob: its bytes, volume and the record's extent [start, end).
    blobs: Vec<(Vec<u8>, u32, u64, u64)>,
    opts: Options,
}

const RECORD_HEADER: u64 = 56;

fn pristine() -> Pristine {
    let dir = tempfile::tempdir().unwrap();
    let opts = small_volumes(4096);
    let store = Store::open(dir.path(), opts.clone()).unwrap();
    let mut blobs = Vec::new();
    // Sizes that leave padding after some payloads, so padding bytes are flipped too.
    for i in 0..13u64 {
        let data = blob(100 + i, 600 + (i as usize * 37) % 29);
        store.put(&data).unwrap();
        blobs.push(data);
    }
    // One deleted blob: its tombstone is a record as well.
    let gone = blob(999, 300);
    store.put(&gone).unwrap();
    store.delete(&BlobHash::of(&gone)).unwrap();
    let blobs = blobs
        .into_iter()
        .map(|data| {
            let loc = store.locate(&BlobHash::of(&data)).unwrap().unwrap();
            let start = loc.offset - RECORD_HEADER;
            let end = start + (RECORD_HEADER + data.len() as u64).next_multiple_of(8);
            (data, loc.volume_id(), start, end)
        })
        .collect::<Vec<_>>();
    drop(store);
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".vol") || name.ends_with(".idx") {
                files.insert(name, fs::read(entry.path()).unwrap());
            }
        }
    }
    let volumes = files.keys().filter(|n| n.ends_with(".vol")).count();
    assert!(volumes >= 3, "several volumes: {:?}", files.keys());
    Pristine { files, blobs, opts }
}

fn volume_id(name: &str) -> u32 {
    name[..8].parse().unwrap()
}

/// A scratch directory in memory where there is one (`/dev/shm`): tens of thousands of reopens
/// each make files durable, which a disk makes slow and a memory file system does not.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().unwrap()
}

/// Lays the pristine files out in a fresh directory, changed by `change`.
fn lay_out(
    p: &Pristine,
    change: impl Fn(&str, &mut Vec<u8>) -> bool,
) -> (tempfile::TempDir, PathBuf) {
    let dir = scratch();
    let store = dir.path().join("s");
    fs::create_dir(&store).unwrap();
    for (name, bytes) in &p.files {
        let mut bytes = bytes.clone();
        if change(name, &mut bytes) {
            fs::write(store.join(name), bytes).unwrap();
        }
    }
    (dir, store)
}

/// What one reopen showed.
struct Seen {
    /// Whether recovery cut a torn tail off a volume.
    torn: bool,
    /// Whether recovery or fsck reported anything at all.
    reported: bool,
    /// Whether they reported damage or loss of committed data.
    damage_reported: bool,
    /// (volume, start, end) of every damaged stretch reported, and the keys reported missing.
    stretches: Vec<(u32, u64, u64)>,
    missing: Vec<BlobHash>,
}

/// Opens the store in `dir`, reads every blob and runs fsck. Each blob must read back exactly,
/// or be refused as damaged or missing when `may_lose(blob)`; never changed.
fn reopen(p: &Pristine, dir: &Path, may_lose: impl Fn(usize) -> bool, what: &str) -> Seen {
    let store = Store::open(dir, p.opts.clone()).unwrap_or_else(|e| panic!("{what}: open: {e}"));
    for (i, (data, ..)) in p.blobs.iter().enumerate() {
        match store.get(&BlobHash::of(data)) {
            Ok(Some(got)) => assert!(got == *data, "{what}: blob {i} came back changed"),
            Ok(None) | Err(Error::Corrupt { .. }) if may_lose(i) => {}
            other => panic!("{what}: blob {i}, which the damage did not touch: {other:?}"),
        }
    }
    let recovery = store.recovery_report().clone();
    let fsck = store.fsck(false).unwrap();
    let mut stretches: Vec<(u32, u64, u64)> = recovery
        .damaged
        .iter()
        .chain(&fsck.damaged)
        .map(|d| (d.volume, d.offset, d.offset + d.bytes))
        .collect();
    stretches.extend(recovery.cut_off.iter().map(|&(v, o, b)| (v, o, o + b)));
    stretches.extend(recovery.torn_tails.iter().map(|&(v, o, b)| (v, o, o + b)));
    Seen {
        torn: !recovery.torn_tails.is_empty(),
        reported: !recovery.is_clean() || !fsck.is_clean() || !fsck.stale_index_logs.is_empty(),
        damage_reported: recovery.found_damage() || !fsck.is_clean(),
        stretches,
        missing: fsck.missing,
    }
}

/// The blob whose record holds byte `at` of volume `vol`, if any.
fn record_at(p: &Pristine, vol: u32, at: u64) -> Option<usize> {
    p.blobs
        .iter()
        .position(|&(_, v, start, end)| v == vol && (start..end).contains(&at))
}

#[test]
fn a_flipped_byte_anywhere_costs_only_its_record_and_is_reported() {
    let p = pristine();
    let mut flips = 0;
    for (name, bytes) in &p.files {
        for at in 0..bytes.len() as u64 {
            for without_log in [false, true] {
                let is_volume = name.ends_with(".vol");
                if without_log && !is_volume {
                    continue;
                }
                let vol = volume_id(name);
                let (_keep, dir) = lay_out(&p, |n, b| {
                    if without_log && n.ends_with(".idx") && volume_id(n) == vol {
                        return false;
                    }
                    if n == name {
                        b[at as usize] ^= 0x5a;
                    }
                    true
                });
                let what = format!("{name} byte {at} flipped (log deleted: {without_log})");
                let hit = if is_volume {
                    record_at(&p, vol, at)
                } else {
                    None
                };
                let seen = reopen(&p, &dir, |i| Some(i) == hit, &what);
                flips += 1;
                assert!(seen.reported, "{what}: nothing was reported");
                if !is_volume {
                    // An index log is a cache of its volume: re-derived, nothing lost.
                    assert!(
                        seen.stretches.is_empty() && seen.missing.is_empty(),
                        "{what}"
                    );
                    continue;
                }
                // Without its log nothing tells where a volume's last commit was: damage in its
                // last record's header cannot be told from a torn write, and is cut off as one
                // (set aside in lost+found, reported as a torn tail).
                assert!(
                    seen.damage_reported || (without_log && seen.torn),
                    "{what}: no damage reported"
                );
                // Only the stretch holding the byte is reported.
                for &(v, start, end) in &seen.stretches {
                    assert!(
                        v == vol && (start..end).contains(&at),
                        "{what}: reported {v}:{start}..{end}"
                    );
                }
                for key in &seen.missing {
                    let i = p.blobs.iter().position(|b| BlobHash::of(&b.0) == *key);
                    assert_eq!(i, hit, "{what}: blob {i:?} reported missing");
                }
            }
        }
    }
    assert!(flips > 15_000, "{flips} flips");
}

#[test]
fn a_cut_anywhere_in_a_volume_is_reported_and_costs_only_what_it_cut() {
    let p = pristine();
    for (name, bytes) in p.files.iter().filter(|(n, _)| n.ends_with(".vol")) {
        let vol = volume_id(name);
        for cut in 0..bytes.len() {
            let (_keep, dir) = lay_out(&p, |n, b| {
                if n == name {
                    b.truncate(cut);
                }
                true
            });
            let what = format!("{name} cut at {cut}");
            let lost = |i: usize| {
                let (_, v, _, end) = p.blobs[i];
                v == vol && end > cut as u64
            };
            let seen = reopen(&p, &dir, lost, &what);
            let cut_records = (0..p.blobs.len()).any(lost);
            if cut_records {
                assert!(seen.damage_reported, "{what}: the loss was not reported");
            }
        }
    }
}

#[test]
fn a_damaged_volume_header_is_rebuilt_and_its_id_never_reused() {
    let p = pristine();
    let (_keep, dir) = lay_out(&p, |n, b| {
        if n == "00000001.vol" {
            b[20] ^= 0xff;
        }
        true
    });
    let store = Store::open(&dir, p.opts.clone()).unwrap();
    assert_eq!(store.recovery_report().headers_rebuilt, [1]);
    for (data, ..) in &p.blobs {
        assert!(store.get(&BlobHash::of(data)).unwrap().unwrap() == *data);
    }
    drop(store);
    // The damaged header was set aside; the rebuilt one opens clean.
    let aside: Vec<String> = fs::read_dir(dir.join("lost+found"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(aside, ["00000001.vol.damaged-header"]);
    let store = Store::open(&dir, p.opts.clone()).unwrap();
    assert!(
        store.recovery_report().is_clean(),
        "{:?}",
        store.recovery_report()
    );
    assert!(store.fsck(false).unwrap().is_clean());
    drop(store);

    // A newest volume that never got a whole header is set aside; its id is not taken again,
    // and a second one set aside does not overwrite the first.
    for round in 0..2u64 {
        let last_id = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.strip_suffix(".vol").map(|n| n.parse::<u32>().unwrap())
            })
            .max()
            .unwrap();
        let unfinished = last_id + 1;
        fs::write(dir.join(format!("{unfinished:08}.vol")), b"LPFSVOL").unwrap();
        let store = Store::open(&dir, p.opts.clone()).unwrap();
        assert_eq!(store.recovery_report().volumes_set_aside.len(), 1);
        // Enough new blobs to need a new volume: it gets a fresh id.
        for i in 0..8 {
            store.put(&blob(5000 + round * 100 + i, 900)).unwrap();
        }
        let ids: Vec<u32> = store.stats().per_volume.iter().map(|v| v.id).collect();
        assert!(
            ids.iter().any(|&id| id > unfinished) && !ids.contains(&unfinished),
            "round {round}: id {unfinished} reused: {ids:?}"
        );
    }
    let set_aside = fs::read_dir(dir.join("lost+found")).unwrap().count();
    assert_eq!(set_aside, 3, "nothing in lost+found was overwritten");
}

/// A crash in the middle of a group leaves, past the last logged record, records whose header
/// was written but not all of their payload, then zeros. That is a torn write, not damage: it is
/// cut off and set aside, and nothing is reported damaged (fsck stays clean).
#[test]
fn a_write_cut_short_past_the_log_is_torn_not_damage() {
    let p = pristine();
    let last = p
        .files
        .keys()
        .filter(|n| n.ends_with(".vol"))
        .max()
        .unwrap()
        .clone();
    let (_keep, dir) = lay_out(&p, |n, b| {
        if *n == last {
            // A record header for a 700-byte payload, a third of the payload, then zeros.
            let data = blob(4242, 700);
            let header = lpfs::format::RecordHeader::for_blob(BlobHash::of(&data), &data).encode();
            b.extend_from_slice(&header);
            b.extend_from_slice(&data[..233]);
            b.extend(std::iter::repeat_n(0u8, 467 + 4 + 4096));
        }
        true
    });
    let store = Store::open(&dir, p.opts.clone()).unwrap();
    let recovery = store.recovery_report().clone();
    assert_eq!(recovery.torn_tails.len(), 1, "{recovery:?}");
    assert!(!recovery.found_damage(), "{recovery:?}");
    for (data, ..) in &p.blobs {
        assert!(store.get(&BlobHash::of(data)).unwrap().unwrap() == *data);
    }
    assert!(store.fsck(false).unwrap().is_clean());
}
