//! Errors of the blob store.

use std::io;
use std::path::{Path, PathBuf};

use crate::hash::BlobHash;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the store at {0} is in use by another process (its lock file is held); stop that process or open the store read-only"
    )]
    Locked(PathBuf),
    #[error("the store is open read-only")]
    ReadOnly,
    #[error("blob {hash} is damaged (volume {volume}, offset {offset}): {reason}")]
    Corrupt {
        hash: BlobHash,
        volume: u32,
        offset: u64,
        reason: String,
    },
    #[error("a blob of {0} bytes is larger than the largest the store holds ({max} bytes)", max = crate::MAX_BLOB_BYTES)]
    TooLarge(u64),
    #[error("bytes {start}..{end} are outside the blob's {len} bytes")]
    Range { start: u64, end: u64, len: u64 },
    #[error("invalid store option: {0}")]
    Options(String),
    #[error("the store's writer has stopped after an earlier error; reopen the store")]
    WriterGone,
}

/// Results of the store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
        move |source| Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
