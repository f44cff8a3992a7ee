//! The on-disk format of LittlePandaFS, version 1: volume headers, records, tombstones and index-log
//! entries, as pure encode/decode functions over bytes. `docs/lpfs-format.md` draws the same layouts.
//!
//! All integers are little-endian. Every header carries a CRC-32C of its own bytes, so a torn or
//! damaged header is recognised before any length in it is trusted.

use crate::hash::BlobHash;

/// The format version this code writes. Readers accept every version up to this one.
pub const FORMAT_VERSION: u32 = 1;

/// The first eight bytes of every volume file.
pub const VOLUME_MAGIC: [u8; 8] = *b"LPFSVOL\0";
/// The first eight bytes of every index-log file.
pub const INDEX_MAGIC: [u8; 8] = *b"LPFSIDX\0";
/// The first four bytes of every record.
pub const RECORD_MAGIC: [u8; 4] = *b"LPRC";

/// Size of the volume header; the first record starts here.
pub const VOLUME_HEADER_LEN: u64 = 64;
/// Size of a record header; the payload follows it.
pub const RECORD_HEADER_LEN: u64 = 56;
/// Size of the index-log header.
pub const INDEX_HEADER_LEN: u64 = 64;
/// Size of one index-log entry.
pub const INDEX_ENTRY_LEN: u64 = 64;
/// Size of a tombstone's payload.
pub const TOMBSTONE_LEN: u64 = 16;
/// Records start and end on multiples of this.
pub const RECORD_ALIGN: u64 = 8;

/// Why bytes are not a valid structure of this format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("bad magic bytes")]
    BadMagic,
    #[error("format version {0} is newer than this LittlePanda understands ({FORMAT_VERSION})")]
    UnsupportedVersion(u32),
    #[error("header checksum mismatch")]
    HeaderChecksum,
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("a tombstone's payload must be {TOMBSTONE_LEN} bytes, found {0}")]
    TombstoneLength(u64),
    #[error("too short: need {need} bytes, have {have}")]
    Truncated { need: u64, have: u64 },
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn key_at(b: &[u8], at: usize) -> BlobHash {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[at..at + 32]);
    BlobHash(a)
}

fn need(bytes: &[u8], n: u64) -> Result<(), FormatError> {
    if (bytes.len() as u64) < n {
        return Err(FormatError::Truncated {
            need: n,
            have: bytes.len() as u64,
        });
    }
    Ok(())
}

/// Rounds `n` up to the record alignment.
pub fn align(n: u64) -> u64 {
    n.div_ceil(RECORD_ALIGN) * RECORD_ALIGN
}

/// The bytes a record with a payload of `len` bytes takes in a volume, padding included.
pub fn record_size(len: u64) -> u64 {
    align(RECORD_HEADER_LEN + len)
}

/// The header at the start of every volume file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeHeader {
    pub version: u32,
    pub volume_id: u32,
    /// Raised each time compaction rewrites the volume; tombstones name the generation they target.
    pub generation: u32,
    pub flags: u32,
    pub created_unix_ms: u64,
}

impl VolumeHeader {
    /// Encodes the header as the first 64 bytes of a volume.
    pub fn encode(&self) -> [u8; VOLUME_HEADER_LEN as usize] {
        let mut b = [0u8; VOLUME_HEADER_LEN as usize];
        b[0..8].copy_from_slice(&VOLUME_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.volume_id.to_le_bytes());
        b[16..20].copy_from_slice(&self.generation.to_le_bytes());
        b[20..24].copy_from_slice(&self.flags.to_le_bytes());
        b[24..32].copy_from_slice(&self.created_unix_ms.to_le_bytes());
        let crc = crc32c::crc32c(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a volume header.
    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        need(b, VOLUME_HEADER_LEN)?;
        if b[0..8] != VOLUME_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if crc32c::crc32c(&b[..60]) != u32_at(b, 60) {
            return Err(FormatError::HeaderChecksum);
        }
        let version = u32_at(b, 8);
        if version == 0 || version > FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        Ok(Self {
            version,
            volume_id: u32_at(b, 12),
            generation: u32_at(b, 16),
            flags: u32_at(b, 20),
            created_unix_ms: u64_at(b, 24),
        })
    }
}

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// The payload is a blob whose BLAKE3 hash is the record's key.
    Blob,
    /// The payload is a [`Tombstone`]: the key's record at the named place is deleted.
    Tombstone,
}

impl RecordKind {
    fn code(self) -> u8 {
        match self {
            Self::Blob => 1,
            Self::Tombstone => 2,
        }
    }

    fn from_code(code: u8) -> Result<Self, FormatError> {
        match code {
            1 => Ok(Self::Blob),
            2 => Ok(Self::Tombstone),
            other => Err(FormatError::UnknownKind(other)),
        }
    }
}

/// The header in front of every record's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    pub kind: RecordKind,
    pub flags: u8,
    pub key: BlobHash,
    /// Payload length in bytes (padding excluded).
    pub len: u64,
    /// CRC-32C of the payload.
    pub data_crc: u32,
}

