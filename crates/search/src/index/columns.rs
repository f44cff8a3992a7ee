//! The index's columns of text: folded titles and each document's tags, each in one arena, and
//! the sorting of documents by column.

use super::Column;

/// Folded titles in one string: per document the span of its title and of its original title.
/// A changed title is appended; the arena is compacted when half of it is stale.
#[derive(Debug, Default)]
pub(super) struct Titles {
    pub(super) text: String,
    pub(super) spans: Vec<[u32; 4]>,
    pub(super) live: usize,
}

impl Titles {
    pub(super) fn title(&self, d: u32) -> &str {
        let [a, b, _, _] = self.spans[d as usize];
        &self.text[a as usize..b as usize]
    }

    pub(super) fn original(&self, d: u32) -> &str {
        let [_, _, a, b] = self.spans[d as usize];
        &self.text[a as usize..b as usize]
    }

    pub(super) fn set(&mut self, d: u32, title: &str, original: &str) {
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

/// A document and its place in a column's order as numbers ([`Cols::sort_key`]), in 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Keyed {
    high: u128,
    middle: u64,
    low: u32,
    pub(super) doc: u32,
}

const _: () = assert!(std::mem::size_of::<Keyed>() == 32);

impl Keyed {
    pub(super) fn key(&self) -> (u128, u64, u32) {
        (self.high, self.middle, self.low)
    }
}

/// The columns documents are sorted by, borrowed from an index or a build part.
pub(super) struct Cols<'a> {
    pub(super) titles: &'a Titles,
    pub(super) gallery: &'a [i64],
    pub(super) posted: &'a [i64],
    pub(super) pages: &'a [u32],
    pub(super) bytes: &'a [u64],
}

