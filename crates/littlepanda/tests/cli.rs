//! The real `littlepanda` binary, run as a user would, in a temporary data directory: serve, store
//! and fetch over HTTP, stop, restart, check, damage, repair, compact.

mod common;

use common::{add_user, littlepanda, run, text};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running server, the address it announced, and the session it is used with.
struct Server {
    child: Child,
    addr: String,
    /// Cookie and CSRF headers of an admin's session.
    session: Vec<(String, String)>,
}

impl Server {
    /// Starts a server and signs in as an admin (made first if there is none).
    fn start(data: &Path) -> Server {
        if !text(&run(data, &["user", "list"]).stdout).contains("admin") {
            let out = add_user(data, "admin", "admin", "admin-password");
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let mut server = Self::start_with(data, &["--listen", "127.0.0.1:0"]);
        let (status, head, body) = server.request(
            "POST",
            "/api/v1/login",
            &[("Content-Type", "application/json")],
            br#"{"name":"admin","password":"admin-password"}"#,
        );
        assert_eq!(status, 200, "{}", text(&body));
        let cookie = head
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie")
            .to_string();
        let csrf = json(&body)["csrf"].as_str().unwrap().to_string();
        server.session = vec![("Cookie".into(), cookie), ("X-CSRF-Token".into(), csrf)];
        server
    }

    /// Starts `serve` with these arguments; answers once it announced its address.
    fn start_with(data: &Path, args: &[&str]) -> Server {
        let mut child = littlepanda(data)
            .arg("serve")
            .args(args)
            .env("LITTLEPANDA_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = loop {
            assert!(
                Instant::now() < deadline,
                "the server did not announce its address"
            );
            let line = lines
                .next()
                .expect("server output")
                .expect("read server output");
            if let Some(rest) = line.split("serving http").nth(1) {
                break rest
                    .trim_start_matches("s://")
                    .trim_start_matches("://")
                    .trim_end_matches('/')
                    .to_string();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            addr,
            session: Vec::new(),
        }
    }

    /// One HTTP/1.1 request; answers (status, headers, body).
    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.extend(self.session.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        common::http(&self.addr, method, path, &all, body)
    }

    /// Stops the server the way a service manager would (SIGTERM) and waits for a clean exit.
    fn stop(mut self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .expect("signal the server");
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "the server did not stop cleanly: {status}"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(body)))
}

#[test]
fn serve_store_restart_and_fetch() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let page = b"\xff\xd8\xff\xe0 a page of a doujinshi, more or less".repeat(100);
    let (status, _, body) = server.request("PUT", "/api/v1/blobs", &[], &page);
    assert_eq!(status, 201, "{}", text(&body));
    let hash = json(&body)["hash"].as_str().unwrap().to_string();
    let (status, head, body) = server.request("GET", &format!("/api/v1/blobs/{hash}"), &[], b"");
    assert_eq!(status, 200);
    assert_eq!(body, page);
    assert!(
        head.to_lowercase().contains("content-type: image/jpeg"),
        "{head}"
    );
    // A second server on the same data is refused with a clear reason.
    let second = run(data.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert!(!second.status.success());
    assert!(
        text(&second.stderr).contains("in use by another process"),
        "{}",
        text(&second.stderr)
    );
    // Compaction from the command line points at the running server.
    let compact = run(data.path(), &["compact"]);
    assert!(!compact.status.success());
    assert!(
        text(&compact.stderr).contains("/api/v1/store/compact"),
        "{}",
        text(&compact.stderr)
    );
    // Checking works beside the running server, read-only.
    let fsck = run(data.path(), &["fsck"]);
    assert!(fsck.status.success(), "{}", text(&fsck.stdout));
    server.stop();

    let server = Server::start(data.path());
    let (status, head, body) = server.request(
        "GET",
        &format!("/api/v1/blobs/{hash}"),
        &[("Range", "bytes=0-3")],
        b"",
    );
    assert_eq!(status, 206, "{head}");
    assert_eq!(body, &page[..4]);
    let (status, _, body) = server.request("GET", "/api/v1/blobs/not-a-hash", &[], b"");
    assert_eq!(status, 400);
    assert_eq!(json(&body)["code"], "malformed-hash");
    server.stop();
}

#[test]
fn fsck_finds_damage_and_repair_sets_it_aside() {
    use std::os::unix::fs::FileExt;
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let mut hashes = Vec::new();
    for i in 0..20u8 {
        let (_, _, body) = server.request("PUT", "/api/v1/blobs", &[], &vec![i; 5000]);
        hashes.push(json(&body)["hash"].as_str().unwrap().to_string());
    }
    server.stop();

    let clean = run(data.path(), &["fsck", "--json"]);
    assert!(clean.status.success(), "{}", text(&clean.stdout));
    assert_eq!(json(&clean.stdout)["clean"], true);

    // Flip one byte inside the seventh blob's payload.
    let vol = std::fs::OpenOptions::new()
        .write(true)
        .open(data.path().join("lpfs/00000001.vol"))
        .unwrap();
    let record: u64 = 56 + 5000; // 5000 is a multiple of 8: no padding
    vol.write_all_at(&[0xAA], 64 + 6 * record + 56 + 100)
        .unwrap();
    let damaged = run(data.path(), &["fsck"]);
    assert!(!damaged.status.success(), "damage must fail fsck");
    let out = text(&damaged.stdout);
    assert!(out.contains("DAMAGED") && out.contains(&hashes[6]), "{out}");

    let repaired = run(data.path(), &["fsck", "--repair", "--json"]);
    assert_eq!(json(&repaired.stdout)["fsck"]["repaired"], true);
    assert!(
        data.path()
            .join("lpfs/lost+found")
            .read_dir()
            .unwrap()
            .count()
            > 0
    );
    let after = run(data.path(), &["fsck"]);
    assert!(
        after.status.success(),
        "clean after repair: {}",
        text(&after.stdout)
    );

    let stats = run(data.path(), &["stats", "--json"]);
    assert!(stats.status.success());
    assert_eq!(json(&stats.stdout)["blobs"], 19);
    let compact = run(data.path(), &["compact", "--threshold", "0", "--json"]);
    assert!(compact.status.success(), "{}", text(&compact.stderr));
    let bad = run(data.path(), &["compact", "--threshold", "3"]);
    assert!(!bad.status.success());
}

#[test]
fn rebuild_index_from_volumes() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let (_, _, body) = server.request(
        "PUT",
        "/api/v1/blobs",
        &[],
        b"kept through an index rebuild",
    );
    let hash = json(&body)["hash"].as_str().unwrap().to_string();
    server.stop();
    let out = run(data.path(), &["fsck", "--rebuild-index", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        json(&out.stdout)["recovery"]["index_rebuilt"],
        serde_json::json!([1])
    );
    let server = Server::start(data.path());
    let (status, _, body) = server.request("GET", &format!("/api/v1/blobs/{hash}"), &[], b"");
    assert_eq!(
        (status, body.as_slice()),
        (200, &b"kept through an index rebuild"[..])
    );
    server.stop();
}

#[test]
fn configuration_errors_are_clear() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(
        data.path().join("littlepanda.toml"),
        "[store]\nmax_volume_size = \"lots\"\n",
    )
    .unwrap();
    let out = run(data.path(), &["serve"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("littlepanda.toml") && err.contains("lots"),
        "{err}"
    );
    let out = run(data.path(), &["fsck"]);
    assert!(!out.status.success());

    let missing = tempfile::tempdir().unwrap();
    let out = run(&missing.path().join("nothing-here"), &["fsck"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no image store"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn synth_fills_the_default_sqlite_library() {
    let data = tempfile::tempdir().unwrap();
    let out = run(
        data.path(),
        &["synth", "--galleries", "120", "--batch", "50"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("added 120 synthetic galleries"),
        "{}",
        text(&out.stdout)
    );
    let out = run(data.path(), &["synth", "--galleries", "30", "--seed", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = db::Db::open_sqlite(&data.path().join("littlepanda.db")).unwrap();
    assert_eq!(db.galleries().count().unwrap(), 150);
    let newest = db
        .galleries()
        .list(&db::ListQuery {
            limit: 5,
            ..db::ListQuery::default()
        })
        .unwrap();
    assert_eq!(newest.len(), 5);
    assert!(
        newest
            .iter()
            .all(|g| (10..=400).contains(&g.page_count) && !g.tags.is_empty() && g.cover.is_some())
    );
    // The page images are real blobs in the store, served by the server.
    let pages = db.galleries().pages(&newest[0].public_id).unwrap();
    drop(db);
    let server = Server::start(data.path());
    let (status, head, body) = server.request(
        "GET",
        &format!("/api/v1/blobs/{}", pages[0].blob.hash),
        &[],
        b"",
    );
    assert_eq!(status, 200);
    assert!(
        head.to_lowercase().contains("content-type: image/bmp"),
        "{head}"
    );
    assert_eq!(body.len() as u64, pages[0].blob.bytes);
    server.stop();
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let data = tempfile::tempdir().unwrap();
    let out = run(data.path(), &["--database-url", "postgres://nope", "serve"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("sqlite://") && text(&out.stderr).contains("mysql://"),
        "{}",
        text(&out.stderr)
    );
    let out = run(
        data.path(),
        &[
            "--database-url",
            "mysql://someone:secret@127.0.0.1:1/none",
            "serve",
        ],
    );
    assert!(!out.status.success());
    assert!(
        !text(&out.stderr).contains("secret"),
        "the password leaked: {}",
        text(&out.stderr)
    );
}

#[test]
fn users_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let out = add_user(data.path(), "root", "admin", "root-password");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = add_user(data.path(), "kim", "reader", "short");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at least 8"),
        "{}",
        text(&out.stderr)
    );
    let out = add_user(data.path(), "kim", "reader", "kim-password");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = add_user(data.path(), "kim", "reader", "kim-password");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("taken"), "{}", text(&out.stderr));
    let out = run(data.path(), &["user", "role", "kim", "editor"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = text(&run(data.path(), &["user", "list"]).stdout);
    assert!(
        list.contains("kim\teditor") && list.contains("root\tadmin"),
        "{list}"
    );
    // The last admin stays.
    let out = run(data.path(), &["user", "remove", "root"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("last admin"),
        "{}",
        text(&out.stderr)
    );
    let out = run(data.path(), &["user", "role", "root", "reader"]);
    assert!(!out.status.success());
    let out = run(data.path(), &["user", "remove", "kim"]);
    assert!(out.status.success());
    assert!(!text(&run(data.path(), &["user", "list"]).stdout).contains("kim"));
}

#[test]
fn serving_the_network_without_an_admin_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let out = run(data.path(), &["serve", "--listen", "0.0.0.0:0"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("no admin account exists") && err.contains("user add"),
        "{err}"
    );
}

#[test]
fn serves_https_with_the_configured_certificate() {
    let data = tempfile::tempdir().unwrap();
    let (cert, key) = (data.path().join("cert.pem"), data.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (apt install openssl) makes the test certificate");
    assert!(made.status.success(), "{}", text(&made.stderr));
    std::fs::write(
        data.path().join("littlepanda.toml"),
        format!(
            "[server]\ntls_cert = {:?}\ntls_key = {:?}\n",
            cert.display().to_string(),
            key.display().to_string()
        ),
    )
    .unwrap();
    let server = Server::start_with(data.path(), &["--listen", "127.0.0.1:0"]);
    let out = std::process::Command::new("curl")
        .args(["-sk", "-D", "-"])
        .arg(format!("https://{}/api/v1/health", server.addr))
        .output()
        .expect("curl (apt install curl) talks HTTPS to the server");
    let answer = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");
    assert!(
        answer.to_lowercase().contains("content-security-policy"),
        "{answer}"
    );
    // Plain HTTP to the TLS port gets nowhere.
    let out = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{}/api/v1/health", server.addr))
        .output()
        .unwrap();
    assert_ne!(text(&out.stdout), "200");
    server.stop();
}
