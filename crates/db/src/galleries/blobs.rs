//! The images a gallery uses, as the database keeps them: their rows (one per distinct image,
//! counted by how many pages and covers use it), thumbnails and their states, and releasing what
//! nothing uses any more.

use super::*;

/// A map keyed by blob hash, which needs no hashing of its keys.
pub(super) type BlobMap<V> = HashMap<BlobHash, V, lpfs::BlobHashState>;

/// Ids of `blobs` (page images), creating rows for new ones.
/// What a stored blob is to the library (`blobs.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BlobKind {
    /// A page image of a gallery.
    Page = 1,
    /// A page image's thumbnail.
    Thumbnail = 2,
    /// A cover cut out of a page, at thumbnail size (its own thumbnail).
    CutCover = 3,
}

/// Where a page image's thumbnail stands (`blobs.thumb_state`; `thumb_id` names a made one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ThumbState {
    Waiting = 0,
    Made = 1,
    Failed = 2,
    /// This build has no decoder for the image's format.
    Unsupported = 3,
}

impl BlobKind {
    pub(super) const fn code(self) -> i64 {
        self as i64
    }
}

impl ThumbState {
    pub(super) const fn code(self) -> i64 {
        self as i64
    }
}

pub(super) fn ensure_blobs(c: &mut dyn Sql, blobs: &[&BlobInfo]) -> Result<BlobMap<i64>> {
    // Pages repeat images (a batch of synthetic galleries is a million pages over 64 images):
    // deduplicate by hash before any sorting.
    let mut distinct: BlobMap<&BlobInfo> = BlobMap::default();
    for b in blobs {
        distinct.entry(b.hash).or_insert(b);
    }
    let mut unique: Vec<&BlobInfo> = distinct.into_values().collect();
    unique.sort_unstable_by_key(|b| b.hash);
    let mut ids = BlobMap::with_capacity_and_hasher(unique.len(), lpfs::BlobHashState::default());
    for chunk in unique.chunks(c.dialect().max_params() / 6) {
        let sql = format!(
            "{} INTO blobs (hash, kind, format, width, height, bytes) VALUES {}",
            c.dialect().insert_ignore(),
            value_rows(chunk.len(), 6)
        );
        let params: Vec<Param<'_>> = chunk
            .iter()
            .flat_map(|b| {
                [
                    Param::Blob(&b.hash.0),
                    Param::Int(BlobKind::Page.code()),
                    Param::Int(b.format.code()),
                    Param::Int(i64::from(b.width)),
                    Param::Int(i64::from(b.height)),
                    Param::Int(b.bytes as i64),
                ]
            })
            .collect();
        c.exec(&sql, &params)?;
        let sql = format!(
            "SELECT id, hash FROM blobs WHERE hash IN {}",
            placeholders(chunk.len())
        );
        let params: Vec<Param<'_>> = chunk.iter().map(|b| Param::Blob(&b.hash.0)).collect();
        for row in c.query(&sql, &params)? {
            ids.insert(hash_of(row.blob(1)?)?, row.int(0)?);
        }
    }
    Ok(ids)
}

/// A hasher for integer ids: one multiplication.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_i64(&mut self, i: i64) {
        self.0 = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(super) type IdMap<V> = HashMap<i64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// Adds `delta` to the reference count of each blob id (aggregated first).
pub(super) fn add_refs(c: &mut dyn Sql, uses: &[i64], delta: i64) -> Result<()> {
    let mut counts: IdMap<i64> = IdMap::default();
    for &id in uses {
        *counts.entry(id).or_default() += delta;
    }
    let mut counts: Vec<(i64, i64)> = counts.into_iter().collect();
    counts.sort_unstable();
    for (id, n) in counts {
        c.exec(
            "UPDATE blobs SET refs = refs + ? WHERE id = ?",
            &[Param::Int(n), Param::Int(id)],
        )?;
    }
    Ok(())
}

