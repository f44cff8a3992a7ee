//! The in-memory index: posting lists (roaring bitmaps) per tag and per title key, a column per
//! number and date, built from the database once and then kept current from the change feed: a
//! write touches only the galleries it changed.
//!
//! Galleries are numbered densely in the order they are first seen (document numbers are never
//! reused); since galleries are seen in id order and new ones arrive last, document order is the
//! order they were added, which answers the default sort without sorting.

use std::collections::HashSet;

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use db::{Db, IndexRow, TagName, UserState};
use roaring::RoaringBitmap;

use crate::query::{Expr, Field, Pattern, Query, SortKey, Term};
use crate::text::{fold, is_cjk, keys_of};

mod build;
mod columns;
mod eval;
mod keys;

use columns::{Cols, DocTags, Titles};
use keys::TitleKeys;

#[derive(Debug, Clone)]
struct TagEntry {
    name: TagName,
    postings: RoaringBitmap,
}

/// A page of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Results {
    /// Gallery ids (internal), in order.
    pub ids: Vec<i64>,
    /// How many galleries match in all.
    pub total: u64,
}

/// Who is asking: what they may see, and their own state for `read`, `favorite` and `in:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Viewer<'a> {
    /// May search the trash (`trash`).
    pub admin: bool,
    /// The asking user's progress, favorites and collections (none for anonymous callers, whose
    /// `read`, `favorite` and `in:` match nothing).
    pub state: Option<&'a UserState>,
}

/// How deep saved searches may refer to other saved searches (`in:` inside a saved query).
const MAX_SAVED_DEPTH: u32 = 4;

/// A search given up because it ran out of its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfTime;

/// A tag offered while typing: its name and how many galleries have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub tag: TagName,
    pub galleries: u64,
    /// The alias typed, when the suggestion is its canonical tag.
    pub via_alias: Option<TagName>,
}

/// No posted date, in the `posted` column.
const NO_DATE: i64 = i64::MIN;

/// The search index.
#[derive(Debug, Default)]
pub struct Index {
    // One entry per document.
    gallery: Vec<i64>,
    /// Both folded titles of every document, back to back in one arena (checking titles for a
    /// substring then reads memory in order instead of chasing a pointer per title).
    titles: Titles,
    pages: Vec<u32>,
    bytes: Vec<u64>,
    added: Vec<i64>,
    posted: Vec<i64>,
    doc_tags: DocTags,
    /// How many of the first documents have ascending gallery ids: all of them, unless a gallery
    /// came in after one with a higher id (the build reads galleries in id order, and a new
    /// gallery's id is higher than any before it). Those are found by a binary search of
    /// `gallery`, with no lookup table of their own (36 MB at a million galleries).
    in_order: usize,
    /// The documents after those, by gallery id.
    late: HashMap<i64, u32>,
    /// Whether document order is (added, gallery id) order.
    added_in_order: bool,

    alive: RoaringBitmap,
    trashed: RoaringBitmap,
    untagged: RoaringBitmap,

    tags: HashMap<u32, TagEntry>,
    /// (namespace, name) → tag id, sorted, for prefix and wildcard lookups.
    by_name: std::collections::BTreeMap<(String, String), u32>,
    /// name → tag ids in any namespace.
    by_bare_name: std::collections::BTreeMap<String, Vec<u32>>,
    /// alias → canonical; parent → children.
    canonical: HashMap<u32, u32>,
    children: HashMap<u32, Vec<u32>>,

    /// Title keys (words, CJK characters and pairs) and their documents.
    keys: TitleKeys,

    /// Documents in (key, gallery id) order, for sorting big result sets by walking them.
    orders: Orders,
    /// Documents by value range of each number column, for range queries.
    buckets: [Buckets; 3],

    /// The last change-feed entry applied.
    pub seq: i64,
}

/// A number column cut into ranges of about equal population (cut where the build found the
/// values), a bitmap of documents per range: a range query is the union of the ranges inside it,
/// plus the documents of the two ranges at its ends that fall inside.
#[derive(Debug, Default)]
struct Buckets {
    /// The lowest value of each range but the first, ascending.
    pub(super) cuts: Vec<i64>,
    pub(super) docs: Vec<RoaringBitmap>,
}

impl Buckets {
    const RANGES: usize = 256;

    fn of(&self, v: i64) -> usize {
        self.cuts.partition_point(|&c| c <= v)
    }

