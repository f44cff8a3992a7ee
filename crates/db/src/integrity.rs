//! What `fsck` asks of the metadata: which images the library uses, and which galleries and pages
//! use a given few, so that damage in the image store is told as the galleries it costs.

use std::collections::{HashMap, HashSet};

use lpfs::BlobHash;

use crate::error::{Error, Result};
use crate::sql::Row;
use crate::{Db, pages};

/// The library's use of the images `fsck` asked about, in one gallery.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AffectedGallery {
    pub public_id: String,
    pub title: String,
    /// Pages (from 1) whose image is among those asked about.
    pub pages: Vec<u32>,
    /// Pages (from 1) whose thumbnail is among them (a thumbnail is made again when missing).
    pub thumbnails: Vec<u32>,
    /// Whether its cover image (a page or a cut-out cover) is among them.
    pub cover: bool,
}

/// The metadata's side of a store check.
#[derive(Debug, Clone, Copy)]
pub struct Integrity<'a> {
    pub(crate) db: &'a Db,
}

fn hash_at(r: &Row, i: usize) -> Result<BlobHash> {
    let bytes: [u8; 32] = r
        .blob(i)?
        .try_into()
        .map_err(|_| Error::Decode("a blob hash is not 32 bytes".into()))?;
    Ok(BlobHash(bytes))
}

impl Integrity<'_> {
    /// Every image something in the library uses (a page, a thumbnail, a cover).
    pub fn images_in_use(&self) -> Result<Vec<BlobHash>> {
        self.db.read(|c| {
            c.query("SELECT hash FROM blobs WHERE refs > 0", &[])?
                .iter()
                .map(|r| hash_at(r, 0))
                .collect()
        })
    }

    /// The galleries that use any of `images`, with the pages concerned. Reads every gallery's
    /// page list: meant for when something is wrong, not for every check.
    pub fn galleries_using(&self, images: &HashSet<BlobHash>) -> Result<Vec<AffectedGallery>> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        self.db.read(|c| {
            // Blob ids of the images, and of the page images whose thumbnail is one of them.
            let mut wanted: HashMap<i64, bool> = HashMap::new(); // id → is the image itself
            let all = c.query(
                "SELECT b.id, b.hash, t.hash FROM blobs b LEFT JOIN blobs t ON t.id = b.thumb_id",
                &[],
            )?;
            for r in &all {
                let id = r.int(0)?;
                if images.contains(&hash_at(r, 1)?) {
                    wanted.insert(id, true);
                } else if r.opt_blob(2)?.is_some() && images.contains(&hash_at(r, 2)?) {
                    wanted.entry(id).or_insert(false);
                }
            }
            let mut out = Vec::new();
            let rows = c.query(
                "SELECT g.public_id, g.title, g.cover_blob_id, gp.pages FROM galleries g \
                 JOIN gallery_pages gp ON gp.gallery_id = g.id ORDER BY g.id",
                &[],
            )?;
            for r in &rows {
                let cover = r.opt_int(2)?.and_then(|id| wanted.get(&id).copied()) == Some(true);
                let mut affected = AffectedGallery {
                    public_id: r.text(0)?,
                    title: r.text(1)?,
                    pages: Vec::new(),
                    thumbnails: Vec::new(),
                    cover,
                };
                for (i, p) in pages::decode(&r.blob(3)?)?.iter().enumerate() {
                    match wanted.get(&p.blob_id) {
                        Some(true) => affected.pages.push(i as u32 + 1),
                        Some(false) => affected.thumbnails.push(i as u32 + 1),
                        None => {}
                    }
                }
                if affected.cover || !affected.pages.is_empty() || !affected.thumbnails.is_empty() {
                    out.push(affected);
                }
            }
            Ok(out)
        })
    }
}
