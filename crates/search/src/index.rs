//! The in-memory index: posting lists (roaring bitmaps) per tag and per title key, a column per
//! number and date, built from the database once and then kept current from the change feed: a
//! write touches only the galleries it changed.
//!
//! Galleries are numbered densely in the order they are first seen (document numbers are never
//! reused); since galleries are seen in id order and new ones arrive last, document order is the
//! order they were added, which answers the default sort without sorting.

use std::collections::{BTreeSet, HashSet};

type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

use db::{Db, IndexRow, IndexRowRef, TagName};
use roaring::RoaringBitmap;

use crate::query::{Expr, Field, Pattern, Query, SortKey, Term};
use crate::text::{fold, for_each_key, is_cjk, keys_of};

#[derive(Debug, Clone)]
struct TagEntry {
    name: TagName,
    postings: RoaringBitmap,
}

/// Folded titles in one string: per document the span of its title and of its original title.
/// A changed title is appended; the arena is compacted when half of it is stale.
#[derive(Debug, Default)]
struct Titles {
    text: String,
    spans: Vec<[u32; 4]>,
    live: usize,
}

impl Titles {
    fn title(&self, d: u32) -> &str {
        let [a, b, _, _] = self.spans[d as usize];
        &self.text[a as usize..b as usize]
    }

    fn original(&self, d: u32) -> &str {
        let [_, _, a, b] = self.spans[d as usize];
        &self.text[a as usize..b as usize]
    }

    fn set(&mut self, d: u32, title: &str, original: &str) {
        let d = d as usize;
        if self.spans.len() <= d {
            self.spans.resize(d + 1, [0; 4]);
        } else {
            let [a, b, c, e] = self.spans[d];
            self.live -= (b - a + e - c) as usize;
        }
        let a = self.text.len() as u32;
        self.text.push_str(title);
        let b = self.text.len() as u32;
        self.text.push_str(original);
        let e = self.text.len() as u32;
        self.spans[d] = [a, b, b, e];
        self.live += title.len() + original.len();
        if self.text.len() > 1 << 20 && self.live * 2 < self.text.len() {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut text = String::with_capacity(self.live);
        for span in &mut self.spans {
            let [a, b, c, e] = *span;
            let t = text.len() as u32;
            text.push_str(&self.text[a as usize..b as usize]);
            let m = text.len() as u32;
            text.push_str(&self.text[c as usize..e as usize]);
            *span = [t, m, m, text.len() as u32];
        }
        self.text = text;
    }
}

/// Shards of title-key occurrences during a build (by the top bits of the key's hash).
const SHARDS: usize = 256;

/// A title key's identity during a build: 96 bits of two hashes (a collision between two of a
/// library's keys is as likely as between two random 96-bit numbers).
fn key_hash(key: &str) -> u128 {
    use std::hash::BuildHasher;
    let a = foldhash::fast::FixedState::with_seed(0x6c70_6b65_7973_0001).hash_one(key);
    let b = foldhash::fast::FixedState::with_seed(0x6c70_6b65_7973_0002).hash_one(key);
    (u128::from(a) << 32) | u128::from(b as u32)
}

/// What one reader thread gathered for a build, its documents numbered from 0.
#[derive(Default)]
struct Part {
    gallery: Vec<i64>,
    pages: Vec<u32>,
    bytes: Vec<u64>,
    added: Vec<i64>,
    posted: Vec<i64>,
    trashed: Vec<u32>,
    untagged: Vec<u32>,
    doc_tags: Vec<Box<[u32]>>,
    titles: Titles,
    /// Documents per tag id.
    tag_lists: Vec<Vec<u32>>,
    /// Title-key occurrences, `key_hash << 32 | document`, by shard.
    keys: Vec<Vec<u128>>,
    /// Documents sorted by each column of `Column::ALL`.
    orders: [Vec<u32>; 4],
}

/// The columns documents are sorted by, borrowed from an index or a build part.
struct Cols<'a> {
    titles: &'a Titles,
    gallery: &'a [i64],
    posted: &'a [i64],
    pages: &'a [u32],
    bytes: &'a [u64],
}

