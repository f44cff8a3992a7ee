//! Editing a gallery over HTTP, as the gallery page's forms and the JSON API do it: page order
//! (typed numbers, and the API), the cover (a page, or a part of one cut out), deletion for good
//! (confirmed, admins only), the cbz download, the manage pages by role, and import jobs told
//! live as server-sent events. Bad input gets a clear answer and changes nothing.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use lpfs::BlobStore;
use server::{AppState, ServerConfig, router};
use tower::ServiceExt;

struct Setup {
    app: axum::Router,
    db: Arc<db::Db>,
    store: Arc<lpfs::Store>,
    admin: String,
    editor: String,
    reader: String,
    gallery: String,
    incoming: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8 ^ seed).collect();
    library::import::thumb::jpeg_from_rgb(&pixels, w, h, 85).unwrap()
}

/// An archive of `pages` JPEGs; archives of other `seed`s hold other images.
fn cbz_at(path: &std::path::Path, pages: u8, seed: u8) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..pages {
        zip.start_file(
            format!("{:02}.jpg", i + 1),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(&jpeg(200, 280, i * 50 + seed)).unwrap();
    }
    zip.finish().unwrap();
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    let key = |name: &str, role| {
        let u = db.accounts().create_user(name, "unused", role).unwrap();
        server::auth::new_api_key(&db, u.id, "t", db::KeyScope::ReadWrite)
            .unwrap()
            .1
    };
    let admin = key("root", db::Role::Admin);
    let editor = key("ed", db::Role::Editor);
    let reader = key("re", db::Role::Reader);
    let importer = Arc::new(library::import::Importer::new(store.clone(), db.clone()));
    let archive = dir.path().join("[Someone] Four Pages.cbz");
    cbz_at(&archive, 4, 0);
    let source = importer.discover(&archive).unwrap().remove(0);
    let library::import::Outcome::Imported(g) =
        importer.import(&source, &Default::default(), &library::import::Quiet)
    else {
        panic!("the test archive did not import");
    };
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    let live = Arc::new(search::Live::build(db.clone()).unwrap());
    let state = AppState {
        lpfs: Some(store.clone()),
        importer: Some(importer),
        search: Some(live),
        import_roots: Arc::new(vec![incoming.clone()]),
        ..AppState::new(store.clone(), db.clone())
    };
    let app = router(state, &ServerConfig::default())
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 1))));
    Setup {
        app,
        db,
        store,
        admin,
        editor,
        reader,
        gallery: g.public_id,
        incoming,
        _dir: dir,
    }
}

