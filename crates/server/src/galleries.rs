//! Galleries over HTTP: details and pages, editing (titles, tags), trash, restore and purge, and
//! importing (an upload streamed to disk, or a folder on the server below an import root).

use std::path::{Path as FsPath, PathBuf};

use axum::Json;
use axum::body::Body;
use axum::extract::State;

use crate::extract::Path;

use crate::extract::Query;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use db::TagName;
use library::ops::galleries;

use crate::views::ImportResult;

use crate::error::ApiError;
use crate::json::JsonBody;
use crate::{AppState, blocking};
use library::ops::browse;

/// A gallery with its tags.
#[utoipa::path(get, path = "/api/v1/galleries/{id}", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 200, description = "The gallery with its tags", body = crate::views::GalleryView), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn gallery(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let g = blocking(move || Ok(browse::gallery(&db, &public_id)?)).await?;
    Ok(Json(crate::views::GalleryView::from(g)).into_response())
}

/// Its pages in order, with their images and thumbnails.
#[utoipa::path(get, path = "/api/v1/galleries/{id}/pages", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 200, description = "Its pages in order", body = crate::views::PagesView), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn pages(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let pages = blocking(move || Ok(browse::pages(&db, &public_id)?)).await?;
    Ok(Json(crate::views::PagesView {
        pages: pages.into_iter().map(Into::into).collect(),
    })
    .into_response())
}

/// What a `PATCH` of a gallery changes: each field given replaces the gallery's.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GalleryChange {
    title: Option<String>,
    title_original: Option<String>,
    summary: Option<String>,
    category: Option<String>,
    reading_direction: Option<db::ReadingDirection>,
}

