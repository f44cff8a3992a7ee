//! The small layer that lets one set of queries run on SQLite (rusqlite) and MySQL/MariaDB (the
//! `mysql` crate): positional parameters, rows of owned values, and the few places where the two
//! dialects differ. Every query is parameterised; no value is ever spliced into SQL text.

use crate::error::{Error, Result};

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl From<i64> for Param<'_> {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(v: &'a str) -> Self {
        Param::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Param<'a> {
    fn from(v: &'a [u8]) -> Self {
        Param::Blob(v)
    }
}

impl<'a, T: Into<Param<'a>>> From<Option<T>> for Param<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Param::Null, Into::into)
    }
}

/// A value read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Real(f64),
    Bytes(Vec<u8>),
}

/// One result row.
#[derive(Debug, Clone)]
pub(crate) struct Row(pub Vec<Val>);

impl Row {
    fn at(&self, i: usize) -> Result<&Val> {
        self.0
            .get(i)
            .ok_or_else(|| Error::Decode(format!("no column {i}")))
    }

    pub fn int(&self, i: usize) -> Result<i64> {
        match self.at(i)? {
            Val::Int(v) => Ok(*v),
            Val::Real(v) => Ok(*v as i64),
            Val::Bytes(b) => std::str::from_utf8(b)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| Error::Decode(format!("column {i} is not an integer"))),
            Val::Null => Err(Error::Decode(format!("column {i} is NULL"))),
        }
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self.at(i)? {
            Val::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    pub fn text(&self, i: usize) -> Result<String> {
        match self.at(i)? {
            Val::Bytes(b) => String::from_utf8(b.clone())
                .map_err(|_| Error::Decode(format!("column {i} is not UTF-8"))),
            Val::Int(v) => Ok(v.to_string()),
            Val::Real(v) => Ok(v.to_string()),
            Val::Null => Err(Error::Decode(format!("column {i} is NULL"))),
        }
    }

    /// [`Row::text`], moving the value out instead of copying it.
    pub fn take_text(&mut self, i: usize) -> Result<String> {
        match self.0.get_mut(i) {
            Some(Val::Bytes(b)) => String::from_utf8(std::mem::take(b))
                .map_err(|_| Error::Decode(format!("column {i} is not UTF-8"))),
            _ => self.text(i),
        }
    }

    /// A text column, borrowed.
    pub fn str(&self, i: usize) -> Result<&str> {
        match self.at(i)? {
            Val::Bytes(b) => std::str::from_utf8(b)
                .map_err(|_| Error::Decode(format!("column {i} is not UTF-8"))),
            _ => Err(Error::Decode(format!("column {i} is not text"))),
        }
    }

    /// A blob column, borrowed.
    pub fn bytes(&self, i: usize) -> Result<&[u8]> {
        match self.at(i)? {
            Val::Bytes(b) => Ok(b),
            _ => Err(Error::Decode(format!("column {i} is not bytes"))),
        }
    }

    pub fn blob(&self, i: usize) -> Result<Vec<u8>> {
        match self.at(i)? {
            Val::Bytes(b) => Ok(b.clone()),
            Val::Null => Err(Error::Decode(format!("column {i} is NULL"))),
            _ => Err(Error::Decode(format!("column {i} is not bytes"))),
        }
    }

    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>> {
        match self.at(i)? {
            Val::Null => Ok(None),
            _ => self.blob(i).map(Some),
        }
    }
}

/// Which SQL dialect a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    MySql,
}

impl Dialect {
    /// `INSERT` that skips rows violating a unique key.
    pub fn insert_ignore(self) -> &'static str {
        match self {
            Dialect::Sqlite => "INSERT OR IGNORE",
            Dialect::MySql => "INSERT IGNORE",
        }
    }

    /// The most parameters one statement may bind.
    /// What ends a `SELECT` that reads a row the transaction is about to rewrite: on MySQL a
    /// row lock, so that two transactions editing one row queue up instead of losing an update
    /// (SQLite has one writer at a time).
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::MySql => " FOR UPDATE",
        }
    }

    pub fn max_params(self) -> usize {
        match self {
            Dialect::Sqlite => 30_000,
            Dialect::MySql => 60_000,
        }
    }
}

