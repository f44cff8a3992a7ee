//! Sessions (stored as hashes of their tokens) and the failed-login counters that throttle
//! guessing.

use super::*;

impl Accounts<'_> {
    // ---- Sessions ---------------------------------------------------------------------------

    /// Records a session by the hash of its token.
    pub fn create_session(&self, token_hash: &[u8; 32], user: i64, csrf: &str) -> Result<()> {
        let now = now_ms();
        self.db.write(|c| {
            c.exec(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, seen_at) \
                 VALUES (?, ?, ?, ?, ?)",
                &[
                    Param::Blob(token_hash),
                    Param::Int(user),
                    Param::Text(csrf),
                    Param::Int(now),
                    Param::Int(now),
                ],
            )?;
            Ok(())
        })
    }

    /// The session with this token hash, if it exists.
    pub fn session(&self, token_hash: &[u8; 32]) -> Result<Option<Session>> {
        self.db.read(|c| {
            let Some(r) = c.query_opt(
                &format!(
                    "SELECT {USER_COLUMNS}, s.csrf, s.created_at, s.seen_at FROM sessions s \
                     JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?"
                ),
                &[Param::Blob(token_hash)],
            )?
            else {
                return Ok(None);
            };
            Ok(Some(Session {
                user: user(&r)?,
                csrf: r.text(6)?,
                created_at: r.int(7)?,
                seen_at: r.int(8)?,
            }))
        })
    }

    /// Notes that a session was used now.
    pub fn touch_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "UPDATE sessions SET seen_at = ? WHERE token_hash = ?",
                &[Param::Int(now_ms()), Param::Blob(token_hash)],
            )?;
            Ok(())
        })
    }

    /// Ends a session.
    pub fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "DELETE FROM sessions WHERE token_hash = ?",
                &[Param::Blob(token_hash)],
            )?;
            Ok(())
        })
    }

    /// Ends the sessions not used since `before` (ms); answers how many.
    pub fn expire_sessions(&self, before: i64) -> Result<u64> {
        self.db.write(|c| {
            c.exec(
                "DELETE FROM sessions WHERE seen_at < ?",
                &[Param::Int(before)],
            )
        })
    }

    // ---- Failed logins ----------------------------------------------------------------------

    /// Failed logins of a subject (`user:NAME`, `addr:ADDRESS`) and when the last was (ms).
    pub fn failures(&self, subject: &str) -> Result<Option<(u32, i64)>> {
        self.db.read(|c| {
            c.query_opt(
                "SELECT failures, last_at FROM login_failures WHERE subject = ?",
                &[Param::Text(subject)],
            )?
            .map(|r| Ok((r.int(0)? as u32, r.int(1)?)))
            .transpose()
        })
    }

    /// Counts one more failed login of each subject.
    pub fn record_failure(&self, subjects: &[&str]) -> Result<()> {
        let now = now_ms();
        self.db.write(|c| {
            for s in subjects {
                let n = c
                    .query_opt(
                        "SELECT failures FROM login_failures WHERE subject = ?",
                        &[Param::Text(s)],
                    )?
                    .map(|r| r.int(0))
                    .transpose()?;
                match n {
                    Some(n) => c.exec(
                        "UPDATE login_failures SET failures = ?, last_at = ? WHERE subject = ?",
                        &[Param::Int(n + 1), Param::Int(now), Param::Text(s)],
                    )?,
                    None => c.exec(
                        "INSERT INTO login_failures (subject, failures, last_at) VALUES (?, 1, ?)",
                        &[Param::Text(s), Param::Int(now)],
                    )?,
                };
            }
            Ok(())
        })
    }

    /// Forgets a subject's failed logins (after a success).
    pub fn clear_failures(&self, subject: &str) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "DELETE FROM login_failures WHERE subject = ?",
                &[Param::Text(subject)],
            )?;
            Ok(())
        })
    }
}
