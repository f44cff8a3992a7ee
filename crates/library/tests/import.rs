//! Import end to end, into a real blob store and database: every archive format, folders, names,
//! metadata, thumbnails, and every kind of bad input.

mod support;

use std::path::{Path, PathBuf};

use db::{ImageFormat, ReadingDirection};
use library::import::{ImportError, ImportOptions, Imported, Outcome, Quiet, Source};
use lpfs::{BlobHash, BlobStore};
use support::*;

fn import(lib: &Lib, path: &Path) -> Outcome {
    import_with(lib, path, &ImportOptions::default())
}

fn import_with(lib: &Lib, path: &Path, opts: &ImportOptions) -> Outcome {
    let sources = lib.importer.discover(path).unwrap();
    assert_eq!(sources.len(), 1, "{sources:?}");
    lib.importer.import(&sources[0], opts, &Quiet)
}

fn imported(o: Outcome) -> Imported {
    match o {
        Outcome::Imported(g) => g,
        other => panic!("expected an import, got {other:?}"),
    }
}

fn failed(o: Outcome) -> ImportError {
    match o {
        Outcome::Failed(e) => e,
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn page_names(lib: &Lib, id: &str) -> Vec<String> {
    lib.db
        .galleries()
        .pages(id)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect()
}

fn tags(lib: &Lib, id: &str) -> Vec<String> {
    lib.db
        .tags()
        .of_gallery(id)
        .unwrap()
        .into_iter()
        .map(|t| t.tag.to_string())
        .collect()
}

fn stored(lib: &Lib) -> Vec<BlobHash> {
    lib.store.list(None, 1_000_000).unwrap()
}

/// A scratch folder for input files, apart from the library's own.
fn input() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_zip_becomes_a_gallery_in_natural_order_with_its_metadata() {
    let lib = library();
    let dir = input();
    let comic_info = br#"<?xml version="1.0"?><ComicInfo><Summary>Plot.</Summary><Tags>female:glasses</Tags><Manga>YesAndRightToLeft</Manga></ComicInfo>"#;
    let (p1, p2, p10) = (png(40, 60, 1), jpeg(600, 800, 2), jpeg(64, 64, 3));
    let path = write(
        dir.path(),
        "(C99) [Circle (Artist)] The Title (Some Parody) [English].cbz",
        &zip(&[
            ("10.jpg", &p10),
            ("2.jpg", &p2),
            ("1.png", &p1),
            ("__MACOSX/._1.png", b"junk"),
            ("Thumbs.db", b"junk"),
            ("notes.txt", b"not a page"),
            ("ComicInfo.xml", comic_info),
        ]),
    );
    let g = imported(import(&lib, &path));
    assert_eq!(g.title, "The Title");
    assert_eq!(g.pages, 3);
    assert_eq!(page_names(&lib, &g.public_id), ["1.png", "2.jpg", "10.jpg"]);
    let pages = lib.db.galleries().pages(&g.public_id).unwrap();
    assert_eq!(pages[0].blob.format, ImageFormat::Png);
    assert_eq!((pages[0].blob.width, pages[0].blob.height), (40, 60));
    assert_eq!((pages[1].blob.width, pages[1].blob.height), (600, 800));
    assert_eq!(pages[1].blob.hash, BlobHash::of(&p2));
    // Pages are stored byte for byte.
    assert_eq!(
        &lib.store.get(&pages[2].blob.hash).unwrap().unwrap()[..],
        &p10[..]
    );
    let t = tags(&lib, &g.public_id);
    for want in [
        "artist:artist",
        "group:circle",
        "parody:some parody",
        "language:english",
        "female:glasses",
    ] {
        assert!(t.contains(&want.to_string()), "{want} missing from {t:?}");
    }
    let stored_g = lib.db.galleries().get(&g.public_id).unwrap();
    assert_eq!(stored_g.reading_direction, ReadingDirection::RightToLeft);
    assert_eq!(stored_g.summary, "Plot.");
    assert_eq!(
        stored_g.source_filename,
        path.file_name().unwrap().to_string_lossy()
    );
    // The cover's thumbnail was made at import: a JPEG at most 320 wide.
    let thumb = pages[0].thumbnail.expect("cover thumbnail");
    let bytes = lib.store.get(&thumb).unwrap().unwrap();
    assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF]);
    let size = imagesize::blob_size(&bytes).unwrap();
    assert_eq!((size.width, size.height), (40, 60), "not enlarged");
    assert!(
        g.warnings.iter().any(|w| w.contains("notes.txt")),
        "{:?}",
        g.warnings
    );
}