impl Cols<'_> {
    /// `docs` sorted by a column, then by gallery id. Titles are first sorted by their first 16
    /// bytes as one number (titles often share a start, such as an event and an artist, so this
    /// settles most comparisons without reading the titles again), then runs of equal starts by
    /// the whole title.
    fn sorted(&self, col: Column, mut docs: Vec<u32>) -> Vec<u32> {
        if col != Column::Title {
            docs.sort_unstable_by(|&a, &b| self.cmp(col, a, b));
            return docs;
        }
        let mut keyed: Vec<(u128, u32)> = docs
            .iter()
            .map(|&d| {
                let mut start = [0u8; 16];
                let t = self.titles.title(d).as_bytes();
                let n = t.len().min(16);
                start[..n].copy_from_slice(&t[..n]);
                (u128::from_be_bytes(start), d)
            })
            .collect();
        keyed.sort_unstable_by_key(|&(k, _)| k);
        docs.clear();
        for run in keyed.chunk_by(|a, b| a.0 == b.0) {
            let at = docs.len();
            docs.extend(run.iter().map(|&(_, d)| d));
            docs[at..].sort_unstable_by(|&a, &b| self.cmp(col, a, b));
        }
        docs
    }

    /// Compares two documents by a column, then by gallery id.
    fn cmp(&self, col: Column, a: u32, b: u32) -> std::cmp::Ordering {
        let (i, j) = (a as usize, b as usize);
        let by_key = match col {
            Column::Title => self.titles.title(a).cmp(self.titles.title(b)),
            Column::Posted => self.posted[i].cmp(&self.posted[j]),
            Column::Pages => self.pages[i].cmp(&self.pages[j]),
            Column::Size => self.bytes[i].cmp(&self.bytes[j]),
        };
        by_key.then_with(|| self.gallery[i].cmp(&self.gallery[j]))
    }
}