/// Deletes the rows of blobs among `candidates` whose count fell to zero, releasing their
/// thumbnails in turn; answers their hashes.
pub(super) fn release_unused(c: &mut dyn Sql, candidates: &[i64]) -> Result<Vec<BlobHash>> {
    let mut released = Vec::new();
    let mut check: Vec<i64> = candidates.to_vec();
    check.sort_unstable();
    check.dedup();
    while !check.is_empty() {
        let mut next = Vec::new();
        for chunk in check.chunks(1000) {
            let sql = format!(
                "SELECT id, hash, thumb_id FROM blobs WHERE refs <= 0 AND id IN {}",
                placeholders(chunk.len())
            );
            let params: Vec<Param<'_>> = chunk.iter().map(|&i| Param::Int(i)).collect();
            for r in c.query(&sql, &params)? {
                let id = r.int(0)?;
                released.push(hash_of(r.blob(1)?)?);
                if let Some(thumb) = r.opt_int(2)? {
                    c.exec(
                        "UPDATE blobs SET thumb_id = NULL WHERE id = ?",
                        &[Param::Int(id)],
                    )?;
                    add_refs(c, &[thumb], -1)?;
                    next.push(thumb);
                }
                c.exec("DELETE FROM blobs WHERE id = ?", &[Param::Int(id)])?;
            }
        }
        check = next;
    }
    Ok(released)
}

