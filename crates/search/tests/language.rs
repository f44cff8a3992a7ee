//! The query language, construct by construct, answered by the index and by the reference
//! evaluator over the same library; random queries over random libraries; and edits seen by the
//! next search without a rebuild.

use std::collections::{BTreeSet, HashMap};

use db::{BlobInfo, Db, ImageFormat, NewGallery, NewPage, TagName, TagSource};
use lpfs::BlobHash;
use proptest::prelude::*;
use search::reference::Library;
use search::{Index, Viewer, parse};

struct G {
    title: &'static str,
    original: &'static str,
    tags: &'static [&'static str],
    pages: u32,
    mb: u64,
    posted: Option<(i64, u32, u32)>,
}

fn day(y: i64, m: u32, d: u32) -> i64 {
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mm = i64::from(m);
    let doy = (153 * (if mm > 2 { mm - 3 } else { mm + 9 }) + 2) / 5 + i64::from(d) - 1;
    (era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468) * 86_400_000
}

fn new_gallery(
    title: &str,
    original: &str,
    tags: &[&str],
    pages: u32,
    bytes: u64,
    posted: Option<i64>,
    salt: u64,
) -> NewGallery {
    NewGallery {
        title: title.into(),
        title_original: original.into(),
        posted_at: posted,
        pages: (0..pages)
            .map(|i| NewPage {
                name: format!("{i:03}.jpg"),
                blob: BlobInfo {
                    hash: BlobHash::of(&[salt.to_le_bytes(), u64::from(i).to_le_bytes()].concat()),
                    format: ImageFormat::Jpeg,
                    width: 10,
                    height: 10,
                    bytes: bytes / u64::from(pages),
                },
            })
            .collect(),
        tags: tags
            .iter()
            .map(|t| (TagName::parse(t).unwrap(), TagSource::User))
            .collect(),
        ..NewGallery::default()
    }
}

/// The library of the table below, in a fresh SQLite database.
fn fixture() -> (tempfile::TempDir, Db, HashMap<i64, &'static str>) {
    let galleries = [
        G {
            title: "The Quick Brown Fox",
            original: "素早い茶色の狐",
            tags: &["artist:alice", "female:glasses", "language:english"],
            pages: 10,
            mb: 10,
            posted: Some((2023, 5, 1)),
        },
        G {
            title: "Lazy Dog Stories",
            original: "",
            tags: &["artist:bob", "female:glasses-wearer", "language:japanese"],
            pages: 30,
            mb: 50,
            posted: Some((2024, 2, 10)),
        },
        G {
            title: "東方プロジェクト合同誌",
            original: "",
            tags: &["parody:touhou project", "artist:carol", "language:japanese"],
            pages: 25,
            mb: 120,
            posted: None,
        },
        G {
            title: "Untitled Collection",
            original: "",
            tags: &[],
            pages: 5,
            mb: 1,
            posted: None,
        },
        G {
            title: "Fox and Hound",
            original: "",
            tags: &["artist:alice", "male:dog"],
            pages: 50,
            mb: 200,
            posted: Some((2022, 12, 31)),
        },
        G {
            title: "Glasses Club",
            original: "",
            tags: &["misc:school"],
            pages: 12,
            mb: 15,
            posted: Some((2023, 11, 30)),
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("db")).unwrap();
    let mut titles = HashMap::new();
    for (i, g) in galleries.iter().enumerate() {
        let posted = g.posted.map(|(y, m, d)| day(y, m, d));
        let created = db
            .galleries()
            .create(&new_gallery(
                g.title,
                g.original,
                g.tags,
                g.pages,
                g.mb * 1_000_000,
                posted,
                i as u64,
            ))
            .unwrap();
        let db::Created::New { id, public_id } = created else {
            panic!()
        };
        titles.insert(id, g.title);
        if g.title == "Fox and Hound" {
            db.galleries().trash(&public_id).unwrap();
        }
    }
    let t = |s: &str| TagName::parse(s).unwrap();
    db.tags()
        .set_sibling(&t("parody:th"), &t("parody:touhou project"))
        .unwrap();
    db.tags()
        .add_parent(&t("female:glasses"), &t("misc:accessories"))
        .unwrap();
    (dir, db, titles)
}

fn reference(db: &Db) -> Library {
    let tags: HashMap<i64, TagName> = db.tags().all().unwrap().into_iter().collect();
    let id_of: HashMap<TagName, i64> = tags.iter().map(|(i, n)| (n.clone(), *i)).collect();
    Library {
        galleries: db.galleries().index_rows(0, i64::MAX, 1_000_000).unwrap(),
        siblings: db
            .tags()
            .siblings()
            .unwrap()
            .into_iter()
            .map(|(a, c)| (id_of[&a], id_of[&c]))
            .collect(),
        parents: db
            .tags()
            .parents()
            .unwrap()
            .into_iter()
            .map(|(c, p)| (id_of[&c], id_of[&p]))
            .collect(),
        tags,
    }
}

/// Both evaluators' answers must agree, in order; answers the titles.
fn both(
    index: &Index,
    lib: &Library,
    titles: &HashMap<i64, &'static str>,
    q: &str,
    admin: bool,
) -> Vec<&'static str> {
    let parsed = parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let got = index.search(&parsed, Viewer { admin, state: None }, 0, usize::MAX);
    let want = lib.search(&parsed, admin);
    assert_eq!(got.total as usize, want.len(), "{q}");
    if parsed.sort.key == search::query::SortKey::Random {
        let a: BTreeSet<i64> = got.ids.iter().copied().collect();
        let b: BTreeSet<i64> = want.iter().copied().collect();
        assert_eq!(a, b, "{q}");
    } else {
        assert_eq!(got.ids, want, "{q}: index vs reference");
    }
    want.iter().map(|id| titles[id]).collect()
}

