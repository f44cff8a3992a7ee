//! What a file is, from its first bytes, whatever its name says: the image formats pages may be,
//! and the archive formats galleries come in.

use db::ImageFormat;

/// How many leading bytes the sniffers look at.
pub const SNIFF_LEN: usize = 32;

/// The image format `head` (a file's first bytes) begins, if it is one LittlePanda keeps as a page.
pub fn image_format(head: &[u8]) -> Option<ImageFormat> {
    let ftyp_brand = (head.len() >= 12 && &head[4..8] == b"ftyp").then(|| &head[8..12]);
    Some(match head {
        [0xFF, 0xD8, 0xFF, ..] => ImageFormat::Jpeg,
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => ImageFormat::Png,
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => ImageFormat::Gif,
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
        ] => ImageFormat::Webp,
        [b'B', b'M', ..] if head.len() >= 26 => ImageFormat::Bmp,
        _ if matches!(ftyp_brand, Some(b"avif" | b"avis")) => ImageFormat::Avif,
        _ => return None,
    })
}

/// The media type of an image format.
pub fn media_type(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "image/jpeg",
        ImageFormat::Png => "image/png",
        ImageFormat::Gif => "image/gif",
        ImageFormat::Webp => "image/webp",
        ImageFormat::Avif => "image/avif",
        ImageFormat::Bmp => "image/bmp",
        ImageFormat::Other => "application/octet-stream",
    }
}

/// The media type `head` begins, or `application/octet-stream`.
pub fn content_type(head: &[u8]) -> &'static str {
    image_format(head).map_or("application/octet-stream", media_type)
}

/// The archive formats galleries are imported from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    Zip,
    Rar,
    SevenZip,
    Tar,
    TarGz,
}

/// How many leading bytes [`archive_kind`] needs (a tar header's magic is at 257).
pub const ARCHIVE_SNIFF_LEN: usize = 265;

/// The archive format `head` begins, if any. A gzip stream is taken for a tar inside; reading it
/// finds out.
pub fn archive_kind(head: &[u8]) -> Option<ArchiveKind> {
    Some(match head {
        [b'P', b'K', 0x03, 0x04, ..] | [b'P', b'K', 0x05, 0x06, ..] => ArchiveKind::Zip,
        [b'R', b'a', b'r', b'!', 0x1A, 0x07, ..] => ArchiveKind::Rar,
        [b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C, ..] => ArchiveKind::SevenZip,
        [0x1F, 0x8B, ..] => ArchiveKind::TarGz,
        _ if head.len() >= 262 && &head[257..262] == b"ustar" => ArchiveKind::Tar,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_by_magic_bytes() {
        assert_eq!(
            image_format(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageFormat::Jpeg)
        );
        assert_eq!(
            image_format(b"\x89PNG\r\n\x1a\n...."),
            Some(ImageFormat::Png)
        );
        assert_eq!(image_format(b"GIF89a......"), Some(ImageFormat::Gif));
        assert_eq!(
            image_format(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(ImageFormat::Webp)
        );
        assert_eq!(
            image_format(b"\0\0\0\x1cftypavif\0\0\0\0"),
            Some(ImageFormat::Avif)
        );
        assert_eq!(
            image_format(&[b"BM".as_slice(), &[0; 30]].concat()),
            Some(ImageFormat::Bmp)
        );
        assert_eq!(image_format(b"BM"), None);
        assert_eq!(image_format(b"hello"), None);
        assert_eq!(image_format(b""), None);
        assert_eq!(content_type(b"hello"), "application/octet-stream");
        assert_eq!(content_type(b"GIF87a......"), "image/gif");
    }

    #[test]
    fn archives_by_magic_bytes() {
        assert_eq!(archive_kind(b"PK\x03\x04rest"), Some(ArchiveKind::Zip));
        assert_eq!(archive_kind(b"PK\x05\x06"), Some(ArchiveKind::Zip));
        assert_eq!(archive_kind(b"Rar!\x1a\x07\x00"), Some(ArchiveKind::Rar));
        assert_eq!(
            archive_kind(b"Rar!\x1a\x07\x01\x00"),
            Some(ArchiveKind::Rar)
        );
        assert_eq!(
            archive_kind(b"7z\xbc\xaf\x27\x1c\x00\x04"),
            Some(ArchiveKind::SevenZip)
        );
        assert_eq!(archive_kind(b"\x1f\x8b\x08"), Some(ArchiveKind::TarGz));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(archive_kind(&tar), Some(ArchiveKind::Tar));
        assert_eq!(archive_kind(b"just text"), None);
        assert_eq!(archive_kind(b""), None);
    }
}
