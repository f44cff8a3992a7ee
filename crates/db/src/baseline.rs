//! The straightforward SQL search that `bench search` measures the search index against: joins
//! and subqueries over `gallery_tags`, `LIKE` over titles, as a search without an index of its
//! own would do it. Nothing else uses it.

use crate::Db;
use crate::error::Result;
use crate::sql::{Param, placeholders};
use crate::tags::TagName;

/// A query of the benchmark's mix, in SQL's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineQuery {
    /// Galleries with all of `all` and none of `none` (tag ids).
    Tags { all: Vec<i64>, none: Vec<i64> },
    /// Galleries with any of `any` and all of `all`.
    AnyOf { any: Vec<i64>, all: Vec<i64> },
    /// Galleries with a tag of the namespace whose name starts with the prefix.
    TagPrefix { namespace: String, prefix: String },
    /// Galleries whose titles contain the text.
    Title(String),
    /// Galleries with a title word starting with the text (at the title's start or after a
    /// space: what `LIKE` can say of a word).
    TitleWordPrefix(String),
    /// Galleries with a page count in the range.
    Pages(i64, i64),
    /// All galleries by title.
    ByTitle,
}

/// Baseline answers: the total, and the first page of gallery ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaselineResults {
    pub total: u64,
    pub ids: Vec<i64>,
}

/// `LIKE` text with its wildcards escaped by `!` (the same on SQLite and MySQL).
fn like_escape(s: &str) -> String {
    s.replace('!', "!!").replace('%', "!%").replace('_', "!_")
}

impl Db {
    /// Runs a baseline query: the total and the first `limit` ids, newest first (by title for
    /// [`BaselineQuery::ByTitle`]).
    pub fn baseline_search(&self, q: &BaselineQuery, limit: usize) -> Result<BaselineResults> {
        let texts: Vec<String>;
        let mut conditions: Vec<String> = vec!["g.trashed_at IS NULL".into()];
        let mut params: Vec<Param<'_>> = Vec::new();
        match q {
            BaselineQuery::Tags { all, none } => {
                for t in all {
                    conditions.push(
                        "g.id IN (SELECT gallery_id FROM gallery_tags WHERE tag_id = ?)".into(),
                    );
                    params.push(Param::Int(*t));
                }
                for t in none {
                    conditions.push(
                        "g.id NOT IN (SELECT gallery_id FROM gallery_tags WHERE tag_id = ?)".into(),
                    );
                    params.push(Param::Int(*t));
                }
            }
            BaselineQuery::AnyOf { any, all } => {
                conditions.push(format!(
                    "g.id IN (SELECT gallery_id FROM gallery_tags WHERE tag_id IN {})",
                    placeholders(any.len())
                ));
                params.extend(any.iter().map(|&t| Param::Int(t)));
                for t in all {
                    conditions.push(
                        "g.id IN (SELECT gallery_id FROM gallery_tags WHERE tag_id = ?)".into(),
                    );
                    params.push(Param::Int(*t));
                }
            }
            BaselineQuery::TagPrefix { namespace, prefix } => {
                texts = vec![namespace.clone(), format!("{}%", like_escape(prefix))];
                conditions.push(
                    "g.id IN (SELECT gt.gallery_id FROM gallery_tags gt JOIN tags t ON t.id = gt.tag_id \
                     WHERE t.namespace = ? AND t.name LIKE ? ESCAPE '!')"
                        .into(),
                );
                params.extend(texts.iter().map(|s| Param::Text(s)));
            }
            BaselineQuery::Title(text) => {
                // Case-insensitive on both backends (MySQL's binary collation would not be).
                texts = vec![format!("%{}%", like_escape(&text.to_lowercase()))];
                conditions.push(
                    "(LOWER(g.title) LIKE ? ESCAPE '!' OR LOWER(g.title_original) LIKE ? ESCAPE '!')".into(),
                );
                params.push(Param::Text(&texts[0]));
                params.push(Param::Text(&texts[0]));
            }
            BaselineQuery::TitleWordPrefix(text) => {
                let text = like_escape(&text.to_lowercase());
                texts = vec![format!("{text}%"), format!("% {text}%")];
                conditions.push(
                    "(LOWER(g.title) LIKE ? ESCAPE '!' OR LOWER(g.title) LIKE ? ESCAPE '!' \
                     OR LOWER(g.title_original) LIKE ? ESCAPE '!' \
                     OR LOWER(g.title_original) LIKE ? ESCAPE '!')"
                        .into(),
                );
                for _ in 0..2 {
                    params.push(Param::Text(&texts[0]));
                    params.push(Param::Text(&texts[1]));
                }
            }
            BaselineQuery::Pages(lo, hi) => {
                conditions.push("g.page_count BETWEEN ? AND ?".into());
                params.push(Param::Int(*lo));
                params.push(Param::Int(*hi));
            }
            BaselineQuery::ByTitle => {}
        }
        let order = match q {
            BaselineQuery::ByTitle => "g.title, g.id",
            _ => "g.added_at DESC, g.id DESC",
        };
        let filter = conditions.join(" AND ");
        self.read(|c| {
            let total = c
                .query_opt(
                    &format!("SELECT COUNT(*) FROM galleries g WHERE {filter}"),
                    &params,
                )?
                .map(|r| r.int(0))
                .transpose()?
                .unwrap_or(0) as u64;
            let mut page = params.clone();
            page.push(Param::Int(limit as i64));
            let ids = c
                .query(
                    &format!(
                        "SELECT g.id FROM galleries g WHERE {filter} ORDER BY {order} LIMIT ?"
                    ),
                    &page,
                )?
                .iter()
                .map(|r| r.int(0))
                .collect::<Result<_>>()?;
            Ok(BaselineResults { total, ids })
        })
    }

    /// Baseline autocomplete: tags whose names start with the prefix, most used first.
    pub fn baseline_suggest(&self, prefix: &str, limit: usize) -> Result<Vec<(TagName, u64)>> {
        let pattern = format!("{}%", like_escape(prefix));
        self.read(|c| {
            c.query(
                "SELECT t.namespace, t.name, COUNT(*) AS n FROM tags t JOIN gallery_tags gt ON gt.tag_id = t.id \
                 WHERE t.name LIKE ? ESCAPE '!' GROUP BY t.id, t.namespace, t.name ORDER BY n DESC LIMIT ?",
                &[Param::Text(&pattern), Param::Int(limit as i64)],
            )?
            .iter()
            .map(|r| Ok((crate::tags::tag_at(r, 0)?, r.int(2)? as u64)))
            .collect()
        })
    }
}
