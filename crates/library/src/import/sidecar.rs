//! Metadata files found beside the pages: ComicInfo.xml, E-Hentai Downloader's `info.txt`,
//! Hentai@Home's `galleryinfo.txt` and gallery-dl's `*.json`.

use db::ReadingDirection;

/// What a metadata file says. Tags are `(namespace, name)`, not yet normalised; an empty
/// namespace means the file gave none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sidecar {
    pub title: Option<String>,
    pub title_original: Option<String>,
    pub category: Option<String>,
    pub summary: Option<String>,
    pub source_url: Option<String>,
    pub posted_at: Option<i64>,
    pub reading_direction: Option<ReadingDirection>,
    pub tags: Vec<(String, String)>,
}

/// Which metadata file a name is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ComicInfo,
    InfoTxt,
    GalleryInfo,
    GalleryDlJson,
}

/// Metadata files are small; anything bigger is not one.
pub const MAX_SIDECAR_BYTES: u64 = 4 << 20;

pub fn kind_of(name: &str) -> Option<Kind> {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .to_lowercase();
    match base.as_str() {
        "comicinfo.xml" => Some(Kind::ComicInfo),
        "info.txt" => Some(Kind::InfoTxt),
        "galleryinfo.txt" => Some(Kind::GalleryInfo),
        _ if base.ends_with(".json") => Some(Kind::GalleryDlJson),
        _ => None,
    }
}

/// Reads a metadata file; `None` when it is not one after all (a JSON file of another shape, say)
/// or cannot be read.
pub fn parse(kind: Kind, bytes: &[u8]) -> Option<Sidecar> {
    let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes));
    match kind {
        Kind::ComicInfo => comic_info(&text),
        Kind::InfoTxt => info_txt(&text),
        Kind::GalleryInfo => gallery_info(&text),
        Kind::GalleryDlJson => gallery_dl(&text),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// `ns:name` or a bare name, as a pair.
fn split_tag(t: &str, default_ns: &str) -> Option<(String, String)> {
    let t = t.trim();
    if t.is_empty() {
        return None;
    }
    Some(match t.split_once(':') {
        Some((ns, name)) if !ns.trim().is_empty() && !ns.contains(' ') => {
            (ns.trim().to_string(), name.trim().to_string())
        }
        _ => (default_ns.to_string(), t.to_string()),
    })
}

/// The language tag for an ISO 639-1 code.
fn language_of_iso(code: &str) -> Option<&'static str> {
    Some(match code.trim().to_lowercase().as_str() {
        "en" => "english",
        "ja" => "japanese",
        "zh" | "zh-cn" | "zh-tw" | "zh-hans" | "zh-hant" => "chinese",
        "ko" => "korean",
        "es" => "spanish",
        "fr" => "french",
        "de" => "german",
        "it" => "italian",
        "pt" | "pt-br" => "portuguese",
        "ru" => "russian",
        "th" => "thai",
        "vi" => "vietnamese",
        "id" => "indonesian",
        "pl" => "polish",
        _ => return None,
    })
}

/// Milliseconds since the epoch of a civil date (proleptic Gregorian, UTC).
pub(crate) fn date_ms(year: i64, month: u32, day: u32, hour: u32, minute: u32) -> Option<i64> {
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Days from civil, after Howard Hinnant's algorithm.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + i64::from(hour)) * 60 + i64::from(minute)) * 60_000)
}

/// `2019-01-02`, `2019-01-02 12:34` or `2019-01-02T12:34:56`.
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T']).unwrap_or((s, ""));
    let mut d = date.split('-');
    let year = d.next()?.parse().ok()?;
    let month = d.next()?.parse().ok()?;
    let day = d.next()?.parse().ok()?;
    let mut t = time.split(':');
    let hour = t.next().and_then(|h| h.trim().parse().ok()).unwrap_or(0);
    let minute = t.next().and_then(|m| m.trim().parse().ok()).unwrap_or(0);
    date_ms(year, month, day, hour, minute)
}

