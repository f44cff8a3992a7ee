//! The application's operations, each written once for every surface: the JSON API, the web
//! app's forms, the command line and the APIs to come parse what they were sent, call one
//! operation here, and render its answer. What a valid edit is lives here; who may make it stays
//! in the server's gate.
//!
//! Operations take the parts of the library they need (the database, the store, the importer)
//! and answer typed results, or an [`Error`] that names what went wrong.

pub mod accounts;
pub mod browse;
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
    /// A name and password that do not match an account (or a wrong current password).
    #[error("wrong name or password")]
    WrongCredentials,
    /// Too many failed sign-ins from here: the next try must wait.
    #[error("too many failed sign-ins: try again in {retry_after_s} s")]
    TooManyAttempts { retry_after_s: i64 },
    /// The first-run setup, once an admin exists.
    #[error("setup is done: an admin exists")]
    SetupDone,
    /// An API key that does not exist, or is not the user's.
    #[error("no API key {0} of yours")]
    ApiKeyNotFound(i64),
    /// What the rules never allow, whoever asks (a read-only key making a read-write one).
    #[error("{0}")]
    Refused(String),
    /// An image hash that names no page or cover.
    #[error("no image with this hash is stored")]
    ImageNotFound,
    /// An image that has no thumbnail, and why.
    #[error("no thumbnail: {0}")]
    NoThumbnail(String),
    /// A password that cannot be used, or a secret that could not be made.
    #[error(transparent)]
    Secret(#[from] accounts::SecretError),
    #[error(transparent)]
    Db(#[from] db::Error),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] lpfs::Error),
}

impl From<search::SearchError> for Error {
    fn from(e: search::SearchError) -> Self {
        match e {
            search::SearchError::Parse(p) => Self::BadQuery {
                message: p.message,
                position: p.position,
            },
            search::SearchError::Db(e) => Self::Db(e),
        }
    }
}

/// What an operation answers.
pub type Result<T, E = Error> = std::result::Result<T, E>;
