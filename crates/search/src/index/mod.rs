//! The in-memory index: posting lists (roaring bitmaps) per tag and per title key, a column per
//! number and date, built from the database once and then kept current from the change feed: a
//! write touches only the galleries it changed.
//!
//! Galleries are numbered densely in the order they are first seen (document numbers are never
//! reused); since galleries are seen in id order and new ones arrive last, document order is the
//! order they were added, which answers the default sort without sorting.

use std::collections::{BTreeSet, HashSet};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use db::{Db, IndexRow, TagName, UserState};
use roaring::RoaringBitmap;

use crate::query::{Expr, Field, Pattern, Query, SortKey, Term};
use crate::text::{fold, is_cjk, keys_of};

mod build;
mod columns;

use columns::{Cols, DocTags, Titles};

#[derive(Debug, Clone)]
struct TagEntry {
    name: TagName,
    postings: RoaringBitmap,
}

/// About how many heap bytes each part of the index holds (capacities, not lengths, and a
/// bitmap's serialized size for its own), so that where the memory goes can be measured part by
/// part.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoryParts {
    /// Gallery ids, the number columns and document lookup by gallery id.
    pub columns: u64,
    /// Both titles of every document (the arena and its spans).
    pub titles: u64,
    /// Each document's tags.
    pub doc_tags: u64,
    /// Tags: names, posting lists, name lookups, siblings and parents.
    pub tags: u64,
    /// Title keys: their names and posting lists, and the sorted words.
    pub title_keys: u64,
    /// The sort orders and the number columns' range bitmaps.
    pub orders: u64,
    /// Alive, trashed, untagged.
    pub sets: u64,
}

impl MemoryParts {
    pub fn total(&self) -> u64 {
        self.columns
            + self.titles
            + self.doc_tags
            + self.tags
            + self.title_keys
            + self.orders
            + self.sets
    }
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

/// What one search's evaluation carries: who asks, the saved searches already evaluated (each
/// once per depth), those being evaluated (so a saved search that names itself stops there),
/// and when to give up.
struct Evaluation<'v> {
    viewer: Viewer<'v>,
    saved: HashMap<(String, u32), RoaringBitmap>,
    open: Vec<String>,
    deadline: Option<std::time::Instant>,
    timed_out: bool,
}

impl Evaluation<'_> {
    /// Whether the search has run out of time (checked before each part of the query).
    fn out_of_time(&mut self) -> bool {
        if !self.timed_out
            && let Some(deadline) = self.deadline
        {
            self.timed_out = std::time::Instant::now() >= deadline;
        }
        self.timed_out
    }
}

/// A tag offered while typing: its name and how many galleries have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub tag: TagName,
    pub galleries: u64,
    /// The alias typed, when the suggestion is its canonical tag.
    pub via_alias: Option<TagName>,
}

