//! The metadata store's test suite, written once and run against SQLite and against MariaDB.
//!
//! MariaDB: set `LITTLEPANDA_TEST_MYSQL_URL` (for example `mysql://root@127.0.0.1:3306/test`);
//! `.ci/run` sets it and starts MariaDB. Each test works in a database of its own, dropped after.
//! Without the variable the MariaDB tests fail, saying so: they never pass without running.

use db::{
    Created, Db, Error, ImageFormat, JobKind, JobState, ListOrder, ListQuery, NewGallery, NewPage,
    TagName, TagSource,
};
use lpfs::BlobHash;

fn blob(n: u32) -> db::BlobInfo {
    db::BlobInfo {
        hash: BlobHash::of(&n.to_le_bytes()),
        format: ImageFormat::Jpeg,
        width: 1000 + n,
        height: 1400,
        bytes: 100_000 + u64::from(n),
    }
}

fn tag(s: &str) -> TagName {
    TagName::parse(s).unwrap()
}

fn gallery(title: &str, pages: &[u32], tags: &[&str]) -> NewGallery {
    NewGallery {
        title: title.to_string(),
        pages: pages
            .iter()
            .enumerate()
            .map(|(i, &b)| NewPage {
                blob: blob(b),
                name: format!("{:03}.jpg", i + 1),
            })
            .collect(),
        tags: tags.iter().map(|t| (tag(t), TagSource::User)).collect(),
        ..NewGallery::default()
    }
}

fn new_id(c: Created) -> String {
    match c {
        Created::New { public_id, .. } => public_id,
        other => panic!("expected a new gallery, got {other:?}"),
    }
}

mod suite {
    pub use super::baseline_suite::the_sql_baseline_answers;
    use super::*;

    pub fn create_and_read_back(db: &Db) {
        let mut g = gallery(
            "(C99) [Circle (Artist)] Title [English]",
            &[1, 2, 3, 2],
            &["artist:someone", "language:english", "female:glasses"],
        );
        g.title_original = "タイトル".into();
        g.tags.push((tag("parody:original"), TagSource::FileName));
        g.cover_page = 1;
        g.archive_hash = Some(BlobHash::of(b"the archive"));
        let id = new_id(db.galleries().create(&g).unwrap());
        assert_eq!(id.len(), 40);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );

        let got = db.galleries().get(&id).unwrap();
        assert_eq!(got.title, g.title);
        assert_eq!(got.title_original, "タイトル");
        assert_eq!(got.page_count, 4);
        assert_eq!(
            got.total_bytes,
            g.pages.iter().map(|p| p.blob.bytes).sum::<u64>()
        );
        assert_eq!(got.cover, Some(blob(2).hash));
        assert_eq!(got.archive_hash, g.archive_hash);
        assert_eq!(got.tags.len(), 4);
        let parody = got
            .tags
            .iter()
            .find(|t| t.tag.namespace == "parody")
            .unwrap();
        assert_eq!(parody.source, TagSource::FileName);

