//! LittlePanda's HTTP server: the axum application and its JSON API.
//!
//! [`router`] builds the whole application from an [`AppState`]; [`serve`] runs it on a listener
//! until shutdown. Handlers are thin: they parse, call the store, and map errors in one place
//! ([`error::ApiError`]).

pub mod accounts;
pub mod api_doc;
pub mod auth;
pub mod blobs;
pub mod error;
pub mod extract;
pub mod galleries;
pub mod html;
pub mod jobs;
pub mod json;
pub mod pages;
pub mod range;
pub mod search;
pub mod serve;
pub mod tags;
pub mod thumbnails;
pub mod views;
pub mod web;
pub mod zero_copy;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, head, patch, post, put};
use lpfs::BlobStore;

use crate::auth::{Access, AuthConfig, Gate, Rules};
use crate::error::{ApiError, ErrorDetail};
pub use crate::serve::{ConnectionLimits, raise_open_file_limit, serve_with};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub blobs: Arc<dyn BlobStore>,
    /// The store's own statistics, when the blob store is a local LPFS store.
    pub lpfs: Option<Arc<lpfs::Store>>,
    /// The metadata database.
    pub db: Arc<db::Db>,
    /// Imports uploads and server paths, and makes thumbnails on demand.
    pub importer: Option<Arc<library::import::Importer>>,
    /// The search index, kept current from the database's change feed.
    pub search: Option<Arc<::search::Live>>,
    /// Authentication settings.
    pub auth: Arc<AuthConfig>,
    /// Where uploads are staged while they arrive (on the same disk as the library).
    pub upload_dir: Option<Arc<std::path::Path>>,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// Folders below which admins may import from the server's own disk.
    pub import_roots: Arc<Vec<PathBuf>>,
    /// Where import jobs tell their progress.
    pub jobs: Arc<jobs::JobHub>,
}

impl AppState {
    /// A state with the defaults for everything but the store and the database.
    pub fn new(blobs: Arc<dyn BlobStore>, db: Arc<db::Db>) -> Self {
        Self {
            blobs,
            lpfs: None,
            db,
            importer: None,
            search: None,
            auth: Arc::new(AuthConfig::default()),
            upload_dir: None,
            max_upload_bytes: 4 << 30,
            import_roots: Arc::new(Vec::new()),
            jobs: Arc::default(),
        }
    }
}

/// Runs database or store work on a blocking thread.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await?
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted by routes that take the body whole (a blob upload).
    pub max_upload_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 256 << 20,
        }
    }
}

/// One route: method, path, who may use it, and its handler.
struct Route {
    method: Method,
    path: &'static str,
    access: Access,
    handler: MethodRouter<AppState>,
}

fn r(method: Method, path: &'static str, access: Access, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        access,
        handler,
    }
}

