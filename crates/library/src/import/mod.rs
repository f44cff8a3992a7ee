//! Import: archives and folders become galleries.
//!
//! A source (an archive, identified by its content, or a folder of images) is read one entry at
//! a time; each page's bytes go into the blob store (deduplicated by content), its format and
//! size are recorded, and metadata comes from the file name, metadata files inside, and the
//! caller. Only when every page is durable is the gallery created, in one database transaction:
//! it appears whole or not at all. A failed import releases the blobs it stored that nothing else
//! uses, and can simply be run again. See `docs/import.md`.

mod archive;
mod collect;
mod discover;
pub mod filename;
mod metadata;
pub mod natural;
pub mod sidecar;
pub mod thumb;
mod upkeep;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use db::{BlobInfo, Created, Db, ImageFormat, NewGallery, NewPage, TagName, TagSource};
use lpfs::{BlobHash, BlobStore};

use crate::format::{self, ARCHIVE_SNIFF_LEN, ArchiveKind};
use archive::{Visitor, Want};
use collect::*;
use discover::*;
pub use thumb::{Crop, ThumbConfig, ThumbError, Thumbnail};

/// Caps that keep a hostile archive from exhausting memory, disk or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes one gallery may expand to.
    pub max_total_bytes: u64,
    /// Most an archive may expand, as a multiple of its own size (per zip entry, too)…
    pub max_ratio: u64,
    /// …except that this much is always allowed (small archives of plain images).
    pub ratio_floor_bytes: u64,
    /// The largest page.
    pub max_page_bytes: u64,
    /// Most entries in one archive.
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_total_bytes: 16 << 30,
            max_ratio: 100,
            ratio_floor_bytes: 64 << 20,
            max_page_bytes: 256 << 20,
            max_entries: 100_000,
        }
    }
}

/// What the caller adds to an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Replaces the title found in the name or metadata files.
    pub title: Option<String>,
    /// Added to the tags found (source: user).
    pub tags: Vec<TagName>,
    /// Keep the pages read before a damaged entry instead of failing.
    pub allow_partial: bool,
}

/// Why an import failed. Nothing already stored is touched by any of these.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "not an archive LittlePanda reads (zip/cbz, rar/cbr, 7z/cb7, tar/cbt, tar.gz) nor a folder of images: {0}"
    )]
    NotAnArchive(String),
    #[error("encrypted (password-protected) archives are not supported: {0}")]
    Encrypted(String),
    #[error("the archive is damaged at entry {entry:?}: {reason}")]
    Corrupt { entry: String, reason: String },
    #[error("the archive is damaged: {0}")]
    CorruptArchive(String),
    #[error("refused: {0}")]
    TooBig(String),
    /// No page was left; what each dropped entry was dropped for, when any was.
    #[error("no images in it{}", why_none(.0))]
    NoImages(Vec<String>),
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the image store: {0}")]
    Store(#[from] lpfs::Error),
    #[error("the database: {0}")]
    Db(#[from] db::Error),
}

/// Why nothing was left of an import: the reasons its entries were dropped, the first few.
fn why_none(dropped: &[String]) -> String {
    const SHOWN: usize = 5;
    match dropped.len() {
        0 => String::new(),
        n => {
            let mut s = format!(": {}", dropped[..n.min(SHOWN)].join("; "));
            if n > SHOWN {
                s.push_str(&format!("; and {} more", n - SHOWN));
            }
            s
        }
    }
}

/// Something to import: one gallery's worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Archive {
        path: PathBuf,
        kind: ArchiveKind,
    },
    /// A folder whose files are the pages (subfolders are chapters).
    Folder {
        path: PathBuf,
    },
}

impl Source {
    pub fn path(&self) -> &Path {
        match self {
            Self::Archive { path, .. } | Self::Folder { path } => path,
        }
    }
}

/// A gallery imported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Imported {
    pub public_id: String,
    pub title: String,
    pub pages: usize,
    pub bytes: u64,
    /// What was odd but not fatal: skipped files, undecodable pages, a cover without thumbnail.
    pub warnings: Vec<String>,
}

/// What importing one source did.
#[derive(Debug)]
pub enum Outcome {
    Imported(Imported),
    /// The same archive (or folder of the same pages) is in the library already as this gallery.
    Duplicate {
        public_id: String,
    },
    Failed(ImportError),
}

/// Told of progress while a source is read.
pub trait Progress: Sync {
    /// A page of `bytes` was stored.
    fn page(&self, _bytes: u64) {}
}

/// No progress reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl Progress for Quiet {}

/// Imports into one library (blob store and database).
#[derive(Debug)]
pub struct Importer {
    store: Arc<dyn BlobStore>,
    db: Arc<Db>,
    pub limits: Limits,
    pub thumbnails: ThumbConfig,
    /// Make the cover's thumbnail during the import (else it is made on demand).
    pub cover_thumbnails: bool,
    /// Threads of the background thumbnail job.
    pub thumbnail_threads: usize,
    /// Orders "check that the pages are stored, then commit" against "release blobs nothing
    /// uses", so one import's clean-up never deletes a page another is committing.
    commit_lock: Mutex<()>,
    /// The thumbnails being made now, one slot per image: a second request for the same image
    /// waits for the first and finds its thumbnail made.
    thumbnailing: Mutex<std::collections::HashMap<BlobHash, Arc<Mutex<()>>>>,
    /// What thumbnail decoding may hold in memory at once.
    pub decode_budget: thumb::DecodeBudget,
}

/// What thumbnail decoding may hold in memory at once, by default: room for a few large pages
/// decoded side by side; more requests wait their turn.
pub const DEFAULT_DECODE_BUDGET: u64 = 512 << 20;

