//! Each user's own state: reading progress, favorites and collections, and the snapshot of it
//! that search reads.

use super::*;

impl Accounts<'_> {
    // ---- Reading progress, favorites, collections -------------------------------------------

    /// Records where a user is in a gallery.
    pub fn set_progress(&self, user: i64, gallery: i64, page: u32, finished: bool) -> Result<()> {
        self.db.write(|c| {
            let now = now_ms();
            let changed = c.exec(
                "UPDATE reading_progress SET page = ?, finished = ?, updated_at = ? \
                 WHERE user_id = ? AND gallery_id = ?",
                &[
                    Param::Int(i64::from(page)),
                    Param::Int(i64::from(finished)),
                    Param::Int(now),
                    Param::Int(user),
                    Param::Int(gallery),
                ],
            )?;
            if changed == 0 {
                c.exec(
                    "INSERT INTO reading_progress (user_id, gallery_id, page, finished, updated_at) \
                     VALUES (?, ?, ?, ?, ?)",
                    &[
                        Param::Int(user),
                        Param::Int(gallery),
                        Param::Int(i64::from(page)),
                        Param::Int(i64::from(finished)),
                        Param::Int(now),
                    ],
                )?;
                // Only a first opening changes what `read` matches.
                bump_state(c, user)?;
            }
            Ok(())
        })
    }

    /// Where a user is in a gallery, if they opened it.
    pub fn progress(&self, user: i64, gallery: i64) -> Result<Option<Progress>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT page, finished, updated_at FROM reading_progress \
                 WHERE user_id = ? AND gallery_id = ?",
                &[Param::Int(user), Param::Int(gallery)],
            )?
            .map(|r| {
                Ok(Progress {
                    page: r.int(0)? as u32,
                    finished: r.int(1)? != 0,
                    updated_at: r.int(2)?,
                })
            })
            .transpose()
        })
    }

    /// Forgets a user's progress in a gallery (marks it unread).
    pub fn clear_progress(&self, user: i64, gallery: i64) -> Result<()> {
        self.db.write(|c| {
            if c.exec(
                "DELETE FROM reading_progress WHERE user_id = ? AND gallery_id = ?",
                &[Param::Int(user), Param::Int(gallery)],
            )? > 0
            {
                bump_state(c, user)?;
            }
            Ok(())
        })
    }

    /// Adds or removes a favorite.
    pub fn set_favorite(&self, user: i64, gallery: i64, favorite: bool) -> Result<()> {
        self.db.write(|c| {
            let exists = c
                .query_opt(
                    "SELECT 1 FROM favorites WHERE user_id = ? AND gallery_id = ?",
                    &[Param::Int(user), Param::Int(gallery)],
                )?
                .is_some();
            if exists == favorite {
                return Ok(());
            }
            if favorite {
                c.exec(
                    "INSERT INTO favorites (user_id, gallery_id, added_at) VALUES (?, ?, ?)",
                    &[Param::Int(user), Param::Int(gallery), Param::Int(now_ms())],
                )?;
            } else {
                c.exec(
                    "DELETE FROM favorites WHERE user_id = ? AND gallery_id = ?",
                    &[Param::Int(user), Param::Int(gallery)],
                )?;
            }
            bump_state(c, user)
        })
    }

    /// Whether a gallery is among a user's favorites.
    pub fn is_favorite(&self, user: i64, gallery: i64) -> Result<bool> {
        self.db.read(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM favorites WHERE user_id = ? AND gallery_id = ?",
                &[Param::Int(user), Param::Int(gallery)],
            )?
            .is_some())
        })
    }

    /// A collection name, trimmed, if it is usable and not taken by another of the user's
    /// collections than `except`.
    fn free_collection_name<'n>(
        &self,
        user: i64,
        name: &'n str,
        except: Option<i64>,
    ) -> Result<&'n str> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid(
                "collection name",
                "must be 1 to 100 characters",
            ));
        }
        if self
            .collection(user, name)?
            .is_some_and(|c| Some(c.id) != except)
        {
            return Err(Error::invalid(
                "collection name",
                format!("{name:?} is taken"),
            ));
        }
        Ok(name)
    }

    /// Renames one of a user's collections; answers whether it is theirs.
    pub fn rename_collection(&self, user: i64, id: i64, name: &str) -> Result<bool> {
        let name = self.free_collection_name(user, name, Some(id))?;
        self.db.write(|c| {
            if !owns(c, user, id)? {
                return Ok(false);
            }
            c.exec(
                "UPDATE collections SET name = ? WHERE id = ?",
                &[Param::Text(name), Param::Int(id)],
            )?;
            bump_state(c, user)?;
            Ok(true)
        })
    }

    /// Makes a collection: a hand-picked list, or a saved search when `query` is given.
    pub fn create_collection(&self, user: i64, name: &str, query: Option<&str>) -> Result<i64> {
        let name = self.free_collection_name(user, name, None)?;
        self.db.write(|c| {
            c.exec(
                "INSERT INTO collections (user_id, name, saved_query, created_at) VALUES (?, ?, ?, ?)",
                &[
                    Param::Int(user),
                    Param::Text(name),
                    query.map_or(Param::Null, Param::Text),
                    Param::Int(now_ms()),
                ],
            )?;
            let id = c.last_insert_id()?;
            bump_state(c, user)?;
            Ok(id)
        })
    }

    /// A user's collections, by name.
    pub fn collections(&self, user: i64) -> Result<Vec<Collection>> {
        self.db.read(|c| {
            c.query(
                "SELECT c.id, c.name, c.saved_query, c.created_at, \
                 (SELECT COUNT(*) FROM collection_items i WHERE i.collection_id = c.id) \
                 FROM collections c WHERE c.user_id = ? ORDER BY c.name",
                &[Param::Int(user)],
            )?
            .iter()
            .map(|r| {
                Ok(Collection {
                    id: r.int(0)?,
                    name: r.text(1)?,
                    query: r
                        .opt_blob(2)?
                        .map(|b| String::from_utf8_lossy(&b).into_owned()),
                    created_at: r.int(3)?,
                    galleries: r.int(4)? as u64,
                })
            })
            .collect()
        })
    }

    /// One of a user's collections by name.
    pub fn collection(&self, user: i64, name: &str) -> Result<Option<Collection>> {
        let name = name.trim();
        Ok(self.collections(user)?.into_iter().find(|c| c.name == name))
    }

    /// Removes one of a user's collections; answers whether it existed.
    pub fn remove_collection(&self, user: i64, id: i64) -> Result<bool> {
        self.db.write(|c| {
            if !owns(c, user, id)? {
                return Ok(false);
            }
            c.exec(
                "DELETE FROM collection_items WHERE collection_id = ?",
                &[Param::Int(id)],
            )?;
            c.exec("DELETE FROM collections WHERE id = ?", &[Param::Int(id)])?;
            bump_state(c, user)?;
            Ok(true)
        })
    }

    /// Puts a gallery in or takes it out of one of a user's hand-picked collections; answers
    /// whether the collection is theirs.
    pub fn set_in_collection(
        &self,
        user: i64,
        id: i64,
        gallery: i64,
        inside: bool,
    ) -> Result<bool> {
        self.db.write(|c| {
            if !owns(c, user, id)? {
                return Ok(false);
            }
            let exists = c
                .query_opt(
                    "SELECT 1 FROM collection_items WHERE collection_id = ? AND gallery_id = ?",
                    &[Param::Int(id), Param::Int(gallery)],
                )?
                .is_some();
            if exists != inside {
                if inside {
                    c.exec(
                        "INSERT INTO collection_items (collection_id, gallery_id, added_at) \
                         VALUES (?, ?, ?)",
                        &[Param::Int(id), Param::Int(gallery), Param::Int(now_ms())],
                    )?;
                } else {
                    c.exec(
                        "DELETE FROM collection_items WHERE collection_id = ? AND gallery_id = ?",
                        &[Param::Int(id), Param::Int(gallery)],
                    )?;
                }
                bump_state(c, user)?;
            }
            Ok(true)
        })
    }

    /// The state version of a user (see [`User::state_version`]).
    pub fn state_version(&self, user: i64) -> Result<i64> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT state_version FROM users WHERE id = ?",
                &[Param::Int(user)],
            )?
            .map_or(Ok(0), |r| r.int(0))
        })
    }

    /// Everything search needs of a user's own state.
    pub fn user_state(&self, user: i64) -> Result<UserState> {
        self.db.read(|c| {
            let version = c
                .query_opt(
                    "SELECT state_version FROM users WHERE id = ?",
                    &[Param::Int(user)],
                )?
                .map_or(Ok(0), |r| r.int(0))?;
            let read = ids(c.query(
                "SELECT gallery_id FROM reading_progress WHERE user_id = ? ORDER BY gallery_id",
                &[Param::Int(user)],
            )?)?;
            let favorites = ids(c.query(
                "SELECT gallery_id FROM favorites WHERE user_id = ? ORDER BY gallery_id",
                &[Param::Int(user)],
            )?)?;
            let mut collections = Vec::new();
            for r in c.query(
                "SELECT id, name, saved_query FROM collections WHERE user_id = ? ORDER BY name",
                &[Param::Int(user)],
            )? {
                let items = ids(c.query(
                    "SELECT gallery_id FROM collection_items WHERE collection_id = ? \
                     ORDER BY gallery_id",
                    &[Param::Int(r.int(0)?)],
                )?)?;
                let query = r
                    .opt_blob(2)?
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                collections.push((r.text(1)?, query, items));
            }
            Ok(UserState {
                version,
                read,
                favorites,
                collections,
            })
        })
    }
}

fn owns(c: &mut dyn Sql, user: i64, collection: i64) -> Result<bool> {
    Ok(c.query_opt(
        "SELECT 1 FROM collections WHERE id = ? AND user_id = ?",
        &[Param::Int(collection), Param::Int(user)],
    )?
    .is_some())
}