/// Every route the application has. The router is built from this list and nothing else, so
/// each route carries an access rule by construction.
fn routes() -> Vec<Route> {
    use Access::{Admin, Edit, Own, Public, Read};
    use Method as M;
    vec![
        r(M::GET, "/api/v1/health", Public, get(health)),
        r(M::GET, "/api/v1/openapi.json", Public, get(openapi_json)),
        r(M::GET, "/api/docs", Public, get(api_doc::docs_root)),
        r(M::GET, "/api/docs/", Public, get(api_doc::docs)),
        r(M::GET, "/api/docs/{*file}", Public, get(api_doc::docs)),
        r(M::GET, "/api/v1/session", Public, get(accounts::session)),
        r(M::POST, "/api/v1/login", Public, post(accounts::login)),
        r(M::POST, "/api/v1/logout", Public, post(accounts::logout)),
        r(M::POST, "/api/v1/setup", Public, post(accounts::setup)),
        r(M::GET, "/setup", Public, get(pages::setup_page)),
        r(M::GET, "/login", Public, get(web::login_page)),
        r(M::POST, "/login", Public, post(web::login_submit)),
        r(M::POST, "/logout", Public, post(web::logout_submit)),
        r(M::GET, "/assets/{name}", Public, get(web::asset)),
        r(M::GET, "/", Read, get(web::grid)),
        r(M::GET, "/help/search", Read, get(web::search_help)),
        r(M::GET, "/random", Read, get(web::random)),
        r(M::GET, "/collections", Own, get(web::collections_page)),
        r(M::POST, "/collections", Own, post(web::collections_submit)),
        r(M::GET, "/favicon.ico", Public, get(web::favicon)),
        r(M::GET, "/g/{id}", Read, get(web::gallery)),
        r(M::GET, "/g/{id}/read", Read, get(web::reader)),
        r(M::POST, "/g/{id}/tags", Edit, post(web::tags_submit)),
        r(M::POST, "/g/{id}/favorite", Own, post(web::favorite_submit)),
        r(M::POST, "/g/{id}/collect", Own, post(web::collect_submit)),
        r(M::GET, "/account", Own, get(web::account)),
        r(M::POST, "/account/keys", Own, post(web::key_submit)),
        r(
            M::POST,
            "/account/keys/{id}/revoke",
            Own,
            post(web::key_revoke),
        ),
        r(
            M::POST,
            "/account/password",
            Own,
            post(web::password_submit),
        ),
        r(M::POST, "/g/{id}/trash", Edit, post(web::trash_submit)),
        r(M::POST, "/g/{id}/restore", Edit, post(web::restore_submit)),
        r(M::POST, "/g/{id}/title", Edit, post(web::title_submit)),
        r(M::GET, "/manage", Edit, get(web::manage)),
        r(M::POST, "/batch/tags", Edit, post(web::batch_tags)),
        r(M::POST, "/batch/trash", Edit, post(web::batch_trash)),
        r(M::POST, "/batch/collect", Own, post(web::batch_collect)),
        r(M::POST, "/manage/import", Admin, post(web::import_submit)),
        r(M::GET, "/manage/trash", Edit, get(web::trash)),
        r(M::GET, "/manage/tags", Edit, get(web::tag_tools)),
        r(M::POST, "/manage/tags", Edit, post(web::tag_tools_submit)),
        r(M::GET, "/manage/storage", Admin, get(web::storage)),
        r(M::POST, "/manage/compact", Admin, post(web::compact_submit)),
        r(M::GET, "/manage/users", Admin, get(web::users)),
        r(M::POST, "/manage/users", Admin, post(web::users_submit)),
        r(M::GET, "/sw.js", Public, get(web::service_worker)),
        r(M::GET, "/manifest.webmanifest", Public, get(web::manifest)),
        r(M::POST, "/g/{id}/order", Edit, post(web::order_submit)),
        r(M::GET, "/g/{id}/cover", Edit, get(web::crop_page)),
        r(M::POST, "/g/{id}/cover", Edit, post(web::cover_submit)),
        r(M::POST, "/g/{id}/purge", Admin, post(web::purge_submit)),
        r(M::POST, "/setup", Public, post(pages::setup_submit)),
        r(M::GET, "/api/v1/account", Own, get(accounts::account)),
        r(
            M::POST,
            "/api/v1/account/password",
            Own,
            post(accounts::change_password),
        ),
        r(M::GET, "/api/v1/account/keys", Own, get(accounts::keys)),
        r(
            M::POST,
            "/api/v1/account/keys",
            Own,
            post(accounts::create_key),
        ),
        r(
            M::DELETE,
            "/api/v1/account/keys/{id}",
            Own,
            delete(accounts::revoke_key),
        ),
        r(M::GET, "/api/v1/users", Admin, get(accounts::users)),
        r(M::POST, "/api/v1/users", Admin, post(accounts::create_user)),
        r(
            M::PUT,
            "/api/v1/users/{name}/role",
            Admin,
            put(accounts::set_role),
        ),
        r(
            M::PUT,
            "/api/v1/users/{name}/password",
            Admin,
            put(accounts::reset_password),
        ),
        r(
            M::DELETE,
            "/api/v1/users/{name}",
            Admin,
            delete(accounts::remove_user),
        ),
        r(M::GET, "/api/v1/store/stats", Admin, get(store_stats)),
        r(M::POST, "/api/v1/store/compact", Admin, post(store_compact)),
        r(M::PUT, "/api/v1/blobs", Edit, put(blobs::put_blob)),
        r(M::GET, "/api/v1/blobs/{hash}", Read, get(blobs::get_blob)),
        r(
            M::HEAD,
            "/api/v1/blobs/{hash}",
            Read,
            head(blobs::head_blob),
        ),
        r(
            M::GET,
            "/api/v1/thumbnails/{hash}",
            Read,
            get(thumbnails::get_thumbnail),
        ),
        r(M::GET, "/api/v1/search", Read, get(search::search)),
        r(M::GET, "/api/v1/galleries", Read, get(search::list)),
        r(M::GET, "/api/v1/tags/suggest", Read, get(search::suggest)),
        r(M::GET, "/api/v1/tags", Read, get(tags::list)),
        r(M::GET, "/api/v1/tags/relations", Read, get(tags::relations)),
        r(M::POST, "/api/v1/tags/rename", Edit, post(tags::rename)),
        r(
            M::PUT,
            "/api/v1/tags/siblings",
            Edit,
            put(tags::set_sibling),
        ),
        r(
            M::DELETE,
            "/api/v1/tags/siblings",
            Edit,
            delete(tags::remove_sibling),
        ),
        r(M::PUT, "/api/v1/tags/parents", Edit, put(tags::add_parent)),
        r(
            M::DELETE,
            "/api/v1/tags/parents",
            Edit,
            delete(tags::remove_parent),
        ),
        r(
            M::GET,
            "/api/v1/galleries/{id}",
            Read,
            get(galleries::gallery),
        ),
        r(
            M::PATCH,
            "/api/v1/galleries/{id}",
            Edit,
            patch(galleries::edit),
        ),
        r(
            M::DELETE,
            "/api/v1/galleries/{id}",
            Admin,
            delete(galleries::purge),
        ),
        r(
            M::GET,
            "/api/v1/galleries/{id}/pages",
            Read,
            get(galleries::pages),
        ),
        r(
            M::GET,
            "/api/v1/galleries/{id}/cbz",
            Read,
            get(galleries::download),
        ),
        r(
            M::PUT,
            "/api/v1/galleries/{id}/order",
            Edit,
            put(galleries::reorder),
        ),
        r(
            M::PUT,
            "/api/v1/galleries/{id}/cover",
            Edit,
            put(galleries::cover),
        ),
        r(
            M::PUT,
            "/api/v1/galleries/{id}/tags",
            Edit,
            put(galleries::edit_tags),
        ),
        r(
            M::POST,
            "/api/v1/galleries/{id}/trash",
            Edit,
            post(galleries::trash),
        ),
        r(
            M::POST,
            "/api/v1/galleries/{id}/restore",
            Edit,
            post(galleries::restore),
        ),
        r(
            M::GET,
            "/api/v1/galleries/{id}/progress",
            Own,
            get(accounts::progress),
        ),
        r(
            M::PUT,
            "/api/v1/galleries/{id}/progress",
            Own,
            put(accounts::set_progress),
        ),
        r(
            M::DELETE,
            "/api/v1/galleries/{id}/progress",
            Own,
            delete(accounts::clear_progress),
        ),
        r(
            M::PUT,
            "/api/v1/galleries/{id}/favorite",
            Own,
            put(accounts::add_favorite),
        ),
        r(
            M::DELETE,
            "/api/v1/galleries/{id}/favorite",
            Own,
            delete(accounts::remove_favorite),
        ),
        r(
            M::GET,
            "/api/v1/collections",
            Own,
            get(accounts::collections),
        ),
        r(
            M::POST,
            "/api/v1/collections",
            Own,
            post(accounts::create_collection),
        ),
        r(
            M::PATCH,
            "/api/v1/collections/{id}",
            Own,
            patch(accounts::rename_collection),
        ),
        r(
            M::DELETE,
            "/api/v1/collections/{id}",
            Own,
            delete(accounts::remove_collection),
        ),
        r(
            M::PUT,
            "/api/v1/collections/{id}/galleries/{gallery}",
            Own,
            put(accounts::add_to_collection),
        ),
        r(
            M::DELETE,
            "/api/v1/collections/{id}/galleries/{gallery}",
            Own,
            delete(accounts::remove_from_collection),
        ),
        r(M::POST, "/api/v1/uploads", Edit, post(galleries::upload)),
        r(M::GET, "/api/v1/jobs", Edit, get(jobs::list)),
        r(M::GET, "/api/v1/jobs/events", Edit, get(jobs::events)),
        r(M::GET, "/api/v1/jobs/{id}", Edit, get(jobs::job)),
        r(
            M::POST,
            "/api/v1/imports",
            Admin,
            post(galleries::import_server_path),
        ),
    ]
}