fn comic_info(text: &str) -> Option<Sidecar> {
    let doc = roxmltree::Document::parse(text).ok()?;
    let root = doc.root_element();
    let field = |name: &str| {
        root.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .and_then(non_empty)
    };
    let mut s = Sidecar {
        title: field("Title").or_else(|| field("Series")),
        summary: field("Summary"),
        source_url: field("Web"),
        category: field("Format"),
        ..Sidecar::default()
    };
    if let (Some(series), Some(title)) = (field("Series"), field("Title"))
        && series != title
    {
        s.tags.push(("series".into(), series));
    }
    for role in ["Writer", "Penciller", "Inker", "CoverArtist"] {
        for a in field(role).iter().flat_map(|v| v.split(',')) {
            if let Some(a) = non_empty(a)
                && !s.tags.iter().any(|(n, t)| n == "artist" && *t == a)
            {
                s.tags.push(("artist".into(), a));
            }
        }
    }
    for g in field("Genre").iter().flat_map(|v| v.split(',')) {
        s.tags.extend(split_tag(g, "misc"));
    }
    for t in field("Tags").iter().flat_map(|v| v.split(',')) {
        s.tags.extend(split_tag(t, "misc"));
    }
    if let Some(l) = field("LanguageISO").as_deref().and_then(language_of_iso) {
        s.tags.push(("language".into(), l.into()));
    }
    s.reading_direction = match field("Manga").as_deref() {
        Some("YesAndRightToLeft") => Some(ReadingDirection::RightToLeft),
        _ => None,
    };
    if let Some(year) = field("Year").and_then(|y| y.parse().ok()) {
        let month = field("Month").and_then(|m| m.parse().ok()).unwrap_or(1);
        let day = field("Day").and_then(|d| d.parse().ok()).unwrap_or(1);
        s.posted_at = date_ms(year, month, day, 0, 0);
    }
    Some(s)
}

/// E-Hentai Downloader's `info.txt`: title, original title, URL, then `Key: value` lines and a
/// `Tags:` block of `> namespace: a, b` lines.
fn info_txt(text: &str) -> Option<Sidecar> {
    let mut lines = text.lines();
    let mut s = Sidecar {
        title: lines.next().and_then(non_empty),
        ..Sidecar::default()
    };
    for line in lines.by_ref().take(2) {
        let line = line.trim();
        if line.starts_with("http://") || line.starts_with("https://") {
            s.source_url = Some(line.to_string());
            break;
        }
        if s.title_original.is_none() {
            s.title_original = non_empty(line);
        }
    }
    let mut in_tags = false;
    for line in lines {
        let line = line.trim_end();
        if let Some(rest) = line.trim_start().strip_prefix('>') {
            if in_tags && let Some((ns, list)) = rest.split_once(':') {
                for t in list.split(',') {
                    if let Some(t) = non_empty(t) {
                        s.tags.push((ns.trim().to_string(), t));
                    }
                }
            }
            continue;
        }
        in_tags = false;
        match line.split_once(':') {
            Some(("Tags", _)) => in_tags = true,
            Some(("Category", v)) => s.category = non_empty(v),
            Some(("Posted", v)) => s.posted_at = parse_date(v),
            Some(("Language", v)) => {
                let v = v.trim().to_lowercase();
                let (lang, tr) = match v.strip_suffix("tr") {
                    Some(l) => (l.trim().to_string(), true),
                    None => (v, false),
                };
                if let Some(l) = non_empty(&lang) {
                    s.tags.push(("language".into(), l));
                }
                if tr {
                    s.tags.push(("language".into(), "translated".into()));
                }
            }
            _ => {}
        }
    }
    // It is E-Hentai Downloader's only if it says where the gallery came from or what it is.
    (s.source_url.is_some() || s.category.is_some() || !s.tags.is_empty()).then_some(s)
}

