//! The web app's pages over the router: sign-in and back, the grid with search and paging, a
//! gallery, the reader, assets; nothing inline for the CSP to refuse, and titles escaped.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt;
use server::{AppState, ServerConfig, router};
use tower::ServiceExt;

struct Site {
    router: axum::Router,
    db: Arc<db::Db>,
    live: Arc<search::Live>,
    _dir: tempfile::TempDir,
}

/// A library of 50 synthetic galleries and one reader.
fn site() -> Site {
    site_of(50, true)
}

/// A library of `galleries` synthetic galleries, with the reader account when `reader`.
fn site_of(galleries: u64, reader: bool) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    library::synth::fill(&db, store.as_ref(), galleries, 50, 9, |_| {}).unwrap();
    if reader {
        let hash = server::auth::hash_password("reader-password").unwrap();
        db.accounts()
            .create_user("reader", &hash, db::Role::Reader)
            .unwrap();
    }
    let live = Arc::new(search::Live::build(db.clone()).unwrap());
    let state = AppState {
        search: Some(live.clone()),
        ..AppState::new(store, db.clone())
    };
    let router = router(state, &ServerConfig::default())
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    Site {
        router,
        db,
        live,
        _dir: dir,
    }
}

async fn get(site: &Site, uri: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(uri).header(header::HOST, "panda.test");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(site, req.body(Body::empty()).unwrap()).await
}

