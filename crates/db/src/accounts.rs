//! Accounts: users and their roles, sessions and API keys (kept as hashes of their secrets, which
//! the server makes and checks), failed-login counters, and each user's own state — reading
//! progress, favorites and collections. Secrets and password hashing belong to the server; this
//! module only stores what it is given.

use crate::error::{Error, Result};
use crate::sql::{Param, Row, Sql};
use crate::{Db, now_ms};

/// What a user may do. Ordered: each role may do everything of the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// Reads, and keeps their own progress, favorites and collections.
    Reader,
    /// Also imports, uploads, tags, edits and trashes.
    Editor,
    /// Everything: users, settings, server-path imports, purging.
    Admin,
}

impl Role {
    fn code(self) -> i64 {
        match self {
            Role::Reader => 0,
            Role::Editor => 1,
            Role::Admin => 2,
        }
    }

    fn from_code(c: i64) -> Self {
        match c {
            2 => Role::Admin,
            1 => Role::Editor,
            _ => Role::Reader,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reader" => Ok(Role::Reader),
            "editor" => Ok(Role::Editor),
            "admin" => Ok(Role::Admin),
            other => Err(Error::invalid(
                "role",
                format!("{other:?} is not a role: use reader, editor or admin"),
            )),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    #[serde(skip)]
    pub password_hash: String,
    /// Changes whenever the user's own state (progress, favorites, collections) does.
    #[serde(skip)]
    pub state_version: i64,
}

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.created_at, u.password_hash, u.state_version";

fn user(r: &Row) -> Result<User> {
    Ok(User {
        id: r.int(0)?,
        name: r.text(1)?,
        role: Role::from_code(r.int(2)?),
        created_at: r.int(3)?,
        password_hash: r.text(4)?,
        state_version: r.int(5)?,
    })
}

/// A session found by its token: who, and the token forms must echo.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    pub created_at: i64,
    pub seen_at: i64,
}

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum KeyScope {
    Read,
    ReadWrite,
}

/// An API key as listed (its secret is never stored).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    pub scope: KeyScope,
    pub created_at: i64,
    pub used_at: Option<i64>,
}

/// A collection: a hand-picked list, or a saved search when `query` is set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Collection {
    pub id: i64,
    pub name: String,
    pub query: Option<String>,
    pub created_at: i64,
    /// Galleries picked by hand (none for a saved search).
    pub galleries: u64,
}

/// An API key presented: whose it is, what it may do, and when it was last noted as used.
#[derive(Debug, Clone)]
pub struct KeyUse {
    pub user: User,
    pub id: i64,
    pub scope: KeyScope,
    pub used_at: Option<i64>,
}

/// Where a user is in a gallery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// The page (0-based) last shown.
    pub page: u32,
    /// Whether the last page was reached.
    pub finished: bool,
    pub updated_at: i64,
}

/// A user's own state, as search needs it: gallery ids opened, favorited and in each collection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserState {
    pub version: i64,
    pub read: Vec<i64>,
    pub favorites: Vec<i64>,
    /// (name, saved query, hand-picked gallery ids).
    pub collections: Vec<(String, Option<String>, Vec<i64>)>,
}

/// Longest user name.
pub const MAX_NAME: usize = 64;

fn check_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(Error::invalid(
            "user name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || c == '/')
    {
        return Err(Error::invalid(
            "user name",
            "may not hold spaces, slashes or control characters",
        ));
    }
    Ok(name)
}

fn ids(rows: Vec<Row>) -> Result<Vec<i64>> {
    rows.iter().map(|r| r.int(0)).collect()
}

fn bump_state(c: &mut dyn Sql, user: i64) -> Result<()> {
    c.exec(
        "UPDATE users SET state_version = state_version + 1 WHERE id = ?",
        &[Param::Int(user)],
    )?;
    Ok(())
}

/// Accounts and per-user state.
#[derive(Debug)]
pub struct Accounts<'a> {
    pub(crate) db: &'a Db,
}

