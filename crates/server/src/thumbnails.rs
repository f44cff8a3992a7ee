//! `GET /api/v1/thumbnails/{hash}`: the thumbnail of a page image, made on demand when the
//! background job has not reached it yet. Answers with a redirect to the thumbnail's own
//! content-addressed URL under `/api/v1/blobs/`, which is cached forever; the redirect itself is
//! not (a thumbnail can be made again at another size).

use axum::extract::State;

use crate::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lpfs::BlobHash;

use crate::AppState;
use crate::error::ApiError;
use library::ops::browse;

/// The thumbnail of a page image: a redirect to the thumbnail's own blob, made now if the
/// background work has not reached it.
#[utoipa::path(get, path = "/api/v1/thumbnails/{hash}", tag = "store", params(("hash" = String, Path, description = "The blob's BLAKE3 hash, 64 hex digits")), responses((status = 307, description = "To `/api/v1/blobs/{thumbnail}`"), (status = 404, description = "`blob-not-found`, or `thumbnail-unavailable` (an image this server cannot decode)", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn get_thumbnail(
    State(state): State<AppState>,
    Path(hash): Path<String>,
) -> Result<Response, ApiError> {
    let image: BlobHash = hash.parse()?;
    let Some(importer) = state.importer.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let db = state.db.clone();
    let thumbnail = crate::blocking(move || Ok(browse::thumbnail(&db, &importer, &image)?)).await?;
    let mut response = StatusCode::TEMPORARY_REDIRECT.into_response();
    let headers = response.headers_mut();
    let location = HeaderValue::from_str(&format!("/api/v1/blobs/{thumbnail}"))
        .map_err(|e| ApiError::Internal(e.into()))?;
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}
