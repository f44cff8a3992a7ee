//! Import: archives and folders become galleries.
//!
//! A source (an archive, identified by its content, or a folder of images) is read one entry at
//! a time; each page's bytes go into the blob store (deduplicated by content), its format and
//! size are recorded, and metadata comes from the file name, metadata files inside, and the
//! caller. Only when every page is durable is the gallery created, in one database transaction:
//! it appears whole or not at all. A failed import releases the blobs it stored that nothing else
//! uses, and can simply be run again. See `docs/import.md`.

mod archive;
pub mod filename;
pub mod natural;
pub mod sidecar;
pub mod thumb;

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use db::{BlobInfo, Created, Db, ImageFormat, NewGallery, NewPage, TagName, TagSource};
use lpfs::{BlobHash, BlobStore};

use crate::format::{self, ARCHIVE_SNIFF_LEN, ArchiveKind};
use archive::{Visitor, Want};
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

/// Names that are never pages nor metadata: resource forks, thumbnail caches, desktop files.
fn is_junk(name: &str) -> bool {
    let lower = name.to_lowercase();
    let base = lower.rsplit(['/', '\\']).next().unwrap_or(&lower);
    lower.starts_with("__macosx/")
        || lower.contains("/__macosx/")
        || base.starts_with("._")
        || matches!(base, "thumbs.db" | ".ds_store" | "desktop.ini")
        || base.is_empty()
}

/// Extensions of files that are surely not pages: not worth reading to sniff.
fn surely_not_an_image(name: &str) -> bool {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_lowercase());
    matches!(
        ext.as_deref(),
        Some(
            "txt"
                | "nfo"
                | "url"
                | "html"
                | "htm"
                | "pdf"
                | "mp4"
                | "mkv"
                | "avi"
                | "mov"
                | "webm"
                | "mp3"
                | "flac"
                | "wav"
                | "exe"
                | "db"
                | "ini"
                | "sfv"
                | "md5"
                | "psd"
                | "zip"
                | "rar"
                | "7z"
                | "cbz"
                | "cbr"
                | "cb7"
                | "tar"
                | "gz"
        )
    )
}

/// Collects pages and metadata files as a source is read.
struct Collector<'a> {
    importer: &'a Importer,
    progress: &'a dyn Progress,
    pages: Vec<NewPage>,
    sidecars: Vec<(sidecar::Kind, String, Vec<u8>)>,
    /// Page bytes waiting to be stored together: those of the last `pending.len()` pages.
    pending: Vec<Vec<u8>>,
    pending_bytes: usize,
    /// Blobs this import wrote (not those that were stored already).
    created: Vec<BlobHash>,
    warnings: Vec<String>,
}

/// Pages are stored in groups of about this many bytes: one durability point per group.
const PUT_GROUP_BYTES: usize = 32 << 20;

impl Collector<'_> {
    fn flush(&mut self) -> Result<(), ImportError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        self.pending_bytes = 0;
        // The waiting bytes are the last pages collected, in order: the store's hashes are theirs.
        let first = self.pages.len() - batch.len();
        for (page, outcome) in self.pages[first..]
            .iter_mut()
            .zip(self.importer.store.put_many(batch)?)
        {
            page.blob.hash = outcome.hash;
            if outcome.created {
                self.created.push(outcome.hash);
            }
        }
        Ok(())
    }
}

