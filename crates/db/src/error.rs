//! Errors of the metadata store.

/// Everything that can go wrong in the metadata store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("SQLite error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("MySQL error")]
    MySql(#[from] mysql::Error),
    #[error("MySQL URL error")]
    MySqlUrl(#[from] mysql::UrlError),
    #[error("unsupported database URL {0:?}: use sqlite://PATH or mysql://USER@HOST:PORT/DATABASE")]
    Url(String),
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no gallery {0}")]
    GalleryNotFound(String),
    #[error("no job {0}")]
    JobNotFound(i64),
    #[error("no user {0:?}")]
    UserNotFound(String),
    #[error("unreadable value in the database: {0}")]
    Decode(String),
    #[error("the database schema is version {found}, newer than this LittlePanda knows ({known})")]
    SchemaTooNew { found: i64, known: i64 },
}

/// Results of the metadata store.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }

    /// Whether a transaction failed only because another got in its way, and may be retried.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Error::MySql(mysql::Error::MySqlError(e)) => matches!(e.code, 1205 | 1213),
            Error::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                )
            }
            _ => false,
        }
    }
}
