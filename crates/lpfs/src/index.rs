//! The in-memory index: blob hash → where its live record is.
//!
//! One million blobs must fit in about 20 MB, so the bulk of the index is a sorted `Vec` of
//! 20-byte entries searched by binary search, and only recent inserts live in a small hash map that
//! is merged into the sorted part now and then (amortised O(1) per insert).
//!
//! A sorted entry keeps only the first 8 bytes of its key (its *tag*), as Haystack keeps only
//! what finds a needle: the full key is in the record's header, which every read checks anyway.
//! Two keys share a tag with a chance of about n / 2⁶⁴ per lookup (5 · 10⁻¹⁴ at a million blobs),
//! and the index stays exact when they do: where a tag has several live entries, or where an
//! answer decides a write (is this blob stored? which entry is replaced?), the caller's `key_at`
//! reads the candidates' headers.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::hash::BlobHash;

/// Where a live blob's record is. Offsets are stored in units of 8 bytes, which bounds a volume at
/// 32 GiB; lengths are stored as `u32`, which bounds a blob at 4 GiB − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Loc {
    pub volume: u32,
    offset8: u32,
    pub len: u32,
}

impl Loc {
    /// The largest volume an index can address.
    pub const MAX_VOLUME_BYTES: u64 = (u32::MAX as u64) * 8;

    /// A location; `offset` must be 8-aligned and within [`Loc::MAX_VOLUME_BYTES`].
    pub fn new(volume: u32, offset: u64, len: u32) -> Self {
        debug_assert_eq!(offset % 8, 0);
        debug_assert!(offset <= Self::MAX_VOLUME_BYTES);
        Self {
            volume,
            offset8: (offset / 8) as u32,
            len,
        }
    }

    /// Offset of the record header in its volume.
    pub fn offset(&self) -> u64 {
        u64::from(self.offset8) * 8
    }
}

/// The first 8 bytes of a key: what a sorted entry keeps of it.
pub type Tag = [u8; 8];

/// The tag of `key`.
pub fn tag_of(key: &BlobHash) -> Tag {
    let mut t = [0u8; 8];
    t.copy_from_slice(&key.0[..8]);
    t
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: Tag,
    loc: Loc,
}

/// Marks a deleted entry in the sorted part until the next merge drops it.
const DEAD: u32 = u32::MAX;

/// A recent insert: where it is, and whether its payload was checked since (as `verified`).
#[derive(Debug)]
struct RecentLoc {
    loc: Loc,
    verified: AtomicBool,
}

type Recent = HashMap<[u8; 32], RecentLoc, crate::hash::BlobHashState>;

/// Hash → location of every live blob.
#[derive(Default)]
pub struct Index {
    sorted: Vec<Entry>,
    /// `directory[p]` is the first position in `sorted` whose key starts with a prefix ≥ `p`
    /// (the top `directory_bits` bits). Keys are uniform hashes, so a lookup searches only the
    /// handful of entries of its own prefix instead of walking the whole array through cache misses.
    directory: Vec<u32>,
    directory_bits: u32,
    dead_in_sorted: usize,
    recent: Recent,
    /// One bit per position of `sorted`: the payload of that entry's record has been checked
    /// against its checksum since the store opened. Set under a read lock, hence atomic.
    verified: Vec<AtomicU64>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index").field("len", &self.len()).finish()
    }
}

impl Index {
    /// Builds an index from (key, location) pairs with unique keys, in any order.
    #[cfg(test)]
    pub fn from_unique(mut pairs: Vec<(BlobHash, Loc)>) -> Self {
        pairs.sort_unstable_by_key(|p| p.0);
        Self::from_sorted_unique(pairs)
    }

    /// Builds an index from (key, location) pairs sorted by key, with unique keys.
    pub fn from_sorted_unique(pairs: Vec<(BlobHash, Loc)>) -> Self {
        debug_assert!(pairs.windows(2).all(|w| w[0].0 < w[1].0));
        let mut sorted = Vec::with_capacity(pairs.len());
        sorted.extend(pairs.into_iter().map(|(k, loc)| Entry {
            tag: tag_of(&k),
            loc,
        }));
        let verified = (0..sorted.len().div_ceil(64))
            .map(|_| AtomicU64::new(0))
            .collect();
        let mut index = Self {
            sorted,
            verified,
            ..Self::default()
        };
        index.rebuild_directory();
        index
    }