async fn send(site: &Site, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let response = site.router.clone().oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

async fn post_form(
    site: &Site,
    uri: &str,
    body: &str,
    cookie: Option<&str>,
) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::post(uri)
        .header(header::HOST, "panda.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(site, req.body(Body::from(body.to_string())).unwrap()).await
}

async fn sign_in(site: &Site) -> String {
    let (status, headers, _) = post_form(
        site,
        "/login",
        "name=reader&password=reader-password&next=%2Fg%2Fx",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/g/x");
    headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// The public ids of some galleries, in the same order.
fn public_ids(site: &Site, ids: &[i64]) -> Vec<String> {
    site.db
        .galleries()
        .summaries(ids)
        .unwrap()
        .into_iter()
        .map(|g| g.public_id)
        .collect()
}

/// A search for the library's most used tag, exactly.
fn popular_tag_query(site: &Site) -> String {
    let tag = site
        .db
        .tags()
        .counts()
        .unwrap()
        .into_iter()
        .max_by_key(|c| c.1)
        .unwrap()
        .0;
    format!("{}:\"{}\"$", tag.namespace, tag.name)
}

/// No inline script, style or handler for the CSP to refuse.
fn assert_nothing_inline(html: &str) {
    assert!(
        !html.contains("<script>") && !html.contains("<script type=\"module\">"),
        "{html}"
    );
    assert!(
        !html.contains(" style=") && !html.contains("<style"),
        "{html}"
    );
    assert!(
        !html.contains(" onclick=") && !html.contains(" onload="),
        "{html}"
    );
}

#[tokio::test]
async fn signing_in_leads_back_and_out() {
    let site = site();
    let (status, headers, _) = get(&site, "/g/abc?x=1", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login?next=%2Fg%2Fabc%3Fx%3D1");
    let (status, _, html) = get(&site, "/login?next=%2Fg%2Fabc", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("value=\"/g/abc\""), "{html}");
    assert_nothing_inline(&html);
    let (status, _, html) = post_form(
        &site,
        "/login",
        "name=reader&password=wrong-one&next=%2F",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("wrong name or password"), "{html}");
    // Only this site's paths are followed after signing in.
    let (_, headers, _) = post_form(
        &site,
        "/login",
        "name=reader&password=reader-password&next=https%3A%2F%2Fevil.example",
        None,
    )
    .await;
    assert_eq!(headers[header::LOCATION], "/");
    let cookie = sign_in(&site).await;
    let (status, _, html) = get(&site, "/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    // Signing out is a form with the session's token.
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let (status, _, _) = post_form(&site, "/logout", "", Some(&cookie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "no token, no sign-out");
    let (status, headers, _) =
        post_form(&site, "/logout", &format!("_csrf={csrf}"), Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login");
    let (status, _, _) = get(&site, "/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_grid_searches_and_pages() {
    let site = site();
    let cookie = sign_in(&site).await;
    let (status, headers, html) = get(&site, "/", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_nothing_inline(&html);
    assert_eq!(html.matches("class=\"card\"").count(), 40);
    assert!(html.contains("50 galleries"));
    assert!(html.contains("loading=\"lazy\""));
    assert!(
        html.contains("rel=\"next\" href=\"/?q=&page=2\""),
        "numbered pages"
    );
    let (_, _, page2) = get(&site, "/?q=&page=2", Some(&cookie)).await;
    assert_eq!(page2.matches("class=\"card\"").count(), 10);
    // A search: the same galleries the index answers, in its order.
    let q = popular_tag_query(&site);
    let want = site
        .live
        .search(
            &q,
            search::Asker {
                admin: false,
                user: None,
            },
            0,
            40,
        )
        .unwrap();
    let (_, _, html) = get(
        &site,
        &format!("/?q={}", server::web::encode(&q)),
        Some(&cookie),
    )
    .await;
    let ids: Vec<String> = html
        .split("<a class=\"card\" href=\"/g/")
        .skip(1)
        .map(|s| s.split(['"', '?']).next().unwrap().to_string())
        .collect();
    let want_ids = public_ids(&site, &want.ids);
    assert_eq!(ids, want_ids);
    assert!(
        html.contains(&format!("value=\"{}\"", q.replace('"', "&quot;"))),
        "the query stays in the box"
    );
    // A bad query says what and where, in the page.
    let (status, _, html) = get(&site, "/?q=%28unclosed", Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("role=\"alert\"") && html.contains("at character"),
        "{html}"
    );
    let (_, _, html) = get(&site, "/?q=zzzznothing", Some(&cookie)).await;
    assert!(html.contains("Nothing matches"));
}

#[tokio::test]
async fn a_gallery_and_its_reader() {
    let site = site();
    let cookie = sign_in(&site).await;
    let ids = site
        .live
        .search("", search::Asker::default(), 0, 1)
        .unwrap()
        .ids;
    let g = site.db.galleries().summaries(&ids).unwrap().remove(0);
    site.db
        .galleries()
        .set_titles(&g.public_id, "<script>alert(1)</script> & more", "")
        .unwrap();
    let (status, _, html) = get(&site, &format!("/g/{}", g.public_id), Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert_nothing_inline(&html);
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
    assert!(!html.contains("<script>alert"));
    assert!(html.contains(&format!("href=\"/g/{}/read?page=0\"", g.public_id)));
    assert_eq!(html.matches("class=\"tag\"").count(), g.tags.len());
    let pages = site.db.galleries().pages(&g.public_id).unwrap();
    assert_eq!(html.matches("/read?page=").count(), pages.len() + 1);

    let (status, _, html) = get(
        &site,
        &format!("/g/{}/read?page=0", g.public_id),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_nothing_inline(&html);
    assert!(html.contains(&format!("src=\"/api/v1/blobs/{}\"", pages[0].blob.hash)));
    assert!(html.contains(&format!(
        "rel=\"next\" href=\"/g/{}/read?page=1\"",
        g.public_id
    )));
    // The reader's data: every page (so the module reads on without reloading), the progress URL.
    let data = html
        .split("<script type=\"application/json\" id=\"reader-data\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the reader's data");
    let data: serde_json::Value = serde_json::from_str(data).unwrap();
    let hashes: Vec<String> = data["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = pages.iter().map(|p| p.blob.hash.to_string()).collect();
    assert_eq!(hashes, want);
    assert_eq!(
        data["progress"],
        format!("/api/v1/galleries/{}/progress", g.public_id)
    );
    assert!(html.contains("<meta name=\"csrf\""));
    // Past the end: the last page.
    let (status, headers, _) = get(
        &site,
        &format!("/g/{}/read?page=99999", g.public_id),
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers[header::LOCATION],
        format!("/g/{}/read?page={}", g.public_id, pages.len() - 1)
    );
    let (status, _, _) = get(&site, "/g/not-a-gallery", Some(&cookie)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn assets_are_served_immutable_under_hashed_names() {
    let site = site();
    let cookie = sign_in(&site).await;
    let (_, _, html) = get(&site, "/", Some(&cookie)).await;
    for (attr, ext, kind) in [
        ("href=\"/assets/app.", ".css", "text/css"),
        ("src=\"/assets/reader.", ".js", "text/javascript"),
    ] {
        let rest = html.split(attr).nth(1).unwrap();
        let name = format!(
            "{}{}",
            &attr[attr.find("/assets/").unwrap()..attr.len()],
            &rest[..rest.find(ext).unwrap() + ext.len()]
        );
        let (status, headers, body) = get(&site, &name, None).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        assert!(
            headers["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert!(!body.is_empty());
    }
    let (status, _, _) = get(&site, "/assets/app.0000.css", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn editors_tag_and_trash_from_the_gallery_page_and_readers_cannot() {
    let site = site();
    let hash = server::auth::hash_password("editor-password").unwrap();
    site.db
        .accounts()
        .create_user("editor", &hash, db::Role::Editor)
        .unwrap();
    let (_, headers, _) = post_form(
        &site,
        "/login",
        "name=editor&password=editor-password",
        None,
    )
    .await;
    let editor = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let ids = site
        .live
        .search("", search::Asker::default(), 0, 1)
        .unwrap()
        .ids;
    let g = site
        .db
        .galleries()
        .summaries(&ids)
        .unwrap()
        .remove(0)
        .public_id;
    let page = format!("/g/{g}");
    let (_, _, html) = get(&site, &page, Some(&editor)).await;
    assert_nothing_inline(&html);
    assert!(
        html.contains("action=\"/g/") && html.contains("name=\"add\""),
        "{html}"
    );
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let form = |body: String| {
        let site = &site;
        let editor = editor.clone();
        let uri = format!("/g/{g}/tags");
        async move { post_form(site, &uri, &body, Some(&editor)).await }
    };
    let (status, headers, _) = form(format!(
        "_csrf={csrf}&add=misc%3Aweb-added%2C+female%3Aweb+two"
    ))
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], page);
    let names = |db: &db::Db| -> Vec<String> {
        db.tags()
            .of_gallery(&g)
            .unwrap()
            .into_iter()
            .map(|t| t.tag.to_string())
            .collect()
    };
    assert!(names(&site.db).contains(&"misc:web-added".to_string()));
    assert!(names(&site.db).contains(&"female:web two".to_string()));
    let (_, _, html) = get(&site, &page, Some(&editor)).await;
    assert!(
        html.contains("aria-label=\"Remove misc:web-added\""),
        "a × per tag"
    );
    let (status, _, _) = form(format!("_csrf={csrf}&remove=misc%3Aweb-added")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!names(&site.db).contains(&"misc:web-added".to_string()));
    // A bad tag: a page that says why, nothing changed.
    let before = names(&site.db);
    let (status, _, html) = form(format!("_csrf={csrf}&add=a%24b%3Ax")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("role=\"alert\""));
    assert_eq!(names(&site.db), before);
    // Without the token: refused.
    let (status, _, _) = form("add=misc%3Asneaky".into()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Trash and restore.
    let (status, _, _) = post_form(
        &site,
        &format!("/g/{g}/trash"),
        &format!("_csrf={csrf}"),
        Some(&editor),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(site.db.galleries().get(&g).unwrap().trashed_at.is_some());
    let (_, _, html) = get(&site, &page, Some(&editor)).await;
    assert!(
        html.contains("in the trash")
            && html.contains("action=\"/g/")
            && html.contains("/restore\"")
    );
    let (status, _, _) = post_form(
        &site,
        &format!("/g/{g}/restore"),
        &format!("_csrf={csrf}"),
        Some(&editor),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(site.db.galleries().get(&g).unwrap().trashed_at.is_none());

    // A reader sees no edit controls, and the forms are refused to them.
    let reader = sign_in(&site).await;
    let (_, _, html) = get(&site, &page, Some(&reader)).await;
    assert!(
        !html.contains("name=\"add\"")
            && !html.contains("tag-remove")
            && !html.contains("/trash\"")
    );
    let reader_csrf = {
        let (_, _, grid) = get(&site, "/", Some(&reader)).await;
        grid.split("name=\"_csrf\" value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    let (status, _, _) = post_form(
        &site,
        &format!("/g/{g}/tags"),
        &format!("_csrf={reader_csrf}&add=misc%3Areader"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = post_form(
        &site,
        &format!("/g/{g}/trash"),
        &format!("_csrf={reader_csrf}"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(site.db.galleries().get(&g).unwrap().trashed_at.is_none());
    assert!(!names(&site.db).contains(&"misc:reader".to_string()));
}

#[tokio::test]
async fn favorites_from_the_gallery_page_are_each_users_own() {
    let site = site();
    let reader = sign_in(&site).await;
    let ids = site
        .live
        .search("", search::Asker::default(), 0, 1)
        .unwrap()
        .ids;
    let g = site
        .db
        .galleries()
        .summaries(&ids)
        .unwrap()
        .remove(0)
        .public_id;
    let (_, _, html) = get(&site, &format!("/g/{g}"), Some(&reader)).await;
    assert!(html.contains("aria-pressed=\"false\""), "{html}");
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let (status, _, _) = post_form(
        &site,
        &format!("/g/{g}/favorite"),
        &format!("_csrf={csrf}&on=1"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, html) = get(&site, &format!("/g/{g}"), Some(&reader)).await;
    assert!(html.contains("aria-pressed=\"true\""));
    let (_, _, grid) = get(&site, "/?q=favorite", Some(&reader)).await;
    assert_eq!(grid.matches("class=\"card\"").count(), 1);
    assert!(grid.contains(&format!("href=\"/g/{g}?q=favorite&amp;i=0\"")));
    // Another user's favorites are their own.
    let hash = server::auth::hash_password("other-password").unwrap();
    site.db
        .accounts()
        .create_user("other", &hash, db::Role::Reader)
        .unwrap();
    let (_, headers, _) =
        post_form(&site, "/login", "name=other&password=other-password", None).await;
    let other = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (_, _, grid) = get(&site, "/?q=favorite", Some(&other)).await;
    assert!(grid.contains("Nothing matches"));
    let (status, _, _) = post_form(
        &site,
        &format!("/g/{g}/favorite"),
        &format!("_csrf={csrf}&on=0"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, _, grid) = get(&site, "/?q=favorite", Some(&reader)).await;
    assert!(grid.contains("Nothing matches"));
}

#[tokio::test]
async fn the_account_page_makes_and_revokes_keys_and_changes_the_password() {
    let site = site();
    let reader = sign_in(&site).await;
    let other_session = sign_in(&site).await;
    let (status, _, html) = get(&site, "/account", Some(&reader)).await;
    assert_eq!(status, StatusCode::OK);
    assert_nothing_inline(&html);
    assert!(html.contains("No keys yet."));
    let csrf = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    // A scope the form does not offer is refused, as the API refuses it (it used to become
    // "read" without a word).
    let (status, _, html) = post_form(
        &site,
        "/account/keys",
        &format!("_csrf={csrf}&name=odd&scope=admin"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        html.contains("scope") && html.contains("No keys yet."),
        "{html}"
    );
    // A key, shown once, that works as a bearer key.
    let (status, _, html) = post_form(
        &site,
        "/account/keys",
        &format!("_csrf={csrf}&name=tablet+app&scope=read"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = html
        .split("<code class=\"new-key\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap()
        .to_string();
    assert!(key.starts_with("lp_"), "{key}");
    let req = Request::get("/api/v1/account")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = send(&site, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, _, html) = get(&site, "/account", Some(&reader)).await;
    assert!(
        html.contains("tablet app") && !html.contains(&key),
        "listed, never shown again"
    );
    let id = html
        .split("action=\"/account/keys/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let (status, _, _) = post_form(
        &site,
        &format!("/account/keys/{id}/revoke"),
        &format!("_csrf={csrf}"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let req = Request::get("/api/v1/account")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap();
    let (status, _, _) = send(&site, req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // The password: a wrong current one or differing new ones change nothing.
    let (status, _, html) = post_form(
        &site,
        "/account/password",
        &format!("_csrf={csrf}&current=wrong-password&new=brand-new-pw&again=brand-new-pw"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("wrong name or password"));
    let (status, _, html) = post_form(
        &site,
        "/account/password",
        &format!("_csrf={csrf}&current=reader-password&new=brand-new-pw&again=other-new-pw"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("differ"));
    let (status, headers, _) = post_form(
        &site,
        "/account/password",
        &format!("_csrf={csrf}&current=reader-password&new=brand-new-pw&again=brand-new-pw"),
        Some(&reader),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let renewed = headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let (status, _, html) = get(&site, "/account?done=password", Some(&renewed)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("password is changed"));
    for old in [&reader, &other_session] {
        let (status, _, _) = get(&site, "/account", Some(old)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "the old sessions ended");
    }
}

/// The links of a page that start with `prefix`, in order, unescaped.
fn links(html: &str, prefix: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|l| l.starts_with(prefix))
        .map(|l| l.replace("&amp;", "&"))
        .collect()
}

/// Clicking a cover in the grid, then Read or a page's thumbnail, answered a plain-text 400
/// ("invalid type: string \"0\", expected usize"): the app's own links must open.
#[tokio::test]
async fn the_reader_opens_from_the_grid_by_the_apps_own_links() {
    let site = site();
    let cookie = sign_in(&site).await;
    let (_, _, grid) = get(&site, "/", Some(&cookie)).await;
    let cover = links(&grid, "/g/").remove(0);
    assert!(cover.contains("?i=0"), "{cover}");
    let (status, _, gallery) = get(&site, &cover, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{cover}");
    let reads = links(&gallery, "/g/");
    let read: Vec<&String> = reads.iter().filter(|l| l.contains("/read?")).collect();
    assert!(read.len() > 1, "Read and the page thumbnails: {reads:?}");
    for link in read.iter().take(3) {
        assert!(link.contains("&i=0"), "{link}");
        let (status, _, html) = get(&site, link, Some(&cookie)).await;
        assert_eq!(status, StatusCode::OK, "{link}: {html}");
        assert!(html.contains("reader-data"));
    }
    // From a search too, and the next page of results.
    let (_, _, grid) = get(&site, "/?q=&page=2", Some(&cookie)).await;
    let cover = links(&grid, "/g/").remove(0);
    assert!(cover.contains("i=40"), "{cover}");
    let read = cover.replacen('?', "/read?page=0&", 1);
    let (status, _, _) = get(&site, &read, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK, "{read}");
}

async fn get_page(site: &Site, uri: &str, cookie: Option<&str>) -> (StatusCode, HeaderMap, String) {
    let mut req = Request::get(uri)
        .header(header::HOST, "panda.test")
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    send(site, req.body(Body::empty()).unwrap()).await
}

/// A reader opening `/manage` saw `{"code":"forbidden",…}`, an unknown gallery a JSON 404, a bad
/// query a plain-text 400: a browser gets the app's error page, the API keeps its JSON.
#[tokio::test]
async fn a_browser_gets_the_apps_error_page_and_the_api_json() {
    let site = site();
    let cookie = sign_in(&site).await;
    for (uri, status, says) in [
        ("/manage", StatusCode::FORBIDDEN, "needs an editor"),
        (
            "/g/0123456789abcdef0123456789abcdef01234567",
            StatusCode::NOT_FOUND,
            "No gallery",
        ),
        ("/?page=many", StatusCode::BAD_REQUEST, "page"),
        ("/g/x/read?page=-1", StatusCode::BAD_REQUEST, "page"),
        ("/nowhere", StatusCode::NOT_FOUND, "No such route"),
    ] {
        let (got, headers, html) = get_page(&site, uri, Some(&cookie)).await;
        assert_eq!(got, status, "{uri}: {html}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{uri}"
        );
        assert!(
            html.contains("<header class=\"top\">"),
            "the app's layout: {html}"
        );
        assert!(html.contains(says), "{uri}: {html}");
        assert!(html.contains("href=\"/\""), "a way back: {html}");
        assert!(!html.contains("\"code\""), "{html}");
        assert_nothing_inline(&html);
        // The signed-in reader is still shown as signed in.
        assert!(html.contains("/account"), "{uri}");
    }
    // The API answers JSON whatever the client accepts.
    let (status, headers, body) = get_page(
        &site,
        "/api/v1/galleries/0123456789abcdef0123456789abcdef01234567",
        Some(&cookie),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(body.contains("\"code\""), "{body}");
    // A script asking without `Accept: text/html` keeps JSON too.
    let (status, _, body) = get(&site, "/manage", Some(&cookie)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("\"code\":\"forbidden\""), "{body}");
}

/// With no admin yet, `/` led to a sign-in page with no way forward.
#[tokio::test]
async fn a_fresh_install_leads_to_the_first_run_page() {
    let fresh = site_of(0, false);
    let db = fresh.db.clone();
    let (status, headers, _) = get_page(&fresh, "/", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/setup");
    let (status, _, html) = get_page(&fresh, "/setup", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("action=\"/setup\""), "{html}");
    assert!(html.contains("/assets/app."), "styled like the app: {html}");
    // Once an account exists, strangers are asked to sign in.
    let hash = server::auth::hash_password("admin-password").unwrap();
    db.accounts()
        .create_user("root", &hash, db::Role::Admin)
        .unwrap();
    let (status, headers, _) = get_page(&fresh, "/", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/login?next=%2F");
}

/// `/favicon.ico` was a 404 on every page.
#[tokio::test]
async fn the_favicon_is_served() {
    let site = site();
    let (status, headers, _) = get(&site, "/favicon.ico", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/png");
}

/// "Random" showed the grid in a random order; it opens one gallery, of the search when there
/// is one.
#[tokio::test]
async fn random_opens_one_gallery_of_the_search() {
    let site = site();
    let cookie = sign_in(&site).await;
    let (_, _, grid) = get(&site, "/", Some(&cookie)).await;
    assert!(grid.contains("href=\"/random\""), "the header's Random");
    let (status, headers, _) = get(&site, "/random", Some(&cookie)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let to = headers[header::LOCATION].to_str().unwrap().to_string();
    assert!(to.starts_with("/g/") && to.len() == 43, "{to}");
    let (status, _, _) = get(&site, &to, Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    // Within a search: always one it finds.
    let q = popular_tag_query(&site);
    let (_, _, grid) = get(
        &site,
        &format!("/?q={}", server::web::encode(&q)),
        Some(&cookie),
    )
    .await;
    assert!(grid.contains(&format!("href=\"/random?q={}\"", server::web::encode(&q))));
    let found = site
        .live
        .search(&q, search::Asker::default(), 0, 1000)
        .unwrap();
    let found = public_ids(&site, &found.ids);
    for _ in 0..5 {
        let (_, headers, _) = get(
            &site,
            &format!("/random?q={}", server::web::encode(&q)),
            Some(&cookie),
        )
        .await;
        let to = headers[header::LOCATION].to_str().unwrap();
        assert!(found.iter().any(|id| to == format!("/g/{id}")), "{to}");
    }
    let (_, headers, _) = get(&site, "/random?q=zzzznothing", Some(&cookie)).await;
    assert_eq!(headers[header::LOCATION], "/?q=zzzznothing");
}

/// The imported summary and category were stored but never shown; Read must come before the
/// tags, so it is on a phone's first screen.
#[tokio::test]
async fn the_gallery_page_shows_summary_and_category_and_read_first() {
    let site = site();
    let cookie = sign_in(&site).await;
    let made = site
        .db
        .galleries()
        .create(&db::NewGallery {
            title: "With a summary".into(),
            summary: "A plot <b>in</b> two lines.\nSecond line.".into(),
            category: "Doujinshi".into(),
            pages: vec![db::NewPage {
                name: "1.jpg".into(),
                blob: db::BlobInfo {
                    hash: lpfs::BlobHash::of(b"summary page"),
                    format: db::ImageFormat::Jpeg,
                    width: 10,
                    height: 14,
                    bytes: 100,
                },
            }],
            tags: vec![(
                db::TagName::parse("artist:someone").unwrap(),
                db::TagSource::User,
            )],
            ..db::NewGallery::default()
        })
        .unwrap();
    let db::Created::New { public_id, .. } = made else {
        panic!("{made:?}")
    };
    let (status, _, html) = get(&site, &format!("/g/{public_id}"), Some(&cookie)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("A plot &lt;b&gt;in&lt;/b&gt; two lines."),
        "{html}"
    );
    assert!(html.contains(">Doujinshi<"), "{html}");
    let read = html.find("/read?page=0").unwrap();
    let tags = html.find("class=\"tags\"").unwrap();
    assert!(read < tags, "Read comes before the tags");
}
