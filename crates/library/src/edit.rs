//! Edits of a gallery's metadata, each written once for every surface (the JSON API, the web
//! app's forms, later APIs): the surfaces parse what they were sent and render the answer.

use db::{Db, GalleryTag, TagName, TagSource};

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