    fn prefix(tag: &Tag, bits: u32) -> usize {
        if bits == 0 {
            return 0;
        }
        let mut a = [0u8; 4];
        a.copy_from_slice(&tag[..4]);
        (u32::from_be_bytes(a) >> (32 - bits)) as usize
    }

    /// About eight entries per directory slot, at most 2^20 slots.
    fn rebuild_directory(&mut self) {
        let bits = (self.sorted.len() / 8).checked_ilog2().unwrap_or(0).min(20);
        let slots = 1usize << bits;
        let mut directory = Vec::with_capacity(slots + 1);
        let mut at = 0usize;
        for p in 0..slots {
            while at < self.sorted.len() && Self::prefix(&self.sorted[at].tag, bits) < p {
                at += 1;
            }
            directory.push(at as u32);
        }
        directory.push(self.sorted.len() as u32);
        self.directory = directory;
        self.directory_bits = bits;
    }

    /// The positions in `sorted` of every entry (live or dead) with `tag`.
    fn tag_range(&self, tag: &Tag) -> Range<usize> {
        if self.directory.is_empty() {
            return 0..0;
        }
        let p = Self::prefix(tag, self.directory_bits);
        let (lo, hi) = (self.directory[p] as usize, self.directory[p + 1] as usize);
        let slot = &self.sorted[lo..hi];
        let start = slot.partition_point(|e| e.tag < *tag);
        let end = start + slot[start..].partition_point(|e| e.tag == *tag);
        lo + start..lo + end
    }

    /// The position of `key`'s live entry in `sorted`. With one live entry of its tag, that one
    /// unless `verify` asks for the key to be read; with several, the one whose header names
    /// `key`. A header that cannot be read counts as naming `key`: a damaged record stays found
    /// (and reads report it) rather than being taken for a missing one.
    fn find_sorted(
        &self,
        key: &BlobHash,
        verify: bool,
        key_at: &impl Fn(Loc) -> Option<BlobHash>,
    ) -> Option<usize> {
        let range = self.tag_range(&tag_of(key));
        let mut live = range.filter(|&i| self.sorted[i].loc.volume != DEAD);
        let first = live.next()?;
        let Some(second) = live.next() else {
            return (!verify || key_at(self.sorted[first].loc).is_none_or(|k| k == *key))
                .then_some(first);
        };
        [first, second]
            .into_iter()
            .chain(live)
            .find(|&i| key_at(self.sorted[i].loc).is_none_or(|k| k == *key))
    }

    /// The location of `key`, if it is live. Reads a header only when tags collide; a read of
    /// the record must still check that its header names `key` (see [`crate::volume`]).
    pub fn get(&self, key: &BlobHash, key_at: impl Fn(Loc) -> Option<BlobHash>) -> Option<Loc> {
        self.get_checked(key, key_at).map(|(loc, _)| loc)
    }

    /// The location of `key`, read from its header whenever its tag has a live entry: for
    /// answers a write depends on (whether a blob is stored).
    pub fn get_exact(
        &self,
        key: &BlobHash,
        key_at: impl Fn(Loc) -> Option<BlobHash>,
    ) -> Option<Loc> {
        if let Some(r) = self.recent.get(&key.0) {
            return Some(r.loc);
        }
        self.find_sorted(key, true, &key_at)
            .map(|i| self.sorted[i].loc)
    }

