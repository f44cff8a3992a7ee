//! Content types from a blob's first bytes, so images are served with the right `Content-Type`
//! whatever name they had.

/// How many leading bytes [`content_type`] looks at.
pub const SNIFF_LEN: usize = 32;

/// The media type that `head` (the first bytes of a blob) begins, or `application/octet-stream`.
pub fn content_type(head: &[u8]) -> &'static str {
    let ftyp_brand = (head.len() >= 12 && &head[4..8] == b"ftyp").then(|| &head[8..12]);
    match head {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => "image/png",
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => "image/gif",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        [b'B', b'M', ..] if head.len() >= 14 => "image/bmp",
        _ if matches!(ftyp_brand, Some(b"avif" | b"avis")) => "image/avif",
        [b'P', b'K', 0x03, 0x04, ..] => "application/zip",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn magic_bytes() {
        assert_eq!(content_type(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n...."), "image/png");
        assert_eq!(content_type(b"GIF89a......"), "image/gif");
        assert_eq!(content_type(b"RIFF\0\0\0\0WEBPVP8 "), "image/webp");
        assert_eq!(content_type(b"\0\0\0\x1cftypavif\0\0\0\0"), "image/avif");
        assert_eq!(content_type(b"BM\0\0\0\0\0\0\0\0\0\0\0\0"), "image/bmp");
        assert_eq!(content_type(b"hello"), "application/octet-stream");
        assert_eq!(content_type(b""), "application/octet-stream");
    }
}