impl Accounts<'_> {
    // ---- Users ------------------------------------------------------------------------------

    /// Adds a user; fails if the name is taken.
    pub fn create_user(&self, name: &str, password_hash: &str, role: Role) -> Result<User> {
        let name = check_name(name)?;
        if self.user(name)?.is_some() {
            return Err(Error::invalid("user name", format!("{name:?} is taken")));
        }
        self.db.write(|c| {
            c.exec(
                "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                &[
                    Param::Text(name),
                    Param::Text(password_hash),
                    Param::Int(role.code()),
                    Param::Int(now_ms()),
                ],
            )?;
            Ok(())
        })?;
        self.user(name)?
            .ok_or_else(|| Error::Decode(format!("user {name:?} vanished")))
    }

    /// Makes the first admin, only if no admin exists (checked in the same transaction, so two
    /// setups at once make one admin); answers `None` when one existed.
    pub fn create_first_admin(&self, name: &str, password_hash: &str) -> Result<Option<User>> {
        let name = check_name(name)?;
        let made = self.db.write(|c| {
            let sql = format!(
                "SELECT id FROM users WHERE role = 2 LIMIT 1{}",
                c.dialect().for_update()
            );
            if c.query_opt(&sql, &[])?.is_some() {
                return Ok(false);
            }
            if c.query_opt("SELECT 1 FROM users WHERE name = ?", &[Param::Text(name)])?
                .is_some()
            {
                return Err(Error::invalid("user name", format!("{name:?} is taken")));
            }
            c.exec(
                "INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                &[
                    Param::Text(name),
                    Param::Text(password_hash),
                    Param::Int(Role::Admin.code()),
                    Param::Int(now_ms()),
                ],
            )?;
            Ok(true)
        })?;
        if made { self.user(name) } else { Ok(None) }
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Result<Option<User>> {
        self.db.read(|c| {
            c.query_opt(
                &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.name = ?"),
                &[Param::Text(name.trim())],
            )?
            .as_ref()
            .map(user)
            .transpose()
        })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        self.db.read(|c| {
            c.query(
                &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"),
                &[],
            )?
            .iter()
            .map(user)
            .collect()
        })
    }

    /// Whether any admin exists.
    pub fn has_admin(&self) -> Result<bool> {
        self.db.read(|c| {
            Ok(
                c.query_opt("SELECT 1 FROM users WHERE role = 2 LIMIT 1", &[])?
                    .is_some(),
            )
        })
    }

    /// Changes a user's role; the last admin cannot stop being one.
    pub fn set_role(&self, name: &str, role: Role) -> Result<()> {
        let u = self.existing(name)?;
        self.db.write(|c| {
            if u.role == Role::Admin && role != Role::Admin {
                last_admin_guard(c, u.id)?;
            }
            c.exec(
                "UPDATE users SET role = ? WHERE id = ?",
                &[Param::Int(role.code()), Param::Int(u.id)],
            )?;
            Ok(())
        })
    }

    /// Sets a new password hash and ends every session of the user.
    pub fn set_password(&self, name: &str, password_hash: &str) -> Result<()> {
        let u = self.existing(name)?;
        self.db.write(|c| {
            c.exec(
                "UPDATE users SET password_hash = ? WHERE id = ?",
                &[Param::Text(password_hash), Param::Int(u.id)],
            )?;
            c.exec(
                "DELETE FROM sessions WHERE user_id = ?",
                &[Param::Int(u.id)],
            )?;
            Ok(())
        })
    }

    /// Removes a user and everything of theirs; the last admin cannot be removed.
    pub fn remove_user(&self, name: &str) -> Result<()> {
        let u = self.existing(name)?;
        self.db.write(|c| {
            if u.role == Role::Admin {
                last_admin_guard(c, u.id)?;
            }
            // Children first: MySQL and SQLite would cascade, but saying it keeps both honest.
            for sql in [
                "DELETE FROM sessions WHERE user_id = ?",
                "DELETE FROM api_keys WHERE user_id = ?",
                "DELETE FROM reading_progress WHERE user_id = ?",
                "DELETE FROM favorites WHERE user_id = ?",
                "DELETE FROM collection_items WHERE collection_id IN \
                 (SELECT id FROM collections WHERE user_id = ?)",
                "DELETE FROM collections WHERE user_id = ?",
                "DELETE FROM users WHERE id = ?",
            ] {
                c.exec(sql, &[Param::Int(u.id)])?;
            }
            Ok(())
        })
    }

    fn existing(&self, name: &str) -> Result<User> {
        self.user(name)?
            .ok_or_else(|| Error::UserNotFound(name.trim().to_string()))
    }

    // ---- Sessions ---------------------------------------------------------------------------

    /// Records a session by the hash of its token.
    pub fn create_session(&self, token_hash: &[u8; 32], user: i64, csrf: &str) -> Result<()> {
        let now = now_ms();
        self.db.write(|c| {
            c.exec(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at) \
                 VALUES (?, ?, ?, ?, ?)",
                &[
                    Param::Blob(token_hash),
                    Param::Int(user),
                    Param::Text(csrf),
                    Param::Int(now),
                    Param::Int(now),
                ],
            )?;
            Ok(())
        })
    }

    /// The session with this token hash, if it exists.
    pub fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        self.db.read(|c| {
            let Some(r) = c.query_opt(
                &format!(
                    "SELECT {USER_COLUMNS}, s.csrf, s.created_at, s.seen_at FROM sessions s \
                     JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?"
                ),
                &[Param::Blob(token_hash)],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(Session {
                user: user(&r)?,
                csrf: r.text(6)?,
                created_at: r.int(7)?,
                seen_at: r.int(8)?,
            }))
        })
    }

    /// Notes that a session was used now.
    pub fn touch_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "UPDATE sessions SET seen_at = ? WHERE token_hash = ?",
                &[Param::Int(now_ms()), Param::Blob(token_hash)],
            )?;
            Ok(())
        })
    }

    /// Ends a session.
    pub fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "DELETE FROM sessions WHERE token_hash = ?",
                &[Param::Blob(token_hash)],
            )?;
            Ok(())
        })
    }

    /// Ends the sessions not used since `before` (ms); answers how many.
    pub fn expire_sessions(&self, before: i64) -> Result<u64> {
        self.db.write(|c| {
            c.exec(
                "DELETE FROM sessions WHERE seen_at < ?",
                &[Param::Int(before)],
            )
        })
    }

    // ---- API keys ---------------------------------------------------------------------------

    /// Records an API key by the hash of its secret; answers its id.
    pub fn create_key(
        &self,
        user: i64,
        name: &str,
        key_hash: &[u8; 32],
        scope: KeyScope,
    ) -> Result<i64> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("key name", "must be 1 to 100 characters"));
        }
        self.db.write(|c| {
            c.exec(
                "INSERT INTO api_keys (user_id, name, key_hash, scope, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
                &[
                    Param::Int(user),
                    Param::Text(name),
                    Param::Blob(key_hash),
                    Param::Int(i64::from(scope == KeyScope::ReadWrite)),
                    Param::Int(now_ms()),
                ],
            )?;
            c.last_insert_id()
        })
    }

    /// The user and scope of the key with this hash.
    pub fn key(&self, key_hash: &[u8; 32]) -> Result<Option<KeyUse>> {
        self.db.read(|c| {
            let Some(r) = c.query_opt(
                &format!(
                    "SELECT {USER_COLUMNS}, k.id, k.scope, k.used_at FROM api_keys k \
                     JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?"
                ),
                &[Param::Blob(key_hash)],
            )?
            else {
                return Ok(None);
            };
            let scope = if r.int(7)? == 1 {
                KeyScope::ReadWrite
            } else {
                KeyScope::Read
            };
            Ok(Some(KeyUse {
                user: user(&r)?,
                id: r.int(6)?,
                scope,
                used_at: r.opt_int(8)?,
            }))
        })
    }

    /// Notes that a key was used now.
    pub fn touch_key(&self, id: i64) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "UPDATE api_keys SET used_at = ? WHERE id = ?",
                &[Param::Int(now_ms()), Param::Int(id)],
            )?;
            Ok(())
        })
    }

    /// A user's keys, newest first.
    pub fn keys(&self, user: i64) -> Result<Vec<ApiKey>> {
        self.db.read(|c| {
            c.query(
                "SELECT id, name, scope, created_at, used_at FROM api_keys WHERE user_id = ? \
                 ORDER BY id DESC",
                &[Param::Int(user)],
            )?
            .iter()
            .map(|r| {
                Ok(ApiKey {
                    id: r.int(0)?,
                    name: r.text(1)?,
                    scope: if r.int(2)? == 1 {
                        KeyScope::ReadWrite
                    } else {
                        KeyScope::Read
                    },
                    created_at: r.int(3)?,
                    used_at: r.opt_int(4)?,
                })
            })
            .collect()
        })
    }

    /// Revokes one of a user's keys; answers whether it existed.
    pub fn revoke_key(&self, user: i64, id: i64) -> Result<bool> {
        self.db.write(|c| {
            Ok(c.exec(
                "DELETE FROM api_keys WHERE id = ? AND user_id = ?",
                &[Param::Int(id), Param::Int(user)],
            )? > 0)
        })
    }

    // ---- Failed logins ----------------------------------------------------------------------

    /// Failed logins of a subject (`user:NAME`, `addr:ADDRESS`) and when the last was (ms).
    pub fn failures(&self, subject: &str) -> Result<Option<(u32, i64)>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT failures, last_at FROM login_failures WHERE subject = ?",
                &[Param::Text(subject)],
            )?
            .map(|r| Ok((r.int(0)? as u32, r.int(1)?)))
            .transpose()
        })
    }

    /// Counts one more failed login of each subject.
    pub fn record_failure(&self, subjects: &[&str]) -> Result<()> {
        let now = now_ms();
        self.db.write(|c| {
            for s in subjects {
                let n = c
                    .query_opt(
                        "SELECT failures FROM login_failures WHERE subject = ?",
                        &[Param::Text(s)],
                    )?
                    .map(|r| r.int(0))
                    .transpose()?;
                match n {
                    Some(n) => c.exec(
                        "UPDATE login_failures SET failures = ?, last_at = ? WHERE subject = ?",
                        &[Param::Int(n + 1), Param::Int(now), Param::Text(s)],
                    )?,
                    None => c.exec(
                        "INSERT INTO login_failures (subject, failures, last_at) VALUES (?, 1, ?)",
                        &[Param::Text(s), Param::Int(now)],
                    )?,
                };
            }
            Ok(())
        })
    }

    /// Forgets a subject's failed logins (after a success).
    pub fn clear_failures(&self, subject: &str) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "DELETE FROM login_failures WHERE subject = ?",
                &[Param::Text(subject)],
            )?;
            Ok(())
        })
    }

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

fn last_admin_guard(c: &mut dyn Sql, user: i64) -> Result<()> {
    let others = c
        .query_opt(
            "SELECT COUNT(*) FROM users WHERE role = 2 AND id <> ?",
            &[Param::Int(user)],
        )?
        .map_or(Ok(0), |r| r.int(0))?;
    if others == 0 {
        return Err(Error::invalid(
            "role",
            "this is the last admin: make another admin first",
        ));
    }
    Ok(())
}
