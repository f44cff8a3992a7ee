//! Versioned migrations, applied in order on open. A database newer than this code is refused
//! rather than misread.

use crate::error::{Error, Result};
use crate::sql::{Dialect, Param, Sql};
use crate::{Db, now_ms};

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 4;

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../migrations/sqlite/0002_gallery_tags_by_tag.sql"),
    ),
    (
        3,
        include_str!("../migrations/sqlite/0003_thumbnail_queue.sql"),
    ),
    (4, include_str!("../migrations/sqlite/0004_accounts.sql")),
];
const MYSQL: &[(i64, &str)] = &[
    (1, include_str!("../migrations/mysql/0001_init.sql")),
    (
        2,
        include_str!("../migrations/mysql/0002_gallery_tags_by_tag.sql"),
    ),
    (
        3,
        include_str!("../migrations/mysql/0003_thumbnail_queue.sql"),
    ),
    (4, include_str!("../migrations/mysql/0004_accounts.sql")),
];

/// The statements of a migration file: comments removed, split at semicolons.
fn statements(text: &str) -> Vec<String> {
    let without_comments: String = text
        .lines()
        .map(|l| l.split_once("--").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl Db {
    pub(crate) fn migrate(&self) -> Result<()> {
        let migrations = match self.dialect() {
            Dialect::Sqlite => SQLITE,
            Dialect::MySql => MYSQL,
        };
        self.write(|c: &mut dyn Sql| {
            c.exec(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
                &[],
            )?;
            let current = c.query_opt("SELECT MAX(version) FROM schema_version", &[])?.map(|r| r.opt_int(0)).transpose()?.flatten().unwrap_or(0);
            if current > SCHEMA_VERSION {
                return Err(Error::SchemaTooNew { found: current, known: SCHEMA_VERSION });
            }
            debug_assert_eq!(migrations.last().map(|m| m.0), Some(SCHEMA_VERSION));
            for (version, text) in migrations.iter().filter(|(v, _)| *v > current) {
                for statement in statements(text) {
                    c.exec(&statement, &[])?;
                }
                c.exec("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", &[Param::Int(*version), Param::Int(now_ms())])?;
                tracing::info!(version, "database schema migrated");
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_split_into_statements() {
        assert_eq!(statements(SQLITE[0].1).len(), 12);
        assert_eq!(statements(MYSQL[0].1).len(), 9);
        assert_eq!(statements(SQLITE[1].1).len(), 4);
        assert!(statements(MYSQL[1].1).is_empty());
        assert_eq!(statements(SQLITE[2].1).len(), 1);
        assert_eq!(statements(MYSQL[2].1).len(), 1);
        assert_eq!(
            statements("-- only a comment; really\nSELECT 1;\n"),
            vec!["SELECT 1"]
        );
    }
}
