//! Accounts and security over the router: every state-changing route refuses strangers and
//! readers; CSRF; sign-in throttling; sessions (logout, expiry, restarts, password changes); API
//! key scopes and revocation; first-run setup; per-user state kept apart; security headers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use db::{KeyScope, Role};
use http_body_util::BodyExt;
use server::auth::{Access, AuthConfig};
use server::{AppState, ServerConfig, route_table, router};
use tower::ServiceExt;

struct TestApp {
    router: Router,
    db: Arc<db::Db>,
    store: Arc<lpfs::Store>,
    live: Arc<search::Live>,
    dir: tempfile::TempDir,
}

/// How a request proves who sends it.
#[derive(Clone)]
enum Auth {
    Nobody,
    Key(String),
    Session {
        cookie: String,
        csrf: String,
    },
    /// A session's cookie without its CSRF token.
    CookieOnly(String),
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: serde_json::Value,
}

const LOCAL: [u8; 4] = [127, 0, 0, 1];
const REMOTE: [u8; 4] = [203, 0, 113, 9];

fn app_with(auth: AuthConfig, from: [u8; 4]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    library::synth::fill(&db, store.as_ref(), 20, 20, 3, |_| {}).unwrap();
    let live = Arc::new(search::Live::build(db.clone()).unwrap());
    let router = build(&db, &store, &live, &auth, from, dir.path());
    TestApp {
        router,
        db,
        store,
        live,
        dir,
    }
}

fn build(
    db: &Arc<db::Db>,
    store: &Arc<lpfs::Store>,
    live: &Arc<search::Live>,
    auth: &AuthConfig,
    from: [u8; 4],
    dir: &std::path::Path,
) -> Router {
    let importer = library::import::Importer::new(store.clone(), db.clone());
    let state = AppState {
        lpfs: Some(store.clone()),
        importer: Some(Arc::new(importer)),
        search: Some(live.clone()),
        auth: Arc::new(auth.clone()),
        upload_dir: Some(dir.join("uploads").into()),
        ..AppState::new(store.clone(), db.clone())
    };
    router(state, &ServerConfig::default()).layer(MockConnectInfo(SocketAddr::from((from, 5000))))
}

fn app() -> TestApp {
    app_with(AuthConfig::default(), LOCAL)
}

impl TestApp {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        auth: &Auth,
        body: Option<serde_json::Value>,
    ) -> Answer {
        self.send_to(&self.router, method, uri, auth, body, &[])
            .await
    }

    async fn send_to(
        &self,
        router: &Router,
        method: Method,
        uri: &str,
        auth: &Auth,
        body: Option<serde_json::Value>,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "panda.test");
        match auth {
            Auth::Nobody => {}
            Auth::Key(k) => req = req.header(header::AUTHORIZATION, format!("Bearer {k}")),
            Auth::Session { cookie, csrf } => {
                req = req
                    .header(header::COOKIE, cookie)
                    .header("x-csrf-token", csrf)
            }
            Auth::CookieOnly(cookie) => req = req.header(header::COOKIE, cookie),
        }
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let response = router.clone().oneshot(req).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            json: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        }
    }

    fn user(&self, name: &str, role: Role) -> (i64, String) {
        let hash = server::auth::hash_password(&format!("{name}-password")).unwrap();
        let u = self.db.accounts().create_user(name, &hash, role).unwrap();
        let (_, key) =
            server::auth::new_api_key(&self.db, u.id, "test", KeyScope::ReadWrite).unwrap();
        (u.id, key)
    }

    async fn login(&self, name: &str) -> Auth {
        let a = self
            .send(
                Method::POST,
                "/api/v1/login",
                &Auth::Nobody,
                Some(serde_json::json!({ "name": name, "password": format!("{name}-password") })),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.json);
        session_of(&a)
    }

    fn gallery(&self) -> String {
        let ids = self
            .live
            .search("", search::Asker::default(), 0, 1)
            .unwrap()
            .ids;
        self.db.galleries().summaries(&ids).unwrap()[0]
            .public_id
            .clone()
    }
}

fn session_of(a: &Answer) -> Auth {
    let set = a.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    Auth::Session {
        cookie,
        csrf: a.json["csrf"].as_str().unwrap().to_string(),
    }
}

