//! What the API sends about galleries: view types of their own, built from the database's rows.
//! A gallery is named by its public id (40 hex digits) only; the internal row id, which the
//! indexes use, never leaves the server.

use db::{GalleryTag, ReadingDirection, TagName};
use lpfs::BlobHash;

/// `GET /api/v1/galleries/{id}`.
#[derive(Debug, serde::Serialize)]
pub struct GalleryView {
    pub public_id: String,
    pub title: String,
    pub title_original: String,
    pub category: String,
    pub summary: String,
    pub source_filename: String,
    pub archive_hash: Option<BlobHash>,
    pub total_bytes: u64,
    pub page_count: u32,
    pub reading_direction: ReadingDirection,
    pub cover_page: u32,
    /// The image shown as cover: the cover page's image, or a cut-out cover.
    pub cover: Option<BlobHash>,
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
#[derive(Debug, serde::Serialize)]
pub struct GallerySummaryView {
    pub public_id: String,
    pub title: String,
    pub page_count: u32,
    pub total_bytes: u64,
    pub added_at: i64,
    pub trashed: bool,
    /// The cover image, and its thumbnail when one has been made.
    pub cover: Option<BlobHash>,
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
