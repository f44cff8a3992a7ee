//! Building the index from the database, fast and without leaving garbage behind.
//!
//! Two threads each read half of the galleries (by id) straight from the database's row buffer,
//! fold their titles into one text arena and note every title key as (64-bit key hash, document,
//! place in the document's titles), in one of [`BUCKETS`] lists by the hash.
//! Two threads then each take the keys of half the buckets: they walk each bucket's notes of both
//! halves in document order, appending each document to its key's list (found by the hash: a map
//! of fixed-size keys, no string is looked up), so no list is ever sorted, and make each list a
//! set a container at a time. A third thread takes the keys in as soon as both are done.
//! Meanwhile this thread copies the columns, merges the halves' sort orders, cuts the number
//! columns into buckets and builds the tag postings.
//!
//! Everything temporary is one large allocation per reader (the operating system takes it back
//! when it is freed) rather than many small ones that would stay in the allocator's pools.

use std::collections::HashMap;

use roaring::RoaringBitmap;

use db::{Db, IndexRowRef};

use super::columns::{Cols, DocTags, Keyed, Titles};
use super::keys::{TitleKeys, key_hash};
use super::{Column, Index, NO_DATE, Orders, tag_u32};
use crate::text::{fold_into, for_each_key};

/// Hashes the key hashes in the grouping maps (they are hashes already, but the map wants its own).
type KeyHashState = foldhash::fast::FixedState;

/// A key note: `hash << 64 | document << 32 | place`, where the place is the key's offset in its
/// document's titles and its length (16 bits each), so that its text is found again without a
/// search; [`NO_PLACE`] when either does not fit.
fn note(hash: u64, doc: u32, offset: usize, len: usize) -> u128 {
    let place = match (u16::try_from(offset), u16::try_from(len)) {
        (Ok(o), Ok(l)) if (o, l) != (u16::MAX, u16::MAX) => u32::from(o) << 16 | u32::from(l),
        _ => NO_PLACE,
    };
    u128::from(hash) << 64 | u128::from(doc) << 32 | u128::from(place)
}

const NO_PLACE: u32 = u32::MAX;

/// Passes each grouping thread makes, one bucket of notes each (a power of two).
const GROUPING_PASSES: usize = 8;
/// Lists the notes are kept in by their key's hash: each grouping pass takes one, whose map and
/// posting lists stay small enough for the caches, and reads only its own notes.
const BUCKETS: usize = 2 * GROUPING_PASSES;

/// The bucket of the key with this hash: the grouping thread by its lowest bit, the pass by its
/// highest bits.
fn bucket_of(hash: u64) -> usize {
    let pass = hash.checked_shr(64 - GROUPING_PASSES.ilog2()).unwrap_or(0) as usize;
    (hash & 1) as usize * GROUPING_PASSES + pass
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
    /// Key notes ([`note`]) by [`bucket_of`] their hash, each bucket in document order.
    notes: Vec<Vec<u128>>,
    /// Documents sorted by each column of `Column::ALL`.
    orders: [Vec<Keyed>; 4],
    /// Each tag's documents (`tag_at[t]..tag_at[t + 1]` of `tag_docs`).
    tag_docs: Vec<u32>,
    tag_at: Vec<usize>,
}

impl Part {
    /// Reads the galleries with ids in `after + 1 ..= upto`.
    fn read(db: &Db, after: i64, upto: i64, tags: usize) -> db::Result<Self> {
        let t = std::time::Instant::now();
        let mut p = Part::with_room_for(usize::try_from(upto - after).unwrap_or(0));
        db.galleries().scan_index_rows(after, upto, |r| p.push(r))?;
        let scanned = t.elapsed();
        p.gather_tag_docs(tags);
        let docs: Vec<u32> = (0..p.gallery.len() as u32).collect();
        let cols = p.cols();
        p.orders = Column::ALL.map(|col| cols.keyed(col, &docs));
        tracing::debug!(?scanned, took = ?t.elapsed(), notes = p.notes.iter().map(Vec::len).sum::<usize>(), "index build: half the galleries read");
        Ok(p)
    }

