//! Galleries over HTTP: details and pages, editing (titles, tags), trash, restore and purge, and
//! importing (an upload streamed to disk, or a folder on the server below an import root).

use std::path::{Path as FsPath, PathBuf};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use db::{TagName, TagSource};
use library::import::{ImportOptions, Outcome, Quiet};

use crate::error::ApiError;
use crate::json::JsonBody;
use crate::{AppState, blocking};

/// `GET /api/v1/galleries/{id}`: a gallery with its tags.
pub async fn gallery(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let g = blocking(move || Ok(db.galleries().get(&public_id)?)).await?;
    Ok(Json(g).into_response())
}

/// `GET /api/v1/galleries/{id}/pages`: its pages in order, with their images and thumbnails.
pub async fn pages(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let pages = blocking(move || Ok(db.galleries().pages(&public_id)?)).await?;
    Ok(Json(serde_json::json!({ "pages": pages })).into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct TitleChange {
    title: Option<String>,
    title_original: Option<String>,
}

/// `PATCH /api/v1/galleries/{id} {title?, title_original?}`.
pub async fn edit(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    JsonBody(body): JsonBody<TitleChange>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || {
        let g = db.galleries().get(&public_id)?;
        let title = body.title.unwrap_or(g.title);
        if title.trim().is_empty() {
            return Err(ApiError::BadRequest("a title cannot be empty".into()));
        }
        let original = body.title_original.unwrap_or(g.title_original);
        Ok(db.galleries().set_titles(&public_id, &title, &original)?)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, serde::Deserialize)]
pub struct TagChange {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

fn parse_tags(list: &[String]) -> Result<Vec<TagName>, ApiError> {
    list.iter()
        .map(|t| TagName::parse(t).map_err(ApiError::from))
        .collect()
}

/// `PUT /api/v1/galleries/{id}/tags {add: ["ns:tag", …], remove: […]}`: answers the tags now.
pub async fn edit_tags(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    JsonBody(body): JsonBody<TagChange>,
) -> Result<Response, ApiError> {
    let (add, remove) = (parse_tags(&body.add)?, parse_tags(&body.remove)?);
    let db = state.db.clone();
    let tags = blocking(move || {
        db.galleries().id_of(&public_id)?;
        if !add.is_empty() {
            db.tags().add(&public_id, &add, TagSource::User)?;
        }
        if !remove.is_empty() {
            db.tags().remove(&public_id, &remove)?;
        }
        Ok(db.tags().of_gallery(&public_id)?)
    })
    .await?;
    Ok(Json(serde_json::json!({ "tags": tags })).into_response())
}

/// `POST /api/v1/galleries/{id}/trash`.
pub async fn trash(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(db.galleries().trash(&public_id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/galleries/{id}/restore`.
pub async fn restore(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(db.galleries().restore(&public_id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /api/v1/galleries/{id}`: deletes a gallery for good, releasing the images nothing
/// else uses.
pub async fn purge(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let blobs = state.blobs.clone();
    let released = blocking(move || {
        let released = db.galleries().purge(&public_id)?;
        for h in &released {
            blobs.delete(h)?;
        }
        Ok(released.len())
    })
    .await?;
    Ok(Json(serde_json::json!({ "released_images": released })).into_response())
}

fn outcome_json(o: Outcome) -> serde_json::Value {
    match o {
        Outcome::Imported(g) => serde_json::json!({ "status": "imported", "gallery": g }),
        Outcome::Duplicate { public_id } => {
            serde_json::json!({ "status": "duplicate", "public_id": public_id })
        }
        Outcome::Failed(e) => serde_json::json!({ "status": "failed", "error": e.to_string() }),
    }
}

/// Imports everything found at a path; answers one outcome per source found.
fn import_path(state: &AppState, path: &FsPath) -> Result<Vec<serde_json::Value>, ApiError> {
    let Some(importer) = state.importer.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let sources = importer
        .discover(path)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok(sources
        .iter()
        .map(|s| outcome_json(importer.import(s, &ImportOptions::default(), &Quiet)))
        .collect())
}

#[derive(Debug, serde::Deserialize)]
pub struct UploadParams {
    /// The file's name (its extension says what it is; its name may hold the title).
    name: String,
}

/// The last component of an uploaded file's name, without anything that could leave the folder.
fn safe_file_name(name: &str) -> Result<String, ApiError> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    if clean.is_empty() || clean == "." || clean == ".." || clean.len() > 255 {
        return Err(ApiError::BadRequest(format!(
            "{name:?} is not a usable file name"
        )));
    }
    Ok(clean)
}

/// `POST /api/v1/uploads?name=FILE.cbz` with the archive as the body: streamed to disk (never
/// whole in memory, at most the configured upload size), imported, then removed. A broken-off
/// upload leaves nothing behind.
pub async fn upload(
    State(state): State<AppState>,
    Query(params): Query<UploadParams>,
    body: Body,
) -> Result<Response, ApiError> {
    use http_body_util::BodyExt;
    use tokio::io::AsyncWriteExt;

    let name = safe_file_name(&params.name)?;
    let Some(root) = state.upload_dir.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    let dir = root.join(format!("upload-{}", crate::auth::random_token()?));
    let staged = Staged(dir.clone());
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let path = dir.join(&name);
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let limit = state.max_upload_bytes;
    let mut written: u64 = 0;
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("the upload broke off: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        written += chunk.len() as u64;
        if written > limit {
            return Err(ApiError::PayloadTooLarge {
                limit: limit as usize,
            });
        }
        file.write_all(&chunk)
            .await
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
    }
    file.flush()
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    drop(file);
    if written == 0 {
        return Err(ApiError::BadRequest("the upload is empty".into()));
    }
    let results = {
        let state = state.clone();
        blocking(move || import_path(&state, &path)).await?
    };
    drop(staged);
    Ok(Json(serde_json::json!({ "results": results })).into_response())
}

/// An upload's folder, removed when the upload is done or abandoned.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct ServerImport {
    path: String,
}

/// `POST /api/v1/imports {path}`: imports an archive or folder on the server, which must lie
/// below one of the configured import roots (after resolving `..` and links).
pub async fn import_server_path(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ServerImport>,
) -> Result<Response, ApiError> {
    let roots = state.import_roots.clone();
    let results = {
        let state = state.clone();
        blocking(move || {
            if roots.is_empty() {
                return Err(ApiError::Forbidden(
                    "no import roots are configured ([import] roots in the config)".into(),
                ));
            }
            let path = std::fs::canonicalize(&body.path)
                .map_err(|e| ApiError::BadRequest(format!("{}: {e}", body.path)))?;
            let inside = roots
                .iter()
                .any(|r| std::fs::canonicalize(r).is_ok_and(|root| path.starts_with(&root)));
            if !inside {
                return Err(ApiError::Forbidden(format!(
                    "{} is not below an import root",
                    path.display()
                )));
            }
            import_path(&state, &path)
        })
        .await?
    };
    Ok(Json(serde_json::json!({ "results": results })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_names_cannot_leave_their_folder() {
        assert_eq!(safe_file_name("a.cbz").unwrap(), "a.cbz");
        assert_eq!(safe_file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(safe_file_name("C:\\x\\..\\b.zip").unwrap(), "b.zip");
        assert!(safe_file_name("..").is_err());
        assert!(safe_file_name("dir/").is_err());
        assert!(safe_file_name("").is_err());
    }
}
