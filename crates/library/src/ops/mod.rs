//! The application's operations, each written once for every surface: the JSON API, the web
//! app's forms, the command line and the APIs to come parse what they were sent, call one
//! operation here, and render its answer. What a valid edit is lives here; who may make it stays
//! in the server's gate.
//!
//! Operations take the parts of the library they need (the database, the store, the importer)
//! and answer typed results, or an [`Error`] that names what went wrong.

pub mod galleries;
pub mod reading;
pub mod store;
pub mod tags;

use crate::import::ImportError;

/// What an operation refuses, or what failed under it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A collection that does not exist, or is not the user's.
    #[error("no collection {0} of yours")]
    CollectionNotFound(i64),
    /// A tag, or a tag relation, that does not exist.
    #[error("{0}")]
    TagNotFound(String),
    /// The request itself is not valid (a page past the end, a query that cannot be read).
    #[error("{0}")]
    Invalid(String),
    /// A saved search whose query cannot be read, and where.
    #[error("{message} (at character {position})")]
    BadQuery { message: String, position: usize },
    #[error(transparent)]
    Db(#[from] db::Error),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] lpfs::Error),
}

/// What an operation answers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
