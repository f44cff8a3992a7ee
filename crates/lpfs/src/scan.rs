//! Reading a stretch of a volume record by record, as recovery and `fsck` both do: the intact
//! records, and the damaged stretches between them. After damage the scan resynchronises on the
//! next 8-byte boundary where a record checks (magic, header checksum, payload checksum), so one bad
//! record costs that record, never what follows it.

use crate::format::{
    IndexEntry, RECORD_ALIGN, RECORD_HEADER_LEN, RECORD_MAGIC, RecordHeader, RecordKind,
    record_size,
};
use crate::hash::BlobHash;
use crate::volume::VolumeFile;

/// A damaged record or stretch of a volume.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    pub volume: u32,
    pub offset: u64,
    pub bytes: u64,
    /// The blob the damaged record belongs to, when its header is still readable.
    pub hash: Option<BlobHash>,
    pub reason: String,
    /// Whether the stretch is one whole record whose header checks (only its payload, padding or
    /// content hash is wrong): its key and extent are known.
    #[serde(skip)]
    pub(crate) whole_record: Option<RecordHeader>,
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub intact: Vec<IndexEntry>,
    pub damaged: Vec<Damage>,
    pub records_checked: u64,
    pub bytes_checked: u64,
}

/// Scans `vol` from `from` to `end`. With `check_hash`, a blob's payload must also hash to its
/// key (what `fsck` checks); without, the two checksums decide (what opening the store checks).
pub(crate) fn scan(vol: &VolumeFile, from: u64, end: u64, check_hash: bool) -> Scanned {
    let mut out = Scanned::default();
    let mut pos = from;
    while pos < end {
        let problem = match check_record(vol, pos, end, check_hash) {
            Ok(entry) => {
                out.records_checked += 1;
                out.bytes_checked += entry.record_end() - pos;
                pos = entry.record_end();
                out.intact.push(entry);
                continue;
            }
            Err(problem) => problem,
        };
        let start = pos;
        let mut head = [0u8; RECORD_HEADER_LEN as usize];
        let header = vol
            .read_exact_at(&mut head, pos)
            .ok()
            .and_then(|_| RecordHeader::decode(&head).ok());
        let whole = header.filter(|h| pos.saturating_add(record_size(h.len)) <= end);
        pos = match whole {
            // The header checks: the record's extent is known, and the scan goes on after it.
            Some(h) => pos + record_size(h.len),
            None => resync(vol, pos + RECORD_ALIGN, end),
        };
        out.damaged.push(Damage {
            volume: vol.id,
            offset: start,
            bytes: pos - start,
            hash: header.map(|h| h.key),
            reason: problem,
            whole_record: whole,
        });
    }
    out
}

/// The record at `pos` as an index entry, if it is intact: header, payload, zero padding, and
/// (with `check_hash`) the content hash.
fn check_record(
    vol: &VolumeFile,
    pos: u64,
    end: u64,
    check_hash: bool,
) -> Result<IndexEntry, String> {
    let (h, payload) = vol.read_record(pos, end).map_err(|p| p.to_string())?;
    if check_hash && h.kind == RecordKind::Blob && BlobHash::of(&payload) != h.key {
        return Err("payload does not hash to the record's key".into());
    }
    let entry = IndexEntry::for_record(&h, pos, &payload).map_err(|e| e.to_string())?;
    let pad_from = pos + RECORD_HEADER_LEN + h.len;
    let mut pad = [0u8; RECORD_ALIGN as usize];
    let pad = &mut pad[..(entry.record_end() - pad_from) as usize];
    vol.read_exact_at(pad, pad_from)
        .map_err(|p| p.to_string())?;
    if pad.iter().any(|&b| b != 0) {
        return Err("the padding after the payload is not zero".into());
    }
    Ok(entry)
}

/// The first 8-byte boundary at or after `from` where an intact record starts, or `end`. Reads
/// the volume a megabyte at a time and tries only the boundaries where the record magic stands.
fn resync(vol: &VolumeFile, from: u64, end: u64) -> u64 {
    const CHUNK: usize = 1 << 20;
    let mut buf = vec![0u8; CHUNK];
    let mut base = from.next_multiple_of(RECORD_ALIGN);
    while base < end {
        let n = CHUNK.min((end - base) as usize);
        let got = vol.read_up_to(&mut buf[..n], base).unwrap_or(0);
        if got == 0 {
            return end;
        }
        for i in (0..got).step_by(RECORD_ALIGN as usize) {
            let at = base + i as u64;
            if buf[i..got].starts_with(&RECORD_MAGIC) && vol.read_record(at, end).is_ok() {
                return at;
            }
        }
        // Chunks are whole multiples of 8 bytes, so an aligned magic never straddles two.
        base += got as u64;
    }
    end
}