/// Titles to check for a substring above which the checking is split over two threads.
const PARALLEL_CHECKS: u64 = 20_000;

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
    doc_of: HashMap<i64, u32>,
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

    /// Title keys (words, CJK characters and pairs), interned.
    key_id: HashMap<Box<str>, u32>,
    key_postings: Vec<RoaringBitmap>,
    /// The Latin words among the keys, sorted, for prefix and wildcard lookups.
    words: BTreeSet<Box<str>>,

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
        self.docs[b].remove(doc);
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

    fn intern(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.key_id.get(key) {
            return id;
        }
        let id = self.key_id.len() as u32;
        self.key_id.insert(key.into(), id);
        if !key.chars().any(is_cjk) {
            self.words.insert(key.into());
        }
        id
    }

    /// The title keys of a document, owned (both titles).
    fn doc_keys(&self, doc: u32) -> Vec<String> {
        let mut k: Vec<&str> = keys_of(self.titles.title(doc));
        k.extend(keys_of(self.titles.original(doc)));
        k.sort_unstable();
        k.dedup();
        k.into_iter().map(str::to_string).collect()
    }

    /// Stores a row's columns in its document (new or reused); answers the document.
    fn push_doc(&mut self, r: &IndexRow, title: String, original: String) -> u32 {
        let doc = match self.doc_of.get(&r.id) {
            Some(&d) => d,
            None => {
                let d = self.gallery.len() as u32;
                if let (Some(&prev_added), Some(&prev_id)) =
                    (self.added.last(), self.gallery.last())
                    && (r.added_at, r.id) < (prev_added, prev_id)
                {
                    self.added_in_order = false;
                }
                self.gallery.push(r.id);
                self.pages.push(0);
                self.bytes.push(0);
                self.added.push(0);
                self.posted.push(NO_DATE);
                self.doc_of.insert(r.id, d);
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
                moved.extend(self.doc_of.get(&id));
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
        let Some(&doc) = self.doc_of.get(&id) else {
            return;
        };
        for t in self.doc_tags.of(doc) {
            if let Some(e) = self.tags.get_mut(t) {
                e.postings.remove(doc);
            }
        }
        for text in [self.titles.title(doc), self.titles.original(doc)] {
            for k in keys_of(text) {
                if let Some(&kid) = self.key_id.get(k) {
                    self.key_postings[kid as usize].remove(doc);
                }
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
            let id = self.intern(&k);
            if self.key_postings.len() <= id as usize {
                self.key_postings
                    .resize_with(id as usize + 1, RoaringBitmap::new);
            }
            self.key_postings[id as usize].insert(doc);
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

    fn key_postings(&self, key: &str) -> Option<&RoaringBitmap> {
        self.key_id
            .get(key)
            .and_then(|&id| self.key_postings.get(id as usize))
    }

    /// Tags matching a pattern, in one namespace or any.
    fn tags_matching(&self, namespace: Option<&str>, p: &Pattern) -> Vec<u32> {
        let prefix = p.literal_prefix();
        let mut out = Vec::new();
        match namespace {
            Some(ns) => {
                let from = (ns.to_string(), prefix.to_string());
                for ((n, name), id) in self.by_name.range(from..) {
                    if n != ns || !name.starts_with(prefix) {
                        break;
                    }
                    if p.matches(name) {
                        out.push(*id);
                    }
                }
            }
            None => {
                for (name, ids) in self.by_bare_name.range(prefix.to_string()..) {
                    if !name.starts_with(prefix) {
                        break;
                    }
                    if p.matches(name) {
                        out.extend(ids);
                    }
                }
            }
        }
        out
    }

    /// The tags of every namespace whose name starts with `typed` (`fem` → `female:…`), so that
    /// typing a namespace suggests its tags. At most [`Self::NAMESPACE_CANDIDATES`] of them, and
    /// none for fewer than two letters.
    fn tags_in_namespaces_starting(&self, typed: &str) -> Vec<u32> {
        if typed.chars().count() < 2 {
            return Vec::new();
        }
        self.by_name
            .range((typed.to_string(), String::new())..)
            .take_while(|((ns, _), _)| ns.starts_with(typed))
            .map(|(_, id)| *id)
            .take(Self::NAMESPACE_CANDIDATES)
            .collect()
    }

    /// How many tags a typed namespace may bring into the suggestions' ranking.
    const NAMESPACE_CANDIDATES: usize = 20_000;

    /// The galleries of some tags, with siblings (an alias finds its canonical tag's galleries)
    /// and parents (a parent finds its children's).
    fn tag_postings(&self, tags: Vec<u32>) -> RoaringBitmap {
        let mut seen: HashSet<u32> = HashSet::new();
        let mut stack: Vec<u32> = tags;
        let mut found: Vec<&RoaringBitmap> = Vec::new();
        while let Some(t) = stack.pop() {
            if !seen.insert(t) {
                continue;
            }
            if let Some(e) = self.tags.get(&t) {
                found.push(&e.postings);
            }
            if let Some(&c) = self.canonical.get(&t) {
                stack.push(c);
            }
            if let Some(children) = self.children.get(&t) {
                stack.extend(children);
            }
        }
        union(found)
    }

    fn title_matching(&self, p: &Pattern) -> RoaringBitmap {
        if p.text.chars().any(is_cjk) {
            return self.substring(&p.text);
        }
        if !p.text.contains(['*', '?']) {
            // A whole title word (a bare word also matches as a tag prefix, elsewhere).
            return self.key_postings(&p.text).cloned().unwrap_or_default();
        }
        let prefix = p.literal_prefix();
        let found: Vec<&RoaringBitmap> = self
            .words
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|w| w.starts_with(prefix))
            .filter(|w| crate::text::glob(&p.text, w))
            .filter_map(|w| self.key_postings(w))
            .collect();
        union(found)
    }

    /// Galleries whose (folded) titles contain `text`: candidates from the keys, then checked.
    fn substring(&self, text: &str) -> RoaringBitmap {
        // One or two CJK characters are a key themselves: its galleries are exactly those.
        if text.chars().count() <= 2 && text.chars().all(is_cjk) {
            return self.key_postings(text).cloned().unwrap_or_default();
        }
        // Candidates: galleries with every key of the text (a CJK character inside one of the
        // text's pairs adds nothing to the pair), smallest posting list first.
        let keys = keys_of(text);
        let in_pair = |k: &str| {
            k.chars().count() == 1 && keys.iter().any(|p| p.len() > k.len() && p.contains(k))
        };
        let mut lists: Vec<&RoaringBitmap> = Vec::new();
        for k in keys
            .iter()
            .filter(|k| !(k.chars().all(is_cjk) && in_pair(k)))
        {
            match self.key_postings(k) {
                Some(b) => lists.push(b),
                None => return RoaringBitmap::new(),
            }
        }
        lists.sort_by_key(|b| b.len());
        let mut lists = lists.into_iter();
        let candidates = match lists.next() {
            Some(first) => lists.fold(first.clone(), |acc, b| acc & b),
            None => self.alive.clone(),
        };
        // One searcher for all the titles to check; a document's two titles lie side by side,
        // so one search covers both (a find that straddles them is checked again apart).
        let finder = memchr::memmem::Finder::new(text.as_bytes());
        let hit = |d: u32| {
            let [a, b, _, e] = self.titles.spans[d as usize];
            let both = &self.titles.text.as_bytes()[a as usize..e as usize];
            match finder.find(both) {
                None => false,
                Some(at) if at + text.len() <= (b - a) as usize || at >= (b - a) as usize => true,
                Some(_) => {
                    finder.find(self.titles.title(d).as_bytes()).is_some()
                        || finder.find(self.titles.original(d).as_bytes()).is_some()
                }
            }
        };
        // The candidates that fail, of those in `range`: most candidates are hits (the keys
        // already chose them), so the misses are the short list to build.
        let misses = |range: std::ops::Range<u32>| {
            RoaringBitmap::from_sorted_iter(candidates.range(range).filter(|&d| !hit(d)))
                .unwrap_or_default()
        };
        // Many titles to check: half on another thread. A checked title costs a cache and TLB
        // miss or two (about 110 ns at a million galleries, against 9 ns for titles lying
        // together), so how much the second thread gains depends on the machine's memory.
        if candidates.len() < PARALLEL_CHECKS {
            let missed = misses(0..u32::MAX);
            return candidates - missed;
        }
        let middle = candidates
            .select((candidates.len() / 2) as u32)
            .unwrap_or(u32::MAX);
        let (low, high) = std::thread::scope(|s| {
            let high = s.spawn(|| misses(middle..u32::MAX));
            (misses(0..middle), high.join())
        });
        let high = high.unwrap_or_else(|_| misses(middle..u32::MAX));
        candidates - low - high
    }

    fn range(&self, field: Field, min: i64, max: i64) -> RoaringBitmap {
        let c = match field {
            Field::Added if self.added_in_order => {
                // Document order is added order: the range is one run of documents.
                let from = self.added.partition_point(|&v| v < min) as u32;
                let to = self.added.partition_point(|&v| v <= max) as u32;
                let mut b = RoaringBitmap::new();
                b.insert_range(from..to);
                return b & &self.alive;
            }
            Field::Added => {
                let docs = (0..self.added.len() as u32)
                    .filter(|&d| (min..=max).contains(&self.added[d as usize]));
                return RoaringBitmap::from_sorted_iter(docs).unwrap_or_default() & &self.alive;
            }
            Field::Pages => 0,
            Field::Size => 1,
            Field::Posted => 2,
        };
        let b = &self.buckets[c];
        if b.docs.is_empty() {
            return RoaringBitmap::new();
        }
        let (first, last) = (b.of(min), b.of(max));
        // Ranges wholly inside: their lowest value is ≥ min and the next range's lowest ≤ max + 1.
        let inside = |i: usize| {
            let lo_ok = i > first || (i > 0 && b.cuts[i - 1] >= min);
            let hi_ok = i < last || b.cuts.get(i).is_some_and(|&next| next - 1 <= max);
            lo_ok && hi_ok
        };
        let mut whole: Vec<&RoaringBitmap> = Vec::new();
        let mut partial = RoaringBitmap::new();
        for i in first..=last {
            if inside(i) {
                whole.push(&b.docs[i]);
            } else {
                for d in b.docs[i].iter() {
                    if self
                        .bucket_value(c, d)
                        .is_some_and(|v| min <= v && v <= max)
                    {
                        partial.insert(d);
                    }
                }
            }
        }
        whole.push(&partial);
        union(whole) & &self.alive
    }

    fn eval(
        &self,
        e: &Expr,
        universe: &RoaringBitmap,
        cx: &mut Evaluation<'_>,
        depth: u32,
    ) -> RoaringBitmap {
        if cx.out_of_time() {
            return RoaringBitmap::new();
        }
        match e {
            Expr::All => universe.clone(),
            Expr::And(all) => {
                // Positive terms first, exclusions after.
                let mut acc = universe.clone();
                for x in all.iter().filter(|x| !matches!(x, Expr::Not(_))) {
                    acc &= self.eval(x, universe, cx, depth);
                    if acc.is_empty() {
                        return acc;
                    }
                }
                for x in all.iter().filter_map(|x| match x {
                    Expr::Not(inner) => Some(inner),
                    _ => None,
                }) {
                    acc -= self.eval(x, universe, cx, depth);
                }
                acc
            }
            Expr::Or(any) => {
                let mut acc = RoaringBitmap::new();
                for x in any {
                    acc |= self.eval(x, universe, cx, depth);
                }
                acc
            }
            Expr::Not(inner) => universe - self.eval(inner, universe, cx, depth),
            Expr::Term(t) => {
                let b = match t {
                    Term::Word(p) => {
                        let mut b = self.title_matching(p);
                        b |= self.tag_postings(self.tags_matching(None, p));
                        b
                    }
                    Term::Phrase(text) => self.substring(text),
                    Term::Tag { namespace, name } => {
                        self.tag_postings(self.tags_matching(Some(namespace), name))
                    }
                    Term::Range { field, min, max } => self.range(*field, *min, *max),
                    Term::Untagged => self.untagged.clone(),
                    Term::Trash => self.trashed.clone(),
                    Term::Read => self.docs_of(cx.viewer.state.map(|s| &s.read[..])),
                    Term::Favorite => self.docs_of(cx.viewer.state.map(|s| &s.favorites[..])),
                    Term::InCollection(name) => self.collection(name, universe, cx, depth),
                };
                b & universe
            }
        }
    }

    /// The documents of some gallery ids.
    fn docs_of(&self, ids: Option<&[i64]>) -> RoaringBitmap {
        let mut docs: Vec<u32> = ids
            .unwrap_or_default()
            .iter()
            .filter_map(|id| self.doc_of.get(id).copied())
            .collect();
        docs.sort_unstable();
        RoaringBitmap::from_sorted_iter(docs).unwrap_or_default()
    }

    /// `in:name`: a hand-picked collection's galleries, or what its saved search matches. Each
    /// saved search is evaluated once per query (and depth); one that names itself, directly or
    /// through others, matches nothing where it does.
    fn collection(
        &self,
        name: &str,
        universe: &RoaringBitmap,
        cx: &mut Evaluation<'_>,
        depth: u32,
    ) -> RoaringBitmap {
        let Some((_, saved, picked)) = cx
            .viewer
            .state
            .and_then(|s| s.collections.iter().find(|c| fold(&c.0) == name))
        else {
            return RoaringBitmap::new();
        };
        match saved {
            None => self.docs_of(Some(picked)),
            Some(_) if depth >= MAX_SAVED_DEPTH || cx.open.iter().any(|o| o == name) => {
                RoaringBitmap::new()
            }
            Some(text) => {
                let key = (name.to_string(), depth);
                if let Some(done) = cx.saved.get(&key) {
                    return done.clone();
                }
                let found = match crate::query::parse(text) {
                    Ok(q) => {
                        cx.open.push(name.to_string());
                        let found = self.eval(&q.expr, universe, cx, depth + 1);
                        cx.open.pop();
                        found
                    }
                    Err(_) => RoaringBitmap::new(),
                };
                cx.saved.insert(key, found.clone());
                found
            }
        }
    }

    /// How many terms `q` comes to with every saved search it names (`in:`) spelled out, each
    /// counted once per depth, as [`Index::search`] evaluates them.
    pub fn expanded_terms(q: &Query, state: Option<&UserState>) -> usize {
        fn walk(
            e: &Expr,
            state: Option<&UserState>,
            depth: u32,
            open: &mut Vec<String>,
            seen: &mut HashSet<(String, u32)>,
        ) -> usize {
            match e {
                Expr::All => 0,
                Expr::And(v) | Expr::Or(v) => {
                    v.iter().map(|x| walk(x, state, depth, open, seen)).sum()
                }
                Expr::Not(x) => walk(x, state, depth, open, seen),
                Expr::Term(Term::InCollection(name)) => {
                    let saved = state
                        .and_then(|s| s.collections.iter().find(|c| fold(&c.0) == *name))
                        .and_then(|c| c.1.as_deref());
                    let Some(text) = saved else { return 1 };
                    if depth >= MAX_SAVED_DEPTH
                        || open.contains(name)
                        || !seen.insert((name.clone(), depth))
                    {
                        return 1;
                    }
                    let Ok(inner) = crate::query::parse(text) else {
                        return 1;
                    };
                    open.push(name.clone());
                    let n = 1 + walk(&inner.expr, state, depth + 1, open, seen);
                    open.pop();
                    n
                }
                Expr::Term(_) => 1,
            }
        }
        walk(&q.expr, state, 0, &mut Vec::new(), &mut HashSet::new())
    }

    /// About how many heap bytes each part of the index holds.
    pub fn memory_parts(&self) -> MemoryParts {
        fn vec<T>(v: &Vec<T>) -> u64 {
            (v.capacity() * std::mem::size_of::<T>()) as u64
        }
        fn bitmap(b: &RoaringBitmap) -> u64 {
            b.serialized_size() as u64
        }
        // A hash map's slots (keys, values and a control byte each).
        fn map<K, V, S>(m: &std::collections::HashMap<K, V, S>) -> u64 {
            (m.capacity() * (std::mem::size_of::<K>() + std::mem::size_of::<V>() + 1)) as u64
        }
        let tag_names: u64 = self
            .tags
            .values()
            .map(|e| {
                (e.name.namespace.capacity() + e.name.name.capacity()) as u64 + bitmap(&e.postings)
            })
            .sum();
        let by_name: u64 = self
            .by_name
            .keys()
            .map(|(ns, n)| (ns.capacity() + n.capacity() + 56) as u64)
            .sum();
        let by_bare: u64 = self
            .by_bare_name
            .iter()
            .map(|(n, ids)| (n.capacity() + ids.capacity() * 4 + 56) as u64)
            .sum();
        let relations: u64 = map(&self.canonical)
            + map(&self.children)
            + self
                .children
                .values()
                .map(|v| (v.capacity() * 4) as u64)
                .sum::<u64>();
        let keys: u64 = map(&self.key_id)
            + self.key_id.keys().map(|k| k.len() as u64).sum::<u64>()
            + vec(&self.key_postings)
            + self.key_postings.iter().map(bitmap).sum::<u64>()
            + self.words.iter().map(|w| w.len() as u64 + 40).sum::<u64>();
        MemoryParts {
            columns: vec(&self.gallery)
                + vec(&self.pages)
                + vec(&self.bytes)
                + vec(&self.added)
                + vec(&self.posted)
                + map(&self.doc_of),
            titles: self.titles.text.capacity() as u64 + vec(&self.titles.spans),
            doc_tags: vec(&self.doc_tags.ids) + vec(&self.doc_tags.spans),
            tags: map(&self.tags) + tag_names + by_name + by_bare + relations,
            title_keys: keys,
            orders: vec(&self.orders.title)
                + vec(&self.orders.posted)
                + vec(&self.orders.pages)
                + vec(&self.orders.size)
                + self
                    .buckets
                    .iter()
                    .map(|b| vec(&b.cuts) + vec(&b.docs) + b.docs.iter().map(bitmap).sum::<u64>())
                    .sum::<u64>(),
            sets: bitmap(&self.alive) + bitmap(&self.trashed) + bitmap(&self.untagged),
        }
    }

    /// The galleries a query matches, `limit` of them from `offset`, in its order.
    pub fn search(&self, q: &Query, viewer: Viewer<'_>, offset: usize, limit: usize) -> Results {
        self.search_within(q, viewer, offset, limit, std::time::Duration::MAX)
            .unwrap_or_default()
    }

    /// [`Index::search`], given up (answering `OutOfTime`) once it has taken `budget`: one
    /// pathological query must not hold the index (and the writers waiting for it) for long.
    pub fn search_within(
        &self,
        q: &Query,
        viewer: Viewer<'_>,
        offset: usize,
        limit: usize,
        budget: std::time::Duration,
    ) -> Result<Results, OutOfTime> {
        let universe = if viewer.admin && q.expr.mentions_trash() {
            self.alive.clone()
        } else {
            &self.alive - &self.trashed
        };
        let mut cx = Evaluation {
            viewer,
            saved: HashMap::default(),
            open: Vec::new(),
            deadline: std::time::Instant::now().checked_add(budget),
            timed_out: false,
        };
        let matched = self.eval(&q.expr, &universe, &mut cx, 0);
        if cx.timed_out {
            return Err(OutOfTime);
        }
        let total = matched.len();
        let wanted = offset.saturating_add(limit);
        let docs: Vec<u32> = match (&q.sort.key, q.sort.descending) {
            // Document order is added order: no sorting at all.
            (SortKey::Added, true) if self.added_in_order => {
                matched.iter().rev().skip(offset).take(limit).collect()
            }
            (SortKey::Added, false) if self.added_in_order => {
                matched.iter().skip(offset).take(limit).collect()
            }
            (key, desc) => {
                let col = match key {
                    SortKey::Title => Some((Column::Title, &self.orders.title)),
                    SortKey::Posted => Some((Column::Posted, &self.orders.posted)),
                    SortKey::Pages => Some((Column::Pages, &self.orders.pages)),
                    SortKey::Size => Some((Column::Size, &self.orders.size)),
                    _ => None,
                };
                match col {
                    // Many matches: walk the whole sorted order, keeping the matches.
                    Some((_, order)) if matched.len() * 16 > order.len() as u64 => {
                        let keep = |d: &&u32| matched.contains(**d);
                        if desc {
                            order
                                .iter()
                                .rev()
                                .filter(keep)
                                .skip(offset)
                                .take(limit)
                                .copied()
                                .collect()
                        } else {
                            order
                                .iter()
                                .filter(keep)
                                .skip(offset)
                                .take(limit)
                                .copied()
                                .collect()
                        }
                    }
                    _ => {
                        let mut docs: Vec<u32> = matched.iter().collect();
                        self.order(&mut docs, q, wanted);
                        docs.into_iter().skip(offset).take(limit).collect()
                    }
                }
            }
        };
        Ok(Results {
            ids: docs.into_iter().map(|d| self.gallery[d as usize]).collect(),
            total,
        })
    }

    fn first_tag_in(&self, doc: u32, ns: &str) -> Option<&str> {
        self.doc_tags
            .of(doc)
            .iter()
            .filter_map(|t| self.tags.get(t))
            .filter(|e| e.name.namespace == ns)
            .map(|e| e.name.name.as_str())
            .min()
    }

    /// Puts the first `wanted` documents in order (the rest after them, unordered); ties by
    /// gallery id, so the order is stable.
    fn order(&self, docs: &mut [u32], q: &Query, wanted: usize) {
        let desc = q.sort.descending;
        let dir = |o: std::cmp::Ordering| if desc { o.reverse() } else { o };
        let g = |d: u32| self.gallery[d as usize];
        match &q.sort.key {
            SortKey::Random => {
                // A random choice of the first `wanted`, in random order.
                let n = docs.len();
                for i in 0..wanted.min(n) {
                    docs.swap(i, fastrand::usize(i..n));
                }
            }
            SortKey::Namespace(ns) => {
                let key = |d: u32| (self.first_tag_in(d, ns), g(d));
                top(docs, wanted, |a, b| match (key(*a), key(*b)) {
                    ((Some(x), i), (Some(y), j)) => dir((x, i).cmp(&(y, j))),
                    ((Some(_), _), (None, _)) => std::cmp::Ordering::Less,
                    ((None, _), (Some(_), _)) => std::cmp::Ordering::Greater,
                    ((None, i), (None, j)) => i.cmp(&j),
                });
            }
            SortKey::Title => top(docs, wanted, |a, b| {
                dir((self.titles.title(*a), g(*a)).cmp(&(self.titles.title(*b), g(*b))))
            }),
            SortKey::Added => top(docs, wanted, |a, b| {
                dir((self.added[*a as usize], g(*a)).cmp(&(self.added[*b as usize], g(*b))))
            }),
            SortKey::Posted => top(docs, wanted, |a, b| {
                let p = |d: u32| {
                    let v = self.posted[d as usize];
                    (v != NO_DATE).then_some(v)
                };
                dir((p(*a), g(*a)).cmp(&(p(*b), g(*b))))
            }),
            SortKey::Pages => top(docs, wanted, |a, b| {
                dir((self.pages[*a as usize], g(*a)).cmp(&(self.pages[*b as usize], g(*b))))
            }),
            SortKey::Size => top(docs, wanted, |a, b| {
                dir((self.bytes[*a as usize], g(*a)).cmp(&(self.bytes[*b as usize], g(*b))))
            }),
        }
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