    /// Cuts at the quantiles of `values` (sorted ascending).
    fn cut(sorted: &[i64]) -> Self {
        let mut cuts: Vec<i64> = (1..Self::RANGES)
            .filter_map(|i| sorted.get(i * sorted.len() / Self::RANGES).copied())
            .collect();
        cuts.dedup();
        Self {
            docs: vec![RoaringBitmap::new(); cuts.len() + 1],
            cuts,
        }
    }

    fn insert(&mut self, v: i64, doc: u32) {
        let b = self.of(v);
        self.docs[b].insert(doc);
    }

    fn remove(&mut self, v: i64, doc: u32) {
        let b = self.of(v);
        // None before the index's first build cut the ranges.
        if let Some(docs) = self.docs.get_mut(b) {
            docs.remove(doc);
        }
    }
}

/// Documents sorted by each sort key but `added` (document order) and namespaces.
#[derive(Debug, Default)]
struct Orders {
    title: Vec<u32>,
    posted: Vec<u32>,
    pages: Vec<u32>,
    size: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
enum Column {
    Title,
    Posted,
    Pages,
    Size,
}

impl Column {
    const ALL: [Column; 4] = [Column::Title, Column::Posted, Column::Pages, Column::Size];
}

fn tag_u32(id: i64) -> u32 {
    u32::try_from(id).unwrap_or(u32::MAX)
}

impl Index {
    fn load_tags(&mut self, db: &Db) -> db::Result<()> {
        let mut ids: HashMap<TagName, u32> = HashMap::default();
        for (id, name) in db.tags().all()? {
            let id = tag_u32(id);
            ids.insert(name.clone(), id);
            self.add_tag(id, name);
        }
        self.canonical.clear();
        for (alias, canonical) in db.tags().siblings()? {
            if let (Some(&a), Some(&c)) = (ids.get(&alias), ids.get(&canonical)) {
                self.canonical.insert(a, c);
            }
        }
        self.children.clear();
        for (child, parent) in db.tags().parents()? {
            if let (Some(&c), Some(&p)) = (ids.get(&child), ids.get(&parent)) {
                self.children.entry(p).or_default().push(c);
            }
        }
        Ok(())
    }

    fn add_tag(&mut self, id: u32, name: TagName) {
        if self.tags.contains_key(&id) {
            return;
        }
        self.by_name
            .insert((name.namespace.clone(), name.name.clone()), id);
        self.by_bare_name
            .entry(name.name.clone())
            .or_default()
            .push(id);
        self.tags.insert(
            id,
            TagEntry {
                name,
                postings: RoaringBitmap::new(),
            },
        );
    }

    /// The title keys of a document, owned (both titles).
    fn doc_keys(&self, doc: u32) -> Vec<String> {
        let mut k: Vec<&str> = keys_of(self.titles.title(doc));
        k.extend(keys_of(self.titles.original(doc)));
        k.sort_unstable();
        k.dedup();
        k.into_iter().map(str::to_string).collect()
    }

    /// The document of a gallery.
    fn doc_of(&self, id: i64) -> Option<u32> {
        match self.gallery[..self.in_order].binary_search(&id) {
            Ok(d) => Some(d as u32),
            Err(_) => self.late.get(&id).copied(),
        }
    }

    /// Gives a new gallery the next document, with its gallery id and date added (the other
    /// columns are the caller's to fill).
    fn push_gallery(&mut self, id: i64, added: i64) -> u32 {
        let d = self.gallery.len() as u32;
        if let (Some(&prev_added), Some(&prev_id)) = (self.added.last(), self.gallery.last())
            && (added, id) < (prev_added, prev_id)
        {
            self.added_in_order = false;
        }
        if self.in_order == self.gallery.len() && self.gallery.last().is_none_or(|&l| l < id) {
            self.in_order += 1;
        } else {
            self.late.insert(id, d);
        }
        self.gallery.push(id);
        self.added.push(added);
        d
    }