impl Part {
    /// Reads the galleries with ids in `after + 1 ..= upto`.
    fn read(db: &Db, after: i64, upto: i64, tags: usize) -> db::Result<Self> {
        let mut p = Part {
            tag_lists: vec![Vec::new(); tags],
            keys: vec![Vec::new(); SHARDS],
            ..Part::default()
        };
        let mut after = after;
        while let Some(last) = db
            .galleries()
            .for_each_index_row(after, upto, 10_000, |r| p.push(r))?
        {
            after = last;
        }
        let docs: Vec<u32> = (0..p.gallery.len() as u32).collect();
        let cols = p.cols();
        p.orders = Column::ALL.map(|col| cols.sorted(col, docs.clone()));
        Ok(p)
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

    fn push(&mut self, r: &IndexRowRef<'_>) {
        let doc = self.gallery.len() as u32;
        self.gallery.push(r.id);
        self.pages.push(r.page_count);
        self.bytes.push(r.total_bytes);
        self.added.push(r.added_at);
        self.posted.push(r.posted_at.unwrap_or(NO_DATE));
        if r.trashed {
            self.trashed.push(doc);
        }
        if r.tags.is_empty() {
            self.untagged.push(doc);
        }
        let tags: Box<[u32]> = r.tags.iter().map(|&t| tag_u32(t)).collect();
        for &t in tags.iter() {
            if let Some(list) = self.tag_lists.get_mut(t as usize) {
                list.push(doc);
            }
        }
        self.doc_tags.push(tags);
        let text = &mut self.titles.text;
        let a = text.len();
        push_folded(text, r.title);
        let b = text.len();
        push_folded(text, r.title_original);
        let e = text.len();
        self.titles.live = e;
        self.titles
            .spans
            .push([a as u32, b as u32, b as u32, e as u32]);
        let keys = &mut self.keys;
        for title in [&text[a..b], &text[b..e]] {
            for_each_key(title, |k| {
                let h = key_hash(k);
                keys[(h >> 88) as usize % SHARDS].push((h << 32) | u128::from(doc));
            });
        }
    }
}

/// Appends the folded form of `s` to `out`.
fn push_folded(out: &mut String, s: &str) {
    if s.is_ascii() {
        let at = out.len();
        out.push_str(s);
        out[at..].make_ascii_lowercase();
    } else {
        out.push_str(&fold(s));
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Results {
    /// Gallery ids (internal), in order.
    pub ids: Vec<i64>,
    /// How many galleries match in all.
    pub total: u64,
}

/// Who is asking: what they may see.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Viewer {
    /// May search the trash (`trash`).
    pub admin: bool,
}

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
    doc_tags: Vec<Box<[u32]>>,
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
    cuts: Vec<i64>,
    docs: Vec<RoaringBitmap>,
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
    /// Builds the index from the database: two threads each read half of the galleries (by id),
    /// fold their titles and note each title key as a hash and a document; the key occurrences,
    /// spread over shards by hash, are then sorted shard by shard (in cache, on both threads) into
    /// posting lists. No key is looked up in a map per occurrence, and no row allocates on its own.
    pub fn build(db: &Db) -> db::Result<Self> {
        let mut index = Self {
            seq: db.changes().latest()?,
            added_in_order: true,
            ..Self::default()
        };
        index.load_tags(db)?;
        let max_tag = index
            .tags
            .keys()
            .copied()
            .max()
            .map_or(0, |t| t as usize + 1);
        let parts: Vec<Part> = match db.galleries().id_bounds()? {
            None => Vec::new(),
            Some((lo, hi)) => {
                let mid = lo + (hi - lo) / 2;
                std::thread::scope(|s| {
                    let first = s.spawn(|| Part::read(db, lo - 1, mid, max_tag));
                    let second = Part::read(db, mid, hi, max_tag);
                    let first = first
                        .join()
                        .unwrap_or_else(|_| Err(db::Error::Decode("index reader failed".into())));
                    [first, second]
                        .into_iter()
                        .collect::<db::Result<Vec<Part>>>()
                })?
            }
        };
        index.take_parts(parts, max_tag);
        Ok(index)
    }

    /// Appends what the readers gathered: columns, titles and tag postings here; title keys
    /// sorted into posting lists shard by shard.
    fn take_parts(&mut self, parts: Vec<Part>, max_tag: usize) {
        let offsets: Vec<u32> = parts
            .iter()
            .scan(0u32, |at, p| {
                let o = *at;
                *at += p.gallery.len() as u32;
                Some(o)
            })
            .collect();
        let docs: usize = parts.iter().map(|p| p.gallery.len()).sum();
        let text: usize = parts.iter().map(|p| p.titles.text.len()).sum();
        self.titles.text.reserve(text);
        self.titles.spans.reserve(docs);
        self.doc_of.reserve(docs);
        let mut tag_lists: Vec<Vec<u32>> = vec![Vec::new(); max_tag];
        for (p, &o) in parts.iter().zip(&offsets) {
            let base = self.titles.text.len() as u32;
            self.titles.text.push_str(&p.titles.text);
            self.titles
                .spans
                .extend(p.titles.spans.iter().map(|s| s.map(|x| x + base)));
            for (i, &id) in p.gallery.iter().enumerate() {
                if let Some(&prev) = self.gallery.last()
                    && let Some(&prev_added) = self.added.last()
                    && (p.added[i], id) < (prev_added, prev)
                {
                    self.added_in_order = false;
                }
                self.doc_of.insert(id, o + i as u32);
                self.gallery.push(id);
                self.added.push(p.added[i]);
            }
            self.pages.extend(&p.pages);
            self.bytes.extend(&p.bytes);
            self.posted.extend(&p.posted);
            self.trashed.extend(p.trashed.iter().map(|d| d + o));
            self.untagged.extend(p.untagged.iter().map(|d| d + o));
            for (t, list) in p.tag_lists.iter().enumerate() {
                tag_lists[t].extend(list.iter().map(|d| d + o));
            }
        }
        self.titles.live = self.titles.text.len();
        self.alive.insert_range(0..docs as u32);
        for (t, list) in tag_lists.into_iter().enumerate() {
            if let Some(e) = self.tags.get_mut(&(t as u32)) {
                e.postings = RoaringBitmap::from_sorted_iter(list).unwrap_or_default();
            }
        }
        let mut parts = parts;
        let mut part_orders: Vec<[Vec<u32>; 4]> = Vec::new();
        // Key shards, half on each thread, each shard's occurrences from every part with the
        // part's documents renumbered.
        let mut halves: Vec<Vec<Vec<(u32, Vec<u128>)>>> = vec![Vec::new(), Vec::new()];
        for s in 0..SHARDS {
            halves[s % 2].push(
                parts
                    .iter_mut()
                    .zip(&offsets)
                    .map(|(p, &o)| (o, std::mem::take(&mut p.keys[s])))
                    .collect(),
            );
        }
        for p in &mut parts {
            self.doc_tags.append(&mut p.doc_tags);
            part_orders.push(std::mem::take(&mut p.orders));
        }
        drop(parts);
        let this = &*self;
        let (found, orders, buckets) = std::thread::scope(|s| {
            let handles: Vec<_> = halves
                .into_iter()
                .map(|half| {
                    s.spawn(move || {
                        half.into_iter()
                            .flat_map(|pieces| {
                                let mut all =
                                    Vec::with_capacity(pieces.iter().map(|(_, v)| v.len()).sum());
                                for (o, v) in pieces {
                                    all.extend(v.into_iter().map(|k| k + u128::from(o)));
                                }
                                this.group(all)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            // Meanwhile the parts' sort orders are merged and the number columns bucketed.
            let cols = this.cols();
            let orders = Column::ALL.map(|col| {
                part_orders
                    .iter()
                    .zip(&offsets)
                    .map(|(o, &at)| o[col as usize].iter().map(move |d| d + at))
                    .fold(Vec::new(), |acc, next| {
                        merge_by(acc, next, |&a, &b| cols.cmp(col, a, b).is_le())
                    })
            });
            let buckets = this.bucketed();
            let found: Vec<Vec<(Box<str>, RoaringBitmap)>> = handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect();
            (found, orders, buckets)
        });
        let [title, posted, pages, size] = orders;
        self.orders = Orders {
            title,
            posted,
            pages,
            size,
        };
        self.buckets = buckets;
        let keys: usize = found.iter().map(Vec::len).sum();
        self.key_id.reserve(keys);
        self.key_postings.reserve(keys);
        let mut words: Vec<Box<str>> = Vec::new();
        for (key, postings) in found.into_iter().flatten() {
            let id = self.key_postings.len() as u32;
            if !key.chars().any(is_cjk) {
                words.push(key.clone());
            }
            self.key_id.insert(key, id);
            self.key_postings.push(postings);
        }
        // Collected from sorted input, the set is built in bulk.
        words.sort_unstable();
        self.words = words.into_iter().collect();
    }

    /// Sorts one shard of key occurrences and cuts it into keys: each key's text (found again in
    /// the first document that has it) and its documents.
    fn group(&self, mut occurrences: Vec<u128>) -> Vec<(Box<str>, RoaringBitmap)> {
        occurrences.sort_unstable();
        occurrences.dedup();
        let mut out = Vec::new();
        for run in occurrences.chunk_by(|a, b| a >> 32 == b >> 32) {
            let doc = run[0] as u32;
            let hash = run[0] >> 32;
            let mut text = None;
            for t in [self.titles.title(doc), self.titles.original(doc)] {
                for_each_key(t, |k| {
                    if text.is_none() && key_hash(k) == hash {
                        text = Some(k);
                    }
                });
            }
            if let Some(text) = text {
                let docs = run.iter().map(|&k| k as u32);
                out.push((
                    text.into(),
                    RoaringBitmap::from_sorted_iter(docs).unwrap_or_default(),
                ));
            }
        }
        out
    }

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
                self.doc_tags.push(Box::new([]));
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
        self.doc_tags[i] = r.tags.iter().map(|&t| tag_u32(t)).collect();
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
            let mut ids: Vec<i64> = changes.iter().map(|c| c.gallery).collect();
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
        for t in self.doc_tags[doc as usize].iter() {
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
        for t in self.doc_tags[doc as usize].clone().iter() {
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

    /// The number columns cut into buckets afresh.
    fn bucketed(&self) -> [Buckets; 3] {
        [0, 1, 2].map(|c| {
            let mut values: Vec<i64> = self
                .alive
                .iter()
                .filter_map(|d| self.bucket_value(c, d))
                .collect();
            values.sort_unstable();
            let mut b = Buckets::cut(&values);
            for d in self.alive.iter() {
                if let Some(v) = self.bucket_value(c, d) {
                    b.insert(v, d);
                }
            }
            b
        })
    }

    /// Sorts every order and cuts the buckets afresh: the title order (string comparisons) on a
    /// second thread, the rest on this one.
    fn rebuild_orders(&mut self) {
        let docs: Vec<u32> = self.alive.iter().collect();
        let sorted = |col: Column| self.cols().sorted(col, docs.clone());
        let (title, rest, buckets) = std::thread::scope(|s| {
            let title = s.spawn(|| sorted(Column::Title));
            let rest: Vec<Vec<u32>> = [Column::Posted, Column::Pages, Column::Size]
                .into_iter()
                .map(sorted)
                .collect();
            let buckets = self.bucketed();
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
        RoaringBitmap::from_sorted_iter(candidates.iter().filter(|&d| hit(d))).unwrap_or_default()
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

    fn eval(&self, e: &Expr, universe: &RoaringBitmap) -> RoaringBitmap {
        match e {
            Expr::All => universe.clone(),
            Expr::And(all) => {
                // Positive terms first, exclusions after.
                let mut acc = universe.clone();
                for x in all.iter().filter(|x| !matches!(x, Expr::Not(_))) {
                    acc &= self.eval(x, universe);
                    if acc.is_empty() {
                        return acc;
                    }
                }
                for x in all.iter().filter_map(|x| match x {
                    Expr::Not(inner) => Some(inner),
                    _ => None,
                }) {
                    acc -= self.eval(x, universe);
                }
                acc
            }
            Expr::Or(any) => {
                let mut acc = RoaringBitmap::new();
                for x in any {
                    acc |= self.eval(x, universe);
                }
                acc
            }
            Expr::Not(inner) => universe - self.eval(inner, universe),
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
                };
                b & universe
            }
        }
    }

    /// The galleries a query matches, `limit` of them from `offset`, in its order.
    pub fn search(&self, q: &Query, viewer: Viewer, offset: usize, limit: usize) -> Results {
        let universe = if viewer.admin && q.expr.mentions_trash() {
            self.alive.clone()
        } else {
            &self.alive - &self.trashed
        };
        let matched = self.eval(&q.expr, &universe);
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
        Results {
            ids: docs.into_iter().map(|d| self.gallery[d as usize]).collect(),
            total,
        }
    }

    fn first_tag_in(&self, doc: u32, ns: &str) -> Option<&str> {
        self.doc_tags[doc as usize]
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
        let mut candidates: Vec<(u32, Option<u32>, u64)> = self
            .tags_matching(ns, &pattern)
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
/// Merges a sorted list and a sorted run into one sorted list (`le`: whether `a` goes before or
/// with `b`).
fn merge_by(
    a: Vec<u32>,
    b: impl Iterator<Item = u32>,
    le: impl Fn(&u32, &u32) -> bool,
) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.size_hint().0);
    let mut a = a.into_iter().peekable();
    for y in b {
        while let Some(x) = a.next_if(|x| le(x, &y)) {
            out.push(x);
        }
        out.push(y);
    }
    out.extend(a);
    out
}

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
