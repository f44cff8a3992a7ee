//! LittlePanda's metadata store: galleries, their pages, tags, background jobs and the change feed,
//! on embedded SQLite (the default) or on MySQL/MariaDB, behind one concrete type.
//!
//! - [`Db`]: opened from a URL (`sqlite://PATH` or `mysql://USER@HOST:PORT/DB`); migrations run on
//!   open. Methods are grouped by purpose: [`Db::galleries`], [`Db::tags`], [`Db::jobs`],
//!   [`Db::changes`].
//! - [`NewGallery`] / [`Gallery`] / [`Page`]: a gallery and its pages. A gallery is created with
//!   all its pages, tags and blob references in one transaction: visible complete or not at all.
//! - [`TagName`]: a namespaced tag, normalised so that tags are unique case-insensitively.
//!
//! Queries are written once and run on both backends (see `sql.rs`); every value is a bound
//! parameter. Callers (handlers, importers) never write SQL.

mod accounts;
mod baseline;
mod changes;
mod error;
mod galleries;
mod integrity;
mod jobs;
mod pages;
mod schema;
mod sql;
mod tags;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

pub use accounts::{
    Accounts, ApiKey, Collection, KeyScope, KeyUse, MAX_NAME, Progress, Role, Session, User,
    UserState,
};
pub use baseline::{BaselineQuery, BaselineResults};
pub use changes::{Change, ChangeKind, Changes};
pub use error::{Error, Result};
pub use galleries::{
    BlobInfo, Created, DetailsChange, Galleries, Gallery, GallerySummary, ImageFormat, IndexRow,
    IndexRowRef, ListOrder, ListQuery, NewGallery, NewPage, Page, ReadingDirection, ThumbnailState,
};
pub use integrity::{AffectedGallery, Integrity};
pub use jobs::{ImportPayload, Job, JobKind, JobState, Jobs};
pub use sql::Dialect;
pub use tags::{GalleryTag, NAMESPACES, TagName, TagSource, Tags};

use crate::sql::{MyConn, Sql};

/// The metadata store.
pub struct Db {
    backend: Backend,
    /// Tags known to exist (see [`tags::TagCache`]).
    tag_cache: Mutex<tags::TagCache>,
}

enum Backend {
    /// One connection writes (SQLite has one writer anyway); readers take from a small pool.
    Sqlite {
        path: PathBuf,
        writer: Mutex<rusqlite::Connection>,
        readers: ReaderPool,
    },
    MySql {
        pool: mysql::Pool,
    },
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Sqlite { path, .. } => write!(f, "Db(sqlite {})", path.display()),
            Backend::MySql { .. } => f.write_str("Db(mysql)"),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The most connections a MySQL/MariaDB pool opens; further requests wait for one.
pub const MYSQL_MAX_CONNECTIONS: usize = 16;

/// The SQLite reading connections: at most [`ReaderPool::MAX`] exist at once, however many
/// requests read together; the others wait their turn. Each connection keeps a large page cache,
/// so memory stays flat under any load instead of growing with the peak number of readers.
#[derive(Debug, Default)]
struct ReaderPool {
    state: Mutex<Readers>,
    freed: std::sync::Condvar,
}

#[derive(Debug, Default)]
struct Readers {
    idle: Vec<rusqlite::Connection>,
    /// Connections open, idle or lent.
    open: usize,
}

/// A reading connection lent from the pool; it goes back when dropped (also on a panic).
struct Lease<'a> {
    pool: &'a ReaderPool,
    conn: Option<rusqlite::Connection>,
}

impl Lease<'_> {
    fn conn(&mut self) -> &mut rusqlite::Connection {
        self.conn
            .as_mut()
            .expect("a lease holds its connection until dropped")
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut state = self
            .pool
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match self.conn.take() {
            Some(c) if !std::thread::panicking() => state.idle.push(c),
            _ => state.open -= 1,
        }
        self.pool.freed.notify_one();
    }
}

impl ReaderPool {
    /// The most reading connections open at once.
    const MAX: usize = 8;

