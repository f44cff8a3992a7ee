//! `GET /api/v1/search` and `/api/v1/tags/suggest`: the shared index over HTTP, current after
//! every write, with positioned errors for bad queries.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use db::{TagName, TagSource};
use http_body_util::BodyExt;
use server::{AppState, ServerConfig, router};
use tower::ServiceExt;

async fn get_json(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let req = Request::get(uri)
        .header("authorization", format!("Bearer {}", KEY.get().unwrap()))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn titles(v: &serde_json::Value) -> Vec<String> {
    v["galleries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn search_answers_like_the_index_and_sees_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    library::synth::fill(&db, store.as_ref(), 300, 100, 7, |_| {}).unwrap();
    let live = Arc::new(search::Live::build(db.clone()).unwrap());
    let admin = db
        .accounts()
        .create_user("admin", "unused", db::Role::Admin)
        .unwrap();
    let (_, key) = server::auth::new_api_key(&db, admin.id, "tests", db::KeyScope::Read).unwrap();
    KEY.set(key).unwrap();
    let app = router(
        AppState {
            search: Some(live.clone()),
            ..AppState::new(store.clone(), db.clone())
        },
        &ServerConfig::default(),
    );

    // The same galleries, in the same order, as the index answers directly.
    let popular = db
        .tags()
        .counts()
        .unwrap()
        .into_iter()
        .max_by_key(|c| c.1)
        .unwrap()
        .0;
    let q = format!("{}:\"{}\"$ sort:title", popular.namespace, popular.name);
    let direct = live
        .search(
            &q,
            search::Asker {
                admin: true,
                user: Some(admin.id),
            },
            0,
            20,
        )
        .unwrap();
    assert!(direct.total > 1);
    let (status, body) = get_json(
        &app,
        &format!("/api/v1/search?q={}&limit=20", urlencode(&q)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], direct.total);
    // Galleries are named by their public ids only: no internal row id leaves the server.
    let public: Vec<&str> = body["galleries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert!(g.get("id").is_none(), "an internal id in {g}");
            g["public_id"].as_str().unwrap()
        })
        .collect();
    let expected: Vec<String> = db
        .galleries()
        .summaries(&direct.ids)
        .unwrap()
        .into_iter()
        .map(|g| g.public_id)
        .collect();
    assert_eq!(public, expected);
    let ids = direct.ids.clone();
    let t = titles(&body);
    let mut sorted = t.clone();
    sorted.sort_by_key(|s| s.to_lowercase());
    assert_eq!(t, sorted, "sorted by title");

    // A write shows up in the next search, without a rebuild.
    let first = db.galleries().summaries(&ids[..1]).unwrap().remove(0);
    let marker = TagName::parse("misc:search-api-marker").unwrap();
    let (_, body) = get_json(&app, "/api/v1/search?q=misc:search-api-marker").await;
    assert_eq!(body["total"], 0);
    db.tags()
        .add(&first.public_id, &[marker], TagSource::User)
        .unwrap();
    let (_, body) = get_json(&app, "/api/v1/search?q=misc:search-api-marker").await;
    assert_eq!(body["total"], 1);
    assert_eq!(titles(&body), std::slice::from_ref(&first.title));
    db.galleries()
        .set_titles(&first.public_id, "Zebra Crossing Special", "")
        .unwrap();
    let (_, body) = get_json(&app, "/api/v1/search?q=zebra%20crossing").await;
    assert_eq!(titles(&body), ["Zebra Crossing Special"]);
    db.galleries().trash(&first.public_id).unwrap();
    let (_, body) = get_json(&app, "/api/v1/search?q=zebra").await;
    assert_eq!(body["total"], 0);

    // Paging: offset and limit over the same total.
    let (_, all) = get_json(&app, "/api/v1/search?q=&limit=500").await;
    let (_, page) = get_json(&app, "/api/v1/search?q=&offset=10&limit=5").await;
    assert_eq!(all["total"], page["total"]);
    assert_eq!(titles(&page), titles(&all)[10..15]);

    // Bad queries: a clear error with the position.
    let (status, body) = get_json(&app, "/api/v1/search?q=%28artist%3Aalice").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "bad-query");
    assert!(body["position"].is_u64(), "{body}");

    // Suggestions by prefix, most used first.
    let prefix: String = popular.name.chars().take(2).collect();
    let (status, body) = get_json(
        &app,
        &format!("/api/v1/tags/suggest?q={}", urlencode(&prefix)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let tags = body["tags"].as_array().unwrap();
    assert!(!tags.is_empty());
    let counts: Vec<u64> = tags
        .iter()
        .map(|t| t["galleries"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
