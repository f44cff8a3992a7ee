//! The native API's contract: every `/api/v1` route of the route table is in the OpenAPI
//! document with the same method and access, and nothing else is; the document and its docs page
//! are served.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use server::auth::Access;
use server::{AppState, ServerConfig, route_table, router};
use tower::ServiceExt;

fn document() -> serde_json::Value {
    serde_json::from_str(server::api_doc::document()).expect("the document is JSON")
}

/// The scope a route's access rule is written as in the document.
fn scope(access: Access) -> Option<&'static str> {
    match access {
        Access::Public => None,
        Access::Read => Some("read"),
        Access::Own => Some("own"),
        Access::Edit => Some("edit"),
        Access::Admin => Some("admin"),
    }
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD)
}

#[test]
fn every_api_route_is_in_the_document_with_its_access() {
    let doc = document();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    let table: Vec<_> = route_table()
        .into_iter()
        .filter(|(_, p, _)| p.starts_with("/api/v1/"))
        .collect();
    assert!(table.len() > 50, "{} API routes", table.len());
    for (method, path, access) in &table {
        let op = paths
            .get(*path)
            .and_then(|item| item.get(method.as_str().to_lowercase()))
            .unwrap_or_else(|| panic!("{method} {path} is not in the document"));
        let security = op["security"].as_array().cloned().unwrap_or_default();
        if !is_safe(method) {
            // Any change may be refused as coming from another site.
            assert!(op["responses"].get("403").is_some(), "{method} {path}");
        }
        let Some(scope) = scope(*access) else {
            assert!(
                security.is_empty(),
                "{method} {path} is public but the document asks for {security:?}"
            );
            continue;
        };
        let schemes: Vec<&str> = security
            .iter()
            .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
            .collect();
        assert!(
            schemes.contains(&"apiKey") && schemes.contains(&"session"),
            "{method} {path}: {security:?}"
        );
        for requirement in &security {
            for (scheme, scopes) in requirement.as_object().unwrap() {
                let scopes: Vec<&str> = scopes
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect();
                if scheme == "csrf" {
                    assert!(scopes.is_empty(), "{method} {path}");
                    continue;
                }
                assert_eq!(scopes, [scope], "{method} {path}: {scheme}");
            }
            // A change made with the session cookie carries the CSRF token as well.
            let with_session = requirement.get("session").is_some();
            assert_eq!(
                with_session && requirement.get("csrf").is_some(),
                with_session && !is_safe(method),
                "{method} {path}: {requirement}"
            );
        }
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.contains_key("401") && responses.contains_key("403"),
            "{method} {path}: the gate's answers are documented"
        );
    }
    // And the document describes nothing the server does not have.
    for (path, item) in paths {
        for (method, _) in item.as_object().unwrap() {
            if ["parameters", "summary", "description"].contains(&method.as_str()) {
                continue;
            }
            assert!(
                table
                    .iter()
                    .any(|(m, p, _)| p == path && m.as_str().eq_ignore_ascii_case(method)),
                "{method} {path} is documented but not routed"
            );
        }
    }
    // Every error code is listed once, in the error body's schema.
    let codes = &doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"];
    for code in [
        "gallery-not-found",
        "tag-not-found",
        "job-not-found",
        "user-not-found",
    ] {
        assert!(
            codes.as_array().unwrap().iter().any(|c| c == code),
            "{code}"
        );
    }
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let response = app
        .clone()
        .oneshot(
            Request::builder()
                .uri(uri)
                .header(header::HOST, "panda.test")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, body.to_vec())
}

#[tokio::test]
async fn the_document_and_its_docs_page_are_served_to_anyone() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    let state = AppState::new(store, db);
    let app = router(state, &ServerConfig::default())
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 5000))));
    let (status, content_type, body) = get(&app, "/api/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let served: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served, document());

    let (status, _, _) = get(&app, "/api/docs").await;
    assert!(status.is_redirection(), "{status}");
    let (status, content_type, body) = get(&app, "/api/docs/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(String::from_utf8_lossy(&body).contains("swagger-ui"));
    let (status, _, body) = get(&app, "/api/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("/api/v1/openapi.json"));
    let (status, _, body) = get(&app, "/api/docs/nothing-here.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["code"], "asset-not-found");
}
