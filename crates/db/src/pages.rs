//! The packed page list of a gallery: one binary value per gallery instead of one row per page.
//!
//! A million galleries of up to 400 pages are a hundred million or more page rows; packed, a
//! gallery's pages are read, reordered and replaced as one value, in one row, atomically. What a
//! page's image is (format, size, thumbnail) lives in the `blobs` table, once per distinct image.
//!
//! Format, version 1: a version byte (1), the page count, then for each page its blob id and its
//! original name, coded against the previous page's name: how many leading bytes it shares, how
//! many trailing bytes it shares, and the bytes between (length, then the bytes). Page names are
//! mostly `001.jpg`, `002.jpg`, …: a page then takes five bytes instead of nine. Integers are
//! unsigned LEB128.

use crate::error::{Error, Result};

/// One page as stored: which blob, and the name it had in its archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackedPage {
    pub blob_id: i64,
    pub name: String,
}

/// Appends `v` as unsigned LEB128.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned LEB128 number at `*at`, advancing it.
pub(crate) fn get_varint(bytes: &[u8], at: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes
            .get(*at)
            .ok_or_else(|| Error::Decode("page list ends early".into()))?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(Error::Decode("page list has an overlong number".into()))
}

/// Packs pages given as (blob id, name), in order.
pub(crate) fn encode<'a>(pages: impl ExactSizeIterator<Item = (i64, &'a str)>) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + pages.len() * 6);
    out.push(1);
    put_varint(&mut out, pages.len() as u64);
    let mut prev: &[u8] = &[];
    for (blob_id, name) in pages {
        let name = name.as_bytes();
        let prefix = name.iter().zip(prev).take_while(|(a, b)| a == b).count();
        let room = name.len().min(prev.len()) - prefix;
        let suffix = name
            .iter()
            .rev()
            .zip(prev.iter().rev())
            .take(room)
            .take_while(|(a, b)| a == b)
            .count();
        put_varint(&mut out, blob_id as u64);
        put_varint(&mut out, prefix as u64);
        put_varint(&mut out, suffix as u64);
        let middle = &name[prefix..name.len() - suffix];
        put_varint(&mut out, middle.len() as u64);
        out.extend_from_slice(middle);
        prev = name;
    }
    out
}

/// Packs a decoded page list again.
pub(crate) fn encode_list(pages: &[PackedPage]) -> Vec<u8> {
    encode(pages.iter().map(|p| (p.blob_id, p.name.as_str())))
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Vec<PackedPage>> {
    if bytes.first() != Some(&1) {
        return Err(Error::Decode("unknown page list version".into()));
    }
    let mut at = 1;
    let count = get_varint(bytes, &mut at)? as usize;
    let mut pages: Vec<PackedPage> = Vec::with_capacity(count.min(100_000));
    let mut prev: Vec<u8> = Vec::new();
    for _ in 0..count {
        let blob_id = get_varint(bytes, &mut at)? as i64;
        let prefix = get_varint(bytes, &mut at)? as usize;
        let suffix = get_varint(bytes, &mut at)? as usize;
        let len = get_varint(bytes, &mut at)? as usize;
        if prefix.checked_add(suffix).is_none_or(|n| n > prev.len()) {
            return Err(Error::Decode(
                "page name refers past the previous one".into(),
            ));
        }
        let end = at
            .checked_add(len)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| Error::Decode("page name ends early".into()))?;
        let mut name = Vec::with_capacity(prefix + len + suffix);
        name.extend_from_slice(&prev[..prefix]);
        name.extend_from_slice(&bytes[at..end]);
        name.extend_from_slice(&prev[prev.len() - suffix..]);
        at = end;
        let text =
            String::from_utf8(name).map_err(|_| Error::Decode("page name is not UTF-8".into()))?;
        prev = text.as_bytes().to_vec();
        pages.push(PackedPage {
            blob_id,
            name: text,
        });
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let pages: Vec<PackedPage> = (0..500)
            .map(|i| PackedPage {
                blob_id: i * 1_000_003,
                name: format!("ページ {i:03}.jpg"),
            })
            .collect();
        assert_eq!(decode(&encode_list(&pages)).unwrap(), pages);
        assert_eq!(decode(&encode_list(&[])).unwrap(), vec![]);
        let awkward: Vec<PackedPage> = [
            "a",
            "",
            "aa",
            "a",
            "abcabc",
            "abc",
            "x/y/001.png",
            "x/y/002.png",
            "x/z/002.png",
            "日本.png",
            "日本語.png",
        ]
        .iter()
        .enumerate()
        .map(|(i, n)| PackedPage {
            blob_id: i as i64,
            name: n.to_string(),
        })
        .collect();
        assert_eq!(decode(&encode_list(&awkward)).unwrap(), awkward);
        let numbered: Vec<PackedPage> = (1..=200)
            .map(|i| PackedPage {
                blob_id: 3,
                name: format!("{i:03}.jpg"),
            })
            .collect();
        assert!(
            encode_list(&numbered).len() <= 2 + 3 + 200 * 6,
            "numbered names code small: {}",
            encode_list(&numbered).len()
        );
    }

    #[test]
    fn damaged_lists_are_errors_not_panics() {
        let good = encode_list(&[PackedPage {
            blob_id: 300,
            name: "a.png".into(),
        }]);
        for cut in 0..good.len() {
            assert!(decode(&good[..cut]).is_err());
        }
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..10_000 {
            let junk: Vec<u8> = (0..rng.usize(0..40)).map(|_| rng.u8(..)).collect();
            let _ = decode(&junk);
        }
    }
}