    /// The location of `key`, if live, and whether its payload has been verified already.
    pub fn get_checked(
        &self,
        key: &BlobHash,
        key_at: impl Fn(Loc) -> Option<BlobHash>,
    ) -> Option<(Loc, bool)> {
        if let Some(r) = self.recent.get(&key.0) {
            return Some((r.loc, r.verified.load(Ordering::Relaxed)));
        }
        let i = self.find_sorted(key, false, &key_at)?;
        Some((
            self.sorted[i].loc,
            self.verified[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0,
        ))
    }

    /// The position in `sorted` of the live entry of `key`'s tag at `loc`.
    fn position_at(&self, key: &BlobHash, loc: Loc) -> Option<usize> {
        self.tag_range(&tag_of(key))
            .find(|&i| self.sorted[i].loc == loc)
    }

    /// Records that the payload of `key` at `loc` was verified. Needs only a shared reference.
    pub fn mark_verified(&self, key: &BlobHash, loc: Loc) {
        if let Some(r) = self.recent.get(&key.0) {
            if r.loc == loc {
                r.verified.store(true, Ordering::Relaxed);
            }
            return;
        }
        if let Some(i) = self.position_at(key, loc) {
            self.verified[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
        }
    }

    fn clear_verified(&self, i: usize) {
        self.verified[i / 64].fetch_and(!(1 << (i % 64)), Ordering::Relaxed);
    }

    /// Sets the location of `key`, returning the previous one.
    pub fn insert(
        &mut self,
        key: BlobHash,
        loc: Loc,
        key_at: impl Fn(Loc) -> Option<BlobHash>,
    ) -> Option<Loc> {
        if !self.recent.contains_key(&key.0)
            && let Some(i) = self.find_sorted(&key, true, &key_at)
        {
            self.clear_verified(i);
            return Some(std::mem::replace(&mut self.sorted[i].loc, loc));
        }
        let old = self
            .recent
            .insert(
                key.0,
                RecentLoc {
                    loc,
                    verified: AtomicBool::new(false),
                },
            )
            .map(|r| r.loc);
        if self.recent.len() > 4096 + self.sorted.len() / 16 {
            self.merge();
        }
        old
    }

    /// Moves `key`'s record from `before` to `after` if `before` is still its live one (what
    /// compaction does); answers whether it was.
    pub fn relocate(&mut self, key: &BlobHash, before: Loc, after: Loc) -> bool {
        if let Some(r) = self.recent.get_mut(&key.0) {
            if r.loc != before {
                return false;
            }
            *r = RecentLoc {
                loc: after,
                verified: AtomicBool::new(false),
            };
            return true;
        }
        let Some(i) = self.position_at(key, before) else {
            return false;
        };
        self.clear_verified(i);
        self.sorted[i].loc = after;
        true
    }

    /// Removes `key`, returning where it was.
    pub fn remove(
        &mut self,
        key: &BlobHash,
        key_at: impl Fn(Loc) -> Option<BlobHash>,
    ) -> Option<Loc> {
        if let Some(r) = self.recent.remove(&key.0) {
            return Some(r.loc);
        }
        let i = self.find_sorted(key, true, &key_at)?;
        Some(self.remove_position(i))
    }

    /// Removes the live entry of `tag` at `loc` (a record whose key may be unreadable); answers
    /// whether there was one.
    pub fn remove_at(&mut self, tag: &Tag, loc: Loc) -> bool {
        if let Some(k) = self
            .recent
            .iter()
            .find(|(k, r)| r.loc == loc && k[..8] == tag[..])
            .map(|(k, _)| *k)
        {
            self.recent.remove(&k);
            return true;
        }
        match self.tag_range(tag).find(|&i| self.sorted[i].loc == loc) {
            Some(i) => {
                self.remove_position(i);
                true
            }
            None => false,
        }
    }

    fn remove_position(&mut self, i: usize) -> Loc {
        self.clear_verified(i);
        let old = std::mem::replace(
            &mut self.sorted[i].loc,
            Loc {
                volume: DEAD,
                offset8: 0,
                len: 0,
            },
        );
        self.dead_in_sorted += 1;
        if self.dead_in_sorted > 4096 + self.sorted.len() / 4 {
            self.merge();
        }
        old
    }

    /// Folds the recent inserts into the sorted part and drops deleted entries, carrying the
    /// verified bits along.
    fn merge(&mut self) {
        let mut recent: Vec<(Entry, bool)> = self
            .recent
            .drain()
            .map(|(key, r)| {
                (
                    Entry {
                        tag: tag_of(&BlobHash(key)),
                        loc: r.loc,
                    },
                    r.verified.into_inner(),
                )
            })
            .collect();
        recent.sort_unstable_by_key(|(e, _)| e.tag);
        let old = std::mem::take(&mut self.sorted);
        let old_verified = std::mem::take(&mut self.verified);
        let was_verified =
            |i: usize| old_verified[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0;
        let total = old.len() - self.dead_in_sorted + recent.len();
        let mut merged = Vec::with_capacity(total);
        let mut verified: Vec<u64> = vec![0; total.div_ceil(64)];
        let mut a = old
            .into_iter()
            .enumerate()
            .filter(|(_, e)| e.loc.volume != DEAD)
            .peekable();
        let mut b = recent.into_iter().peekable();
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some((_, x)), Some((y, _))) => x.tag <= y.tag,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let (entry, checked) = if take_a {
                let Some((i, e)) = a.next() else { break };
                (e, was_verified(i))
            } else {
                let Some((e, checked)) = b.next() else { break };
                (e, checked)
            };
            if checked {
                let at = merged.len();
                verified[at / 64] |= 1 << (at % 64);
            }
            merged.push(entry);
        }
        self.sorted = merged;
        self.verified = verified.into_iter().map(AtomicU64::new).collect();
        self.dead_in_sorted = 0;
        self.rebuild_directory();
        self.recent.shrink_to(4096);
    }

    /// Number of live blobs.
    pub fn len(&self) -> usize {
        self.sorted.len() - self.dead_in_sorted + self.recent.len()
    }

    /// The tag and location of every live blob, in no particular order.
    pub fn locations(&self) -> impl Iterator<Item = (Tag, Loc)> + '_ {
        self.sorted
            .iter()
            .filter(|e| e.loc.volume != DEAD)
            .map(|e| (e.tag, e.loc))
            .chain(self.recent.iter().map(|(k, r)| {
                let mut tag = [0u8; 8];
                tag.copy_from_slice(&k[..8]);
                (tag, r.loc)
            }))
    }