        let pages = db.galleries().pages(&id).unwrap();
        assert_eq!(pages.len(), 4);
        assert_eq!(pages[3].blob, blob(2));
        assert_eq!(pages[3].name, "004.jpg");
        assert_eq!(
            pages.iter().map(|p| p.position).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        // Blob 2 is used by two pages and the cover.
        assert_eq!(db.galleries().blob_refs(&blob(2).hash).unwrap(), 3);

        let list = db.galleries().list(&ListQuery::default()).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].public_id, id);
        assert_eq!(list[0].tags.len(), 4);
        assert_eq!(db.galleries().count().unwrap(), 1);
        assert!(matches!(
            db.galleries().get(&"0".repeat(40)),
            Err(Error::GalleryNotFound(_))
        ));
    }

    pub fn the_same_archive_is_a_duplicate(db: &Db) {
        let mut g = gallery("once", &[1], &[]);
        g.archive_hash = Some(BlobHash::of(b"archive bytes"));
        let first = new_id(db.galleries().create(&g).unwrap());
        g.title = "twice".into();
        assert_eq!(
            db.galleries().create(&g).unwrap(),
            Created::Duplicate {
                public_id: first.clone()
            }
        );
        assert_eq!(db.galleries().count().unwrap(), 1);
        assert_eq!(db.galleries().get(&first).unwrap().title, "once");
        // Within one batch, too.
        let mut other = gallery("batch", &[2], &[]);
        other.archive_hash = Some(BlobHash::of(b"another archive"));
        let out = db.galleries().create_many(&[other.clone(), other]).unwrap();
        assert!(matches!(out[0], Created::New { .. }));
        assert!(matches!(out[1], Created::Duplicate { .. }));
    }

    pub fn a_failure_mid_creation_leaves_nothing(db: &Db) {
        let mut a = gallery("first", &[1, 2], &["artist:a"]);
        a.archive_hash = Some(BlobHash([1; 32]));
        new_id(db.galleries().create(&a).unwrap());
        let changes_before = db.changes().latest().unwrap();
        // Another archive whose derived public id collides: the gallery row fails after its new
        // blobs and tags were written inside the transaction.
        let mut hash = [1u8; 32];
        hash[31] = 2;
        let mut b = gallery("second", &[2, 3, 4], &["artist:brand new tag"]);
        b.archive_hash = Some(BlobHash(hash));
        assert!(db.galleries().create(&b).is_err());
        assert_eq!(db.galleries().count().unwrap(), 1);
        assert_eq!(
            db.galleries().blob_refs(&blob(2).hash).unwrap(),
            1,
            "references rolled back"
        );
        assert_eq!(
            db.galleries().blob_refs(&blob(3).hash).unwrap(),
            0,
            "no dangling blob rows"
        );
        assert_eq!(db.changes().latest().unwrap(), changes_before);
        assert!(
            db.tags()
                .counts()
                .unwrap()
                .iter()
                .all(|(t, _)| t.name != "brand new tag")
        );
        // And it can simply be retried once the cause is gone.
        b.archive_hash = Some(BlobHash([9; 32]));
        new_id(db.galleries().create(&b).unwrap());
        assert_eq!(db.galleries().count().unwrap(), 2);
    }

    pub fn hostile_strings_round_trip_or_are_refused(db: &Db) {
        let long = "長".repeat(3400); // over 10 KB of UTF-8
        let titles = [
            "it's \"quoted\"",
            "100% _under_ \\back\\slash",
            "emoji 🐼🎌",
            "'; DROP TABLE galleries; --",
            &long,
        ];
        for t in titles {
            let mut g = gallery(t, &[7], &["misc:100%_\\'\"🐼"]);
            g.summary = format!("summary of {t}");
            let id = new_id(db.galleries().create(&g).unwrap());
            let got = db.galleries().get(&id).unwrap();
            assert_eq!(got.title, t);
            assert_eq!(got.summary, g.summary);
            assert_eq!(got.tags[0].tag.name, "100%_\\'\"🐼");
        }
        let mut bad = gallery("nul\0byte", &[7], &[]);
        assert!(matches!(
            db.galleries().create(&bad),
            Err(Error::Invalid { field: "title", .. })
        ));
        bad.title = "x".repeat(20_000);
        assert!(matches!(
            db.galleries().create(&bad),
            Err(Error::Invalid { .. })
        ));
        assert!(TagName::parse("a\0b").is_err());
        assert!(matches!(
            db.galleries().create(&gallery("  ", &[7], &[])),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            db.galleries().create(&gallery("no pages", &[], &[])),
            Err(Error::Invalid { .. })
        ));
        // LIKE wildcards in data are data: nothing matched by accident.
        assert_eq!(db.galleries().count().unwrap(), titles.len() as u64);
    }

    pub fn concurrent_imports_and_tag_edits_lose_nothing(db: &Db) {
        let target = new_id(
            db.galleries()
                .create(&gallery("shared", &[1], &[]))
                .unwrap(),
        );
        std::thread::scope(|s| {
            for t in 0..4u32 {
                let target = &target;
                s.spawn(move || {
                    for i in 0..10u32 {
                        let g = gallery(
                            &format!("t{t} g{i}"),
                            &[100 + i, 200 + t],
                            &["language:japanese", &format!("artist:a{}", i % 3)],
                        );
                        new_id(db.galleries().create(&g).unwrap());
                        db.tags()
                            .add(
                                target,
                                &[tag(&format!("misc:from {t} {i}")), tag("misc:everyone")],
                                TagSource::User,
                            )
                            .unwrap();
                    }
                });
            }
        });
        assert_eq!(db.galleries().count().unwrap(), 41);
        assert_eq!(db.tags().of_gallery(&target).unwrap().len(), 41);
        let counts = db.tags().counts().unwrap();
        let japanese = counts
            .iter()
            .find(|(t, _)| t.to_string() == "language:japanese")
            .unwrap();
        assert_eq!(japanese.1, 40);
        // Blob 100 + i is the first page, and so the cover, of one gallery of each thread.
        assert_eq!(db.galleries().blob_refs(&blob(105).hash).unwrap(), 8);
        let ids: std::collections::HashSet<i64> = db
            .galleries()
            .list(&ListQuery {
                limit: 100,
                ..ListQuery::default()
            })
            .unwrap()
            .iter()
            .map(|g| g.id)
            .collect();
        assert_eq!(ids.len(), 41);
    }

    pub fn tags_are_case_insensitive_and_removable(db: &Db) {
        let id = new_id(
            db.galleries()
                .create(&gallery("g", &[1], &["Artist:Foo Bar"]))
                .unwrap(),
        );
        db.tags()
            .add(
                &id,
                &[tag("artist:FOO   bar"), tag("female:Glasses")],
                TagSource::User,
            )
            .unwrap();
        let tags = db.tags().of_gallery(&id).unwrap();
        assert_eq!(
            tags.iter().map(|t| t.tag.to_string()).collect::<Vec<_>>(),
            vec!["artist:foo bar", "female:glasses"]
        );
        assert_eq!(
            db.tags()
                .remove(&id, &[tag("female:GLASSES"), tag("male:absent")])
                .unwrap(),
            1
        );
        assert_eq!(db.tags().of_gallery(&id).unwrap().len(), 1);
    }

    pub fn renaming_and_merging_tags(db: &Db) {
        let a = new_id(
            db.galleries()
                .create(&gallery("a", &[1], &["misc:colour", "female:glasses"]))
                .unwrap(),
        );
        let b = new_id(
            db.galleries()
                .create(&gallery("b", &[2], &["misc:colour", "misc:color"]))
                .unwrap(),
        );
        let c = new_id(
            db.galleries()
                .create(&gallery("c", &[3], &["misc:other"]))
                .unwrap(),
        );
        let names = |id: &str| -> Vec<String> {
            db.tags()
                .of_gallery(id)
                .unwrap()
                .iter()
                .map(|t| t.tag.to_string())
                .collect()
        };
        let seq = db.changes().latest().unwrap();
        // Merging into a tag b already has: b keeps one of it.
        assert_eq!(
            db.tags()
                .rename(&tag("misc:colour"), &tag("misc:color"))
                .unwrap(),
            2
        );
        assert_eq!(names(&a), ["female:glasses", "misc:color"]);
        assert_eq!(names(&b), ["misc:color"]);
        assert_eq!(names(&c), ["misc:other"]);
        // The search index hears of both.
        let changed: Vec<i64> = db
            .changes()
            .since(seq, 100)
            .unwrap()
            .iter()
            .map(|ch| ch.gallery)
            .collect();
        assert_eq!(changed.len(), 2);
        // A name nobody has, and the same name: nothing to do.
        assert_eq!(
            db.tags()
                .rename(&tag("misc:nothing"), &tag("misc:x"))
                .unwrap(),
            0
        );
        assert_eq!(
            db.tags()
                .rename(&tag("misc:color"), &tag("misc:color"))
                .unwrap(),
            0
        );
        // A plain rename to a new tag, searchable by its new name in SQL too.
        assert_eq!(
            db.tags()
                .rename(&tag("female:glasses"), &tag("female:megane"))
                .unwrap(),
            1
        );
        assert_eq!(names(&a), ["female:megane", "misc:color"]);
    }

    pub fn siblings_and_parents(db: &Db) {
        db.tags()
            .set_sibling(&tag("female:megane"), &tag("female:glasses"))
            .unwrap();
        db.tags()
            .set_sibling(&tag("female:spectacles"), &tag("female:megane"))
            .unwrap();
        assert_eq!(
            db.tags().canonical(&tag("female:spectacles")).unwrap(),
            tag("female:glasses")
        );
        assert!(
            db.tags()
                .set_sibling(&tag("female:glasses"), &tag("female:spectacles"))
                .is_err(),
            "cycle refused"
        );
        assert!(db.tags().set_sibling(&tag("x"), &tag("x")).is_err());
        assert_eq!(db.tags().siblings().unwrap().len(), 2);
        assert!(db.tags().remove_sibling(&tag("female:spectacles")).unwrap());

        db.tags()
            .add_parent(&tag("character:rem"), &tag("parody:re zero"))
            .unwrap();
        db.tags()
            .add_parent(&tag("parody:re zero"), &tag("misc:isekai"))
            .unwrap();
        assert!(
            db.tags()
                .add_parent(&tag("misc:isekai"), &tag("character:rem"))
                .is_err(),
            "cycle refused"
        );
        assert_eq!(db.tags().parents().unwrap().len(), 2);
        assert!(
            db.tags()
                .remove_parent(&tag("character:rem"), &tag("parody:re zero"))
                .unwrap()
        );
        assert!(
            !db.tags()
                .remove_parent(&tag("character:rem"), &tag("parody:re zero"))
                .unwrap()
        );
    }

    pub fn trash_restore_and_purge_release_unused_blobs(db: &Db) {
        let a = new_id(
            db.galleries()
                .create(&gallery("a", &[1, 2, 3], &["artist:x"]))
                .unwrap(),
        );
        let b = new_id(db.galleries().create(&gallery("b", &[3, 4], &[])).unwrap());
        let thumb = db::BlobInfo {
            hash: BlobHash::of(b"thumb of 1"),
            format: ImageFormat::Webp,
            width: 320,
            height: 448,
            bytes: 9000,
        };
        db.galleries().set_thumbnail(&blob(1).hash, &thumb).unwrap();
        assert_eq!(
            db.galleries().pages(&a).unwrap()[0].thumbnail,
            Some(thumb.hash)
        );
        // Listings show the cover and, once made, its thumbnail.
        let listed = db.galleries().list(&ListQuery::default()).unwrap();
        let entry = listed.iter().find(|g| g.public_id == a).unwrap();
        assert_eq!(
            (entry.cover, entry.cover_thumbnail),
            (Some(blob(1).hash), Some(thumb.hash))
        );
        let other = listed.iter().find(|g| g.public_id == b).unwrap();
        assert_eq!(
            (other.cover, other.cover_thumbnail),
            (Some(blob(3).hash), None)
        );

        db.galleries().trash(&a).unwrap();
        assert_eq!(db.galleries().count().unwrap(), 1);
        let trash = db
            .galleries()
            .list(&ListQuery {
                trashed: true,
                ..ListQuery::default()
            })
            .unwrap();
        assert_eq!(
            trash
                .iter()
                .map(|g| g.public_id.as_str())
                .collect::<Vec<_>>(),
            vec![a.as_str()]
        );
        db.galleries().restore(&a).unwrap();
        assert_eq!(db.galleries().count().unwrap(), 2);

        let mut released = db.galleries().purge(&a).unwrap();
        released.sort();
        let mut expected = vec![blob(1).hash, blob(2).hash, thumb.hash];
        expected.sort();
        assert_eq!(released, expected, "blob 3 is still used by gallery b");
        assert_eq!(db.galleries().blob_refs(&blob(3).hash).unwrap(), 2);
        assert!(matches!(
            db.galleries().get(&a),
            Err(Error::GalleryNotFound(_))
        ));
        assert_eq!(db.galleries().get(&b).unwrap().page_count, 2);
    }

    pub fn reorder_pages_and_set_cover(db: &Db) {
        let id = new_id(
            db.galleries()
                .create(&gallery("g", &[1, 2, 3], &[]))
                .unwrap(),
        );
        db.galleries().reorder_pages(&id, &[2, 0, 1]).unwrap();
        let pages = db.galleries().pages(&id).unwrap();
        assert_eq!(
            pages.iter().map(|p| p.blob.hash).collect::<Vec<_>>(),
            vec![blob(3).hash, blob(1).hash, blob(2).hash]
        );
        let g = db.galleries().get(&id).unwrap();
        assert_eq!(
            (g.cover_page, g.cover),
            (1, Some(blob(1).hash)),
            "the cover follows its page"
        );
        assert!(db.galleries().reorder_pages(&id, &[0, 0, 1]).is_err());
        assert!(db.galleries().reorder_pages(&id, &[0, 1]).is_err());
        db.galleries().set_cover_page(&id, 2).unwrap();
        assert_eq!(db.galleries().get(&id).unwrap().cover, Some(blob(2).hash));
        assert!(db.galleries().set_cover_page(&id, 3).is_err());
        // A cropped cover replaces the page; a second crop releases the first.
        let crop = db::BlobInfo {
            hash: BlobHash::of(b"crop 1"),
            format: ImageFormat::Webp,
            width: 350,
            height: 500,
            bytes: 20_000,
        };
        assert_eq!(
            db.galleries().set_cover_image(&id, 1, &crop).unwrap(),
            vec![]
        );
        assert_eq!(db.galleries().get(&id).unwrap().cover, Some(crop.hash));
        // The cover page is the page the cover was cut from (it kept the old number).
        assert_eq!(db.galleries().get(&id).unwrap().cover_page, 1);
        assert!(db.galleries().set_cover_image(&id, 3, &crop).is_err());
        let crop2 = db::BlobInfo {
            hash: BlobHash::of(b"crop 2"),
            ..crop
        };
        assert_eq!(
            db.galleries().set_cover_image(&id, 2, &crop2).unwrap(),
            vec![crop.hash]
        );
        assert_eq!(
            db.galleries().blob_refs(&blob(2).hash).unwrap(),
            1,
            "page 2 is no longer the cover"
        );
        db.galleries().set_titles(&id, "new", "新しい").unwrap();
        assert_eq!(db.galleries().get(&id).unwrap().title_original, "新しい");
        // A partial edit writes only what it names: the titles just set stay.
        let change = db::DetailsChange {
            summary: Some("a summary".into()),
            reading_direction: Some(db::ReadingDirection::RightToLeft),
            ..Default::default()
        };
        db.galleries().edit_details(&id, &change).unwrap();
        let g = db.galleries().get(&id).unwrap();
        assert_eq!(
            (
                g.title.as_str(),
                g.title_original.as_str(),
                g.summary.as_str()
            ),
            ("new", "新しい", "a summary")
        );
        assert_eq!(g.reading_direction, db::ReadingDirection::RightToLeft);
        let blank = db::DetailsChange {
            title: Some("  ".into()),
            ..Default::default()
        };
        assert!(matches!(
            db.galleries().edit_details(&id, &blank),
            Err(db::Error::Invalid { .. })
        ));
        assert!(matches!(
            db.galleries()
                .edit_details("0".repeat(40).as_str(), &db::DetailsChange::default()),
            Err(db::Error::GalleryNotFound(_))
        ));
    }

    pub fn the_change_feed_records_every_write_in_order(db: &Db) {
        let start = db.changes().latest().unwrap();
        let id = new_id(db.galleries().create(&gallery("g", &[1], &[])).unwrap());
        db.tags()
            .add(&id, &[tag("misc:x")], TagSource::User)
            .unwrap();
        db.galleries().trash(&id).unwrap();
        db.galleries().restore(&id).unwrap();
        db.galleries().set_titles(&id, "t", "").unwrap();
        db.galleries().purge(&id).unwrap();
        let feed = db.changes().since(start, 100).unwrap();
        use db::ChangeKind::*;
        assert_eq!(
            feed.iter().map(|c| c.kind).collect::<Vec<_>>(),
            vec![Created, Tags, Trashed, Restored, Updated, Purged]
        );
        assert!(feed.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(db.changes().since(feed[3].seq, 100).unwrap().len(), 2);
    }

    pub fn listing_orders_and_pages(db: &Db) {
        for t in ["b", "a", "c"] {
            new_id(db.galleries().create(&gallery(t, &[1], &[])).unwrap());
        }
        let titles = |order| {
            db.galleries()
                .list(&ListQuery {
                    order,
                    ..ListQuery::default()
                })
                .unwrap()
                .into_iter()
                .map(|g| g.title)
                .collect::<Vec<_>>()
        };
        assert_eq!(titles(ListOrder::TitleAscending), vec!["a", "b", "c"]);
        assert_eq!(titles(ListOrder::TitleDescending), vec!["c", "b", "a"]);
        assert_eq!(titles(ListOrder::NewestFirst).len(), 3);
        let second = db
            .galleries()
            .list(&ListQuery {
                offset: 1,
                limit: 1,
                order: ListOrder::TitleAscending,
                trashed: false,
            })
            .unwrap();
        assert_eq!(second[0].title, "b");
    }

    pub fn accounts_sessions_keys_and_user_state(db: &Db) {
        use db::{KeyScope, Role};
        let acc = db.accounts();
        assert!(!acc.has_admin().unwrap());
        let root = acc.create_user("root", "$argon2id$x", Role::Admin).unwrap();
        let kim = acc.create_user("Kim", "$argon2id$y", Role::Reader).unwrap();
        assert!(acc.create_user("root", "h", Role::Reader).is_err());
        assert!(acc.create_user("two words", "h", Role::Reader).is_err());
        assert!(acc.create_user("", "h", Role::Reader).is_err());
        assert!(acc.has_admin().unwrap());
        assert_eq!(acc.user("Kim").unwrap().unwrap().role, Role::Reader);
        // The last admin can be neither demoted nor removed.
        assert!(acc.set_role("root", Role::Editor).is_err());
        assert!(acc.remove_user("root").is_err());
        acc.set_role("Kim", Role::Editor).unwrap();

        // Sessions, found by the hash of their token; a new password ends them.
        let token = [7u8; 32];
        acc.create_session(&token, kim.id, "csrf-token").unwrap();
        let s = acc.session(&token).unwrap().unwrap();
        assert_eq!(
            (s.user.name.as_str(), s.csrf.as_str()),
            ("Kim", "csrf-token")
        );
        acc.touch_session(&token).unwrap();
        acc.set_password("Kim", "$argon2id$z").unwrap();
        assert!(acc.session(&token).unwrap().is_none());
        acc.create_session(&token, kim.id, "c2").unwrap();
        assert_eq!(acc.expire_sessions(db::now_ms() + 1).unwrap(), 1);

        // API keys: scope, use, revocation only by their owner.
        let key = [9u8; 32];
        let id = acc
            .create_key(kim.id, "phone", &key, KeyScope::Read)
            .unwrap();
        let k = acc.key(&key).unwrap().unwrap();
        assert_eq!(
            (k.user.id, k.id, k.scope, k.used_at),
            (kim.id, id, KeyScope::Read, None)
        );
        acc.touch_key(id).unwrap();
        assert!(acc.keys(kim.id).unwrap()[0].used_at.is_some());
        assert!(acc.key(&key).unwrap().unwrap().used_at.is_some());
        assert!(!acc.revoke_key(root.id, id).unwrap());
        assert!(acc.revoke_key(kim.id, id).unwrap());
        assert!(acc.key(&key).unwrap().is_none());

        // Failed sign-ins.
        acc.record_failure(&["user:kim", "addr:::1"]).unwrap();
        acc.record_failure(&["user:kim"]).unwrap();
        assert_eq!(acc.failures("user:kim").unwrap().unwrap().0, 2);
        acc.clear_failures("user:kim").unwrap();
        assert!(acc.failures("user:kim").unwrap().is_none());

        // Per-user state, each user's own; a purged gallery leaves no trace in it.
        let g1 = new_id(db.galleries().create(&gallery("one", &[1], &[])).unwrap());
        let g2 = new_id(db.galleries().create(&gallery("two", &[2], &[])).unwrap());
        let (i1, i2) = (
            db.galleries().id_of(&g1).unwrap(),
            db.galleries().id_of(&g2).unwrap(),
        );
        let v0 = acc.state_version(kim.id).unwrap();
        acc.set_progress(kim.id, i1, 4, false).unwrap();
        acc.set_progress(kim.id, i1, 5, true).unwrap();
        assert_eq!(acc.progress(kim.id, i1).unwrap().unwrap().page, 5);
        assert!(acc.progress(root.id, i1).unwrap().is_none());
        acc.set_favorite(kim.id, i2, true).unwrap();
        acc.set_favorite(kim.id, i2, true).unwrap();
        assert!(acc.is_favorite(kim.id, i2).unwrap());
        assert!(!acc.is_favorite(root.id, i2).unwrap());
        let list = acc.create_collection(kim.id, "Later", None).unwrap();
        acc.create_collection(kim.id, "Saved", Some("artist:x"))
            .unwrap();
        assert!(acc.create_collection(kim.id, "Later", None).is_err());
        assert!(acc.set_in_collection(kim.id, list, i1, true).unwrap());
        assert!(acc.set_in_collection(kim.id, list, i2, true).unwrap());
        assert!(!acc.set_in_collection(root.id, list, i1, true).unwrap());
        let state = acc.user_state(kim.id).unwrap();
        assert!(state.version > v0);
        assert_eq!(state.read, [i1]);
        assert_eq!(state.favorites, [i2]);
        assert_eq!(
            state.collections,
            [
                ("Later".to_string(), None, vec![i1, i2]),
                ("Saved".to_string(), Some("artist:x".to_string()), vec![]),
            ]
        );
        assert_eq!(acc.user_state(root.id).unwrap().read, Vec::<i64>::new());
        let cols = acc.collections(kim.id).unwrap();
        assert_eq!(cols[0].galleries, 2);
        db.galleries().purge(&g2).unwrap();
        let state = acc.user_state(kim.id).unwrap();
        assert!(state.favorites.is_empty());
        assert_eq!(state.collections[0].2, [i1]);
        acc.clear_progress(kim.id, i1).unwrap();
        assert!(acc.user_state(kim.id).unwrap().read.is_empty());
        // Renaming: to a free name only, and only one's own.
        assert!(acc.rename_collection(kim.id, list, "Saved").is_err());
        assert!(!acc.rename_collection(root.id, list, "Mine now").unwrap());
        assert!(acc.rename_collection(kim.id, list, " Later on ").unwrap());
        assert!(acc.rename_collection(kim.id, list, "Later on").unwrap());
        assert_eq!(acc.collections(kim.id).unwrap()[0].name, "Later on");
        assert!(acc.remove_collection(kim.id, list).unwrap());
        // Removing a user removes what was theirs.
        acc.set_favorite(kim.id, i1, true).unwrap();
        acc.remove_user("Kim").unwrap();
        assert!(acc.user("Kim").unwrap().is_none());
        assert_eq!(acc.users().unwrap().len(), 1);
    }

    pub fn jobs_keep_state(db: &Db) {
        let id = db
            .jobs()
            .create(JobKind::Import, "{\"path\":\"/x\"}")
            .unwrap();
        assert_eq!(db.jobs().get(id).unwrap().state, JobState::Queued);
        db.jobs().start(id).unwrap();
        db.jobs().progress(id, 3, 10).unwrap();
        let j = db.jobs().get(id).unwrap();
        assert_eq!((j.state, j.done, j.total), (JobState::Running, 3, 10));
        assert_eq!(db.jobs().requeue_interrupted().unwrap(), 1);
        assert_eq!(db.jobs().in_state(JobState::Queued, 10).unwrap().len(), 1);
        db.jobs().fail(id, "archive is encrypted").unwrap();
        assert_eq!(
            db.jobs().get(id).unwrap().error.as_deref(),
            Some("archive is encrypted")
        );
        assert!(matches!(db.jobs().get(9999), Err(Error::JobNotFound(9999))));
    }
}

