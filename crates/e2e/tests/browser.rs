//! The web app in a real browser: Debian's Chromium, headless, driven through chromedriver.
//! Signs in, finds a gallery in the grid and by search, opens it, reads it to the end with the
//! keyboard and back, and checks the reading progress was saved. Screenshots of the grid, the
//! gallery and the reader at phone (390×844) and desktop (1440×900) sizes go to
//! `target/screenshots/` in every run.
//!
//! Needs `chromium` and `chromium-driver` (apt); `.ci/run` installs them. Without them this test
//! fails and says so: it never passes without a browser.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

fn jpeg(seed: u8) -> Vec<u8> {
    let (w, h) = (600u32, 850u32);
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

/// A library with one imported gallery of four pages, and an admin.
struct Library {
    db: Arc<db::Db>,
    store: Arc<lpfs::Store>,
    live: Arc<search::Live>,
    gallery: String,
    _dir: tempfile::TempDir,
}

fn library() -> Library {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(&dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    library::synth::fill(&db, store.as_ref(), 30, 30, 4, |_| {}).unwrap();
    let archive = dir
        .path()
        .join("(C99) [Mori Kanata] Zephyrine Holiday Diary [English].cbz");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
    for i in 0..4u8 {
        zip.start_file(
            format!("{:02}.jpg", i + 1),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        zip.write_all(&jpeg(i * 60)).unwrap();
    }
    zip.finish().unwrap();
    let importer = library::import::Importer::new(store.clone(), db.clone());
    let source = importer.discover(&archive).unwrap().remove(0);
    let library::import::Outcome::Imported(g) = importer.import(
        &source,
        &library::import::ImportOptions::default(),
        &library::import::Quiet,
    ) else {
        panic!("the test archive did not import");
    };
    let hash = server::auth::hash_password("admin-password").unwrap();
    db.accounts()
        .create_user("admin", &hash, db::Role::Admin)
        .unwrap();
    let live = Arc::new(search::Live::build(db.clone()).unwrap());
    Library {
        db,
        store,
        live,
        gallery: g.public_id,
        _dir: dir,
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
        let png = client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot");
        std::fs::write(screenshots().join(format!("{name}-{size}.png")), png).unwrap();
    }
}

async fn url_ends_with(client: &Client, tail: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = client.current_url().await.unwrap();
        let here = format!(
            "{}{}",
            url.path(),
            url.query().map_or(String::new(), |q| format!("?{q}"))
        );
        if here.ends_with(tail) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected a URL ending in {tail}, at {here}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_browse_search_and_read_in_chromium() {
    let lib = library();
    let state = server::AppState {
        lpfs: Some(lib.store.clone()),
        importer: Some(Arc::new(library::import::Importer::new(
            lib.store.clone(),
            lib.db.clone(),
        ))),
        search: Some(lib.live.clone()),
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

    // Not signed in: the grid leads to the sign-in page, and back after it.
    client.goto(&format!("{base}/")).await.unwrap();
    url_ends_with(&client, "/login?next=%2F").await;
    client
        .find(Locator::Css("input[name=name]"))
        .await
        .unwrap()
        .send_keys("admin")
        .await
        .unwrap();
    let password = client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap();
    password.send_keys("admin-password").await.unwrap();
    client
        .find(Locator::Css("form.login button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    url_ends_with(&client, "/").await;

    // The grid: covers of every gallery; the imported one among them.
    let cards = client.find_all(Locator::Css("a.card")).await.unwrap();
    assert_eq!(cards.len(), 31);
    shoot(&client, "grid").await;

    // Search finds it (the box keeps the query).
    let q = client.find(Locator::Css("input[name=q]")).await.unwrap();
    q.send_keys("zephyrine holiday").await.unwrap();
    q.send_keys(&Key::Enter.to_string()).await.unwrap();
    url_ends_with(&client, "?q=zephyrine+holiday").await;
    let cards = client.find_all(Locator::Css("a.card")).await.unwrap();
    assert_eq!(cards.len(), 1, "the search finds the one gallery");
    assert!(
        cards[0]
            .text()
            .await
            .unwrap()
            .contains("Zephyrine Holiday Diary")
    );
    cards[0].click().await.unwrap();
    url_ends_with(&client, &format!("/g/{}", lib.gallery)).await;
    let title = client
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(title, "Zephyrine Holiday Diary");
    let tags = client.find_all(Locator::Css("a.tag")).await.unwrap();
    assert!(!tags.is_empty(), "the name's artist and language are tags");
    // Add two tags with the form, then remove one with its ×.
    let add = client.find(Locator::Css("input[name=add]")).await.unwrap();
    add.send_keys("misc:browser test, female:glasses")
        .await
        .unwrap();
    add.send_keys(&Key::Enter.to_string()).await.unwrap();
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
            .of_gallery(&lib.gallery)
            .unwrap()
            .into_iter()
            .map(|t| t.tag.to_string())
            .collect()
    };
    assert!(tag_names(&lib).contains(&"female:glasses".to_string()));
    client
        .find(Locator::Css(
            "button[aria-label='Remove misc:browser test']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tag_names(&lib).contains(&"misc:browser test".to_string()) {
        assert!(Instant::now() < deadline, "the × did not remove the tag");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    url_ends_with(&client, &format!("/g/{}", lib.gallery)).await;
    // The new tag finds it in search.
    client
        .goto(&format!("{base}/?q=female%3Aglasses%24"))
        .await
        .unwrap();
    let found = client.find_all(Locator::Css("a.card")).await.unwrap();
    let hrefs: Vec<String> = {
        let mut v = Vec::new();
        for c in &found {
            v.push(c.attr("href").await.unwrap().unwrap_or_default());
        }
        v
    };
    assert!(hrefs.contains(&format!("/g/{}", lib.gallery)), "{hrefs:?}");
    client
        .goto(&format!("{base}/g/{}", lib.gallery))
        .await
        .unwrap();
    shoot(&client, "gallery").await;

    // Read to the last page with the keyboard, and back.
    client
        .find(Locator::Css(".actions a.button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    url_ends_with(&client, "/read?page=0").await;
    for page in 1..=3 {
        // Each page is a new document: the key goes to this one's body.
        let body = client.find(Locator::Css("body")).await.unwrap();
        body.send_keys(&Key::Right.to_string()).await.unwrap();
        url_ends_with(&client, &format!("/read?page={page}")).await;
    }
    let bar = client
        .find(Locator::Css(".reader-bar"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(bar.contains("Page 4 / 4"), "{bar}");
    // The image shown is the page's own, decoded by the browser.
    let loaded = client
        .execute(
            "const img = document.querySelector('.reader-page img'); \
             return img.complete && img.naturalWidth;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, serde_json::json!(600), "the page image loaded");
    shoot(&client, "reader").await;
    let body = client.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&Key::Left.to_string()).await.unwrap();
    url_ends_with(&client, "/read?page=2").await;
    let body = client.find(Locator::Css("body")).await.unwrap();
    body.send_keys(&Key::Home.to_string()).await.unwrap();
    url_ends_with(&client, "/read?page=0").await;
    // Every page shown was saved as where the admin is; the last is page 0 now.
    let admin = lib.db.accounts().user("admin").unwrap().unwrap();
    let id = lib.db.galleries().id_of(&lib.gallery).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = lib.db.accounts().progress(admin.id, id).unwrap();
        if p.is_some_and(|p| p.page == 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reader saved no progress: {p:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    client.close().await.unwrap();
    let _ = stop.send(());
    let _ = server.await;
}
