//! Who is asking, and whether they may: sessions, API keys, roles, CSRF, and the one gate every
//! request passes.
//!
//! Every route is registered with an [`Access`] rule (see `routes.rs`). The gate ([`guard`]) finds
//! the caller (a session cookie, an API key, or nobody), looks up the rule of the route that
//! matched, and refuses before the handler runs. A route that reached the router without a rule
//! is refused to everyone: forgetting a rule fails closed.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use db::{KeyScope, Role, User};

use crate::AppState;
use crate::error::ApiError;
pub use crate::sign_in::sign_in;

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Anyone, signed in or not (health, signing in and out, first-run setup).
    Public,
    /// Any signed-in user; anonymous callers too for reading, when anonymous reading is on.
    Read,
    /// Any signed-in user, acting on their own things (progress, favorites, keys, password).
    Own,
    /// Editors and admins: import, upload, tag, edit, trash.
    Edit,
    /// Admins: users, settings, server-path imports, purging, store maintenance.
    Admin,
}

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "lp_session";
/// The cookie that keeps the theme picked with the toggle (not a secret).
pub const THEME_COOKIE: &str = "lp_theme";
/// The header the app's own requests carry their session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field plain HTML forms carry it in.
pub const CSRF_FIELD: &str = "_csrf";
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// Settings of authentication.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Lets callers who are not signed in read (never write).
    pub anonymous_read: bool,
    /// A session unused this long ends.
    pub session_idle: Duration,
    /// Reverse proxies whose `X-Forwarded-For` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether the server itself speaks TLS (cookies are then `Secure`).
    pub tls: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            anonymous_read: false,
            session_idle: Duration::from_secs(30 * 24 * 3600),
            trusted_proxies: Vec::new(),
            tls: false,
        }
    }
}

/// How a caller proved who they are.
#[derive(Debug, Clone)]
pub enum Via {
    Anonymous,
    Session { token_hash: [u8; 32], csrf: String },
    Key { id: i64, scope: KeyScope },
}

/// The caller of a request, as the gate found them; handlers take it from the request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Option<Arc<User>>,
    pub via: Via,
    /// The client's address (behind a trusted proxy, the address it forwarded for).
    pub addr: IpAddr,
    /// Whether the client reached us over HTTPS (directly or through a trusted proxy).
    pub https: bool,
    /// The theme the client picked (`light` or `dark`), or none to follow the system.
    pub theme: Option<&'static str>,
}

impl Caller {
    /// The signed-in user, or a 401.
    pub fn user(&self) -> Result<&User, ApiError> {
        self.user.as_deref().ok_or(ApiError::SignInRequired)
    }

