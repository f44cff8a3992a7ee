//! API keys, stored as hashes of their secrets, each with its scope and last use.

use super::*;

impl Accounts<'_> {
    // ---- API keys ---------------------------------------------------------------------------

    /// Records an API key by the hash of its secret; answers its id.
    pub fn create_key(
        &self,
        user: i64,
        name: &str,
        key_hash: &[u8; 32],
        scope: KeyScope,
    ) -> Result<i64> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::invalid("key name", "must be 1 to 100 characters"));
        }
        self.db.write(|c| {
            c.exec(
                "INSERT INTO api_keys (user_id, name, key_hash, scope, created_at) \
                 VALUES (?, ?, ?, ?, ?)",
                &[
                    Param::Int(user),
                    Param::Text(name),
                    Param::Blob(key_hash),
                    Param::Int(i64::from(scope == KeyScope::ReadWrite)),
                    Param::Int(now_ms()),
                ],
            )?;
            c.last_insert_id()
        })
    }

    /// The user and scope of the key with this hash.
    pub fn key(&self, key_hash: &[u8; 32]) -> Result<Option<KeyUse>> {
        self.db.read(|c| {
            let Some(r) = c.query_opt(
                &format!(
                    "SELECT {USER_COLUMNS}, k.id, k.scope, k.used_at FROM api_keys k \
                     JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?"
                ),
                &[Param::Blob(key_hash)],
            )?
            else {
                return Ok(None);
            };
            let scope = if r.int(7)? == 1 {
                KeyScope::ReadWrite
            } else {
                KeyScope::Read
            };
            Ok(Some(KeyUse {
                user: user(&r)?,
                id: r.int(6)?,
                scope,
                used_at: r.opt_int(8)?,
            }))
        })
    }

    /// Notes that a key was used now.
    pub fn touch_key(&self, id: i64) -> Result<()> {
        self.db.write(|c| {
            c.exec(
                "UPDATE api_keys SET used_at = ? WHERE id = ?",
                &[Param::Int(now_ms()), Param::Int(id)],
            )?;
            Ok(())
        })
    }

    /// A user's keys, newest first.
    pub fn keys(&self, user: i64) -> Result<Vec<ApiKey>> {
        self.db.read(|c| {
            c.query(
                "SELECT id, name, scope, created_at, used_at FROM api_keys WHERE user_id = ? \
                 ORDER BY id DESC",
                &[Param::Int(user)],
            )?
            .iter()
            .map(|r| {
                Ok(ApiKey {
                    id: r.int(0)?,
                    name: r.text(1)?,
                    scope: if r.int(2)? == 1 {
                        KeyScope::ReadWrite
                    } else {
                        KeyScope::Read
                    },
                    created_at: r.int(3)?,
                    used_at: r.opt_int(4)?,
                })
            })
            .collect()
        })
    }

    /// Revokes one of a user's keys; answers whether it existed.
    pub fn revoke_key(&self, user: i64, id: i64) -> Result<bool> {
        self.db.write(|c| {
            Ok(c.exec(
                "DELETE FROM api_keys WHERE id = ? AND user_id = ?",
                &[Param::Int(id), Param::Int(user)],
            )? > 0)
        })
    }
}
