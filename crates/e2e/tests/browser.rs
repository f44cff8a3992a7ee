//! The web app in a real browser: Debian's Chromium, headless, driven through chromedriver.
//! The whole flow of a library's first day: the first-run admin, an archive uploaded from the
//! manage page (its job seen live), the grid, the gallery, tags added and removed, search,
//! reading to the end with the keyboard and by swiping (touch), right-to-left and two-page modes,
//! pages reordered, a page made the cover and a cover cropped, trash and restore, and a reader
//! account that sees no edit controls and is refused when it calls them. Screenshots of the
//! grid, the gallery, the reader and the manage page at phone (390×844) and desktop (1440×900)
//! sizes go to `target/screenshots/` in every run.
//!
//! Needs `chromium` and `chromium-driver` (apt); `.ci/run` installs them. Without them this test
//! fails and says so: it never passes without a browser.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, MouseActions, PointerAction, TouchActions};
use fantoccini::{Client, ClientBuilder, Locator, key::Key};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver() -> (Driver, String) {
    for (what, path) in [("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)] {
        assert!(
            std::path::Path::new(path).exists(),
            "{what} is missing at {path}: the browser tests need `apt install chromium chromium-driver`"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, format!("http://127.0.0.1:{port}"))
}

async fn browser(webdriver: &str, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(webdriver)
        .await
        .expect("a Chromium session through chromedriver")
}

fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            [
                (x / 3) as u8 ^ seed,
                (y / 4) as u8,
                seed.wrapping_mul(40).wrapping_add((x + y) as u8 / 2),
            ]
        })
        .collect();
    library::import::thumb::jpeg_from_rgb(&pixels, w, h, 85).unwrap()
}

/// A library of 59 synthetic galleries and no account yet, and an archive to upload: six pages,
/// the fourth of them wide (a spread).
struct Library {
    db: Arc<db::Db>,
    store: Arc<lpfs::Store>,
    live: Arc<search::Live>,
    archive: PathBuf,
    dir: tempfile::TempDir,
}

const PAGES: usize = 6;
const WIDE: usize = 3;

