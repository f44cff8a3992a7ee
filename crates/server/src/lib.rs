//! LittlePanda's HTTP server: the axum application and its JSON API.
//!
//! [`router`] builds the whole application from an [`AppState`]; [`serve`] runs it on a listener
//! until shutdown. Handlers are thin: they parse, call the store, and map errors in one place
//! ([`error::ApiError`]).

pub mod blobs;
pub mod error;
pub mod range;
pub mod search;
pub mod thumbnails;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use lpfs::BlobStore;

use crate::error::{ApiError, ErrorDetail};

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub blobs: Arc<dyn BlobStore>,
    /// The store's own statistics, when the blob store is a local LPFS store.
    pub lpfs: Option<Arc<lpfs::Store>>,
    /// The metadata database.
    pub db: Option<Arc<db::Db>>,
    /// Makes thumbnails on demand (and, later, imports uploads).
    pub importer: Option<Arc<library::import::Importer>>,
    /// The search index, kept current from the database's change feed.
    pub search: Option<Arc<::search::Live>>,
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest request body accepted (a blob upload).
    pub max_upload_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_upload_bytes: 256 << 20,
        }
    }
}

/// The whole application.
pub fn router(state: AppState, config: &ServerConfig) -> Router {
    let limit = config.max_upload_bytes;
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/store/stats", get(store_stats))
        .route("/api/v1/store/compact", post(store_compact))
        .route("/api/v1/blobs", put(blobs::put_blob))
        .route(
            "/api/v1/blobs/{hash}",
            get(blobs::get_blob).head(blobs::head_blob),
        )
        .route("/api/v1/thumbnails/{hash}", get(thumbnails::get_thumbnail))
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/tags/suggest", get(search::suggest))
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(
            move |mut req: Request, next: Next| async move {
                req.extensions_mut().insert(blobs::BodyLimit(limit));
                next.run(req).await
            },
        ))
        .layer(middleware::from_fn(log_errors))
        .with_state(state)
}

async fn health() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn store_stats(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(store) = state.lpfs.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let stats = tokio::task::spawn_blocking(move || store.stats()).await?;
    Ok(Json(stats).into_response())
}

#[derive(Debug, serde::Deserialize)]
struct CompactParams {
    /// Compact volumes with at least this share of garbage.
    threshold: Option<f64>,
}

/// `POST /api/v1/store/compact?threshold=0.2`: online compaction; answers with its report.
async fn store_compact(
    State(state): State<AppState>,
    params: Result<Query<CompactParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Some(store) = state.lpfs.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let threshold = params.threshold.unwrap_or(0.2);
    if !(0.0..=1.0).contains(&threshold) {
        return Err(ApiError::BadRequest(format!(
            "threshold is a share between 0.0 and 1.0, got {threshold}"
        )));
    }
    let report = tokio::task::spawn_blocking(move || store.compact(threshold)).await??;
    Ok(Json(report).into_response())
}

/// Logs each server error once, with its cause, which the client never sees.
async fn log_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    if response.status().is_server_error() {
        let detail = response
            .extensions()
            .get::<ErrorDetail>()
            .map_or("", |d| d.0.as_str());
        tracing::error!(%method, %path, status = %response.status(), "{detail}");
    }
    response
}

/// Serves `app` on `listener` until `shutdown` completes, then drains connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
