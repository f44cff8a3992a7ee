//! What the search index reads of the galleries: a few columns per gallery, borrowed from the
//! database's row buffer when the whole library is read at once.

use super::*;

/// What the search index keeps of a gallery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRow {
    pub id: i64,
    pub title: String,
    pub title_original: String,
    pub page_count: u32,
    pub total_bytes: u64,
    pub added_at: i64,
    pub posted_at: Option<i64>,
    pub trashed: bool,
    /// Tag ids, ascending.
    pub tags: Vec<i64>,
}

impl From<&IndexRowRef<'_>> for IndexRow {
    fn from(r: &IndexRowRef<'_>) -> Self {
        Self {
            id: r.id,
            title: r.title.to_string(),
            title_original: r.title_original.to_string(),
            page_count: r.page_count,
            total_bytes: r.total_bytes,
            added_at: r.added_at,
            posted_at: r.posted_at,
            trashed: r.trashed,
            tags: r.tags.to_vec(),
        }
    }
}

/// Calls `f` with the index rows of the galleries in `after + 1 ..= upto`, by id, the first
/// `limit`.
pub(super) fn for_each_index_row(
    c: &mut dyn Sql,
    after: i64,
    upto: i64,
    limit: i64,
    f: &mut dyn FnMut(&IndexRowRef<'_>),
) -> Result<()> {
    let mut tags: Vec<i64> = Vec::new();
    c.query_each(
        &format!(
            "SELECT {INDEX_COLUMNS} FROM galleries WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
        ),
        &[Param::Int(after), Param::Int(upto), Param::Int(limit)],
        &mut |r| {
            tags::unpack_tag_ids_into(r.bytes(8)?, &mut tags)?;
            f(&IndexRowRef {
                id: r.int(0)?,
                title: r.str(1)?,
                title_original: r.str(2)?,
                page_count: r.int(3)? as u32,
                total_bytes: r.int(4)? as u64,
                added_at: r.int(5)?,
                posted_at: r.opt_int(6)?,
                trashed: r.opt_int(7)?.is_some(),
                tags: &tags,
            });
            Ok(())
        },
    )
}

/// [`IndexRow`], borrowed from the row being read.
#[derive(Debug, Clone, Copy)]
pub struct IndexRowRef<'a> {
    pub id: i64,
    pub title: &'a str,
    pub title_original: &'a str,
    pub page_count: u32,
    pub total_bytes: u64,
    pub added_at: i64,
    pub posted_at: Option<i64>,
    pub trashed: bool,
    /// Tag ids, ascending.
    pub tags: &'a [i64],
}

pub(super) const INDEX_COLUMNS: &str =
    "id, title, title_original, page_count, total_bytes, added_at, posted_at, trashed_at, tag_ids";

pub(super) fn index_row(mut r: Row) -> Result<IndexRow> {
    Ok(IndexRow {
        id: r.int(0)?,
        title: r.take_text(1)?,
        title_original: r.take_text(2)?,
        page_count: r.int(3)? as u32,
        total_bytes: r.int(4)? as u64,
        added_at: r.int(5)?,
        posted_at: r.opt_int(6)?,
        trashed: r.opt_int(7)?.is_some(),
        tags: tags::unpack_tag_ids(&r.blob(8)?)?
            .into_iter()
            .map(|(t, _)| t)
            .collect(),
    })
}

impl Galleries<'_> {
    /// The lowest and highest gallery id, if there is any gallery.
    pub fn id_bounds(&self) -> Result<Option<(i64, i64)>> {
        self.db.read(|c| {
            let r = c.query_opt("SELECT MIN(id), MAX(id) FROM galleries", &[])?;
            Ok(match r {
                Some(r) => r.opt_int(0)?.zip(r.opt_int(1)?),
                None => None,
            })
        })
    }

    /// Galleries for the search index, by id: those in `after + 1 ..= upto`, the first `limit`.
    pub fn index_rows(&self, after: i64, upto: i64, limit: usize) -> Result<Vec<IndexRow>> {
        let mut out = Vec::new();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db.read(|c| {
            for_each_index_row(c, after, upto, limit, &mut |r| out.push(IndexRow::from(r)))
        })?;
        Ok(out)
    }

    /// Calls `f` with the index row of each gallery in `after + 1 ..= upto`, by id. One query
    /// on a connection of its own (see `Db::scan`); nothing is allocated per row.
    pub fn scan_index_rows(
        &self,
        after: i64,
        upto: i64,
        mut f: impl FnMut(&IndexRowRef<'_>),
    ) -> Result<()> {
        self.db
            .scan(|c| for_each_index_row(c, after, upto, i64::MAX, &mut f))
    }

    /// The index rows of these galleries (those that still exist).
    pub fn index_rows_of(&self, ids: &[i64]) -> Result<Vec<IndexRow>> {
        self.db.read(|c| {
            let mut out = Vec::with_capacity(ids.len());
            for chunk in ids.chunks(1000) {
                let sql = format!(
                    "SELECT {INDEX_COLUMNS} FROM galleries WHERE id IN {}",
                    placeholders(chunk.len())
                );
                let params: Vec<Param<'_>> = chunk.iter().map(|&i| Param::Int(i)).collect();
                for r in c.query(&sql, &params)? {
                    out.push(index_row(r)?);
                }
            }
            Ok(out)
        })
    }
}
