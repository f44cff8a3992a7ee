//! Galleries and their pages: creation in one transaction (pages, tags, blob references, change
//! feed), reading, listing, editing, trash and purge.

use std::collections::HashMap;

use lpfs::BlobHash;

use crate::changes::{ChangeKind, record_change};
use crate::error::{Error, Result};
use crate::pages::{self, PackedPage};
use crate::sql::{Param, Row, Sql, insert_each, insert_rows, placeholders, value_rows};
use crate::tags::{self, GalleryTag, TagName, TagSource};
use crate::{Db, now_ms};

mod blobs;
mod index_rows;

use blobs::*;
pub use index_rows::{IndexRow, IndexRowRef};

/// The image formats LittlePanda knows, as sniffed from their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ImageFormat {
    Other,
    Jpeg,
    Png,
    Gif,
    Webp,
    Avif,
    Bmp,
}

impl ImageFormat {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Other => 0,
            Self::Jpeg => 1,
            Self::Png => 2,
            Self::Gif => 3,
            Self::Webp => 4,
            Self::Avif => 5,
            Self::Bmp => 6,
        }
    }

    pub(crate) fn from_code(c: i64) -> Self {
        match c {
            1 => Self::Jpeg,
            2 => Self::Png,
            3 => Self::Gif,
            4 => Self::Webp,
            5 => Self::Avif,
            6 => Self::Bmp,
            _ => Self::Other,
        }
    }
}

/// How a gallery is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ReadingDirection {
    #[default]
    LeftToRight,
    RightToLeft,
    Vertical,
}

impl ReadingDirection {
    fn code(self) -> i64 {
        match self {
            Self::LeftToRight => 0,
            Self::RightToLeft => 1,
            Self::Vertical => 2,
        }
    }

    fn from_code(c: i64) -> Self {
        match c {
            1 => Self::RightToLeft,
            2 => Self::Vertical,
            _ => Self::LeftToRight,
        }
    }
}

/// What the store holds for an image: its hash, and what was learned of it at import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BlobInfo {
    pub hash: BlobHash,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
}

/// A page of a gallery being created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPage {
    pub blob: BlobInfo,
    /// The page's name in its archive or folder.
    pub name: String,
}

/// A gallery to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewGallery {
    pub title: String,
    pub title_original: String,
    pub category: String,
    pub summary: String,
    pub source_filename: String,
    /// BLAKE3 of the archive it came from: importing the same archive again is detected.
    pub archive_hash: Option<BlobHash>,
    pub reading_direction: ReadingDirection,
    pub posted_at: Option<i64>,
    /// Position of the cover among `pages`.
    pub cover_page: u32,
    pub pages: Vec<NewPage>,
    pub tags: Vec<(TagName, TagSource)>,
}

/// What creating a gallery did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Created {
    New {
        public_id: String,
        id: i64,
    },
    /// The archive was imported before, as this gallery; nothing was written.
    Duplicate {
        public_id: String,
    },
}

/// A gallery as stored (the API sends a view of it: `server::views`).
/// A change of what describes a gallery: each field given replaces the gallery's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetailsChange {
    pub title: Option<String>,
    pub title_original: Option<String>,
    pub summary: Option<String>,
    pub category: Option<String>,
    pub reading_direction: Option<ReadingDirection>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gallery {
    /// Internal id (dense, for indexes); clients see `public_id`.
    pub id: i64,
    /// 40 lowercase hex digits.
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
    /// The image shown as cover: the cover page's image, or a cropped cover.
    pub cover: Option<BlobHash>,
    pub added_at: i64,
    pub updated_at: i64,
    pub posted_at: Option<i64>,
    pub trashed_at: Option<i64>,
    pub tags: Vec<GalleryTag>,
}

/// A page as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Page {
    pub position: u32,
    pub name: String,
    pub blob: BlobInfo,
    pub thumbnail: Option<BlobHash>,
}

/// Where a page image's thumbnail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbnailState {
    Made(BlobHash),
    /// Not made yet: here is what is known of the image to make it.
    Pending(BlobInfo),
    /// The image could not be decoded (damaged, or over the pixel limit).
    Failed,
    /// This build has no decoder for the image's format.
    Unsupported,
}

/// A gallery as listed in a grid (the API sends a view of it: `server::views`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GallerySummary {
    pub id: i64,
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

/// Order of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    #[default]
    NewestFirst,
    OldestFirst,
    TitleAscending,
    TitleDescending,
}