fn library() -> Library {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    library::synth::fill(&db, store.as_ref(), 59, 59, 4, |_| {}).unwrap();
    let archive = dir
        .path()
        .join("(C99) [Mori Kanata] Zephyrine Holiday Diary [English].cbz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
    for i in 0..PAGES {
        let (w, h) = if i == WIDE { (1200, 850) } else { (600, 850) };
        zip.start_file(
            format!("{:02}.jpg", i + 1),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(&jpeg(w, h, i as u8 * 40)).unwrap();
    }
    zip.finish().unwrap();
    let live = Arc::new(search::Live::build(db.clone()).unwrap());
    Library {
        db,
        store,
        live,
        archive,
        dir,
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shoot(client: &Client, name: &str) {
    for (w, h, size) in [(390, 844, "phone"), (1440, 900, "desktop")] {
        client.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let png = client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot");
        // Nothing of the page runs off the side of the screen (tables fit or become lists).
        let overflow = js(
            client,
            "return document.body.classList.contains('reader') ? 0 \
               : document.documentElement.scrollWidth - window.innerWidth;",
        )
        .await;
        assert!(
            overflow.as_f64().unwrap() <= 0.0,
            "{name} at {w} px runs {overflow} px off the side"
        );
        std::fs::write(screenshots().join(format!("{name}-{size}.png")), png).unwrap();
    }
}

/// The path and query of the page the browser is on.
async fn here(client: &Client) -> String {
    let url = client.current_url().await.unwrap();
    format!(
        "{}{}",
        url.path(),
        url.query().map_or(String::new(), |q| format!("?{q}"))
    )
}

async fn url_ends_with(client: &Client, tail: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = here(client).await;
        if now.ends_with(tail) {
            return;
        }
        if Instant::now() >= deadline {
            let text = js(client, "return document.body.innerText;").await;
            panic!("expected a URL ending in {tail}, at {now}: {text}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The reader's page, from its URL.
async fn reader_page(client: &Client) -> usize {
    let now = here(client).await;
    now.split("page=")
        .nth(1)
        .and_then(|p| p.split('&').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no page in {now}"))
}

async fn reader_at(client: &Client, page: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = reader_page(client).await;
        if now == page {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the reader is at page {now}, not {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn js(client: &Client, script: &str) -> serde_json::Value {
    client.execute(script, vec![]).await.unwrap()
}

/// What `script` returns, as a number.
async fn number(client: &Client, script: &str) -> f64 {
    let v = js(client, script).await;
    v.as_f64()
        .unwrap_or_else(|| panic!("{script} returned {v}, not a number"))
}

/// Waits until `script` (an expression) is true in the page.
async fn until(client: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if js(client, &format!("return !!({script});")).await == serde_json::json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn key(client: &Client, k: Key) {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(&k.to_string())
        .await
        .unwrap();
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn sign_in(client: &Client, base: &str, name: &str, password: &str) {
    client.goto(&format!("{base}/login")).await.unwrap();
    fill(client, "input[name=name]", name).await;
    fill(client, "input[name=password]", password).await;
    click(client, "form.login button[type=submit]").await;
    url_ends_with(client, "/").await;
}

/// One finger pressed at `from_x`, drawn across to `to_x` in two steps, and lifted.
fn finger(id: &str, from_x: f64, to_x: f64, y: f64) -> TouchActions {
    TouchActions::new(id.into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: from_x,
            y,
        })
        .then(PointerAction::Down { button: 0 })
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(150)),
            x: (from_x + to_x) / 2.0,
            y: y + 5.0,
        })
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(150)),
            x: to_x,
            y: y + 10.0,
        })
        .then(PointerAction::Up { button: 0 })
}

/// A swipe across the reader's page with one finger (touch events, as on a phone).
async fn swipe(client: &Client, from_x: f64, to_x: f64) {
    client
        .perform_actions(finger("finger", from_x, to_x, 400.0))
        .await
        .unwrap();
    client.release_actions().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_library_in_chromium_from_first_run_to_a_reader_account() {
    let lib = library();
    let state = server::AppState {
        lpfs: Some(lib.store.clone()),
        importer: Some(Arc::new(library::import::Importer::new(
            lib.store.clone(),
            lib.db.clone(),
        ))),
        search: Some(lib.live.clone()),
        upload_dir: Some(lib.dir.path().join("uploads").into()),
        ..server::AppState::new(lib.store.clone(), lib.db.clone())
    };
    let app = server::router(state, &server::ServerConfig::default());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, app, async {
        let _ = stopped.await;
    }));
    let (_driver, webdriver) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&webdriver, profile.path()).await;
    client.set_window_size(1440, 900).await.unwrap();

    // ---- First run, as a stranger: the app's address leads to the setup page, which makes the
    // admin, signs them in and leads on to uploading.
    client.goto(&format!("{base}/")).await.unwrap();
    url_ends_with(&client, "/setup").await;
    fill(&client, "input[name=name]", "admin").await;
    fill(&client, "input[name=password]", "admin-password").await;
    fill(&client, "input[name=again]", "admin-password").await;
    click(&client, "button[type=submit]").await;
    until(
        &client,
        "the admin signed in",
        "document.body.innerText.includes('admin is the administrator and is signed in')",
    )
    .await;
    assert!(lib.db.accounts().has_admin().unwrap());

    // ---- Upload from the manage page: per-file progress, and the job appears live.
    click(&client, "a.button[href='/manage']").await;
    url_ends_with(&client, "/manage").await;
    until(
        &client,
        "the upload zone",
        "!document.querySelector('[data-upload]').hidden",
    )
    .await;
    // ---- Installable: the service worker runs and keeps only the app's own assets.
    client
        .execute_async(
            "const done = arguments[0]; navigator.serviceWorker.ready.then(() => done(true));",
            vec![],
        )
        .await
        .unwrap();
    let manifest = js(
        &client,
        "return document.querySelector('link[rel=manifest]').getAttribute('href');",
    )
    .await;
    assert_eq!(manifest, "/manifest.webmanifest");

    assert!(
        js(
            &client,
            "return document.querySelectorAll('table.jobs tr[data-job]').length;"
        )
        .await
            == serde_json::json!(0)
    );
    client
        .find(Locator::Css("[data-upload] input[type=file]"))
        .await
        .unwrap()
        .send_keys(&lib.archive.display().to_string())
        .await
        .unwrap();
    until(
        &client,
        "the upload to finish",
        "document.querySelector('ol.uploads li.done, ol.uploads li.failed')",
    )
    .await;
    let row = js(
        &client,
        "return document.querySelector('ol.uploads li').textContent;",
    )
    .await;
    assert!(
        js(
            &client,
            "return !!document.querySelector('ol.uploads li.done progress');"
        )
        .await
            == serde_json::json!(true),
        "the upload failed: {row}"
    );
    until(
        &client,
        "the upload's job, told by the event stream",
        "document.querySelector('table.jobs tr[data-job].done')",
    )
    .await;
    assert_eq!(
        js(
            &client,
            "return document.querySelectorAll('[data-no-jobs]').length;"
        )
        .await,
        0,
        "\"no imports yet\" is gone once one is listed"
    );
    shoot(&client, "manage").await;
    client.set_window_size(1440, 900).await.unwrap();
    let gallery = lib
        .db
        .galleries()
        .list(&db::ListQuery {
            limit: 100,
            ..db::ListQuery::default()
        })
        .unwrap()
        .into_iter()
        .find(|g| g.title == "Zephyrine Holiday Diary")
        .expect("the uploaded gallery")
        .public_id;

    // ---- The grid, reached by the header's brand: 40 covers, the new one first (newest
    // first); scrolling down brings the other 20 without leaving the page.
    click(&client, "header.top a.brand").await;
    url_ends_with(&client, "/").await;
    let cells = client
        .find_all(Locator::Css(".grid > .cell"))
        .await
        .unwrap();
    assert_eq!(cells.len(), 40);
    let first = js(
        &client,
        "return document.querySelector('.grid .card .title').textContent;",
    )
    .await;
    assert_eq!(first, "Zephyrine Holiday Diary");
    // Covers keep the card's 5:7 shape at every width: cropped, never stretched.
    for (w, h) in [(1440, 900), (390, 844)] {
        client.set_window_size(w, h).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let shapes = js(
            &client,
            "return [...document.querySelectorAll('.grid .card .cover')].slice(0, 6) \
               .map((i) => i.getBoundingClientRect()).map((r) => r.height / r.width);",
        )
        .await;
        for shape in shapes.as_array().unwrap() {
            let ratio = shape.as_f64().unwrap();
            assert!((ratio - 1.4).abs() < 0.02, "a cover of {ratio}:1 at {w} px");
        }
    }
    // On a phone, at least six covers on the first screen, the header in one row.
    let visible = number(
        &client,
        "return [...document.querySelectorAll('.grid .card .cover')] \
           .filter((i) => i.getBoundingClientRect().bottom <= window.innerHeight).length;",
    )
    .await;
    assert!(visible >= 6.0, "{visible} covers on a phone's first screen");
    let header = number(
        &client,
        "return document.querySelector('header.top').getBoundingClientRect().height;",
    )
    .await;
    assert!(header < 70.0, "the phone header is {header} px tall");
    assert_eq!(
        js(
            &client,
            "return document.documentElement.scrollWidth <= window.innerWidth;"
        )
        .await,
        true,
        "nothing runs off the side"
    );
    shoot(&client, "grid").await;
    client.set_window_size(1440, 900).await.unwrap();
    js(&client, "window.scrollTo(0, document.body.scrollHeight);").await;
    until(
        &client,
        "the second page of covers, by infinite scroll",
        "document.querySelectorAll('.grid > .cell').length === 60",
    )
    .await;
    url_ends_with(&client, "/").await;

    // ---- Selection: two covers ticked, a tag added to both from the batch bar.
    js(&client, "window.scrollTo(0, 0);").await;
    click(&client, "[data-select]").await;
    let picked = js(
        &client,
        "const cells = [...document.querySelectorAll('.grid > .cell')].slice(1, 3); \
         cells.forEach((c) => c.querySelector('a.card').click()); \
         return cells.map((c) => c.querySelector('input[type=checkbox]').value);",
    )
    .await;
    let picked: Vec<String> = serde_json::from_value(picked).unwrap();
    assert_eq!(
        js(
            &client,
            "return document.querySelector('form.batch [data-count]').textContent;"
        )
        .await,
        "2"
    );
    assert_eq!(here(&client).await, "/", "ticking a cover does not open it");
    fill(&client, "form.batch input[name=tags]", "misc:picked twice").await;
    click(&client, "form.batch button[value=add]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    for id in &picked {
        loop {
            let has = lib
                .db
                .tags()
                .of_gallery(id)
                .unwrap()
                .iter()
                .any(|t| t.tag.to_string() == "misc:picked twice");
            if has {
                break;
            }
            assert!(Instant::now() < deadline, "the batch did not tag {id}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // ---- Search finds it (the box keeps the query); open it.
    let q = client.find(Locator::Css("input[name=q]")).await.unwrap();
    q.send_keys("zephyrine holiday").await.unwrap();
    q.send_keys(&Key::Enter.to_string()).await.unwrap();
    url_ends_with(&client, "?q=zephyrine+holiday").await;
    let cards = client.find_all(Locator::Css("a.card")).await.unwrap();
    assert_eq!(cards.len(), 1, "the search finds the one gallery");
    cards[0].click().await.unwrap();
    url_ends_with(&client, &format!("/g/{gallery}?q=zephyrine%20holiday&i=0")).await;
    let title = client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title, "Zephyrine Holiday Diary");
    // Read, from the gallery that the grid opened: the reader opens at the first page, knowing
    // the search it came from.
    click(&client, ".actions.primary a.button").await;
    until(
        &client,
        "the reader, opened from the grid",
        "location.pathname.endsWith('/read') && document.querySelector('.reader.live') \
         && document.querySelector('.reader-stage img').complete",
    )
    .await;
    let at = here(&client).await;
    assert!(
        at.contains("/read?page=0&q=zephyrine") && at.ends_with("&i=0"),
        "{at}"
    );
    client.back().await.unwrap();
    until(
        &client,
        "the gallery again",
        "!location.pathname.endsWith('/read')",
    )
    .await;
    url_ends_with(&client, "?q=zephyrine%20holiday&i=0").await;
    // A page's thumbnail opens the reader at that page.
    click(&client, "ol.thumbs li[data-page='2'] a").await;
    until(
        &client,
        "the reader at page 3",
        "location.pathname.endsWith('/read') && document.querySelector('.reader.live')",
    )
    .await;
    assert!(here(&client).await.contains("/read?page=2&q=zephyrine"));
    client.back().await.unwrap();
    until(
        &client,
        "the gallery again",
        "!location.pathname.endsWith('/read')",
    )
    .await;
    url_ends_with(&client, "?q=zephyrine%20holiday&i=0").await;
    // On a phone, Read is on the first screen of the gallery's page.
    client.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let read_bottom = number(
        &client,
        "return document.querySelector('.actions.primary a.button').getBoundingClientRect().bottom;",
    )
    .await;
    assert!(read_bottom < 844.0, "Read at {read_bottom} px");
    client.set_window_size(1440, 900).await.unwrap();

    // ---- Collections: a new one made from the gallery's page, then found among the filters;
    // a search saved from the grid.
    client
        .find(Locator::Css("form.collect select"))
        .await
        .unwrap()
        .select_by_value("new")
        .await
        .unwrap();
    fill(
        &client,
        "form.collect input[name=new_name]",
        "Holiday reading",
    )
    .await;
    click(&client, "form.collect button[type=submit]").await;
    url_ends_with(&client, &format!("/g/{gallery}")).await;
    click(&client, "header.top a.brand").await;
    url_ends_with(&client, "/").await;
    client
        .find(Locator::LinkText("Holiday reading"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    until(
        &client,
        "the collection's one gallery",
        "document.querySelectorAll('a.card').length === 1",
    )
    .await;
    client
        .goto(&format!("{base}/?q=language%3Aenglish"))
        .await
        .unwrap();
    click(&client, "form.save-search summary").await;
    fill(&client, "form.save-search input[name=name]", "In English").await;
    click(&client, "form.save-search button[type=submit]").await;
    // The page comes back to the same search, now with the saved search among the filters.
    until(
        &client,
        "the saved search among the filters",
        "[...document.querySelectorAll('nav.filters a.chip')].some((a) => a.textContent === 'In English')",
    )
    .await;
    url_ends_with(&client, "/?q=language%3Aenglish").await;
    let saved = lib.db.accounts().user("admin").unwrap().unwrap();
    let kept = lib.db.accounts().collections(saved.id).unwrap();
    assert!(
        kept.iter()
            .any(|c| c.name == "In English" && c.query.as_deref() == Some("language:english")),
        "{kept:?}"
    );
    // Renamed and deleted on the collections page.
    click(&client, "a.chip[href='/collections']").await;
    fill(
        &client,
        "ul.collections li:first-child input[name=name]",
        "Holidays",
    )
    .await;
    click(
        &client,
        "ul.collections li:first-child button[value=rename]",
    )
    .await;
    url_ends_with(&client, "/collections?done=saved").await;
    click(&client, "ul.collections li:last-child button[value=delete]").await;
    url_ends_with(&client, "/collections?done=collection-deleted").await;
    let names: Vec<String> = lib
        .db
        .accounts()
        .collections(saved.id)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["Holidays"]);
    shoot(&client, "collections").await;
    client.set_window_size(1440, 900).await.unwrap();
    client
        .goto(&format!("{base}/g/{gallery}?q=zephyrine%20holiday&i=0"))
        .await
        .unwrap();

    // ---- Tags: two added in one go, one removed with its ×; search finds the other.
    fill(
        &client,
        "input[name=add]",
        "misc:browser test, female:glasses",
    )
    .await;
    client
        .find(Locator::Css("input[name=add]"))
        .await
        .unwrap()
        .send_keys(&Key::Enter.to_string())
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css(
            "button[aria-label='Remove misc:browser test']",
        ))
        .await
        .unwrap();
    let tag_names = |lib: &Library| -> Vec<String> {
        lib.db
            .tags()
            .of_gallery(&gallery)
            .unwrap()
            .into_iter()
            .map(|t| t.tag.to_string())
            .collect()
    };
    assert!(tag_names(&lib).contains(&"female:glasses".to_string()));
    click(&client, "button[aria-label='Remove misc:browser test']").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tag_names(&lib).contains(&"misc:browser test".to_string()) {
        assert!(Instant::now() < deadline, "the × did not remove the tag");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    client
        .goto(&format!("{base}/?q=female%3Aglasses%24"))
        .await
        .unwrap();
    let hrefs = js(
        &client,
        "return [...document.querySelectorAll('a.card')].map((a) => a.getAttribute('href'));",
    )
    .await;
    assert!(
        hrefs.to_string().contains(&format!("/g/{gallery}?")),
        "{hrefs}"
    );
    client.goto(&format!("{base}/g/{gallery}")).await.unwrap();
    shoot(&client, "gallery").await;
    client.set_window_size(1440, 900).await.unwrap();

    // ---- Read to the end with the keyboard; the URL follows each page.
    click(&client, ".actions a.button").await;
    url_ends_with(&client, "/read?page=0").await;
    until(
        &client,
        "the reader module",
        "document.querySelector('.reader.live')",
    )
    .await;
    for page in 1..PAGES {
        key(&client, Key::Right).await;
        reader_at(&client, page).await;
    }
    let count = js(
        &client,
        "return document.querySelector('.reader-count').textContent;",
    )
    .await;
    assert_eq!(count, format!("Page {PAGES} / {PAGES}"));
    until(
        &client,
        "the last page's image",
        "(() => { const i = document.querySelector('.reader-stage img'); return i.complete && i.naturalWidth === 600; })()",
    )
    .await;
    // One more: the end, with the way back.
    key(&client, Key::Right).await;
    until(
        &client,
        "the end panel",
        "!document.querySelector('.reader-end').hidden",
    )
    .await;
    key(&client, Key::Escape).await;
    // The way back stands out on the dark page: a filled, light-edged button.
    let back = js(
        &client,
        "const s = getComputedStyle(document.querySelector('.reader-back')); \
         return [s.backgroundColor, s.borderTopColor, s.color];",
    )
    .await;
    assert_ne!(
        back[0], "rgba(0, 0, 0, 0)",
        "the back button has a fill: {back}"
    );
    shoot(&client, "reader").await;
    client.set_window_size(1440, 900).await.unwrap();
    // Where the admin is was saved: the last page, finished; then the first page again.
    let admin = lib.db.accounts().user("admin").unwrap().unwrap();
    let id = lib.db.galleries().id_of(&gallery).unwrap();
    let saved = |page: u32, finished: bool| {
        let lib = &lib;
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let p = lib.db.accounts().progress(admin.id, id).unwrap();
                if p.is_some_and(|p| p.page == page && p.finished == finished) {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "expected page {page} (finished: {finished}) saved, found {p:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    saved(PAGES as u32 - 1, true).await;
    key(&client, Key::Home).await;
    reader_at(&client, 0).await;
    saved(0, false).await;

    // ---- Swiping on a phone: right to left turns forward, left to right back.
    client.set_window_size(390, 844).await.unwrap();
    swipe(&client, 320.0, 60.0).await;
    reader_at(&client, 1).await;
    swipe(&client, 60.0, 320.0).await;
    reader_at(&client, 0).await;
    client.set_window_size(1440, 900).await.unwrap();

    // ---- Right to left: the left arrow reads on.
    click(&client, "[data-settings]").await;
    click(&client, "input[name=dir][value=rtl]").await;
    until(
        &client,
        "right-to-left",
        "document.querySelector('.reader-stage.dir-rtl')",
    )
    .await;
    key(&client, Key::Left).await;
    reader_at(&client, 1).await;
    // ---- Two pages: the cover alone, then pairs, the wide page alone; right to left, the
    // first of a pair is on the right.
    click(&client, "input[name=mode][value=double]").await;
    click(&client, "[data-settings]").await;
    key(&client, Key::Home).await;
    reader_at(&client, 0).await;
    assert_eq!(
        js(
            &client,
            "return document.querySelectorAll('.reader-stage img').length;"
        )
        .await,
        1,
        "the cover alone"
    );
    key(&client, Key::Left).await;
    reader_at(&client, 1).await;
    let spread = js(
        &client,
        "const imgs = [...document.querySelectorAll('.reader-stage img')];          return imgs.map((i) => [Number(i.dataset.page), i.getBoundingClientRect().left]);",
    )
    .await;
    let spread = spread.as_array().unwrap();
    assert_eq!(spread.len(), 2, "a pair: {spread:?}");
    assert_eq!(
        (spread[0][0].as_u64(), spread[1][0].as_u64()),
        (Some(1), Some(2))
    );
    assert!(
        spread[0][1].as_f64() > spread[1][1].as_f64(),
        "right to left, page 2 is on the right of page 3: {spread:?}"
    );
    key(&client, Key::Left).await;
    reader_at(&client, WIDE).await;
    assert_eq!(
        js(
            &client,
            "return document.querySelectorAll('.reader-stage img').length;"
        )
        .await,
        1,
        "the wide page alone"
    );
    shoot(&client, "reader-double").await;
    client.set_window_size(1440, 900).await.unwrap();
    // ---- Vertical (webtoon): every page in one strip; scrolling moves the page in the URL.
    click(&client, "[data-settings]").await;
    click(&client, "input[name=dir][value=ltr]").await;
    click(&client, "input[name=mode][value=webtoon]").await;
    click(&client, "[data-settings]").await;
    assert_eq!(
        js(
            &client,
            "return document.querySelectorAll('.reader-stage .strip img').length;"
        )
        .await,
        PAGES
    );
    js(&client, "window.scrollTo(0, document.body.scrollHeight);").await;
    reader_at(&client, PAGES - 1).await;
    // ---- One page again; the slider shows a page's number and thumbnail, and goes there.
    click(&client, "[data-settings]").await;
    click(&client, "input[name=mode][value=single]").await;
    click(&client, "[data-settings]").await;
    js(
        &client,
        "const s = document.querySelector('.reader-slider input'); s.value = '3'; \
         s.dispatchEvent(new Event('input'));",
    )
    .await;
    until(
        &client,
        "the slider's bubble with page 3's thumbnail",
        "(() => { const b = document.querySelector('.reader-slider .bubble'); \
           const i = b.querySelector('img'); \
           return !b.hidden && b.textContent.includes('3') && i.complete && i.naturalWidth > 0; })()",
    )
    .await;
    js(
        &client,
        "document.querySelector('.reader-slider input').dispatchEvent(new Event('change'));",
    )
    .await;
    reader_at(&client, 2).await;

    // ---- Fit: to the screen's height, its width, or the page's own size (a 600×850 page on a
    // screen shorter than it).
    client.set_window_size(1000, 600).await.unwrap();
    let fits = [
        (
            "width",
            "Math.abs(r.width - stage.clientWidth) < 2 && r.height > stage.clientHeight",
        ),
        (
            "original",
            "Math.abs(r.width - img.naturalWidth) < 1.5 && Math.abs(r.height - img.naturalHeight) < 1.5",
        ),
        (
            "height",
            "Math.abs(r.height - stage.clientHeight) < 2 && r.height < img.naturalHeight",
        ),
    ];
    for (fit, holds) in fits {
        click(&client, "[data-settings]").await;
        click(&client, &format!("input[name=fit][value={fit}]")).await;
        click(&client, "[data-settings]").await;
        until(
            &client,
            &format!("the page fitted to {fit}"),
            &format!(
                "(() => {{ const stage = document.querySelector('.reader-stage.fit-{fit}'); \
                   const img = stage && stage.querySelector('img'); \
                   if (!img || !img.complete) return false; \
                   const r = img.getBoundingClientRect(); return {holds}; }})()"
            ),
        )
        .await;
    }

    // ---- Zoom on a phone: a double tap in the middle zooms in and out again; two fingers
    // pinch it open.
    client.set_window_size(390, 844).await.unwrap();
    let zoom = "(() => { const z = document.querySelector('.reader-stage .zoom'); \
                  const m = /scale\\(([0-9.]+)\\)/.exec(z.style.transform); \
                  return document.querySelector('.reader-stage').classList.contains('zoomed') \
                    ? Number(m && m[1]) : 1; })()";
    let double_tap = || {
        let tap = |a: TouchActions| {
            a.then(PointerAction::Down { button: 0 })
                .then(PointerAction::Up { button: 0 })
        };
        let finger = TouchActions::new("finger".into()).then(PointerAction::MoveTo {
            duration: None,
            x: 195.0,
            y: 420.0,
        });
        tap(tap(finger).then(PointerAction::Pause {
            duration: Duration::from_millis(90),
        }))
    };
    client.perform_actions(double_tap()).await.unwrap();
    client.release_actions().await.unwrap();
    until(
        &client,
        "zoomed in by a double tap",
        &format!("{zoom} === 2.5"),
    )
    .await;
    client.perform_actions(double_tap()).await.unwrap();
    client.release_actions().await.unwrap();
    until(
        &client,
        "zoomed out by a second one",
        &format!("{zoom} === 1"),
    )
    .await;
    let pinch = fantoccini::actions::Actions::from(finger("thumb", 170.0, 60.0, 420.0))
        .and(finger("index", 220.0, 330.0, 420.0));
    client.perform_actions(pinch).await.unwrap();
    client.release_actions().await.unwrap();
    until(
        &client,
        "zoomed in by pinching",
        &format!("{zoom} > 2 && {zoom} <= 5"),
    )
    .await;
    assert_eq!(
        reader_page(&client).await,
        2,
        "a pinch is not a swipe: the page stays"
    );
    client.perform_actions(double_tap()).await.unwrap();
    client.release_actions().await.unwrap();
    until(
        &client,
        "zoomed out by a double tap",
        &format!("{zoom} === 1"),
    )
    .await;
    client.set_window_size(1440, 900).await.unwrap();

    // ---- Reorder pages with the keyboard (Alt+←), then save.
    let before = lib.db.galleries().pages(&gallery).unwrap();
    client.goto(&format!("{base}/g/{gallery}")).await.unwrap();
    let second = client
        .find(Locator::Css(".thumbs.editable li[data-page='1']"))
        .await
        .unwrap();
    second
        .send_keys(&format!("{}{}", Key::Alt, Key::Left))
        .await
        .unwrap();
    until(
        &client,
        "page 2 moved first",
        "document.querySelector('.thumbs.editable li').dataset.page === '1'",
    )
    .await;
    click(&client, "form.pages-form p > button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let after = lib.db.galleries().pages(&gallery).unwrap();
        if after[0].blob.hash == before[1].blob.hash {
            assert_eq!(after[1].blob.hash, before[0].blob.hash);
            break;
        }
        assert!(Instant::now() < deadline, "the new order was not saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // ---- And with the mouse: the third page dragged before the first, then saved.
    url_ends_with(&client, &format!("/g/{gallery}")).await;
    let before = lib.db.galleries().pages(&gallery).unwrap();
    let items = client
        .find_all(Locator::Css(".thumbs.editable li"))
        .await
        .unwrap();
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: items[2].clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down { button: 0 })
        .then(PointerAction::MoveToElement {
            element: items[1].clone(),
            duration: Some(Duration::from_millis(150)),
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::MoveToElement {
            element: items[0].clone(),
            duration: Some(Duration::from_millis(150)),
            x: -20.0,
            y: 0.0,
        })
        .then(PointerAction::Up { button: 0 });
    client.perform_actions(drag).await.unwrap();
    client.release_actions().await.unwrap();
    assert!(
        here(&client).await.ends_with(&format!("/g/{gallery}")),
        "the drag did not follow the page's link"
    );
    click(&client, "form.pages-form p > button[type=submit]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let after = lib.db.galleries().pages(&gallery).unwrap();
        let hashes: Vec<_> = after.iter().take(3).map(|p| p.blob.hash).collect();
        if hashes[0] == before[2].blob.hash {
            assert_eq!(hashes[1..], [before[0].blob.hash, before[1].blob.hash]);
            break;
        }
        assert!(Instant::now() < deadline, "the dragged order was not saved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // ---- The theme: the toggle goes light, then dark (the page's colours follow), the server
    // renders the next page dark (no flash), and back to following the system.
    url_ends_with(&client, &format!("/g/{gallery}")).await;
    let theme = "document.documentElement.dataset.theme || 'auto'";
    let background = "(() => { const m = getComputedStyle(document.body).backgroundColor \
                        .match(/[0-9.]+/g).map(Number); return m[0] + m[1] + m[2]; })()";
    click(&client, "[data-theme-toggle]").await;
    assert_eq!(js(&client, &format!("return {theme};")).await, "light");
    let light = js(&client, &format!("return {background};")).await;
    click(&client, "[data-theme-toggle]").await;
    assert_eq!(js(&client, &format!("return {theme};")).await, "dark");
    let dark = js(&client, &format!("return {background};")).await;
    assert!(
        dark.as_f64().unwrap() + 200.0 < light.as_f64().unwrap(),
        "dark is darker: {dark} vs {light}"
    );
    client.refresh().await.unwrap();
    assert_eq!(
        js(
            &client,
            "return document.documentElement.getAttribute('data-theme');"
        )
        .await,
        "dark",
        "the server renders the chosen theme"
    );
    click(&client, "[data-theme-toggle]").await;
    assert_eq!(js(&client, &format!("return {theme};")).await, "auto");
    client.refresh().await.unwrap();
    assert_eq!(
        js(
            &client,
            "return document.documentElement.hasAttribute('data-theme');"
        )
        .await,
        false
    );

    // ---- A page as the cover, then a cover cropped out of a page by dragging.
    url_ends_with(&client, &format!("/g/{gallery}")).await;
    click(
        &client,
        "button[aria-label='Make this page the cover (Page 4)']",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while lib.db.galleries().get(&gallery).unwrap().cover_page != 3 {
        assert!(Instant::now() < deadline, "the cover page was not set");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    url_ends_with(&client, &format!("/g/{gallery}")).await;
    click(
        &client,
        "a[aria-label='Cut a cover from this page (Page 1)']",
    )
    .await;
    url_ends_with(&client, "/cover?page=0").await;
    let image = client
        .find(Locator::Css("[data-cropper] img"))
        .await
        .unwrap();
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: image.clone(),
            duration: None,
            x: -60.0,
            y: -80.0,
        })
        .then(PointerAction::Down { button: 0 })
        .then(PointerAction::MoveToElement {
            element: image.clone(),
            duration: Some(Duration::from_millis(200)),
            x: 60.0,
            y: 80.0,
        })
        .then(PointerAction::Up { button: 0 });
    client.perform_actions(drag).await.unwrap();
    client.release_actions().await.unwrap();
    let w = js(
        &client,
        "return Number(document.querySelector('.crop-form input[name=w]').value);",
    )
    .await;
    let w = w.as_f64().unwrap();
    assert!(w > 5.0 && w < 95.0, "the drag drew the crop: {w}%");
    let page_hashes: Vec<_> = lib
        .db
        .galleries()
        .pages(&gallery)
        .unwrap()
        .into_iter()
        .map(|p| p.blob.hash)
        .collect();
    click(&client, ".crop-form button[type=submit]").await;
    url_ends_with(&client, &format!("/g/{gallery}")).await;
    let cover = lib.db.galleries().get(&gallery).unwrap().cover.unwrap();
    assert!(
        !page_hashes.contains(&cover),
        "the cover is a cut-out, not a page"
    );
    until(
        &client,
        "the cropped cover shown",
        "(() => { const i = document.querySelector('.gallery-head > img'); return i.complete && i.naturalWidth > 0; })()",
    )
    .await;

    // ---- Trash, then restore from the trash page.
    click(&client, "form[action$='/trash'] button").await;
    until(
        &client,
        "the trash note",
        "document.querySelector('.gallery-head .note')",
    )
    .await;
    client.goto(&format!("{base}/?q=zephyrine")).await.unwrap();
    assert!(
        client
            .find_all(Locator::Css("a.card"))
            .await
            .unwrap()
            .is_empty()
    );
    client.goto(&format!("{base}/manage/trash")).await.unwrap();
    click(&client, "ul.trash form[action$='/restore'] button").await;
    url_ends_with(&client, "/manage/trash?done=restored").await;
    assert!(
        lib.db
            .galleries()
            .get(&gallery)
            .unwrap()
            .trashed_at
            .is_none()
    );
    client.goto(&format!("{base}/?q=zephyrine")).await.unwrap();
    assert_eq!(
        client.find_all(Locator::Css("a.card")).await.unwrap().len(),
        1
    );

    // ---- What the service worker keeps: the app shell, never pages or images.
    let cached = client
        .execute_async(
            "const done = arguments[0]; caches.keys().then(async (names) => { \
               const urls = []; \
               for (const n of names) { const c = await caches.open(n); \
                 for (const r of await c.keys()) urls.push(new URL(r.url).pathname); } \
               done(urls); });",
            vec![],
        )
        .await
        .unwrap();
    let cached: Vec<String> = serde_json::from_value(cached).unwrap();
    assert!(!cached.is_empty(), "the app shell is cached");
    assert!(
        cached.iter().all(|u| u.starts_with("/assets/")),
        "only assets are cached: {cached:?}"
    );

    // ---- A reader account, made on the users page: no edit controls, and refused when it
    // calls them anyway.
    client.goto(&format!("{base}/manage/users")).await.unwrap();
    let add = "form[action='/manage/users'] input[name=action][value=add]";
    assert!(client.find(Locator::Css(add)).await.is_ok());
    fill(
        &client,
        "form:has(input[value=add]) input[name=name]",
        "reader",
    )
    .await;
    fill(
        &client,
        "form:has(input[value=add]) input[name=password]",
        "reader-password",
    )
    .await;
    click(&client, "form:has(input[value=add]) button[type=submit]").await;
    url_ends_with(&client, "/manage/users?done=saved").await;
    assert_eq!(
        lib.db.accounts().user("reader").unwrap().unwrap().role,
        db::Role::Reader
    );
    // Signing out from the phone's menu.
    client.set_window_size(390, 844).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    click(&client, "details.menu > summary").await;
    click(&client, "form[action='/logout'] button").await;
    url_ends_with(&client, "/login").await;
    client.set_window_size(1440, 900).await.unwrap();
    sign_in(&client, &base, "reader", "reader-password").await;
    // A page the reader may not see is the app's error page, not JSON.
    client.goto(&format!("{base}/manage")).await.unwrap();
    until(
        &client,
        "the error page",
        "document.querySelector('.problem') && document.body.innerText.includes('needs an editor')",
    )
    .await;
    shoot(&client, "error").await;
    client.set_window_size(1440, 900).await.unwrap();
    client.goto(&format!("{base}/g/{gallery}")).await.unwrap();
    for edit in [
        "input[name=add]",
        ".tag-remove",
        "form.pages-form",
        "form[action$='/trash']",
        "form[action$='/purge']",
        "details.edit-title",
        "a[href='/manage']",
    ] {
        assert!(
            client
                .find_all(Locator::Css(edit))
                .await
                .unwrap()
                .is_empty(),
            "a reader sees {edit}"
        );
    }
    let refused = js(
        &client,
        &format!(
            "const csrf = document.querySelector('meta[name=csrf]').content;              const form = (path) => fetch(path, {{ method: 'POST', headers: {{ 'x-csrf-token': csrf,                'content-type': 'application/x-www-form-urlencoded' }}, body: 'add=misc:sneaky', redirect: 'manual' }});              const api = fetch('/api/v1/galleries/{gallery}/tags', {{ method: 'PUT', headers: {{ 'x-csrf-token': csrf,                'content-type': 'application/json' }}, body: JSON.stringify({{ add: ['misc:sneaky'] }}) }});              return Promise.all([form('/g/{gallery}/tags'), form('/g/{gallery}/trash'), api, fetch('/manage')])                .then((rs) => rs.map((r) => r.status));"
        ),
    )
    .await;
    assert_eq!(refused, serde_json::json!([403, 403, 403, 403]));
    assert!(!tag_names(&lib).contains(&"misc:sneaky".to_string()));
    assert!(
        lib.db
            .galleries()
            .get(&gallery)
            .unwrap()
            .trashed_at
            .is_none()
    );

    client.close().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
}
