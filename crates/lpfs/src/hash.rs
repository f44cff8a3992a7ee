//! The content address of a blob: the BLAKE3-256 hash of its bytes, shown as 64 lowercase hex digits.

use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

/// The BLAKE3-256 hash of a blob's bytes, which is also its key in the store.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    /// Hashes `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(*blake3::hash(data).as_bytes())
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0xf)];
        }
        // The buffer holds only ASCII hex digits.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({self})")
    }
}

/// Why a string is not a blob hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseHashError {
    #[error("a blob hash has 64 hex digits, this has {0} characters")]
    Length(usize),
    #[error("a blob hash has only hex digits (0-9, a-f), found {0:?}")]
    Digit(char),
}

impl FromStr for BlobHash {
    type Err = ParseHashError;

    /// Parses 64 hex digits; upper case is accepted, other characters are not.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(ParseHashError::Length(s.chars().count()));
        }
        let mut out = [0u8; 32];
        let digit = |c: u8| -> Result<u8, ParseHashError> {
            (c as char)
                .to_digit(16)
                .map(|d| d as u8)
                .ok_or(ParseHashError::Digit(c as char))
        };
        for (i, pair) in s.as_bytes().chunks_exact(2).enumerate() {
            out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
        }
        Ok(Self(out))
    }
}

/// A `Hasher` for maps keyed by [`BlobHash`]: the keys are uniform hashes already, so their first
/// eight bytes are used as is, without hashing them again.
#[derive(Debug, Default, Clone, Copy)]
pub struct BlobHashHasher(u64);

impl Hasher for BlobHashHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // `BlobHash` hashes its length first, then its bytes; keep the first eight key bytes.
        if bytes.len() >= 8 {
            let mut a = [0u8; 8];
            a.copy_from_slice(&bytes[..8]);
            self.0 = u64::from_le_bytes(a);
        } else {
            for &b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(b);
            }
        }
    }
    fn write_usize(&mut self, _: usize) {}
}

/// Builds [`BlobHashHasher`]s: `HashMap<BlobHash, V, BlobHashState>`.
pub type BlobHashState = BuildHasherDefault<BlobHashHasher>;

impl serde::Serialize for BlobHash {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for BlobHash {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = BlobHash::of(b"hello");
        let s = h.to_string();
        assert_eq!(s.len(), 64);
        assert_eq!(s, blake3::hash(b"hello").to_hex().as_str());
        assert_eq!(s.parse::<BlobHash>(), Ok(h));
        assert_eq!(s.to_uppercase().parse::<BlobHash>(), Ok(h));
    }

    #[test]
    fn malformed_hashes_are_refused() {
        assert_eq!("abc".parse::<BlobHash>(), Err(ParseHashError::Length(3)));
        let bad = format!("{}g", "0".repeat(63));
        assert_eq!(bad.parse::<BlobHash>(), Err(ParseHashError::Digit('g')));
        // Multi-byte characters must not be sliced through.
        let wide = "é".repeat(32);
        assert!(wide.parse::<BlobHash>().is_err());
    }
}