    /// Stores a row's columns in its document (new or reused); answers the document.
    fn push_doc(&mut self, r: &IndexRow, title: String, original: String) -> u32 {
        let doc = match self.doc_of(r.id) {
            Some(d) => d,
            None => {
                let d = self.push_gallery(r.id, r.added_at);
                self.pages.push(0);
                self.bytes.push(0);
                self.posted.push(NO_DATE);
                d
            }
        };
        let i = doc as usize;
        self.titles.set(doc, &title, &original);
        self.pages[i] = r.page_count;
        self.bytes[i] = r.total_bytes;
        if self.added[i] != r.added_at && self.added[i] != 0 {
            self.added_in_order = false;
        }
        self.added[i] = r.added_at;
        self.posted[i] = r.posted_at.unwrap_or(NO_DATE);
        let tags: Vec<u32> = r.tags.iter().map(|&t| tag_u32(t)).collect();
        self.doc_tags.set(doc, &tags);
        if r.tags.is_empty() {
            self.untagged.insert(doc);
        }
        if r.trashed {
            self.trashed.insert(doc);
        }
        self.alive.insert(doc);
        doc
    }

    /// Applies what the change feed says happened since the last catch-up: only the galleries
    /// named there are read again.
    pub fn catch_up(&mut self, db: &Db) -> db::Result<usize> {
        let mut applied = 0;
        loop {
            let changes = db.changes().since(self.seq, 10_000)?;
            let Some(last) = changes.last() else {
                return Ok(applied);
            };
            self.seq = last.seq;
            // A change of tag rules names no gallery: loading the tags below applies it.
            let mut ids: Vec<i64> = changes
                .iter()
                .filter(|c| c.kind != db::ChangeKind::TagRules)
                .map(|c| c.gallery)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            // New tags, siblings or parents may have come with the changes.
            self.load_tags(db)?;
            let rows = db.galleries().index_rows_of(&ids)?;
            let present: HashSet<i64> = rows.iter().map(|r| r.id).collect();
            for id in ids.iter().filter(|id| !present.contains(id)) {
                self.remove(*id);
            }
            let mut moved: Vec<u32> = Vec::with_capacity(rows.len());
            for r in rows {
                let id = r.id;
                self.upsert(r);
                moved.extend(self.doc_of(id));
            }
            // Few changes move their galleries within the sort orders; many rebuild them.
            if moved.len() > 64 {
                self.rebuild_orders();
            } else {
                for doc in moved {
                    self.reposition(doc);
                }
            }
            applied += changes.len();
        }
    }

    /// Takes a gallery out of every posting list.
    fn remove(&mut self, id: i64) {
        let Some(doc) = self.doc_of(id) else {
            return;
        };
        for t in self.doc_tags.of(doc) {
            if let Some(e) = self.tags.get_mut(t) {
                e.postings.remove(doc);
            }
        }
        for text in [self.titles.title(doc), self.titles.original(doc)] {
            for k in keys_of(text) {
                self.keys.remove(k, doc);
            }
        }
        if self.alive.contains(doc) {
            for c in 0..3 {
                if let Some(v) = self.bucket_value(c, doc) {
                    self.buckets[c].remove(v, doc);
                }
            }
        }
        self.alive.remove(doc);
        self.trashed.remove(doc);
        self.untagged.remove(doc);
    }

    /// Adds or replaces a gallery (its place in the sort orders is the caller's to fix).
    fn upsert(&mut self, r: IndexRow) {
        self.remove(r.id);
        let doc = self.push_doc(&r, fold(&r.title), fold(&r.title_original));
        for c in 0..3 {
            if let Some(v) = self.bucket_value(c, doc)
                && !self.buckets[c].docs.is_empty()
            {
                self.buckets[c].insert(v, doc);
            }
        }
        for t in self.doc_tags.of(doc).to_vec().iter() {
            if let Some(e) = self.tags.get_mut(t) {
                e.postings.insert(doc);
            }
        }
        for k in self.doc_keys(doc) {
            self.keys.insert(&k, doc);
        }
    }

    fn cols(&self) -> Cols<'_> {
        Cols {
            titles: &self.titles,
            gallery: &self.gallery,
            posted: &self.posted,
            pages: &self.pages,
            bytes: &self.bytes,
        }
    }

    /// Compares two documents by a column, then by gallery id.
    fn column_cmp(&self, col: Column, a: u32, b: u32) -> std::cmp::Ordering {
        self.cols().cmp(col, a, b)
    }

    fn order_of(&mut self, col: Column) -> &mut Vec<u32> {
        match col {
            Column::Title => &mut self.orders.title,
            Column::Posted => &mut self.orders.posted,
            Column::Pages => &mut self.orders.pages,
            Column::Size => &mut self.orders.size,
        }
    }

