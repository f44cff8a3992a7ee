//! The in-memory index: posting lists (roaring bitmaps) per tag and per title key, columns for
//! numbers and dates, built from the database once and then kept current from the change feed:
//! a write touches only the galleries it changed.

use std::collections::{BTreeMap, HashMap, HashSet};

use db::{Db, IndexRow, TagName};
use roaring::RoaringBitmap;

use crate::query::{Expr, Field, Pattern, Query, SortKey, Term};
use crate::text::{fold, is_cjk, keys};

/// One gallery as the index holds it. Document numbers are dense and never reused.
#[derive(Debug, Clone)]
struct Doc {
    id: i64,
    title: String,
    title_original: String,
    pages: u32,
    bytes: u64,
    added: i64,
    posted: Option<i64>,
    tags: Vec<i64>,
}

#[derive(Debug, Clone)]
struct TagEntry {
    name: TagName,
    postings: RoaringBitmap,
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

/// The search index.
#[derive(Debug, Default)]
pub struct Index {
    docs: Vec<Option<Doc>>,
    doc_of: HashMap<i64, u32>,
    alive: RoaringBitmap,
    trashed: RoaringBitmap,
    untagged: RoaringBitmap,
    tags: HashMap<i64, TagEntry>,
    /// (namespace, name) → tag id, for prefix and wildcard lookups.
    by_name: BTreeMap<(String, String), i64>,
    /// name → tag ids in any namespace.
    by_bare_name: BTreeMap<String, Vec<i64>>,
    /// Title keys (words, CJK characters and pairs) → documents.
    title_keys: HashMap<String, RoaringBitmap>,
    /// The same keys, sorted, for prefix and wildcard lookups of words.
    title_words: BTreeMap<String, ()>,
    /// alias → canonical.
    canonical: HashMap<i64, i64>,
    /// parent → children.
    children: HashMap<i64, Vec<i64>>,
    /// The last change-feed entry applied.
    pub seq: i64,
}

/// A gallery's title keys: both titles, folded.
fn doc_keys(d: &Doc) -> Vec<String> {
    let mut k = keys(&d.title);
    k.extend(keys(&d.title_original));
    k.sort_unstable();
    k.dedup();
    k
}

impl Index {
    /// Builds the index from the database.
    pub fn build(db: &Db) -> db::Result<Self> {
        let mut index = Self {
            seq: db.changes().latest()?,
            ..Self::default()
        };
        index.load_tags(db)?;
        let mut after = 0;
        loop {
            let rows = db.galleries().index_rows(after, 20_000)?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            for r in rows {
                index.upsert(r);
            }
        }
        Ok(index)
    }