    /// The full key of a recent insert at `loc`, if there is one (they keep their keys).
    pub fn recent_key_at(&self, loc: Loc) -> Option<BlobHash> {
        self.recent
            .iter()
            .find(|(_, r)| r.loc == loc)
            .map(|(k, _)| BlobHash(*k))
    }

    /// Up to `limit` live keys greater than `after`, in ascending order. The keys of sorted
    /// entries are read from their headers; a record whose header cannot be read is left out.
    pub fn keys_after(
        &self,
        after: Option<&BlobHash>,
        limit: usize,
        key_at: impl Fn(Loc) -> Option<BlobHash>,
    ) -> Vec<BlobHash> {
        let start = after.map_or(0, |k| self.tag_range(&tag_of(k)).start);
        let mut out: Vec<BlobHash> = Vec::new();
        let mut last_tag = None;
        for e in &self.sorted[start..] {
            if e.loc.volume == DEAD {
                continue;
            }
            // Tags order keys, except among equal tags: finish the last tag's entries.
            if out.len() >= limit && last_tag != Some(e.tag) {
                break;
            }
            let Some(k) = key_at(e.loc) else { continue };
            if after.is_some_and(|a| k <= *a) {
                continue;
            }
            out.push(k);
            last_tag = Some(e.tag);
        }
        out.extend(
            self.recent
                .keys()
                .map(|k| BlobHash(*k))
                .filter(|k| after.is_none_or(|a| k > a)),
        );
        out.sort_unstable();
        out.truncate(limit);
        out
    }

