//! Fuzzes the decoders of every on-disk LittlePandaFS structure: none may panic, and whatever
//! decodes must encode back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lpfs::format::{IndexEntry, IndexHeader, RecordHeader, Tombstone, VolumeHeader};

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = VolumeHeader::decode(data) {
        assert_eq!(&h.encode()[..], &data[..64]);
    }
    if let Ok(h) = IndexHeader::decode(data) {
        assert_eq!(IndexHeader::decode(&h.encode()), Ok(h));
    }
    if let Ok(e) = IndexEntry::decode(data) {
        assert_eq!(IndexEntry::decode(&e.encode()), Ok(e));
    }
    if let Ok(h) = RecordHeader::decode(data) {
        assert_eq!(&h.encode()[..], &data[..56]);
    }
    let _ = Tombstone::decode(data);
});