/// A fresh SQLite database in a temporary directory.
fn sqlite() -> (Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("littlepanda.db")).unwrap();
    (db, dir)
}

/// A fresh MariaDB database, dropped when the guard goes.
struct MariaDb {
    db: Option<Db>,
    server: String,
    name: String,
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.db.take();
        if let Ok(pool) = mysql::Pool::new(self.server.as_str())
            && let Ok(mut conn) = pool.get_conn()
        {
            use mysql::prelude::Queryable;
            let _ = conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name));
        }
    }
}

fn mariadb(test: &str) -> MariaDb {
    use mysql::prelude::Queryable;
    let Ok(url) = std::env::var("LITTLEPANDA_TEST_MYSQL_URL") else {
        panic!(
            "LITTLEPANDA_TEST_MYSQL_URL is not set, so the MariaDB suite cannot run. `.ci/run` starts MariaDB and sets it; \
             elsewhere run e.g. `LITTLEPANDA_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test cargo test -p littlepanda-db`"
        )
    };
    let server = url
        .rsplit_once('/')
        .map_or(url.clone(), |(base, _)| format!("{base}/"));
    let name = format!("lp_{}_{}", test, fastrand::u32(..));
    let pool = mysql::Pool::new(server.as_str())
        .unwrap_or_else(|e| panic!("cannot reach MariaDB at {url}: {e}"));
    pool.get_conn()
        .unwrap()
        .query_drop(format!(
            "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .unwrap();
    let db = Db::open(&format!("{server}{name}")).unwrap();
    MariaDb {
        db: Some(db),
        server,
        name,
    }
}

mod baseline_suite {
    use super::*;
    use db::BaselineQuery;

    /// The SQL baseline of `bench search` answers the same on both backends, and correctly.
    pub fn the_sql_baseline_answers(db: &Db) {
        let a = new_id(
            db.galleries()
                .create(&gallery("100% Sweet_Fox", &[1], &["artist:ab", "female:x"]))
                .unwrap(),
        );
        let _b = new_id(
            db.galleries()
                .create(&gallery("Other", &[2, 3], &["artist:abc", "female:y"]))
                .unwrap(),
        );
        let c = new_id(
            db.galleries()
                .create(&gallery("Sweet fox two", &[4], &["artist:zz", "female:x"]))
                .unwrap(),
        );
        db.galleries().trash(&c).unwrap();
        let id = |t: &str| {
            db.tags()
                .all()
                .unwrap()
                .into_iter()
                .find(|(_, n)| n.to_string() == t)
                .unwrap()
                .0
        };
        let total = |q: BaselineQuery| db.baseline_search(&q, 50).unwrap().total;
        assert_eq!(
            total(BaselineQuery::Tags {
                all: vec![id("female:x")],
                none: vec![]
            }),
            1
        );
        assert_eq!(
            total(BaselineQuery::Tags {
                all: vec![],
                none: vec![id("female:x")]
            }),
            1
        );
        assert_eq!(
            total(BaselineQuery::AnyOf {
                any: vec![id("female:x"), id("female:y")],
                all: vec![]
            }),
            2
        );
        assert_eq!(
            total(BaselineQuery::TagPrefix {
                namespace: "artist".into(),
                prefix: "ab".into()
            }),
            2
        );
        // LIKE's wildcards in the text are literal.
        assert_eq!(total(BaselineQuery::Title("100%".into())), 1);
        assert_eq!(total(BaselineQuery::Title("t_f".into())), 1);
        assert_eq!(total(BaselineQuery::Title("_".into())), 1);
        assert_eq!(total(BaselineQuery::Pages(2, 2)), 1);
        let by_title = db.baseline_search(&BaselineQuery::ByTitle, 1).unwrap();
        assert_eq!((by_title.total, by_title.ids.len()), (2, 1));
        assert_eq!(by_title.ids[0], db.galleries().id_of(&a).unwrap());
        let s = db.baseline_suggest("ab", 10).unwrap();
        assert_eq!(s.len(), 2);
    }
}

macro_rules! backend_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { let (db, _dir) = super::sqlite(); super::suite::$name(&db); } )*
        }
        mod mariadb {
            $( #[test] fn $name() {
                let guard = super::mariadb(stringify!($name));
                super::suite::$name(guard.db.as_ref().unwrap());
            } )*
        }
    };
}