/// A concrete URI for a route pattern.
fn concrete(path: &str, gallery: &str) -> String {
    // Ids of nothing that exists, so that a call that got through would not even find its
    // target (galleries excepted: those must exist for the handler to try).
    path.replace(
        "{id}",
        if path.starts_with("/api/v1/galleries") {
            gallery
        } else {
            "999999"
        },
    )
    .replace("{gallery}", gallery)
    .replace("{name}", "someone")
    .replace("{hash}", &lpfs::BlobHash::of(b"x").to_string())
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD)
}

#[tokio::test]
async fn every_state_changing_route_refuses_strangers_and_readers() {
    let app = app();
    let (_, reader_key) = app.user("reader", Role::Reader);
    let (_, editor_key) = app.user("editor", Role::Editor);
    let gallery = app.gallery();
    let before = app.db.galleries().get(&gallery).unwrap();
    let table = route_table();
    assert!(table.len() > 30, "the table is the whole router");
    // The only routes strangers may change something through: signing in and out, and setup.
    let open: Vec<&str> = table
        .iter()
        .filter(|(m, _, a)| !is_safe(m) && *a == Access::Public)
        .map(|(_, p, _)| *p)
        .collect();
    assert_eq!(
        open,
        [
            "/api/v1/login",
            "/api/v1/logout",
            "/api/v1/setup",
            "/login",
            "/logout",
            "/setup"
        ]
    );
    for (method, path, access) in &table {
        let uri = concrete(path, &gallery);
        let body = Some(serde_json::json!({}));
        if is_safe(method) {
            // Reading is for signed-in users unless anonymous reading is on.
            if *access != Access::Public {
                let a = app.send(method.clone(), &uri, &Auth::Nobody, None).await;
                if path.starts_with("/api/") {
                    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{method} {path}");
                } else {
                    // Pages lead to the sign-in page instead.
                    assert_eq!(a.status, StatusCode::SEE_OTHER, "{method} {path}");
                    let to = a.headers[header::LOCATION].to_str().unwrap();
                    assert!(to.starts_with("/login?next="), "{method} {path}: {to}");
                }
            }
            continue;
        }
        assert_ne!(
            *access,
            Access::Read,
            "{method} {path}: a change needs more than Read"
        );
        if *access == Access::Public {
            continue;
        }
        let a = app
            .send(method.clone(), &uri, &Auth::Nobody, body.clone())
            .await;
        assert_eq!(
            a.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} anonymous: {}",
            a.json
        );
        assert_eq!(a.json["code"], "sign-in-required");
        let a = app
            .send(
                method.clone(),
                &uri,
                &Auth::Key(reader_key.clone()),
                body.clone(),
            )
            .await;
        match access {
            Access::Edit | Access::Admin => {
                assert_eq!(
                    a.status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} as a reader: {}",
                    a.json
                );
            }
            // A reader's own state: allowed (whatever the handler then says of the empty body).
            _ => assert!(
                a.status != StatusCode::UNAUTHORIZED && a.status != StatusCode::FORBIDDEN,
                "{method} {path} as a reader: {}",
                a.status
            ),
        }
        if *access == Access::Admin {
            let a = app
                .send(
                    method.clone(),
                    &uri,
                    &Auth::Key(editor_key.clone()),
                    body.clone(),
                )
                .await;
            assert_eq!(
                a.status,
                StatusCode::FORBIDDEN,
                "{method} {path} as an editor"
            );
        }
    }
    // Nothing the refused calls aimed at changed.
    let after = app.db.galleries().get(&gallery).unwrap();
    assert_eq!(before, after);
    assert_eq!(app.db.accounts().users().unwrap().len(), 2);
}

