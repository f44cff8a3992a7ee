//! Building the index from the database, fast and without leaving garbage behind.
//!
//! Two threads each read half of the galleries (by id) straight from the database's row buffer,
//! fold their titles into one text arena and note every title key as (96-bit key hash, document).
//! Each reader then partitions its key notes by the top bits of the hash. Two threads then take
//! the shards in turn: a shard's notes from both halves are sorted in cache and cut into keys, each
//! key's documents already in order for its posting list — no map is probed per key occurrence.
//! Meanwhile this thread merges the halves' sort orders and cuts the number columns into buckets.
//!
//! Everything temporary is one large allocation per reader (the operating system takes it back
//! when it is freed) rather than many small ones that would stay in the allocator's pools.

use roaring::RoaringBitmap;

use db::{Db, IndexRowRef};

use super::columns::{Cols, DocTags, Titles};
use super::{Column, Index, NO_DATE, Orders, tag_u32};
use crate::text::{fold, for_each_key, is_cjk};

/// Shards of key notes (by the top bits of the key's hash).
const SHARDS: usize = 256;

/// A title key's identity during a build: 96 bits of two hashes (two of a library's keys share it
/// as rarely as two random 96-bit numbers are equal).
fn key_hash(key: &str) -> u128 {
    use std::hash::BuildHasher;
    let a = foldhash::fast::FixedState::with_seed(0x6c70_6b65_7973_0001).hash_one(key);
    let b = foldhash::fast::FixedState::with_seed(0x6c70_6b65_7973_0002).hash_one(key);
    (u128::from(a) << 32) | u128::from(b as u32)
}

/// The shard of a key note (`key_hash << 32 | document`).
fn shard_of(note: u128) -> usize {
    (note >> 120) as usize % SHARDS
}

/// What one reader gathered, its documents numbered from 0.
#[derive(Default)]
struct Part {
    gallery: Vec<i64>,
    pages: Vec<u32>,
    bytes: Vec<u64>,
    added: Vec<i64>,
    posted: Vec<i64>,
    trashed: Vec<u32>,
    untagged: Vec<u32>,
    tags: DocTags,
    titles: Titles,
    /// Key notes, `key_hash << 32 | document`, by shard once reading is done.
    notes: Vec<u128>,
    /// Where each shard starts in `notes` (and where the last ends).
    shard_at: Vec<usize>,
    /// Documents sorted by each column of `Column::ALL`.
    orders: [Vec<u32>; 4],
    /// Each tag's documents (`tag_at[t]..tag_at[t + 1]` of `tag_docs`).
    tag_docs: Vec<u32>,
    tag_at: Vec<usize>,
}

impl Part {
    /// Reads the galleries with ids in `after + 1 ..= upto`.
    fn read(db: &Db, after: i64, upto: i64, tags: usize) -> db::Result<Self> {
        let mut p = Part::default();
        db.galleries().scan_index_rows(after, upto, |r| p.push(r))?;
        p.partition_notes();
        p.gather_tag_docs(tags);
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
        self.tags.push(r.tags.iter().map(|&t| tag_u32(t)));
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
        let notes = &mut self.notes;
        // Each title on its own: a key never runs from one into the other.
        for title in [&text[a..b], &text[b..e]] {
            for_each_key(title, |k| notes.push((key_hash(k) << 32) | u128::from(doc)));
        }
    }

    /// Reorders the key notes by shard (a counting sort: two passes, no comparisons).
    fn partition_notes(&mut self) {
        let mut at = vec![0usize; SHARDS + 1];
        for &n in &self.notes {
            at[shard_of(n) + 1] += 1;
        }
        for s in 0..SHARDS {
            at[s + 1] += at[s];
        }
        let mut next = at.clone();
        let mut sorted = vec![0u128; self.notes.len()];
        for &n in &self.notes {
            let s = shard_of(n);
            sorted[next[s]] = n;
            next[s] += 1;
        }
        self.notes = sorted;
        self.shard_at = at;
    }

    /// Gathers each tag's documents (a counting sort by tag; documents stay in order).
    fn gather_tag_docs(&mut self, tags: usize) {
        let mut at = vec![0usize; tags + 1];
        for &t in self.tags.ids.iter().filter(|&&t| (t as usize) < tags) {
            at[t as usize + 1] += 1;
        }
        for t in 0..tags {
            at[t + 1] += at[t];
        }
        let mut next = at.clone();
        let mut docs = vec![0u32; at[tags]];
        for d in 0..self.gallery.len() as u32 {
            for &t in self.tags.of(d).iter().filter(|&&t| (t as usize) < tags) {
                docs[next[t as usize]] = d;
                next[t as usize] += 1;
            }
        }
        self.tag_docs = docs;
        self.tag_at = at;
    }

    fn tag_slice(&self, t: u32) -> &[u32] {
        match (self.tag_at.get(t as usize), self.tag_at.get(t as usize + 1)) {
            (Some(&a), Some(&b)) => &self.tag_docs[a..b],
            _ => &[],
        }
    }