/// A page of a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    pub offset: u64,
    pub limit: u32,
    pub order: ListOrder,
    /// List the trash instead of the library.
    pub trashed: bool,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self {
            offset: 0,
            limit: 50,
            order: ListOrder::NewestFirst,
            trashed: false,
        }
    }
}

const MAX_TITLE: usize = 16 * 1024;
const MAX_TEXT: usize = 64 * 1024;

fn check_text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if value.contains('\0') {
        return Err(Error::invalid(field, "may not contain NUL characters"));
    }
    if value.len() > max {
        return Err(Error::invalid(
            field,
            format!("at most {max} bytes, got {}", value.len()),
        ));
    }
    Ok(())
}

fn validate(g: &NewGallery) -> Result<()> {
    if g.title.trim().is_empty() {
        return Err(Error::invalid("title", "a gallery needs a title"));
    }
    check_text("title", &g.title, MAX_TITLE)?;
    check_text("original title", &g.title_original, MAX_TITLE)?;
    check_text("category", &g.category, 255)?;
    check_text("summary", &g.summary, MAX_TEXT)?;
    check_text("source file name", &g.source_filename, MAX_TEXT)?;
    if g.pages.is_empty() {
        return Err(Error::invalid("pages", "a gallery needs at least one page"));
    }
    if g.pages.len() > 100_000 {
        return Err(Error::invalid("pages", "at most 100,000 pages"));
    }
    if g.cover_page as usize >= g.pages.len() {
        return Err(Error::invalid(
            "cover page",
            format!("{} is past the last page", g.cover_page),
        ));
    }
    for p in &g.pages {
        check_text("page name", &p.name, 4096)?;
    }
    Ok(())
}