impl Cols<'_> {
    /// `docs` sorted by a column, then by gallery id.
    pub(super) fn sorted(&self, col: Column, docs: &[u32]) -> Vec<u32> {
        self.keyed(col, docs).into_iter().map(|k| k.doc).collect()
    }

    /// A key that orders documents by a column as [`Cols::cmp`] does: for a number column,
    /// exactly (its value, then the gallery id); for titles, by their first 28 bytes only (equal
    /// keys still need [`Cols::cmp`]). Titles often start alike for 16 bytes and more (an event
    /// and a circle: "(C100) [circle] …"), and each comparison of whole titles costs two cache
    /// misses, so the key reaches past that.
    pub(super) fn sort_key(&self, col: Column, d: u32) -> Keyed {
        let i = d as usize;
        // Gallery ids are positive; a signed value is shifted to keep its order unsigned.
        let then_gallery = |v: u64| Keyed {
            high: u128::from(v) << 64 | u128::from(self.gallery[i] as u64),
            middle: 0,
            low: 0,
            doc: d,
        };
        match col {
            Column::Title => {
                let mut start = [0u8; 28];
                let t = self.titles.title(d).as_bytes();
                let n = t.len().min(28);
                start[..n].copy_from_slice(&t[..n]);
                let (a, rest) = start.split_at(16);
                let (b, c) = rest.split_at(8);
                Keyed {
                    high: u128::from_be_bytes(a.try_into().unwrap_or_default()),
                    middle: u64::from_be_bytes(b.try_into().unwrap_or_default()),
                    low: u32::from_be_bytes(c.try_into().unwrap_or_default()),
                    doc: d,
                }
            }
            Column::Posted => then_gallery((self.posted[i] as u64) ^ (1 << 63)),
            Column::Pages => then_gallery(u64::from(self.pages[i])),
            Column::Size => then_gallery(self.bytes[i]),
        }
    }

    /// `docs` sorted by a column, then by gallery id, each with its [`Cols::sort_key`]. The keys
    /// are sorted as numbers, with no lookup per comparison; titles that start alike are then
    /// put in order by the whole title, run by run.
    pub(super) fn keyed(&self, col: Column, docs: &[u32]) -> Vec<Keyed> {
        let mut keyed: Vec<Keyed> = docs.iter().map(|&d| self.sort_key(col, d)).collect();
        keyed.sort_unstable_by_key(Keyed::key);
        if col == Column::Title {
            for run in keyed.chunk_by_mut(|a, b| a.key() == b.key()) {
                run.sort_unstable_by(|a, b| self.cmp(col, a.doc, b.doc));
            }
        }
        keyed
    }

    /// Compares two documents by a column, then by gallery id.
    pub(super) fn cmp(&self, col: Column, a: u32, b: u32) -> std::cmp::Ordering {
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

/// Each document's tag ids, back to back in one list (a change appends; the list is compacted
/// when half of it is stale), instead of an allocation per document.
#[derive(Debug, Default)]
pub(super) struct DocTags {
    pub(super) ids: Vec<u32>,
    /// Start and end of each document's tags in `ids`.
    pub(super) spans: Vec<[u32; 2]>,
    live: usize,
}

impl DocTags {
    pub(super) fn of(&self, d: u32) -> &[u32] {
        self.spans
            .get(d as usize)
            .map_or(&[], |&[a, b]| &self.ids[a as usize..b as usize])
    }

    /// Reserves room for `docs` more documents with `ids` tags among them.
    pub(super) fn reserve(&mut self, docs: usize, ids: usize) {
        self.spans.reserve(docs);
        self.ids.reserve(ids);
    }

    /// Appends a new document's tags.
    pub(super) fn push(&mut self, tags: impl IntoIterator<Item = u32>) {
        let a = self.ids.len() as u32;
        self.ids.extend(tags);
        let b = self.ids.len() as u32;
        self.spans.push([a, b]);
        self.live += (b - a) as usize;
    }

    /// Replaces a document's tags (the document may be new).
    pub(super) fn set(&mut self, d: u32, tags: &[u32]) {
        let d = d as usize;
        if self.spans.len() <= d {
            self.spans.resize(d + 1, [0, 0]);
        } else {
            let [a, b] = self.spans[d];
            self.live -= (b - a) as usize;
        }
        let a = self.ids.len() as u32;
        self.ids.extend_from_slice(tags);
        self.spans[d] = [a, self.ids.len() as u32];
        self.live += tags.len();
        if self.ids.len() > 1 << 20 && self.live * 2 < self.ids.len() {
            let mut ids = Vec::with_capacity(self.live);
            for span in &mut self.spans {
                let [a, b] = *span;
                let at = ids.len() as u32;
                ids.extend_from_slice(&self.ids[a as usize..b as usize]);
                *span = [at, ids.len() as u32];
            }
            self.ids = ids;
        }
    }

    /// Appends another list's documents after these.
    pub(super) fn append(&mut self, other: &DocTags) {
        let base = self.ids.len() as u32;
        self.ids.extend_from_slice(&other.ids);
        self.spans
            .extend(other.spans.iter().map(|s| s.map(|x| x + base)));
        self.live += other.live;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Titles alike for 16, 24, 28 bytes and more, and titles equal but for their gallery: the
    /// order by keys and runs is the order by whole titles, then gallery ids.
    #[test]
    fn documents_sorted_by_title_keys_are_in_title_order() {
        let stems = [
            "(c100) [circle abcdef] party #1",
            "(c100) [circle abcdef] party #2",
            "(c100) [circle abcdef] part",
            "(c100) [circle abcdef] party",
            "(c100) [circle abcdef] party cherry cherry princess #10",
            "(c100) [circle abcdef] party cherry cherry princess #9",
            "(c100) [circle abcdeg]",
            "(c100) [circle",
            "(c99) [circle abcdef] party",
            "",
            "お姉ちゃん 第1巻",
            "お姉ちゃん 第10巻",
        ];
        let mut titles = Titles::default();
        let mut gallery = Vec::new();
        for (d, i) in (0..60).map(|i| (i * 7) % stems.len()).enumerate() {
            titles.set(d as u32, stems[i], "");
            gallery.push(1000 - d as i64);
        }
        let n = gallery.len();
        let cols = Cols {
            titles: &titles,
            gallery: &gallery,
            posted: &vec![0; n],
            pages: &vec![0; n],
            bytes: &vec![0; n],
        };
        let docs: Vec<u32> = (0..n as u32).collect();
        let mut expected = docs.clone();
        expected.sort_by_key(|&d| (titles.title(d), gallery[d as usize]));
        assert_eq!(cols.sorted(Column::Title, &docs), expected);
    }
}
