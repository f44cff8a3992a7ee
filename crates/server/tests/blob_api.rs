//! The blob API over the router, without a socket: status codes, headers, ranges, errors.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use lpfs::{BlobStore, Store};
use server::{AppState, ServerConfig, router};
use tower::ServiceExt;

struct App {
    router: Router,
    store: Arc<Store>,
    /// An admin's read-write API key, sent with every request.
    key: String,
    _dir: tempfile::TempDir,
}

fn app_with(config: ServerConfig) -> App {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    let admin = db
        .accounts()
        .create_user("admin", "unused", db::Role::Admin)
        .unwrap();
    let (_, key) =
        server::auth::new_api_key(&db, admin.id, "tests", db::KeyScope::ReadWrite).unwrap();
    let state = AppState {
        lpfs: Some(store.clone()),
        ..AppState::new(store.clone(), db)
    };
    App {
        router: router(state, &config),
        store,
        key,
        _dir: dir,
    }
}

fn app() -> App {
    app_with(ServerConfig::default())
}

async fn send(app: &App, mut req: Request<Body>) -> (Response<Body>, Vec<u8>) {
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Bearer {}", app.key).parse().unwrap(),
    );
    let response = app.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (Response::from_parts(parts, Body::empty()), bytes)
}

fn get(uri: &str) -> axum::http::request::Builder {
    Request::get(uri)
}

async fn put_blob(app: &App, data: &[u8]) -> (StatusCode, serde_json::Value) {
    let (r, body) = send(
        app,
        Request::put("/api/v1/blobs")
            .body(Body::from(data.to_vec()))
            .unwrap(),
    )
    .await;
    (r.status(), serde_json::from_slice(&body).unwrap())
}

/// A plain GET.
async fn fetch(app: &App, uri: &str) -> (Response<Body>, Vec<u8>) {
    send(app, get(uri).body(Body::empty()).unwrap()).await
}

