//! A slow search that is obviously right: every query term checked against every gallery, one at a
//! time, straight from the rows. The tests hold the index to it.

use std::collections::{HashMap, HashSet};

use db::{IndexRow, TagName, UserState};

use crate::query::{Expr, Field, Query, SortKey, Term};
use crate::text::{fold, is_cjk};

/// The library as plain data.
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub galleries: Vec<IndexRow>,
    pub tags: HashMap<i64, TagName>,
    /// (alias, canonical) by id.
    pub siblings: Vec<(i64, i64)>,
    /// (child, parent) by id.
    pub parents: Vec<(i64, i64)>,
}

impl Library {
    /// Tags a term's tags stand for: themselves, their canonical tags, and all their descendants,
    /// found by repeating until nothing new turns up.
    fn expand(&self, start: HashSet<i64>) -> HashSet<i64> {
        let mut all = start;
        loop {
            let mut next = all.clone();
            for &(alias, canonical) in &self.siblings {
                if all.contains(&alias) {
                    next.insert(canonical);
                }
            }
            for &(child, parent) in &self.parents {
                if all.contains(&parent) {
                    next.insert(child);
                }
            }
            if next.len() == all.len() {
                return all;
            }
            all = next;
        }
    }

    fn title_has_word(g: &IndexRow, p: &crate::query::Pattern) -> bool {
        let titles = [fold(&g.title), fold(&g.title_original)];
        if p.text.chars().any(is_cjk) {
            return titles.iter().any(|t| t.contains(&p.text));
        }
        let wild = p.text.contains(['*', '?']);
        titles.iter().any(|t| {
            t.split(|c: char| !c.is_alphanumeric() || is_cjk(c))
                .filter(|w| !w.is_empty())
                .any(|w| {
                    if wild {
                        crate::text::glob(&p.text, w)
                    } else {
                        w == p.text
                    }
                })
        })
    }

    fn matches(&self, g: &IndexRow, e: &Expr, state: Option<&UserState>, depth: u32) -> bool {
        match e {
            Expr::All => true,
            Expr::And(all) => all.iter().all(|x| self.matches(g, x, state, depth)),
            Expr::Or(any) => any.iter().any(|x| self.matches(g, x, state, depth)),
            Expr::Not(x) => !self.matches(g, x, state, depth),
            Expr::Term(t) => match t {
                Term::Word(p) => {
                    let direct: HashSet<i64> = self
                        .tags
                        .iter()
                        .filter(|(_, n)| p.matches(&n.name))
                        .map(|(id, _)| *id)
                        .collect();
                    let wanted = self.expand(direct);
                    Self::title_has_word(g, p) || g.tags.iter().any(|t| wanted.contains(t))
                }
                Term::Phrase(text) => {
                    fold(&g.title).contains(text.as_str())
                        || fold(&g.title_original).contains(text.as_str())
                }
                Term::Tag { namespace, name } => {
                    let direct: HashSet<i64> = self
                        .tags
                        .iter()
                        .filter(|(_, n)| n.namespace == *namespace && name.matches(&n.name))
                        .map(|(id, _)| *id)
                        .collect();
                    let wanted = self.expand(direct);
                    g.tags.iter().any(|t| wanted.contains(t))
                }
                Term::Range { field, min, max } => {
                    let v = match field {
                        Field::Pages => Some(i64::from(g.page_count)),
                        Field::Size => Some(g.total_bytes as i64),
                        Field::Added => Some(g.added_at),
                        Field::Posted => g.posted_at,
                    };
                    v.is_some_and(|v| *min <= v && v <= *max)
                }
                Term::Untagged => g.tags.is_empty(),
                Term::Trash => g.trashed,
                Term::Read => state.is_some_and(|s| s.read.contains(&g.id)),
                Term::Favorite => state.is_some_and(|s| s.favorites.contains(&g.id)),
                Term::InCollection(name) => {
                    let Some((_, saved, picked)) =
                        state.and_then(|s| s.collections.iter().find(|c| fold(&c.0) == *name))
                    else {
                        return false;
                    };
                    match saved {
                        None => picked.contains(&g.id),
                        Some(text) if depth < 4 => crate::query::parse(text)
                            .is_ok_and(|q| self.matches(g, &q.expr, state, depth + 1)),
                        Some(_) => false,
                    }
                }
            },
        }
    }

    /// All matching gallery ids in the query's order (random order: by id).
    pub fn search(&self, q: &Query, admin: bool) -> Vec<i64> {
        self.search_as(q, admin, None)
    }

    /// [`Library::search`] for a user with this state.
    pub fn search_as(&self, q: &Query, admin: bool, state: Option<&UserState>) -> Vec<i64> {
        let with_trash = admin && q.expr.mentions_trash();
        let mut hits: Vec<&IndexRow> = self
            .galleries
            .iter()
            .filter(|g| (with_trash || !g.trashed) && self.matches(g, &q.expr, state, 0))
            .collect();
        let desc = q.sort.descending;
        let first_in = |g: &IndexRow, ns: &str| -> Option<String> {
            g.tags
                .iter()
                .filter_map(|t| self.tags.get(t))
                .filter(|n| n.namespace == ns)
                .map(|n| n.name.clone())
                .min()
        };
        match &q.sort.key {
            SortKey::Random => hits.sort_by_key(|g| g.id),
            SortKey::Namespace(ns) => {
                let (with, without): (Vec<&IndexRow>, Vec<&IndexRow>) =
                    hits.into_iter().partition(|g| first_in(g, ns).is_some());
                let mut with = with;
                with.sort_by_key(|g| (first_in(g, ns), g.id));
                if desc {
                    with.reverse();
                }
                let mut without = without;
                without.sort_by_key(|g| g.id);
                hits = with.into_iter().chain(without).collect();
            }
            key => {
                hits.sort_by(|a, b| {
                    let o = match key {
                        SortKey::Title => (fold(&a.title), a.id).cmp(&(fold(&b.title), b.id)),
                        SortKey::Posted => (a.posted_at, a.id).cmp(&(b.posted_at, b.id)),
                        SortKey::Pages => (a.page_count, a.id).cmp(&(b.page_count, b.id)),
                        SortKey::Size => (a.total_bytes, a.id).cmp(&(b.total_bytes, b.id)),
                        _ => (a.added_at, a.id).cmp(&(b.added_at, b.id)),
                    };
                    if desc { o.reverse() } else { o }
                });
            }
        }
        hits.into_iter().map(|g| g.id).collect()
    }
}