    /// The caller as search sees them.
    pub fn asker(&self) -> search::Asker {
        search::Asker {
            admin: self.user.as_ref().is_some_and(|u| u.role == Role::Admin),
            user: self.user.as_ref().map(|u| u.id),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or(ApiError::SignInRequired)
    }
}

// ---- Secrets ------------------------------------------------------------------------------------

/// Why a password cannot be used or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    TooShort,
    #[error("a password may be at most 1024 characters")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// An argon2id hash (PHC string) of a password, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(PasswordError::TooShort);
    }
    if n > 1024 {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Whether a password matches a stored hash (in constant time, as argon2 compares).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    if password.len() > 4096 {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to check passwords against when the account does not exist, so that a wrong name
/// takes as long as a wrong password.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not the password of anyone").unwrap_or_default())
}

/// A new random secret: 32 bytes, base64url.
pub fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(e.to_string().into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// How a secret (session token, API key) is stored: its BLAKE3 hash.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

/// Makes a new API key for a user; answers its id and the key, which is never shown again.
pub fn new_api_key(
    db: &db::Db,
    user: i64,
    name: &str,
    scope: KeyScope,
) -> Result<(i64, String), ApiError> {
    let key = format!("lp_{}", random_token()?);
    let id = db
        .accounts()
        .create_key(user, name, &secret_hash(&key), scope)?;
    Ok((id, key))
}

fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

// ---- The gate -----------------------------------------------------------------------------------

/// Every route's rule, by method and path pattern.
#[derive(Debug, Default)]
pub struct Rules {
    by_route: HashMap<(Method, &'static str), Access>,
    paths: HashSet<&'static str>,
}

impl Rules {
    pub fn add(&mut self, method: Method, path: &'static str, access: Access) {
        self.by_route.insert((method, path), access);
        self.paths.insert(path);
    }

    /// Every (method, path, access) registered.
    pub fn all(&self) -> Vec<(Method, &'static str, Access)> {
        let mut v: Vec<_> = self
            .by_route
            .iter()
            .map(|((m, p), a)| (m.clone(), *p, *a))
            .collect();
        v.sort_by(|a, b| (a.1, a.0.as_str()).cmp(&(b.1, b.0.as_str())));
        v
    }
}

/// What the gate needs.
#[derive(Debug, Clone)]
pub struct Gate {
    pub app: AppState,
    pub rules: Arc<Rules>,
    pub config: Arc<AuthConfig>,
    pub cache: Arc<CallerCache>,
    /// Set once an administrator is known to exist (see [`Gate::setup_needed`]).
    admin_exists: Arc<std::sync::atomic::AtomicBool>,
}

/// A caller as found, and when.
type Remembered = (Arc<User>, Via, std::time::Instant);

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
    const KEY: u8 = 0;
    const SESSION: u8 = 1;
    const MAX_ENTRIES: usize = 10_000;

    fn get(&self, kind: u8, hash: &[u8; 32]) -> Option<(Arc<User>, Via)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (user, via, at) = entries.get(&(kind, *hash))?;
        (at.elapsed() < Self::TTL).then(|| (user.clone(), via.clone()))
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Remembers what a lookup that began at `generation` read, unless the cache was cleared
    /// since (the read may predate the change that cleared it).
    fn put(&self, generation: u64, kind: u8, hash: [u8; 32], user: &Arc<User>, via: &Via) {
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

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The client's address and whether it came over HTTPS: the peer, unless the peer is a trusted
/// proxy, whose `X-Forwarded-*` headers then say.
fn client(req: &Request, config: &AuthConfig) -> (IpAddr, bool) {
    // As axum's `ConnectInfo` extractor: the connection's, or the one a test set.
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
        .or_else(|| {
            req.extensions()
                .get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>()
                .map(|m| m.0)
        })
        .map_or(IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    if !config.trusted_proxies.contains(&peer) {
        return (peer, config.tls);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    // The rightmost address no trusted proxy added is the client.
    let addr = forwarded
        .iter()
        .rev()
        .find(|a| !config.trusted_proxies.contains(a))
        .copied()
        .unwrap_or(peer);
    let https = config.tls
        || req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    (addr, https)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// The API key a request carries: `Authorization: Bearer KEY` (or LANraragi's base64 of the key),
/// or, on the LANraragi-compatible routes only, `?key=KEY`.
fn presented_key(req: &Request) -> Option<String> {
    let decode = |s: &str| -> String {
        let s = s.trim();
        if s.starts_with("lp_") {
            return s.to_string();
        }
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|k| k.starts_with("lp_"))
            .unwrap_or_else(|| s.to_string())
    };
    if let Some(v) = req.headers().get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| decode(token));
    }
    let path = req.uri().path();
    if path.starts_with("/api/") && !path.starts_with("/api/v1/") {
        return req.uri().query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "key")
                .map(|(_, v)| decode(&percent_decode(v)))
        });
    }
    None
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'%' if i + 2 < b.len() => {
                if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a request was sent from another site: its `Origin` names another host, or the browser
/// says so in `Sec-Fetch-Site`.
fn cross_site(headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"))
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let origin_host = origin
        .split_once("://")
        .map_or(origin, |(_, rest)| rest)
        .trim_end_matches('/');
    !origin_host.eq_ignore_ascii_case(host)
}

/// Finds the caller of a request (a bad or expired session counts as nobody; a bad API key is an
/// error, so that a client with a revoked key hears so).
fn find_caller<'a>(
    gate: &'a Gate,
    req: &Request,
) -> impl std::future::Future<Output = Result<Caller, ApiError>> + Send + 'a {
    // Everything is taken from the request before the first wait (a request is not `Sync`).
    let (addr, https) = client(req, &gate.config);
    let key = presented_key(req);
    let token = cookie(req.headers(), SESSION_COOKIE).map(str::to_owned);
    let theme = match cookie(req.headers(), THEME_COOKIE) {
        Some("light") => Some("light"),
        Some("dark") => Some("dark"),
        _ => None,
    };
    async move {
        let mut caller = lookup_caller(gate, addr, https, key, token).await?;
        caller.theme = theme;
        Ok(caller)
    }
}

async fn lookup_caller(
    gate: &Gate,
    addr: IpAddr,
    https: bool,
    key: Option<String>,
    token: Option<String>,
) -> Result<Caller, ApiError> {
    let mut caller = Caller {
        user: None,
        via: Via::Anonymous,
        addr,
        https,
        theme: None,
    };
    let db = gate.app.db.clone();
    let generation = gate.cache.generation();
    if let Some(key) = key {
        let hash = secret_hash(&key);
        if let Some((user, via)) = gate.cache.get(CallerCache::KEY, &hash) {
            caller.user = Some(user);
            caller.via = via;
            return Ok(caller);
        }
        let found = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let found = db.accounts().key(&hash)?;
            // Noted at most once a minute: not a write per request.
            if let Some(k) = &found
                && k.used_at.is_none_or(|at| at < db::now_ms() - 60_000)
            {
                db.accounts().touch_key(k.id)?;
            }
            Ok(found)
        })
        .await??;
        let Some(k) = found else {
            return Err(ApiError::BadKey);
        };
        caller.user = Some(Arc::new(k.user));
        caller.via = Via::Key {
            id: k.id,
            scope: k.scope,
        };
        if let Some(u) = &caller.user {
            gate.cache
                .put(generation, CallerCache::KEY, hash, u, &caller.via);
        }
        return Ok(caller);
    }
    if let Some(token) = token {
        let hash = secret_hash(&token);
        if let Some((user, via)) = gate.cache.get(CallerCache::SESSION, &hash) {
            caller.user = Some(user);
            caller.via = via;
            return Ok(caller);
        }
        let idle = gate.config.session_idle.as_millis() as i64;
        let session = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            let Some(s) = db.accounts().session(&hash)? else {
                return Ok(None);
            };
            let now = db::now_ms();
            if s.seen_at < now - idle {
                db.accounts().delete_session(&hash)?;
                return Ok(None);
            }
            // Noted at most once a minute: not a write per request.
            if s.seen_at < now - 60_000 {
                db.accounts().touch_session(&hash)?;
            }
            Ok(Some(s))
        })
        .await??;
        if let Some(s) = session {
            caller.via = Via::Session {
                token_hash: hash,
                csrf: s.csrf,
            };
            let user = Arc::new(s.user);
            gate.cache
                .put(generation, CallerCache::SESSION, hash, &user, &caller.via);
            caller.user = Some(user);
        }
    }
    Ok(caller)
}

