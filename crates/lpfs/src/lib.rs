//! LittlePandaFS (LPFS): a content-addressed, crash-safe, compactable packed-volume blob store.
//!
//! Many small files (gallery pages, thumbnails) are packed into large append-only *volume* files,
//! so that reading one costs one disk access instead of a directory walk. The main types:
//!
//! - [`Store`]: the store over a directory: open (with crash recovery), put, get, delete, compact,
//!   fsck, stats. Thread-safe; one writer thread commits writes in groups.
//! - [`BlobStore`]: the small seam the rest of LittlePanda uses, so that another backend (an S3
//!   bucket) can stand in for [`Store`] without touching callers.
//! - [`BlobHash`]: a blob's key, the BLAKE3-256 hash of its bytes.
//! - [`format`]: the on-disk structures, documented byte by byte in `docs/lpfs-format.md`.
//!
//! This crate knows nothing of SQL or HTTP.

mod compact;
mod error;
pub mod format;
mod fsck;
mod hash;
mod index;
mod mapped;
mod open;
mod scan;
mod store;
mod volume;
mod writer;

use std::ops::Range;

pub use bytes::Bytes;

pub use compact::CompactReport;
pub use error::{Error, Result};
pub use fsck::FsckReport;
pub use hash::{BlobHash, BlobHashHasher, BlobHashState, ParseHashError};
pub use mapped::file_range as mapped_file_range;
pub use open::RecoveryReport;
pub use scan::Damage;
pub use store::{BlobLocation, Options, Stats, Store, VolumeStats};

/// The largest blob a store holds: 4 GiB − 1.
pub const MAX_BLOB_BYTES: u64 = u32::MAX as u64;

/// The result of storing one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PutOutcome {
    pub hash: BlobHash,
    pub len: u64,
    /// False when the blob was stored already (nothing was written).
    pub created: bool,
}

/// What LittlePanda needs of a blob store. Keep it small: every method must be natural for an
/// object store too.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores `data` durably; idempotent.
    fn put(&self, data: &[u8]) -> Result<PutOutcome>;
    /// Stores many blobs with one durability point.
    fn put_many(&self, blobs: Vec<Vec<u8>>) -> Result<Vec<PutOutcome>>;
    /// The whole blob, checked, or `None` if it is not stored.
    fn get(&self, hash: &BlobHash) -> Result<Option<Bytes>>;
    /// Bytes `range` of the blob; the range must lie within it.
    fn get_range(&self, hash: &BlobHash, range: Range<u64>) -> Result<Option<Bytes>>;
    /// The blob's length, if stored.
    fn stat(&self, hash: &BlobHash) -> Result<Option<u64>>;
    /// Deletes the blob; answers whether it was stored.
    fn delete(&self, hash: &BlobHash) -> Result<bool>;
    /// Up to `limit` stored hashes greater than `after`, ascending.
    fn list(&self, after: Option<&BlobHash>, limit: usize) -> Result<Vec<BlobHash>>;
    /// Where the blob's bytes lie in a local file, for zero-copy sending; `None` for backends
    /// without local files.
    fn locate(&self, _hash: &BlobHash) -> Result<Option<BlobLocation>> {
        Ok(None)
    }
}