    /// The value of bucketed column `c` (0 pages, 1 size, 2 posted) for a document.
    fn bucket_value(&self, c: usize, doc: u32) -> Option<i64> {
        let d = doc as usize;
        match c {
            0 => Some(i64::from(self.pages[d])),
            1 => Some(self.bytes[d] as i64),
            _ => (self.posted[d] != NO_DATE).then_some(self.posted[d]),
        }
    }

    /// The number columns cut into buckets afresh, given the live documents sorted by pages, by
    /// size and by posted date (so the values come sorted).
    fn bucketed(&self, sorted: [&[u32]; 3]) -> [Buckets; 3] {
        [0, 1, 2].map(|c| {
            let values: Vec<i64> = sorted[c]
                .iter()
                .filter_map(|&d| self.bucket_value(c, d))
                .collect();
            let mut b = Buckets::cut(&values);
            // Documents come in order: each goes at the end of its range's bitmap.
            for d in self.alive.iter() {
                if let Some(v) = self.bucket_value(c, d) {
                    let at = b.of(v);
                    let _ = b.docs[at].try_push(d);
                }
            }
            b
        })
    }

    /// Sorts every order and cuts the buckets afresh: the title order (string comparisons) on a
    /// second thread, the rest on this one.
    fn rebuild_orders(&mut self) {
        let docs: Vec<u32> = self.alive.iter().collect();
        let sorted = |col: Column| self.cols().sorted(col, &docs);
        let (title, rest, buckets) = std::thread::scope(|s| {
            let title = s.spawn(|| sorted(Column::Title));
            let rest: Vec<Vec<u32>> = [Column::Posted, Column::Pages, Column::Size]
                .into_iter()
                .map(sorted)
                .collect();
            let buckets = self.bucketed([&rest[1], &rest[2], &rest[0]]);
            (title.join(), rest, buckets)
        });
        let mut rest = rest.into_iter();
        self.orders = Orders {
            title: title.unwrap_or_else(|_| sorted(Column::Title)),
            posted: rest.next().unwrap_or_default(),
            pages: rest.next().unwrap_or_default(),
            size: rest.next().unwrap_or_default(),
        };
        self.buckets = buckets;
    }

    /// Moves one document to its place in every sort order.
    fn reposition(&mut self, doc: u32) {
        for col in Column::ALL {
            let mut v = std::mem::take(self.order_of(col));
            if let Some(at) = v.iter().position(|&d| d == doc) {
                v.remove(at);
            }
            if self.alive.contains(doc) {
                let at = v.partition_point(|&d| self.column_cmp(col, d, doc).is_lt());
                v.insert(at, doc);
            }
            *self.order_of(col) = v;
        }
    }