    /// An idle connection, a new one while fewer than [`Self::MAX`] are open, or the next one
    /// given back.
    fn take(&self, path: &Path) -> Result<Lease<'_>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(c) = state.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    conn: Some(c),
                });
            }
            if state.open < Self::MAX {
                state.open += 1;
                drop(state);
                return match open_sqlite_connection(path) {
                    Ok(c) => Ok(Lease {
                        pool: self,
                        conn: Some(c),
                    }),
                    Err(e) => {
                        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                        state.open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn open(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open
    }
}

fn open_sqlite_connection(path: &Path) -> Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL lets readers run beside the writer; FULL makes every commit durable on its own.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 256 MB of page cache (the default is 2 MB): large libraries otherwise spill and reread.
    conn.pragma_update(None, "cache_size", -262_144)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoint the WAL every 64 MB rather than every 4 MB: fewer, larger copies into the file.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

impl Db {
    /// Opens the database at `url` and brings its schema up to date.
    pub fn open(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Self::open_sqlite(Path::new(path));
        }
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            let url = url.replacen("mariadb://", "mysql://", 1);
            // Connections go back to the pool as they are (no COM_RESET_CONNECTION round trip),
            // keeping their prepared statements: LittlePanda leaves no session state behind.
            let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&url)?)
                .pool_opts(
                    mysql::PoolOpts::default()
                        .with_reset_connection(false)
                        // Requests wait for a connection rather than open ever more of them.
                        .with_constraints(
                            mysql::PoolConstraints::new(1, MYSQL_MAX_CONNECTIONS)
                                .unwrap_or_default(),
                        ),
                )
                .stmt_cache_size(Some(256));
            let pool = mysql::Pool::new(opts)?;
            let db = Self {
                backend: Backend::MySql { pool },
                tag_cache: Mutex::default(),
            };
            db.migrate()?;
            return Ok(db);
        }
        Err(Error::Url(url.to_string()))
    }

    /// Opens (creating if needed) the SQLite database at `path`.
    pub fn open_sqlite(path: &Path) -> Result<Self> {
        let writer = open_sqlite_connection(path)?;
        let db = Self {
            backend: Backend::Sqlite {
                path: path.to_path_buf(),
                writer: Mutex::new(writer),
                readers: ReaderPool::default(),
            },
            tag_cache: Mutex::default(),
        };
        db.migrate()?;
        Ok(db)
    }

    /// How many SQLite reading connections are open now: at most 8, however many requests read
    /// at once (0 on MySQL, whose pool is bounded by its own constraints).
    pub fn reading_connections(&self) -> usize {
        match &self.backend {
            Backend::Sqlite { readers, .. } => readers.open(),
            Backend::MySql { .. } => 0,
        }
    }

    /// Which dialect the database speaks.
    pub fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite { .. } => Dialect::Sqlite,
            Backend::MySql { .. } => Dialect::MySql,
        }
    }

    /// Copies what the write-ahead log holds into the database file and empties the log (SQLite;
    /// nothing to do on MySQL). A long bulk write leaves a full log behind; readers then look
    /// pages up in it.
    pub fn checkpoint(&self) -> Result<()> {
        if let Backend::Sqlite { writer, .. } = &self.backend {
            let conn = writer.lock().unwrap_or_else(PoisonError::into_inner);
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Runs `f` on a connection of its own for one long read (a scan of a whole table), whose
    /// pages would otherwise fill a pooled connection's large page cache and stay there.
    pub(crate) fn scan<T>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite { path, .. } => {
                let mut conn = open_sqlite_connection(path)?;
                conn.pragma_update(None, "cache_size", -8192)?;
                f(&mut conn)
            }
            Backend::MySql { .. } => self.read(f),
        }
    }

    /// Runs `f` on a connection for reading.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite { path, readers, .. } => {
                let mut lease = readers.take(path)?;
                f(lease.conn())
            }
            Backend::MySql { pool } => {
                let conn = pool.get_conn()?;
                f(&mut MyConn(conn))
            }
        }
    }

    /// Runs `f` in a write transaction: committed if it returns `Ok`, rolled back otherwise.
    /// Retried a few times when the database reports a deadlock or a busy lock.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&mut dyn Sql) -> Result<T>) -> Result<T> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.write_once(&mut f) {
                Err(e) if e.is_transient() && attempt < 8 => {
                    std::thread::sleep(std::time::Duration::from_millis(5 * attempt));
                }
                other => return other,
            }
        }
    }

    fn write_once<T>(&self, f: &mut impl FnMut(&mut dyn Sql) -> Result<T>) -> Result<T> {
        match &self.backend {
            Backend::Sqlite { writer, .. } => {
                let mut conn = writer.lock().unwrap_or_else(PoisonError::into_inner);
                let tx =
                    conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                // `Transaction` derefs to `Connection`; the statements run inside it.
                let result = {
                    let c: &rusqlite::Connection = &tx;
                    let mut adapter = SqliteTx(c);
                    f(&mut adapter)
                };
                match result {
                    Ok(v) => {
                        tx.commit()?;
                        Ok(v)
                    }
                    Err(e) => {
                        drop(tx);
                        Err(e)
                    }
                }
            }
            Backend::MySql { pool } => {
                let mut conn = pool.get_conn()?;
                let tx = conn.start_transaction(mysql::TxOpts::default())?;
                let mut adapter = MyConn(tx);
                match f(&mut adapter) {
                    Ok(v) => {
                        adapter.0.commit()?;
                        Ok(v)
                    }
                    Err(e) => {
                        let _ = adapter.0.rollback();
                        Err(e)
                    }
                }
            }
        }
    }

    /// Galleries and their pages.
    pub fn galleries(&self) -> Galleries<'_> {
        Galleries { db: self }
    }

    /// Tags, siblings and parents.
    pub fn tags(&self) -> Tags<'_> {
        Tags { db: self }
    }

    /// Background jobs.
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs { db: self }
    }

    /// The change feed.
    pub fn changes(&self) -> Changes<'_> {
        Changes { db: self }
    }

    /// Users, sessions, API keys and each user's own state.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts { db: self }
    }

    /// What `fsck` asks of the metadata.
    pub fn integrity(&self) -> Integrity<'_> {
        Integrity { db: self }
    }
}

/// A SQLite transaction seen through the [`Sql`] trait.
struct SqliteTx<'a>(&'a rusqlite::Connection);

impl Sql for SqliteTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    fn exec(&mut self, sql: &str, params: &[sql::Param<'_>]) -> Result<u64> {
        let mut stmt = self.0.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }
    fn query(&mut self, sql: &str, params: &[sql::Param<'_>]) -> Result<Vec<sql::Row>> {
        sql::sqlite_query(self.0, sql, params)
    }
    fn query_each(
        &mut self,
        sql: &str,
        params: &[sql::Param<'_>],
        f: &mut dyn FnMut(&sql::Row) -> Result<()>,
    ) -> Result<()> {
        sql::sqlite_query_each(self.0, sql, params, f)
    }
    fn last_insert_id(&mut self) -> Result<i64> {
        Ok(self.0.last_insert_rowid())
    }
    fn exec_rows(&mut self, sql: &str, width: usize, params: &[sql::Param<'_>]) -> Result<()> {
        sql::sqlite_exec_rows(self.0, sql, width, params)
    }
}