/// Reads a small urlencoded form body for its CSRF field, and puts the body back.
async fn form_csrf(req: Request) -> Result<(Request, Option<String>), ApiError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 << 10)
        .await
        .map_err(|_| ApiError::BadRequest("a form may be at most 64 KB".into()))?;
    let token = std::str::from_utf8(&bytes).ok().and_then(|s| {
        s.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == CSRF_FIELD)
            .map(|(_, v)| percent_decode(v))
    });
    Ok((Request::from_parts(parts, Body::from(bytes)), token))
}

/// The gate: finds the caller, applies the route's rule and CSRF protection, and hands the caller
/// to the handler.
pub async fn guard(State(gate): State<Arc<Gate>>, req: Request, next: Next) -> Response {
    // A page (not the API) asked for without signing in leads to the sign-in page, and back.
    let page = is_safe(req.method()) && !req.uri().path().starts_with("/api/");
    // What a browser navigates to or posts a form to gets the app's error page, never JSON.
    let for_browser = wants_html(req.headers()) && !req.uri().path().starts_with("/api/");
    // Shares the request's bytes; made into a link only if it is needed.
    let uri = req.uri().clone();
    let changes = !is_safe(req.method());
    match check(&gate, req).await {
        Ok(req) => {
            let caller = for_browser
                .then(|| req.extensions().get::<Caller>().cloned())
                .flatten();
            let response = next.run(req).await;
            // Whatever it changed may have been an account: nobody is remembered past it.
            if changes {
                gate.cache.clear();
            }
            match response.extensions().get::<crate::error::Shown>() {
                Some(shown) if for_browser => {
                    let caller = caller.unwrap_or_else(anonymous);
                    let mut page = crate::web::error_page(&caller, response.status(), &shown.0);
                    // The cause of a server error still reaches the log (see `front`).
                    if let Some(detail) = response.extensions().get::<crate::error::ErrorDetail>() {
                        page.extensions_mut().insert(detail.clone());
                    }
                    page
                }
                _ => response,
            }
        }
        Err((ApiError::SignInRequired, _)) if page => {
            // A fresh install has nobody to sign in as: lead to the first-run setup instead.
            if gate.setup_needed().await {
                return axum::response::Redirect::to("/setup").into_response();
            }
            let back = uri.path_and_query().map_or("/", |p| p.as_str());
            let to = format!("/login?next={}", crate::web::encode(back));
            axum::response::Redirect::to(&to).into_response()
        }
        Err((e, caller)) if for_browser => {
            let caller = caller.unwrap_or_else(anonymous);
            let status = e.status();
            crate::web::error_page(&caller, status, &e.to_string())
        }
        Err((e, _)) => e.into_response(),
    }
}

