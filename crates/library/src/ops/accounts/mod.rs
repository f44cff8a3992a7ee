//! Accounts: the first-run setup, users and their roles, passwords, signing in (throttled),
//! sessions and API keys. The server, its forms and the command line all call these; what a
//! caller may do stays in the server's gate, and how a session travels (its cookie) stays there
//! too.

mod secrets;
mod sign_in;

pub use secrets::{
    MAX_PASSWORD, MIN_PASSWORD, SecretError, hash_password, random_token, secret_hash,
    verify_password,
};
pub use sign_in::sign_in;

use db::{ApiKey, Db, KeyScope, KeyUse, Role, Session, User};

use super::{Error, Result};

/// Whether an admin exists (until one does, the first-run setup waits).
pub fn has_admin(db: &Db) -> Result<bool> {
    Ok(db.accounts().has_admin()?)
}

/// Makes the first admin, named `name` with `password`. Refused once an admin exists: checked
/// again in the same transaction, so two setups at once make one admin.
pub fn setup(db: &Db, name: &str, password: &str) -> Result<User> {
    if db.accounts().has_admin()? {
        return Err(Error::SetupDone);
    }
    let hash = hash_password(password)?;
    db.accounts()
        .create_first_admin(name, &hash)?
        .ok_or(Error::SetupDone)
}

/// Every user, with their role.
pub fn users(db: &Db) -> Result<Vec<User>> {
    Ok(db.accounts().users()?)
}

/// The user named `name`, or `UserNotFound`.
pub fn user(db: &Db, name: &str) -> Result<User> {
    db.accounts()
        .user(name)?
        .ok_or_else(|| db::Error::UserNotFound(name.to_string()).into())
}

/// Makes a user named `name` with `password` and the role named `role` (`reader`, `editor` or
/// `admin`).
pub fn add_user(db: &Db, name: &str, password: &str, role: &str) -> Result<User> {
    let role: Role = role.parse()?;
    let hash = hash_password(password)?;
    Ok(db.accounts().create_user(name, &hash, role)?)
}

/// Gives a user the role named `role` (the last admin keeps theirs).
pub fn set_role(db: &Db, name: &str, role: &str) -> Result<Role> {
    let role: Role = role.parse()?;
    db.accounts().set_role(name, role)?;
    Ok(role)
}

/// Sets a user's password, which ends all of their sessions.
pub fn reset_password(db: &Db, name: &str, password: &str) -> Result<()> {
    let hash = hash_password(password)?;
    Ok(db.accounts().set_password(name, &hash)?)
}

/// Removes a user, with their sessions, keys, progress, favorites and collections.
pub fn remove_user(db: &Db, name: &str) -> Result<()> {
    Ok(db.accounts().remove_user(name)?)
}

/// Checks a user's current password and sets a new one, which ends all of their sessions.
pub fn change_password(db: &Db, user: &User, current: &str, new: &str) -> Result<()> {
    if !verify_password(current, &user.password_hash) {
        return Err(Error::WrongCredentials);
    }
    let hash = hash_password(new)?;
    Ok(db.accounts().set_password(&user.name, &hash)?)
}

// ---- Sessions -----------------------------------------------------------------------------------

/// A new session's secrets: the token the client presents, and the CSRF token its changes carry.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub csrf: String,
}

/// Starts a session for a user.
pub fn start_session(db: &Db, user: i64) -> Result<NewSession> {
    let token = random_token()?;
    let csrf = random_token()?;
    db.accounts()
        .create_session(&secret_hash(&token), user, &csrf)?;
    Ok(NewSession { token, csrf })
}

/// The session whose token hashes to `token_hash`, unless it has been unused for `idle_ms`
/// (it is then ended). Its use is noted at most once a minute, not on every request.
pub fn session(db: &Db, token_hash: &[u8; 32], idle_ms: i64) -> Result<Option<Session>> {
    let accounts = db.accounts();
    let Some(s) = accounts.session(token_hash)? else {
        return Ok(None);
    };
    let now = db::now_ms();
    if s.seen_at < now - idle_ms {
        accounts.delete_session(token_hash)?;
        return Ok(None);
    }
    if s.seen_at < now - 60_000 {
        accounts.touch_session(token_hash)?;
    }
    Ok(Some(s))
}

/// Ends a session.
pub fn end_session(db: &Db, token_hash: &[u8; 32]) -> Result<()> {
    Ok(db.accounts().delete_session(token_hash)?)
}

// ---- API keys -----------------------------------------------------------------------------------

/// A key just made: its id, the key itself (shown this once, stored only hashed) and its scope.
#[derive(Debug)]
pub struct NewKey {
    pub id: i64,
    pub key: String,
    pub scope: KeyScope,
}

/// A user's API keys (never their secrets).
pub fn keys(db: &Db, user: i64) -> Result<Vec<ApiKey>> {
    Ok(db.accounts().keys(user)?)
}

/// Reads a key's scope as asked for: `read` (also when none is named) or `read-write`.
pub fn key_scope(scope: Option<&str>) -> Result<KeyScope> {
    match scope.unwrap_or("read") {
        "read" => Ok(KeyScope::Read),
        "read-write" => Ok(KeyScope::ReadWrite),
        other => Err(Error::Invalid(format!(
            "scope {other:?}: use \"read\" or \"read-write\""
        ))),
    }
}

/// Makes an API key for `user`, named `name`, with the scope named `scope`. A key may do no more
/// than whoever makes it: a caller who came with a read-only key (`made_with`) cannot make a
/// read-write one.
pub fn make_key(
    db: &Db,
    user: i64,
    name: &str,
    scope: Option<&str>,
    made_with: Option<KeyScope>,
) -> Result<NewKey> {
    let scope = key_scope(scope)?;
    if scope == KeyScope::ReadWrite && made_with == Some(KeyScope::Read) {
        return Err(Error::Refused(
            "a read-only key cannot make a read-write key".into(),
        ));
    }
    let (id, key) = new_api_key(db, user, name, scope)?;
    Ok(NewKey { id, key, scope })
}

/// Makes a new API key for a user; answers its id and the key, which is never shown again.
pub fn new_api_key(db: &Db, user: i64, name: &str, scope: KeyScope) -> Result<(i64, String)> {
    let key = format!("lp_{}", random_token()?);
    let id = db
        .accounts()
        .create_key(user, name, &secret_hash(&key), scope)?;
    Ok((id, key))
}

/// The key whose secret hashes to `key_hash`, with its user, if it exists and is not revoked.
/// Its use is noted at most once a minute, not on every request.
pub fn key(db: &Db, key_hash: &[u8; 32]) -> Result<Option<KeyUse>> {
    let found = db.accounts().key(key_hash)?;
    if let Some(k) = &found
        && k.used_at.is_none_or(|at| at < db::now_ms() - 60_000)
    {
        db.accounts().touch_key(k.id)?;
    }
    Ok(found)
}

/// Revokes one of `user`'s keys.
pub fn revoke_key(db: &Db, user: i64, id: i64) -> Result<()> {
    if db.accounts().revoke_key(user, id)? {
        Ok(())
    } else {
        Err(Error::ApiKeyNotFound(id))
    }
}