fn set(v: Vec<&'static str>) -> BTreeSet<&'static str> {
    v.into_iter().collect()
}

#[test]
fn every_construct() {
    let (_dir, db, titles) = fixture();
    let index = Index::build(&db).unwrap();
    let lib = reference(&db);
    let q = |s: &str| set(both(&index, &lib, &titles, s, false));
    let qa = |s: &str| set(both(&index, &lib, &titles, s, true));
    let s = |v: &[&'static str]| v.iter().copied().collect::<BTreeSet<_>>();
    let (fox, dog, touhou, untitled, hound, club) = (
        "The Quick Brown Fox",
        "Lazy Dog Stories",
        "東方プロジェクト合同誌",
        "Untitled Collection",
        "Fox and Hound",
        "Glasses Club",
    );
    // Tags: namespaced, prefix unless $, wildcards, quoted.
    assert_eq!(q("artist:alice"), s(&[fox]));
    assert_eq!(q("female:glasses"), s(&[fox, dog]));
    assert_eq!(q("female:glasses$"), s(&[fox]));
    assert_eq!(q("artist:*o*"), s(&[dog, touhou]));
    assert_eq!(q("artist:?ob$"), s(&[dog]));
    assert_eq!(q(r#"parody:"touhou project"$"#), s(&[touhou]));
    // A bare word: title words, or tags of any namespace.
    assert_eq!(q("glasses"), s(&[fox, dog, club]));
    assert_eq!(q("FOX"), s(&[fox]));
    assert_eq!(q("ｆｏｘ"), s(&[fox]), "width-insensitive");
    assert_eq!(q("st*"), s(&[dog]));
    // Phrases and CJK substrings, in either title.
    assert_eq!(q(r#""brown fox""#), s(&[fox]));
    assert_eq!(q(r#""fox brown""#), s(&[]));
    assert_eq!(q("茶色"), s(&[fox]));
    assert_eq!(q("プロジェクト"), s(&[touhou]));
    // Exclusion, AND, OR, grouping.
    assert_eq!(q("-artist:alice"), s(&[dog, touhou, untitled, club]));
    assert_eq!(q("artist:alice | artist:bob"), s(&[fox, dog]));
    assert_eq!(q("artist:alice OR artist:bob"), s(&[fox, dog]));
    assert_eq!(
        q("(artist:alice | artist:carol) language:japanese"),
        s(&[touhou])
    );
    assert_eq!(
        q("language:japanese -(artist:carol | female:glasses)"),
        s(&[])
    );
    assert_eq!(q("language:japanese -artist:carol"), s(&[dog]));
    // Numbers and dates.
    assert_eq!(q("pages:>20"), s(&[dog, touhou]));
    assert_eq!(q("pages:10..25"), s(&[fox, touhou, club]));
    assert_eq!(q("pages:<=5"), s(&[untitled]));
    assert_eq!(q("size:<20MB"), s(&[fox, untitled, club]));
    assert_eq!(q("size:>=100MB"), s(&[touhou]));
    assert_eq!(q("posted:2023"), s(&[fox, club]));
    assert_eq!(q("posted:2023-11"), s(&[club]));
    assert_eq!(q("posted:>2024-01-01"), s(&[dog]));
    assert_eq!(q("posted:..2023-05-01"), s(&[fox]));
    // States.
    assert_eq!(q("untagged"), s(&[untitled]));
    assert_eq!(q("trash"), s(&[]), "only admins see the trash");
    assert_eq!(qa("trash"), s(&[hound]));
    assert_eq!(qa("artist:alice trash"), s(&[hound]));
    assert_eq!(
        qa("artist:alice"),
        s(&[fox]),
        "the trash only when asked for"
    );
    // Siblings and parents.
    assert_eq!(q("parody:th$"), s(&[touhou]));
    assert_eq!(q("misc:accessories"), s(&[fox]));
    // Sorting, stable, with paging and totals.
    assert_eq!(
        both(&index, &lib, &titles, "sort:title", false),
        [club, dog, fox, untitled, touhou]
    );
    assert_eq!(
        both(&index, &lib, &titles, "sort:pages:asc", false),
        [untitled, fox, club, touhou, dog]
    );
    assert_eq!(
        both(&index, &lib, &titles, "sort:posted", false)[..2],
        [dog, club]
    );
    both(&index, &lib, &titles, "sort:artist", false);
    both(&index, &lib, &titles, "sort:artist:desc", false);
    both(&index, &lib, &titles, "sort:random glasses", false);
    let page = index.search(&parse("sort:title").unwrap(), Viewer::default(), 1, 2);
    assert_eq!(page.total, 5);
    assert_eq!(
        page.ids.iter().map(|i| titles[i]).collect::<Vec<_>>(),
        [dog, fox]
    );
}

#[test]
fn autocomplete_by_prefix_ranked_by_use_and_through_aliases() {
    let (_dir, db, _) = fixture();
    let index = Index::build(&db).unwrap();
    let names = |typed: &str| -> Vec<(String, u64)> {
        index
            .suggest(typed, 10)
            .into_iter()
            .map(|s| (s.tag.to_string(), s.galleries))
            .collect()
    };
    // Alice's second gallery is in the trash: it is not counted.
    assert_eq!(
        names("artist:"),
        [
            ("artist:alice".into(), 1),
            ("artist:bob".into(), 1),
            ("artist:carol".into(), 1)
        ]
    );
    assert_eq!(
        names("glass"),
        [
            ("female:glasses".into(), 1),
            ("female:glasses-wearer".into(), 1)
        ]
    );
    // Typing a namespace without its colon suggests its tags (it suggested nothing).
    assert_eq!(
        names("ＬＡＮＧ"),
        [
            ("language:japanese".into(), 2),
            ("language:english".into(), 1)
        ]
    );
    assert_eq!(
        names("fem"),
        [
            ("female:glasses".into(), 1),
            ("female:glasses-wearer".into(), 1)
        ]
    );
    assert_eq!(
        names("f"),
        Vec::<(String, u64)>::new(),
        "one letter is too few"
    );
    assert_eq!(
        names("language:"),
        [
            ("language:japanese".into(), 2),
            ("language:english".into(), 1)
        ]
    );
    let via = index.suggest("parody:th", 10);
    assert_eq!(via[0].tag.to_string(), "parody:touhou project");
    assert_eq!(
        via[0]
            .via_alias
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("parody:th")
    );
}

#[test]
fn edits_show_up_in_the_next_search_without_a_rebuild() {
    let (_dir, db, _titles) = fixture();
    let mut index = Index::build(&db).unwrap();
    let hits = |index: &Index, q: &str| {
        index
            .search(&parse(q).unwrap(), Viewer::default(), 0, 100)
            .total
    };
    let newest = db
        .galleries()
        .list(&db::ListQuery {
            limit: 100,
            ..db::ListQuery::default()
        })
        .unwrap();
    let club = newest
        .iter()
        .find(|g| g.title == "Glasses Club")
        .unwrap()
        .public_id
        .clone();
    let fox = newest
        .iter()
        .find(|g| g.title == "The Quick Brown Fox")
        .unwrap()
        .public_id
        .clone();

    db.tags()
        .add(
            &club,
            &[TagName::parse("artist:dave").unwrap()],
            TagSource::User,
        )
        .unwrap();
    db.tags()
        .remove(&fox, &[TagName::parse("artist:alice").unwrap()])
        .unwrap();
    db.galleries()
        .set_titles(&club, "Spectacles Club", "")
        .unwrap();
    db.galleries().trash(&fox).unwrap();
    db.galleries()
        .create(&new_gallery(
            "Brand New",
            "",
            &["artist:dave"],
            3,
            1000,
            None,
            99,
        ))
        .unwrap();
    assert_eq!(hits(&index, "artist:dave"), 0, "not yet caught up");
    assert!(index.catch_up(&db).unwrap() >= 5);
    assert_eq!(hits(&index, "artist:dave"), 2);
    assert_eq!(hits(&index, "artist:alice"), 0);
    assert_eq!(hits(&index, "spectacles"), 1);
    assert_eq!(hits(&index, "club"), 1);
    assert_eq!(
        hits(&index, "glasses -female:glasses-wearer"),
        0,
        "the old title is gone, fox is trashed"
    );
    let purged = db
        .galleries()
        .list(&db::ListQuery {
            limit: 100,
            ..db::ListQuery::default()
        })
        .unwrap();
    let dog = purged
        .iter()
        .find(|g| g.title == "Lazy Dog Stories")
        .unwrap()
        .public_id
        .clone();
    db.galleries().purge(&dog).unwrap();
    index.catch_up(&db).unwrap();
    assert_eq!(hits(&index, "artist:bob"), 0);
    // And it agrees with the reference over what the database now holds.
    let lib = reference(&db);
    for q in [
        "artist:dave",
        "glasses",
        "sort:title",
        "untagged",
        "-language:japanese",
    ] {
        let parsed = parse(q).unwrap();
        assert_eq!(
            index.search(&parsed, Viewer::default(), 0, 100).ids,
            lib.search(&parsed, false),
            "{q}"
        );
    }
}

#[test]
fn any_input_gets_an_answer_or_a_positioned_error() {
    for q in [
        "((((",
        "))))",
        "\"",
        "a | | b",
        "-(",
        "pages:>>3",
        "sort:",
        ":",
        "a:",
        "*a*b*c*d*e*f*g*h*",
        "$",
        "-",
        "\u{0}",
    ] {
        match parse(q) {
            Ok(_) => {}
            Err(e) => assert!(e.position <= q.chars().count(), "{q}: {e}"),
        }
    }
    let (_dir, db, _) = fixture();
    let index = Index::build(&db).unwrap();
    let pathological = format!("artist:{}", "*a".repeat(500));
    let parsed = parse(&pathological).unwrap();
    let started = std::time::Instant::now();
    index.search(&parsed, Viewer::default(), 0, 10);
    // A wildcard of 500 stars still answers promptly (linear glob, not backtracking).
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(parse(&vec!["a"; 10_000].join(" ")).is_err());
}

// ---- random queries ------------------------------------------------------------------------------

const NAMESPACES: [&str; 3] = ["artist", "female", "misc"];
const NAMES: [&str; 6] = ["ab", "abc", "b", "bc", "cab", "x y"];
const WORDS: [&str; 6] = ["red", "blue", "redder", "fox", "東方", "青"];

fn arb_gallery() -> impl Strategy<Value = (Vec<usize>, Vec<(usize, usize)>, u32, u64, bool)> {
    (
        proptest::collection::vec(0..WORDS.len(), 0..4),
        proptest::collection::vec((0..NAMESPACES.len(), 0..NAMES.len()), 0..4),
        1u32..40,
        1u64..100,
        any::<bool>(),
    )
}

fn arb_term() -> impl Strategy<Value = String> {
    prop_oneof![
        (0..NAMESPACES.len(), 0..NAMES.len(), any::<bool>()).prop_map(|(n, t, exact)| {
            let name = NAMES[t];
            let quoted = if name.contains(' ') {
                format!("\"{name}\"")
            } else {
                name.to_string()
            };
            format!("{}:{quoted}{}", NAMESPACES[n], if exact { "$" } else { "" })
        }),
        (0..NAMES.len()).prop_map(|t| if NAMES[t].contains(' ') {
            "b*".to_string()
        } else {
            NAMES[t].to_string()
        }),
        (0..WORDS.len()).prop_map(|w| WORDS[w].to_string()),
        (0..NAMESPACES.len()).prop_map(|n| format!("{}:?b*", NAMESPACES[n])),
        (1u32..40).prop_map(|p| format!("pages:>{p}")),
        (1u32..20, 20u32..40).prop_map(|(a, b)| format!("pages:{a}..{b}")),
        Just("untagged".to_string()),
        Just("trash".to_string()),
        Just("\"red blue\"".to_string()),
    ]
}

fn arb_query() -> impl Strategy<Value = String> {
    let leaf = arb_term();
    let expr = leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 1..3).prop_map(|v| v.join(" ")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} | {b})")),
            inner.prop_map(|a| format!("-{a}")),
        ]
    });
    let sort = prop_oneof![
        Just(""),
        Just(" sort:title"),
        Just(" sort:pages:asc"),
        Just(" sort:size"),
        Just(" sort:artist"),
        Just(" sort:added:asc"),
    ];
    (expr, sort).prop_map(|(e, s)| format!("{e}{s}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    #[test]
    fn random_queries_agree_with_the_reference(
        galleries in proptest::collection::vec(arb_gallery(), 1..25),
        queries in proptest::collection::vec(arb_query(), 1..8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open_sqlite(&dir.path().join("db")).unwrap();
        let t = |s: &str| TagName::parse(s).unwrap();
        db.tags().set_sibling(&t("misc:cab"), &t("artist:ab")).unwrap();
        db.tags().add_parent(&t("female:b"), &t("misc:bc")).unwrap();
        for (i, (words, tags, pages, mb, trashed)) in galleries.iter().enumerate() {
            let title: Vec<&str> = words.iter().map(|w| WORDS[*w]).collect();
            let title = if title.is_empty() { "untitled".to_string() } else { title.join(" ") };
            let tag_text: Vec<String> = tags.iter().map(|(n, t)| format!("{}:{}", NAMESPACES[*n], NAMES[*t])).collect();
            let tag_refs: Vec<&str> = tag_text.iter().map(String::as_str).collect();
            let created = db.galleries().create(&new_gallery(&title, "", &tag_refs, *pages, mb * 1_000_000, None, i as u64)).unwrap();
            if *trashed && let db::Created::New { public_id, .. } = created {
                db.galleries().trash(&public_id).unwrap();
            }
        }
        let index = Index::build(&db).unwrap();
        let lib = reference(&db);
        for q in &queries {
            let parsed = parse(q).unwrap();
            for admin in [false, true] {
                let got = index.search(&parsed, Viewer { admin, state: None }, 0, usize::MAX);
                let want = lib.search(&parsed, admin);
                prop_assert_eq!(&got.ids, &want, "{} (admin: {})", q, admin);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]
    /// Random text, biased towards the language's own characters: an answer or a positioned
    /// error, never a panic.
    #[test]
    fn random_text_never_panics_the_parser(input in r#"[a-z:"()|$*?. <>=0-9東\-]{0,80}"#) {
        match parse(&input) {
            Ok(q) => { let _ = format!("{q:?}"); }
            Err(e) => prop_assert!(e.position <= input.chars().count()),
        }
    }
}

#[test]
fn a_substring_never_spans_a_title_and_the_original_title() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open_sqlite(&dir.path().join("db")).unwrap();
    let mut titles = HashMap::new();
    for (i, (title, original)) in [("夏の東", "方向音痴"), ("東方夏祭り", "")]
        .into_iter()
        .enumerate()
    {
        let created = db
            .galleries()
            .create(&new_gallery(
                title,
                original,
                &[],
                1,
                1,
                None,
                100 + i as u64,
            ))
            .unwrap();
        let db::Created::New { id, .. } = created else {
            panic!()
        };
        titles.insert(id, title);
    }
    let index = Index::build(&db).unwrap();
    let lib = reference(&db);
    let q = |s: &str| set(both(&index, &lib, &titles, s, false));
    assert_eq!(q("東方"), set(vec!["東方夏祭り"]));
    assert_eq!(q("夏の東方向"), set(vec![]));
    assert_eq!(q("方向音痴"), set(vec!["夏の東"]));
    assert_eq!(q("夏の東"), set(vec!["夏の東"]));
}

/// Siblings and parents added while the index is live were invisible to search until some
/// gallery's tags changed. Here they are added through a second handle on the database, as another
/// process sharing it would, and the very next search finds them; removing them is seen too.
#[test]
fn tag_siblings_and_parents_reach_search_at_once() {
    let (dir, db, _titles) = fixture();
    let live = search::Live::build(std::sync::Arc::new(db)).unwrap();
    let other = Db::open_sqlite(&dir.path().join("db")).unwrap();
    let hits = |q: &str| {
        live.search(q, search::Asker::default(), 0, 100)
            .unwrap()
            .total
    };
    let t = |s: &str| TagName::parse(s).unwrap();
    assert_eq!(hits("artist:al$"), 0);
    assert_eq!(hits("misc:bespectacled$"), 0);

    other
        .tags()
        .set_sibling(&t("artist:al"), &t("artist:alice"))
        .unwrap();
    other
        .tags()
        .add_parent(&t("female:glasses-wearer"), &t("misc:bespectacled"))
        .unwrap();
    assert_eq!(
        hits("artist:al$"),
        1,
        "the alias finds its canonical tag's gallery"
    );
    assert_eq!(
        hits("misc:bespectacled$"),
        1,
        "the parent finds its child's gallery"
    );

    other.tags().remove_sibling(&t("artist:al")).unwrap();
    other
        .tags()
        .remove_parent(&t("female:glasses-wearer"), &t("misc:bespectacled"))
        .unwrap();
    assert_eq!(hits("artist:al$"), 0);
    assert_eq!(hits("misc:bespectacled$"), 0);
}

/// A saved search naming itself k times (`in:f | in:f | …`) took time as k⁴ (k = 128: a
/// minute; 255: a quarter of an hour) while holding the index, so every other search waited.
/// Each saved search is now evaluated once per query, one that names itself matches nothing
/// there, and the spelled-out size is bounded with a clear error.
#[test]
fn saved_searches_cannot_make_a_query_explode() {
    let (_dir, db, _titles) = fixture();
    let db = std::sync::Arc::new(db);
    let user = db
        .accounts()
        .create_user("kim", "unused", db::Role::Reader)
        .unwrap()
        .id;
    let k = 255;
    let selfish = vec!["in:f"; k].join(" | ");
    db.accounts()
        .create_collection(user, "f", Some(&format!("{selfish} | glasses")))
        .unwrap();
    let live = search::Live::build(db.clone()).unwrap();
    let asker = search::Asker {
        admin: false,
        user: Some(user),
    };
    // A watchdog, not a benchmark: the old evaluation would not finish for many minutes.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| tx.send(live.search("in:f", asker, 0, 100)).unwrap());
        let answer = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the search is still running after a minute");
        // The self-references match nothing; the rest of the saved search still works.
        let glasses = live.search("glasses", asker, 0, 100).unwrap().total;
        assert_eq!(answer.unwrap().total, glasses, "what `glasses` finds");
    });
    // Many saved searches, each large: refused with a clear error before any work.
    let wide = (0..200)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" | ");
    for i in 0..20 {
        db.accounts()
            .create_collection(user, &format!("c{i}"), Some(&wide))
            .unwrap();
    }
    let all = (0..20)
        .map(|i| format!("in:c{i}"))
        .collect::<Vec<_>>()
        .join(" | ");
    match live.search(&all, asker, 0, 10) {
        Err(search::SearchError::Parse(e)) => {
            assert!(e.message.contains("spelled out"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}
