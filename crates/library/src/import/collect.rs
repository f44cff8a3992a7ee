//! What an import keeps while it reads a source: pages stored in groups of ~32 MB (each group one
//! durability point), metadata files, what was skipped and why; and small helpers over files.

use super::*;

/// Names that are never pages nor metadata: resource forks, thumbnail caches, desktop files.
pub(super) fn is_junk(name: &str) -> bool {
    let lower = name.to_lowercase();
    let base = lower.rsplit(['/', '\\']).next().unwrap_or(&lower);
    lower.starts_with("__macosx/")
        || lower.contains("/__macosx/")
        || base.starts_with("._")
        || matches!(base, "thumbs.db" | ".ds_store" | "desktop.ini")
        || base.is_empty()
}

/// Extensions of files that are surely not pages: not worth reading to sniff.
pub(super) fn surely_not_an_image(name: &str) -> bool {
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
pub(super) struct Collector<'a> {
    pub(super) importer: &'a Importer,
    pub(super) progress: &'a dyn Progress,
    pub(super) pages: Vec<NewPage>,
    pub(super) sidecars: Vec<(sidecar::Kind, String, Vec<u8>)>,
    /// Page bytes waiting to be stored together: those of the last `pending.len()` pages.
    pub(super) pending: Vec<Vec<u8>>,
    pub(super) pending_bytes: usize,
    /// Blobs this import wrote (not those that were stored already).
    pub(super) created: Vec<BlobHash>,
    pub(super) warnings: Vec<String>,
}

/// Pages are stored in groups of about this many bytes: one durability point per group.
pub(super) const PUT_GROUP_BYTES: usize = 32 << 20;

impl Collector<'_> {
    pub(super) fn flush(&mut self) -> Result<(), ImportError> {
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
pub(super) fn hash_file(path: &Path) -> Result<BlobHash, ImportError> {
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
pub(super) fn head(path: &Path, n: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(n);
    std::fs::File::open(path)?
        .take(n as u64)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

/// What a file name says without its archive extension(s).
pub(super) fn stem(path: &Path) -> String {
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