/// Every route's method, path and access rule (what the router is built from).
pub fn route_table() -> Vec<(Method, &'static str, Access)> {
    let mut rules = Rules::default();
    for route in routes() {
        rules.add(route.method, route.path, route.access);
    }
    rules.all()
}

/// The whole application.
pub fn router(state: AppState, config: &ServerConfig) -> Router {
    let limit = config.max_upload_bytes;
    let mut rules = Rules::default();
    let mut app: Router<AppState> = Router::new();
    for route in routes() {
        rules.add(route.method, route.path, route.access);
        app = app.route(route.path, route.handler);
    }
    let gate = Gate::new(state.clone(), rules);
    app.fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(Arc::new(gate), auth::guard))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            BodyLimits {
                body: limit,
                archive: state.max_upload_bytes,
            },
            front,
        ))
        .with_state(state)
}

/// Whether the server answers.
#[utoipa::path(get, path = "/api/v1/health", tag = "server",
    responses((status = 200, description = "It does", body = views::Health)))]
async fn health() -> impl IntoResponse {
    Json(views::Health {
        status: "ok".into(),
    })
}

/// This document: the native API as OpenAPI 3.1.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "server",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi_json() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )],
        api_doc::document(),
    )
        .into_response()
}

/// The store's sizes: volumes, live and garbage bytes, the index's memory.
#[utoipa::path(get, path = "/api/v1/store/stats", tag = "store",
    responses(
        (status = 200, description = "The statistics", body = views::StoreStats),
        (status = 404, description = "`route-not-found`: the blobs are not in a local store", body = api_doc::ErrorBody),
    ),
    security(("apiKey" = ["admin"]), ("session" = ["admin"])))]
