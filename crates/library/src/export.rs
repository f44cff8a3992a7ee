//! What a gallery exports with its pages: a ComicInfo.xml of LittlePanda's metadata, so that
//! nothing is locked in (readers such as Komga, Kavita and LANraragi read it, and so does import).

use std::io::{Seek, Write};

use db::{Gallery, Page, ReadingDirection};
use lpfs::BlobStore;

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("page {page} ({hash}) is missing from the image store")]
    Missing { page: u32, hash: lpfs::BlobHash },
    #[error("the image store: {0}")]
    Store(#[from] lpfs::Error),
    #[error("writing the archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the archive: {0}")]
    Io(#[from] std::io::Error),
}

/// Writes `g` into `zip` as a cbz: its pages byte for byte (stored: images do not compress),
/// named by position, then a ComicInfo.xml of its metadata. The caller finishes the zip.
pub fn write_cbz<W: Write + Seek>(
    zip: &mut zip::ZipWriter<W>,
    g: &Gallery,
    pages: &[Page],
    store: &dyn BlobStore,
) -> Result<(), ExportError> {
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    let width = pages.len().to_string().len().max(3);
    for p in pages {
        let bytes = store.get(&p.blob.hash)?.ok_or(ExportError::Missing {
            page: p.position + 1,
            hash: p.blob.hash,
        })?;
        let ext = extension(p.blob.format, &p.name);
        zip.start_file(format!("{:0width$}.{ext}", p.position + 1), stored)?;
        zip.write_all(&bytes)?;
    }
    zip.start_file(
        "ComicInfo.xml",
        zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated),
    )?;
    zip.write_all(comic_info(g, pages).as_bytes())?;
    Ok(())
}

/// The file extension a page is exported with: its format's, or (for a format LittlePanda does
/// not know) a tidy version of its original one.
fn extension(format: db::ImageFormat, name: &str) -> String {
    match format {
        db::ImageFormat::Jpeg => "jpg".into(),
        db::ImageFormat::Png => "png".into(),
        db::ImageFormat::Gif => "gif".into(),
        db::ImageFormat::Webp => "webp".into(),
        db::ImageFormat::Avif => "avif".into(),
        db::ImageFormat::Bmp => "bmp".into(),
        db::ImageFormat::Other => name
            .rsplit_once('.')
            .map(|(_, e)| {
                e.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(8)
                    .collect()
            })
            .filter(|e: &String| !e.is_empty())
            .unwrap_or_else(|| "bin".into()),
    }
}

/// Text made safe inside XML or HTML (markup characters as entities; control characters XML
/// cannot carry dropped).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn element(out: &mut String, name: &str, value: &str) {
    if !value.is_empty() {
        out.push_str(&format!("  <{name}>{}</{name}>\n", escape(value)));
    }
}

/// The ISO 639-1 code of a language tag's name, where there is one.
fn iso_of(language: &str) -> Option<&'static str> {
    Some(match language {
        "english" => "en",
        "japanese" => "ja",
        "chinese" => "zh",
        "korean" => "ko",
        "spanish" => "es",
        "french" => "fr",
        "german" => "de",
        "italian" => "it",
        "portuguese" => "pt",
        "russian" => "ru",
        "thai" => "th",
        "vietnamese" => "vi",
        "indonesian" => "id",
        "polish" => "pl",
        _ => return None,
    })
}

/// A ComicInfo.xml (schema 2.0) for `g`.
pub fn comic_info(g: &Gallery, pages: &[Page]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ComicInfo xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n",
    );
    element(&mut out, "Title", &g.title);
    element(&mut out, "Summary", &g.summary);
    let of = |ns: &str| -> Vec<&str> {
        g.tags
            .iter()
            .filter(|t| t.tag.namespace == ns)
            .map(|t| t.tag.name.as_str())
            .collect()
    };
    element(&mut out, "Writer", &of("artist").join(", "));
    element(&mut out, "Penciller", &of("artist").join(", "));
    element(&mut out, "Format", &g.category);
    let tags: Vec<String> = g.tags.iter().map(|t| t.tag.to_string()).collect();
    element(&mut out, "Tags", &tags.join(", "));
    if let Some(iso) = of("language").into_iter().find_map(iso_of) {
        element(&mut out, "LanguageISO", iso);
    }
    if let Some(ms) = g.posted_at {
        let days = ms.div_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        element(&mut out, "Year", &y.to_string());
        element(&mut out, "Month", &m.to_string());
        element(&mut out, "Day", &d.to_string());
    }
    element(&mut out, "PageCount", &pages.len().to_string());
    if g.reading_direction == ReadingDirection::RightToLeft {
        element(&mut out, "Manga", "YesAndRightToLeft");
    }
    element(
        &mut out,
        "Notes",
        &format!(
            "LittlePanda gallery {}; original title: {}",
            g.public_id, g.title_original
        ),
    );
    out.push_str("</ComicInfo>\n");
    out
}

/// (year, month, day) of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_through_civil_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b>&\"'\u{1}c"), "a&lt;b&gt;&amp;&quot;&apos;c");
    }
}