async fn call(
    s: &Setup,
    method: Method,
    uri: &str,
    key: &str,
    body: Option<(&str, String)>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {key}"));
    let body = match body {
        Some((kind, text)) => {
            req = req.header(header::CONTENT_TYPE, kind);
            Body::from(text)
        }
        None => Body::empty(),
    };
    let response = s
        .app
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

async fn form(s: &Setup, uri: &str, key: &str, body: &str) -> (StatusCode, String) {
    let (status, _, bytes) = call(
        s,
        Method::POST,
        uri,
        key,
        Some(("application/x-www-form-urlencoded", body.to_string())),
    )
    .await;
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn hashes(s: &Setup) -> Vec<lpfs::BlobHash> {
    s.db.galleries()
        .pages(&s.gallery)
        .unwrap()
        .into_iter()
        .map(|p| p.blob.hash)
        .collect()
}

#[tokio::test]
async fn pages_reorder_by_typed_numbers_and_by_the_api() {
    let s = setup();
    let g = s.gallery.clone();
    let before = hashes(&s);
    // Typed numbers, as without JavaScript: the last page first, the rest after it.
    let (status, _) = form(
        &s,
        &format!("/g/{g}/order"),
        &s.editor,
        "p=0&at=2&p=1&at=3&p=2&at=4&p=3&at=1",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let after = hashes(&s);
    assert_eq!(after, [before[3], before[0], before[1], before[2]]);
    // Dragged, as with JavaScript: the screen order with numbers following it.
    let (status, _) = form(
        &s,
        &format!("/g/{g}/order"),
        &s.editor,
        "p=1&at=1&p=0&at=2&p=2&at=3&p=3&at=4",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(hashes(&s), [after[1], after[0], after[2], after[3]]);
    // Bad orders: a clear page, nothing changed.
    let now = hashes(&s);
    for bad in [
        "p=0&at=x",
        "p=0&at=1",
        "p=0&at=1&p=0&at=2&p=1&at=3&p=2&at=4",
        "p=0",
    ] {
        let (status, page) = form(&s, &format!("/g/{g}/order"), &s.editor, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.contains("role=\"alert\""), "{bad}: {page}");
        assert_eq!(hashes(&s), now, "{bad}");
    }
    // The API takes the current positions in the new order.
    let (status, _, _) = call(
        &s,
        Method::PUT,
        &format!("/api/v1/galleries/{g}/order"),
        &s.editor,
        Some(("application/json", r#"{"order":[3,2,1,0]}"#.into())),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(hashes(&s), [now[3], now[2], now[1], now[0]]);
    // A reader may not.
    let (status, _) = form(&s, &format!("/g/{g}/order"), &s.reader, "p=0&at=1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_page_or_a_cut_out_part_becomes_the_cover() {
    let s = setup();
    let g = s.gallery.clone();
    let (status, _) = form(&s, &format!("/g/{g}/cover"), &s.editor, "page=2").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let got = s.db.galleries().get(&g).unwrap();
    assert_eq!((got.cover_page, got.cover), (2, Some(hashes(&s)[2])));
    // The right half of page 1, in percent.
    let (status, _) = form(
        &s,
        &format!("/g/{g}/cover"),
        &s.editor,
        "page=0&x=50&y=0&w=50&h=100",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let cropped = s.db.galleries().get(&g).unwrap().cover.unwrap();
    assert!(!hashes(&s).contains(&cropped));
    let bytes = s
        .store
        .get(&cropped)
        .unwrap()
        .expect("the cut-out is stored");
    let size = imagesize::blob_size(&bytes).unwrap();
    assert_eq!((size.width, size.height), (100, 280), "half of 200×280");
    // Its thumbnail is itself, so the grid and the gallery page show it.
    let (status, headers, _) = call(
        &s,
        Method::GET,
        &format!("/api/v1/thumbnails/{cropped}"),
        &s.reader,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        headers[header::LOCATION],
        format!("/api/v1/blobs/{cropped}")
    );
    // A second cut-out replaces the first, which is deleted.
    let (status, _, _) = call(
        &s,
        Method::PUT,
        &format!("/api/v1/galleries/{g}/cover"),
        &s.editor,
        Some((
            "application/json",
            r#"{"page":1,"crop":{"x":0.0,"y":0.0,"w":0.5,"h":0.5}}"#.into(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let second = s.db.galleries().get(&g).unwrap().cover.unwrap();
    assert_ne!(second, cropped);
    assert!(
        s.store.get(&cropped).unwrap().is_none(),
        "the old cut-out is released"
    );
    // Nothing left to cut, not a number, past the last page: refused, the cover unchanged.
    for bad in [
        "page=0&x=100&y=0&w=50&h=50",
        "page=0&x=0&y=0&w=0&h=50",
        "page=0&x=NaN&y=0&w=50&h=50",
        "page=9",
        "page=9&x=0&y=0&w=50&h=50",
    ] {
        let (status, page) = form(&s, &format!("/g/{g}/cover"), &s.editor, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {page}");
        assert_eq!(
            s.db.galleries().get(&g).unwrap().cover,
            Some(second),
            "{bad}"
        );
    }
    // A page as the cover again: the cut-out goes.
    let (status, _) = form(&s, &format!("/g/{g}/cover"), &s.editor, "page=3").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(s.db.galleries().get(&g).unwrap().cover, Some(hashes(&s)[3]));
    assert!(
        s.store.get(&second).unwrap().is_none(),
        "the cut-out is released"
    );
    // The crop page shows the page with its fields; readers may not open it.
    let (status, _, page) = call(
        &s,
        Method::GET,
        &format!("/g/{g}/cover?page=1"),
        &s.editor,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains(&format!("/api/v1/blobs/{}", hashes(&s)[1])));
    assert!(page.contains("name=\"w\""));
    let (status, _, _) = call(
        &s,
        Method::GET,
        &format!("/g/{g}/cover?page=1"),
        &s.reader,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn deleting_for_good_needs_an_admin_and_a_tick() {
    let s = setup();
    let g = s.gallery.clone();
    let pages = hashes(&s);
    let (status, page) = form(&s, &format!("/g/{g}/purge"), &s.admin, "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("I understand"), "{page}");
    let (status, _) = form(&s, &format!("/g/{g}/purge"), &s.editor, "confirm=yes").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(s.db.galleries().get(&g).is_ok());
    let (status, _) = form(&s, &format!("/g/{g}/purge"), &s.admin, "confirm=yes").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(s.db.galleries().get(&g).is_err());
    for h in pages {
        assert!(s.store.get(&h).unwrap().is_none(), "page {h} is released");
    }
}

#[tokio::test]
async fn a_gallery_downloads_as_a_cbz_of_its_pages() {
    let s = setup();
    let g = s.gallery.clone();
    let (status, headers, bytes) = call(
        &s,
        Method::GET,
        &format!("/api/v1/galleries/{g}/cbz"),
        &s.reader,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/vnd.comicbook+zip"
    );
    let disposition = headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"Four Pages.cbz\""),
        "{disposition}"
    );
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names: Vec<String> = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["001.jpg", "002.jpg", "003.jpg", "004.jpg", "ComicInfo.xml"]
    );
    for (i, h) in hashes(&s).iter().enumerate() {
        let mut page = Vec::new();
        zip.by_index(i).unwrap().read_to_end(&mut page).unwrap();
        assert_eq!(page, s.store.get(h).unwrap().unwrap(), "page {}", i + 1);
    }
    let (status, _, body) = call(
        &s,
        Method::GET,
        "/api/v1/galleries/nope/cbz",
        &s.reader,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The code names what is missing.
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["code"], "gallery-not-found", "{error}");
}

#[tokio::test]
async fn the_manage_pages_by_role() {
    let s = setup();
    for (uri, reader, editor, admin) in [
        ("/manage", 403, 200, 200),
        ("/manage/trash", 403, 200, 200),
        ("/manage/tags", 403, 200, 200),
        ("/manage/storage", 403, 403, 200),
        ("/manage/users", 403, 403, 200),
    ] {
        for (key, want) in [(&s.reader, reader), (&s.editor, editor), (&s.admin, admin)] {
            let (status, _, _) = call(&s, Method::GET, uri, key, None).await;
            assert_eq!(status.as_u16(), want, "{uri}");
        }
    }
    // Tag tools: a sibling and a parent added, then removed; a bad tag says why.
    let (status, _) = form(
        &s,
        "/manage/tags",
        &s.editor,
        "action=sibling&a=artist%3Asomeone+else&b=artist%3Asomeone",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(s.db.tags().siblings().unwrap().len(), 1);
    let (status, _) = form(
        &s,
        "/manage/tags",
        &s.editor,
        "action=parent&a=female%3Aglasses&b=misc%3Aaccessory",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(s.db.tags().parents().unwrap().len(), 1);
    let (_, _, page) = call(&s, Method::GET, "/manage/tags", &s.editor, None).await;
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("artist:someone else → artist:someone"),
        "{page}"
    );
    let (status, _) = form(
        &s,
        "/manage/tags",
        &s.editor,
        "action=unsibling&a=artist%3Asomeone+else",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(s.db.tags().siblings().unwrap().is_empty());
    let (status, _) = form(&s, "/manage/tags", &s.editor, "action=parent&a=+&b=x").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(s.db.tags().parents().unwrap().len(), 1, "nothing added");
    // Rename: the gallery's artist tag becomes another.
    let (status, _, _) = call(
        &s,
        Method::POST,
        "/manage/tags",
        &s.editor,
        Some((
            "application/x-www-form-urlencoded",
            "action=rename&a=artist%3Asomeone&b=artist%3Asomebody".into(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let tags: Vec<String> =
        s.db.tags()
            .of_gallery(&s.gallery)
            .unwrap()
            .iter()
            .map(|t| t.tag.to_string())
            .collect();
    assert!(tags.contains(&"artist:somebody".to_string()), "{tags:?}");
    assert!(!tags.contains(&"artist:someone".to_string()), "{tags:?}");
    // Users: made, re-roled, removed only when ticked.
    let (status, _) = form(
        &s,
        "/manage/users",
        &s.admin,
        "action=add&name=newbie&password=long-enough-pw&role=reader",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = form(
        &s,
        "/manage/users",
        &s.admin,
        "action=role&name=newbie&role=editor",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        s.db.accounts().user("newbie").unwrap().unwrap().role,
        db::Role::Editor
    );
    // Unticked: back to the page, which says why, and nobody removed.
    let (status, headers, _) = call(
        &s,
        Method::POST,
        "/manage/users",
        &s.admin,
        Some((
            "application/x-www-form-urlencoded",
            "action=remove&name=newbie".into(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/manage/users?error=")
    );
    assert!(s.db.accounts().user("newbie").unwrap().is_some());
    let (status, _) = form(
        &s,
        "/manage/users",
        &s.admin,
        "action=remove&name=newbie&confirm=yes",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(s.db.accounts().user("newbie").unwrap().is_none());
    let (status, _) = form(
        &s,
        "/manage/users",
        &s.editor,
        "action=add&name=sneaky&password=long-enough-pw&role=admin",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// Reads server-sent events from a response body until `done` says enough; answers their data.
async fn events_until(
    body: &mut Body,
    done: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("the event stream went quiet")
            .expect("the event stream ended")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                let v: serde_json::Value = serde_json::from_str(data).unwrap();
                let stop = done(&v);
                seen.push(v);
                if stop {
                    return seen;
                }
            }
        }
    }
}

#[tokio::test]
async fn a_server_import_runs_as_a_job_told_live() {
    let s = setup();
    // Two archives and a broken one below the import root.
    cbz_at(&s.incoming.join("[A] One.cbz"), 2, 0);
    cbz_at(&s.incoming.join("[B] Two.cbz"), 3, 0);
    std::fs::write(s.incoming.join("[C] Broken.cbz"), b"PK\x03\x04 not really").unwrap();
    let req = Request::get("/api/v1/jobs/events")
        .header("authorization", format!("Bearer {}", s.editor))
        .body(Body::empty())
        .unwrap();
    let response = s.app.clone().oneshot(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut events = response.into_body();
    let (status, _, bytes) = call(
        &s,
        Method::POST,
        "/api/v1/imports",
        &s.admin,
        Some((
            "application/json",
            serde_json::json!({ "path": s.incoming.display().to_string() }).to_string(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()["job"]
        .as_i64()
        .unwrap();
    let seen = events_until(&mut events, |e| {
        e["id"] == job && (e["state"] == "done" || e["state"] == "failed")
    })
    .await;
    let last = seen.last().unwrap();
    assert_eq!(last["state"], "failed", "one of three failed: {last}");
    assert_eq!(
        (last["done"].as_u64(), last["total"].as_u64()),
        (Some(3), Some(3))
    );
    let failures = last["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert!(
        failures[0].as_str().unwrap().contains("Broken.cbz"),
        "{failures:?}"
    );
    assert!(
        seen.iter()
            .any(|e| e["state"] == "running" && e["done"] == 1),
        "progress was told along the way: {seen:?}"
    );
    // The other two were imported; the job and its reasons are kept and listed.
    assert_eq!(s.db.galleries().count().unwrap(), 3);
    let stored = s.db.jobs().get(job).unwrap();
    assert_eq!(stored.state, db::JobState::Failed);
    assert!(stored.error.unwrap().contains("Broken.cbz"));
    let (_, _, page) = call(&s, Method::GET, "/manage", &s.admin, None).await;
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("Broken.cbz"),
        "the manage page lists the failure"
    );
}

#[tokio::test]
async fn batch_actions_tag_trash_and_collect_the_selected_galleries() {
    let s = setup();
    let g = s.gallery.clone();
    let tags = |s: &Setup| -> Vec<String> {
        s.db.tags()
            .of_gallery(&s.gallery)
            .unwrap()
            .iter()
            .map(|t| t.tag.to_string())
            .collect()
    };
    let (status, _) = form(
        &s,
        "/batch/tags",
        &s.editor,
        &format!("g={g}&tags=misc%3Abatch%2C+female%3Aglasses&op=add&back=%2F%3Fq%3Dx"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(tags(&s).contains(&"misc:batch".to_string()));
    assert!(tags(&s).contains(&"female:glasses".to_string()));
    let (status, _) = form(
        &s,
        "/batch/tags",
        &s.editor,
        &format!("g={g}&tags=misc%3Abatch&op=remove"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!tags(&s).contains(&"misc:batch".to_string()));
    // A reader may not tag or trash, but may collect into a collection of their own only.
    let (status, _) = form(
        &s,
        "/batch/tags",
        &s.reader,
        &format!("g={g}&tags=misc%3Ax&op=add"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = form(&s, "/batch/trash", &s.reader, &format!("g={g}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let reader = s.db.accounts().user("re").unwrap().unwrap();
    let editor = s.db.accounts().user("ed").unwrap().unwrap();
    let mine =
        s.db.accounts()
            .create_collection(reader.id, "to read", None)
            .unwrap();
    let theirs =
        s.db.accounts()
            .create_collection(editor.id, "editor's", None)
            .unwrap();
    let (status, _) = form(
        &s,
        "/batch/collect",
        &s.reader,
        &format!("g={g}&collection={mine}"),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        s.db.accounts().collections(reader.id).unwrap()[0].galleries,
        1
    );
    let (status, _) = form(
        &s,
        "/batch/collect",
        &s.reader,
        &format!("g={g}&collection={theirs}"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        s.db.accounts().collections(editor.id).unwrap()[0].galleries,
        0
    );
    // Trash, and a bad tag list, which says why and changes nothing.
    let (status, page) = form(
        &s,
        "/batch/tags",
        &s.editor,
        &format!("g={g}&tags=misc%3A{}&op=add", "a".repeat(300)),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let (status, headers, _) = call(
        &s,
        Method::POST,
        "/batch/trash",
        &s.editor,
        Some((
            "application/x-www-form-urlencoded",
            format!("g={g}&back=%2F%2Fevil.example"),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(headers[header::LOCATION], "/", "back only to this site");
    assert!(s.db.galleries().get(&g).unwrap().trashed_at.is_some());
}

/// The same edits through the JSON API and through the web app's forms give the same result:
/// both call one operation (`library::ops::galleries::{tags, purge}`). The command line's leg is
/// `import_cli.rs::the_api_the_form_and_the_command_line_edit_and_purge_alike`.
#[tokio::test]
async fn the_api_and_the_forms_edit_and_purge_alike() {
    let s = setup();
    let a = s.gallery.clone();
    // A second gallery like the first (same name, so the same tags), of other images.
    let archive = s.incoming.join("[Someone] Four Pages Again.cbz");
    cbz_at(&archive, 4, 7);
    let (status, _, body) = call(
        &s,
        Method::POST,
        "/api/v1/imports",
        &s.admin,
        Some((
            "application/json",
            serde_json::json!({ "path": archive }).to_string(),
        )),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let b = loop {
        let other =
            s.db.galleries()
                .list(&db::ListQuery::default())
                .unwrap()
                .into_iter()
                .find(|g| g.public_id != a);
        if let Some(g) = other {
            break g.public_id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the second import never finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let tags = |g: &str| s.db.tags().of_gallery(g).unwrap();
    assert_eq!(tags(&a), tags(&b), "alike to begin with");

    // One tag edit: through the API on one, through the form on the other.
    let (status, _, _) = call(
        &s,
        Method::PUT,
        &format!("/api/v1/galleries/{a}/tags"),
        &s.editor,
        Some((
            "application/json",
            serde_json::json!({ "add": ["misc:same edit", "female:glasses"], "remove": ["artist:someone"] })
                .to_string(),
        )),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = form(
        &s,
        &format!("/g/{b}/tags"),
        &s.editor,
        "add=misc%3Asame+edit%2C+female%3Aglasses&remove=artist%3Asomeone",
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(tags(&a), tags(&b));
    assert!(
        tags(&a)
            .iter()
            .any(|t| t.tag.to_string() == "misc:same edit")
    );

    // One purge each way: both galleries gone, and each one's own images released.
    let images = |g: &str| -> Vec<lpfs::BlobHash> {
        s.db.galleries()
            .pages(g)
            .unwrap()
            .into_iter()
            .map(|p| p.blob.hash)
            .collect()
    };
    let (of_a, of_b) = (images(&a), images(&b));
    let (status, _, body) = call(
        &s,
        Method::DELETE,
        &format!("/api/v1/galleries/{a}"),
        &s.admin,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let (status, _) = form(&s, &format!("/g/{b}/purge"), &s.admin, "confirm=yes").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    for (g, of) in [(&a, &of_a), (&b, &of_b)] {
        let (status, _, body) = call(
            &s,
            Method::GET,
            &format!("/api/v1/galleries/{g}"),
            &s.reader,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["code"], "gallery-not-found");
        for h in of {
            assert_eq!(
                lpfs::BlobStore::stat(s.store.as_ref(), h).unwrap(),
                None,
                "{h} of {g}"
            );
        }
    }
    assert!(
        answer["released_images"].as_u64().unwrap() >= of_a.len() as u64,
        "{answer}"
    );
}