/// Whether the client asks for HTML first (a browser's navigation or form post does).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

/// A caller nobody is known as, for pages shown before the caller was found.
fn anonymous() -> Caller {
    Caller {
        user: None,
        via: Via::Anonymous,
        addr: std::net::Ipv4Addr::UNSPECIFIED.into(),
        https: false,
        theme: None,
    }
}

impl Gate {
    /// A gate over `app` that lets requests in by `rules`.
    pub fn new(app: AppState, rules: Rules) -> Self {
        Self {
            config: app.auth.clone(),
            app,
            rules: Arc::new(rules),
            cache: Arc::default(),
            admin_exists: Arc::default(),
        }
    }

    /// Whether the library has no account at all yet, so that a stranger is led to the
    /// first-run setup rather than to a sign-in page with no way forward. Once an admin exists
    /// the answer is remembered (the last admin cannot be removed).
    async fn setup_needed(&self) -> bool {
        use std::sync::atomic::Ordering;
        if self.admin_exists.load(Ordering::Relaxed) {
            return false;
        }
        let db = self.app.db.clone();
        let found = tokio::task::spawn_blocking(move || {
            let accounts = db.accounts();
            Ok::<_, db::Error>((accounts.has_admin()?, accounts.users()?.is_empty()))
        })
        .await
        .ok()
        .and_then(Result::ok);
        match found {
            Some((true, _)) => {
                self.admin_exists.store(true, Ordering::Relaxed);
                false
            }
            Some((false, nobody)) => nobody,
            // When the database cannot answer, the sign-in page is the safe way.
            None => false,
        }
    }
}

/// Lets a request in, or answers why not (with the caller, when they were found by then).
async fn check(gate: &Gate, req: Request) -> Result<Request, (ApiError, Option<Caller>)> {
    let method = req.method().clone();
    // An `Arc<str>` inside: cloning it copies nothing.
    let Some(path) = req.extensions().get::<MatchedPath>().cloned() else {
        // No route matched: the router answers 404 and nothing runs. Who asked is still found,
        // so that the error page shows them signed in.
        let mut req = req;
        if let Ok(caller) = find_caller(gate, &req).await {
            req.extensions_mut().insert(caller);
        }
        return Ok(req);
    };
    let access = match gate.rules.by_route.get(&(method.clone(), path.as_str())) {
        Some(a) => *a,
        // Another method of a known route: the router answers 405 and nothing runs.
        None if gate.rules.paths.contains(path.as_str()) => return Ok(req),
        None => {
            tracing::error!(%method, path = path.as_str(), "a route without an access rule was refused");
            return Err((
                ApiError::Forbidden("this route has no access rule".into()),
                None,
            ));
        }
    };
    if !is_safe(&method) && cross_site(req.headers()) {
        return Err((ApiError::CrossSite, None));
    }
    let lookup = find_caller(gate, &req);
    let caller = lookup.await.map_err(|e| (e, None))?;
    match authorize(access, gate.config.anonymous_read, &method, &caller, req).await {
        Ok(mut req) => {
            req.extensions_mut().insert(caller);
            Ok(req)
        }
        Err(e) => Err((e, Some(caller))),
    }
}