impl Visitor for Collector<'_> {
    fn want(&mut self, name: &str, declared_size: u64) -> Want {
        if is_junk(name) {
            return Want::Skip;
        }
        if let Some(_kind) = sidecar::kind_of(name) {
            return if declared_size <= sidecar::MAX_SIDECAR_BYTES {
                Want::Read(sidecar::MAX_SIDECAR_BYTES)
            } else {
                Want::Skip
            };
        }
        if surely_not_an_image(name) {
            self.warnings.push(format!("{name}: not an image, skipped"));
            return Want::Skip;
        }
        let cap = self.importer.limits.max_page_bytes;
        if declared_size > cap {
            self.warnings.push(format!(
                "{name}: {declared_size} bytes, larger than a page may be (import.max_page_size); skipped"
            ));
            return Want::Skip;
        }
        Want::Read(cap)
    }

    fn take(&mut self, name: String, data: Vec<u8>) -> Result<(), ImportError> {
        if let Some(kind) = sidecar::kind_of(&name) {
            self.sidecars.push((kind, name, data));
            return Ok(());
        }
        let Some(format) = format::image_format(&data) else {
            if !data.is_empty() {
                self.warnings.push(format!("{name}: not an image, skipped"));
            }
            return Ok(());
        };
        let (width, height) = match imagesize::blob_size(&data) {
            Ok(s) => (
                u32::try_from(s.width).unwrap_or(u32::MAX),
                u32::try_from(s.height).unwrap_or(u32::MAX),
            ),
            Err(e) => {
                self.warnings
                    .push(format!("{name}: the image looks damaged ({e}); kept as is"));
                (0, 0)
            }
        };
        let bytes = data.len() as u64;
        self.pages.push(NewPage {
            blob: BlobInfo {
                // Filled in when the page is stored (the store hashes it).
                hash: BlobHash([0; 32]),
                format,
                width,
                height,
                bytes,
            },
            name,
        });
        self.progress.page(bytes);
        self.pending_bytes += data.len();
        self.pending.push(data);
        if self.pending_bytes >= PUT_GROUP_BYTES {
            self.flush()?;
        }
        Ok(())
    }
}

/// The BLAKE3 of a file, streamed.
fn hash_file(path: &Path) -> Result<BlobHash, ImportError> {
    let io_err = |e| ImportError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let mut f = std::fs::File::open(path).map_err(io_err)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(BlobHash(*hasher.finalize().as_bytes()))
}