impl Importer {
    pub fn new(store: Arc<dyn BlobStore>, db: Arc<Db>) -> Self {
        Self {
            store,
            db,
            limits: Limits::default(),
            thumbnails: ThumbConfig::default(),
            cover_thumbnails: true,
            thumbnail_threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            commit_lock: Mutex::new(()),
            thumbnailing: Mutex::default(),
            decode_budget: thumb::DecodeBudget::new(DEFAULT_DECODE_BUDGET),
        }
    }

    /// The galleries a path holds: an archive (by content), a folder of images, or a folder of
    /// archives and such folders (each imported on its own). Symbolic links are not followed.
    pub fn discover(&self, path: &Path) -> Result<Vec<Source>, ImportError> {
        let mut out = Vec::new();
        discover_into(path, 0, &mut out)?;
        Ok(out)
    }

    /// Imports one source.
    pub fn import(
        &self,
        source: &Source,
        opts: &ImportOptions,
        progress: &dyn Progress,
    ) -> Outcome {
        match self.try_import(source, opts, progress) {
            Ok(o) => o,
            Err(e) => Outcome::Failed(e),
        }
    }

    fn try_import(
        &self,
        source: &Source,
        opts: &ImportOptions,
        progress: &dyn Progress,
    ) -> Result<Outcome, ImportError> {
        let archive_hash = match source {
            Source::Archive { path, .. } => {
                let hash = hash_file(path)?;
                if let Some(public_id) = self.db.galleries().by_archive_hash(&hash)? {
                    return Ok(Outcome::Duplicate { public_id });
                }
                Some(hash)
            }
            Source::Folder { .. } => None,
        };
        let mut c = Collector {
            importer: self,
            progress,
            pages: Vec::new(),
            sidecars: Vec::new(),
            pending: Vec::new(),
            pending_bytes: 0,
            created: Vec::new(),
            warnings: Vec::new(),
        };
        let read = match source {
            Source::Archive { path, kind } => archive::read(path, *kind, &self.limits, &mut c),
            Source::Folder { path } => read_folder(path, &self.limits, &mut c),
        };
        let read = read.and_then(|()| c.flush());
        match read {
            Ok(()) => {}
            Err(ImportError::Corrupt { entry, reason })
                if opts.allow_partial && !c.pages.is_empty() =>
            {
                c.warnings.push(format!(
                    "the archive is damaged at entry {entry:?} ({reason}); kept the {} pages before it",
                    c.pages.len()
                ));
                // What was read before the damage is stored; the rest is not.
                if let Err(e) = c.flush() {
                    return Err(self.fail(&c.created, e));
                }
            }
            Err(e) => return Err(self.fail(&c.created, e)),
        }
        if c.pages.is_empty() {
            let dropped = std::mem::take(&mut c.warnings);
            return Err(self.fail(&c.created, ImportError::NoImages(dropped)));
        }
        let gallery = self.gallery(source, archive_hash, opts, &mut c);
        let created = {
            let _guard = self
                .commit_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Pages found stored already might have been released since by another import's
            // clean-up: check before the rows that name them are committed.
            let mine: HashSet<&BlobHash> = c.created.iter().collect();
            let mut missing = None;
            for p in &gallery.pages {
                if !mine.contains(&p.blob.hash) && self.store.stat(&p.blob.hash)?.is_none() {
                    missing = Some(p.name.clone());
                    break;
                }
            }
            match missing {
                Some(name) => Err(ImportError::Invalid(format!(
                    "page {name:?} was released by another import meanwhile; run the import again"
                ))),
                None => self
                    .db
                    .galleries()
                    .create(&gallery)
                    .map_err(ImportError::from),
            }
        };
        let created = match created {
            Ok(c) => c,
            Err(e) => return Err(self.fail(&c.created, e)),
        };
        let public_id = match created {
            Created::New { public_id, .. } => public_id,
            Created::Duplicate { public_id } => {
                self.release_unused(&c.created)?;
                return Ok(Outcome::Duplicate { public_id });
            }
        };
        let cover = gallery.pages[gallery.cover_page as usize].blob;
        if self.cover_thumbnails
            && let Some(w) = self.make_thumbnail(&cover)?
        {
            c.warnings.push(format!("cover: {w}"));
        }
        Ok(Outcome::Imported(Imported {
            public_id,
            title: gallery.title,
            pages: gallery.pages.len(),
            bytes: gallery.pages.iter().map(|p| p.blob.bytes).sum(),
            warnings: c.warnings,
        }))
    }

    /// Releases what a failed import stored, answering its error.
    fn fail(&self, created: &[BlobHash], e: ImportError) -> ImportError {
        if let Err(cleanup) = self.release_unused(created) {
            tracing::warn!(error = %cleanup, "releasing a failed import's blobs");
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junk_is_recognised() {
        for j in [
            "__MACOSX/._001.jpg",
            "book/__MACOSX/001.jpg",
            "._001.jpg",
            "Thumbs.db",
            "sub/.DS_Store",
            "desktop.ini",
        ] {
            assert!(is_junk(j), "{j}");
        }
        for ok in ["001.jpg", "macosx/001.jpg", "a._b.jpg"] {
            assert!(!is_junk(ok), "{ok}");
        }
    }

    #[test]
    fn stems_lose_archive_extensions() {
        assert_eq!(stem(Path::new("/x/[A] B.cbz")), "[A] B");
        assert_eq!(stem(Path::new("b.tar.gz")), "b");
        assert_eq!(stem(Path::new("folder")), "folder");
        assert_eq!(stem(Path::new(".zip")), ".zip");
    }
}
