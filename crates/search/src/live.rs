//! The index as a service: built once, then brought up to date from the change feed before each
//! search that finds the feed moved, so a search always sees every write committed before it
//! (from this server or any other sharing the database). Every API asks through here, so results
//! are the same whichever API asks.

use std::sync::{Arc, PoisonError, RwLock};

use db::Db;

use crate::index::{Index, Results, Suggestion, Viewer};
use crate::query::{ParseError, parse};

/// Why a search got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the search index could not read the database")]
    Db(#[from] db::Error),
}

/// The index behind a lock, with the database it follows.
#[derive(Debug)]
pub struct Live {
    db: Arc<Db>,
    index: RwLock<Index>,
}

impl Live {
    /// Builds the index from the database.
    pub fn build(db: Arc<Db>) -> db::Result<Self> {
        let index = Index::build(&db)?;
        Ok(Self {
            db,
            index: RwLock::new(index),
        })
    }

    /// Applies what the change feed holds beyond the index; answers how many changes it applied.
    pub fn refresh(&self) -> db::Result<usize> {
        let latest = self.db.changes().latest()?;
        let seen = self
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .seq;
        if latest <= seen {
            return Ok(0);
        }
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        index.catch_up(&self.db)
    }

    /// Answers a query in the language of `docs/search.md`: `limit` galleries from `offset`.
    pub fn search(
        &self,
        text: &str,
        viewer: Viewer,
        offset: usize,
        limit: usize,
    ) -> Result<Results, SearchError> {
        let query = parse(text)?;
        self.refresh()?;
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        Ok(index.search(&query, viewer, offset, limit))
    }

    /// Tag suggestions for what is being typed.
    pub fn suggest(&self, typed: &str, limit: usize) -> Result<Vec<Suggestion>, SearchError> {
        self.refresh()?;
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        Ok(index.suggest(typed, limit))
    }

    /// Galleries in the index (trashed ones included).
    pub fn len(&self) -> u64 {
        self.index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
