//! Answering a query: each term matched against the tags, the title keys and the columns,
//! the expression evaluated over posting lists (saved searches expanded, within a time budget),
//! and the matches put in the query's order.

use super::keys::Postings;
use super::*;
use crate::prefetch::prefetch;

/// Titles to check for a substring above which the checking is split over two threads.
const PARALLEL_CHECKS: u64 = 20_000;

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

impl Index {
    /// The galleries of a title key, as a set.
    fn key_set(&self, key: &str) -> RoaringBitmap {
        self.keys
            .postings(key)
            .map(|p| p.set().into_owned())
            .unwrap_or_default()
    }

    /// Tags matching a pattern, in one namespace or any.
    pub(super) fn tags_matching(&self, namespace: Option<&str>, p: &Pattern) -> Vec<u32> {
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
    pub(super) fn tags_in_namespaces_starting(&self, typed: &str) -> Vec<u32> {
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
            return self.key_set(&p.text);
        }
        // The matching words' sets, and the documents of those in one title only (most words)
        // gathered into one set.
        let prefix = p.literal_prefix();
        let (mut sets, mut single) = (Vec::new(), Vec::new());
        for (_, id) in self
            .keys
            .words_starting(prefix)
            .filter(|(w, _)| crate::text::glob(&p.text, w))
        {
            match self.keys.postings_of(id) {
                Some(Postings::Many(set)) => sets.push(set),
                Some(Postings::One(doc)) => single.push(doc),
                None => {}
            }
        }
        single.sort_unstable();
        single.dedup();
        let single = RoaringBitmap::from_sorted_iter(single).unwrap_or_default();
        sets.push(&single);
        union(sets)
    }

    /// Galleries whose (folded) titles contain `text`: candidates from the keys, then checked.
    fn substring(&self, text: &str) -> RoaringBitmap {
        // One or two CJK characters are a key themselves: its galleries are exactly those.
        if text.chars().count() <= 2 && text.chars().all(is_cjk) {
            return self.key_set(text);
        }
        // Candidates: galleries with every key of the text (a CJK character inside one of the
        // text's pairs adds nothing to the pair), smallest posting list first.
        let keys = keys_of(text);
        let in_pair = |k: &str| {
            k.chars().count() == 1 && keys.iter().any(|p| p.len() > k.len() && p.contains(k))
        };
        let mut lists: Vec<Postings<'_>> = Vec::new();
        for k in keys
            .iter()
            .filter(|k| !(k.chars().all(is_cjk) && in_pair(k)))
        {
            match self.keys.postings(k) {
                Some(p) => lists.push(p),
                None => return RoaringBitmap::new(),
            }
        }
        lists.sort_by_key(|p| p.len());
        let mut lists = lists.into_iter();
        let candidates = match lists.next() {
            Some(first) => lists.fold(first.set().into_owned(), |acc, p| acc & &*p.set()),
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
        // already chose them), so the misses are the short list to build. Titles lie scattered,
        // and each check would wait for its own cache and TLB miss (about 110 ns at a million
        // galleries, against 9 ns for titles lying together): the span of the candidate
        // `2 * AHEAD` on and the text of the one `AHEAD` on are asked for in advance, so that the
        // misses overlap (at a million galleries the slowest Japanese word went from 10–11 ms to
        // 3–4 ms).
        let misses = |range: std::ops::Range<u32>| {
            const AHEAD: usize = 12;
            let docs: Vec<u32> = candidates.range(range).collect();
            let (spans, text) = (&self.titles.spans, self.titles.text.as_bytes());
            for &d in docs.iter().take(2 * AHEAD) {
                prefetch(&spans[d as usize]);
            }
            let missed = docs.iter().enumerate().filter_map(|(i, &d)| {
                if let Some(&far) = docs.get(i + 2 * AHEAD) {
                    prefetch(&spans[far as usize]);
                }
                if let Some(&near) = docs.get(i + AHEAD) {
                    let [a, _, _, e] = spans[near as usize];
                    if let Some(first) = text.get(a as usize) {
                        prefetch(first);
                    }
                    if let Some(last) = text.get((e as usize).saturating_sub(1)) {
                        prefetch(last);
                    }
                }
                (!hit(d)).then_some(d)
            });
            RoaringBitmap::from_sorted_iter(missed).unwrap_or_default()
        };
        // Many titles to check: half on another thread.
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
        // In id order, each binary search follows much of the path of the one before it (cached).
        let mut ids = ids.unwrap_or_default().to_vec();
        ids.sort_unstable();
        let mut docs: Vec<u32> = ids.iter().filter_map(|&id| self.doc_of(id)).collect();
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::tests::row;

    /// Enough candidates for the checking to be split over two threads and prefetched ahead:
    /// hits, titles with every pair of the text but not the text, and finds that straddle the
    /// title and the original title, spread over both halves.
    #[test]
    fn a_long_substring_check_finds_exactly_the_titles_that_contain_the_text() {
        let mut index = Index::default();
        let mut expected = Vec::new();
        for id in 1..=(PARALLEL_CHECKS as i64 + 10_000) {
            let (title, original) = match id % 5 {
                0 => (format!("({id}) お姉ちゃん 第{id}巻"), String::new()),
                1 => (
                    format!("お姉さん {id} ちゃんと"),
                    "姉ち お姉ちゃ".to_string(),
                ),
                2 => (format!("[{id}] 物語 お姉ち"), "ゃん ちゃ".to_string()),
                3 => (format!("{id}"), format!("本 お姉ちゃん{id}")),
                _ => (format!("お姉ちゃ{id}ん"), "姉ちゃん".to_string()),
            };
            if title.contains("お姉ちゃん") || original.contains("お姉ちゃん") {
                expected.push(id);
            }
            index.upsert(row(id, &title, &original));
        }
        let found: Vec<i64> = index
            .substring("お姉ちゃん")
            .iter()
            .map(|d| index.gallery[d as usize])
            .collect();
        assert!(expected.len() as u64 >= PARALLEL_CHECKS / 3);
        assert_eq!(found, expected);
    }
}
