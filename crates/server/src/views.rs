//! What the API sends: view types of their own, built from the database's rows, each with its
//! schema in the OpenAPI document. A gallery is named by its public id (40 hex digits) only; the
//! internal row id, which the indexes use, never leaves the server.

use db::{GalleryTag, ImageFormat, KeyScope, ReadingDirection, Role, TagName};
use lpfs::BlobHash;
use utoipa::ToSchema;

/// `GET /api/v1/galleries/{id}`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct GalleryView {
    /// The gallery's id: 40 hex digits.
    pub public_id: String,
    pub title: String,
    pub title_original: String,
    pub category: String,
    pub summary: String,
    pub source_filename: String,
    /// The imported archive's hash, when it came from one.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub archive_hash: Option<BlobHash>,
    pub total_bytes: u64,
    pub page_count: u32,
    pub reading_direction: ReadingDirection,
    pub cover_page: u32,
    /// The image shown as cover: the cover page's image, or a cut-out cover.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub cover: Option<BlobHash>,
    /// Milliseconds since the Unix epoch, as are all times.
    pub added_at: i64,
    pub updated_at: i64,
    pub posted_at: Option<i64>,
    pub trashed_at: Option<i64>,
    pub tags: Vec<GalleryTag>,
}

impl From<db::Gallery> for GalleryView {
    fn from(g: db::Gallery) -> Self {
        Self {
            public_id: g.public_id,
            title: g.title,
            title_original: g.title_original,
            category: g.category,
            summary: g.summary,
            source_filename: g.source_filename,
            archive_hash: g.archive_hash,
            total_bytes: g.total_bytes,
            page_count: g.page_count,
            reading_direction: g.reading_direction,
            cover_page: g.cover_page,
            cover: g.cover,
            added_at: g.added_at,
            updated_at: g.updated_at,
            posted_at: g.posted_at,
            trashed_at: g.trashed_at,
            tags: g.tags,
        }
    }
}

/// A gallery in a list (search results).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct GallerySummaryView {
    pub public_id: String,
    pub title: String,
    pub page_count: u32,
    pub total_bytes: u64,
    pub added_at: i64,
    pub trashed: bool,
    /// The cover image, and its thumbnail when one has been made.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub cover: Option<BlobHash>,
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub cover_thumbnail: Option<BlobHash>,
    pub tags: Vec<TagName>,
}

impl From<db::GallerySummary> for GallerySummaryView {
    fn from(g: db::GallerySummary) -> Self {
        Self {
            public_id: g.public_id,
            title: g.title,
            page_count: g.page_count,
            total_bytes: g.total_bytes,
            added_at: g.added_at,
            trashed: g.trashed,
            cover: g.cover,
            cover_thumbnail: g.cover_thumbnail,
            tags: g.tags,
        }
    }
}

/// One page of search results.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SearchResults {
    /// How many galleries match in all.
    pub total: u64,
    pub offset: usize,
    pub galleries: Vec<GallerySummaryView>,
}

/// A page of a gallery, with its image's size and where to get it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct PageView {
    /// Its place in the gallery, from 0.
    pub position: u32,
    /// Its file name in the source.
    pub name: String,
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub hash: BlobHash,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    /// `/api/v1/blobs/{hash}`: the image, byte for byte.
    pub image: String,
    /// `/api/v1/thumbnails/{hash}`: its thumbnail (404 `thumbnail-unavailable` until made).
    pub thumbnail: String,
}

