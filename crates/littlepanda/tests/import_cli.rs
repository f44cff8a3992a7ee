//! `littlepanda import`, `export`, `trash`, `restore`, `purge`, `gc` and `serve --watch`, run as a
//! user would, in a temporary data directory.

mod common;

use common::{littlepanda, run, text};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let pixels: Vec<u8> = (0..w * h * 3)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
        .collect();
    library::import::thumb::jpeg_from_rgb(&pixels, w, h, 80).unwrap()
}

fn cbz(path: &Path, entries: &[(&str, &[u8])]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, data) in entries {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
}

fn lines(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn database(data: &Path) -> db::Db {
    db::Db::open_sqlite(&data.join("littlepanda.db")).unwrap()
}

#[test]
fn import_export_trash_and_purge() {
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let d = data.path();
    let (p1, p2, p3) = (jpeg(40, 50, 1), jpeg(40, 50, 2), jpeg(40, 50, 3));
    let a = input.path().join("[Circle (Artist)] First [English].cbz");
    cbz(&a, &[("2.jpg", &p2), ("1.jpg", &p1)]);
    let b = input.path().join("second.zip");
    cbz(&b, &[("1.jpg", &p1), ("2.jpg", &p3)]);
    let a_str = a.to_str().unwrap();
    let b_str = b.to_str().unwrap();

    let out = run(
        d,
        &["import", a_str, b_str, "--tags", "misc:batch one", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reports = lines(&out);
    assert_eq!(reports.len(), 2);
    assert!(
        reports.iter().all(|r| r["outcome"] == "imported"),
        "{reports:?}"
    );
    let a_id = reports[0]["public_id"].as_str().unwrap().to_string();
    let b_id = reports[1]["public_id"].as_str().unwrap().to_string();
    assert_eq!(reports[0]["title"], "First");
    assert_eq!(reports[0]["pages"], 2);

    // Again: duplicates, named by the existing ids; not a failure.
    let out = run(d, &["import", a_str]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains(&a_id), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("1 already in the library"));

    // Something that is not an archive: reported, and the exit status says so.
    let junk = input.path().join("junk.cbz");
    std::fs::write(&junk, b"not a zip").unwrap();
    let out = run(d, &["import", junk.to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let r = &lines(&out)[0];
    assert_eq!(r["outcome"], "failed");
    assert!(
        r["error"].as_str().unwrap().contains("not an archive"),
        "{r}"
    );

    // Export writes the pages byte for byte, in order, with a ComicInfo.xml.
    let exported = input.path().join("exported.cbz");
    let out = run(d, &["export", &a_id, "--to", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&exported).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    assert_eq!(names, ["001.jpg", "002.jpg", "ComicInfo.xml"]);
    let mut read = |name: &str| {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(name).unwrap(), &mut v).unwrap();
        v
    };
    assert_eq!(read("001.jpg"), p1);
    assert_eq!(read("002.jpg"), p2);
    let info = String::from_utf8(read("ComicInfo.xml")).unwrap();
    assert!(info.contains("<Title>First</Title>"), "{info}");
    assert!(
        info.contains("artist:artist") && info.contains("misc:batch one"),
        "{info}"
    );
    assert!(info.contains("<LanguageISO>en</LanguageISO>"), "{info}");
    // …and imports back with the same metadata.
    let out = run(d, &["import", exported.to_str().unwrap(), "--json"]);
    let r = &lines(&out)[0];
    assert_eq!(r["outcome"], "imported", "{r}");
    assert_eq!(r["title"], "First");
    let again = r["public_id"].as_str().unwrap().to_string();
    let db = database(d);
    let tags: Vec<String> = db
        .tags()
        .of_gallery(&again)
        .unwrap()
        .into_iter()
        .map(|t| t.tag.to_string())
        .collect();
    assert!(tags.contains(&"artist:artist".to_string()), "{tags:?}");
    drop(db);

    // Trash, restore, purge.
    assert!(run(d, &["trash", &a_id]).status.success());
    assert!(
        database(d)
            .galleries()
            .get(&a_id)
            .unwrap()
            .trashed_at
            .is_some()
    );
    assert!(run(d, &["restore", &a_id]).status.success());
    assert!(
        database(d)
            .galleries()
            .get(&a_id)
            .unwrap()
            .trashed_at
            .is_none()
    );
    let out = run(d, &["purge", &b_id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // p3 was b's alone; p1 is shared with a and stays.
    assert!(
        text(&out.stdout).contains("1 images"),
        "{}",
        text(&out.stdout)
    );
    assert!(database(d).galleries().get(&b_id).is_err());
    let out = run(d, &["purge", &b_id]);
    assert!(!out.status.success(), "purging twice is an error");
}

#[test]
fn an_interrupted_import_is_cleaned_up_on_the_next_start() {
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let d = data.path();
    let a = input.path().join("a.cbz");
    cbz(&a, &[("1.jpg", &jpeg(16, 16, 9))]);
    assert!(run(d, &["import", a.to_str().unwrap()]).status.success());
    // What a process killed mid-import leaves: a running import job and pages no gallery names.
    {
        let store = lpfs::Store::open(d.join("lpfs"), lpfs::Options::default()).unwrap();
        lpfs::BlobStore::put(&store, &jpeg(20, 20, 5)).unwrap();
        let db = database(d);
        let job = db
            .jobs()
            .create(db::JobKind::Import, "/somewhere/b.cbz")
            .unwrap();
        db.jobs().start(job).unwrap();
    }
    let stored = |d: &Path| {
        let store = lpfs::Store::open(d.join("lpfs"), lpfs::Options::default()).unwrap();
        lpfs::BlobStore::list(&store, None, 1000).unwrap().len()
    };
    assert_eq!(stored(d), 3, "a page, its thumbnail and the orphan");
    let b = input.path().join("b.cbz");
    cbz(&b, &[("1.jpg", &jpeg(16, 16, 10))]);
    let out = run(d, &["import", b.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("interrupted"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        stored(d),
        4,
        "the orphan is gone; b's page and thumbnail are in"
    );
    // The interrupted job waits, queued again, for the next `serve` to resume it.
    let db = database(d);
    let queued = db.jobs().in_state(db::JobState::Queued, 10).unwrap();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].payload, "/somewhere/b.cbz");
    assert!(
        db.jobs()
            .in_state(db::JobState::Running, 10)
            .unwrap()
            .is_empty()
    );
    // `gc` by hand finds nothing more.
    drop(db);
    let out = run(d, &["gc"]);
    assert!(
        text(&out.stdout).contains("released 0"),
        "{}",
        text(&out.stdout)
    );
}

/// A server stopped mid-import (killed, crashed, restarted) leaves a running import job and the
/// pages it had stored so far; the next `serve` releases those, queues the job again and runs it
/// to the end. (Before, the opener marked such a job failed before `serve` could resume it.)
#[test]
fn an_import_a_stop_interrupted_is_finished_by_the_next_serve() {
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let d = data.path();
    let a = input.path().join("a.cbz");
    cbz(
        &a,
        &[
            ("1.jpg", &jpeg(16, 16, 21)),
            ("2.jpg", &jpeg(16, 16, 22)),
            ("3.jpg", &jpeg(16, 16, 23)),
        ],
    );
    // What a server killed while importing `a` leaves: its job running, one page stored.
    let orphan = jpeg(16, 16, 21);
    let job = {
        let store = lpfs::Store::open(d.join("lpfs"), lpfs::Options::default()).unwrap();
        lpfs::BlobStore::put(&store, &orphan).unwrap();
        let db = database(d);
        let payload = serde_json::json!({ "path": a }).to_string();
        let job = db.jobs().create(db::JobKind::Import, &payload).unwrap();
        db.jobs().start(job).unwrap();
        job
    };
    let mut child = littlepanda(d)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the interrupted import to end", || {
        matches!(
            database(d).jobs().get(job).unwrap().state,
            db::JobState::Done | db::JobState::Failed
        )
    });
    let db = database(d);
    let ended = db.jobs().get(job).unwrap();
    assert_eq!(ended.state, db::JobState::Done, "{ended:?}");
    assert_eq!(db.galleries().count().unwrap(), 1);
    let listed = db.galleries().list(&db::ListQuery::default()).unwrap();
    assert_eq!(listed[0].page_count, 3, "{listed:?}");
    let job = db.jobs().get(job).unwrap();
    assert_eq!((job.done, job.total, job.error), (1, 1, None));
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn serve_watches_a_folder() {
    let data = tempfile::tempdir().unwrap();
    let watch = tempfile::tempdir().unwrap();
    let d = data.path();
    // The database exists before the server starts, so this test can read it meanwhile.
    drop(database(d));
    let child = littlepanda(d)
        .args(["serve", "--listen", "127.0.0.1:0", "--watch"])
        .arg(watch.path())
        .env("LITTLEPANDA_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // An archive arrives the way downloads do: written under a temporary name, then renamed.
    let part: PathBuf = watch.path().join("new.cbz.part");
    cbz(
        &part,
        &[("1.jpg", &jpeg(16, 16, 3)), ("2.jpg", &jpeg(16, 16, 4))],
    );
    std::fs::rename(&part, watch.path().join("new.cbz")).unwrap();
    std::fs::write(
        watch.path().join("broken.cbz"),
        b"PK\x03\x04 and then nothing",
    )
    .unwrap();
    // Not an archive at all: it was only a log line, never a job with its reason.
    std::fs::write(watch.path().join("junk.cbz"), b"just some text").unwrap();
    wait_for("the dropped archive to be imported", || {
        database(d).galleries().count().unwrap() == 1
    });
    wait_for("the broken archives to be reported", || {
        database(d)
            .jobs()
            .in_state(db::JobState::Failed, 10)
            .unwrap()
            .len()
            == 2
    });
    // Several more looks at the folder: the broken files are not tried again.
    std::thread::sleep(Duration::from_secs(5));
    let db = database(d);
    let failed = db.jobs().in_state(db::JobState::Failed, 10).unwrap();
    assert_eq!(failed.len(), 2);
    for name in ["broken.cbz", "junk.cbz"] {
        let job = failed
            .iter()
            .find(|j| j.payload.contains(name))
            .unwrap_or_else(|| panic!("no failed job names {name}: {failed:?}"));
        let why = job.error.as_deref().unwrap_or_default();
        assert!(why.contains(name) && why.len() > name.len() + 10, "{why}");
    }
    // (Its thumbnails job ends done too: only the imports are counted here.)
    let done: Vec<db::Job> = db
        .jobs()
        .in_state(db::JobState::Done, 10)
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == db::JobKind::Import)
        .collect();
    assert_eq!(done.len(), 1);
    // Every job says what it did: no blank "done 0 / 0" rows.
    for job in failed.iter().chain(&done) {
        assert_eq!((job.done, job.total), (1, 1), "{job:?}");
        let payload: serde_json::Value = serde_json::from_str(&job.payload).unwrap();
        assert!(payload["path"].as_str().is_some(), "{job:?}");
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = text(&out.stderr);
    assert!(log.contains("watch folder: imported"), "{log}");
    assert!(log.contains("watch folder: import failed"), "{log}");
}

/// `import` and `export` failed beside a running server ("store … in use by another process"):
/// import hands its work to the server through the control socket, export reads on its own.
#[test]
fn import_and_export_work_beside_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let d = data.path();
    let child = littlepanda(d)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("the server's control socket", || {
        std::os::unix::net::UnixStream::connect(d.join("control.sock")).is_ok()
    });
    let (p1, p2) = (jpeg(30, 40, 5), jpeg(30, 40, 6));
    let a = input.path().join("[Someone] Beside the Server.cbz");
    cbz(&a, &[("1.jpg", &p1), ("2.jpg", &p2)]);
    let junk = input.path().join("junk.cbz");
    std::fs::write(&junk, b"not a zip").unwrap();

    let out = run(
        d,
        &[
            "import",
            a.to_str().unwrap(),
            "--tags",
            "misc:beside",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let reports = lines(&out);
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["outcome"], "imported");
    assert_eq!(reports[0]["title"], "Beside the Server");
    let id = reports[0]["public_id"].as_str().unwrap().to_string();
    let tags: Vec<String> = database(d)
        .tags()
        .of_gallery(&id)
        .unwrap()
        .into_iter()
        .map(|t| t.tag.to_string())
        .collect();
    assert!(tags.contains(&"misc:beside".to_string()), "{tags:?}");

    // A relative path is the command's, and a failure is reported with its reason and status.
    let out = littlepanda(d)
        .current_dir(input.path())
        .args(["import", "junk.cbz"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out.stdout);
    assert!(
        said.contains("junk.cbz") && said.contains("not an archive") && said.contains("1 failed"),
        "{said}"
    );

    let exported = input.path().join("out.cbz");
    let out = run(d, &["export", &id, "--to", exported.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&exported).unwrap()).unwrap();
    let mut first = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name("001.jpg").unwrap(), &mut first).unwrap();
    assert_eq!(first, p1);

    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !d.join("control.sock").exists(),
        "the socket goes with the server"
    );
    // With the server gone, the command imports by itself again.
    let b = input.path().join("after.cbz");
    cbz(&b, &[("1.jpg", &jpeg(30, 40, 7))]);
    let out = run(d, &["import", b.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lines(&out)[0]["outcome"], "imported");
}

/// `fsck` said clean while galleries could not be read: it ignored what recovery found and
/// never asked which images the library uses. Now a damaged page names its gallery and page,
/// and a repair that had to drop the image still fails until the gallery is whole again.
#[test]
fn fsck_names_the_galleries_and_pages_damage_costs() {
    use std::os::unix::fs::FileExt;
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let d = data.path();
    let a = input.path().join("Three Pages.cbz");
    cbz(
        &a,
        &[
            ("1.jpg", &jpeg(60, 80, 11)),
            ("2.jpg", &jpeg(60, 80, 12)),
            ("3.jpg", &jpeg(60, 80, 13)),
        ],
    );
    let out = run(d, &["import", a.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = lines(&out)[0]["public_id"].as_str().unwrap().to_string();
    let out = run(d, &["fsck", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    let page = database(d).galleries().pages(&id).unwrap()[1].blob.hash;
    let (volume, offset) = {
        let store = lpfs::Store::open_read_only(d.join("lpfs")).unwrap();
        let loc = store.locate(&page).unwrap().unwrap();
        (loc.volume_id(), loc.offset)
    };
    let vol = std::fs::OpenOptions::new()
        .write(true)
        .open(d.join(format!("lpfs/{volume:08}.vol")))
        .unwrap();
    vol.write_all_at(&[0xA5, 0x5A], offset + 10).unwrap();

    let out = run(d, &["fsck"]);
    assert!(!out.status.success());
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("AFFECTED gallery {id}")) && said.contains("pages [2]"),
        "{said}"
    );
    let out = run(d, &["fsck", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["clean"], false);
    assert_eq!(report["library"]["unreadable"][0], page.to_string());
    assert_eq!(
        report["library"]["affected"][0]["pages"],
        serde_json::json!([2])
    );
    // A repair sets the damage aside; the gallery still lacks its page, and fsck says so.
    let out = run(d, &["fsck", "--repair"]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let out = run(d, &["fsck"]);
    assert!(!out.status.success(), "clean while page 2 cannot be read");
    assert!(text(&out.stdout).contains(&format!("AFFECTED gallery {id}")));
}

/// The same tag edit and the same purge through the JSON API, the web app's form and the command
/// line give the same result: each surface calls one operation (`library::ops::galleries`).
#[test]
fn the_api_the_form_and_the_command_line_edit_and_purge_alike() {
    let data = tempfile::tempdir().unwrap();
    let sources = tempfile::tempdir().unwrap();
    let d = data.path();
    // Three like galleries: the same name (so the same tags from it), other images each.
    for (i, seed) in [3u8, 5, 7].into_iter().enumerate() {
        let folder = sources.path().join(format!("{i}"));
        std::fs::create_dir_all(&folder).unwrap();
        cbz(
            &folder.join("[Someone] Alike.cbz"),
            &[
                ("1.jpg", &jpeg(16, 16, seed)),
                ("2.jpg", &jpeg(16, 16, seed + 1)),
            ],
        );
    }
    let out = run(d, &["import", "--json", sources.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ids: Vec<String> = {
        let db = database(d);
        db.galleries()
            .list(&db::ListQuery::default())
            .unwrap()
            .into_iter()
            .map(|g| g.public_id)
            .collect()
    };
    assert_eq!(ids.len(), 3);
    let (api, form, cli) = (&ids[0], &ids[1], &ids[2]);
    let tags = |g: &str| database(d).tags().of_gallery(g).unwrap();
    assert_eq!(tags(api), tags(cli), "alike to begin with");
    assert_eq!(tags(api), tags(form), "alike to begin with");
    let images = |g: &str| -> Vec<lpfs::BlobHash> {
        database(d)
            .galleries()
            .pages(g)
            .unwrap()
            .into_iter()
            .map(|p| p.blob.hash)
            .collect()
    };
    let owned: Vec<Vec<lpfs::BlobHash>> = ids.iter().map(|g| images(g)).collect();

    assert!(
        common::add_user(d, "admin", "admin", "admin-password")
            .status
            .success()
    );
    let server = common::Serving::start(d);
    let addr = server.addr.clone();
    let (cookie, csrf) = common::sign_in(&addr, "admin", "admin-password");
    let with_session = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];

    // One tag edit, three ways.
    let mut headers = with_session.to_vec();
    headers.push(("Content-Type", "application/json"));
    let (status, _, body) = common::http(
        &addr,
        "PUT",
        &format!("/api/v1/galleries/{api}/tags"),
        &headers,
        br#"{"add": ["misc:same edit", "female:glasses"], "remove": ["artist:someone"]}"#,
    );
    assert_eq!(status, 200, "{}", text(&body));
    let mut headers = with_session.to_vec();
    headers.push(("Content-Type", "application/x-www-form-urlencoded"));
    let (status, _, body) = common::http(
        &addr,
        "POST",
        &format!("/g/{form}/tags"),
        &headers,
        format!("_csrf={csrf}&add=misc%3Asame+edit%2C+female%3Aglasses&remove=artist%3Asomeone")
            .as_bytes(),
    );
    assert_eq!(status, 303, "{}", text(&body));
    let out = run(
        d,
        &[
            "tag",
            cli,
            "--add",
            "misc:same edit",
            "--add",
            "female:glasses",
            "--remove",
            "artist:someone",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).lines().any(|l| l == "misc:same edit"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(tags(api), tags(form));
    assert_eq!(tags(api), tags(cli));
    assert!(
        tags(cli)
            .iter()
            .any(|t| t.tag.to_string() == "female:glasses")
    );
    assert!(
        !tags(cli)
            .iter()
            .any(|t| t.tag.to_string() == "artist:someone")
    );

    // One purge, three ways (the command line's once the server has stopped: it needs the
    // store to itself).
    let (status, _, body) = common::http(
        &addr,
        "DELETE",
        &format!("/api/v1/galleries/{api}"),
        &with_session,
        b"",
    );
    assert_eq!(status, 200, "{}", text(&body));
    let (status, _, body) = common::http(
        &addr,
        "POST",
        &format!("/g/{form}/purge"),
        &[
            ("Cookie", cookie.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        format!("_csrf={csrf}&confirm=yes").as_bytes(),
    );
    assert_eq!(status, 303, "{}", text(&body));
    drop(server);
    let out = run(d, &["purge", cli]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let db = database(d);
    let store = lpfs::Store::open_read_only(d.join("lpfs")).unwrap();
    for (g, images) in ids.iter().zip(&owned) {
        assert!(
            matches!(db.galleries().get(g), Err(db::Error::GalleryNotFound(_))),
            "{g} is gone"
        );
        for h in images {
            assert!(
                lpfs::BlobStore::stat(&store, h).unwrap().is_none(),
                "{g}'s image {h} is released"
            );
        }
    }
}

/// A page unlike every other (an 8×8 grid of light and dark blocks from a hash of `(archive,
/// page)`, so no two look alike to duplicate detection either) under fine noise, so that an
/// import of many takes a while.
fn distinct_page(archive: u32, page: u32) -> Vec<u8> {
    let (w, h) = (384u32, 384u32);
    let mut bits = u64::from(archive << 8 | page).wrapping_add(0x9E37_79B9_7F4A_7C15);
    bits = (bits ^ (bits >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    bits = (bits ^ (bits >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    bits ^= bits >> 31;
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let block = (y / (h / 8)) * 8 + x / (w / 8);
            let base: u32 = if bits >> block & 1 == 1 { 190 } else { 50 };
            let noise = (y * w + x).wrapping_mul(2_654_435_761) >> 27;
            let v = (base + noise) as u8;
            pixels.extend_from_slice(&[v, v, v]);
        }
    }
    library::import::thumb::jpeg_from_rgb(&pixels, w, h, 90).unwrap()
}

/// The server killed (SIGKILL, nothing flushed) while a server-path import runs: the next
/// `serve` carries the same job on to its end, every archive ends imported once, and the pages'
/// thumbnails are made under a recorded thumbnails job that ends done.
#[test]
fn a_server_killed_mid_import_finishes_it_after_the_restart() {
    const ARCHIVES: u32 = 60;
    const PAGES: u32 = 4;
    let data = tempfile::tempdir().unwrap();
    let input = tempfile::tempdir().unwrap();
    let d = data.path();
    let batch = input.path().join("batch");
    std::fs::create_dir_all(&batch).unwrap();
    for a in 0..ARCHIVES {
        let pages: Vec<(String, Vec<u8>)> = (0..PAGES)
            .map(|p| (format!("{p:02}.jpg"), distinct_page(a, p)))
            .collect();
        let entries: Vec<(&str, &[u8])> = pages
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        cbz(
            &batch.join(format!("[Artist {a}] Volume {a}.cbz")),
            &entries,
        );
    }
    std::fs::write(
        d.join("littlepanda.toml"),
        format!("[import]\nroots = [{:?}]\n", input.path().to_str().unwrap()),
    )
    .unwrap();
    assert!(
        common::add_user(d, "admin", "admin", "admin-password")
            .status
            .success()
    );

    let server = common::Serving::start(d);
    let (cookie, csrf) = common::sign_in(&server.addr, "admin", "admin-password");
    let (status, _, body) = common::http(
        &server.addr,
        "POST",
        "/api/v1/imports",
        &[
            ("Cookie", cookie.as_str()),
            ("X-CSRF-Token", csrf.as_str()),
            ("Content-Type", "application/json"),
        ],
        serde_json::json!({ "path": batch }).to_string().as_bytes(),
    );
    assert_eq!(status, 202, "{}", text(&body));
    let job = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["job"]
        .as_i64()
        .expect("the job's id");
    // Killed once the job is under way: some archives imported, not all.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let j = database(d).jobs().get(job).unwrap();
        if j.done >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "the import did not start: {j:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stop();
    let killed = database(d).jobs().get(job).unwrap();
    assert_eq!(killed.state, db::JobState::Running, "{killed:?}");
    assert!(
        killed.done < u64::from(ARCHIVES),
        "the import ended before the kill: {killed:?}"
    );
    let imported_before = database(d).galleries().count().unwrap();

    // The next start carries the same job on, to its end.
    let server = common::Serving::start(d);
    wait_for("the interrupted import to end", || {
        database(d).jobs().get(job).unwrap().state != db::JobState::Running
            && database(d).jobs().get(job).unwrap().state != db::JobState::Queued
    });
    let ended = database(d).jobs().get(job).unwrap();
    assert_eq!(ended.state, db::JobState::Done, "{ended:?}");
    assert_eq!(
        (ended.done, ended.total, ended.error),
        (u64::from(ARCHIVES), u64::from(ARCHIVES), None)
    );
    let db = database(d);
    assert_eq!(db.galleries().count().unwrap(), u64::from(ARCHIVES));
    assert!(imported_before < u64::from(ARCHIVES));
    let listed = db
        .galleries()
        .list(&db::ListQuery {
            limit: ARCHIVES * 2,
            ..db::ListQuery::default()
        })
        .unwrap();
    assert!(listed.iter().all(|g| g.page_count == PAGES), "{listed:?}");

    // Every page gets its thumbnail, under a thumbnails job recorded like any other.
    wait_for("every thumbnail", || {
        database(d).galleries().count_needing_thumbnails().unwrap() == 0
            && database(d)
                .jobs()
                .recent(&[db::JobKind::Thumbnails], 10)
                .unwrap()
                .iter()
                .all(|j| j.state == db::JobState::Done)
    });
    let thumbnails = database(d)
        .jobs()
        .recent(&[db::JobKind::Thumbnails], 10)
        .unwrap();
    assert!(!thumbnails.is_empty(), "no thumbnails job was recorded");
    // (Each gallery's cover gets its thumbnail as it is imported; the job makes the others.)
    let made: u64 = thumbnails.iter().map(|j| j.done).sum();
    assert!(
        made >= u64::from(ARCHIVES * (PAGES - 1)) / 2,
        "{thumbnails:?}"
    );
    assert!(
        thumbnails.iter().all(|j| j.done == j.total),
        "{thumbnails:?}"
    );
    server.stop();

    // Nothing the kill cut short is left behind in the store.
    let out = run(d, &["gc"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("released 0"),
        "{}",
        text(&out.stdout)
    );
}
