//! The blob API: `PUT /api/v1/blobs`, `GET`/`HEAD /api/v1/blobs/{hash}`.
//!
//! Blobs are immutable and named by their content, so every response can be cached forever and
//! the hash is a perfect strong `ETag`.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};

use crate::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use lpfs::{BlobHash, BlobStore};

use crate::AppState;
use crate::error::ApiError;
use crate::range::{self, RangeRequest};
use library::format as sniff;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A request body, with the body-limit and read errors reported in the API's error shape.
#[derive(Debug)]
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0);
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(Self(b)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge {
                    limit: limit.unwrap_or(0),
                })
            }
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// The configured body limit, carried to [`RawBody`] for its error message.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Stores the body, answers `{"hash", "size", "created"}`; 201 when new.
#[utoipa::path(put, path = "/api/v1/blobs", tag = "store", request_body(content = Option<crate::api_doc::Binary>, content_type = "application/octet-stream", description = "The blob (it may be empty)"), responses((status = 200, description = "Stored already", body = crate::views::Stored), (status = 201, description = "Stored", body = crate::views::Stored)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn put_blob(
    State(state): State<AppState>,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    let store = state.blobs.clone();
    let outcome = tokio::task::spawn_blocking(move || store.put(&body)).await??;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = crate::views::Stored {
        hash: outcome.hash,
        size: outcome.len,
        created: outcome.created,
    };
    Ok((status, Json(body)).into_response())
}

fn etag_of(hash: &BlobHash) -> String {
    format!("\"{hash}\"")
}

/// Whether an `If-None-Match` value matches our strong ETag (weak comparison, as RFC 9110 asks).
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
        })
}

/// Whether a `Range` should be honoured given `If-Range` (only when it names our ETag).
fn if_range_allows(headers: &HeaderMap, etag: &str) -> bool {
    match headers.get(header::IF_RANGE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(v) => v.trim() == etag,
    }
}

fn base_headers(response: &mut Response, etag: &str) {
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
}

/// What a GET or HEAD will send.
enum Plan {
    NotModified,
    Whole,
    Part { start: u64, end: u64 },
}

fn plan(headers: &HeaderMap, etag: &str, len: u64) -> Result<Plan, ApiError> {
    if none_match(headers, etag) {
        return Ok(Plan::NotModified);
    }
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(Plan::Whole);
    };
    if !if_range_allows(headers, etag) {
        return Ok(Plan::Whole);
    }
    match range::parse(value, len) {
        RangeRequest::Full => Ok(Plan::Whole),
        RangeRequest::Partial { start, end } => Ok(Plan::Part { start, end }),
        RangeRequest::Unsatisfiable => Err(ApiError::RangeNotSatisfiable { len }),
    }
}

fn respond(plan: &Plan, etag: &str, len: u64, content_type: &str, body: Body) -> Response {
    let mut response = match plan {
        Plan::NotModified => StatusCode::NOT_MODIFIED.into_response(),
        Plan::Whole => (StatusCode::OK, body).into_response(),
        Plan::Part { .. } => (StatusCode::PARTIAL_CONTENT, body).into_response(),
    };
    base_headers(&mut response, etag);
    if matches!(plan, Plan::NotModified) {
        return response;
    }
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let (start, end) = match plan {
        Plan::Part { start, end } => (*start, *end),
        _ => (0, len),
    };
    if let Plan::Part { .. } = plan
        && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1))
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    response
}

/// A blob, byte for byte, by its hash (ranges and `If-None-Match` honoured).
#[utoipa::path(get, path = "/api/v1/blobs/{hash}", tag = "store", params(("hash" = String, Path, description = "The blob's BLAKE3 hash, 64 hex digits")), responses((status = 200, description = "The blob, byte for byte (its type sniffed)", content_type = "*/*", body = crate::api_doc::Binary), (status = 206, description = "The range asked for", content_type = "*/*", body = crate::api_doc::Binary), (status = 304, description = "Not modified (`If-None-Match`)"), (status = 404, description = "`blob-not-found`", body = crate::api_doc::ErrorBody), (status = 416, description = "`range-not-satisfiable`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn get_blob(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    // The request's headers are read where they are, not copied.
    let headers = request.headers();
    let hash: BlobHash = hash.parse()?;
    let store: Arc<dyn BlobStore> = state.blobs.clone();
    let etag = etag_of(&hash);
    // Conditional requests need no read at all.
    if none_match(headers, &etag) {
        store.stat(&hash)?.ok_or(ApiError::BlobNotFound)?;
        return Ok(respond(&Plan::NotModified, &etag, 0, "", Body::empty()));
    }
    // Served straight from memory when it is there (most page views); otherwise read on a
    // blocking thread.
    let resident = match &state.lpfs {
        Some(lpfs) => lpfs.get_resident(&hash)?,
        None => None,
    };
    let data = match resident {
        Some(d) => d,
        None => tokio::task::spawn_blocking(move || store.get(&hash))
            .await??
            .ok_or(ApiError::BlobNotFound)?,
    };
    let len = data.len() as u64;
    let plan = plan(headers, &etag, len)?;
    let content_type = sniff::content_type(&data[..data.len().min(sniff::SNIFF_LEN)]);
    let mut bytes = data;
    if let Plan::Part { start, end } = plan {
        bytes = bytes.slice(start as usize..end as usize);
    }
    Ok(respond(&plan, &etag, len, content_type, Body::from(bytes)))
}

/// The GET's headers, reading only the blob's first bytes.
#[utoipa::path(head, path = "/api/v1/blobs/{hash}", tag = "store", params(("hash" = String, Path, description = "The blob's BLAKE3 hash, 64 hex digits")), responses((status = 200, description = "The GET's headers"), (status = 206, description = "The GET's headers for the range"), (status = 304, description = "Not modified"), (status = 404, description = "No such blob"), (status = 416, description = "The range is outside the blob")), security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn head_blob(
    State(state): State<AppState>,
    Path(hash): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let hash: BlobHash = hash.parse()?;
    let store = state.blobs.clone();
    let etag = etag_of(&hash);
    let head = tokio::task::spawn_blocking(move || -> Result<Option<(u64, Bytes)>, lpfs::Error> {
        let Some(len) = store.stat(&hash)? else {
            return Ok(None);
        };
        let head = store
            .get_range(&hash, 0..len.min(sniff::SNIFF_LEN as u64))?
            .unwrap_or_default();
        Ok(Some((len, head)))
    })
    .await??;
    let (len, head) = head.ok_or(ApiError::BlobNotFound)?;
    let plan = plan(&headers, &etag, len)?;
    Ok(respond(
        &plan,
        &etag,
        len,
        sniff::content_type(&head),
        Body::empty(),
    ))
}