async fn store_stats(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(store) = state.lpfs.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let stats = blocking(move || Ok(library::ops::store::stats(&store))).await?;
    Ok(Json(views::StoreStats::from(stats)).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CompactParams {
    /// Compact volumes with at least this share of garbage (0.0 to 1.0; 0.2 when not given).
    #[param(minimum = 0.0, maximum = 1.0)]
    threshold: Option<f64>,
}

/// Online compaction: volumes with enough garbage are rewritten without it, while reads and
/// writes go on.
#[utoipa::path(post, path = "/api/v1/store/compact", tag = "store", params(CompactParams),
    responses(
        (status = 200, description = "What was done", body = views::CompactionView),
        (status = 404, description = "`route-not-found`: the blobs are not in a local store", body = api_doc::ErrorBody),
    ),
    security(("apiKey" = ["admin"]), ("session" = ["admin"], "csrf" = [])))]
async fn store_compact(
    State(state): State<AppState>,
    params: Result<Query<CompactParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Some(store) = state.lpfs.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let report =
        blocking(move || Ok(library::ops::store::compact(&store, params.threshold)?)).await?;
    Ok(Json(views::CompactionView::from(report)).into_response())
}

/// What every request passes first, in one layer: the upload limit that handlers taking a body
/// read, the security headers on every response, and one log line per server error with its
/// cause, which the client never sees.
/// The largest bodies accepted: an archive upload's, and any other request's.
#[derive(Debug, Clone, Copy)]
struct BodyLimits {
    body: usize,
    archive: u64,
}

async fn front(State(limits): State<BodyLimits>, mut req: Request, next: Next) -> Response {
    // A body declared larger than allowed is refused before any of it is read.
    let allowed = if req.uri().path() == "/api/v1/uploads" {
        limits.archive
    } else {
        limits.body as u64
    };
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > allowed) {
        let mut response = ApiError::PayloadTooLarge {
            limit: usize::try_from(allowed).unwrap_or(usize::MAX),
        }
        .into_response();
        auth::add_security_headers(response.headers_mut());
        // The body is not read: the connection cannot be reused.
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return response;
    }
    let limit = limits.body;
    req.extensions_mut().insert(blobs::BodyLimit(limit));
    let method = req.method().clone();
    // A `Uri` clone shares its bytes: nothing is copied for the requests that go well.
    let uri = req.uri().clone();
    let mut response = next.run(req).await;
    auth::add_security_headers(response.headers_mut());
    if response.status().is_server_error() {
        let path = uri.path();
        let detail = response
            .extensions()
            .get::<ErrorDetail>()
            .map_or("", |d| d.0.as_str());
        tracing::error!(%method, %path, status = %response.status(), "{detail}");
    }
    response
}

/// Serves `app` on `listener` until `shutdown` completes, with the default
/// [`ConnectionLimits`]; see [`serve_with`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, app, ConnectionLimits::default(), shutdown).await
}

/// [`serve`] over HTTPS (rustls), with a PEM certificate chain and private key.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    app: Router,
    cert: &std::path::Path,
    key: &std::path::Path,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key).await?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    let limits = ConnectionLimits::default();
    let mut server = axum_server::from_tcp_rustls(listener, tls)?.handle(handle);
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    server
        .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    /// A route that reached a router without an access rule is refused to everyone, even admins.
    #[tokio::test]
    async fn a_route_without_a_rule_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            Arc::new(lpfs::Store::open(dir.path().join("s"), lpfs::Options::default()).unwrap());
        let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
        let admin = db
            .accounts()
            .create_user("root", "unused", db::Role::Admin)
            .unwrap();
        let (_, key) = auth::new_api_key(&db, admin.id, "t", db::KeyScope::ReadWrite).unwrap();
        let state = AppState::new(store, db);
        let mut rules = Rules::default();
        rules.add(Method::GET, "/ruled", Access::Public);
        let gate = Gate::new(state.clone(), rules);
        let app: Router = Router::new()
            .route("/ruled", get(|| async { "fine" }))
            .route("/forgotten", post(|| async { "should never run" }))
            .layer(middleware::from_fn_with_state(Arc::new(gate), auth::guard))
            .with_state(state);
        let send = |method: &str, uri: &str| {
            Request::builder()
                .method(method)
                .uri(uri)
                .header("authorization", format!("Bearer {key}"))
                .body(Body::empty())
                .unwrap()
        };
        let r = app.clone().oneshot(send("GET", "/ruled")).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = app
            .clone()
            .oneshot(send("POST", "/forgotten"))
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
}