/// A request without a body; answers the status and the JSON error body.
async fn call(app: &App, method: &str, uri: &str) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let (r, bytes) = send(app, req).await;
    (
        r.status(),
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR not really an image but it starts like one";

#[tokio::test]
async fn put_then_get_with_caching_headers() {
    let app = app();
    let (status, body) = put_blob(&app, PNG).await;
    assert_eq!(status, StatusCode::CREATED);
    let hash = body["hash"].as_str().unwrap().to_string();
    assert_eq!(hash, blake3::hash(PNG).to_hex().as_str());
    assert_eq!(body["size"], PNG.len());
    assert_eq!(body["created"], true);
    let (status, again) = put_blob(&app, PNG).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["created"], false);

    let (r, bytes) = fetch(&app, &format!("/api/v1/blobs/{hash}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(bytes, PNG);
    let h = r.headers();
    assert_eq!(h[header::ETAG], format!("\"{hash}\"").as_str());
    assert_eq!(
        h[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(h[header::CONTENT_TYPE], "image/png");
    assert_eq!(h[header::CONTENT_LENGTH], PNG.len().to_string().as_str());
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn head_sends_the_headers_of_get_and_no_body() {
    let app = app();
    let (_, body) = put_blob(&app, PNG).await;
    let uri = format!("/api/v1/blobs/{}", body["hash"].as_str().unwrap());
    let (r, bytes) = send(&app, Request::head(&uri).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(bytes.is_empty());
    assert_eq!(
        r.headers()[header::CONTENT_LENGTH],
        PNG.len().to_string().as_str()
    );
    assert_eq!(r.headers()[header::CONTENT_TYPE], "image/png");
    assert!(r.headers().contains_key(header::ETAG));
    let (r, _) = send(
        &app,
        Request::head(&uri)
            .header(header::RANGE, "bytes=1-2")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()[header::CONTENT_RANGE],
        format!("bytes 1-2/{}", PNG.len()).as_str()
    );
    let missing = format!("/api/v1/blobs/{}", "0".repeat(64));
    let (r, _) = send(&app, Request::head(&missing).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn range_requests() {
    let app = app();
    let data: Vec<u8> = (0..100u8).collect();
    let (_, body) = put_blob(&app, &data).await;
    let uri = format!("/api/v1/blobs/{}", body["hash"].as_str().unwrap());
    let ranged = |range: &'static str| {
        get(&uri)
            .header(header::RANGE, range)
            .body(Body::empty())
            .unwrap()
    };

    let (r, bytes) = send(&app, ranged("bytes=0-0")).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(bytes, vec![0]);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 0-0/100");
    assert_eq!(r.headers()[header::CONTENT_LENGTH], "1");

    let (r, bytes) = send(&app, ranged("bytes=90-")).await;
    assert_eq!(
        (r.status(), bytes),
        (StatusCode::PARTIAL_CONTENT, data[90..].to_vec())
    );
    let (r, bytes) = send(&app, ranged("bytes=-10")).await;
    assert_eq!(
        (r.status(), bytes),
        (StatusCode::PARTIAL_CONTENT, data[90..].to_vec())
    );
    let (r, bytes) = send(&app, ranged("bytes=10-19")).await;
    assert_eq!(
        (r.status(), bytes),
        (StatusCode::PARTIAL_CONTENT, data[10..20].to_vec())
    );
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 10-19/100");
    let (r, bytes) = send(&app, ranged("bytes=50-1000")).await;
    assert_eq!(
        (r.status(), bytes),
        (StatusCode::PARTIAL_CONTENT, data[50..].to_vec())
    );

    for unsatisfiable in ["bytes=100-", "bytes=100-200", "bytes=-0"] {
        let (r, bytes) = send(&app, ranged(unsatisfiable)).await;
        assert_eq!(
            r.status(),
            StatusCode::RANGE_NOT_SATISFIABLE,
            "{unsatisfiable}"
        );
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */100");
        assert_eq!(json(&bytes)["code"], "range-not-satisfiable");
    }
    // Ignored ranges get the whole blob.
    for ignored in ["bytes=0-1,5-6", "bytes=5-2", "lines=1-2", "bytes=x-y"] {
        let (r, bytes) = send(&app, ranged(ignored)).await;
        assert_eq!(
            (r.status(), bytes.len()),
            (StatusCode::OK, 100),
            "{ignored}"
        );
    }
    // If-Range with another validator: the whole blob.
    let req = get(&uri)
        .header(header::RANGE, "bytes=0-0")
        .header(header::IF_RANGE, "\"other\"")
        .body(Body::empty());
    let (r, bytes) = send(&app, req.unwrap()).await;
    assert_eq!((r.status(), bytes.len()), (StatusCode::OK, 100));
}

#[tokio::test]
async fn conditional_get_answers_not_modified() {
    let app = app();
    let (_, body) = put_blob(&app, b"cache me").await;
    let hash = body["hash"].as_str().unwrap();
    let uri = format!("/api/v1/blobs/{hash}");
    for tag in [
        format!("\"{hash}\""),
        format!("W/\"{hash}\""),
        format!("\"x\", \"{hash}\""),
        "*".to_string(),
    ] {
        let req = get(&uri)
            .header(header::IF_NONE_MATCH, tag.as_str())
            .body(Body::empty())
            .unwrap();
        let (r, bytes) = send(&app, req).await;
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{tag}");
        assert!(bytes.is_empty());
        assert!(r.headers().contains_key(header::ETAG));
    }
    let req = get(&uri)
        .header(header::IF_NONE_MATCH, "\"other\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.0.status(), StatusCode::OK);
}

#[tokio::test]
async fn unknown_and_malformed_hashes() {
    let app = app();
    let (r, bytes) = send(
        &app,
        get(&format!("/api/v1/blobs/{}", "ab".repeat(32)))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(&bytes)["code"], "blob-not-found");
    for bad in [
        "abc",
        "zz".repeat(32).as_str(),
        "%2e%2e%2fetc%2fpasswd",
        &"a".repeat(65),
    ] {
        let (r, bytes) = fetch(&app, &format!("/api/v1/blobs/{bad}")).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(json(&bytes)["code"], "malformed-hash");
    }
}

#[tokio::test]
async fn the_empty_blob() {
    let app = app();
    let (_, body) = put_blob(&app, b"").await;
    let uri = format!("/api/v1/blobs/{}", body["hash"].as_str().unwrap());
    let (r, bytes) = fetch(&app, &uri).await;
    assert_eq!((r.status(), bytes.len()), (StatusCode::OK, 0));
    assert_eq!(r.headers()[header::CONTENT_LENGTH], "0");
    let (r, _) = send(
        &app,
        get(&uri)
            .header(header::RANGE, "bytes=0-")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn oversized_bodies_unknown_routes_and_wrong_methods_get_json_errors() {
    let app = app_with(ServerConfig {
        max_upload_bytes: 1000,
    });
    let (r, bytes) = send(
        &app,
        Request::put("/api/v1/blobs")
            .body(Body::from(vec![0u8; 1001]))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json(&bytes)["code"], "payload-too-large");
    assert_eq!(app.store.stats().blobs, 0);
    let (status, body) = call(&app, "GET", "/api/v1/nothing-here").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("route-not-found"))
    );
    let (status, body) = call(&app, "DELETE", "/api/v1/blobs").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method-not-allowed"))
    );
}

#[tokio::test]
async fn a_damaged_blob_is_an_error_not_bytes() {
    use std::os::unix::fs::FileExt;
    let app = app();
    let data = vec![7u8; 4000];
    let hash = app.store.put(&data).unwrap().hash;
    let loc = app.store.locate(&hash).unwrap().unwrap();
    let vol = std::fs::OpenOptions::new()
        .write(true)
        .open(app.store.dir().join("00000001.vol"))
        .unwrap();
    vol.write_all_at(&[8], loc.offset + 10).unwrap();
    let (r, bytes) = fetch(&app, &format!("/api/v1/blobs/{hash}")).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = json(&bytes);
    assert_eq!(body["code"], "blob-damaged");
    assert!(
        !body["error"].as_str().unwrap().contains("volume"),
        "internals leaked: {body}"
    );
}

#[tokio::test]
async fn stats_and_health() {
    let app = app();
    put_blob(&app, b"one").await;
    let (r, bytes) = fetch(&app, "/api/v1/store/stats").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(&bytes)["blobs"], 1);
    let (r, bytes) = fetch(&app, "/api/v1/health").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json(&bytes)["status"], "ok");
}

#[tokio::test]
async fn online_compaction_over_http() {
    let app = app_with(ServerConfig::default());
    let keep = app.store.put(b"keep me").unwrap().hash;
    let (status, body) = call(&app, "POST", "/api/v1/store/compact?threshold=0.5").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["volumes_compacted"].is_array());
    for bad in ["7", "lots", "-1"] {
        let (status, body) = call(
            &app,
            "POST",
            &format!("/api/v1/store/compact?threshold={bad}"),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad-request")),
            "{bad}"
        );
    }
    assert!(app.store.get(&keep).unwrap().is_some());
}
