//! LittlePanda's search: the query language ([`query`], documented in `docs/search.md`) and the
//! in-memory [`index`] that answers it, built from the database and kept current from its change
//! feed. [`reference`] is a slow, obviously correct evaluator the tests hold the index to.

pub mod index;
pub mod live;
mod prefetch;
pub mod query;
pub mod reference;
pub mod text;

pub use index::{Index, OutOfTime, Results, Suggestion, Viewer};
pub use live::{Asker, Live, SearchError};
pub use query::{ParseError, Query, parse};
