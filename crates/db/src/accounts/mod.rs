//! Accounts: users and their roles, sessions and API keys (kept as hashes of their secrets, which
//! the server makes and checks), failed-login counters, and each user's own state — reading
//! progress, favorites and collections. Secrets and password hashing belong to the server; this
//! module only stores what it is given. Users and roles are here; sessions and failed logins
//! (`sessions.rs`), API keys (`keys.rs`) and each user's own state (`reading.rs`) each have a
//! file of their own.

use crate::error::{Error, Result};
use crate::sql::{Param, Row, Sql};
use crate::{Db, now_ms};

mod keys;
mod reading;
mod sessions;

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
