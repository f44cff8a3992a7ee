//! Sessions: starting and ending them, their cookie, and the short-lived cache of who a session or
//! key belongs to.

use super::*;

/// A caller as found, and when.
pub(super) type Remembered = (Arc<User>, Via, std::time::Instant);

/// Who recently presented which secret (an API key or a session cookie), so that a client
/// fetching pages or images does not cost a database read per request. Entries live a few
/// seconds; any change a request makes here (a sign-out, a revoked key, a new role or password)
/// empties the cache, so this process never serves stale accounts. Another process sharing the
/// database (a second server, the CLI) is seen within [`CallerCache::TTL`].
#[derive(Debug, Default)]
pub struct CallerCache {
    entries: std::sync::Mutex<HashMap<(u8, [u8; 32]), Remembered>>,
    /// Counts the clears: a lookup that began before one does not store what it read.
    generation: std::sync::atomic::AtomicU64,
}

impl CallerCache {
    /// How long an entry is trusted.
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    pub(super) const KEY: u8 = 0;
    pub(super) const SESSION: u8 = 1;
    const MAX_ENTRIES: usize = 10_000;

    pub(super) fn get(&self, kind: u8, hash: &[u8; 32]) -> Option<(Arc<User>, Via)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (user, via, at) = entries.get(&(kind, *hash))?;
        (at.elapsed() < Self::TTL).then(|| (user.clone(), via.clone()))
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Remembers what a lookup that began at `generation` read, unless the cache was cleared
    /// since (the read may predate the change that cleared it).
    pub(super) fn put(
        &self,
        generation: u64,
        kind: u8,
        hash: [u8; 32],
        user: &Arc<User>,
        via: &Via,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if self.generation() != generation {
            return;
        }
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (_, _, at)| at.elapsed() < Self::TTL);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            (kind, hash),
            (user.clone(), via.clone(), std::time::Instant::now()),
        );
    }

    /// Forgets everyone (after any change that may touch accounts).
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        entries.clear();
    }
}

/// Starts a session for a user: answers the `Set-Cookie` value and the session's CSRF token.
pub fn start_session(
    db: &db::Db,
    user: i64,
    config: &AuthConfig,
    https: bool,
) -> Result<(HeaderValue, String), ApiError> {
    let session = accounts::start_session(db, user)?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        session.token,
        config.session_idle.as_secs(),
        if https { "; Secure" } else { "" }
    );
    let value = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((value, session.csrf))
}

/// Ends the caller's session on the server, if they came with one.
pub async fn end_session(db: &Arc<db::Db>, caller: &Caller) -> Result<(), ApiError> {
    if let Via::Session { token_hash, .. } = caller.via {
        let db = db.clone();
        crate::blocking(move || Ok(accounts::end_session(&db, &token_hash)?)).await?;
    }
    Ok(())
}

/// Starts a new session for a caller who came with one (after their password changed, which
/// ended every session of the account): its cookie and CSRF token. A caller with a key gets none.
pub fn renew_session(
    db: &db::Db,
    caller: &Caller,
    config: &AuthConfig,
) -> Result<Option<(HeaderValue, String)>, ApiError> {
    match caller.via {
        Via::Session { .. } => Ok(Some(start_session(
            db,
            caller.user()?.id,
            config,
            caller.https,
        )?)),
        _ => Ok(None),
    }
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn end_session_cookie() -> HeaderValue {
    HeaderValue::from_static("lp_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}