    fn load_tags(&mut self, db: &Db) -> db::Result<()> {
        let mut ids: HashMap<TagName, i64> = HashMap::new();
        for (id, name) in db.tags().all()? {
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

    fn add_tag(&mut self, id: i64, name: TagName) {
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
            for r in rows {
                self.upsert(r);
            }
            applied += changes.len();
        }
    }

    fn remove(&mut self, id: i64) {
        let Some(&doc) = self.doc_of.get(&id) else {
            return;
        };
        if let Some(old) = self.docs[doc as usize].take() {
            for t in &old.tags {
                if let Some(e) = self.tags.get_mut(t) {
                    e.postings.remove(doc);
                }
            }
            for k in doc_keys(&old) {
                if let Some(p) = self.title_keys.get_mut(&k) {
                    p.remove(doc);
                }
            }
        }
        self.alive.remove(doc);
        self.trashed.remove(doc);
        self.untagged.remove(doc);
    }

    /// Adds or replaces a gallery.
    pub fn upsert(&mut self, r: IndexRow) {
        self.remove(r.id);
        let doc = match self.doc_of.get(&r.id) {
            Some(&d) => d,
            None => {
                let d = self.docs.len() as u32;
                self.docs.push(None);
                self.doc_of.insert(r.id, d);
                d
            }
        };
        let d = Doc {
            id: r.id,
            title: fold(&r.title),
            title_original: fold(&r.title_original),
            pages: r.page_count,
            bytes: r.total_bytes,
            added: r.added_at,
            posted: r.posted_at,
            tags: r.tags,
        };
        for t in &d.tags {
            if let Some(e) = self.tags.get_mut(t) {
                e.postings.insert(doc);
            }
        }
        for k in doc_keys(&d) {
            if !k.chars().any(is_cjk) {
                self.title_words.insert(k.clone(), ());
            }
            self.title_keys.entry(k).or_default().insert(doc);
        }
        if d.tags.is_empty() {
            self.untagged.insert(doc);
        }
        if r.trashed {
            self.trashed.insert(doc);
        }
        self.alive.insert(doc);
        self.docs[doc as usize] = Some(d);
    }

    /// Tags matching a pattern, in one namespace or any.
    fn tags_matching(&self, namespace: Option<&str>, p: &Pattern) -> Vec<i64> {
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
    fn tag_postings(&self, tags: Vec<i64>) -> RoaringBitmap {
        let mut seen: HashSet<i64> = HashSet::new();
        let mut stack: Vec<i64> = tags;
        let mut out = RoaringBitmap::new();
        while let Some(t) = stack.pop() {
            if !seen.insert(t) {
                continue;
            }
            if let Some(e) = self.tags.get(&t) {
                out |= &e.postings;
            }
            if let Some(&c) = self.canonical.get(&t) {
                stack.push(c);
            }
            if let Some(children) = self.children.get(&t) {
                stack.extend(children);
            }
        }
        out
    }

    fn title_matching(&self, p: &Pattern) -> RoaringBitmap {
        if p.text.chars().any(is_cjk) {
            return self.substring(&p.text);
        }
        let wild = p.text.contains(['*', '?']);
        if !wild {
            // A whole title word (a bare word also matches as a tag prefix, below).
            return self.title_keys.get(&p.text).cloned().unwrap_or_default();
        }
        let prefix = p.literal_prefix();
        let mut out = RoaringBitmap::new();
        for (w, ()) in self.title_words.range(prefix.to_string()..) {
            if !w.starts_with(prefix) {
                break;
            }
            if crate::text::glob(&p.text, w)
                && let Some(b) = self.title_keys.get(w)
            {
                out |= b;
            }
        }
        out
    }

    /// Galleries whose (folded) titles contain `text`: candidates from the keys, then checked.
    fn substring(&self, text: &str) -> RoaringBitmap {
        let mut candidates: Option<RoaringBitmap> = None;
        for k in keys(text) {
            let b = self.title_keys.get(&k).cloned().unwrap_or_default();
            candidates = Some(match candidates {
                Some(c) => c & b,
                None => b,
            });
        }
        let candidates = candidates.unwrap_or_else(|| self.alive.clone());
        candidates
            .iter()
            .filter(|&d| {
                self.docs[d as usize].as_ref().is_some_and(|doc| {
                    doc.title.contains(text) || doc.title_original.contains(text)
                })
            })
            .collect()
    }

    fn range(&self, field: Field, min: i64, max: i64) -> RoaringBitmap {
        self.alive
            .iter()
            .filter(|&d| {
                let Some(doc) = self.docs[d as usize].as_ref() else {
                    return false;
                };
                let v = match field {
                    Field::Pages => Some(i64::from(doc.pages)),
                    Field::Size => Some(doc.bytes as i64),
                    Field::Added => Some(doc.added),
                    Field::Posted => doc.posted,
                };
                v.is_some_and(|v| (min..=max).contains(&v))
            })
            .collect()
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

    fn mentions_trash(e: &Expr) -> bool {
        match e {
            Expr::Term(Term::Trash) => true,
            Expr::And(v) | Expr::Or(v) => v.iter().any(Self::mentions_trash),
            Expr::Not(x) => Self::mentions_trash(x),
            _ => false,
        }
    }

    /// The galleries a query matches, `limit` of them from `offset`, in its order.
    pub fn search(&self, q: &Query, viewer: Viewer, offset: usize, limit: usize) -> Results {
        let universe = if viewer.admin && Self::mentions_trash(&q.expr) {
            self.alive.clone()
        } else {
            &self.alive - &self.trashed
        };
        let matched = self.eval(&q.expr, &universe);
        let total = matched.len();
        let mut docs: Vec<u32> = matched.iter().collect();
        self.order(&mut docs, q);
        let ids = docs
            .into_iter()
            .skip(offset)
            .take(limit)
            .filter_map(|d| self.docs[d as usize].as_ref().map(|doc| doc.id))
            .collect();
        Results { ids, total }
    }

    fn first_tag_in(&self, doc: &Doc, ns: &str) -> Option<String> {
        doc.tags
            .iter()
            .filter_map(|t| self.tags.get(t))
            .filter(|e| e.name.namespace == ns)
            .map(|e| e.name.name.clone())
            .min()
    }

    /// Sorts documents; ties (and galleries without the key) by gallery id, so the order is
    /// stable.
    fn order(&self, docs: &mut [u32], q: &Query) {
        let doc = |d: &u32| self.docs[*d as usize].as_ref();
        let desc = q.sort.descending;
        let dir = |o: std::cmp::Ordering| if desc { o.reverse() } else { o };
        match &q.sort.key {
            SortKey::Added => docs.sort_by(|a, b| {
                let (x, y) = (doc(a), doc(b));
                dir(x.map(|d| (d.added, d.id)).cmp(&y.map(|d| (d.added, d.id))))
            }),
            SortKey::Posted => docs.sort_by(|a, b| {
                let (x, y) = (doc(a), doc(b));
                dir(x
                    .map(|d| (d.posted, d.id))
                    .cmp(&y.map(|d| (d.posted, d.id))))
            }),
            SortKey::Pages => docs.sort_by(|a, b| {
                dir(doc(a)
                    .map(|d| (d.pages, d.id))
                    .cmp(&doc(b).map(|d| (d.pages, d.id))))
            }),
            SortKey::Size => docs.sort_by(|a, b| {
                dir(doc(a)
                    .map(|d| (d.bytes, d.id))
                    .cmp(&doc(b).map(|d| (d.bytes, d.id))))
            }),
            SortKey::Title => docs.sort_by(|a, b| {
                dir(doc(a)
                    .map(|d| (&d.title, d.id))
                    .cmp(&doc(b).map(|d| (&d.title, d.id))))
            }),
            SortKey::Random => fastrand::shuffle(docs),
            SortKey::Namespace(ns) => {
                let mut keyed: Vec<(Option<String>, i64, u32)> = docs
                    .iter()
                    .map(|d| {
                        let x = doc(d);
                        (
                            x.and_then(|x| self.first_tag_in(x, ns)),
                            x.map_or(0, |x| x.id),
                            *d,
                        )
                    })
                    .collect();
                // Galleries without a tag of the namespace go last either way.
                keyed.sort_by(|a, b| match (&a.0, &b.0) {
                    (Some(x), Some(y)) => dir((x, a.1).cmp(&(y, b.1))),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => a.1.cmp(&b.1),
                });
                for (slot, k) in docs.iter_mut().zip(keyed) {
                    *slot = k.2;
                }
            }
        }
    }

    /// How many galleries the index holds (trash included).
    pub fn len(&self) -> u64 {
        self.alive.len()
    }

    pub fn is_empty(&self) -> bool {
        self.alive.is_empty()
    }
}