impl Galleries<'_> {
    /// Records the thumbnail made for a page image.
    pub fn set_thumbnail(&self, image: &BlobHash, thumbnail: &BlobInfo) -> Result<()> {
        self.db.write(|c| {
            let image_id = c.query_opt("SELECT id, thumb_id FROM blobs WHERE hash = ?", &[Param::Blob(&image.0)])?.ok_or_else(|| Error::invalid("image", format!("{image} is not a page of any gallery")))?;
            let (image_id, old) = (image_id.int(0)?, image_id.opt_int(1)?);
            c.exec(
                &format!("{} INTO blobs (hash, kind, format, width, height, bytes) VALUES (?, {}, ?, ?, ?, ?)", c.dialect().insert_ignore(), BlobKind::Thumbnail.code()),
                &[Param::Blob(&thumbnail.hash.0), Param::Int(thumbnail.format.code()), Param::Int(i64::from(thumbnail.width)), Param::Int(i64::from(thumbnail.height)), Param::Int(thumbnail.bytes as i64)],
            )?;
            let thumb_id = c.query_opt("SELECT id FROM blobs WHERE hash = ?", &[Param::Blob(&thumbnail.hash.0)])?.ok_or_else(|| Error::Decode("thumbnail row vanished".into()))?.int(0)?;
            if old == Some(thumb_id) {
                return Ok(());
            }
            add_refs(c, &[thumb_id], 1)?;
            c.exec(&format!("UPDATE blobs SET thumb_id = ?, thumb_state = {} WHERE id = ?", ThumbState::Made.code()), &[Param::Int(thumb_id), Param::Int(image_id)])?;
            if let Some(old) = old {
                add_refs(c, &[old], -1)?;
                release_unused(c, &[old])?;
            }
            Ok(())
        })
    }

    /// Records that no thumbnail could be made of an image (so it is not tried forever).
    pub fn mark_thumbnail_failed(&self, image: &BlobHash) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                &format!(
                    "UPDATE blobs SET thumb_state = {} WHERE hash = ?",
                    ThumbState::Failed.code()
                ),
                &[Param::Blob(&image.0)],
            )
            .map(drop)
        })
    }

    /// Which of `hashes` something in the library uses (a page, a cover or a thumbnail).
    pub fn referenced(&self, hashes: &[BlobHash]) -> Result<std::collections::HashSet<BlobHash>> {
        self.db.read(|c| {
            let mut used = std::collections::HashSet::new();
            for chunk in hashes.chunks(1000) {
                let sql = format!(
                    "SELECT hash FROM blobs WHERE refs > 0 AND hash IN {}",
                    placeholders(chunk.len())
                );
                let params: Vec<Param<'_>> = chunk.iter().map(|h| Param::Blob(&h.0)).collect();
                for r in c.query(&sql, &params)? {
                    used.insert(hash_of(r.blob(0)?)?);
                }
            }
            Ok(used)
        })
    }

    /// Where a page image's thumbnail stands; `None` if the hash is no page image.
    pub fn thumbnail_of(&self, image: &BlobHash) -> Result<Option<ThumbnailState>> {
        self.db.read(|c| {
            let Some(r) = c.query_opt(
                &format!(
                    "SELECT b.format, b.width, b.height, b.bytes, b.thumb_state, t.hash, b.kind FROM blobs b \
                     LEFT JOIN blobs t ON t.id = b.thumb_id WHERE b.hash = ? AND b.kind IN ({}, {})",
                    BlobKind::Page.code(),
                    BlobKind::CutCover.code()
                ),
                &[Param::Blob(&image.0)],
            )?
            else {
                return Ok(None);
            };
            // A cropped cover is made at thumbnail size: it is its own thumbnail.
            if r.int(6)? == BlobKind::CutCover.code() {
                return Ok(Some(ThumbnailState::Made(*image)));
            }
            if let Some(t) = r.opt_blob(5)? {
                return Ok(Some(ThumbnailState::Made(hash_of(t)?)));
            }
            let state = r.int(4)?;
            Ok(Some(match state {
                _ if state == ThumbState::Failed.code() => ThumbnailState::Failed,
                _ if state == ThumbState::Unsupported.code() => ThumbnailState::Unsupported,
                _ => ThumbnailState::Pending(BlobInfo {
                    hash: *image,
                    format: ImageFormat::from_code(r.int(0)?),
                    width: r.int(1)? as u32,
                    height: r.int(2)? as u32,
                    bytes: r.int(3)? as u64,
                }),
            }))
        })
    }

    /// How many page images wait for a thumbnail.
    pub fn count_needing_thumbnails(&self) -> Result<u64> {
        self.db.read(|c| {
            let n = c.query_opt(
                &format!(
                    "SELECT COUNT(*) FROM blobs WHERE thumb_state = {} AND kind = {}",
                    ThumbState::Waiting.code(),
                    BlobKind::Page.code()
                ),
                &[],
            )?;
            Ok(n.map_or(Ok(0), |r| r.int(0))? as u64)
        })
    }

    /// Page images still waiting for a thumbnail, oldest first.
    pub fn images_needing_thumbnails(&self, limit: usize) -> Result<Vec<BlobInfo>> {
        self.db.read(|c| {
            let rows = c.query(
                &format!(
                    "SELECT hash, format, width, height, bytes FROM blobs \
                     WHERE thumb_state = {} AND kind = {} ORDER BY id LIMIT ?",
                    ThumbState::Waiting.code(),
                    BlobKind::Page.code()
                ),
                &[Param::Int(limit as i64)],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(BlobInfo {
                        hash: hash_of(r.blob(0)?)?,
                        format: ImageFormat::from_code(r.int(1)?),
                        width: r.int(2)? as u32,
                        height: r.int(3)? as u32,
                        bytes: r.int(4)? as u64,
                    })
                })
                .collect()
        })
    }

    /// Records that this build has no decoder for an image's format: it waits for one that has.
    pub fn mark_thumbnail_unsupported(&self, image: &BlobHash) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                &format!(
                    "UPDATE blobs SET thumb_state = {} WHERE hash = ? AND thumb_state = {}",
                    ThumbState::Unsupported.code(),
                    ThumbState::Waiting.code()
                ),
                &[Param::Blob(&image.0)],
            )
            .map(drop)
        })
    }

    /// How many uses the blob has (0 if unknown).
    pub fn blob_refs(&self, hash: &BlobHash) -> Result<i64> {
        self.db.read(|c| {
            Ok(c.query_opt(
                "SELECT refs FROM blobs WHERE hash = ?",
                &[Param::Blob(&hash.0)],
            )?
            .map(|r| r.int(0))
            .transpose()?
            .unwrap_or(0))
        })
    }
}
