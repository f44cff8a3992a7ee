//! The native API against its own OpenAPI document: schemathesis (PyPI) runs against a live
//! `serve` with a small real library, signed in with an API key. No server error, and every
//! answer conforms to the document (status, content type, schema); data the document says is
//! invalid is refused with a 4xx.
//!
//! schemathesis is found at `LITTLEPANDA_SCHEMATHESIS`, else at `target/py/bin/st` (where `./test`
//! installs it). Without it this test fails: it never passes silently.

mod common;

use common::{Serving, add_user, http, run, sign_in, text};

use std::io::Write;
use std::path::{Path, PathBuf};

fn schemathesis() -> PathBuf {
    if let Some(p) = std::env::var_os("LITTLEPANDA_SCHEMATHESIS") {
        return p.into();
    }
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/py/bin/st");
    assert!(
        installed.exists(),
        "schemathesis is not installed: run ./test (it installs it into target/py), or set \
         LITTLEPANDA_SCHEMATHESIS to its `st` program"
    );
    installed
}

fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h * 3)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
        .collect();
    library::import::thumb::jpeg_from_rgb(&pixels, w, h, 80).unwrap()
}

fn cbz(path: &Path, pages: &[Vec<u8>]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (i, data) in pages.iter().enumerate() {
        w.start_file(
            format!("{:02}.jpg", i + 1),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn schemathesis_finds_the_api_true_to_its_document() {
    let st = schemathesis();
    let data = tempfile::tempdir().unwrap();
    let sources = tempfile::tempdir().unwrap();
    let d = data.path();
    for g in 0..3u8 {
        let pages: Vec<Vec<u8>> = (0..3).map(|p| jpeg(32, 48, g * 7 + p + 1)).collect();
        cbz(
            &sources.path().join(format!("[Artist {g}] Gallery {g}.cbz")),
            &pages,
        );
    }
    let out = run(d, &["import", sources.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The run reaches real galleries and images, not only 404s: the operations on a gallery
    // get these ids (the purge its own, so that the others keep theirs).
    let (galleries, image) = {
        let db = db::Db::open_sqlite(&d.join("littlepanda.db")).unwrap();
        let ids: Vec<String> = db
            .galleries()
            .list(&db::ListQuery::default())
            .unwrap()
            .into_iter()
            .map(|g| g.public_id)
            .collect();
        let image = db.galleries().pages(&ids[1]).unwrap()[0].blob.hash;
        (ids, image)
    };
    assert_eq!(galleries.len(), 3);
    let config = format!(
        r#"
[[operations]]
include-operation-id = "purge"
parameters = {{ "path.id" = "{purged}" }}

[[operations]]
include-path-regex = "^/api/v1/galleries/\\{{id\\}}"
exclude-operation-id = "purge"
parameters = {{ "path.id" = "{kept}" }}

[[operations]]
include-path-regex = "^/api/v1/collections/\\{{id\\}}/galleries/"
parameters = {{ "path.gallery" = "{kept}" }}

[[operations]]
include-path-regex = "^/api/v1/(blobs|thumbnails)/\\{{hash\\}}"
parameters = {{ "path.hash" = "{image}" }}
"#,
        purged = galleries[2],
        kept = galleries[0],
    );
    let out = add_user(d, "admin", "admin", "admin-password");
    assert!(out.status.success(), "{}", text(&out.stderr));

    let server = Serving::start(d);
    let addr = server.addr.clone();
    let (cookie, csrf) = sign_in(&addr, "admin", "admin-password");
    // The run revokes keys by id among other things: the key it uses is not one of the first.
    let make_key = |name: &str, scope: &str| {
        let (status, _, body) = http(
            &addr,
            "POST",
            "/api/v1/account/keys",
            &[
                ("Content-Type", "application/json"),
                ("Cookie", &cookie),
                ("X-CSRF-Token", &csrf),
            ],
            format!(r#"{{"name":"{name}","scope":"{scope}"}}"#).as_bytes(),
        );
        assert_eq!(status, 201, "{}", text(&body));
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for i in 0..200 {
        make_key(&format!("spare {i}"), "read");
    }
    let key = make_key("schemathesis", "read-write");

    let report = tempfile::tempdir().unwrap();
    let config_file = report.path().join("schemathesis.toml");
    std::fs::write(&config_file, config).unwrap();
    let out = std::process::Command::new(&st)
        .arg("--config-file")
        .arg(&config_file)
        .arg("run")
        .arg(format!("http://{addr}/api/v1/openapi.json"))
        .args(["-H", &format!("Authorization: Bearer {key}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,negative_data_rejection",
        ])
        // An event stream never ends: it is followed by the jobs tests instead.
        .args(["--exclude-path", "/api/v1/jobs/events"])
        .args([
            "--max-examples",
            "25",
            "--workers",
            "2",
            "--request-timeout",
            "20",
        ])
        .args(["--seed", "1"])
        .args(["--report", "junit", "--report-dir"])
        .arg(report.path())
        .env("NO_COLOR", "1")
        // It keeps a cache in its working folder: not in the checkout.
        .current_dir(report.path())
        .output()
        .expect("run schemathesis");
    let shown = text(&out.stdout);
    let summary: String = shown
        .lines()
        .skip_while(|l| !l.contains("SUMMARY"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("{summary}");
    // The server still answers, with the key the run used.
    let (status, _, _) = http(
        &addr,
        "GET",
        "/api/v1/account",
        &[("Authorization", &format!("Bearer {key}"))],
        b"",
    );
    let log = server.stop();
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{shown}\n{}\nserver log:\n{}",
        text(&out.stderr),
        log.join("\n")
    );
    assert!(
        summary.contains("Tested: ") && !summary.contains("Tested: 0"),
        "{summary}"
    );
    assert_eq!(status, 200, "the run's key stopped working");
}
