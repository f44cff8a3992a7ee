//! Title keys (words, CJK characters and pairs): each key's text once, in one arena, and its
//! documents.
//!
//! Most keys of a library are in one title only (a name, a number, a rare word: 98% of the
//! 713,000 keys of the benchmark's million galleries), so a key holds its one document in place
//! and gets a set only when a second arrives: a set costs two allocations and about 120 bytes
//! resident, the document 4 bytes. The table that finds a key by its text holds only key ids, and
//! the words sorted for prefix lookups are ids too, so no key's text is ever held twice.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::LazyLock;

use hashbrown::HashTable;
use roaring::RoaringBitmap;

use crate::text::is_cjk;

/// A slot with no document.
const NONE: u32 = u32::MAX;
/// A slot's flag for a set: the rest is the set's place in `lists`.
const LIST: u32 = 1 << 31;

/// What a key's slot holds.
enum Slot {
    Empty,
    One(u32),
    List(usize),
}

impl Slot {
    fn of(raw: u32) -> Slot {
        match raw {
            NONE => Slot::Empty,
            raw if raw & LIST != 0 => Slot::List((raw & !LIST) as usize),
            doc => Slot::One(doc),
        }
    }
}

/// The seed of [`key_hash`], chosen per process so that no one can choose titles whose keys
/// collide.
static SEED: LazyLock<u64> = LazyLock::new(|| fastrand::u64(..));

/// A title key's 64-bit hash: how a build tells keys apart while grouping them (two of a
/// million keys share one with a chance of about 3 in 100 million per build, and then share a
/// posting list), and how [`TitleKeys`] finds a key.
pub(super) fn key_hash(key: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(*SEED).hash_one(key)
}

/// A key's documents.
#[derive(Debug, Clone, Copy)]
pub(super) enum Postings<'a> {
    One(u32),
    Many(&'a RoaringBitmap),
}

impl<'a> Postings<'a> {
    pub(super) fn len(self) -> u64 {
        match self {
            Postings::One(_) => 1,
            Postings::Many(set) => set.len(),
        }
    }

    /// The documents as a set (made for a key with one document).
    pub(super) fn set(self) -> Cow<'a, RoaringBitmap> {
        match self {
            Postings::One(doc) => {
                let mut set = RoaringBitmap::new();
                set.insert(doc);
                Cow::Owned(set)
            }
            Postings::Many(set) => Cow::Borrowed(set),
        }
    }
}

/// The title keys and their documents.
#[derive(Debug, Default)]
pub(super) struct TitleKeys {
    /// The keys' texts back to back: key `i`'s ends at `ends[i]`, where key `i + 1`'s starts.
    text: String,
    ends: Vec<u32>,
    /// Key ids, found by their text's [`key_hash`].
    ids: HashTable<u32>,
    /// Per key: its one document, [`NONE`], or [`LIST`] and the place of its set in `lists`.
    slots: Vec<u32>,
    lists: Vec<RoaringBitmap>,
    /// Places in `lists` whose sets were emptied, for reuse.
    free: Vec<u32>,
    /// The words (the keys that are not CJK) in text order, as ids: those a build found, sorted,
    /// then those added since, in a map of their own until it is merged in.
    words: Vec<u32>,
    new_words: BTreeMap<Box<str>, u32>,
}

/// Key `id`'s text, given the arena and its ends.
fn text_in<'t>(text: &'t str, ends: &[u32], id: u32) -> &'t str {
    let i = id as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &text[start..ends[i] as usize]
}

/// Two lists of word ids, each in text order, merged.
fn merge_words(a: &[u32], b: &[u32], text: &str, ends: &[u32]) -> Vec<u32> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let mut a = a.iter().copied().peekable();
    for &w in b {
        let word = text_in(text, ends, w);
        while let Some(x) = a.next_if(|&x| text_in(text, ends, x) < word) {
            merged.push(x);
        }
        merged.push(w);
    }
    merged.extend(a);
    merged
}

impl TitleKeys {
    fn text_of(&self, id: u32) -> &str {
        text_in(&self.text, &self.ends, id)
    }

    /// The id of a key, if the index has it.
    pub(super) fn id(&self, key: &str) -> Option<u32> {
        self.ids
            .find(key_hash(key), |&id| self.text_of(id) == key)
            .copied()
    }