    /// Room for about `docs` documents, reserved up front: growing these vectors as they fill
    /// would copy each into fresh pages again and again, and on a million-gallery build filling
    /// fresh pages was most of the time. What is reserved and never written costs no memory (the
    /// kernel provides a page when it is first written).
    fn with_room_for(docs: usize) -> Self {
        /// Generous figures per document; a vector that needs more still grows.
        const NOTES: usize = 64;
        const TEXT: usize = 320;
        const TAGS: usize = 64;
        let docs = docs.min(1 << 26);
        let mut p = Part {
            gallery: Vec::with_capacity(docs),
            pages: Vec::with_capacity(docs),
            bytes: Vec::with_capacity(docs),
            added: Vec::with_capacity(docs),
            posted: Vec::with_capacity(docs),
            // A bucket's share, and room for the hash's unevenness.
            notes: (0..BUCKETS)
                .map(|_| Vec::with_capacity(docs * NOTES / BUCKETS * 5 / 4))
                .collect(),
            ..Part::default()
        };
        p.titles.text.reserve(docs * TEXT);
        p.titles.spans.reserve(docs);
        p.tags.reserve(docs, docs * TAGS);
        p
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
        fold_into(text, r.title);
        let b = text.len();
        fold_into(text, r.title_original);
        let e = text.len();
        self.titles.live = e;
        self.titles
            .spans
            .push([a as u32, b as u32, b as u32, e as u32]);
        let notes = &mut self.notes;
        let doc_start = text[a..].as_ptr().addr();
        // Each title on its own: a key never runs from one into the other.
        for title in [&text[a..b], &text[b..e]] {
            for_each_key(title, |k| {
                let hash = key_hash(k);
                notes[bucket_of(hash)].push(note(
                    hash,
                    doc,
                    k.as_ptr().addr() - doc_start,
                    k.len(),
                ));
            });
        }
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
}

impl Index {
    /// Builds the index from the database (see the module's documentation for how).
    pub fn build(db: &Db) -> db::Result<Self> {
        let mut index = Self {
            seq: db.changes().latest()?,
            added_in_order: true,
            ..Self::default()
        };
        let t = std::time::Instant::now();
        index.load_tags(db)?;
        tracing::debug!(took = ?t.elapsed(), "index build: tags loaded");
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

    /// Takes in what the readers gathered: two threads group the title keys while this thread
    /// copies the columns, merges the sort orders, cuts the buckets and fills the tag postings.
    fn take_parts(&mut self, parts: &[Part]) {
        let started = std::time::Instant::now();
        let offsets: Vec<u32> = parts
            .iter()
            .scan(0u32, |at, p| {
                let o = *at;
                *at += p.gallery.len() as u32;
                Some(o)
            })
            .collect();
        let (keys, orders, buckets, tag_postings) = std::thread::scope(|s| {
            let groupers: Vec<_> = (0..2)
                .map(|half| {
                    let offsets = &offsets;
                    s.spawn(move || {
                        let found = group_keys(parts, offsets, half);
                        tracing::debug!(took = ?started.elapsed(), keys = found.0.len(), "index build: keys grouped");
                        found
                    })
                })
                .collect();
            // The keys of both halves taken in on a thread of their own, as soon as both are
            // grouped, while this thread is still at its own work.
            let taker = s.spawn(move || {
                let found = groupers
                    .into_iter()
                    .map(|h| h.join().unwrap_or_default())
                    .collect();
                let keys = TitleKeys::join(found);
                tracing::debug!(took = ?started.elapsed(), "index build: keys taken in");
                keys
            });
            self.copy_columns(parts, &offsets);
            tracing::debug!(took = ?started.elapsed(), "index build: columns copied");
            let this = &*self;
            let cols = this.cols();
            let orders = Column::ALL.map(|col| merged_order(parts, &offsets, col, &cols));
            tracing::debug!(took = ?started.elapsed(), "index build: orders merged");
            let [_, posted, pages, size] = &orders;
            let buckets = this.bucketed([pages, size, posted]);
            tracing::debug!(took = ?started.elapsed(), "index build: buckets cut");
            let (mut docs, mut scratch) = (Vec::new(), Vec::new());
            let tag_postings: Vec<(u32, RoaringBitmap)> = this
                .tags
                .keys()
                .map(|&t| {
                    docs.clear();
                    for (p, &o) in parts.iter().zip(&offsets) {
                        docs.extend(p.tag_slice(t).iter().map(|d| d + o));
                    }
                    (t, bitmap_of_sorted(&docs, &mut scratch))
                })
                .collect();
            tracing::debug!(took = ?started.elapsed(), "index build: tag postings made");
            let keys = taker.join().unwrap_or_default();
            (keys, orders, buckets, tag_postings)
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
        self.keys = keys;
        tracing::debug!(took = ?started.elapsed(), "index build: done");
    }

    /// Copies the parts' columns, one after another, into this (new) index.
    fn copy_columns(&mut self, parts: &[Part], offsets: &[u32]) {
        let docs: usize = parts.iter().map(|p| p.gallery.len()).sum();
        self.titles
            .text
            .reserve(parts.iter().map(|p| p.titles.text.len()).sum());
        self.titles.spans.reserve(docs);
        self.gallery.reserve(docs);
        self.added.reserve(docs);
        self.pages.reserve(docs);
        self.bytes.reserve(docs);
        self.posted.reserve(docs);
        self.doc_tags
            .reserve(docs, parts.iter().map(|p| p.tags.ids.len()).sum());
        for (p, &o) in parts.iter().zip(offsets) {
            let base = self.titles.text.len() as u32;
            self.titles.text.push_str(&p.titles.text);
            self.titles
                .spans
                .extend(p.titles.spans.iter().map(|s| s.map(|x| x + base)));
            for (&id, &added) in p.gallery.iter().zip(&p.added) {
                self.push_gallery(id, added);
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
    }
}

/// The title keys of one half of the buckets ([`bucket_of`]), each with its documents, the words
/// among them sorted; and each key's hash.
///
/// A bucket per pass: each pass's map and posting lists stay small enough for the caches
/// (measured: one pass over all the notes spent most of its time waiting on memory), and reads
/// only its own notes. Notes come in document order, so each key's documents arrive in order and
/// go straight to the end of its posting list: no sorting at all.
fn group_keys(parts: &[Part], offsets: &[u32], half: usize) -> (TitleKeys, Vec<u64>) {
    let mut found = TitleKeys::default();
    let mut hashes = Vec::new();
    // Per key: its first document and place, and its documents (plain numbers while grouping,
    // made a set a container at a time once the pass is over: pushing into a set one value at a
    // time was a fifth of the CPU samples here, and the sets' growth cost 100 MB resident).
    let mut keys: HashMap<u64, (u32, u32, Vec<u32>), KeyHashState> = HashMap::default();
    let mut scratch = Vec::new();
    for pass in 0..GROUPING_PASSES {
        let bucket = half * GROUPING_PASSES + pass;
        for (p, &o) in parts.iter().zip(offsets) {
            for &n in &p.notes[bucket] {
                let hash = (n >> 64) as u64;
                let doc = (n >> 32) as u32 + o;
                let docs = &mut keys
                    .entry(hash)
                    .or_insert_with(|| (doc, n as u32, Vec::new()))
                    .2;
                // A document noting a key twice is noted once.
                if docs.last() != Some(&doc) {
                    docs.push(doc);
                }
            }
        }
        for (hash, (first, place, docs)) in keys.drain() {
            if let Some(k) = key_text(parts, offsets, first, place, hash) {
                found.push_built(k, &docs, |docs| bitmap_of_sorted(docs, &mut scratch));
                hashes.push(hash);
            }
        }
    }
    found.sort_words();
    (found, hashes)
}

/// The text of the title key with `hash`, found again in a document that has it: at its noted
/// place, or else by hashing the document's keys.
fn key_text<'p>(
    parts: &'p [Part],
    offsets: &[u32],
    doc: u32,
    place: u32,
    hash: u64,
) -> Option<&'p str> {
    let i = offsets.partition_point(|&o| o <= doc).checked_sub(1)?;
    let (titles, doc) = (&parts.get(i)?.titles, doc - offsets[i]);
    if place != NO_PLACE {
        let start = titles.spans.get(doc as usize)?[0] as usize + (place >> 16) as usize;
        return titles.text.get(start..start + (place & 0xffff) as usize);
    }
    let mut text = None;
    for t in [titles.title(doc), titles.original(doc)] {
        for_each_key(t, |k| {
            if text.is_none() && key_hash(k) == hash {
                text = Some(k);
            }
        });
    }
    text
}

/// All documents in the order of a column: the parts' orders merged (documents numbered across
/// the parts).
fn merged_order(parts: &[Part], offsets: &[u32], col: Column, cols: &Cols<'_>) -> Vec<u32> {
    let before = |a: &Keyed, b: &Keyed| {
        a.key() < b.key() || (a.key() == b.key() && cols.cmp(col, a.doc, b.doc).is_lt())
    };
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.gallery.len()).sum());
    let mut at = vec![0usize; parts.len()];
    loop {
        let mut next: Option<(usize, Keyed)> = None;
        for (i, (p, &o)) in parts.iter().zip(offsets).enumerate() {
            if let Some(&k) = p.orders[col as usize].get(at[i]) {
                let mut head = k;
                head.doc += o;
                if next.is_none_or(|(_, n)| before(&head, &n)) {
                    next = Some((i, head));
                }
            }
        }
        let Some((i, k)) = next else { break };
        out.push(k.doc);
        at[i] += 1;
    }
    out
}

/// The set of `values` (ascending, each once), built a container at a time through roaring's
/// portable format rather than a value at a time: a posting list of a tag is laid out in
/// `scratch` as the format has it, and read in with a copy per container. (Pushing 22 million
/// values one by one took a fifth of a million-gallery build.)
fn bitmap_of_sorted(values: &[u32], scratch: &mut Vec<u8>) -> RoaringBitmap {
    /// The format's cookie for a set without run containers (its offsets follow the header).
    const NO_RUNS: u32 = 12346;
    /// Above this many values, a container is a bitmap of 2^16 bits; at or below, an array.
    const ARRAY_MAX: usize = 4096;
    let mut containers: Vec<(u16, &[u32])> = Vec::new();
    let mut rest = values;
    while let Some(&first) = rest.first() {
        let key = first >> 16;
        let n = rest.partition_point(|&v| v >> 16 == key);
        containers.push((key as u16, &rest[..n]));
        rest = &rest[n..];
    }
    let size = |c: &[u32]| {
        if c.len() > ARRAY_MAX {
            8192
        } else {
            2 * c.len()
        }
    };
    scratch.clear();
    scratch.extend_from_slice(&NO_RUNS.to_le_bytes());
    scratch.extend_from_slice(&(containers.len() as u32).to_le_bytes());
    for &(key, c) in &containers {
        scratch.extend_from_slice(&key.to_le_bytes());
        scratch.extend_from_slice(&((c.len() - 1) as u16).to_le_bytes());
    }
    let mut offset = 8 + 8 * containers.len();
    for &(_, c) in &containers {
        scratch.extend_from_slice(&(offset as u32).to_le_bytes());
        offset += size(c);
    }
    for &(_, c) in &containers {
        if c.len() > ARRAY_MAX {
            let mut bits = [0u64; 1024];
            for &v in c {
                bits[(v as usize & 0xffff) >> 6] |= 1 << (v & 63);
            }
            for w in bits {
                scratch.extend_from_slice(&w.to_le_bytes());
            }
        } else {
            for &v in c {
                scratch.extend_from_slice(&(v as u16).to_le_bytes());
            }
        }
    }
    RoaringBitmap::deserialize_unchecked_from(&scratch[..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_built_a_container_at_a_time_is_the_set_of_its_values() {
        let mut scratch = Vec::new();
        let sparse: Vec<u32> = (0..5000u32).map(|i| i * 97 + (i % 7)).collect();
        let dense: Vec<u32> = (65_536..65_536 + 60_000).filter(|v| v % 11 != 0).collect();
        let edges = vec![0, 65_535, 65_536, 4_096 * 17, u32::MAX - 1, u32::MAX];
        let exactly_an_array: Vec<u32> = (0..4096).map(|i| (3 << 16) + i * 2).collect();
        let one_past: Vec<u32> = (0..4097).map(|i| (5 << 16) + i * 2).collect();
        for values in [
            Vec::new(),
            vec![7],
            sparse,
            dense,
            edges,
            exactly_an_array,
            one_past,
        ] {
            let built = bitmap_of_sorted(&values, &mut scratch);
            let pushed = RoaringBitmap::from_sorted_iter(values.iter().copied()).unwrap();
            assert_eq!(built, pushed);
            assert_eq!(built.len(), values.len() as u64);
            assert!(built.iter().eq(values.iter().copied()));
        }
    }
}
