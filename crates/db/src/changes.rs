//! The change feed: every write appends (sequence, gallery, kind), so that an in-memory index, or
//! another server sharing the database, catches up by reading what came after the last sequence it
//! saw, instead of rescanning the library.

use crate::error::Result;
use crate::sql::{Param, Sql};
use crate::{Db, now_ms};

/// What happened to a gallery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Created,
    Updated,
    Tags,
    Pages,
    Trashed,
    Restored,
    Purged,
    /// A tag sibling or parent was added or removed: no one gallery changed, but what searches
    /// find did. Recorded with gallery 0 ([`TAG_RULES_GALLERY`]).
    TagRules,
}

/// The gallery id a [`ChangeKind::TagRules`] entry carries: no gallery has it.
pub const TAG_RULES_GALLERY: i64 = 0;

impl ChangeKind {
    pub(crate) fn code(self) -> i64 {
        match self {
            Self::Created => 1,
            Self::Updated => 2,
            Self::Tags => 3,
            Self::Pages => 4,
            Self::Trashed => 5,
            Self::Restored => 6,
            Self::Purged => 7,
            Self::TagRules => 8,
        }
    }

    fn from_code(c: i64) -> Self {
        match c {
            1 => Self::Created,
            3 => Self::Tags,
            4 => Self::Pages,
            5 => Self::Trashed,
            6 => Self::Restored,
            7 => Self::Purged,
            8 => Self::TagRules,
            _ => Self::Updated,
        }
    }
}

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub seq: i64,
    /// The gallery's internal id.
    pub gallery: i64,
    pub kind: ChangeKind,
    pub at: i64,
}

/// Appends to the feed inside the caller's transaction.
pub(crate) fn record_change(c: &mut dyn Sql, gallery: i64, kind: ChangeKind) -> Result<()> {
    c.exec(
        "INSERT INTO changes (gallery_id, kind, at) VALUES (?, ?, ?)",
        &[
            Param::Int(gallery),
            Param::Int(kind.code()),
            Param::Int(now_ms()),
        ],
    )?;
    Ok(())
}

/// The change feed.
#[derive(Debug, Clone, Copy)]
pub struct Changes<'a> {
    pub(crate) db: &'a Db,
}

impl Changes<'_> {
    /// Up to `limit` changes after sequence `after`, oldest first.
    pub fn since(&self, after: i64, limit: usize) -> Result<Vec<Change>> {
        self.db.read(|c| {
            let rows = c.query(
                "SELECT seq, gallery_id, kind, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
                &[Param::Int(after), Param::Int(limit as i64)],
            )?;
            rows.iter()
                .map(|r| {
                    Ok(Change {
                        seq: r.int(0)?,
                        gallery: r.int(1)?,
                        kind: ChangeKind::from_code(r.int(2)?),
                        at: r.int(3)?,
                    })
                })
                .collect()
        })
    }

    /// The newest sequence number (0 when nothing happened yet).
    pub fn latest(&self) -> Result<i64> {
        self.db.read(|c| {
            Ok(c.query_opt("SELECT MAX(seq) FROM changes", &[])?
                .map(|r| r.opt_int(0))
                .transpose()?
                .flatten()
                .unwrap_or(0))
        })
    }
}