impl From<db::Page> for PageView {
    fn from(p: db::Page) -> Self {
        Self {
            position: p.position,
            name: p.name,
            hash: p.blob.hash,
            format: p.blob.format,
            width: p.blob.width,
            height: p.blob.height,
            bytes: p.blob.bytes,
            image: format!("/api/v1/blobs/{}", p.blob.hash),
            thumbnail: format!("/api/v1/thumbnails/{}", p.blob.hash),
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct PagesView {
    pub pages: Vec<PageView>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TagsView {
    pub tags: Vec<GalleryTag>,
}

/// A user account (never its password).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UserView {
    pub name: String,
    pub role: Role,
    pub created_at: i64,
}

impl From<&db::User> for UserView {
    fn from(u: &db::User) -> Self {
        Self {
            name: u.name.clone(),
            role: u.role,
            created_at: u.created_at,
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct UsersView {
    pub users: Vec<UserView>,
}

/// A session begun: who, and the token every change must carry in `X-CSRF-Token`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SignedIn {
    pub user: UserView,
    pub csrf: String,
}

/// `GET /api/v1/session`.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct SessionView {
    /// Who is signed in, if anyone.
    pub user: Option<UserView>,
    /// The session's CSRF token, when the caller came with a session cookie.
    pub csrf: Option<String>,
    /// No admin exists yet: the first-run setup is waiting.
    pub setup_needed: bool,
    /// And it may be done from where the caller is (the server itself).
    pub setup_allowed_here: bool,
    /// Whether reading is open to callers who are not signed in.
    pub anonymous_read: bool,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CsrfView {
    pub csrf: String,
}

/// An API key as listed (its secret is shown once, when it is made).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct KeyView {
    pub id: i64,
    pub name: String,
    pub scope: KeyScope,
    pub created_at: i64,
    pub used_at: Option<i64>,
}

impl From<db::ApiKey> for KeyView {
    fn from(k: db::ApiKey) -> Self {
        Self {
            id: k.id,
            name: k.name,
            scope: k.scope,
            created_at: k.created_at,
            used_at: k.used_at,
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct KeysView {
    pub keys: Vec<KeyView>,
}

/// A key just made: the secret, shown this once.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct NewKeyView {
    pub id: i64,
    pub key: String,
    pub scope: KeyScope,
}

/// Where the caller is in a gallery.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ProgressView {
    /// The page last shown (from 0); `null` when the gallery was never opened.
    pub progress: Option<Progress>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Progress {
    pub page: u32,
    /// Whether the last page was reached.
    pub finished: bool,
    pub updated_at: i64,
}

impl From<db::Progress> for Progress {
    fn from(p: db::Progress) -> Self {
        Self {
            page: p.page,
            finished: p.finished,
            updated_at: p.updated_at,
        }
    }
}

/// A collection: a hand-picked list, or a saved search when `query` is set.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CollectionView {
    pub id: i64,
    pub name: String,
    pub query: Option<String>,
    pub created_at: i64,
    /// Galleries picked by hand (none for a saved search).
    pub galleries: u64,
}

impl From<db::Collection> for CollectionView {
    fn from(c: db::Collection) -> Self {
        Self {
            id: c.id,
            name: c.name,
            query: c.query,
            created_at: c.created_at,
            galleries: c.galleries,
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CollectionsView {
    pub collections: Vec<CollectionView>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Created {
    pub id: i64,
}

/// A tag with how many galleries carry it.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TagCount {
    /// `namespace:name`.
    pub tag: String,
    pub galleries: u64,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TagCounts {
    /// How many tags match in all.
    pub total: usize,
    pub tags: Vec<TagCount>,
}

/// A suggestion for what is being typed.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Suggestion {
    /// `namespace:name`.
    pub tag: String,
    pub galleries: u64,
    /// The alias typed, when the suggestion is its canonical tag.
    pub via_alias: Option<String>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Suggestions {
    pub tags: Vec<Suggestion>,
}

/// Tag relations: each alias with its canonical tag, each child with a parent.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct TagRelations {
    /// `[alias, canonical]` pairs.
    pub siblings: Vec<[String; 2]>,
    /// `[child, parent]` pairs.
    pub parents: Vec<[String; 2]>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Renamed {
    /// Galleries whose tags changed.
    pub galleries: u64,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Purged {
    /// Images nothing else used, now deleted from the store.
    pub released_images: usize,
}

/// What importing one source found.
#[derive(Debug, serde::Serialize, ToSchema)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum ImportResult {
    /// A new gallery.
    Imported {
        gallery: ImportedView,
    },
    /// The same archive or pages are in the library already, as this gallery.
    Duplicate {
        public_id: String,
    },
    Failed {
        error: String,
    },
}

/// A gallery just imported.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ImportedView {
    pub public_id: String,
    pub title: String,
    pub pages: usize,
    pub bytes: u64,
    /// What was odd but not fatal: skipped files, undecodable pages.
    pub warnings: Vec<String>,
}

impl From<library::import::Outcome> for ImportResult {
    fn from(o: library::import::Outcome) -> Self {
        use library::import::Outcome;
        match o {
            Outcome::Imported(g) => Self::Imported {
                gallery: ImportedView {
                    public_id: g.public_id,
                    title: g.title,
                    pages: g.pages,
                    bytes: g.bytes,
                    warnings: g.warnings,
                },
            },
            Outcome::Duplicate { public_id } => Self::Duplicate { public_id },
            Outcome::Failed(e) => Self::Failed {
                error: e.to_string(),
            },
        }
    }
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct ImportResults {
    pub results: Vec<ImportResult>,
}

/// A server-path import begun: its job.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JobStarted {
    pub job: i64,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct JobsView {
    pub jobs: Vec<crate::jobs::JobEvent>,
}

/// A blob stored (or found stored).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Stored {
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub hash: BlobHash,
    pub size: u64,
    /// False when it was stored already.
    pub created: bool,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// The store's sizes.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct StoreStats {
    pub volumes: usize,
    pub blobs: u64,
    /// Payload bytes of live blobs.
    pub live_bytes: u64,
    /// Bytes of all volume files.
    pub volume_bytes: u64,
    /// Bytes of dead records that compaction can reclaim.
    pub garbage_bytes: u64,
    /// Heap bytes of the in-memory index.
    pub index_memory_bytes: u64,
    pub per_volume: Vec<VolumeView>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct VolumeView {
    pub id: u32,
    pub generation: u32,
    pub bytes: u64,
    pub live_bytes: u64,
    pub garbage_bytes: u64,
    /// Whether new blobs are written to it.
    pub active: bool,
}

impl From<lpfs::Stats> for StoreStats {
    fn from(s: lpfs::Stats) -> Self {
        Self {
            volumes: s.volumes,
            blobs: s.blobs,
            live_bytes: s.live_bytes,
            volume_bytes: s.volume_bytes,
            garbage_bytes: s.garbage_bytes,
            index_memory_bytes: s.index_memory_bytes,
            per_volume: s
                .per_volume
                .into_iter()
                .map(|v| VolumeView {
                    id: v.id,
                    generation: v.generation,
                    bytes: v.bytes,
                    live_bytes: v.live_bytes,
                    garbage_bytes: v.garbage_bytes,
                    active: v.active,
                })
                .collect(),
        }
    }
}

/// What a compaction did.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct CompactionView {
    /// Volumes rewritten without their garbage.
    pub volumes_compacted: Vec<u32>,
    /// Volumes removed because nothing in them was live.
    pub volumes_removed: Vec<u32>,
    pub blobs_moved: u64,
    /// Volume bytes before and after, over the volumes touched.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Records found damaged while copying, set aside in `lost+found`.
    pub damaged: Vec<DamageView>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DamageView {
    pub volume: u32,
    pub offset: u64,
    pub bytes: u64,
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{64}$")]
    pub hash: Option<BlobHash>,
    pub reason: String,
}

impl From<lpfs::CompactReport> for CompactionView {
    fn from(r: lpfs::CompactReport) -> Self {
        Self {
            volumes_compacted: r.volumes_compacted,
            volumes_removed: r.volumes_removed,
            blobs_moved: r.blobs_moved,
            bytes_before: r.bytes_before,
            bytes_after: r.bytes_after,
            damaged: r
                .damaged
                .into_iter()
                .map(|d| DamageView {
                    volume: d.volume,
                    offset: d.offset,
                    bytes: d.bytes,
                    hash: d.hash,
                    reason: d.reason,
                })
                .collect(),
        }
    }
}