    /// A key's documents (none for a key in no title).
    pub(super) fn postings_of(&self, id: u32) -> Option<Postings<'_>> {
        match Slot::of(*self.slots.get(id as usize)?) {
            Slot::Empty => None,
            Slot::List(at) => self.lists.get(at).map(Postings::Many),
            Slot::One(doc) => Some(Postings::One(doc)),
        }
    }

    pub(super) fn postings(&self, key: &str) -> Option<Postings<'_>> {
        self.postings_of(self.id(key)?)
    }

    /// Adds a document to a key's documents (the key is added if it is new).
    pub(super) fn insert(&mut self, key: &str, doc: u32) {
        let id = match self.id(key) {
            Some(id) => id,
            None => self.add_key(key),
        } as usize;
        self.slots[id] = match Slot::of(self.slots[id]) {
            Slot::List(at) => {
                self.lists[at].insert(doc);
                return;
            }
            Slot::One(one) if one == doc => return,
            Slot::Empty if doc < LIST => doc,
            Slot::Empty => self.put_list(RoaringBitmap::from_iter([doc])),
            Slot::One(one) => self.put_list(RoaringBitmap::from_iter([one, doc])),
        };
    }

    /// Takes a document out of a key's documents.
    pub(super) fn remove(&mut self, key: &str, doc: u32) {
        let Some(id) = self.id(key) else {
            return;
        };
        let id = id as usize;
        match Slot::of(self.slots[id]) {
            Slot::List(at) => {
                self.lists[at].remove(doc);
                if self.lists[at].is_empty() {
                    self.lists[at] = RoaringBitmap::new();
                    self.free.push(at as u32);
                    self.slots[id] = NONE;
                }
            }
            Slot::One(one) if one == doc => self.slots[id] = NONE,
            Slot::One(_) | Slot::Empty => {}
        }
    }

    /// Places a set in `lists` (in a freed place if there is one); answers its slot.
    fn put_list(&mut self, set: RoaringBitmap) -> u32 {
        match self.free.pop() {
            Some(at) => {
                self.lists[at as usize] = set;
                LIST | at
            }
            None => {
                self.lists.push(set);
                LIST | (self.lists.len() - 1) as u32
            }
        }
    }

    fn add_key(&mut self, key: &str) -> u32 {
        let id = self.push_text(key);
        self.slots.push(NONE);
        let (text, ends) = (&self.text, &self.ends);
        self.ids
            .insert_unique(key_hash(key), id, |&i| key_hash(text_in(text, ends, i)));
        if !key.chars().any(is_cjk) {
            self.new_words.insert(key.into(), id);
            // Merged when the map holds a 64th of the words: each merge costs a pass over them.
            if self.new_words.len() > (self.words.len() / 64).max(4096) {
                self.merge_new_words();
            }
        }
        id
    }

    fn push_text(&mut self, key: &str) -> u32 {
        let id = self.ends.len() as u32;
        self.text.push_str(key);
        self.ends.push(self.text.len() as u32);
        id
    }

    fn merge_new_words(&mut self) {
        let new: Vec<u32> = std::mem::take(&mut self.new_words).into_values().collect();
        let (text, ends) = (&self.text, &self.ends);
        self.words = merge_words(&self.words, &new, text, ends);
    }

    /// The words starting with `prefix`, with their ids.
    pub(super) fn words_starting<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        let from = self.words.partition_point(|&id| self.text_of(id) < prefix);
        let found = self.words[from..]
            .iter()
            .map(|&id| (self.text_of(id), id))
            .take_while(move |(w, _)| w.starts_with(prefix));
        let new = self
            .new_words
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .map(|(w, &id)| (&**w, id))
            .take_while(move |(w, _)| w.starts_with(prefix));
        found.chain(new)
    }

    /// Appends a key to a build's part of the keys, with its documents (ascending, at least
    /// one); `set` makes them a set. A part has no lookup table: [`TitleKeys::join`] makes one.
    pub(super) fn push_built(
        &mut self,
        key: &str,
        docs: &[u32],
        set: impl FnOnce(&[u32]) -> RoaringBitmap,
    ) {
        let id = self.push_text(key);
        let slot = match docs {
            &[doc] if doc < LIST => doc,
            _ => self.put_list(set(docs)),
        };
        self.slots.push(slot);
        if !key.chars().any(is_cjk) {
            self.words.push(id);
        }
    }

    /// Sorts a build part's words.
    pub(super) fn sort_words(&mut self) {
        let (text, ends) = (&self.text, &self.ends);
        self.words
            .sort_unstable_by(|&a, &b| text_in(text, ends, a).cmp(text_in(text, ends, b)));
    }

    /// The keys of a build's parts as one, the parts' keys distinct; `hashes` holds each part's
    /// keys' [`key_hash`]es, in order.
    pub(super) fn join(parts: Vec<(TitleKeys, Vec<u64>)>) -> TitleKeys {
        let keys: usize = parts.iter().map(|(p, _)| p.slots.len()).sum();
        let mut all = TitleKeys {
            text: String::with_capacity(parts.iter().map(|(p, _)| p.text.len()).sum()),
            ends: Vec::with_capacity(keys),
            ids: HashTable::with_capacity(keys),
            slots: Vec::with_capacity(keys),
            lists: Vec::with_capacity(parts.iter().map(|(p, _)| p.lists.len()).sum()),
            ..TitleKeys::default()
        };
        for (part, hashes) in parts {
            let (first_id, text_at, lists_at) = (
                all.slots.len() as u32,
                all.text.len() as u32,
                all.lists.len() as u32,
            );
            all.text.push_str(&part.text);
            all.ends.extend(part.ends.iter().map(|e| e + text_at));
            all.slots
                .extend(part.slots.iter().map(|&raw| match Slot::of(raw) {
                    Slot::List(_) => raw + lists_at,
                    Slot::One(_) | Slot::Empty => raw,
                }));
            all.lists.extend(part.lists);
            let (text, ends) = (&all.text, &all.ends);
            for (id, hash) in (first_id..).zip(hashes) {
                all.ids
                    .insert_unique(hash, id, |&i| key_hash(text_in(text, ends, i)));
            }
            let words: Vec<u32> = part.words.iter().map(|w| w + first_id).collect();
            all.words = merge_words(&all.words, &words, text, ends);
        }
        all
    }

    /// How many keys there are.
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(keys: &TitleKeys, key: &str) -> Vec<u32> {
        keys.postings(key)
            .map(|p| p.set().iter().collect())
            .unwrap_or_default()
    }

    fn words(keys: &TitleKeys, prefix: &str) -> Vec<String> {
        keys.words_starting(prefix)
            .map(|(w, _)| w.to_string())
            .collect()
    }

    /// A key goes from one document to a set and back to none; emptied sets' places are reused;
    /// words added after a build are found by prefix, in order once merged.
    #[test]
    fn keys_hold_one_document_then_a_set_and_find_words_by_prefix() {
        let mut a = TitleKeys::default();
        a.push_built("beta", &[3], |_| unreachable!("one document needs no set"));
        a.push_built("alpha", &[1, 5], |d| d.iter().copied().collect());
        a.push_built("猫", &[2], |_| RoaringBitmap::new());
        a.sort_words();
        let hashes_a = ["beta", "alpha", "猫"].map(key_hash).to_vec();
        let mut b = TitleKeys::default();
        b.push_built("alps", &[7], |_| RoaringBitmap::new());
        b.push_built("gamma", &[4, 9], |d| d.iter().copied().collect());
        b.sort_words();
        let hashes_b = ["alps", "gamma"].map(key_hash).to_vec();
        let mut keys = TitleKeys::join(vec![(a, hashes_a), (b, hashes_b)]);
        assert_eq!(keys.len(), 5);
        assert_eq!(docs(&keys, "beta"), [3]);
        assert_eq!(docs(&keys, "alpha"), [1, 5]);
        assert_eq!(docs(&keys, "gamma"), [4, 9]);
        assert_eq!(docs(&keys, "猫"), [2]);
        assert_eq!(docs(&keys, "delta"), Vec::<u32>::new());
        assert_eq!(words(&keys, "al"), ["alpha", "alps"]);
        assert_eq!(words(&keys, ""), ["alpha", "alps", "beta", "gamma"]);

        keys.insert("beta", 3);
        assert!(matches!(keys.postings("beta"), Some(Postings::One(3))));
        keys.insert("beta", 8);
        assert_eq!(docs(&keys, "beta"), [3, 8]);
        keys.remove("beta", 3);
        keys.remove("beta", 8);
        assert!(keys.postings("beta").is_none());
        keys.remove("alpha", 1);
        assert_eq!(docs(&keys, "alpha"), [5]);
        keys.remove("alpha", 5);
        keys.remove("alps", 7);
        assert!(keys.postings("alps").is_none());
        keys.insert("alps", 6);
        keys.insert("alps", 11);
        assert_eq!(docs(&keys, "alps"), [6, 11]);
        // Three sets were made (alpha, gamma, beta's second document), two emptied, one reused.
        assert_eq!((keys.lists.len(), keys.free.len()), (3, 1));

        // A document number too high to be held in place gets a set.
        keys.insert("huge", LIST + 5);
        assert_eq!(docs(&keys, "huge"), [LIST + 5]);
        keys.remove("huge", LIST + 5);
        assert!(keys.postings("huge").is_none());

        // Enough new words to be merged in, twice over, and their prefixes.
        for i in 0..10_000 {
            keys.insert(&format!("new{i:05}"), i);
        }
        keys.insert("alpine", 12);
        assert!(keys.new_words.len() < 2_000, "new words were merged in");
        let mut found = words(&keys, "alp");
        found.sort();
        assert_eq!(found, ["alpha", "alpine", "alps"]);
        assert_eq!(
            words(&keys, "new0000"),
            (0..10).map(|i| format!("new{i:05}")).collect::<Vec<_>>()
        );
        assert_eq!(docs(&keys, "new09999"), [9999]);
        let all = words(&keys, "");
        assert_eq!(all.len(), 10_006);
        // Merged words are in order; the unmerged ones follow, in order of their own.
        let merged = all.len() - keys.new_words.len();
        assert!(all[..merged].is_sorted() && all[merged..].is_sorted());
    }
}
