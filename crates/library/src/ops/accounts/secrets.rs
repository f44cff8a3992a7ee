//! Secrets: password hashes (Argon2id), random tokens, and how session tokens and API keys are
//! stored (their BLAKE3 hash, never the secret).

use base64::Engine;

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;
/// Longest password accepted.
pub const MAX_PASSWORD: usize = 1024;

/// Why a password cannot be used, or a secret not made.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("a password needs at least {MIN_PASSWORD} characters")]
    TooShort,
    #[error("a password may be at most {MAX_PASSWORD} characters")]
    TooLong,
    #[error("making a secret failed: {0}")]
    Failed(String),
}

/// An argon2id hash (PHC string) of a password, with a fresh salt.
pub fn hash_password(password: &str) -> Result<String, SecretError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(SecretError::TooShort);
    }
    if n > MAX_PASSWORD {
        return Err(SecretError::TooLong);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| SecretError::Failed(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| SecretError::Failed(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| SecretError::Failed(e.to_string()))
}

/// Whether a password matches a stored hash (in constant time, as argon2 compares).
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    if password.len() > 4 * MAX_PASSWORD {
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
pub fn random_token() -> Result<String, SecretError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| SecretError::Failed(e.to_string()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// How a secret (session token, API key) is stored: its BLAKE3 hash.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    *blake3::hash(secret.as_bytes()).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_is_checked_against_its_hash_only() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("correct horsf", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(matches!(hash_password("short"), Err(SecretError::TooShort)));
        assert!(matches!(
            hash_password(&"x".repeat(MAX_PASSWORD + 1)),
            Err(SecretError::TooLong)
        ));
    }

    #[test]
    fn tokens_differ_and_are_stored_hashed() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }
}
