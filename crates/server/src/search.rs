//! Search and tag suggestions over HTTP, answered by the shared [`search::Live`] index.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, blocking};
use library::ops::browse;

/// Most galleries one page of results may ask for.
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// A query in the search language (`/help/search`): tags, title words, `OR`, `-`, ranges,
    /// `sort:`. Empty: every gallery.
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: usize,
    /// At most 500; 50 when not given.
    limit: Option<usize>,
}

/// One page of the galleries a query matches, in its order, with how many match in all.
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchParams),
    responses(
        (status = 200, description = "One page of results", body = crate::views::SearchResults),
        (status = 400, description = "`bad-query`: the query cannot be read; `position` says where", body = crate::api_doc::ErrorBody),
    ),
    security(("apiKey" = ["read"]), ("session" = ["read"])))]
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
    let offset = params.offset;
    let found = blocking(move || {
        Ok(browse::search(
            &live,
            &db,
            &params.q,
            viewer,
            params.offset,
            limit,
        )?)
    })
    .await?;
    let total = found.total;
    let galleries = found.galleries.into_iter().map(Into::into).collect();
    Ok(Json(crate::views::SearchResults {
        total,
        offset,
        galleries,
    })
    .into_response())
}

/// The galleries of the library, listed as a search: the same query language, sort, paging and
/// total as `GET /api/v1/search`.
#[utoipa::path(get, path = "/api/v1/galleries", tag = "galleries", params(SearchParams),
    responses(
        (status = 200, description = "One page of galleries", body = crate::views::SearchResults),
        (status = 400, description = "`bad-query`: the query cannot be read; `position` says where", body = crate::api_doc::ErrorBody),
    ),
    security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn list(
    state: State<AppState>,
    caller: Caller,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    search(state, caller, params).await
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestParams {
    /// What is being typed: `fem`, `female:bl`, `artist:`.
    #[serde(default)]
    q: String,
    /// At most 100; 10 when not given.
    limit: Option<usize>,
}

/// Tags for what is being typed, most used first.
#[utoipa::path(get, path = "/api/v1/tags/suggest", tag = "tags", params(SuggestParams),
    responses((status = 200, description = "Suggestions", body = crate::views::Suggestions)),
    security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn suggest(
    State(state): State<AppState>,
    params: Result<Query<SuggestParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Some(live) = state.search.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let limit = params.limit.unwrap_or(10).min(100);
    let found = blocking(move || Ok(browse::suggest(&live, &params.q, limit)?)).await?;
    let tags = found
        .into_iter()
        .map(|s| crate::views::Suggestion {
            tag: s.tag.to_string(),
            galleries: s.galleries,
            via_alias: s.via_alias.map(|a| a.to_string()),
        })
        .collect();
    Ok(Json(crate::views::Suggestions { tags }).into_response())
}