    /// Drops the index part by part, calling `after` with each part's name once it is gone: a
    /// benchmark measures what each part really held (allocator overhead included) as the
    /// resident memory each drop gives back.
    pub fn drop_by_part(self, mut after: impl FnMut(&'static str)) {
        let Index {
            gallery,
            titles,
            pages,
            bytes,
            added,
            posted,
            doc_tags,
            in_order: _,
            late,
            alive,
            trashed,
            untagged,
            tags,
            by_name,
            by_bare_name,
            canonical,
            children,
            keys,
            orders,
            buckets,
            ..
        } = self;
        drop((gallery, pages, bytes, added, posted, late));
        after("columns");
        drop(titles);
        after("titles");
        drop(doc_tags);
        after("doc_tags");
        drop((tags, by_name, by_bare_name, canonical, children));
        after("tags");
        drop(keys);
        after("title_keys");
        drop((orders, buckets));
        after("orders");
        drop((alive, trashed, untagged));
        after("sets");
    }

    /// Tags whose name (or namespace:name) starts with what was typed, most used first; an alias
    /// typed offers its canonical tag.
    pub fn suggest(&self, typed: &str, limit: usize) -> Vec<Suggestion> {
        let typed = fold(typed.trim());
        let (ns, prefix) = match typed.split_once(':') {
            Some((ns, p)) => (Some(ns.trim()), p.trim()),
            None => (None, typed.as_str()),
        };
        let pattern = Pattern {
            text: prefix.replace(['*', '?'], ""),
            exact: false,
        };
        // Candidates by their posting lists' sizes first (cheap), then exact counts (the trash
        // left out) for the likeliest few.
        let mut matching = self.tags_matching(ns, &pattern);
        if ns.is_none() {
            matching.extend(self.tags_in_namespaces_starting(prefix));
        }
        let mut candidates: Vec<(u32, Option<u32>, u64)> = matching
            .into_iter()
            .filter_map(|t| {
                let (shown, via) = match self.canonical.get(&t) {
                    Some(&c) => (c, Some(t)),
                    None => (t, None),
                };
                self.tags
                    .get(&shown)
                    .map(|e| (shown, via, e.postings.len()))
            })
            .collect();
        candidates.sort_unstable_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        candidates.dedup_by_key(|c| c.0);
        let mut best: HashMap<u32, Suggestion> = HashMap::default();
        for (shown, via, _) in candidates.into_iter().take(limit.saturating_mul(4).max(16)) {
            let Some(e) = self.tags.get(&shown) else {
                continue;
            };
            best.entry(shown).or_insert(Suggestion {
                tag: e.name.clone(),
                galleries: e.postings.len() - e.postings.intersection_len(&self.trashed),
                via_alias: via.and_then(|v| self.tags.get(&v)).map(|a| a.name.clone()),
            });
        }
        let mut out: Vec<Suggestion> = best.into_values().collect();
        out.sort_by(|a, b| {
            b.galleries
                .cmp(&a.galleries)
                .then_with(|| a.tag.cmp(&b.tag))
        });
        out.truncate(limit);
        out
    }

    /// How many galleries the index holds (trash included).
    pub fn len(&self) -> u64 {
        self.alive.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alive.is_empty()
    }
}

/// The union of many bitmaps, container by container.
fn union(found: Vec<&RoaringBitmap>) -> RoaringBitmap {
    use roaring::MultiOps;
    found.into_iter().union()
}

/// Orders the first `k` of `docs` by `cmp` (linear selection, then a sort of those `k`).
fn top(docs: &mut [u32], k: usize, cmp: impl Fn(&u32, &u32) -> std::cmp::Ordering) {
    if k == 0 || docs.is_empty() {
        return;
    }
    if k < docs.len() {
        docs.select_nth_unstable_by(k - 1, &cmp);
        docs[..k].sort_unstable_by(&cmp);
    } else {
        docs.sort_unstable_by(&cmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gallery's row for the index: one page, one byte, added at its id, untagged.
    pub(super) fn row(id: i64, title: &str, original: &str) -> IndexRow {
        IndexRow {
            id,
            title: title.into(),
            title_original: original.into(),
            page_count: 1,
            total_bytes: 1,
            added_at: id,
            posted_at: None,
            trashed: false,
            tags: Vec::new(),
        }
    }

    fn found(index: &Index, q: &str) -> Vec<i64> {
        let q = crate::parse(q).expect("a valid query");
        let mut ids = index.search(&q, Viewer::default(), 0, 100).ids;
        ids.sort_unstable();
        ids
    }

    /// Galleries that arrive after one with a higher id (two servers adding galleries at once)
    /// are found by id all the same, changed and removed like the others.
    #[test]
    fn galleries_arriving_out_of_id_order_are_found_changed_and_removed() {
        let mut index = Index::default();
        for (id, title) in [
            (10, "apple"),
            (20, "apple pear"),
            (15, "pear"),
            (30, "plum"),
            (5, "apple"),
        ] {
            index.upsert(row(id, title, ""));
        }
        assert_eq!(
            index.in_order, 2,
            "10 and 20 came in order; 15, 30 and 5 after"
        );
        for id in [5, 10, 15, 20, 30] {
            let doc = index.doc_of(id).expect("every gallery has a document");
            assert_eq!(index.gallery[doc as usize], id);
        }
        assert_eq!(index.doc_of(25), None);
        assert_eq!(found(&index, "apple"), [5, 10, 20]);
        assert_eq!(found(&index, "pear"), [15, 20]);
        index.upsert(row(15, "apple", ""));
        index.remove(20);
        index.upsert(row(40, "pear", ""));
        assert_eq!(found(&index, "apple"), [5, 10, 15]);
        assert_eq!(found(&index, "pear"), [40]);
        assert_eq!(found(&index, "p*"), [30, 40]);
        assert_eq!(
            index.gallery.len(),
            6,
            "a changed gallery keeps its document"
        );
    }
}