/// The first bytes of a file.
fn head(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    std::fs::File::open(path)?
        .take(n as u64)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// What a file name says without its archive extension(s).
fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_lowercase();
    for ext in [
        ".tar.gz", ".tgz", ".cbz", ".zip", ".cbr", ".rar", ".cb7", ".7z", ".cbt", ".tar",
    ] {
        if lower.ends_with(ext) && name.len() > ext.len() {
            return name[..name.len() - ext.len()].to_string();
        }
    }
    name
}

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

    /// Deletes those of `hashes` that nothing in the library uses; answers how many it deleted.
    /// Checked again under the commit lock: an import that committed a gallery using one of them
    /// since they were let go keeps it.
    fn release_unused(&self, hashes: &[BlobHash]) -> Result<usize, ImportError> {
        if hashes.is_empty() {
            return Ok(0);
        }
        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let used = self.db.galleries().referenced(hashes)?;
        let mut released = 0;
        for h in hashes.iter().filter(|h| !used.contains(h)) {
            if self.store.delete(h)? {
                released += 1;
            }
        }
        Ok(released)
    }

    /// Deletes a gallery for good, then the images nothing else uses (re-checked under the
    /// commit lock, so that an import committing the same images meanwhile keeps them); answers
    /// how many images were released. The one way every surface purges.
    pub fn purge(&self, public_id: &str) -> Result<usize, ImportError> {
        let let_go = self.db.galleries().purge(public_id)?;
        self.release_unused(&let_go)
    }

    /// Deletes every stored blob that nothing in the library uses: what imports killed mid-way
    /// left behind. Only safe while no import runs (callers hold the store alone); answers how
    /// many were released.
    pub fn release_orphans(&self) -> Result<u64, ImportError> {
        let _guard = self
            .commit_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut after: Option<BlobHash> = None;
        let mut released = 0;
        loop {
            let batch = self.store.list(after.as_ref(), 10_000)?;
            let Some(last) = batch.last().copied() else {
                return Ok(released);
            };
            let used = self.db.galleries().referenced(&batch)?;
            for h in batch.iter().filter(|h| !used.contains(h)) {
                if self.store.delete(h)? {
                    released += 1;
                }
            }
            after = Some(last);
        }
    }

    /// Makes thumbnails for up to `limit` page images that have none yet (the background job);
    /// answers how many images were looked at (0: nothing is waiting).
    pub fn make_pending_thumbnails(&self, limit: usize) -> Result<usize, ImportError> {
        let waiting = self.db.galleries().images_needing_thumbnails(limit)?;
        let threads = self.thumbnail_threads.clamp(1, waiting.len().max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| -> Result<(), ImportError> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(image) = waiting.get(i) else {
                                return Ok(());
                            };
                            if let Some(w) = self.make_thumbnail(image)? {
                                tracing::debug!(image = %image.hash, warning = %w, "thumbnail");
                            }
                        }
                    })
                })
                .collect();
            workers.into_iter().try_for_each(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(ImportError::Invalid("a thumbnail worker panicked".into()))
                })
            })
        })?;
        Ok(waiting.len())
    }

    /// Makes page `position` the gallery's cover, and releases the cut-out cover it replaces
    /// (when nothing else uses it).
    pub fn set_cover_page(&self, public_id: &str, position: u32) -> Result<(), ImportError> {
        let let_go = self.db.galleries().set_cover_page(public_id, position)?;
        self.release_unused(&let_go)?;
        Ok(())
    }

    /// Makes the `part` of page `position` the gallery's cover (cut and scaled to thumbnail size),
    /// and deletes the cropped cover it replaces. Answers the new cover's hash.
    pub fn set_cropped_cover(
        &self,
        public_id: &str,
        position: u32,
        part: thumb::Crop,
    ) -> Result<BlobHash, ImportError> {
        let pages = self.db.galleries().pages(public_id)?;
        let page = pages.get(position as usize).ok_or_else(|| {
            ImportError::Invalid(format!(
                "page {} is past the gallery's {} pages",
                position + 1,
                pages.len()
            ))
        })?;
        let bytes = self.store.get(&page.blob.hash)?.ok_or_else(|| {
            ImportError::Invalid("the page's image is missing from the image store".into())
        })?;
        let cover = thumb::crop(&bytes, page.blob.format, part, &self.thumbnails)
            .map_err(|e| ImportError::Invalid(format!("the cover cannot be cut: {e}")))?;
        let put = self.store.put(&cover.jpeg)?;
        let released = self.db.galleries().set_cover_image(
            public_id,
            position,
            &BlobInfo {
                hash: put.hash,
                format: ImageFormat::Jpeg,
                width: cover.width,
                height: cover.height,
                bytes: cover.jpeg.len() as u64,
            },
        )?;
        self.release_unused(&released)?;
        Ok(put.hash)
    }

    /// Makes and records the thumbnail of an image; answers a warning when none could be made.
    ///
    /// Made once however many ask at the same time (the others wait, then find it made), and
    /// decoded within the [`Importer::decode_budget`].
    pub fn make_thumbnail(&self, image: &BlobInfo) -> Result<Option<String>, ImportError> {
        let slot = self
            .thumbnailing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(image.hash)
            .or_default()
            .clone();
        let made = {
            let _one_at_a_time = slot.lock().unwrap_or_else(PoisonError::into_inner);
            match self.db.galleries().thumbnail_of(&image.hash)? {
                Some(db::ThumbnailState::Pending(_)) => self.make_thumbnail_now(image),
                // Made (or given up on) by whoever held the slot before.
                _ => Ok(None),
            }
        };
        let mut slots = self
            .thumbnailing
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's and this one: nobody else waits on the slot.
        if Arc::strong_count(&slot) == 2 {
            slots.remove(&image.hash);
        }
        made
    }

    fn make_thumbnail_now(&self, image: &BlobInfo) -> Result<Option<String>, ImportError> {
        let Some(bytes) = self.store.get(&image.hash)? else {
            self.db.galleries().mark_thumbnail_failed(&image.hash)?;
            return Ok(Some("the image is not stored".into()));
        };
        let made = {
            let _memory = self.decode_budget.hold(thumb::decode_bytes(
                &bytes,
                image.format,
                &self.thumbnails,
            ));
            thumb::make(&bytes, image.format, &self.thumbnails)
        };
        match made {
            Ok(t) => {
                let put = self.store.put(&t.jpeg)?;
                self.db.galleries().set_thumbnail(
                    &image.hash,
                    &BlobInfo {
                        hash: put.hash,
                        format: ImageFormat::Jpeg,
                        width: t.width,
                        height: t.height,
                        bytes: t.jpeg.len() as u64,
                    },
                )?;
                Ok(None)
            }
            Err(e) => {
                if e.is_permanent() {
                    self.db.galleries().mark_thumbnail_failed(&image.hash)?;
                } else {
                    self.db
                        .galleries()
                        .mark_thumbnail_unsupported(&image.hash)?;
                }
                Ok(Some(format!("no thumbnail: {e}")))
            }
        }
    }

    /// The gallery to create from what was read.
    fn gallery(
        &self,
        source: &Source,
        archive_hash: Option<BlobHash>,
        opts: &ImportOptions,
        c: &mut Collector<'_>,
    ) -> NewGallery {
        let mut pages = std::mem::take(&mut c.pages);
        pages.sort_by(|a, b| natural::compare(&a.name, &b.name));
        let path = source.path();
        let from_name = filename::parse(&stem(path));
        let mut g = NewGallery {
            title: from_name.title.clone(),
            source_filename: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            // A folder has no archive: its pages, in order, stand for it.
            archive_hash: archive_hash.or_else(|| {
                let mut h = blake3::Hasher::new();
                h.update(b"littlepanda folder v1");
                for p in &pages {
                    h.update(&p.blob.hash.0);
                }
                Some(BlobHash(*h.finalize().as_bytes()))
            }),
            pages,
            ..NewGallery::default()
        };
        let mut tags: Vec<(TagName, TagSource)> = Vec::new();
        let mut add = |ns: &str, name: &str, source: TagSource, warnings: &mut Vec<String>| {
            match TagName::new(ns, name) {
                Ok(t) => add_tag(&mut tags, t, source),
                Err(e) => warnings.push(format!("tag {ns}:{name} left out: {e}")),
            }
        };
        for t in &opts.tags {
            add(&t.namespace, &t.name, TagSource::User, &mut c.warnings);
        }
        // Metadata files: ComicInfo.xml first, then gallery-dl, E-Hentai Downloader, H@H.
        let mut sidecars: Vec<(sidecar::Kind, String, Vec<u8>)> = std::mem::take(&mut c.sidecars);
        let rank = |k: sidecar::Kind| match k {
            sidecar::Kind::ComicInfo => 0,
            sidecar::Kind::GalleryDlJson => 1,
            sidecar::Kind::InfoTxt => 2,
            sidecar::Kind::GalleryInfo => 3,
        };
        sidecars.sort_by_key(|(k, name, _)| (rank(*k), name.matches('/').count(), name.clone()));
        let mut titled = false;
        for (kind, name, bytes) in &sidecars {
            let Some(s) = sidecar::parse(*kind, bytes) else {
                if *kind != sidecar::Kind::GalleryDlJson {
                    c.warnings.push(format!(
                        "{name}: not a metadata file LittlePanda understands"
                    ));
                }
                continue;
            };
            if !titled && let Some(t) = s.title {
                g.title = t;
                titled = true;
            }
            fill(&mut g.title_original, s.title_original);
            fill(&mut g.category, s.category);
            fill(&mut g.summary, s.summary);
            if g.posted_at.is_none() {
                g.posted_at = s.posted_at;
            }
            if let Some(d) = s.reading_direction {
                g.reading_direction = d;
            }
            if let Some(url) = s.source_url
                && !g.summary.contains(&url)
            {
                if !g.summary.is_empty() {
                    g.summary.push_str("\n\n");
                }
                g.summary.push_str(&format!("Source: {url}"));
            }
            for (ns, t) in &s.tags {
                add(ns, t, TagSource::Sidecar, &mut c.warnings);
            }
        }
        for (ns, t) in &from_name.tags {
            add(ns, t, TagSource::FileName, &mut c.warnings);
        }
        if let Some(t) = &opts.title {
            g.title = t.clone();
        }
        if g.title.trim().is_empty() {
            g.title = g.source_filename.clone();
        }
        g.tags = tags;
        g
    }
}