/// A connection or transaction of either backend.
pub(crate) trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs a statement; answers the number of rows it changed.
    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64>;
    /// Runs a query; answers its rows.
    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>>;
    /// The id the last `INSERT` gave its row.
    fn last_insert_id(&mut self) -> Result<i64>;

    /// Runs a query and calls `f` with each row in turn (on SQLite one row buffer is reused, so
    /// that reading many rows allocates nothing per row).
    fn query_each(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        f: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        for r in self.query(sql, params)? {
            f(&r)?;
        }
        Ok(())
    }

    /// Runs the single-row statement `sql` once per `width` parameters of `params`.
    fn exec_rows(&mut self, sql: &str, width: usize, params: &[Param<'_>]) -> Result<()> {
        for row in params.chunks(width) {
            self.exec(sql, row)?;
        }
        Ok(())
    }

    /// Runs a query expected to answer at most one row.
    fn query_opt(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

// ---- SQLite --------------------------------------------------------------------------------------

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Param::Null => ValueRef::Null,
            Param::Int(v) => ValueRef::Integer(*v),
            Param::Text(s) => ValueRef::Text(s.as_bytes()),
            Param::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// Steps one prepared single-row statement per row (the tail of a multi-row insert).
pub(crate) fn sqlite_exec_rows(
    conn: &rusqlite::Connection,
    sql: &str,
    width: usize,
    params: &[Param<'_>],
) -> Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    for row in params.chunks(width) {
        stmt.execute(rusqlite::params_from_iter(row.iter()))?;
    }
    Ok(())
}

/// Rows per multi-row insert statement on SQLite.
const SQLITE_ROWS: usize = 64;

/// Inserts rows of `width` parameters each (`head` is `INSERT INTO t (a, b)`), many rows per
/// statement: on SQLite a cached statement of `SQLITE_ROWS` rows (fewer statement steps), on MySQL
/// as many as the parameter limit allows (fewer round trips).
pub(crate) fn insert_rows(
    c: &mut dyn Sql,
    head: &str,
    width: usize,
    params: &[Param<'_>],
) -> Result<()> {
    match c.dialect() {
        Dialect::Sqlite => {
            // Full chunks of SQLITE_ROWS rows through one cached statement, the rest row by row.
            let per = SQLITE_ROWS * width;
            let full = params.len() / per * per;
            if full > 0 {
                let sql = format!("{head} VALUES {}", value_rows(SQLITE_ROWS, width));
                for chunk in params[..full].chunks(per) {
                    c.exec(&sql, chunk)?;
                }
            }
            c.exec_rows(
                &format!("{head} VALUES {}", placeholders(width)),
                width,
                &params[full..],
            )
        }
        Dialect::MySql => {
            let per = (c.dialect().max_params() / width).max(1) * width;
            for chunk in params.chunks(per) {
                c.exec(
                    &format!("{head} VALUES {}", value_rows(chunk.len() / width, width)),
                    chunk,
                )?;
            }
            Ok(())
        }
    }
}

/// Inserts one row of `W` parameters per item, building the parameters a statement at a time
/// rather than all at once.
pub(crate) fn insert_each<'a, T, const W: usize>(
    c: &mut dyn Sql,
    head: &str,
    items: &'a [T],
    row: impl Fn(&'a T) -> [Param<'a>; W],
) -> Result<()> {
    let per = match c.dialect() {
        Dialect::Sqlite => SQLITE_ROWS,
        Dialect::MySql => (c.dialect().max_params() / W).max(1),
    };
    let mut params: Vec<Param<'a>> = Vec::with_capacity(per * W);
    for chunk in items.chunks(per) {
        params.clear();
        params.extend(chunk.iter().flat_map(&row));
        insert_rows(c, head, W, &params)?;
    }
    Ok(())
}

/// Runs a query on a SQLite connection and calls `f` with each row, in one reused row buffer.
pub(crate) fn sqlite_query_each(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Param<'_>],
    f: &mut dyn FnMut(&Row) -> Result<()>,
) -> Result<()> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare_cached(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut row = Row(vec![Val::Null; n]);
    while let Some(r) = rows.next()? {
        for (i, v) in row.0.iter_mut().enumerate() {
            match r.get_ref(i)? {
                ValueRef::Null => *v = Val::Null,
                ValueRef::Integer(x) => *v = Val::Int(x),
                ValueRef::Real(x) => *v = Val::Real(x),
                ValueRef::Text(b) | ValueRef::Blob(b) => match v {
                    Val::Bytes(buf) => {
                        buf.clear();
                        buf.extend_from_slice(b);
                    }
                    _ => *v = Val::Bytes(b.to_vec()),
                },
            }
        }
        f(&row)?;
    }
    Ok(())
}

/// Runs a query on a SQLite connection and reads all its rows.
pub(crate) fn sqlite_query(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Param<'_>],
) -> Result<Vec<Row>> {
    let mut out = Vec::new();
    sqlite_query_each(conn, sql, params, &mut |r| {
        out.push(r.clone());
        Ok(())
    })?;
    Ok(out)
}

impl Sql for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let mut stmt = self.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(params.iter()))? as u64)
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        sqlite_query(self, sql, params)
    }

    fn last_insert_id(&mut self) -> Result<i64> {
        Ok(self.last_insert_rowid())
    }

    fn query_each(
        &mut self,
        sql: &str,
        params: &[Param<'_>],
        f: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        sqlite_query_each(self, sql, params, f)
    }

    fn exec_rows(&mut self, sql: &str, width: usize, params: &[Param<'_>]) -> Result<()> {
        sqlite_exec_rows(self, sql, width, params)
    }
}

// ---- MySQL / MariaDB -----------------------------------------------------------------------------

/// A MySQL connection or transaction.
pub(crate) struct MyConn<Q>(pub Q);

fn my_params(params: &[Param<'_>]) -> mysql::Params {
    if params.is_empty() {
        return mysql::Params::Empty;
    }
    mysql::Params::Positional(
        params
            .iter()
            .map(|p| match p {
                Param::Null => mysql::Value::NULL,
                Param::Int(v) => mysql::Value::Int(*v),
                Param::Text(s) => mysql::Value::Bytes(s.as_bytes().to_vec()),
                Param::Blob(b) => mysql::Value::Bytes(b.to_vec()),
            })
            .collect(),
    )
}

fn my_val(v: mysql::Value) -> Val {
    match v {
        mysql::Value::NULL => Val::Null,
        mysql::Value::Int(i) => Val::Int(i),
        mysql::Value::UInt(u) => Val::Int(u as i64),
        mysql::Value::Float(f) => Val::Real(f64::from(f)),
        mysql::Value::Double(f) => Val::Real(f),
        mysql::Value::Bytes(b) => Val::Bytes(b),
        other => Val::Bytes(other.as_sql(true).into_bytes()),
    }
}

impl<Q: mysql::prelude::Queryable> Sql for MyConn<Q> {
    fn dialect(&self) -> Dialect {
        Dialect::MySql
    }

    fn exec(&mut self, sql: &str, params: &[Param<'_>]) -> Result<u64> {
        let result = self.0.exec_iter(sql, my_params(params))?;
        Ok(result.affected_rows())
    }

    fn query(&mut self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>> {
        let rows: Vec<mysql::Row> = self.0.exec(sql, my_params(params))?;
        Ok(rows
            .into_iter()
            .map(|r| Row(r.unwrap().into_iter().map(my_val).collect()))
            .collect())
    }

    fn last_insert_id(&mut self) -> Result<i64> {
        let row = self.query_opt("SELECT LAST_INSERT_ID()", &[])?;
        row.ok_or_else(|| Error::Decode("no LAST_INSERT_ID".into()))?
            .int(0)
    }
}

/// `(?, ?, …)` with `n` placeholders.
pub(crate) fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(2 + 3 * n);
    s.push('(');
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s.push(')');
    s
}

/// `(?, ?), (?, ?), …`: `rows` groups of `width` placeholders, for multi-row inserts.
pub(crate) fn value_rows(rows: usize, width: usize) -> String {
    let one = placeholders(width);
    let mut s = String::with_capacity(rows * (one.len() + 2));
    for i in 0..rows {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&one);
    }
    s
}