    fn shard(&self, s: usize) -> &[u128] {
        &self.notes[self.shard_at[s]..self.shard_at[s + 1]]
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

impl Index {
    /// Builds the index from the database (see the module's documentation for how).
    pub fn build(db: &Db) -> db::Result<Self> {
        let mut index = Self {
            seq: db.changes().latest()?,
            added_in_order: true,
            ..Self::default()
        };
        index.load_tags(db)?;
        let tags = index
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
                    let first = s.spawn(|| Part::read(db, lo - 1, mid, tags));
                    let second = Part::read(db, mid, hi, tags);
                    let first = first
                        .join()
                        .unwrap_or_else(|_| Err(db::Error::Decode("index reader failed".into())));
                    [first, second]
                        .into_iter()
                        .collect::<db::Result<Vec<Part>>>()
                })?
            }
        };
        index.take_parts(&parts);
        Ok(index)
    }

    /// Takes in what the readers gathered: columns here, then keys (on two threads) while this
    /// thread merges the sort orders, cuts the buckets and fills the tag postings.
    fn take_parts(&mut self, parts: &[Part]) {
        let offsets: Vec<u32> = parts
            .iter()
            .scan(0u32, |at, p| {
                let o = *at;
                *at += p.gallery.len() as u32;
                Some(o)
            })
            .collect();
        let docs: usize = parts.iter().map(|p| p.gallery.len()).sum();
        self.titles
            .text
            .reserve(parts.iter().map(|p| p.titles.text.len()).sum());
        self.titles.spans.reserve(docs);
        self.doc_of.reserve(docs);
        for (p, &o) in parts.iter().zip(&offsets) {
            let base = self.titles.text.len() as u32;
            self.titles.text.push_str(&p.titles.text);
            self.titles
                .spans
                .extend(p.titles.spans.iter().map(|s| s.map(|x| x + base)));
            for (i, &id) in p.gallery.iter().enumerate() {
                if let (Some(&prev), Some(&prev_added)) = (self.gallery.last(), self.added.last())
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
            self.doc_tags.append(&p.tags);
        }
        self.titles.live = self.titles.text.len();
        self.alive.insert_range(0..docs as u32);

        let this = &*self;
        let (found, orders, buckets, tag_postings) = std::thread::scope(|s| {
            let groupers: Vec<_> = (0..2)
                .map(|half| {
                    let offsets = &offsets;
                    s.spawn(move || {
                        let mut notes: Vec<u128> = Vec::new();
                        let mut found = Vec::new();
                        for shard in (half..SHARDS).step_by(2) {
                            notes.clear();
                            for (p, &o) in parts.iter().zip(offsets) {
                                notes.extend(p.shard(shard).iter().map(|n| n + u128::from(o)));
                            }
                            this.group(&mut notes, &mut found);
                        }
                        found
                    })
                })
                .collect();
            let cols = this.cols();
            let orders = Column::ALL.map(|col| {
                parts
                    .iter()
                    .zip(&offsets)
                    .map(|(p, &at)| p.orders[col as usize].iter().map(move |d| d + at))
                    .fold(Vec::new(), |acc, next| {
                        merge_by(acc, next, |&a, &b| cols.cmp(col, a, b).is_le())
                    })
            });
            let [_, posted, pages, size] = &orders;
            let buckets = this.bucketed([pages, size, posted]);
            let tag_postings: Vec<(u32, RoaringBitmap)> = this
                .tags
                .keys()
                .map(|&t| {
                    let docs = parts
                        .iter()
                        .zip(&offsets)
                        .flat_map(|(p, &o)| p.tag_slice(t).iter().map(move |d| d + o));
                    (t, RoaringBitmap::from_sorted_iter(docs).unwrap_or_default())
                })
                .collect();
            let found: Vec<Vec<(Box<str>, RoaringBitmap)>> = groupers
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect();
            (found, orders, buckets, tag_postings)
        });
        let [title, posted, pages, size] = orders;
        self.orders = Orders {
            title,
            posted,
            pages,
            size,
        };
        self.buckets = buckets;
        for (t, postings) in tag_postings {
            if let Some(e) = self.tags.get_mut(&t) {
                e.postings = postings;
            }
        }
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
        // From a sorted list, the set is built in bulk.
        words.sort_unstable();
        self.words = words.into_iter().collect();
    }

    /// Sorts one shard of key notes and cuts it into keys: each key's text (found again in the
    /// first document that has it) and its documents.
    fn group(&self, notes: &mut [u128], out: &mut Vec<(Box<str>, RoaringBitmap)>) {
        notes.sort_unstable();
        for run in notes.chunk_by(|a, b| a >> 32 == b >> 32) {
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
                // A document notes a key once per time its titles hold it; its list once.
                let mut docs: Vec<u32> = run.iter().map(|&n| n as u32).collect();
                docs.dedup();
                out.push((
                    text.into(),
                    RoaringBitmap::from_sorted_iter(docs).unwrap_or_default(),
                ));
            }
        }
    }
}

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
