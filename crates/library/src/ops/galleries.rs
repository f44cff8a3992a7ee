//! A gallery's operations: what describes it, its tags, its pages' order and cover, the trash,
//! and purging it for good.

use db::{Db, DetailsChange, GalleryTag, TagName, TagSource};

use super::Result;
use crate::import::{Importer, thumb::Crop};

/// Adds `add` and removes `remove` (as the user's own edit) on the gallery `public_id`; answers
/// its tags now. A gallery that does not exist is `GalleryNotFound`, even with nothing to change.
pub fn tags(
    db: &Db,
    public_id: &str,
    add: &[TagName],
    remove: &[TagName],
) -> db::Result<Vec<GalleryTag>> {
    db.galleries().id_of(public_id)?;
    if !add.is_empty() {
        db.tags().add(public_id, add, TagSource::User)?;
    }
    if !remove.is_empty() {
        db.tags().remove(public_id, remove)?;
    }
    db.tags().of_gallery(public_id)
}

/// Changes what describes a gallery (title, original title, summary, category, reading
/// direction); what `change` leaves out stays. A title cannot be empty.
pub fn describe(db: &Db, public_id: &str, change: &DetailsChange) -> Result<()> {
    Ok(db.galleries().edit_details(public_id, change)?)
}

/// Puts the pages in a new order: `order[i]` is the current position of the page that becomes
/// page `i`, each named once.
pub fn reorder(db: &Db, public_id: &str, order: &[u32]) -> Result<()> {
    Ok(db.galleries().reorder_pages(public_id, order)?)
}

/// Makes page `page` the cover, or the `crop` part of it (cut out and kept as an image of its
/// own); the cut-out cover replaced is released.
pub fn set_cover(
    importer: &Importer,
    public_id: &str,
    page: u32,
    crop: Option<Crop>,
) -> Result<()> {
    match crop {
        None => importer.set_cover_page(public_id, page)?,
        Some(part) => {
            importer.set_cropped_cover(public_id, page, part)?;
        }
    }
    Ok(())
}

/// Puts a gallery in the trash (out of searches and lists, until restored or purged).
pub fn trash(db: &Db, public_id: &str) -> Result<()> {
    Ok(db.galleries().trash(public_id)?)
}

/// Takes a gallery out of the trash.
pub fn restore(db: &Db, public_id: &str) -> Result<()> {
    Ok(db.galleries().restore(public_id)?)
}

/// Deletes a gallery for good, then the images nothing else uses; answers how many.
pub fn purge(importer: &Importer, public_id: &str) -> Result<usize> {
    Ok(importer.purge(public_id)?)
}