/// The internal id of a gallery by public id.
pub(crate) fn internal_id(c: &mut dyn Sql, public_id: &str) -> Result<i64> {
    c.query_opt(
        "SELECT id FROM galleries WHERE public_id = ?",
        &[Param::Text(public_id)],
    )?
    .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?
    .int(0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_of(bytes: Vec<u8>) -> Result<BlobHash> {
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::Decode("a blob hash is not 32 bytes".into()))?;
    Ok(BlobHash(arr))
}

/// A new public id: derived from the archive's hash when there is one (so the same archive gets
/// the same id in every library), random otherwise.
fn new_public_id(archive: Option<&BlobHash>) -> String {
    match archive {
        Some(h) => hex(&h.0[..20]),
        None => {
            let mut rng = fastrand::Rng::new();
            hex(&(0..20).map(|_| rng.u8(..)).collect::<Vec<u8>>())
        }
    }
}

const GALLERY_COLUMNS: &str = "g.id, g.public_id, g.title, g.title_original, g.category, g.summary, g.source_filename, \
     g.archive_hash, g.total_bytes, g.page_count, g.reading_direction, g.cover_page, cb.hash, g.added_at, g.updated_at, \
     g.posted_at, g.trashed_at, g.tag_ids";

fn gallery_row(r: &Row) -> Result<Gallery> {
    Ok(Gallery {
        id: r.int(0)?,
        public_id: r.text(1)?,
        title: r.text(2)?,
        title_original: r.text(3)?,
        category: r.text(4)?,
        summary: r.text(5)?,
        source_filename: r.text(6)?,
        archive_hash: r.opt_blob(7)?.map(hash_of).transpose()?,
        total_bytes: r.int(8)? as u64,
        page_count: r.int(9)? as u32,
        reading_direction: ReadingDirection::from_code(r.int(10)?),
        cover_page: r.int(11)? as u32,
        cover: r.opt_blob(12)?.map(hash_of).transpose()?,
        added_at: r.int(13)?,
        updated_at: r.int(14)?,
        posted_at: r.opt_int(15)?,
        trashed_at: r.opt_int(16)?,
        tags: Vec::new(),
    })
}

/// Creates `batch` inside the caller's transaction. Duplicates (by archive hash, against the
/// library and within the batch) are reported, not written.
fn create_in(
    c: &mut dyn Sql,
    batch: &[NewGallery],
    known_tags: &[Option<i64>],
) -> Result<(Vec<Created>, HashMap<TagName, i64>)> {
    let now = now_ms();
    // Archives already in the library.
    let mut known: BlobMap<String> = BlobMap::default();
    let hashes: Vec<&BlobHash> = batch
        .iter()
        .filter_map(|g| g.archive_hash.as_ref())
        .collect();
    for chunk in hashes.chunks(1000) {
        let sql = format!(
            "SELECT archive_hash, public_id FROM galleries WHERE archive_hash IN {}",
            placeholders(chunk.len())
        );
        let params: Vec<Param<'_>> = chunk.iter().map(|h| Param::Blob(&h.0)).collect();
        for row in c.query(&sql, &params)? {
            known.insert(hash_of(row.blob(0)?)?, row.text(1)?);
        }
    }
    let mut outcomes: Vec<Option<Created>> = vec![None; batch.len()];
    let mut fresh: Vec<(usize, String)> = Vec::new();
    for (i, g) in batch.iter().enumerate() {
        if let Some(h) = &g.archive_hash
            && let Some(existing) = known.get(h)
        {
            outcomes[i] = Some(Created::Duplicate {
                public_id: existing.clone(),
            });
            continue;
        }
        let public_id = new_public_id(g.archive_hash.as_ref());
        if let Some(h) = g.archive_hash {
            known.insert(h, public_id.clone());
        }
        fresh.push((i, public_id));
    }
    if fresh.is_empty() {
        return Ok((outcomes.into_iter().flatten().collect(), HashMap::new()));
    }

    let all_blobs: Vec<&BlobInfo> = fresh
        .iter()
        .flat_map(|(i, _)| batch[*i].pages.iter().map(|p| &p.blob))
        .collect();
    let blob_ids = ensure_blobs(c, &all_blobs)?;
    let blob_id = |h: &BlobHash| {
        blob_ids
            .get(h)
            .copied()
            .ok_or_else(|| Error::Decode("a page blob has no row".into()))
    };

    // Tag ids first: the gallery rows carry their packed tag lists.
    let mut first_link = Vec::with_capacity(batch.len());
    let mut n = 0;
    for g in batch {
        first_link.push(n);
        n += g.tags.len();
    }
    let links_of = |i: usize| {
        batch[i]
            .tags
            .iter()
            .zip(&known_tags[first_link[i]..first_link[i] + batch[i].tags.len()])
    };
    let mut unknown: Vec<TagName> = Vec::new();
    let mut seen: std::collections::HashSet<&TagName, foldhash::fast::RandomState> =
        Default::default();
    for (i, _) in &fresh {
        for ((t, _), id) in links_of(*i) {
            if id.is_none() && seen.insert(t) {
                unknown.push(t.clone());
            }
        }
    }
    let learned = tags::ensure_ids(c, &unknown)?;
    let mut gallery_links: Vec<Vec<(i64, i64)>> = Vec::with_capacity(fresh.len());
    for (i, _) in &fresh {
        let mut links: Vec<(i64, i64)> = links_of(*i)
            .map(|((t, s), id)| {
                let id = id
                    .or_else(|| learned.get(t).copied())
                    .ok_or_else(|| Error::Decode(format!("tag {t} has no id")))?;
                Ok((id, s.code()))
            })
            .collect::<Result<_>>()?;
        links.sort_unstable();
        links.dedup_by_key(|l| l.0);
        gallery_links.push(links);
    }
    let packed_tags: Vec<Vec<u8>> = gallery_links
        .iter()
        .map(|l| tags::pack_tag_ids(l))
        .collect();

    const WIDTH: usize = 16;
    let mut packed: Vec<Vec<u8>> = Vec::with_capacity(fresh.len());
    let mut covers: Vec<i64> = Vec::with_capacity(fresh.len());
    let mut uses: Vec<i64> = Vec::new();
    for (i, _) in &fresh {
        let g = &batch[*i];
        let first = uses.len();
        for p in &g.pages {
            uses.push(blob_id(&p.blob.hash)?);
        }
        let ids = &uses[first..];
        let cover = ids[g.cover_page as usize];
        covers.push(cover);
        packed.push(pages::encode(
            ids.iter()
                .zip(&g.pages)
                .map(|(&id, p)| (id, p.name.as_str())),
        ));
        uses.push(cover);
    }
    let totals: Vec<i64> = fresh
        .iter()
        .map(|(i, _)| batch[*i].pages.iter().map(|p| p.blob.bytes as i64).sum())
        .collect();
    const GALLERY_INSERT: &str = "INSERT INTO galleries (public_id, title, title_original, category, summary, \
        source_filename, archive_hash, total_bytes, page_count, reading_direction, cover_page, cover_blob_id, tag_ids, \
        added_at, updated_at, posted_at)";
    let mut params: Vec<Param<'_>> = Vec::with_capacity(fresh.len() * WIDTH);
    for (k, (i, public_id)) in fresh.iter().enumerate() {
        let g = &batch[*i];
        params.extend([
            Param::Text(public_id),
            Param::Text(&g.title),
            Param::Text(&g.title_original),
            Param::Text(&g.category),
            Param::Text(&g.summary),
            Param::Text(&g.source_filename),
            g.archive_hash.as_ref().map(|h| &h.0[..]).into(),
            Param::Int(totals[k]),
            Param::Int(g.pages.len() as i64),
            Param::Int(g.reading_direction.code()),
            Param::Int(i64::from(g.cover_page)),
            Param::Int(covers[k]),
            Param::Blob(&packed_tags[k]),
            Param::Int(now),
            Param::Int(now),
            g.posted_at.into(),
        ]);
    }
    let mut ids: HashMap<String, i64> = HashMap::with_capacity(fresh.len());
    if c.dialect() == crate::Dialect::Sqlite {
        // One row at a time through one prepared statement; each answers its own id.
        let sql = format!("{GALLERY_INSERT} VALUES {}", placeholders(WIDTH));
        for ((_, public_id), row) in fresh.iter().zip(params.chunks(WIDTH)) {
            c.exec(&sql, row)?;
            ids.insert(public_id.clone(), c.last_insert_id()?);
        }
    } else {
        insert_rows(c, GALLERY_INSERT, WIDTH, &params)?;
        // Multi-row inserts do not promise consecutive ids: read them back by public id.
        for chunk in fresh.chunks(1000) {
            let sql = format!(
                "SELECT public_id, id FROM galleries WHERE public_id IN {}",
                placeholders(chunk.len())
            );
            let params: Vec<Param<'_>> = chunk.iter().map(|(_, p)| Param::Text(p)).collect();
            for row in c.query(&sql, &params)? {
                ids.insert(row.text(0)?, row.int(1)?);
            }
        }
    }
    drop(params);
    let gallery_ids: Vec<i64> = fresh.iter().map(|(_, p)| ids[p]).collect();
    let params: Vec<Param<'_>> = gallery_ids
        .iter()
        .zip(&packed)
        .flat_map(|(&g, p)| [Param::Int(g), Param::Blob(p)])
        .collect();
    insert_rows(
        c,
        "INSERT INTO gallery_pages (gallery_id, pages)",
        2,
        &params,
    )?;
    add_refs(c, &uses, 1)?;

    // The tag links, in tag order, so the by-tag index is swept once per batch, not hit at random.
    let mut links: Vec<(i64, i64, i64)> = gallery_ids
        .iter()
        .zip(&gallery_links)
        .flat_map(|(&g, l)| l.iter().map(move |&(t, s)| (g, t, s)))
        .collect();
    links.sort_unstable_by_key(|&(g, t, _)| (t, g));
    insert_each(
        c,
        "INSERT INTO gallery_tags (gallery_id, tag_id, source)",
        &links,
        |&(g, t, s)| [Param::Int(g), Param::Int(t), Param::Int(s)],
    )?;
    // The change feed, one entry per gallery.
    let kind = ChangeKind::Created.code();
    let params: Vec<Param<'_>> = gallery_ids
        .iter()
        .flat_map(|&g| [Param::Int(g), Param::Int(kind), Param::Int(now)])
        .collect();
    insert_rows(c, "INSERT INTO changes (gallery_id, kind, at)", 3, &params)?;
    for (i, public_id) in fresh {
        outcomes[i] = Some(Created::New {
            id: ids[&public_id],
            public_id,
        });
    }
    Ok((outcomes.into_iter().flatten().collect(), learned))
}

const SUMMARY_COLUMNS: &str = "g.id, g.public_id, g.title, g.page_count, g.total_bytes, g.added_at, g.trashed_at, \
     g.cover_blob_id, g.tag_ids FROM galleries g";

fn summaries_from(
    c: &mut dyn Sql,
    cache: &std::sync::Mutex<tags::TagCache>,
    rows: &[Row],
) -> Result<Vec<GallerySummary>> {
    let mut out: Vec<GallerySummary> = rows
        .iter()
        .map(|r| {
            Ok(GallerySummary {
                id: r.int(0)?,
                public_id: r.text(1)?,
                title: r.text(2)?,
                page_count: r.int(3)? as u32,
                total_bytes: r.int(4)? as u64,
                added_at: r.int(5)?,
                trashed: r.opt_int(6)?.is_some(),
                cover: None,
                cover_thumbnail: None,
                tags: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    // Covers and their thumbnails in one small query over the distinct cover images (galleries
    // share images), rather than two joins per gallery.
    let cover_ids: Vec<Option<i64>> = rows.iter().map(|r| r.opt_int(7)).collect::<Result<_>>()?;
    let mut distinct: Vec<i64> = cover_ids.iter().flatten().copied().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut covers: HashMap<i64, (BlobHash, Option<BlobHash>)> =
        HashMap::with_capacity(distinct.len());
    for chunk in distinct.chunks(1000) {
        let sql = format!(
            "SELECT b.id, b.hash, t.hash FROM blobs b LEFT JOIN blobs t ON t.id = b.thumb_id WHERE b.id IN {}",
            placeholders(chunk.len())
        );
        let params: Vec<Param<'_>> = chunk.iter().map(|&i| Param::Int(i)).collect();
        for r in c.query(&sql, &params)? {
            covers.insert(
                r.int(0)?,
                (
                    hash_of(r.blob(1)?)?,
                    r.opt_blob(2)?.map(hash_of).transpose()?,
                ),
            );
        }
    }
    for (g, id) in out.iter_mut().zip(cover_ids) {
        if let Some((hash, thumb)) = id.and_then(|id| covers.get(&id)) {
            g.cover = Some(*hash);
            g.cover_thumbnail = *thumb;
        }
    }
    let packed: Vec<(i64, Vec<u8>)> = rows
        .iter()
        .map(|r| Ok((r.int(0)?, r.blob(8)?)))
        .collect::<Result<_>>()?;
    let mut tags = tags::from_packed(c, cache, &packed)?;
    for g in &mut out {
        g.tags = tags
            .remove(&g.id)
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.tag)
            .collect();
    }
    Ok(out)
}

/// Galleries and their pages.
#[derive(Debug, Clone, Copy)]
pub struct Galleries<'a> {
    pub(crate) db: &'a Db,
}

impl Galleries<'_> {
    /// Creates a gallery with its pages, tags and blob references, in one transaction: it is
    /// visible complete or not at all. An archive imported before is reported as a duplicate.
    pub fn create(&self, gallery: &NewGallery) -> Result<Created> {
        self.create_many(std::slice::from_ref(gallery))
            .map(|mut v| v.remove(0))
    }

    /// Creates many galleries in one transaction (bulk import, synthetic libraries).
    pub fn create_many(&self, batch: &[NewGallery]) -> Result<Vec<Created>> {
        for g in batch {
            validate(g)?;
        }
        // The id of every tag link of the batch whose tag is known already, looked up once.
        let known: Vec<Option<i64>> = {
            let cache = self
                .db
                .tag_cache
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            batch
                .iter()
                .flat_map(|g| &g.tags)
                .map(|(t, _)| cache.by_name.get(t).copied())
                .collect()
        };
        match self.db.write(|c| create_in(c, batch, &known)) {
            Ok((v, learned)) => {
                // Only now, after the commit, are the new tags' ids sure to exist.
                self.db
                    .tag_cache
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .learn(learned);
                Ok(v)
            }
            // Two importers of the same archive at once: the unique key let one in; the other
            // finds it now.
            Err(e) => match batch {
                [
                    NewGallery {
                        archive_hash: Some(hash),
                        ..
                    },
                ] => match self.by_archive_hash(hash)? {
                    Some(public_id) => Ok(vec![Created::Duplicate { public_id }]),
                    None => Err(e),
                },
                _ => Err(e),
            },
        }
    }

    /// One gallery with its tags.
    pub fn get(&self, public_id: &str) -> Result<Gallery> {
        self.db.read(|c| {
            let row = c
                .query_opt(
                    &format!("SELECT {GALLERY_COLUMNS} FROM galleries g LEFT JOIN blobs cb ON cb.id = g.cover_blob_id WHERE g.public_id = ?"),
                    &[Param::Text(public_id)],
                )?
                .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?;
            let mut g = gallery_row(&row)?;
            g.tags = tags::from_packed(c, &self.db.tag_cache, &[(g.id, row.blob(17)?)])?.remove(&g.id).unwrap_or_default();
            Ok(g)
        })
    }

    /// The internal id of a gallery.
    pub fn id_of(&self, public_id: &str) -> Result<i64> {
        self.db.read(|c| internal_id(c, public_id))
    }

    /// A gallery's pages in order, with what is known of each image.
    pub fn pages(&self, public_id: &str) -> Result<Vec<Page>> {
        self.db.read(|c| {
            let row = c
                .query_opt(
                    "SELECT gp.pages FROM galleries g JOIN gallery_pages gp ON gp.gallery_id = g.id WHERE g.public_id = ?",
                    &[Param::Text(public_id)],
                )?
                .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?;
            let list = pages::decode(&row.blob(0)?)?;
            let mut ids: Vec<i64> = list.iter().map(|p| p.blob_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut info: HashMap<i64, (BlobInfo, Option<BlobHash>)> = HashMap::with_capacity(ids.len());
            for chunk in ids.chunks(1000) {
                let sql = format!(
                    "SELECT b.id, b.hash, b.format, b.width, b.height, b.bytes, t.hash FROM blobs b \
                     LEFT JOIN blobs t ON t.id = b.thumb_id WHERE b.id IN {}",
                    placeholders(chunk.len())
                );
                let params: Vec<Param<'_>> = chunk.iter().map(|&i| Param::Int(i)).collect();
                for r in c.query(&sql, &params)? {
                    let blob = BlobInfo {
                        hash: hash_of(r.blob(1)?)?,
                        format: ImageFormat::from_code(r.int(2)?),
                        width: r.int(3)? as u32,
                        height: r.int(4)? as u32,
                        bytes: r.int(5)? as u64,
                    };
                    info.insert(r.int(0)?, (blob, r.opt_blob(6)?.map(hash_of).transpose()?));
                }
            }
            list.into_iter()
                .enumerate()
                .map(|(i, p)| {
                    let (blob, thumbnail) = *info.get(&p.blob_id).ok_or_else(|| Error::Decode(format!("page {i} names a missing blob")))?;
                    Ok(Page { position: i as u32, name: p.name, blob, thumbnail })
                })
                .collect()
        })
    }

    /// Galleries in the library (or the trash), a page at a time, with their tags and covers.
    pub fn list(&self, q: &ListQuery) -> Result<Vec<GallerySummary>> {
        let order = match q.order {
            ListOrder::NewestFirst => "g.added_at DESC, g.id DESC",
            ListOrder::OldestFirst => "g.added_at, g.id",
            ListOrder::TitleAscending => "g.title, g.id",
            ListOrder::TitleDescending => "g.title DESC, g.id DESC",
        };
        let filter = if q.trashed {
            "g.trashed_at IS NOT NULL"
        } else {
            "g.trashed_at IS NULL"
        };
        self.db.read(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {SUMMARY_COLUMNS} WHERE {filter} ORDER BY {order} LIMIT ? OFFSET ?"
                ),
                &[
                    Param::Int(i64::from(q.limit.min(1000))),
                    Param::Int(q.offset as i64),
                ],
            )?;
            summaries_from(c, &self.db.tag_cache, &rows)
        })
    }

    /// The galleries with internal ids `ids`, in that order, with their tags and covers (ids that
    /// do not exist are left out). This is how a page of search results is fetched.
    pub fn summaries(&self, ids: &[i64]) -> Result<Vec<GallerySummary>> {
        self.db.read(|c| {
            let mut rows = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(1000) {
                let params: Vec<Param<'_>> = chunk.iter().map(|&i| Param::Int(i)).collect();
                rows.extend(c.query(
                    &format!(
                        "SELECT {SUMMARY_COLUMNS} WHERE g.id IN {}",
                        placeholders(chunk.len())
                    ),
                    &params,
                )?);
            }
            let mut found = summaries_from(c, &self.db.tag_cache, &rows)?;
            let position: HashMap<i64, usize> =
                ids.iter().enumerate().map(|(i, &id)| (id, i)).collect();
            found.sort_by_key(|g| position.get(&g.id).copied().unwrap_or(usize::MAX));
            Ok(found)
        })
    }

    /// How many galleries are in the library (not the trash).
    pub fn count(&self) -> Result<u64> {
        self.db.read(|c| {
            Ok(c.query_opt(
                "SELECT COUNT(*) FROM galleries WHERE trashed_at IS NULL",
                &[],
            )?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0) as u64)
        })
    }

    fn update<T>(
        &self,
        public_id: &str,
        kind: ChangeKind,
        f: impl Fn(&mut dyn Sql, i64) -> Result<T>,
    ) -> Result<T> {
        self.db.write(|c| {
            let id = internal_id(c, public_id)?;
            let out = f(c, id)?;
            c.exec(
                "UPDATE galleries SET updated_at = ? WHERE id = ?",
                &[Param::Int(now_ms()), Param::Int(id)],
            )?;
            record_change(c, id, kind)?;
            Ok(out)
        })
    }

    /// Changes the titles.
    pub fn set_titles(&self, public_id: &str, title: &str, title_original: &str) -> Result<()> {
        self.edit_details(
            public_id,
            &DetailsChange {
                title: Some(title.to_string()),
                title_original: Some(title_original.to_string()),
                ..DetailsChange::default()
            },
        )
    }

    /// Changes what describes a gallery; what `change` leaves `None` stays as it is.
    pub fn edit_details(&self, public_id: &str, change: &DetailsChange) -> Result<()> {
        // Only the fields given are written, in one statement: edits of different fields made
        // at the same time both stay.
        let mut sets: Vec<&str> = Vec::new();
        let mut params: Vec<Param<'_>> = Vec::new();
        let texts = [
            ("title = ?", "title", &change.title, MAX_TITLE),
            (
                "title_original = ?",
                "original title",
                &change.title_original,
                MAX_TITLE,
            ),
            ("summary = ?", "summary", &change.summary, MAX_TEXT),
            ("category = ?", "category", &change.category, MAX_TITLE),
        ];
        for (set, field, value, max) in texts {
            if let Some(v) = value {
                check_text(field, v, max)?;
                sets.push(set);
                params.push(Param::Text(v));
            }
        }
        if change.title.as_deref().is_some_and(|t| t.trim().is_empty()) {
            return Err(Error::invalid("title", "a gallery needs a title"));
        }
        if let Some(d) = change.reading_direction {
            sets.push("reading_direction = ?");
            params.push(Param::Int(d.code()));
        }
        if sets.is_empty() {
            // Nothing to change; a gallery that does not exist is still said so.
            return self.id_of(public_id).map(drop);
        }
        let sql = format!("UPDATE galleries SET {} WHERE id = ?", sets.join(", "));
        self.update(public_id, ChangeKind::Updated, |c, id| {
            let mut all = params.clone();
            all.push(Param::Int(id));
            c.exec(&sql, &all).map(drop)
        })
    }

    /// Puts the pages in a new order: `order[i]` is the current position of the page that
    /// becomes page `i`. The cover stays the same image.
    pub fn reorder_pages(&self, public_id: &str, order: &[u32]) -> Result<()> {
        self.update(public_id, ChangeKind::Pages, |c, id| {
            let row = c
                .query_opt("SELECT gp.pages, g.cover_page FROM galleries g JOIN gallery_pages gp ON gp.gallery_id = g.id WHERE g.id = ?", &[Param::Int(id)])?
                .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?;
            let list = pages::decode(&row.blob(0)?)?;
            let mut seen = vec![false; list.len()];
            if order.len() != list.len() || !order.iter().all(|&p| (p as usize) < list.len() && !std::mem::replace(&mut seen[p as usize], true)) {
                return Err(Error::invalid("page order", format!("must name each of the {} pages exactly once", list.len())));
            }
            let old_cover = row.int(1)? as u32;
            let new_cover = order.iter().position(|&p| p == old_cover).unwrap_or(0) as i64;
            let reordered: Vec<PackedPage> = order.iter().map(|&p| list[p as usize].clone()).collect();
            c.exec("UPDATE gallery_pages SET pages = ? WHERE gallery_id = ?", &[Param::Blob(&pages::encode_list(&reordered)), Param::Int(id)])?;
            c.exec("UPDATE galleries SET cover_page = ? WHERE id = ?", &[Param::Int(new_cover), Param::Int(id)]).map(drop)
        })
    }

    /// Makes page `position` the cover. Answers the blobs the old cover leaves unused (a
    /// cropped cover), for the caller to delete.
    pub fn set_cover_page(&self, public_id: &str, position: u32) -> Result<Vec<BlobHash>> {
        self.update(public_id, ChangeKind::Updated, |c, id| {
            let row = c
                .query_opt("SELECT gp.pages, g.cover_blob_id, g.tag_ids FROM galleries g JOIN gallery_pages gp ON gp.gallery_id = g.id WHERE g.id = ?", &[Param::Int(id)])?
                .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?;
            let list = pages::decode(&row.blob(0)?)?;
            let page = list.get(position as usize).ok_or_else(|| Error::invalid("cover page", format!("{position} is past the last page")))?;
            let old = row.opt_int(1)?;
            if let Some(old) = old {
                add_refs(c, &[old], -1)?;
            }
            add_refs(c, &[page.blob_id], 1)?;
            c.exec(
                "UPDATE galleries SET cover_page = ?, cover_blob_id = ? WHERE id = ?",
                &[Param::Int(i64::from(position)), Param::Int(page.blob_id), Param::Int(id)],
            )?;
            // A cut-out cover that nothing else uses goes with it.
            match old {
                Some(old) if old != page.blob_id => release_unused(c, &[old]),
                _ => Ok(Vec::new()),
            }
        })
    }

    /// Makes `image` (a cover cut out of page `page`, already in the blob store) the cover;
    /// `cover_page` becomes that page. Answers the blobs the old cover leaves unused (a previous
    /// cropped cover), for the caller to delete.
    pub fn set_cover_image(
        &self,
        public_id: &str,
        page: u32,
        image: &BlobInfo,
    ) -> Result<Vec<BlobHash>> {
        self.db.write(|c| {
            let id = internal_id(c, public_id)?;
            let count = c
                .query_opt("SELECT page_count FROM galleries WHERE id = ?", &[Param::Int(id)])?
                .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?
                .int(0)?;
            if i64::from(page) >= count {
                return Err(Error::invalid("cover page", format!("{page} is past the last page")));
            }
            c.exec(
                &format!("{} INTO blobs (hash, kind, format, width, height, bytes) VALUES (?, {}, ?, ?, ?, ?)", c.dialect().insert_ignore(), BlobKind::CutCover.code()),
                &[
                    Param::Blob(&image.hash.0),
                    Param::Int(image.format.code()),
                    Param::Int(i64::from(image.width)),
                    Param::Int(i64::from(image.height)),
                    Param::Int(image.bytes as i64),
                ],
            )?;
            let new = c
                .query_opt("SELECT id FROM blobs WHERE hash = ?", &[Param::Blob(&image.hash.0)])?
                .ok_or_else(|| Error::Decode("cover row vanished".into()))?
                .int(0)?;
            let old = c.query_opt("SELECT cover_blob_id FROM galleries WHERE id = ?", &[Param::Int(id)])?.map(|r| r.opt_int(0)).transpose()?.flatten();
            add_refs(c, &[new], 1)?;
            c.exec(
                "UPDATE galleries SET cover_blob_id = ?, cover_page = ?, updated_at = ? WHERE id = ?",
                &[Param::Int(new), Param::Int(i64::from(page)), Param::Int(now_ms()), Param::Int(id)],
            )?;
            record_change(c, id, ChangeKind::Updated)?;
            match old {
                Some(old) => {
                    add_refs(c, &[old], -1)?;
                    release_unused(c, &[old])
                }
                None => Ok(Vec::new()),
            }
        })
    }

    /// Moves a gallery to the trash (restorable).
    pub fn trash(&self, public_id: &str) -> Result<()> {
        self.update(public_id, ChangeKind::Trashed, |c, id| {
            c.exec(
                "UPDATE galleries SET trashed_at = ? WHERE id = ? AND trashed_at IS NULL",
                &[Param::Int(now_ms()), Param::Int(id)],
            )
            .map(drop)
        })
    }

    /// Takes a gallery out of the trash.
    pub fn restore(&self, public_id: &str) -> Result<()> {
        self.update(public_id, ChangeKind::Restored, |c, id| {
            c.exec(
                "UPDATE galleries SET trashed_at = NULL WHERE id = ?",
                &[Param::Int(id)],
            )
            .map(drop)
        })
    }

    /// Deletes a gallery for good and answers the blobs nothing uses any more, for the caller to
    /// delete from the blob store (after this returns: the rows go first, so a crash in between
    /// leaves unreferenced blobs, never references to deleted ones).
    pub fn purge(&self, public_id: &str) -> Result<Vec<BlobHash>> {
        self.db.write(|c| {
            let id = internal_id(c, public_id)?;
            let row = c
                .query_opt("SELECT gp.pages, g.cover_blob_id, g.tag_ids FROM galleries g JOIN gallery_pages gp ON gp.gallery_id = g.id WHERE g.id = ?", &[Param::Int(id)])?
                .ok_or_else(|| Error::GalleryNotFound(public_id.to_string()))?;
            let mut uses: Vec<i64> = pages::decode(&row.blob(0)?)?.into_iter().map(|p| p.blob_id).collect();
            uses.extend(row.opt_int(1)?);
            add_refs(c, &uses, -1)?;
            tags::detach_all(c, id, &row.blob(2)?)?;
            c.exec("DELETE FROM gallery_pages WHERE gallery_id = ?", &[Param::Int(id)])?;
            c.exec("DELETE FROM galleries WHERE id = ?", &[Param::Int(id)])?;
            record_change(c, id, ChangeKind::Purged)?;
            release_unused(c, &uses)
        })
    }

    /// The gallery imported from the archive of this hash, if any (trashed ones included).
    pub fn by_archive_hash(&self, hash: &BlobHash) -> Result<Option<String>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT public_id FROM galleries WHERE archive_hash = ?",
                &[Param::Blob(&hash.0)],
            )?
            .map(|r| r.text(0))
            .transpose()
        })
    }
}