/// Namespaces of names, where two sources often give one person's name short and long.
const NAME_NAMESPACES: [&str; 2] = ["artist", "group"];

/// Adds `tag` to a gallery's tags unless it is there already. A name read from metadata
/// (`artist:kenji` from the file name, `artist:kenji mori` from ComicInfo) is one tag: of two
/// where one's words begin the other's, the fuller one is kept. Tags the caller gave are kept
/// as given.
fn add_tag(tags: &mut Vec<(TagName, TagSource)>, tag: TagName, source: TagSource) {
    if tags.iter().any(|(have, _)| *have == tag) {
        return;
    }
    if source != TagSource::User && NAME_NAMESPACES.contains(&tag.namespace.as_str()) {
        let same_person = |short: &TagName, long: &TagName| {
            short.namespace == long.namespace && words_begin(&short.name, &long.name)
        };
        if tags.iter().any(|(have, _)| same_person(&tag, have)) {
            return;
        }
        tags.retain(|(have, s)| *s == TagSource::User || !same_person(have, &tag));
    }
    tags.push((tag, source));
}

/// Whether `short`'s words are the first words of `long` (and fewer).
fn words_begin(short: &str, long: &str) -> bool {
    let (mut a, mut b) = (short.split_whitespace(), long.split_whitespace());
    let mut matched = 0;
    loop {
        match (a.next(), b.next()) {
            (None, Some(_)) => return matched > 0,
            (Some(x), Some(y)) if x == y => matched += 1,
            _ => return false,
        }
    }
}