/// Hentai@Home's `galleryinfo.txt`: `Key: value` lines, tags comma-separated on one line, then
/// the uploader's comment.
fn gallery_info(text: &str) -> Option<Sidecar> {
    let mut s = Sidecar::default();
    let mut comment = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("Uploader's Comment") {
            comment = Some(i);
            break;
        }
        match line.split_once(':') {
            Some(("Title", v)) => s.title = non_empty(v),
            Some(("Upload Time", v)) => s.posted_at = parse_date(v),
            Some(("Tags", v)) => s
                .tags
                .extend(v.split(',').filter_map(|t| split_tag(t, "misc"))),
            _ => {}
        }
    }
    if let Some(i) = comment {
        let rest: Vec<&str> = text.lines().skip(i + 1).collect();
        s.summary = non_empty(&rest.join("\n"));
    }
    (s.title.is_some() || !s.tags.is_empty()).then_some(s)
}

/// gallery-dl's metadata JSON (its `--write-metadata`), E-Hentai style or generic.
fn gallery_dl(text: &str) -> Option<Sidecar> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let obj = v.as_object()?;
    let string = |k: &str| obj.get(k).and_then(|v| v.as_str()).and_then(non_empty);
    let mut s = Sidecar {
        title: string("title"),
        title_original: string("title_jpn").or_else(|| string("title_original")),
        category: string("eh_category").or_else(|| string("type")),
        summary: string("description"),
        ..Sidecar::default()
    };
    match obj.get("tags") {
        Some(serde_json::Value::Array(list)) => {
            s.tags.extend(
                list.iter()
                    .filter_map(|t| t.as_str())
                    .filter_map(|t| split_tag(t, "misc")),
            );
        }
        Some(serde_json::Value::Object(by_ns)) => {
            for (ns, list) in by_ns {
                for t in list.as_array().into_iter().flatten() {
                    if let Some(t) = t.as_str().and_then(non_empty) {
                        s.tags.push((ns.clone(), t));
                    }
                }
            }
        }
        _ => {}
    }
    if let Some(l) = string("lang").as_deref().and_then(language_of_iso) {
        if !s.tags.iter().any(|(n, _)| n == "language") {
            s.tags.push(("language".into(), l.into()));
        }
    } else if let Some(l) = string("language")
        && !s.tags.iter().any(|(n, _)| n == "language")
    {
        s.tags.push(("language".into(), l.to_lowercase()));
    }
    s.posted_at = match obj.get("date").or_else(|| obj.get("posted")) {
        Some(serde_json::Value::Number(n)) => n.as_i64().map(|secs| secs * 1000),
        Some(serde_json::Value::String(d)) => parse_date(d),
        _ => None,
    };
    if let (Some(gid), Some(token)) = (
        obj.get("gid").and_then(serde_json::Value::as_i64),
        string("token"),
    ) {
        s.source_url = Some(format!("https://e-hentai.org/g/{gid}/{token}/"));
    }
    // A JSON file that names no title and no tags is not gallery metadata.
    (s.title.is_some() || !s.tags.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &Sidecar) -> Vec<String> {
        s.tags.iter().map(|(n, t)| format!("{n}:{t}")).collect()
    }

    #[test]
    fn comic_info_xml() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<ComicInfo xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <Title>The Title</Title>
  <Series>The Series</Series>
  <Summary>What happens.</Summary>
  <Writer>Writer One</Writer>
  <Penciller>Artist Two, Writer One</Penciller>
  <Genre>Comedy, Romance</Genre>
  <Tags>female:glasses, parody:original, plain</Tags>
  <Web>https://example.org/g/1</Web>
  <LanguageISO>ja</LanguageISO>
  <Manga>YesAndRightToLeft</Manga>
  <Year>2020</Year><Month>2</Month><Day>29</Day>
