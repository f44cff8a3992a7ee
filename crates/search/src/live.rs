//! The index as a service: built once, then brought up to date from the change feed before each
//! search that finds the feed moved, so a search always sees every write committed before it
//! (from this server or any other sharing the database). Every API asks through here, so results
//! are the same whichever API asks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use db::{Db, UserState};

use crate::index::{Index, Results, Suggestion, Viewer};
use crate::query::{ParseError, parse};

/// The most terms a query may come to with its saved searches spelled out.
pub const MAX_EXPANDED_TERMS: usize = 2048;

/// The longest one search may hold the index: past it, it is given up. Searches take
/// milliseconds at a million galleries; this is for pathological ones.
pub const SEARCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a search got no answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("the search index could not read the database")]
    Db(#[from] db::Error),
}

/// Who asks a search: whether they may search the trash, and which user they are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asker {
    pub admin: bool,
    pub user: Option<i64>,
}

/// The index behind a lock, with the database it follows.
#[derive(Debug)]
pub struct Live {
    db: Arc<Db>,
    index: RwLock<Index>,
    /// Each user's state as last read, kept while its version is current.
    states: Mutex<HashMap<i64, Arc<UserState>>>,
}

impl Live {
    /// Builds the index from the database.
    pub fn build(db: Arc<Db>) -> db::Result<Self> {
        let index = Index::build(&db)?;
        Ok(Self {
            db,
            index: RwLock::new(index),
            states: Mutex::default(),
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

    /// A user's state for `read`, `favorite` and `in:`, read again only when it changed.
    fn state_of(&self, user: i64) -> db::Result<Arc<UserState>> {
        let version = self.db.accounts().state_version(user)?;
        let mut states = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = states.get(&user)
            && s.version == version
        {
            return Ok(s.clone());
        }
        let fresh = Arc::new(self.db.accounts().user_state(user)?);
        states.insert(user, fresh.clone());
        Ok(fresh)
    }

    /// Answers a query in the language of `docs/search.md`: `limit` galleries from `offset`.
    pub fn search(
        &self,
        text: &str,
        asker: Asker,
        offset: usize,
        limit: usize,
    ) -> Result<Results, SearchError> {
        let query = parse(text)?;
        self.refresh()?;
        let state = asker.user.map(|u| self.state_of(u)).transpose()?;
        // Saved searches spelled out: bounded in size before anything is evaluated.
        let expanded = Index::expanded_terms(&query, state.as_deref());
        if expanded > MAX_EXPANDED_TERMS {
            return Err(SearchError::Parse(ParseError {
                position: 0,
                message: format!(
                    "with its saved searches spelled out the query has {expanded} terms, more \
                     than {MAX_EXPANDED_TERMS}"
                ),
            }));
        }
        let viewer = Viewer {
            admin: asker.admin,
            state: state.as_deref(),
        };
        let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
        index
            .search_within(&query, viewer, offset, limit, SEARCH_BUDGET)
            .map_err(|_| {
                SearchError::Parse(ParseError {
                    position: 0,
                    message: format!(
                        "the query took longer than {} s; narrow it",
                        SEARCH_BUDGET.as_secs()
                    ),
                })
            })
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