/// Whether `caller` may make this request by the route's `access` rule, its key's scope and
/// its CSRF token.
async fn authorize(
    access: Access,
    anonymous_read: bool,
    method: &Method,
    caller: &Caller,
    req: Request,
) -> Result<Request, ApiError> {
    let role = caller.user.as_ref().map(|u| u.role);
    match (access, role) {
        (Access::Public, _) => {}
        (Access::Read, None) if anonymous_read && is_safe(method) => {}
        (_, None) => return Err(ApiError::SignInRequired),
        (Access::Read | Access::Own, Some(_)) => {}
        (Access::Edit, Some(r)) if r >= Role::Editor => {}
        (Access::Admin, Some(Role::Admin)) => {}
        (Access::Edit, Some(_)) => {
            return Err(ApiError::Forbidden(
                "this needs an editor or an admin".into(),
            ));
        }
        (Access::Admin, Some(_)) => return Err(ApiError::Forbidden("this needs an admin".into())),
    }
    let mut req = req;
    if !is_safe(method) {
        match &caller.via {
            Via::Key {
                scope: KeyScope::Read,
                ..
            } => {
                return Err(ApiError::Forbidden("this API key may only read".into()));
            }
            Via::Session { csrf, .. } => {
                let header = req
                    .headers()
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let presented = match header {
                    Some(h) => Some(h),
                    None => {
                        let (r, field) = form_csrf(req).await?;
                        req = r;
                        field
                    }
                };
                if !presented.is_some_and(|p| equal_in_constant_time(p.as_bytes(), csrf.as_bytes()))
                {
                    return Err(ApiError::CsrfRejected);
                }
            }
            _ => {}
        }
    }
    Ok(req)
}

/// Adds the security headers (every response gets them; see `front` in the crate root).
pub fn add_security_headers(h: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        if !h.contains_key(name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(
        h,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    );
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
}

// ---- Sessions -----------------------------------------------------------------------------------

/// Starts a session for a user: answers the `Set-Cookie` value and the session's CSRF token.
pub fn start_session(
    db: &db::Db,
    user: i64,
    config: &AuthConfig,
    https: bool,
) -> Result<(HeaderValue, String), ApiError> {
    let token = random_token()?;
    let csrf = random_token()?;
    db.accounts()
        .create_session(&secret_hash(&token), user, &csrf)?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        config.session_idle.as_secs(),
        if https { "; Secure" } else { "" }
    );
    let value = HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok((value, csrf))
}

/// Ends the caller's session on the server, if they came with one.
pub async fn end_session(db: &Arc<db::Db>, caller: &Caller) -> Result<(), ApiError> {
    if let Via::Session { token_hash, .. } = caller.via {
        let db = db.clone();
        crate::blocking(move || Ok(db.accounts().delete_session(&token_hash)?)).await?;
    }
    Ok(())
}

/// Checks the current password and sets a new one, which ends every session of the account;
/// a caller who came with a session gets a new one (its cookie and CSRF token).
pub fn change_password(
    db: &db::Db,
    caller: &Caller,
    current: &str,
    new: &str,
    config: &AuthConfig,
) -> Result<Option<(HeaderValue, String)>, ApiError> {
    let user = caller.user()?;
    if !verify_password(current, &user.password_hash) {
        return Err(ApiError::WrongCredentials);
    }
    let hash = hash_password(new).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    db.accounts().set_password(&user.name, &hash)?;
    match caller.via {
        Via::Session { .. } => Ok(Some(start_session(db, user.id, config, caller.https)?)),
        _ => Ok(None),
    }
}

/// A `Set-Cookie` value that removes the session cookie.
pub fn end_session_cookie() -> HeaderValue {
    HeaderValue::from_static("lp_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%4"), "%4");
    }

    #[test]
    fn passwords() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
    }
}