/// An artist named by the file name and again, more fully, by ComicInfo came in twice
/// (`artist:kenji` and `artist:kenji mori`): the fuller name is kept, once.
#[test]
fn an_artist_named_short_and_long_is_one_tag_the_fuller() {
    let lib = library();
    let dir = input();
    let comic_info = br#"<?xml version="1.0"?><ComicInfo><Writer>Kenji Mori</Writer><Penciller>Ann Lee</Penciller></ComicInfo>"#;
    let path = write(
        dir.path(),
        "[Kenji] Short and Long.cbz",
        &zip(&[("1.png", &png(8, 8, 1)), ("ComicInfo.xml", comic_info)]),
    );
    let g = imported(import(&lib, &path));
    let t = tags(&lib, &g.public_id);
    let mut artists: Vec<&String> = t.iter().filter(|t| t.starts_with("artist:")).collect();
    artists.sort();
    assert_eq!(artists, ["artist:ann lee", "artist:kenji mori"], "{t:?}");
}

#[test]
fn importing_the_same_archive_again_is_a_duplicate() {
    let lib = library();
    let dir = input();
    let path = write(dir.path(), "a.zip", &zip(&[("1.jpg", &jpeg(32, 32, 1))]));
    let g = imported(import(&lib, &path));
    let copy = write(
        dir.path(),
        "renamed copy.cbz",
        &std::fs::read(&path).unwrap(),
    );
    match import(&lib, &copy) {
        Outcome::Duplicate { public_id } => assert_eq!(public_id, g.public_id),
        other => panic!("{other:?}"),
    }
    assert_eq!(lib.db.galleries().count().unwrap(), 1);
}

#[test]
fn every_archive_format_by_content_whatever_the_extension() {
    let lib = library();
    let dir = input();
    let pages: Vec<(String, Vec<u8>)> = (1..=3)
        .map(|i| (format!("{i}.jpg"), jpeg(48, 48, i)))
        .collect();
    let entries: Vec<(&str, &[u8])> = pages
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let archives = [
        ("zip", zip(&entries)),
        ("tar", tar(&entries)),
        ("tgz", gzip(&tar(&entries))),
        ("7z", sevenz(&entries)),
        ("rar4", rar4(&entries)),
        ("rar5", rar5(&entries)),
    ];
    for (i, (kind, bytes)) in archives.iter().enumerate() {
        // Misleading extensions: content decides.
        let path = write(
            dir.path(),
            &format!(
                "{kind} archive.{}",
                ["txt", "jpg", "zip", "rar", "7z", "cbz"][i]
            ),
            bytes,
        );
        let opts = ImportOptions {
            title: Some(kind.to_string()),
            ..ImportOptions::default()
        };
        let o = import_with(&lib, &path, &opts);
        let g = match o {
            Outcome::Imported(g) => g,
            other => panic!("{kind}: {other:?}"),
        };
        assert_eq!(
            page_names(&lib, &g.public_id),
            ["1.jpg", "2.jpg", "3.jpg"],
            "{kind}"
        );
        let got = lib.db.galleries().pages(&g.public_id).unwrap();
        assert_eq!(got[1].blob.hash, BlobHash::of(&pages[1].1), "{kind}");
    }
    // The pages are the same images: stored once, plus one cover thumbnail.
    assert_eq!(stored(&lib).len(), 3 + 1);
}