fn fill(field: &mut String, value: Option<String>) {
    if field.is_empty()
        && let Some(v) = value
    {
        *field = v;
    }
}

/// Whether a directory has image files directly in it (judged by their first bytes).
fn has_images(dir: &Path) -> Result<bool, ImportError> {
    let io_err = |e| ImportError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().map_err(io_err)?.is_file()
            || is_junk(&name)
            || surely_not_an_image(&name)
        {
            continue;
        }
        if head(&entry.path(), format::SNIFF_LEN)
            .ok()
            .and_then(|h| format::image_format(&h))
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

const MAX_DEPTH: usize = 16;

fn discover_into(path: &Path, depth: usize, out: &mut Vec<Source>) -> Result<(), ImportError> {
    let io_err = |e| ImportError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io_err)?;
    if meta.is_file() {
        if meta.len() == 0 {
            return Err(ImportError::NotAnArchive("the file is empty".into()));
        }
        let head = head(path, ARCHIVE_SNIFF_LEN).map_err(io_err)?;
        return match format::archive_kind(&head) {
            Some(kind) => {
                out.push(Source::Archive {
                    path: path.to_path_buf(),
                    kind,
                });
                Ok(())
            }
            None => Err(ImportError::NotAnArchive(path.display().to_string())),
        };
    }
    if !meta.is_dir() {
        return Err(ImportError::NotAnArchive(format!(
            "{} is neither a file nor a folder (links are not followed)",
            path.display()
        )));
    }
    if has_images(path)? {
        out.push(Source::Folder {
            path: path.to_path_buf(),
        });
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io_err)?
        .filter_map(|e| e.ok())
        .filter(|e| !is_junk(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    children.sort_by(|a, b| natural::compare(&a.to_string_lossy(), &b.to_string_lossy()));
    for child in children {
        let Ok(meta) = std::fs::symlink_metadata(&child) else {
            continue;
        };
        if meta.is_dir() {
            discover_into(&child, depth + 1, out)?;
        } else if meta.is_file()
            && meta.len() > 0
            && let Ok(h) = head(&child, ARCHIVE_SNIFF_LEN)
            && let Some(kind) = format::archive_kind(&h)
        {
            out.push(Source::Archive { path: child, kind });
        }
    }
    Ok(())
}

/// Reads a folder gallery: its files and those of its subfolders (chapters), links skipped.
fn read_folder(root: &Path, limits: &Limits, v: &mut dyn Visitor) -> Result<(), ImportError> {
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    let mut count = 0usize;
    while let Some((dir, prefix, depth)) = stack.pop() {
        let io_err = |e| ImportError::Io {
            path: dir.clone(),
            source: e,
        };
        for entry in std::fs::read_dir(&dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let kind = entry.file_type().map_err(io_err)?;
            if kind.is_dir() && depth < MAX_DEPTH && !is_junk(&format!("{name}/x")) {
                stack.push((entry.path(), format!("{name}/"), depth + 1));
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            count += 1;
            if count > limits.max_entries {
                return Err(ImportError::TooBig(format!(
                    "more than {} files",
                    limits.max_entries
                )));
            }
            let size = entry.metadata().map_err(io_err)?.len();
            let Want::Read(cap) = v.want(&name, size) else {
                continue;
            };
            let path = entry.path();
            let mut data = Vec::with_capacity(size.min(cap) as usize);
            std::fs::File::open(&path)
                .and_then(|f| f.take(cap + 1).read_to_end(&mut data))
                .map_err(|e| ImportError::Io {
                    path: path.clone(),
                    source: e,
                })?;
            if data.len() as u64 > cap {
                return Err(ImportError::TooBig(format!(
                    "{name} is larger than {cap} bytes (import.max_page_size)"
                )));
            }
            v.take(name, data)?;
        }
    }
    Ok(())
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