    /// Approximate heap bytes the index uses.
    pub fn memory_bytes(&self) -> usize {
        self.sorted.capacity() * size_of::<Entry>()
            + self.directory.capacity() * size_of::<u32>()
            + self.verified.capacity() * size_of::<AtomicU64>()
            + self.recent.capacity() * (size_of::<([u8; 32], RecentLoc)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> BlobHash {
        BlobHash::of(&i.to_le_bytes())
    }

    /// What record headers say: the key at each location ever written.
    #[derive(Default)]
    struct Headers(HashMap<Loc, BlobHash>);

    impl Headers {
        fn at(&self) -> impl Fn(Loc) -> Option<BlobHash> + '_ {
            |loc| self.0.get(&loc).copied()
        }
    }

    /// Drives the index and a hash map with the same random inserts and removes.
    fn against_a_model(keys: &[BlobHash], steps: u32) {
        let mut headers = Headers::default();
        let mut model = HashMap::new();
        let initial: Vec<(BlobHash, Loc)> = keys
            .iter()
            .take(keys.len() / 20)
            .enumerate()
            .map(|(i, k)| (*k, Loc::new(1, 64, i as u32)))
            .collect();
        for (k, loc) in &initial {
            headers.0.insert(*loc, *k);
            model.insert(*k, *loc);
        }
        let mut index = Index::from_unique(initial);
        let mut rng = fastrand::Rng::with_seed(7);
        for step in 0..steps {
            let k = keys[rng.usize(..keys.len())];
            if rng.bool() {
                let loc = Loc::new(2, 8 * u64::from(step), step);
                headers.0.insert(loc, k);
                assert_eq!(index.insert(k, loc, headers.at()), model.insert(k, loc));
            } else {
                assert_eq!(index.remove(&k, headers.at()), model.remove(&k));
            }
            assert_eq!(index.len(), model.len());
        }
        for (k, loc) in &model {
            assert_eq!(index.get(k, headers.at()), Some(*loc));
            assert_eq!(index.get_exact(k, headers.at()), Some(*loc));
        }
        for k in keys.iter().filter(|k| !model.contains_key(k)) {
            assert_eq!(index.get_exact(k, headers.at()), None);
        }
        let mut expected: Vec<_> = model.keys().copied().collect();
        expected.sort();
        assert_eq!(index.keys_after(None, usize::MAX, headers.at()), expected);
        let mut paged = Vec::new();
        loop {
            let page = index.keys_after(paged.last(), 7, headers.at());
            if page.is_empty() {
                break;
            }
            paged.extend(page);
        }
        assert_eq!(paged, expected);
        assert_eq!(index.locations().count(), model.len());
    }

    #[test]
    fn matches_a_hash_map_through_merges() {
        let keys: Vec<BlobHash> = (0..20_000).map(key).collect();
        against_a_model(&keys, 60_000);
    }

    /// Keys that share their first 8 bytes (what a sorted entry keeps) are told apart by the
    /// key their records' headers name.
    #[test]
    fn keys_sharing_a_tag_stay_apart() {
        let keys: Vec<BlobHash> = (0..3000u32)
            .map(|i| {
                let mut k = key(i).0;
                // 30 tags with 100 keys each.
                k[..8].copy_from_slice(&u64::from(i % 30).to_be_bytes());
                BlobHash(k)
            })
            .collect();
        against_a_model(&keys, 20_000);
    }

    #[test]
    fn verified_bits_follow_their_entries_through_merges() {
        let headers = Headers::default();
        let keys: Vec<BlobHash> = (0..5000).map(key).collect();
        let mut index = Index::from_unique(keys.iter().map(|k| (*k, Loc::new(1, 64, 1))).collect());
        for k in keys.iter().step_by(2) {
            index.mark_verified(k, Loc::new(1, 64, 1));
        }
        // Enough new keys to force merges.
        for i in 5000..20_000 {
            index.insert(key(i), Loc::new(2, 64, 1), headers.at());
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                index.get_checked(k, headers.at()),
                Some((Loc::new(1, 64, 1), i % 2 == 0)),
                "key {i}"
            );
        }
        // A new location is not verified, and marking a stale location does nothing.
        index.insert(keys[0], Loc::new(3, 64, 1), headers.at());
        assert_eq!(
            index.get_checked(&keys[0], headers.at()),
            Some((Loc::new(3, 64, 1), false))
        );
        index.mark_verified(&keys[0], Loc::new(1, 64, 1));
        assert_eq!(
            index.get_checked(&keys[0], headers.at()),
            Some((Loc::new(3, 64, 1), false))
        );
        // Compaction moves a record only from where it still is.
        assert!(!index.relocate(&keys[0], Loc::new(1, 64, 1), Loc::new(4, 64, 1)));
        assert!(index.relocate(&keys[0], Loc::new(3, 64, 1), Loc::new(4, 64, 1)));
        assert_eq!(index.get(&keys[0], headers.at()), Some(Loc::new(4, 64, 1)));
    }

    /// Recent inserts (not yet merged into the sorted part) remember their check too: before,
    /// a newly imported page was checksummed on every read until the next merge.
    #[test]
    fn recent_inserts_stay_verified_and_carry_it_into_the_merge() {
        let headers = Headers::default();
        let mut index = Index::from_unique(vec![(key(0), Loc::new(1, 64, 1))]);
        index.insert(key(1), Loc::new(2, 64, 1), headers.at());
        assert_eq!(
            index.get_checked(&key(1), headers.at()),
            Some((Loc::new(2, 64, 1), false))
        );
        index.mark_verified(&key(1), Loc::new(9, 64, 1));
        assert_eq!(
            index.get_checked(&key(1), headers.at()),
            Some((Loc::new(2, 64, 1), false)),
            "a stale location"
        );
        index.mark_verified(&key(1), Loc::new(2, 64, 1));
        assert_eq!(
            index.get_checked(&key(1), headers.at()),
            Some((Loc::new(2, 64, 1), true))
        );
        for i in 2..10_000 {
            index.insert(key(i), Loc::new(3, 64, 1), headers.at());
        }
        assert_eq!(
            index.get_checked(&key(1), headers.at()),
            Some((Loc::new(2, 64, 1), true)),
            "after merges"
        );
        assert_eq!(
            index.get_checked(&key(2), headers.at()).map(|(_, v)| v),
            Some(false)
        );
    }

    #[test]
    fn entries_stay_small() {
        assert_eq!(size_of::<Entry>(), 20);
    }
}