impl RecordHeader {
    /// The header of a blob record for `data`.
    pub fn for_blob(key: BlobHash, data: &[u8]) -> Self {
        Self {
            kind: RecordKind::Blob,
            flags: 0,
            key,
            len: data.len() as u64,
            data_crc: crc32c::crc32c(data),
        }
    }

    /// Encodes the header.
    pub fn encode(&self) -> [u8; RECORD_HEADER_LEN as usize] {
        let mut b = [0u8; RECORD_HEADER_LEN as usize];
        b[0..4].copy_from_slice(&RECORD_MAGIC);
        b[4] = self.kind.code();
        b[5] = self.flags;
        b[8..40].copy_from_slice(self.key.as_bytes());
        b[40..48].copy_from_slice(&self.len.to_le_bytes());
        b[48..52].copy_from_slice(&self.data_crc.to_le_bytes());
        let crc = crc32c::crc32c(&b[..52]);
        b[52..56].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a record header. The payload is not looked at.
    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        need(b, RECORD_HEADER_LEN)?;
        if b[0..4] != RECORD_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if crc32c::crc32c(&b[..52]) != u32_at(b, 52) {
            return Err(FormatError::HeaderChecksum);
        }
        let kind = RecordKind::from_code(b[4])?;
        let len = u64_at(b, 40);
        if kind == RecordKind::Tombstone && len != TOMBSTONE_LEN {
            return Err(FormatError::TombstoneLength(len));
        }
        Ok(Self {
            kind,
            flags: b[5],
            key: key_at(b, 8),
            len,
            data_crc: u32_at(b, 48),
        })
    }

    /// Whether `payload` matches the payload checksum.
    pub fn payload_intact(&self, payload: &[u8]) -> bool {
        payload.len() as u64 == self.len && crc32c::crc32c(payload) == self.data_crc
    }

    /// Encodes a whole record: header, payload and zero padding.
    pub fn encode_record(&self, payload: &[u8], out: &mut Vec<u8>) {
        debug_assert_eq!(payload.len() as u64, self.len);
        out.extend_from_slice(&self.encode());
        out.extend_from_slice(payload);
        let pad = record_size(self.len) - RECORD_HEADER_LEN - self.len;
        out.extend(std::iter::repeat_n(0u8, pad as usize));
    }
}

/// The payload of a tombstone record: the exact record it deletes. Naming the place (not only the
/// key) makes replay independent of order and lets compaction drop tombstones whose target is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tombstone {
    pub target_volume: u32,
    pub target_generation: u32,
    pub target_offset: u64,
}

impl Tombstone {
    /// Encodes the payload.
    pub fn encode(&self) -> [u8; TOMBSTONE_LEN as usize] {
        let mut b = [0u8; TOMBSTONE_LEN as usize];
        b[0..4].copy_from_slice(&self.target_volume.to_le_bytes());
        b[4..8].copy_from_slice(&self.target_generation.to_le_bytes());
        b[8..16].copy_from_slice(&self.target_offset.to_le_bytes());
        b
    }

    /// Decodes the payload.
    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        need(b, TOMBSTONE_LEN)?;
        Ok(Self {
            target_volume: u32_at(b, 0),
            target_generation: u32_at(b, 4),
            target_offset: u64_at(b, 8),
        })
    }

    /// The full record header of this tombstone for `key`.
    pub fn header(&self, key: BlobHash) -> RecordHeader {
        RecordHeader {
            kind: RecordKind::Tombstone,
            flags: 0,
            key,
            len: TOMBSTONE_LEN,
            data_crc: crc32c::crc32c(&self.encode()),
        }
    }
}

/// The header of a volume's index log: which volume and generation its entries describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexHeader {
    pub version: u32,
    pub volume_id: u32,
    pub generation: u32,
}

impl IndexHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; INDEX_HEADER_LEN as usize] {
        let mut b = [0u8; INDEX_HEADER_LEN as usize];
        b[0..8].copy_from_slice(&INDEX_MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.volume_id.to_le_bytes());
        b[16..20].copy_from_slice(&self.generation.to_le_bytes());
        let crc = crc32c::crc32c(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks the header.
    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        need(b, INDEX_HEADER_LEN)?;
        if b[0..8] != INDEX_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if crc32c::crc32c(&b[..60]) != u32_at(b, 60) {
            return Err(FormatError::HeaderChecksum);
        }
        let version = u32_at(b, 8);
        if version == 0 || version > FORMAT_VERSION {
            return Err(FormatError::UnsupportedVersion(version));
        }
        Ok(Self {
            version,
            volume_id: u32_at(b, 12),
            generation: u32_at(b, 16),
        })
    }
}

/// One entry of a volume's index log: where a record is and what it says, so that opening the store
/// needs no pass over the volume's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexEntry {
    pub key: BlobHash,
    /// Offset of the record header in the volume.
    pub offset: u64,
    pub kind: IndexEntryKind,
}

/// What an index-log entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexEntryKind {
    /// A blob record with a payload of this many bytes.
    Blob { len: u64 },
    /// A tombstone record.
    Tombstone(Tombstone),
}

