//! `GET /api/v1/thumbnails/{hash}`: made on demand, then redirected to the thumbnail blob.

use std::io::Write;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use library::import::{ImportOptions, Importer, Outcome, Quiet};
use server::{AppState, ServerConfig, router};
use tower::ServiceExt;

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
    library::import::thumb::jpeg_from_rgb(&pixels, w, h, 80).unwrap()
}

async fn get(
    app: &axum::Router,
    key: &str,
    uri: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let req = Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

#[tokio::test]
async fn thumbnails_are_made_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    let mut importer = Importer::new(store.clone(), db.clone());
    importer.cover_thumbnails = false;
    let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf".to_vec();
    let archive = dir.path().join("a.cbz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
    for (name, data) in [("1.jpg", jpeg(640, 900)), ("2.avif", avif)] {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&data).unwrap();
    }
    zip.finish().unwrap();
    let source = importer.discover(&archive).unwrap().remove(0);
    let Outcome::Imported(g) = importer.import(&source, &ImportOptions::default(), &Quiet) else {
        panic!("import failed");
    };
    let pages = db.galleries().pages(&g.public_id).unwrap();
    assert!(pages[0].thumbnail.is_none());
    let reader = db
        .accounts()
        .create_user("reader", "unused", db::Role::Reader)
        .unwrap();
    let (_, key) = server::auth::new_api_key(&db, reader.id, "tests", db::KeyScope::Read).unwrap();
    let app = router(
        AppState {
            lpfs: Some(store.clone()),
            importer: Some(Arc::new(importer)),
            ..AppState::new(store.clone(), db.clone())
        },
        &ServerConfig::default(),
    );

    let (status, headers, _) = get(
        &app,
        &key,
        &format!("/api/v1/thumbnails/{}", pages[0].blob.hash),
    )
    .await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
    let location = headers[header::LOCATION].to_str().unwrap().to_string();
    let made = db.galleries().pages(&g.public_id).unwrap()[0]
        .thumbnail
        .unwrap();
    assert_eq!(location, format!("/api/v1/blobs/{made}"));
    let (status, headers, body) = get(&app, &key, &location).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(&body[..2], &[0xFF, 0xD8]);
    // Asked again: the same thumbnail, not a new one.
    let (_, headers, _) = get(
        &app,
        &key,
        &format!("/api/v1/thumbnails/{}", pages[0].blob.hash),
    )
    .await;
    assert_eq!(headers[header::LOCATION].to_str().unwrap(), location);

    // No decoder for this one: a clear 404, and the image itself is still served.
    let (status, _, body) = get(
        &app,
        &key,
        &format!("/api/v1/thumbnails/{}", pages[1].blob.hash),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "thumbnail-unavailable", "{body}");
    let (status, _, _) = get(&app, &key, &format!("/api/v1/blobs/{}", pages[1].blob.hash)).await;
    assert_eq!(status, StatusCode::OK);
    // Not a page image; not a hash.
    let (status, _, _) = get(
        &app,
        &key,
        &format!("/api/v1/thumbnails/{}", lpfs::BlobHash::of(b"x")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&app, &key, "/api/v1/thumbnails/not-a-hash").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
