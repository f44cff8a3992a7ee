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
use library::ops::accounts;

use crate::AppState;
use crate::error::ApiError;

mod request;
mod sessions;

pub use library::ops::accounts::{
    MIN_PASSWORD, hash_password, new_api_key, random_token, secret_hash, sign_in, verify_password,
};
use request::*;
pub use sessions::*;

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
        let found = crate::blocking(move || Ok(accounts::key(&db, &hash)?)).await?;
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
        let session = crate::blocking(move || Ok(accounts::session(&db, &hash, idle)?)).await?;
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
            Ok::<_, library::ops::Error>((
                accounts::has_admin(&db)?,
                accounts::users(&db)?.is_empty(),
            ))
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
}