#[tokio::test]
async fn a_reader_reads_but_cannot_edit() {
    let app = app();
    let (_, key) = app.user("reader", Role::Reader);
    let g = app.gallery();
    let reader = Auth::Key(key);
    let a = app
        .send(
            Method::GET,
            &format!("/api/v1/galleries/{g}"),
            &reader,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    // The gallery's view: its public id, never the internal row id.
    assert_eq!(a.json["public_id"], g.as_str(), "{}", a.json);
    assert!(a.json.get("id").is_none(), "{}", a.json);
    let a = app
        .send(Method::GET, "/api/v1/search?q=", &reader, None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = app
        .send(
            Method::PUT,
            &format!("/api/v1/galleries/{g}/tags"),
            &reader,
            Some(serde_json::json!({ "add": ["misc:x"] })),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json["code"], "forbidden");
}

#[tokio::test]
async fn anonymous_reading_when_enabled_is_reading_only() {
    let app = app_with(
        AuthConfig {
            anonymous_read: true,
            ..AuthConfig::default()
        },
        LOCAL,
    );
    let g = app.gallery();
    let a = app
        .send(Method::GET, "/api/v1/search?q=", &Auth::Nobody, None)
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = app
        .send(
            Method::POST,
            &format!("/api/v1/galleries/{g}/trash"),
            &Auth::Nobody,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = app
        .send(Method::GET, "/api/v1/account", &Auth::Nobody, None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn csrf_a_cross_site_post_is_refused_and_the_apps_own_requests_work() {
    let app = app();
    app.user("ed", Role::Editor);
    let session = app.login("ed").await;
    let Auth::Session { cookie, csrf } = session.clone() else {
        unreachable!()
    };
    let g = app.gallery();
    let tags = format!("/api/v1/galleries/{g}/tags");
    let change = Some(serde_json::json!({ "add": ["misc:csrf-test"] }));
    // The cookie alone (what a forged form on another site sends) is not enough.
    let a = app
        .send(
            Method::PUT,
            &tags,
            &Auth::CookieOnly(cookie.clone()),
            change.clone(),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json["code"], "csrf");
    // Nor a wrong token.
    let wrong = Auth::Session {
        cookie: cookie.clone(),
        csrf: "wrong".into(),
    };
    let a = app.send(Method::PUT, &tags, &wrong, change.clone()).await;
    assert_eq!(a.json["code"], "csrf");
    // A request from another origin is refused even with the token.
    let a = app
        .send_to(
            &app.router,
            Method::PUT,
            &tags,
            &session,
            change.clone(),
            &[("origin", "https://evil.example")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.json["code"], "cross-site");
    assert!(
        app.db
            .tags()
            .of_gallery(&g)
            .unwrap()
            .iter()
            .all(|t| t.tag.name != "csrf-test")
    );
    // The app's own request: same origin, with the token.
    let a = app
        .send_to(
            &app.router,
            Method::PUT,
            &tags,
            &session,
            change.clone(),
            &[
                ("origin", "http://panda.test"),
                ("sec-fetch-site", "same-origin"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    assert!(
        app.db
            .tags()
            .of_gallery(&g)
            .unwrap()
            .iter()
            .any(|t| t.tag.name == "csrf-test")
    );
    // A plain HTML form carries the token as a field.
    let req = Request::post(format!("/api/v1/galleries/{g}/trash"))
        .header(header::HOST, "panda.test")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("_csrf={csrf}")))
        .unwrap();
    let response = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(app.db.galleries().get(&g).unwrap().trashed_at.is_some());
    // API keys are not cookies: no CSRF token needed.
    let (_, key) = app.user("ed2", Role::Editor);
    let a = app
        .send(
            Method::POST,
            &format!("/api/v1/galleries/{g}/restore"),
            &Auth::Key(key),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_and_per_address() {
    let app = app();
    app.user("victim", Role::Reader);
    let attempt = |name: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.send(
                Method::POST,
                "/api/v1/login",
                &Auth::Nobody,
                Some(serde_json::json!({ "name": name, "password": password })),
            )
            .await
        }
    };
    for _ in 0..5 {
        let a = attempt("victim", "guess-guess").await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.json["code"], "wrong-credentials");
    }
    // Now even the right password waits, and the answer says how long.
    let a = attempt("victim", "victim-password").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.json);
    assert_eq!(a.json["code"], "too-many-attempts");
    assert!(a.headers.contains_key(header::RETRY_AFTER));
    assert!(a.json["error"].as_str().unwrap().contains("try again in"));
    // The address is throttled too: another account from here waits as well.
    app.user("other", Role::Reader);
    let a = attempt("other", "other-password").await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    // After the wait, the right password works and clears the count.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = attempt("victim", "victim-password").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    // Unknown names count against the address the same way.
    let a = attempt("nobody-at-all", "whatever-1").await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

/// Throttling per account made a stranger's failed sign-ins lock the owner out: their right
/// password answered 429 from another address. Now the owner's address, which has not failed,
/// gets in however many failures strangers pile up, while each stranger's address is slowed.
#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out() {
    let app = app_with(AuthConfig::default(), REMOTE);
    app.user("owner", Role::Reader);
    let owner_router = build(
        &app.db,
        &app.store,
        &app.live,
        &AuthConfig::default(),
        LOCAL,
        app.dir.path(),
    );
    let login =
        |password: &'static str| Some(serde_json::json!({ "name": "owner", "password": password }));
    // The stranger guesses until slowed, and stays slowed.
    let mut refused = 0;
    for _ in 0..8 {
        let a = app
            .send(
                Method::POST,
                "/api/v1/login",
                &Auth::Nobody,
                login("guess-guess"),
            )
            .await;
        match a.status {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("{other}: {}", a.json),
        }
    }
    assert!(refused >= 3, "the stranger is slowed: {refused} refused");
    // Many more failures against the account, from many other addresses (past its ceiling).
    for i in 0..30u8 {
        server::auth::sign_in(&app.db, "owner", "guess-guess", [198, 51, 100, i].into())
            .unwrap_err();
    }
    // The owner, from an address that has not failed, gets in at once.
    let a = app
        .send_to(
            &owner_router,
            Method::POST,
            "/api/v1/login",
            &Auth::Nobody,
            login("owner-password"),
            &[],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    // An address that failed on the account is held to the account's ceiling, even with the
    // right password: a stranger cannot use the owner's password-less window.
    let a = app
        .send(
            Method::POST,
            "/api/v1/login",
            &Auth::Nobody,
            login("owner-password"),
        )
        .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.json);
    let err = server::auth::sign_in(&app.db, "owner", "owner-password", [198, 51, 100, 7].into())
        .unwrap_err();
    assert_eq!(
        server::error::ApiError::from(err).code(),
        "too-many-attempts"
    );
}

#[tokio::test]
async fn sessions_end_on_logout_expire_and_survive_restarts() {
    let app = app_with(
        AuthConfig {
            session_idle: Duration::from_secs(2),
            ..AuthConfig::default()
        },
        LOCAL,
    );
    app.user("alice", Role::Reader);
    let s1 = app.login("alice").await;
    let a = app.send(Method::GET, "/api/v1/account", &s1, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["name"], "alice");
    // A new server over the same database (a restart) knows the session.
    let restarted = build(
        &app.db,
        &app.store,
        &app.live,
        &AuthConfig::default(),
        LOCAL,
        app.dir.path(),
    );
    let a = app
        .send_to(&restarted, Method::GET, "/api/v1/account", &s1, None, &[])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    // Logout ends it on the server: the cookie, kept, no longer works.
    let a = app.send(Method::POST, "/api/v1/logout", &s1, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert!(
        a.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let a = app.send(Method::GET, "/api/v1/account", &s1, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    // An unused session expires.
    let s2 = app.login("alice").await;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let a = app.send(Method::GET, "/api/v1/account", &s2, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions() {
    let app = app();
    app.user("bob", Role::Reader);
    let laptop = app.login("bob").await;
    let phone = app.login("bob").await;
    let a = app
        .send(
            Method::POST,
            "/api/v1/account/password",
            &laptop,
            Some(serde_json::json!({ "current": "wrong-password", "new": "new-password-1" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = app
        .send(
            Method::POST,
            "/api/v1/account/password",
            &laptop,
            Some(serde_json::json!({ "current": "bob-password", "new": "new-password-1" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.json);
    let renewed = session_of(&a);
    assert_eq!(
        app.send(Method::GET, "/api/v1/account", &phone, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(Method::GET, "/api/v1/account", &laptop, None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.send(Method::GET, "/api/v1/account", &renewed, None)
            .await
            .status,
        StatusCode::OK
    );
    let a = app
        .send(
            Method::POST,
            "/api/v1/login",
            &Auth::Nobody,
            Some(serde_json::json!({ "name": "bob", "password": "new-password-1" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn api_keys_have_scopes_and_can_be_revoked() {
    let app = app();
    app.user("carol", Role::Editor);
    let session = app.login("carol").await;
    let make = |scope: &'static str| {
        let app = &app;
        let session = session.clone();
        async move {
            let a = app
                .send(
                    Method::POST,
                    "/api/v1/account/keys",
                    &session,
                    Some(serde_json::json!({ "name": scope, "scope": scope })),
                )
                .await;
            assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
            (
                a.json["id"].as_i64().unwrap(),
                a.json["key"].as_str().unwrap().to_string(),
            )
        }
    };
    let (read_id, read_key) = make("read").await;
    let (_, write_key) = make("read-write").await;
    // Listed without their secrets.
    let a = app
        .send(Method::GET, "/api/v1/account/keys", &session, None)
        .await;
    assert_eq!(a.json["keys"].as_array().unwrap().len(), 3);
    assert!(!a.json.to_string().contains(&read_key));
    let g = app.gallery();
    let trash = format!("/api/v1/galleries/{g}/trash");
    let read = Auth::Key(read_key.clone());
    assert_eq!(
        app.send(Method::GET, "/api/v1/search?q=", &read, None)
            .await
            .status,
        StatusCode::OK
    );
    let a = app.send(Method::POST, &trash, &read, None).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert!(app.db.galleries().get(&g).unwrap().trashed_at.is_none());
    // LANraragi clients send the key base64-encoded.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&write_key);
    let a = app.send(Method::POST, &trash, &Auth::Key(b64), None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    // Revoked: refused, and said so.
    let a = app
        .send(
            Method::DELETE,
            &format!("/api/v1/account/keys/{read_id}"),
            &session,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app
        .send(Method::GET, "/api/v1/search?q=", &read, None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json["code"], "bad-api-key");
    // Another user cannot revoke carol's keys.
    let (_, dave) = app.user("dave", Role::Admin);
    let a = app
        .send(
            Method::DELETE,
            "/api/v1/account/keys/1",
            &Auth::Key(dave),
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json["code"], "api-key-not-found", "{}", a.json);
}

#[tokio::test]
async fn first_run_setup_only_from_this_machine_and_only_once() {
    let remote = app_with(AuthConfig::default(), REMOTE);
    let body = Some(serde_json::json!({ "name": "root", "password": "root-password" }));
    let a = remote
        .send(Method::POST, "/api/v1/setup", &Auth::Nobody, body.clone())
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.json);
    assert!(!remote.db.accounts().has_admin().unwrap());
    let a = remote
        .send(Method::GET, "/api/v1/session", &Auth::Nobody, None)
        .await;
    assert_eq!(a.json["setup_needed"], true);
    assert_eq!(a.json["setup_allowed_here"], false);

    let local = app();
    let a = local
        .send(Method::POST, "/api/v1/setup", &Auth::Nobody, body.clone())
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.json);
    let admin = session_of(&a);
    let a = local.send(Method::GET, "/api/v1/users", &admin, None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json["users"][0]["role"], "admin");
    let again = Some(serde_json::json!({ "name": "root2", "password": "root-password" }));
    let a = local
        .send(Method::POST, "/api/v1/setup", &Auth::Nobody, again)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(local.db.accounts().users().unwrap().len(), 1);
}

#[tokio::test]
async fn progress_favorites_and_collections_belong_to_each_user() {
    let app = app();
    let (_, a_key) = app.user("ann", Role::Reader);
    let (_, b_key) = app.user("ben", Role::Reader);
    let (ann, ben) = (Auth::Key(a_key), Auth::Key(b_key));
    let all = app
        .live
        .search("", search::Asker::default(), 0, 3)
        .unwrap()
        .ids;
    let g: Vec<String> = app
        .db
        .galleries()
        .summaries(&all)
        .unwrap()
        .into_iter()
        .map(|s| s.public_id)
        .collect();
    let a = app
        .send(
            Method::PUT,
            &format!("/api/v1/galleries/{}/favorite", g[0]),
            &ann,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app
        .send(
            Method::PUT,
            &format!("/api/v1/galleries/{}/progress", g[1]),
            &ann,
            Some(serde_json::json!({ "page": 3 })),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{}", a.json);
    let a = app
        .send(
            Method::POST,
            "/api/v1/collections",
            &ann,
            Some(serde_json::json!({ "name": "To Read" })),
        )
        .await;
    let list = a.json["id"].as_i64().unwrap();
    let a = app
        .send(
            Method::PUT,
            &format!("/api/v1/collections/{list}/galleries/{}", g[2]),
            &ann,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app
        .send(
            Method::POST,
            "/api/v1/collections",
            &ann,
            Some(serde_json::json!({ "name": "faves", "query": "favorite" })),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let ids = |a: &Answer| -> Vec<String> {
        a.json["galleries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["public_id"].as_str().unwrap().to_string())
            .collect()
    };
    let q = |who: &Auth, q: &str| {
        let app = &app;
        let who = who.clone();
        let uri = format!(
            "/api/v1/search?q={}&limit=100",
            q.replace(' ', "%20")
                .replace(':', "%3A")
                .replace('"', "%22")
        );
        async move { app.send(Method::GET, &uri, &who, None).await }
    };
    assert_eq!(ids(&q(&ann, "favorite").await), [g[0].clone()]);
    assert_eq!(ids(&q(&ann, "read").await), [g[1].clone()]);
    assert_eq!(ids(&q(&ann, r#"in:"to read""#).await), [g[2].clone()]);
    assert_eq!(ids(&q(&ann, "in:faves").await), [g[0].clone()]);
    let unread = q(&ann, "unread").await;
    assert_eq!(unread.json["total"], 19);
    assert!(!ids(&unread).contains(&g[1]));
    // Ben sees none of Ann's state.
    assert!(ids(&q(&ben, "favorite").await).is_empty());
    assert!(ids(&q(&ben, "read").await).is_empty());
    assert!(ids(&q(&ben, r#"in:"to read""#).await).is_empty());
    assert_eq!(q(&ben, "unread").await.json["total"], 20);
    let a = app
        .send(
            Method::GET,
            &format!("/api/v1/galleries/{}/progress", g[1]),
            &ben,
            None,
        )
        .await;
    assert_eq!(a.json["progress"], serde_json::Value::Null);
    let a = app
        .send(
            Method::GET,
            &format!("/api/v1/galleries/{}/progress", g[1]),
            &ann,
            None,
        )
        .await;
    assert_eq!(a.json["progress"]["page"], 3);
    let a = app
        .send(Method::GET, "/api/v1/collections", &ben, None)
        .await;
    assert_eq!(a.json["collections"].as_array().unwrap().len(), 0);
    // Ben cannot put galleries in, or remove, Ann's collection.
    let a = app
        .send(
            Method::PUT,
            &format!("/api/v1/collections/{list}/galleries/{}", g[0]),
            &ben,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .send(
            Method::DELETE,
            &format!("/api/v1/collections/{list}"),
            &ben,
            None,
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json["code"], "collection-not-found", "{}", a.json);
    // Un-favoriting shows in the next search.
    app.send(
        Method::DELETE,
        &format!("/api/v1/galleries/{}/favorite", g[0]),
        &ann,
        None,
    )
    .await;
    assert!(ids(&q(&ann, "favorite").await).is_empty());
}

#[tokio::test]
async fn responses_carry_security_headers() {
    let app = app();
    let a = app
        .send(Method::GET, "/api/v1/health", &Auth::Nobody, None)
        .await;
    let csp = a.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
    assert_eq!(a.headers["referrer-policy"], "same-origin");
    // Errors too.
    let a = app
        .send(Method::GET, "/api/v1/account", &Auth::Nobody, None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn server_path_imports_stay_below_the_import_roots() {
    let app = app();
    let (_, key) = app.user("root", Role::Admin);
    let admin = Auth::Key(key);
    let inside = app.dir.path().join("incoming");
    std::fs::create_dir_all(&inside).unwrap();
    let state = |roots: Vec<std::path::PathBuf>| {
        let importer = library::import::Importer::new(app.store.clone(), app.db.clone());
        AppState {
            importer: Some(Arc::new(importer)),
            search: Some(app.live.clone()),
            import_roots: Arc::new(roots),
            ..AppState::new(app.store.clone(), app.db.clone())
        }
    };
    let with_roots = router(state(vec![inside.clone()]), &ServerConfig::default())
        .layer(MockConnectInfo(SocketAddr::from((LOCAL, 1))));
    let post = |path: String| Some(serde_json::json!({ "path": path }));
    for outside in [
        app.dir.path().to_path_buf(),
        inside.join(".."),
        std::path::PathBuf::from("/etc"),
    ] {
        let a = app
            .send_to(
                &with_roots,
                Method::POST,
                "/api/v1/imports",
                &admin,
                post(outside.display().to_string()),
                &[],
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::FORBIDDEN,
            "{}: {}",
            outside.display(),
            a.json
        );
    }
    let a = app
        .send_to(
            &with_roots,
            Method::POST,
            "/api/v1/imports",
            &admin,
            post(inside.display().to_string()),
            &[],
        )
        .await;
    assert_ne!(a.status, StatusCode::FORBIDDEN, "{}", a.json);
    // With no roots configured, nothing on the server's disk can be imported.
    let a = app
        .send(
            Method::POST,
            "/api/v1/imports",
            &admin,
            post(inside.display().to_string()),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
}

async fn form(
    router: &Router,
    uri: &str,
    body: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::post(uri)
        .header(header::HOST, "panda.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    let response = router
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let text = String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (parts.status, parts.headers, text)
}

#[tokio::test]
async fn the_setup_page_works_without_javascript_from_this_machine_only() {
    let remote = app_with(AuthConfig::default(), REMOTE);
    let a = remote
        .send(Method::GET, "/setup", &Auth::Nobody, None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let (status, _, _) = form(
        &remote.router,
        "/setup",
        "name=x&password=pw-pw-pw-pw&again=pw-pw-pw-pw",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!remote.db.accounts().has_admin().unwrap());

    let app = app();
    let req = Request::get("/setup").body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let html = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        html.contains("<form method=\"post\" action=\"/setup\">"),
        "{html}"
    );
    assert!(
        !html.contains("<script") && !html.contains("style="),
        "no inline script or style: {csp}"
    );
    // Mismatched passwords: the form again, with the reason.
    let (status, _, html) = form(
        &app.router,
        "/setup",
        "name=root&password=root-password&again=other-password",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("differ"));
    // A forged form from another site is refused.
    let (status, _, _) = form(
        &app.router,
        "/setup",
        "name=evil&password=evil-password&again=evil-password",
        &[("origin", "https://evil.example")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, headers, html) = form(
        &app.router,
        "/setup",
        "name=%3Cb%3Eroot&password=root-password&again=root-password",
        &[("origin", "http://panda.test")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{html}");
    assert!(
        html.contains("&lt;b&gt;root"),
        "the name is escaped: {html}"
    );
    assert!(
        headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("lp_session=")
    );
    let (status, _, _) = form(
        &app.router,
        "/setup",
        "name=again&password=root-password&again=root-password",
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.db.accounts().users().unwrap().len(), 1);
}

#[tokio::test]
async fn forwarded_headers_count_only_from_trusted_proxies() {
    let body = Some(serde_json::json!({ "name": "root", "password": "root-password" }));
    // Behind a trusted proxy on this machine: the client it names is remote, so no setup; its
    // HTTPS makes the cookie Secure.
    let proxied = app_with(
        AuthConfig {
            trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
            ..AuthConfig::default()
        },
        LOCAL,
    );
    let a = proxied
        .send_to(
            &proxied.router,
            Method::POST,
            "/api/v1/setup",
            &Auth::Nobody,
            body.clone(),
            &[("x-forwarded-for", "203.0.113.7")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.json);
    proxied.user("kim", Role::Reader);
    let a = proxied
        .send_to(
            &proxied.router,
            Method::POST,
            "/api/v1/login",
            &Auth::Nobody,
            Some(serde_json::json!({ "name": "kim", "password": "kim-password" })),
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert!(
        a.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
    // From an untrusted peer the same headers are ignored: a remote client cannot claim to be
    // this machine.
    let remote = app_with(AuthConfig::default(), REMOTE);
    let a = remote
        .send_to(
            &remote.router,
            Method::POST,
            "/api/v1/setup",
            &Auth::Nobody,
            body,
            &[("x-forwarded-for", "127.0.0.1")],
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    remote.user("kim", Role::Reader);
    let a = remote
        .send_to(
            &remote.router,
            Method::POST,
            "/api/v1/login",
            &Auth::Nobody,
            Some(serde_json::json!({ "name": "kim", "password": "kim-password" })),
            &[("x-forwarded-proto", "https")],
        )
        .await;
    assert!(
        !a.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Secure")
    );
}
