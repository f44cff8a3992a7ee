//! Each user's own: where they are in a gallery, their favorites and their collections.

use db::{Collection, Db, Progress};

use super::{Error, Result};

/// Where `user` is in the gallery `public_id` (`None` when never opened).
pub fn progress(db: &Db, user: i64, public_id: &str) -> Result<Option<Progress>> {
    let gallery = db.galleries().id_of(public_id)?;
    Ok(db.accounts().progress(user, gallery)?)
}

/// Notes that `user` is at page `page` (from 0) of the gallery. Reaching the last page finishes
/// it unless `finished` says otherwise; a page past the end is refused.
pub fn set_progress(
    db: &Db,
    user: i64,
    public_id: &str,
    page: u32,
    finished: Option<bool>,
) -> Result<()> {
    let g = db.galleries().get(public_id)?;
    if page >= g.page_count.max(1) {
        return Err(Error::Invalid(format!(
            "page {page} is past the gallery's {} pages (pages count from 0)",
            g.page_count
        )));
    }
    let finished = finished.unwrap_or(page + 1 == g.page_count);
    Ok(db.accounts().set_progress(user, g.id, page, finished)?)
}

/// Marks the gallery unread again for `user`.
pub fn clear_progress(db: &Db, user: i64, public_id: &str) -> Result<()> {
    let gallery = db.galleries().id_of(public_id)?;
    Ok(db.accounts().clear_progress(user, gallery)?)
}

/// Makes the gallery one of `user`'s favorites, or no longer one.
pub fn set_favorite(db: &Db, user: i64, public_id: &str, favorite: bool) -> Result<()> {
    let gallery = db.galleries().id_of(public_id)?;
    Ok(db.accounts().set_favorite(user, gallery, favorite)?)
}

/// `user`'s collections.
pub fn collections(db: &Db, user: i64) -> Result<Vec<Collection>> {
    Ok(db.accounts().collections(user)?)
}

/// Makes a collection: a hand-picked list, or a saved search when `query` is given (it must
/// read as a query). Answers its id.
pub fn create_collection(db: &Db, user: i64, name: &str, query: Option<&str>) -> Result<i64> {
    if let Some(q) = query {
        search::parse(q).map_err(|e| Error::BadQuery {
            message: e.message,
            position: e.position,
        })?;
    }
    Ok(db.accounts().create_collection(user, name, query)?)
}

/// Renames one of `user`'s collections.
pub fn rename_collection(db: &Db, user: i64, id: i64, name: &str) -> Result<()> {
    if db.accounts().rename_collection(user, id, name)? {
        Ok(())
    } else {
        Err(Error::CollectionNotFound(id))
    }
}

/// Deletes one of `user`'s collections (never the galleries in it).
pub fn remove_collection(db: &Db, user: i64, id: i64) -> Result<()> {
    if db.accounts().remove_collection(user, id)? {
        Ok(())
    } else {
        Err(Error::CollectionNotFound(id))
    }
}

/// Puts the gallery in one of `user`'s collections, or takes it out.
pub fn collect(db: &Db, user: i64, id: i64, public_id: &str, inside: bool) -> Result<()> {
    let gallery = db.galleries().id_of(public_id)?;
    if db.accounts().set_in_collection(user, id, gallery, inside)? {
        Ok(())
    } else {
        Err(Error::CollectionNotFound(id))
    }
}

/// What a user has of a gallery, for its page: where they are in it, whether it is a favorite,
/// and their collections (to put it in one).
#[derive(Debug, Default)]
pub struct Mine {
    pub progress: Option<Progress>,
    pub favorite: bool,
    pub collections: Vec<Collection>,
}

/// [`Mine`] of the gallery of internal id `gallery` for `user` (nothing for a visitor).
pub fn mine(db: &Db, user: Option<i64>, gallery: i64) -> Result<Mine> {
    let Some(u) = user else {
        return Ok(Mine::default());
    };
    Ok(Mine {
        progress: db.accounts().progress(u, gallery)?,
        favorite: db.accounts().is_favorite(u, gallery)?,
        collections: db.accounts().collections(u)?,
    })
}