backend_suite!(
    create_and_read_back,
    the_same_archive_is_a_duplicate,
    a_failure_mid_creation_leaves_nothing,
    hostile_strings_round_trip_or_are_refused,
    concurrent_imports_and_tag_edits_lose_nothing,
    tags_are_case_insensitive_and_removable,
    renaming_and_merging_tags,
    siblings_and_parents,
    trash_restore_and_purge_release_unused_blobs,
    reorder_pages_and_set_cover,
    the_change_feed_records_every_write_in_order,
    listing_orders_and_pages,
    jobs_keep_state,
    the_sql_baseline_answers,
    accounts_sessions_keys_and_user_state,
);

/// A library written by schema version 1 (gallery_tags keyed by gallery, with a by-tag index
/// beside it) opens, is migrated, and keeps every tag.
#[test]
fn a_version_1_library_keeps_its_tags_through_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Db::open_sqlite(&path).unwrap();
    let a = new_id(
        db.galleries()
            .create(&gallery("A", &[1, 2], &["artist:x", "female:glasses"]))
            .unwrap(),
    );
    let b = new_id(
        db.galleries()
            .create(&gallery("B", &[3], &["artist:x"]))
            .unwrap(),
    );
    drop(db);
    // Back to the version 1 layout, rows and all.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE gt_v1 (gallery_id INTEGER NOT NULL REFERENCES galleries(id) ON DELETE CASCADE, \
             tag_id INTEGER NOT NULL REFERENCES tags(id), source INTEGER NOT NULL, \
             PRIMARY KEY (gallery_id, tag_id)) WITHOUT ROWID;
         INSERT INTO gt_v1 SELECT gallery_id, tag_id, source FROM gallery_tags;
         DROP TABLE gallery_tags;
         ALTER TABLE gt_v1 RENAME TO gallery_tags;
         CREATE INDEX gallery_tags_by_tag ON gallery_tags (tag_id, gallery_id);
         DROP INDEX blobs_needing_thumbnails;
         DROP TABLE collection_items; DROP TABLE collections; DROP TABLE favorites;
         DROP TABLE reading_progress; DROP TABLE login_failures; DROP TABLE api_keys;
         DROP TABLE sessions; DROP TABLE users;
         DELETE FROM schema_version WHERE version >= 2;",
    )
    .unwrap();
    drop(conn);

    let db = Db::open_sqlite(&path).unwrap();
    let names = |id: &str| -> Vec<String> {
        db.tags()
            .of_gallery(id)
            .unwrap()
            .into_iter()
            .map(|t| t.tag.to_string())
            .collect()
    };
    assert_eq!(names(&a), ["artist:x", "female:glasses"]);
    assert_eq!(names(&b), ["artist:x"]);
    let count = |t: &str| {
        db.tags()
            .counts()
            .unwrap()
            .into_iter()
            .find(|(n, _)| n.to_string() == t)
            .map(|(_, c)| c)
    };
    assert_eq!(count("artist:x"), Some(2));
    assert_eq!(db.tags().remove(&a, &[tag("artist:x")]).unwrap(), 1);
    assert_eq!(count("artist:x"), Some(1));
    db.galleries().purge(&b).unwrap();
    assert_eq!(count("artist:x"), Some(0));
    drop(db);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM gallery_tags", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "only A's female:glasses is left");
    let shape: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'gallery_tags'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        shape.contains("PRIMARY KEY (tag_id, gallery_id)"),
        "{shape}"
    );
}

#[test]
fn a_database_from_a_newer_littlepanda_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(Db::open_sqlite(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO schema_version (version, applied_at) VALUES (99, 0)",
        [],
    )
    .unwrap();
    drop(conn);
    assert!(matches!(
        Db::open_sqlite(&path),
        Err(Error::SchemaTooNew { found: 99, .. })
    ));
    assert!(matches!(Db::open("postgres://x"), Err(Error::Url(_))));
}