#[test]
fn legacy_encoded_zip_names_are_decoded() {
    let lib = library();
    let dir = input();
    let names = ["第1話/０２.jpg", "第1話/１０.jpg", "第1話/表紙.jpg"];
    let encoded: Vec<Vec<u8>> = names
        .iter()
        .map(|n| encoding_rs::SHIFT_JIS.encode(n).0.to_vec())
        .collect();
    let images: Vec<Vec<u8>> = (0..3).map(|i| jpeg(16, 16, i)).collect();
    let entries: Vec<(&[u8], &[u8])> = encoded
        .iter()
        .zip(&images)
        .map(|(n, d)| (n.as_slice(), d.as_slice()))
        .collect();
    let path = write(dir.path(), "sjis.zip", &zip_with_raw_names(&entries));
    let g = imported(import(&lib, &path));
    // Decoded, and in natural order with full-width digits.
    assert_eq!(
        page_names(&lib, &g.public_id),
        ["第1話/０２.jpg", "第1話/１０.jpg", "第1話/表紙.jpg"]
    );
}

#[test]
fn folders_of_images_and_folders_of_archives() {
    let lib = library();
    let dir = input();
    let book = dir.path().join("[Artist] Folder Book");
    write(&book, "cover.png", &png(20, 30, 1));
    write(&book, "Chapter 2/1.jpg", &jpeg(20, 30, 2));
    write(&book, "Chapter 10/1.jpg", &jpeg(20, 30, 3));
    write(&book, "Chapter 1/1.jpg", &jpeg(20, 30, 4));
    write(&book, ".DS_Store", b"junk");
    let g = imported(import(&lib, &book));
    assert_eq!(g.title, "Folder Book");
    assert_eq!(
        page_names(&lib, &g.public_id),
        [
            "Chapter 1/1.jpg",
            "Chapter 2/1.jpg",
            "Chapter 10/1.jpg",
            "cover.png"
        ]
    );
    assert!(tags(&lib, &g.public_id).contains(&"artist:artist".to_string()));
    // The same folder again is a duplicate (same pages in the same order).
    assert!(matches!(import(&lib, &book), Outcome::Duplicate { .. }));

    // A folder of archives and of folders: each is its own gallery.
    let shelf = dir.path().join("shelf");
    write(&shelf, "b.cbz", &zip(&[("1.jpg", &jpeg(8, 8, 10))]));
    write(&shelf, "a.cbz", &zip(&[("1.jpg", &jpeg(8, 8, 11))]));
    write(&shelf, "c/1.png", &png(8, 8, 12));
    write(&shelf, "readme.txt", b"hello");
    let sources = lib.importer.discover(&shelf).unwrap();
    let names: Vec<String> = sources
        .iter()
        .map(|s| s.path().file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.cbz", "b.cbz", "c"]);
    assert!(matches!(sources[2], Source::Folder { .. }));
}

#[test]
fn awkward_images_are_kept_as_they_are() {
    let lib = library();
    let dir = input();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let files = [
        "animated.webp",
        "animated.gif",
        "cmyk.jpg",
        "progressive.jpg",
        "16bit.png",
        "grey.jpg",
        "transparent.png",
        "tiny.avif",
    ];
    for f in files {
        let bytes = std::fs::read(fixtures.join(f)).unwrap();
        let path = write(dir.path(), &format!("{f}.zip"), &zip(&[(f, &bytes)]));
        let g = imported(import(&lib, &path));
        let pages = lib.db.galleries().pages(&g.public_id).unwrap();
        assert_eq!(
            pages[0].blob.hash,
            BlobHash::of(&bytes),
            "{f} kept byte for byte"
        );
        assert!(
            pages[0].blob.width > 0 && pages[0].blob.height > 0,
            "{f} has dimensions"
        );
        if f == "tiny.avif" {
            // No AVIF decoder here: imported and served, no thumbnail yet, and said so.
            assert_eq!(pages[0].blob.format, ImageFormat::Avif);
            assert!(pages[0].thumbnail.is_none());
            assert!(
                g.warnings.iter().any(|w| w.contains("no decoder")),
                "{:?}",
                g.warnings
            );
        } else {
            assert!(pages[0].thumbnail.is_some(), "{f}: {:?}", g.warnings);
        }
    }
}

#[test]
fn cli_tags_and_title_override_and_add() {
    let lib = library();
    let dir = input();
    let path = write(
        dir.path(),
        "[Someone] Name.zip",
        &zip(&[("1.jpg", &jpeg(8, 8, 1))]),
    );
    let opts = ImportOptions {
        title: Some("Better Title".into()),
        tags: db::TagName::parse_list("language:japanese, misc:extra").unwrap(),
        allow_partial: false,
    };
    let g = imported(import_with(&lib, &path, &opts));
    assert_eq!(g.title, "Better Title");
    let t = tags(&lib, &g.public_id);
    for want in ["artist:someone", "language:japanese", "misc:extra"] {
        assert!(t.contains(&want.to_string()), "{t:?}");
    }
    let sources: Vec<(String, db::TagSource)> = lib
        .db
        .tags()
        .of_gallery(&g.public_id)
        .unwrap()
        .into_iter()
        .map(|t| (t.tag.to_string(), t.source))
        .collect();
    assert!(sources.contains(&("misc:extra".into(), db::TagSource::User)));
    assert!(sources.contains(&("artist:someone".into(), db::TagSource::FileName)));
}

// ---- bad input -----------------------------------------------------------------------------------

/// Imports a good gallery first, so that each bad input below is seen not to touch it.
fn library_with_one_gallery() -> (Lib, String, Vec<u8>) {
    let lib = library();
    let dir = input();
    let page = jpeg(64, 64, 99);
    let path = write(dir.path(), "good.zip", &zip(&[("1.jpg", &page)]));
    let g = imported(import(&lib, &path));
    (lib, g.public_id, page)
}

fn assert_untouched(lib: &Lib, id: &str, page: &[u8], stored_before: &[BlobHash]) {
    assert_eq!(
        lib.db.galleries().count().unwrap(),
        1,
        "no other gallery appeared"
    );
    let pages = lib.db.galleries().pages(id).unwrap();
    assert_eq!(
        &lib.store.get(&pages[0].blob.hash).unwrap().unwrap()[..],
        page
    );
    assert_eq!(
        stored(lib),
        stored_before,
        "nothing stored was added or lost"
    );
}

fn flip_general_purpose_flag(zip: &mut [u8], bit: u16) {
    // Local file headers (PK\3\4, flags at +6) and central headers (PK\1\2, flags at +8).
    for (sig, off) in [(b"PK\x03\x04", 6), (b"PK\x01\x02", 8)] {
        let mut at = 0;
        while let Some(i) = find(&zip[at..], sig) {
            let p = at + i + off;
            let flags = u16::from_le_bytes([zip[p], zip[p + 1]]) | bit;
            zip[p..p + 2].copy_from_slice(&flags.to_le_bytes());
            at = at + i + 4;
        }
    }
}

#[test]
fn encrypted_archives_are_refused_clearly() {
    let (lib, id, page) = library_with_one_gallery();
    let before = stored(&lib);
    let dir = input();
    let mut z = zip(&[("1.jpg", &jpeg(8, 8, 1))]);
    flip_general_purpose_flag(&mut z, 1);
    let path = write(dir.path(), "locked.zip", &z);
    let e = failed(import(&lib, &path));
    assert!(matches!(e, ImportError::Encrypted(_)), "{e}");
    assert!(e.to_string().contains("password"), "{e}");
    // RAR: UnRAR's own encrypted sample.
    let rar = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crypted.rar");
    let e = failed(import(&lib, &rar));
    assert!(matches!(e, ImportError::Encrypted(_)), "{e}");
    assert_untouched(&lib, &id, &page, &before);
}

#[test]
fn truncated_and_corrupt_archives_name_the_broken_entry() {
    let (lib, id, page) = library_with_one_gallery();
    let before = stored(&lib);
    let dir = input();
    let pages: Vec<Vec<u8>> = (0..4).map(|i| jpeg(100, 100, i)).collect();
    // A tar cut in the middle of its third page.
    let t = tar(&[
        ("1.jpg", &pages[0]),
        ("2.jpg", &pages[1]),
        ("3.jpg", &pages[2]),
        ("4.jpg", &pages[3]),
    ]);
    // The header names the entry; its data follows the 512-byte header.
    let third = find(&t, b"3.jpg").unwrap();
    let path = write(dir.path(), "cut.tar", &t[..third + 512 + 100]);
    let e = failed(import(&lib, &path));
    assert!(
        matches!(&e, ImportError::Corrupt { entry, .. } if entry == "3.jpg"),
        "{e}"
    );
    assert_untouched(&lib, &id, &page, &before);

    // With --allow-partial, the pages before the damage make a gallery.
    let g = imported(import_with(
        &lib,
        &path,
        &ImportOptions {
            allow_partial: true,
            ..ImportOptions::default()
        },
    ));
    assert_eq!(page_names(&lib, &g.public_id), ["1.jpg", "2.jpg"]);
    assert!(
        g.warnings.iter().any(|w| w.contains("3.jpg")),
        "{:?}",
        g.warnings
    );

    // A zip whose second entry's compressed bytes are damaged.
    let mut z = zip(&[("1.jpg", &pages[0]), ("2.jpg", &pages[3])]);
    let second = find(&z, b"2.jpg").unwrap() + 5;
    for b in &mut z[second + 40..second + 400] {
        *b ^= 0x5A;
    }
    let path = write(dir.path(), "damaged.zip", &z);
    let e = failed(import(&lib, &path));
    assert!(
        matches!(&e, ImportError::Corrupt { entry, .. } if entry == "2.jpg"),
        "{e}"
    );
    // A zip cut short (no central directory).
    let z = zip(&[("1.jpg", &pages[0])]);
    let path = write(dir.path(), "short.zip", &z[..z.len() / 2]);
    assert!(matches!(
        failed(import(&lib, &path)),
        ImportError::CorruptArchive(_)
    ));
}

#[test]
fn zip_bombs_are_refused_by_the_caps() {
    let (lib, id, page) = library_with_one_gallery();
    let before = stored(&lib);
    let dir = input();
    let zeros = vec![0u8; 200 << 20];
    let path = write(
        dir.path(),
        "bomb.zip",
        &zip(&[("1.jpg", &jpeg(8, 8, 1)), ("2.jpg", &zeros)]),
    );
    let e = failed(import(&lib, &path));
    assert!(matches!(e, ImportError::TooBig(_)), "{e}");
    assert!(
        e.to_string().contains("bomb") || e.to_string().contains("larger"),
        "{e}"
    );
    // A gzip bomb in a tar.
    let path = write(dir.path(), "bomb.tgz", &gzip(&tar(&[("2.jpg", &zeros)])));
    assert!(matches!(
        failed(import(&lib, &path)),
        ImportError::TooBig(_)
    ));
    assert_untouched(&lib, &id, &page, &before);
}

#[test]
fn hostile_entry_names_are_only_names() {
    let lib = library();
    let dir = input();
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let names = ["../x.jpg", "/etc/x.jpg", "C:\\x.jpg", "a/../../../x.jpg"];
    let images: Vec<Vec<u8>> = (0..4).map(|i| jpeg(8, 8, i)).collect();
    let entries: Vec<(&str, &[u8])> = names
        .iter()
        .copied()
        .zip(images.iter().map(Vec::as_slice))
        .collect();
    let path = write(&outside.join("in"), "evil.zip", &zip(&entries));
    let listing = |d: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = walk(d);
        v.sort();
        v
    };
    let before = listing(dir.path());
    let g = imported(import(&lib, &path));
    assert_eq!(g.pages, 4);
    assert_eq!(listing(dir.path()), before, "nothing was written anywhere");
    // Symbolic links in a tar are not followed: they are not pages.
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_cksum();
    b.append_link(&mut h, "link.jpg", "/etc/passwd").unwrap();
    let img = jpeg(8, 8, 50);
    let mut h = tar::Header::new_gnu();
    h.set_size(img.len() as u64);
    h.set_cksum();
    b.append_data(&mut h, "real.jpg", img.as_slice()).unwrap();
    let path = write(dir.path(), "links.tar", &b.into_inner().unwrap());
    let g = imported(import(&lib, &path));
    assert_eq!(page_names(&lib, &g.public_id), ["real.jpg"]);
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

#[test]
fn corrupt_and_enormous_images_are_kept_without_thumbnails() {
    let lib = library();
    let dir = input();
    let mut broken = jpeg(64, 64, 1);
    let len = broken.len();
    for b in &mut broken[len / 3..] {
        *b = 0xAB;
    }
    let bomb = png_header_only(100_000, 100_000);
    let path = write(
        dir.path(),
        "broken cover.zip",
        &zip(&[("1.jpg", &broken), ("2.jpg", &jpeg(8, 8, 2))]),
    );
    let g = imported(import(&lib, &path));
    assert_eq!(g.pages, 2);
    assert!(
        g.warnings
            .iter()
            .any(|w| w.starts_with("cover: no thumbnail")),
        "{:?}",
        g.warnings
    );
    let path = write(dir.path(), "bomb cover.zip", &zip(&[("1.png", &bomb)]));
    let g = imported(import(&lib, &path));
    let pages = lib.db.galleries().pages(&g.public_id).unwrap();
    assert_eq!(
        (pages[0].blob.width, pages[0].blob.height),
        (100_000, 100_000)
    );
    assert!(pages[0].thumbnail.is_none());
    assert!(
        g.warnings.iter().any(|w| w.contains("over the limit")),
        "{:?}",
        g.warnings
    );
}

#[test]
fn nothing_to_import_is_a_clear_error_and_stores_nothing() {
    let (lib, id, page) = library_with_one_gallery();
    let before = stored(&lib);
    let dir = input();
    let path = write(
        dir.path(),
        "text only.zip",
        &zip(&[("a.txt", b"hello"), ("b.dat", b"\x00\x01")]),
    );
    let e = failed(import(&lib, &path));
    assert!(matches!(e, ImportError::NoImages(_)), "{e}");
    // Each dropped entry's reason is said, not just "no images in it".
    assert!(
        e.to_string().contains("a.txt: not an image, skipped"),
        "{e}"
    );
    // An archive whose only page is over the page cap said only "no images in it".
    let mut capped = support::library();
    capped.importer.limits.max_page_bytes = 1000;
    let big = write(
        dir.path(),
        "one big page.zip",
        &zip(&[("1.jpg", &jpeg(400, 400, 3))]),
    );
    let e = failed(import(&capped, &big));
    assert!(
        e.to_string().contains("1.jpg")
            && e.to_string()
                .contains("larger than a page may be (import.max_page_size)"),
        "{e}"
    );
    let empty = write(dir.path(), "empty.cbz", b"");
    let e = lib.importer.discover(&empty).unwrap_err();
    assert!(matches!(e, ImportError::NotAnArchive(_)), "{e}");
    let text = write(
        dir.path(),
        "not an archive.zip",
        b"just some text, not a zip at all",
    );
    let e = lib.importer.discover(&text).unwrap_err();
    assert!(e.to_string().contains("not an archive"), "{e}");
    assert_untouched(&lib, &id, &page, &before);
}

#[test]
fn a_failed_import_releases_only_its_own_new_blobs() {
    let (lib, id, page) = library_with_one_gallery();
    let before = stored(&lib);
    let dir = input();
    // Shares the good gallery's page, adds a new one, then breaks.
    let fresh = jpeg(100, 100, 7);
    let t = tar(&[
        ("1.jpg", &page),
        ("2.jpg", &fresh),
        ("3.jpg", &jpeg(100, 100, 8)),
    ]);
    let cut = find(&t, b"3.jpg").unwrap() + 600;
    let path = write(dir.path(), "fails.tar", &t[..cut]);
    assert!(matches!(
        failed(import(&lib, &path)),
        ImportError::Corrupt { .. }
    ));
    assert_untouched(&lib, &id, &page, &before);
    // And it can simply be run again once whole.
    let path = write(dir.path(), "fails.tar", &t);
    imported(import(&lib, &path));
}

#[test]
fn blobs_left_by_a_killed_import_are_released() {
    let (lib, id, page) = library_with_one_gallery();
    let before = stored(&lib);
    // What a process killed between storing pages and committing leaves: blobs no gallery names.
    lib.store.put(&jpeg(30, 30, 1)).unwrap();
    lib.store.put(&jpeg(30, 30, 2)).unwrap();
    assert_eq!(stored(&lib).len(), before.len() + 2);
    assert_eq!(lib.importer.release_orphans().unwrap(), 2);
    assert_untouched(&lib, &id, &page, &before);
}

#[test]
fn page_thumbnails_are_made_by_the_background_job() {
    let mut lib = library();
    lib.importer.cover_thumbnails = false;
    let dir = input();
    let avif =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny.avif"))
            .unwrap();
    let path = write(
        dir.path(),
        "a.zip",
        &zip(&[
            ("1.jpg", &jpeg(500, 700, 1)),
            ("2.png", &png(30, 30, 2)),
            ("3.avif", &avif),
        ]),
    );
    let g = imported(import(&lib, &path));
    assert!(
        lib.db
            .galleries()
            .pages(&g.public_id)
            .unwrap()
            .iter()
            .all(|p| p.thumbnail.is_none())
    );
    assert_eq!(
        lib.db
            .galleries()
            .images_needing_thumbnails(100)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(lib.importer.make_pending_thumbnails(2).unwrap(), 2);
    assert_eq!(lib.importer.make_pending_thumbnails(100).unwrap(), 1);
    // The AVIF waits for a build that decodes it; nothing is tried again meanwhile.
    assert_eq!(lib.importer.make_pending_thumbnails(100).unwrap(), 0);
    let pages = lib.db.galleries().pages(&g.public_id).unwrap();
    let thumb = lib
        .store
        .get(&pages[0].thumbnail.unwrap())
        .unwrap()
        .unwrap();
    let size = imagesize::blob_size(&thumb).unwrap();
    assert_eq!((size.width, size.height), (320, 448));
    assert!(pages[1].thumbnail.is_some());
    assert!(pages[2].thumbnail.is_none());
}

#[test]
fn committed_archive_fixtures() {
    let lib = library();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for f in ["rar5.rar", "rar4.rar"] {
        let g = imported(import(&lib, &fixtures.join(f)));
        assert_eq!(
            page_names(&lib, &g.public_id),
            ["001.png", "002.jpg", "010.jpg"],
            "{f}"
        );
    }
    let g = imported(import(&lib, &fixtures.join("shift_jis.zip")));
    assert_eq!(
        page_names(&lib, &g.public_id),
        ["第1話/０２.jpg", "第1話/１０.jpg", "第1話/表紙.jpg"]
    );
}
