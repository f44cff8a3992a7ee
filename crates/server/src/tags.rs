//! Tags over HTTP: every tag with its count, renaming and merging, siblings (aliases) and parents.
//! What the tag tools page does, for programs.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use db::TagName;

use library::ops::tags;

use crate::error::ApiError;
use crate::extract::Query;
use crate::json::JsonBody;
use crate::views::{Renamed, TagCount, TagCounts, TagRelations};
use crate::{AppState, blocking};

/// Most tags one page may ask for.
const MAX_TAGS: usize = 1000;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagListParams {
    /// Only tags whose `namespace:name` contains this (case-insensitive).
    #[serde(default)]
    q: String,
    #[serde(default)]
    offset: usize,
    /// At most 1000; 100 when not given.
    limit: Option<usize>,
}

/// Every tag with how many galleries (outside the trash) carry it, by namespace and name.
#[utoipa::path(get, path = "/api/v1/tags", tag = "tags", params(TagListParams),
    responses((status = 200, description = "One page of tags", body = TagCounts)),
    security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn list(
    State(state): State<AppState>,
    Query(p): Query<TagListParams>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let limit = p.limit.unwrap_or(100).min(MAX_TAGS);
    let (total, page) = blocking(move || Ok(tags::counts(&db, &p.q, p.offset, limit)?)).await?;
    let tags = page
        .into_iter()
        .map(|(t, n)| TagCount {
            tag: t.to_string(),
            galleries: n,
        })
        .collect();
    Ok(Json(TagCounts { total, tags }).into_response())
}

/// Every sibling (alias → canonical tag) and parent (child → parent) relation.
#[utoipa::path(get, path = "/api/v1/tags/relations", tag = "tags",
    responses((status = 200, description = "The relations", body = TagRelations)),
    security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn relations(State(state): State<AppState>) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let (siblings, parents) = blocking(move || Ok(tags::relations(&db)?)).await?;
    let pairs = |v: Vec<(TagName, TagName)>| -> Vec<[String; 2]> {
        v.into_iter()
            .map(|(a, b)| [a.to_string(), b.to_string()])
            .collect()
    };
    Ok(Json(TagRelations {
        siblings: pairs(siblings),
        parents: pairs(parents),
    })
    .into_response())
}

/// Two tags, `namespace:name` each.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct TagPair {
    /// The tag acted on.
    tag: String,
    /// The other: the new name, the canonical tag, or the parent.
    other: String,
}

fn parse_pair(p: &TagPair) -> Result<(TagName, TagName), ApiError> {
    Ok((TagName::parse(&p.tag)?, TagName::parse(&p.other)?))
}

/// Renames `tag` to `other` on every gallery; when `other` exists already, the two are merged.
#[utoipa::path(post, path = "/api/v1/tags/rename", tag = "tags", request_body = TagPair,
    responses(
        (status = 200, description = "Renamed", body = Renamed),
        (status = 404, description = "`tag-not-found`: no tag by that name", body = crate::api_doc::ErrorBody),
    ),
    security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn rename(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TagPair>,
) -> Result<Response, ApiError> {
    let (from, to) = parse_pair(&body)?;
    let db = state.db.clone();
    let galleries = blocking(move || Ok(tags::rename(&db, &from, &to)?)).await?;
    Ok(Json(Renamed { galleries }).into_response())
}

/// Makes `tag` an alias of `other`: searching it finds `other`'s galleries.
#[utoipa::path(put, path = "/api/v1/tags/siblings", tag = "tags", request_body = TagPair,
    responses((status = 204, description = "Set")),
    security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn set_sibling(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TagPair>,
) -> Result<Response, ApiError> {
    let (alias, canonical) = parse_pair(&body)?;
    let db = state.db.clone();
    blocking(move || Ok(tags::set_sibling(&db, &alias, &canonical)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OneTag {
    /// `namespace:name`.
    tag: String,
}

/// Makes `tag` a tag of its own again.
#[utoipa::path(delete, path = "/api/v1/tags/siblings", tag = "tags", params(OneTag),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`tag-not-found`: the tag is no alias", body = crate::api_doc::ErrorBody),
    ),
    security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn remove_sibling(
    State(state): State<AppState>,
    Query(p): Query<OneTag>,
) -> Result<Response, ApiError> {
    let alias = TagName::parse(&p.tag)?;
    let db = state.db.clone();
    blocking(move || Ok(tags::remove_sibling(&db, &alias)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes `other` a parent of `tag`: searching the parent finds the child's galleries too.
#[utoipa::path(put, path = "/api/v1/tags/parents", tag = "tags", request_body = TagPair,
    responses((status = 204, description = "Set")),
    security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn add_parent(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<TagPair>,
) -> Result<Response, ApiError> {
    let (child, parent) = parse_pair(&body)?;
    let db = state.db.clone();
    blocking(move || Ok(tags::add_parent(&db, &child, &parent)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ParentPair {
    /// The child, `namespace:name`.
    tag: String,
    /// The parent, `namespace:name`.
    parent: String,
}

/// Removes one parent of a tag.
#[utoipa::path(delete, path = "/api/v1/tags/parents", tag = "tags", params(ParentPair),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "`tag-not-found`: no such parent", body = crate::api_doc::ErrorBody),
    ),
    security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn remove_parent(
    State(state): State<AppState>,
    Query(p): Query<ParentPair>,
) -> Result<Response, ApiError> {
    let (child, parent) = (TagName::parse(&p.tag)?, TagName::parse(&p.parent)?);
    let db = state.db.clone();
    blocking(move || Ok(tags::remove_parent(&db, &child, &parent)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
