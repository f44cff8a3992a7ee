//! Reading the library: a gallery and its pages, searches and lists of galleries, tag
//! suggestions, and a page's thumbnail (made on demand when the background has not got to it).

use db::{Db, Gallery, GallerySummary, ListQuery, Page, ThumbnailState};
use lpfs::BlobHash;
use search::{Asker, Live, Suggestion};

use super::{Error, Result};
use crate::import::Importer;

/// A gallery with its tags.
pub fn gallery(db: &Db, public_id: &str) -> Result<Gallery> {
    Ok(db.galleries().get(public_id)?)
}

/// A gallery's pages, in order.
pub fn pages(db: &Db, public_id: &str) -> Result<Vec<Page>> {
    Ok(db.galleries().pages(public_id)?)
}

/// A gallery and its pages, for reading or downloading it.
pub fn gallery_with_pages(db: &Db, public_id: &str) -> Result<(Gallery, Vec<Page>)> {
    Ok((
        db.galleries().get(public_id)?,
        db.galleries().pages(public_id)?,
    ))
}

/// Fails with `GalleryNotFound` unless the gallery exists (before making something for it).
pub fn must_exist(db: &Db, public_id: &str) -> Result<()> {
    db.galleries().id_of(public_id)?;
    Ok(())
}

/// One page of a search's results.
#[derive(Debug)]
pub struct Found {
    /// How many galleries match in all.
    pub total: u64,
    /// This page of them, in the query's order.
    pub galleries: Vec<GallerySummary>,
}

/// The galleries a query in the search language matches, as `asker` may see them: `limit` of
/// them from `offset`, and how many match in all.
pub fn search(
    live: &Live,
    db: &Db,
    query: &str,
    asker: Asker,
    offset: usize,
    limit: usize,
) -> Result<Found> {
    let found = live.search(query, asker, offset, limit)?;
    Ok(Found {
        total: found.total,
        galleries: db.galleries().summaries(&found.ids)?,
    })
}

/// The galleries of internal ids `ids`, in that order (those that are gone are left out).
pub fn summaries(db: &Db, ids: &[i64]) -> Result<Vec<GallerySummary>> {
    Ok(db.galleries().summaries(ids)?)
}

/// A plain list of galleries (the trash, for one).
pub fn list(db: &Db, query: &ListQuery) -> Result<Vec<GallerySummary>> {
    Ok(db.galleries().list(query)?)
}

/// Tags for what is being typed, most used first.
pub fn suggest(live: &Live, typed: &str, limit: usize) -> Result<Vec<Suggestion>> {
    Ok(live.suggest(typed, limit)?)
}

/// The thumbnail of an image (a page, or a cut-out cover): made now when the background has not
/// made it yet. An image that is no page is `ImageNotFound`; one that cannot be made smaller is
/// `NoThumbnail`, saying why.
pub fn thumbnail(db: &Db, importer: &Importer, image: &BlobHash) -> Result<BlobHash> {
    let state = match db.galleries().thumbnail_of(image)? {
        Some(ThumbnailState::Pending(info)) => {
            importer.make_thumbnail(&info)?;
            db.galleries().thumbnail_of(image)?
        }
        other => other,
    };
    match state {
        None => Err(Error::ImageNotFound),
        Some(ThumbnailState::Made(t)) => Ok(t),
        Some(ThumbnailState::Unsupported) => Err(Error::NoThumbnail(
            "this server cannot decode the image's format; the image itself is served".into(),
        )),
        Some(ThumbnailState::Failed | ThumbnailState::Pending(_)) => {
            Err(Error::NoThumbnail("the image could not be decoded".into()))
        }
    }
}
