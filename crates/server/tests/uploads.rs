//! `POST /api/v1/uploads`: an archive streamed to disk and imported; hostile names, oversized and
//! broken-off uploads leave nothing behind and change nothing.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use server::{AppState, ServerConfig, router};
use tower::ServiceExt;

struct Setup {
    app: axum::Router,
    db: Arc<db::Db>,
    staging: std::path::PathBuf,
    key: String,
    _dir: tempfile::TempDir,
}

fn setup(max_upload_bytes: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    let editor = db
        .accounts()
        .create_user("ed", "unused", db::Role::Editor)
        .unwrap();
    let (_, key) = server::auth::new_api_key(&db, editor.id, "t", db::KeyScope::ReadWrite).unwrap();
    let staging = dir.path().join("uploads");
    std::fs::create_dir_all(&staging).unwrap();
    let importer = library::import::Importer::new(store.clone(), db.clone());
    let state = AppState {
        importer: Some(Arc::new(importer)),
        upload_dir: Some(staging.clone().into()),
        max_upload_bytes,
        ..AppState::new(store, db.clone())
    };
    let app = router(state, &ServerConfig::default())
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    Setup {
        app,
        db,
        staging,
        key,
        _dir: dir,
    }
}

fn cbz() -> Vec<u8> {
    let pixels: Vec<u8> = (0..64 * 90 * 3).map(|i| (i % 251) as u8).collect();
    let jpeg = library::import::thumb::jpeg_from_rgb(&pixels, 64, 90, 80).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    for name in ["01.jpg", "02.jpg"] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&jpeg).unwrap();
        zip.write_all(name.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    out.into_inner()
}

async fn upload(s: &Setup, name: &str, body: Body) -> (StatusCode, serde_json::Value) {
    let req = Request::post(format!("/api/v1/uploads?name={name}"))
        .header("authorization", format!("Bearer {}", s.key))
        .body(body)
        .unwrap();
    let response = s.app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

fn staged(s: &Setup) -> usize {
    std::fs::read_dir(&s.staging).unwrap().count()
}

#[tokio::test]
async fn an_upload_is_imported_under_a_safe_name_and_cleaned_up() {
    let s = setup(1 << 30);
    let (status, body) = upload(&s, "..%2F..%2F%5BArtist%5D%20Title.cbz", Body::from(cbz())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["status"], "imported", "{body}");
    assert_eq!(body["results"][0]["gallery"]["pages"], 2);
    assert_eq!(staged(&s), 0, "the staging folder is emptied");
    assert_eq!(s.db.galleries().count().unwrap(), 1);
    // The same archive again: a duplicate, nothing new.
    let (_, body) = upload(&s, "again.cbz", Body::from(cbz())).await;
    assert_eq!(body["results"][0]["status"], "duplicate", "{body}");
    assert_eq!(s.db.galleries().count().unwrap(), 1);
}

#[tokio::test]
async fn oversized_broken_off_empty_and_bogus_uploads_change_nothing() {
    let s = setup(1000);
    let (status, body) = upload(&s, "big.cbz", Body::from(cbz())).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "payload-too-large");
    assert_eq!(staged(&s), 0);

    let s = setup(1 << 30);
    let archive = cbz();
    let half = Bytes::copy_from_slice(&archive[..archive.len() / 2]);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ];
    let (status, body) = upload(
        &s,
        "cut.cbz",
        Body::from_stream(futures_util::stream::iter(chunks)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("broke off"),
        "{body}"
    );
    assert_eq!(staged(&s), 0);

    let (status, _) = upload(&s, "empty.cbz", Body::empty()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = upload(&s, "..", Body::from(cbz())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = upload(
        &s,
        "notes.cbz",
        Body::from("just some text, not an archive"),
    )
    .await;
    assert_ne!(status, StatusCode::OK, "{body}");
    assert_eq!(staged(&s), 0);
    assert_eq!(s.db.galleries().count().unwrap(), 0);
}

/// An upload's import error named the server's staging path (`…/data/uploads/upload-…/bad.cbz`):
/// the answer and the job name the file the user sent, and no path of the server.
#[tokio::test]
async fn upload_errors_name_the_file_sent_never_a_server_path() {
    let s = setup(1 << 30);
    let staging = s.staging.display().to_string();
    for (name, body) in [
        ("bad.cbz", b"PK\x03\x04 broken".to_vec()),
        ("notes.cbz", b"plain text, not an archive".to_vec()),
    ] {
        let (status, json) = upload(&s, name, Body::from(body)).await;
        let said = json.to_string();
        assert!(said.contains("error"), "{status} {said}");
        assert!(
            !said.contains(&staging) && !said.contains("upload-"),
            "{said}"
        );
        let jobs = s.db.jobs().recent(&[db::JobKind::Upload], 10).unwrap();
        let job = jobs.iter().find(|j| j.payload.contains(name)).unwrap();
        let why = job.error.as_deref().unwrap_or_default();
        assert!(why.contains(name), "{why}");
        assert!(!why.contains(&staging) && !why.contains("upload-"), "{why}");
    }
}
