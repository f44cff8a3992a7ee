//! The in-memory index: blob hash → where its live record is.
//!
//! One million blobs must fit in well under 64 MB, so the bulk of the index is a sorted `Vec` of
//! 44-byte entries searched by binary search, and only recent inserts live in a small hash map that
//! is merged into the sorted part now and then (amortised O(1) per insert).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::hash::BlobHash;

/// Where a live blob's record is. Offsets are stored in units of 8 bytes, which bounds a volume at
/// 32 GiB; lengths are stored as `u32`, which bounds a blob at 4 GiB − 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: [u8; 32],
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
        // Same size and alignment: this collect reuses the allocation.
        let sorted: Vec<Entry> = pairs
            .into_iter()
            .map(|(k, loc)| Entry { key: k.0, loc })
            .collect();
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

    fn prefix(key: &[u8; 32], bits: u32) -> usize {
        if bits == 0 {
            return 0;
        }
        let mut a = [0u8; 4];
        a.copy_from_slice(&key[..4]);
        (u32::from_be_bytes(a) >> (32 - bits)) as usize
    }

    /// About eight entries per directory slot, at most 2^20 slots.
    fn rebuild_directory(&mut self) {
        let bits = (self.sorted.len() / 8).checked_ilog2().unwrap_or(0).min(20);
        let slots = 1usize << bits;
        let mut directory = Vec::with_capacity(slots + 1);
        let mut at = 0usize;
        for p in 0..slots {
            while at < self.sorted.len() && Self::prefix(&self.sorted[at].key, bits) < p {
                at += 1;
            }
            directory.push(at as u32);
        }
        directory.push(self.sorted.len() as u32);
        self.directory = directory;
        self.directory_bits = bits;
    }

    fn find_sorted(&self, key: &BlobHash) -> Result<usize, usize> {
        if self.directory.is_empty() {
            return Err(0);
        }
        let p = Self::prefix(&key.0, self.directory_bits);
        let (lo, hi) = (self.directory[p] as usize, self.directory[p + 1] as usize);
        match self.sorted[lo..hi].binary_search_by(|e| e.key.cmp(&key.0)) {
            Ok(i) => Ok(lo + i),
            Err(i) => Err(lo + i),
        }
    }

    /// The location of `key`, if it is live.
    pub fn get(&self, key: &BlobHash) -> Option<Loc> {
        self.get_checked(key).map(|(loc, _)| loc)
    }

    /// The location of `key`, if live, and whether its payload has been verified already.
    pub fn get_checked(&self, key: &BlobHash) -> Option<(Loc, bool)> {
        if let Some(r) = self.recent.get(&key.0) {
            return Some((r.loc, r.verified.load(Ordering::Relaxed)));
        }
        let i = self.find_sorted(key).ok()?;
        let loc = self.sorted[i].loc;
        (loc.volume != DEAD).then(|| {
            (
                loc,
                self.verified[i / 64].load(Ordering::Relaxed) & (1 << (i % 64)) != 0,
            )
        })
    }

    /// Records that the payload of `key` at `loc` was verified. Needs only a shared reference.
    pub fn mark_verified(&self, key: &BlobHash, loc: Loc) {
        if let Some(r) = self.recent.get(&key.0) {
            if r.loc == loc {
                r.verified.store(true, Ordering::Relaxed);
            }
            return;
        }
        if let Ok(i) = self.find_sorted(key)
            && self.sorted[i].loc == loc
        {
            self.verified[i / 64].fetch_or(1 << (i % 64), Ordering::Relaxed);
        }
    }

    fn clear_verified(&self, i: usize) {
        self.verified[i / 64].fetch_and(!(1 << (i % 64)), Ordering::Relaxed);
    }

    /// Sets the location of `key`, returning the previous one.
    pub fn insert(&mut self, key: BlobHash, loc: Loc) -> Option<Loc> {
        if let Ok(i) = self.find_sorted(&key) {
            self.clear_verified(i);
            let old = std::mem::replace(&mut self.sorted[i].loc, loc);
            if old.volume == DEAD {
                self.dead_in_sorted -= 1;
                return None;
            }
            return Some(old);
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

    /// Removes `key`, returning where it was.
    pub fn remove(&mut self, key: &BlobHash) -> Option<Loc> {
        if let Some(r) = self.recent.remove(&key.0) {
            return Some(r.loc);
        }
        let i = self.find_sorted(key).ok()?;
        self.clear_verified(i);
        let entry = &mut self.sorted[i];
        if entry.loc.volume == DEAD {
            return None;
        }
        let old = std::mem::replace(
            &mut entry.loc,
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
        Some(old)
    }

    /// Folds the recent inserts into the sorted part and drops deleted entries, carrying the
    /// verified bits along.
    fn merge(&mut self) {
        let mut recent: Vec<(Entry, bool)> = self
            .recent
            .drain()
            .map(|(key, r)| (Entry { key, loc: r.loc }, r.verified.into_inner()))
            .collect();
        recent.sort_unstable_by_key(|(e, _)| e.key);
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
                (Some((_, x)), Some((y, _))) => x.key < y.key,
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

    /// Every live (key, location), in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (BlobHash, Loc)> + '_ {
        self.sorted
            .iter()
            .filter(|e| e.loc.volume != DEAD)
            .map(|e| (BlobHash(e.key), e.loc))
            .chain(self.recent.iter().map(|(k, r)| (BlobHash(*k), r.loc)))
    }

    /// Up to `limit` live keys greater than `after`, in ascending order.
    pub fn keys_after(&self, after: Option<&BlobHash>, limit: usize) -> Vec<BlobHash> {
        let start = match after {
            None => 0,
            Some(k) => match self.find_sorted(k) {
                Ok(i) => i + 1,
                Err(i) => i,
            },
        };
        let mut out: Vec<BlobHash> = self.sorted[start..]
            .iter()
            .filter(|e| e.loc.volume != DEAD)
            .take(limit)
            .map(|e| BlobHash(e.key))
            .collect();
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

    #[test]
    fn matches_a_hash_map_through_merges() {
        let mut model = std::collections::HashMap::new();
        let mut index =
            Index::from_unique((0..1000).map(|i| (key(i), Loc::new(1, 64, i))).collect());
        for i in 0..1000 {
            model.insert(key(i), Loc::new(1, 64, i));
        }
        let mut rng = fastrand::Rng::with_seed(7);
        for step in 0..60_000u32 {
            let k = key(rng.u32(0..20_000));
            if rng.bool() {
                let loc = Loc::new(2, 8 * u64::from(step), step);
                assert_eq!(index.insert(k, loc), model.insert(k, loc));
            } else {
                assert_eq!(index.remove(&k), model.remove(&k));
            }
            assert_eq!(index.len(), model.len());
        }
        for (k, loc) in &model {
            assert_eq!(index.get(k), Some(*loc));
        }
        let mut all: Vec<_> = index.iter().map(|(k, _)| k).collect();
        all.sort();
        let mut expected: Vec<_> = model.keys().copied().collect();
        expected.sort();
        assert_eq!(all, expected);
        let page = index.keys_after(Some(&expected[10]), 5);
        assert_eq!(page, expected[11..16].to_vec());
    }

    #[test]
    fn verified_bits_follow_their_entries_through_merges() {
        let keys: Vec<BlobHash> = (0..5000).map(key).collect();
        let mut index = Index::from_unique(keys.iter().map(|k| (*k, Loc::new(1, 64, 1))).collect());
        for k in keys.iter().step_by(2) {
            index.mark_verified(k, Loc::new(1, 64, 1));
        }
        // Enough new keys to force merges.
        for i in 5000..20_000 {
            index.insert(key(i), Loc::new(2, 64, 1));
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                index.get_checked(k),
                Some((Loc::new(1, 64, 1), i % 2 == 0)),
                "key {i}"
            );
        }
        // A new location is not verified, and marking a stale location does nothing.
        index.insert(keys[0], Loc::new(3, 64, 1));
        assert_eq!(
            index.get_checked(&keys[0]),
            Some((Loc::new(3, 64, 1), false))
        );
        index.mark_verified(&keys[0], Loc::new(1, 64, 1));
        assert_eq!(
            index.get_checked(&keys[0]),
            Some((Loc::new(3, 64, 1), false))
        );
    }

    /// Recent inserts (not yet merged into the sorted part) remember their check too: before,
    /// a newly imported page was checksummed on every read until the next merge.
    #[test]
    fn recent_inserts_stay_verified_and_carry_it_into_the_merge() {
        let mut index = Index::from_unique(vec![(key(0), Loc::new(1, 64, 1))]);
        index.insert(key(1), Loc::new(2, 64, 1));
        assert_eq!(
            index.get_checked(&key(1)),
            Some((Loc::new(2, 64, 1), false))
        );
        index.mark_verified(&key(1), Loc::new(9, 64, 1));
        assert_eq!(
            index.get_checked(&key(1)),
            Some((Loc::new(2, 64, 1), false)),
            "a stale location"
        );
        index.mark_verified(&key(1), Loc::new(2, 64, 1));
        assert_eq!(index.get_checked(&key(1)), Some((Loc::new(2, 64, 1), true)));
        for i in 2..10_000 {
            index.insert(key(i), Loc::new(3, 64, 1));
        }
        assert_eq!(
            index.get_checked(&key(1)),
            Some((Loc::new(2, 64, 1), true)),
            "after merges"
        );
        assert_eq!(index.get_checked(&key(2)).map(|(_, v)| v), Some(false));
    }

    #[test]
    fn entries_stay_small() {
        assert_eq!(size_of::<Entry>(), 44);
    }
}
