//! Secrets: password hashes (Argon2id), random tokens, API keys, and comparing in constant time.

use super::*;

/// Why a password cannot be used or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    TooShort,
    #[error("a password may be at most 1024 characters")]
    TooLong,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// An argon2id hash (PHC string) of a password, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(PasswordError::TooShort);
    }
    if n > 1024 {
        return Err(PasswordError::TooLong);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hashing(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hashing(e.to_string()))
}

/// Whether a password matches a stored hash (in constant time, as argon2 compares).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    if password.len() > 4096 {
        return false;
    }
    PasswordHash::new(hash).is_ok_and(|parsed| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash to check passwords against when the account does not exist, so that a wrong name
/// takes as long as a wrong password.
pub(crate) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("not the password of anyone").unwrap_or_default())
}

/// A new random secret: 32 bytes, base64url.
pub fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ApiError::Internal(e.to_string().into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// How a secret (session token, API key) is stored: its BLAKE3 hash.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

/// Makes a new API key for a user; answers its id and the key, which is never shown again.
pub fn new_api_key(
    db: &db::Db,
    user: i64,
    name: &str,
    scope: KeyScope,
) -> Result<(i64, String), ApiError> {
    let key = format!("lp_{}", random_token()?);
    let id = db
        .accounts()
        .create_key(user, name, &secret_hash(&key), scope)?;
    Ok((id, key))
}

pub(super) fn equal_in_constant_time(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the current password and sets a new one, which ends every session of the account;
/// a caller who came with a session gets a new one (its cookie and CSRF token).
pub fn change_password(
    db: &db::Db,
    caller: &Caller,
    current: &str,
    new: &str,
    config: &AuthConfig,
) -> Result<Option<(HeaderValue, String)>, ApiError> {
    let user = caller.user()?;
    if !verify_password(current, &user.password_hash) {
        return Err(ApiError::WrongCredentials);
    }
    let hash = hash_password(new).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    db.accounts().set_password(&user.name, &hash)?;
    match caller.via {
        Via::Session { .. } => Ok(Some(start_session(db, user.id, config, caller.https)?)),
        _ => Ok(None),
    }
}