/// Changes a gallery's title, original title, summary, category or reading direction.
#[utoipa::path(patch, path = "/api/v1/galleries/{id}", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), request_body = GalleryChange, responses((status = 204, description = "Changed"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn edit(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    JsonBody(body): JsonBody<GalleryChange>,
) -> Result<Response, ApiError> {
    let change = db::DetailsChange {
        title: body.title,
        title_original: body.title_original,
        summary: body.summary,
        category: body.category,
        reading_direction: body.reading_direction,
    };
    let db = state.db.clone();
    blocking(move || Ok(galleries::describe(&db, &public_id, &change)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Tags to add and to remove, `namespace:name` each.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
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

/// Answers the tags now.
#[utoipa::path(put, path = "/api/v1/galleries/{id}/tags", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), request_body = TagChange, responses((status = 200, description = "The gallery's tags now", body = crate::views::TagsView), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn edit_tags(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    JsonBody(body): JsonBody<TagChange>,
) -> Result<Response, ApiError> {
    let (add, remove) = (parse_tags(&body.add)?, parse_tags(&body.remove)?);
    let db = state.db.clone();
    let tags = blocking(move || Ok(galleries::tags(&db, &public_id, &add, &remove)?)).await?;
    Ok(Json(crate::views::TagsView { tags }).into_response())
}

/// Puts a gallery in the trash (out of searches and lists until restored or purged).
#[utoipa::path(post, path = "/api/v1/galleries/{id}/trash", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 204, description = "In the trash"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn trash(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(galleries::trash(&db, &public_id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Takes a gallery out of the trash.
#[utoipa::path(post, path = "/api/v1/galleries/{id}/restore", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 204, description = "Out of the trash"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn restore(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(galleries::restore(&db, &public_id)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes a gallery for good, releasing the images nothing
/// else uses.
#[utoipa::path(delete, path = "/api/v1/galleries/{id}", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 200, description = "Deleted for good", body = crate::views::Purged), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["admin"]), ("session" = ["admin"], "csrf" = [])))]
pub async fn purge(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let released_images = purge_gallery(&state, public_id).await?;
    Ok(Json(crate::views::Purged { released_images }).into_response())
}

/// Deletes a gallery for good and then the images nothing else uses; answers how many.
pub(crate) async fn purge_gallery(state: &AppState, public_id: String) -> Result<usize, ApiError> {
    let Some(importer) = state.importer.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    blocking(move || Ok(galleries::purge(&importer, &public_id)?)).await
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct OrderChange {
    /// The current positions (from 0), in the new order.
    order: Vec<u32>,
}

/// The pages in a new order.
#[utoipa::path(put, path = "/api/v1/galleries/{id}/order", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), request_body = OrderChange, responses((status = 204, description = "Reordered"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn reorder(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    JsonBody(body): JsonBody<OrderChange>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    blocking(move || Ok(galleries::reorder(&db, &public_id, &body.order)?)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CoverChange {
    /// The page (from 0).
    page: u32,
    /// A part of it, as shares of its width and height, to cut out as the cover.
    crop: Option<CropPart>,
}

/// A part of a page: its left, top, width and height as shares (0.0 to 1.0) of the page's.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::ToSchema)]
pub struct CropPart {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// A page, or a part of one, as
/// the cover.
#[utoipa::path(put, path = "/api/v1/galleries/{id}/cover", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), request_body = CoverChange, responses((status = 204, description = "The cover is set"), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
pub async fn cover(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
    JsonBody(body): JsonBody<CoverChange>,
) -> Result<Response, ApiError> {
    let crop = body.crop.map(|c| library::import::Crop {
        x: c.x,
        y: c.y,
        w: c.w,
        h: c.h,
    });
    set_cover(&state, public_id, body.page, crop).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Makes page `page` the cover, or the `crop` part of it.
pub(crate) async fn set_cover(
    state: &AppState,
    public_id: String,
    page: u32,
    crop: Option<library::import::Crop>,
) -> Result<(), ApiError> {
    let Some(importer) = state.importer.clone() else {
        return Err(ApiError::RouteNotFound);
    };
    blocking(move || Ok(galleries::set_cover(&importer, &public_id, page, crop)?)).await
}

/// A `Write` that hands what is written, in chunks, to the response body being sent.
struct BodyWriter {
    tx: tokio::sync::mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
}

impl std::io::Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A file name for the `Content-Disposition` header: ASCII with the awkward characters replaced,
/// and the title itself in `filename*` (RFC 6266).
fn attachment(title: &str, ext: &str) -> String {
    let ascii: String = title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " -_.()[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(150)
        .collect();
    let encoded = crate::web::encode(&format!("{title}.{ext}"));
    format!(
        "attachment; filename=\"{}.{ext}\"; filename*=UTF-8''{encoded}",
        ascii.trim()
    )
}

/// The gallery as a cbz (pages byte for byte and a
/// ComicInfo.xml), streamed as it is written: nothing is buffered whole.
#[utoipa::path(get, path = "/api/v1/galleries/{id}/cbz", tag = "galleries", params(("id" = String, Path, description = "The gallery's public id (40 hex digits)")), responses((status = 200, description = "The gallery as a cbz, streamed", content_type = "application/vnd.comicbook+zip", body = crate::api_doc::Binary), (status = 404, description = "`gallery-not-found`", body = crate::api_doc::ErrorBody)), security(("apiKey" = ["read"]), ("session" = ["read"])))]
pub async fn download(
    State(state): State<AppState>,
    Path(public_id): Path<String>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let (g, pages) = blocking(move || Ok(browse::gallery_with_pages(&db, &public_id)?)).await?;
    let disposition = attachment(&g.title, "cbz");
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let store = state.blobs.clone();
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let sink = std::io::BufWriter::with_capacity(256 << 10, BodyWriter { tx });
        let mut zip = zip::ZipWriter::new_stream(sink);
        let written = library::export::write_cbz(&mut zip, &g, &pages, store.as_ref())
            .and_then(|()| Ok(zip.finish()?))
            .and_then(|mut inner| Ok(std::io::Write::flush(&mut inner)?));
        if let Err(e) = written {
            // The client sees the download fail rather than a cut archive that looks whole.
            tracing::error!(gallery = %g.public_id, "download: {e}");
            let _ = failed.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.comicbook+zip"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

/// Imports an uploaded archive, the body: streamed to disk (never
/// whole in memory, at most the configured upload size), imported, then removed. A broken-off
/// upload leaves nothing behind.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "imports", params(UploadParams), request_body(content = crate::api_doc::Binary, content_type = "application/octet-stream", description = "The archive, streamed"), responses((status = 200, description = "What each source in it became", body = crate::views::ImportResults)), security(("apiKey" = ["edit"]), ("session" = ["edit"], "csrf" = [])))]
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
        blocking(move || {
            let shown = |text: &str| unstaged(text, &path, &name);
            let outcomes = crate::jobs::runner(&state).import_upload(&name, &path, &shown)?;
            let mut results: Vec<ImportResult> = outcomes.into_iter().map(Into::into).collect();
            for r in &mut results {
                if let ImportResult::Failed { error } = r {
                    *error = shown(error);
                }
            }
            Ok(results)
        })
        .await?
    };
    drop(staged);
    Ok(Json(crate::views::ImportResults { results }).into_response())
}

/// Text about a staged upload (an import's error), with the staging path replaced by the name
/// the user sent: the server's own paths are never shown to a client.
fn unstaged(text: &str, staged: &FsPath, name: &str) -> String {
    let mut shown = text.replace(&staged.display().to_string(), name);
    if let Some(dir) = staged.parent() {
        let dir = dir.display().to_string();
        shown = shown.replace(&format!("{dir}/"), "").replace(&dir, name);
    }
    shown
}

/// An upload's folder, removed when the upload is done or abandoned.
struct Staged(PathBuf);

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file or folder on the server, below one of the configured import roots.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct ServerImport {
    path: String,
}

/// Imports an archive or folder on the server, which must lie
/// below one of the configured import roots (after resolving `..` and links). The import runs
/// in the background: the answer (202) names its job, which `GET /api/v1/jobs` and
/// `GET /api/v1/jobs/events` follow.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", request_body = ServerImport, responses((status = 202, description = "Begun: its job", body = crate::views::JobStarted)), security(("apiKey" = ["admin"]), ("session" = ["admin"], "csrf" = [])))]
pub async fn import_server_path(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ServerImport>,
) -> Result<Response, ApiError> {
    let job = start_server_import(&state, body.path).await?;
    Ok((StatusCode::ACCEPTED, Json(crate::views::JobStarted { job })).into_response())
}

/// Checks that `path` lies below an import root and starts its import; answers the job's id.
pub(crate) async fn start_server_import(state: &AppState, path: String) -> Result<i64, ApiError> {
    let roots = state.import_roots.clone();
    let state = state.clone();
    blocking(move || {
        if roots.is_empty() {
            return Err(ApiError::Forbidden(
                "no import roots are configured ([import] roots in the config)".into(),
            ));
        }
        let resolved = std::fs::canonicalize(&path)
            .map_err(|e| ApiError::BadRequest(format!("{path}: {e}")))?;
        let inside = roots
            .iter()
            .any(|r| std::fs::canonicalize(r).is_ok_and(|root| resolved.starts_with(&root)));
        if !inside {
            return Err(ApiError::Forbidden(format!(
                "{} is not below an import root",
                resolved.display()
            )));
        }
        crate::jobs::start_import(&state, resolved)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An upload's import error named `…/data/uploads/upload-…/bad.cbz`.
    #[test]
    fn upload_errors_name_the_file_sent_not_the_staging_path() {
        let staged = FsPath::new("/srv/data/uploads/upload-abc/bad.cbz");
        let shown = unstaged(
            "/srv/data/uploads/upload-abc/bad.cbz: not an archive (in /srv/data/uploads/upload-abc/bad.cbz/x.jpg)",
            staged,
            "bad.cbz",
        );
        assert_eq!(shown, "bad.cbz: not an archive (in bad.cbz/x.jpg)");
        assert!(!shown.contains("/srv"), "{shown}");
    }

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