</ComicInfo>"#;
        let s = parse(Kind::ComicInfo, xml.as_bytes()).unwrap();
        assert_eq!(s.title.as_deref(), Some("The Title"));
        assert_eq!(s.summary.as_deref(), Some("What happens."));
        assert_eq!(s.source_url.as_deref(), Some("https://example.org/g/1"));
        assert_eq!(s.reading_direction, Some(ReadingDirection::RightToLeft));
        assert_eq!(s.posted_at, date_ms(2020, 2, 29, 0, 0));
        assert_eq!(
            tags(&s),
            [
                "series:The Series",
                "artist:Writer One",
                "artist:Artist Two",
                "misc:Comedy",
                "misc:Romance",
                "female:glasses",
                "parody:original",
                "misc:plain",
                "language:japanese"
            ]
        );
        assert_eq!(parse(Kind::ComicInfo, b"<ComicInfo><Title>x"), None);
    }

    #[test]
    fn e_hentai_downloader_info_txt() {
        let txt = "Some Title\nオリジナル タイトル\nhttps://e-hentai.org/g/1/abc/\n\nCategory: Doujinshi\nUploader: someone\nPosted: 2019-01-02 03:04\nLanguage: English TR\n\nTags:\n> parody: original\n> female: glasses, stockings\n\nPage 1: https://x\n";
        let s = parse(Kind::InfoTxt, txt.as_bytes()).unwrap();
        assert_eq!(s.title.as_deref(), Some("Some Title"));
        assert_eq!(s.title_original.as_deref(), Some("オリジナル タイトル"));
        assert_eq!(s.category.as_deref(), Some("Doujinshi"));
        assert_eq!(s.posted_at, date_ms(2019, 1, 2, 3, 4));
        assert_eq!(
            tags(&s),
            [
                "language:english",
                "language:translated",
                "parody:original",
                "female:glasses",
                "female:stockings"
            ]
        );
        // Any other info.txt is not E-Hentai Downloader's.
        assert_eq!(
            parse(Kind::InfoTxt, b"Just some notes\nabout the scan\n"),
            None
        );
    }

    #[test]
    fn hentai_at_home_gallery_info() {
        let txt = "Title:       A Title\nUpload Time: 2018-05-06 07:08\nUploaded By: x\nDownloaded:  2020-01-01 00:00\nTags:        language:english, female:glasses, misc\n\nUploader's Comment:\nHello\nthere\n";
        let s = parse(Kind::GalleryInfo, txt.as_bytes()).unwrap();
        assert_eq!(s.title.as_deref(), Some("A Title"));
        assert_eq!(s.posted_at, date_ms(2018, 5, 6, 7, 8));
        assert_eq!(s.summary.as_deref(), Some("Hello\nthere"));
        assert_eq!(
            tags(&s),
            ["language:english", "female:glasses", "misc:misc"]
        );
    }

    #[test]
    fn gallery_dl_json() {
        let json = r#"{"gid": 123, "token": "abc", "title": "T", "title_jpn": "J", "eh_category": "Manga",
            "tags": ["female:glasses", "language:japanese"], "date": 1600000000}"#;
        let s = parse(Kind::GalleryDlJson, json.as_bytes()).unwrap();
        assert_eq!(s.title.as_deref(), Some("T"));
        assert_eq!(s.title_original.as_deref(), Some("J"));
        assert_eq!(s.posted_at, Some(1_600_000_000_000));
        assert_eq!(
            s.source_url.as_deref(),
            Some("https://e-hentai.org/g/123/abc/")
        );
        assert_eq!(tags(&s), ["female:glasses", "language:japanese"]);
        let by_ns =
            r#"{"title": "T", "tags": {"artist": ["a"], "male": ["b", "c"]}, "lang": "en"}"#;
        let s = parse(Kind::GalleryDlJson, by_ns.as_bytes()).unwrap();
        assert_eq!(
            tags(&s),
            ["artist:a", "male:b", "male:c", "language:english"]
        );
        assert_eq!(parse(Kind::GalleryDlJson, b"[1, 2]"), None);
        assert_eq!(parse(Kind::GalleryDlJson, b"{\"other\": 1}"), None);
        assert_eq!(parse(Kind::GalleryDlJson, b"\xff\xfe"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(date_ms(1970, 1, 1, 0, 0), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(951_868_800_000));
        assert_eq!(parse_date("garbage"), None);
        assert_eq!(parse_date("2000-13-01"), None);
    }
}
