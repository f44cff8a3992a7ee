//! Search and tag suggestions over HTTP, answered by the shared [`search::Live`] index.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;

/// Most galleries one page of results may ask for.
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, serde::Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: usize,
    limit: Option<usize>,
}

fn from_search(e: search::SearchError) -> ApiError {
    match e {
        search::SearchError::Parse(p) => ApiError::BadQuery {
            message: p.message,
            position: p.position,
        },
        search::SearchError::Db(e) => ApiError::Internal(Box::new(e)),
    }
}

/// `GET /api/v1/search?q=…&offset=0&limit=50`: one page of the galleries a query matches, in its
/// order, with how many match in all.
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Some(live) = state.search.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let db = state.db.clone();
    let limit = params.limit.unwrap_or(50).min(MAX_LIMIT);
    let viewer = caller.asker();
    let (total, galleries) = tokio::task::spawn_blocking(move || {
        let found = live
            .search(&params.q, viewer, params.offset, limit)
            .map_err(from_search)?;
        let galleries: Vec<crate::views::GallerySummaryView> = db
            .galleries()
            .summaries(&found.ids)
            .map_err(|e| ApiError::Internal(Box::new(e)))?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok::<_, ApiError>((found.total, galleries))
    })
    .await??;
    Ok(Json(serde_json::json!({
        "total": total,
        "offset": params.offset,
        "galleries": galleries,
    }))
    .into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct SuggestParams {
    #[serde(default)]
    q: String,
    limit: Option<usize>,
}

/// `GET /api/v1/tags/suggest?q=fem`: tags for what is being typed, most used first.
pub async fn suggest(
    State(state): State<AppState>,
    params: Result<Query<SuggestParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Some(live) = state.search.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let limit = params.limit.unwrap_or(10).min(100);
    let found = tokio::task::spawn_blocking(move || live.suggest(&params.q, limit))
        .await?
        .map_err(from_search)?;
    let tags: Vec<serde_json::Value> = found
        .into_iter()
        .map(|s| {
            serde_json::json!({
                "tag": s.tag.to_string(),
                "galleries": s.galleries,
                "via_alias": s.via_alias.map(|a| a.to_string()),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "tags": tags })).into_response())
}
