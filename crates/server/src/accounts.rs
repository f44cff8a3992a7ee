//! Signing in and out, first-run setup, the caller's own account (password, API keys), users (for
//! admins), and each user's own state: reading progress, favorites and collections.

use std::net::IpAddr;

use axum::Json;
use axum::extract::State;

use crate::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::{self, Caller, Via};
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::views::{
    CollectionView, CollectionsView, Created, CsrfView, KeyView, KeysView, NewKeyView,
    ProgressView, SessionView, SignedIn, UserView, UsersView,
};
use crate::{AppState, blocking};
use library::ops::{accounts, reading};

fn user_json(u: &db::User) -> UserView {
    UserView::from(u)
}

// ---- Sessions -----------------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct Credentials {
    name: String,
    password: String,
}

/// Starts a session (a cookie) and answers the CSRF token
/// the app sends with every change.
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = Credentials, responses((status = 200, description = "Signed in: the session cookie is set", body = SignedIn), (status = 401, description = "`wrong-credentials`", body = crate::api_doc::ErrorBody), (status = 429, description = "`too-many-attempts`: wait `Retry-After` seconds", body = crate::api_doc::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let config = state.auth.clone();
    let (user, cookie, csrf) = blocking(move || {
        let user = auth::sign_in(&db, &body.name, &body.password, caller.addr)?;
        let (cookie, csrf) = auth::start_session(&db, user.id, &config, caller.https)?;
        Ok((user, cookie, csrf))
    })
    .await?;
    let mut response = Json(SignedIn {
        user: user_json(&user),
        csrf,
    })
    .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// Ends the session on the server, and drops the cookie.
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts", responses((status = 204, description = "Signed out")))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    auth::end_session(&state.db, &caller).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, auth::end_session_cookie());
    Ok(response)
}

/// Who the caller is, the CSRF token of their session, and whether the
/// first-run setup is waiting (and may be done from where they are).
#[utoipa::path(get, path = "/api/v1/session", tag = "accounts", responses((status = 200, description = "Who the caller is", body = SessionView)))]
pub async fn session(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let has_admin = blocking(move || Ok(accounts::has_admin(&db)?)).await?;
    let csrf = match &caller.via {
        Via::Session { csrf, .. } => Some(csrf.clone()),
        _ => None,
    };
    Ok(Json(SessionView {
        user: caller.user.as_deref().map(user_json),
        csrf,
        setup_needed: !has_admin,
        setup_allowed_here: !has_admin && caller.addr.is_loopback(),
        anonymous_read: state.auth.anonymous_read,
    })
    .into_response())
}

/// Makes the first admin and signs them in. Only while no
/// admin exists, and only from this machine (loopback).
#[utoipa::path(post, path = "/api/v1/setup", tag = "accounts", request_body = Credentials, responses((status = 201, description = "The first admin, signed in", body = SignedIn), (status = 403, description = "`forbidden`: an admin exists, or not from the server itself", body = crate::api_doc::ErrorBody)))]
pub async fn setup(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    if !is_loopback(caller.addr) {
        return Err(ApiError::Forbidden(
            "the first-run setup works only from the server itself (127.0.0.1 or ::1)".into(),
        ));
    }
    let db = state.db.clone();
    let config = state.auth.clone();
    let (user, cookie, csrf) = blocking(move || {
        let user = accounts::setup(&db, &body.name, &body.password)?;
        let (cookie, csrf) = auth::start_session(&db, user.id, &config, caller.https)?;
        Ok((user, cookie, csrf))
    })
    .await?;
    let mut response = (
        StatusCode::CREATED,
        Json(SignedIn {
            user: user_json(&user),
            csrf,
        }),
    )
        .into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

pub(crate) fn is_loopback(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        IpAddr::V4(v4) => v4.is_loopback(),
    }
}

// ---- The caller's account -----------------------------------------------------------------------

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/account", tag = "accounts", responses((status = 200, description = "The caller", body = UserView)), security(("apiKey" = ["own"]), ("session" = ["own"])))]
pub async fn account(caller: Caller) -> Result<Response, ApiError> {
    Ok(Json(user_json(caller.user()?)).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// Ends every session of the account, then
/// starts a new one for this caller (when they came with a session).
#[utoipa::path(post, path = "/api/v1/account/password", tag = "accounts", request_body = PasswordChange, responses((status = 200, description = "Changed; the new session's CSRF token", body = CsrfView), (status = 204, description = "Changed (the caller came with a key)"), (status = 401, description = "`wrong-credentials`: the current password is wrong", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<PasswordChange>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let config = state.auth.clone();
    let renewed = blocking(move || {
        accounts::change_password(&db, caller.user()?, &body.current, &body.new)?;
        auth::renew_session(&db, &caller, &config)
    })
    .await?;
    let mut response = match &renewed {
        Some((_, csrf)) => Json(CsrfView { csrf: csrf.clone() }).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    if let Some((cookie, _)) = renewed {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The caller's API keys (never their secrets).
#[utoipa::path(get, path = "/api/v1/account/keys", tag = "accounts", responses((status = 200, description = "The caller's keys", body = KeysView)), security(("apiKey" = ["own"]), ("session" = ["own"])))]
pub async fn keys(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    let keys = blocking(move || Ok(accounts::keys(&db, user)?)).await?;
    Ok(Json(KeysView {
        keys: keys.into_iter().map(KeyView::from).collect(),
    })
    .into_response())
}

/// Makes an API key for the caller, named `name`, with the scope asked for (`"read"` when none
/// is): what the JSON API and the account page's form both do.
pub(crate) async fn make_key(
    state: &AppState,
    caller: &Caller,
    name: String,
    scope: Option<String>,
) -> Result<accounts::NewKey, ApiError> {
    let user = caller.user()?.id;
    let made_with = match caller.via {
        Via::Key { scope, .. } => Some(scope),
        _ => None,
    };
    let db = state.db.clone();
    blocking(move || {
        Ok(accounts::make_key(
            &db,
            user,
            &name,
            scope.as_deref(),
            made_with,
        )?)
    })
    .await
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    name: String,
    #[serde(default)]
    scope: Option<String>,
}

/// Answers the key, once.
#[utoipa::path(post, path = "/api/v1/account/keys", tag = "accounts", request_body = NewKey, responses((status = 201, description = "The key, shown this once", body = NewKeyView)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn create_key(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewKey>,
) -> Result<Response, ApiError> {
    let accounts::NewKey { id, key, scope } =
        make_key(&state, &caller, body.name, body.scope).await?;
    Ok((StatusCode::CREATED, Json(NewKeyView { id, key, scope })).into_response())
}

/// Revokes one of the caller's keys.
#[utoipa::path(delete, path = "/api/v1/account/keys/{id}", tag = "accounts", params(("id" = i64, Path, description = "The key's id")), responses((status = 204, description = "Revoked"), (status = 404, description = "`api-key-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn revoke_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    blocking(move || Ok(accounts::revoke_key(&db, user, id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- Users (admins) -----------------------------------------------------------------------------

/// Every user, with their role.
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", responses((status = 200, description = "Every user", body = UsersView)), security(("apiKey" = ["admin"]), ("session" = ["admin"])))]
pub async fn users(State(state): State<AppState>) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let users = blocking(move || Ok(accounts::users(&db)?)).await?;
    let users = users.iter().map(user_json).collect();
    Ok(Json(UsersView { users }).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct NewUser {
    name: String,
    password: String,
    role: String,
}

/// Makes a user with a role (`reader`, `editor` or `admin`).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = NewUser, responses((status = 201, description = "Made", body = UserView), (status = 409, description = "`conflict`: the name is taken", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["admin"]), ("session" = ["admin"], "csrf" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<NewUser>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let user = blocking(move || {
        Ok(accounts::add_user(
            &db,
            &body.name,
            &body.password,
            &body.role,
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct RoleChange {
    role: String,
}

/// Changes a user's role (the last admin keeps theirs).
#[utoipa::path(put, path = "/api/v1/users/{name}/role", tag = "accounts", params(("name" = String, Path, description = "The user's name")), request_body = RoleChange, responses((status = 204, description = "Changed"), (status = 404, description = "`user-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["admin"]), ("session" = ["admin"], "csrf" = [])))]
pub async fn set_role(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<RoleChange>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(accounts::set_role(&db, &name, &body.role)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct PasswordReset {
    password: String,
}

/// Sets a user's password, ending their sessions.
#[utoipa::path(put, path = "/api/v1/users/{name}/password", tag = "accounts", params(("name" = String, Path, description = "The user's name")), request_body = PasswordReset, responses((status = 204, description = "Changed; their sessions are ended"), (status = 404, description = "`user-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["admin"]), ("session" = ["admin"], "csrf" = [])))]
pub async fn reset_password(
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<PasswordReset>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(accounts::reset_password(&db, &name, &body.password)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes a user, their sessions, keys and reading state.
#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "accounts", params(("name" = String, Path, description = "The user's name")), responses((status = 204, description = "Removed"), (status = 404, description = "`user-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["admin"]), ("session" = ["admin"], "csrf" = [])))]
pub async fn remove_user(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(accounts::remove_user(&db, &name)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---- Reading state ------------------------------------------------------------------------------

/// Where the caller is in a gallery (`null` if unopened).
#[utoipa::path(get, path = "/api/v1/galleries/{id}/progress", tag = "reading", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 200, description = "Where the caller is", body = ProgressView), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"])))]
pub async fn progress(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    let p = blocking(move || Ok(reading::progress(&db, user, &public_id)?)).await?;
    Ok(Json(ProgressView {
        progress: p.map(Into::into),
    })
    .into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ProgressUpdate {
    page: u32,
    #[serde(default)]
    finished: Option<bool>,
}

/// Notes the page the caller is at (pages count from 0; reaching the last
/// page finishes the gallery unless `finished` says otherwise).
#[utoipa::path(put, path = "/api/v1/galleries/{id}/progress", tag = "reading", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), request_body = ProgressUpdate, responses((status = 204, description = "Noted"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn set_progress(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
    JsonBody(body): JsonBody<ProgressUpdate>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    blocking(move || {
        Ok(reading::set_progress(
            &db,
            user,
            &public_id,
            body.page,
            body.finished,
        )?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Marks the gallery unread again.
#[utoipa::path(delete, path = "/api/v1/galleries/{id}/progress", tag = "reading", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 204, description = "Unread again"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn clear_progress(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    blocking(move || Ok(reading::clear_progress(&db, user, &public_id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn favorite(
    state: AppState,
    caller: Caller,
    public_id: String,
    on: bool,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    blocking(move || Ok(reading::set_favorite(&db, user, &public_id, on)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes the gallery one of the caller's favorites.
#[utoipa::path(put, path = "/api/v1/galleries/{id}/favorite", tag = "reading", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 204, description = "A favorite"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn add_favorite(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    favorite(state, caller, public_id, true).await
}

/// Makes the gallery no longer one of the caller's favorites.
#[utoipa::path(delete, path = "/api/v1/galleries/{id}/favorite", tag = "reading", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 204, description = "No longer a favorite"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn remove_favorite(
    State(state): State<AppState>,
    caller: Caller,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    favorite(state, caller, public_id, false).await
}

/// The caller's collections.
#[utoipa::path(get, path = "/api/v1/collections", tag = "reading", responses((status = 200, description = "The caller's collections", body = CollectionsView)), security(("apiKey" = ["own"]), ("session" = ["own"])))]
pub async fn collections(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    let list = blocking(move || Ok(reading::collections(&db, user)?)).await?;
    Ok(Json(CollectionsView {
        collections: list.into_iter().map(CollectionView::from).collect(),
    })
    .into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct NewCollection {
    name: String,
    /// A saved search; none for a hand-picked list.
    #[serde(default)]
    query: Option<String>,
}

/// Makes a collection: a hand-picked list, or a saved search when `query` is given.
#[utoipa::path(post, path = "/api/v1/collections", tag = "reading", request_body = NewCollection, responses((status = 201, description = "Made", body = Created)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn create_collection(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<NewCollection>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    let id = blocking(move || {
        Ok(reading::create_collection(
            &db,
            user,
            &body.name,
            body.query.as_deref(),
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(Created { id })).into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CollectionName {
    name: String,
}

/// Renames one of the caller's collections.
#[utoipa::path(patch, path = "/api/v1/collections/{id}", tag = "reading", params(("id" = i64, Path, description = "The collection's id")), request_body = CollectionName, responses((status = 204, description = "Renamed"), (status = 404, description = "`collection-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn rename_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<CollectionName>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    blocking(move || Ok(reading::rename_collection(&db, user, id, &body.name)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes one of the caller's collections (never the galleries in it).
#[utoipa::path(delete, path = "/api/v1/collections/{id}", tag = "reading", params(("id" = i64, Path, description = "The collection's id")), responses((status = 204, description = "Removed"), (status = 404, description = "`collection-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn remove_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    blocking(move || Ok(reading::remove_collection(&db, user, id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn collect(
    state: AppState,
    caller: Caller,
    id: i64,
    public_id: String,
    inside: bool,
) -> Result<Response, ApiError> {
    let user = caller.user()?.id;
    let db = state.db.clone();
    blocking(move || Ok(reading::collect(&db, user, id, &public_id, inside)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Puts a gallery in one of the caller's collections.
#[utoipa::path(put, path = "/api/v1/collections/{id}/galleries/{gallery}", tag = "reading", params(("id" = i64, Path, description = "The collection's id"), ("gallery" = String, Path, description = "The gallery's public id")), responses((status = 204, description = "In it"), (status = 404, description = "`collection-not-found` or `gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn add_to_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, public_id)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    collect(state, caller, id, public_id, true).await
}

/// Takes a gallery out of one of the caller's collections.
#[utoipa::path(delete, path = "/api/v1/collections/{id}/galleries/{gallery}", tag = "reading", params(("id" = i64, Path, description = "The collection's id"), ("gallery" = String, Path, description = "The gallery's public id")), responses((status = 204, description = "Out of it"), (status = 404, description = "`collection-not-found` or `gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["own"]), ("session" = ["own"], "csrf" = [])))]
pub async fn remove_from_collection(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, public_id)): Path<(i64, String)>,
) -> Result<Response, ApiError> {
    collect(state, caller, id, public_id, false).await
}