impl IndexEntry {
    /// The entry for a record with header `header` at `offset`, whose payload is `payload`
    /// (only read for tombstones).
    pub fn for_record(
        header: &RecordHeader,
        offset: u64,
        payload: &[u8],
    ) -> Result<Self, FormatError> {
        let kind = match header.kind {
            RecordKind::Blob => IndexEntryKind::Blob { len: header.len },
            RecordKind::Tombstone => IndexEntryKind::Tombstone(Tombstone::decode(payload)?),
        };
        Ok(Self {
            key: header.key,
            offset,
            kind,
        })
    }

    /// The payload length of the record this entry describes.
    pub fn payload_len(&self) -> u64 {
        match self.kind {
            IndexEntryKind::Blob { len } => len,
            IndexEntryKind::Tombstone(_) => TOMBSTONE_LEN,
        }
    }

    /// Where the described record ends in the volume, padding included.
    pub fn record_end(&self) -> u64 {
        self.offset + record_size(self.payload_len())
    }

    /// Encodes the entry.
    pub fn encode(&self) -> [u8; INDEX_ENTRY_LEN as usize] {
        let mut b = [0u8; INDEX_ENTRY_LEN as usize];
        b[0..32].copy_from_slice(self.key.as_bytes());
        b[32..40].copy_from_slice(&self.offset.to_le_bytes());
        match self.kind {
            IndexEntryKind::Blob { len } => {
                b[40..48].copy_from_slice(&len.to_le_bytes());
                b[48] = RecordKind::Blob.code();
            }
            IndexEntryKind::Tombstone(t) => {
                b[40..48].copy_from_slice(&t.target_offset.to_le_bytes());
                b[48] = RecordKind::Tombstone.code();
                b[52..56].copy_from_slice(&t.target_volume.to_le_bytes());
                b[56..60].copy_from_slice(&t.target_generation.to_le_bytes());
            }
        }
        let crc = crc32c::crc32c(&b[..60]);
        b[60..64].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks an entry.
    pub fn decode(b: &[u8]) -> Result<Self, FormatError> {
        need(b, INDEX_ENTRY_LEN)?;
        if crc32c::crc32c(&b[..60]) != u32_at(b, 60) {
            return Err(FormatError::HeaderChecksum);
        }
        let kind = match RecordKind::from_code(b[48])? {
            RecordKind::Blob => IndexEntryKind::Blob { len: u64_at(b, 40) },
            RecordKind::Tombstone => IndexEntryKind::Tombstone(Tombstone {
                target_volume: u32_at(b, 52),
                target_generation: u32_at(b, 56),
                target_offset: u64_at(b, 40),
            }),
        };
        Ok(Self {
            key: key_at(b, 0),
            offset: u64_at(b, 32),
            kind,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let v = VolumeHeader {
            version: 1,
            volume_id: 7,
            generation: 3,
            flags: 0,
            created_unix_ms: 99,
        };
        assert_eq!(VolumeHeader::decode(&v.encode()), Ok(v));
        let i = IndexHeader {
            version: 1,
            volume_id: 7,
            generation: 3,
        };
        assert_eq!(IndexHeader::decode(&i.encode()), Ok(i));
        let r = RecordHeader::for_blob(BlobHash::of(b"x"), b"x");
        assert_eq!(RecordHeader::decode(&r.encode()), Ok(r));
        let t = Tombstone {
            target_volume: 2,
            target_generation: 1,
            target_offset: 4096,
        };
        assert_eq!(Tombstone::decode(&t.encode()), Ok(t));
        for kind in [
            IndexEntryKind::Blob { len: 12345 },
            IndexEntryKind::Tombstone(t),
        ] {
            let e = IndexEntry {
                key: BlobHash::of(b"k"),
                offset: 64,
                kind,
            };
            assert_eq!(IndexEntry::decode(&e.encode()), Ok(e));
        }
    }

    #[test]
    fn every_flipped_bit_of_a_record_header_is_caught() {
        let good = RecordHeader::for_blob(BlobHash::of(b"abc"), b"abc").encode();
        for bit in 0..good.len() * 8 {
            let mut b = good;
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(
                RecordHeader::decode(&b).is_err(),
                "bit {bit} flipped went unnoticed"
            );
        }
    }

    #[test]
    fn records_are_padded_to_eight_bytes() {
        for len in 0..40u64 {
            let data = vec![7u8; len as usize];
            let mut out = Vec::new();
            RecordHeader::for_blob(BlobHash::of(&data), &data).encode_record(&data, &mut out);
            assert_eq!(out.len() as u64, record_size(len));
            assert_eq!(out.len() % 8, 0);
        }
    }

    #[test]
    fn newer_versions_are_refused_clearly() {
        let v = VolumeHeader {
            version: 9,
            volume_id: 1,
            generation: 0,
            flags: 0,
            created_unix_ms: 0,
        };
        assert_eq!(
            VolumeHeader::decode(&v.encode()),
            Err(FormatError::UnsupportedVersion(9))
        );
    }
}
