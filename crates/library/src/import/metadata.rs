//! The gallery an import makes: its title, tags and other metadata from the file name, the
//! metadata files inside and the caller.

use super::*;

impl Importer {
    /// The gallery to create from what was read.
    pub(super) fn gallery(
        &self,
        source: &Source,
        archive_hash: Option<BlobHash>,
        opts: &ImportOptions,
        c: &mut Collector<'_>,
    ) -> NewGallery {
        let mut pages = std::mem::take(&mut c.pages);
        pages.sort_by(|a, b| natural::compare(&a.name, &b.name));
        let path = source.path();
        let from_name = filename::parse(&stem(path));
        let mut g = NewGallery {
            title: from_name.title.clone(),
            source_filename: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            // A folder has no archive: its pages, in order, stand for it.
            archive_hash: archive_hash.or_else(|| {
                let mut h = blake3::Hasher::new();
                h.update(b"littlepanda folder v1");
                for p in &pages {
                    h.update(&p.blob.hash.0);
                }
                Some(BlobHash(*h.finalize().as_bytes()))
            }),
            pages,
            ..NewGallery::default()
        };
        let mut tags: Vec<(TagName, TagSource)> = Vec::new();
        let mut add = |ns: &str, name: &str, source: TagSource, warnings: &mut Vec<String>| {
            match TagName::new(ns, name) {
                Ok(t) => add_tag(&mut tags, t, source),
                Err(e) => warnings.push(format!("tag {ns}:{name} left out: {e}")),
            }
        };
        for t in &opts.tags {
            add(&t.namespace, &t.name, TagSource::User, &mut c.warnings);
        }
        // Metadata files: ComicInfo.xml first, then gallery-dl, E-Hentai Downloader, H@H.
        let mut sidecars: Vec<(sidecar::Kind, String, Vec<u8>)> = std::mem::take(&mut c.sidecars);
        let rank = |k: sidecar::Kind| match k {
            sidecar::Kind::ComicInfo => 0,
            sidecar::Kind::GalleryDlJson => 1,
            sidecar::Kind::InfoTxt => 2,
            sidecar::Kind::GalleryInfo => 3,
        };
        sidecars.sort_by_key(|(k, name, _)| (rank(*k), name.matches('/').count(), name.clone()));
        let mut titled = false;
        for (kind, name, bytes) in &sidecars {
            let Some(s) = sidecar::parse(*kind, bytes) else {
                if *kind != sidecar::Kind::GalleryDlJson {
                    c.warnings.push(format!(
                        "{name}: not a metadata file LittlePanda understands"
                    ));
                }
                continue;
            };
            if !titled && let Some(t) = s.title {
                g.title = t;
                titled = true;
            }
            fill(&mut g.title_original, s.title_original);
            fill(&mut g.category, s.category);
            fill(&mut g.summary, s.summary);
            if g.posted_at.is_none() {
                g.posted_at = s.posted_at;
            }
            if let Some(d) = s.reading_direction {
                g.reading_direction = d;
            }
            if let Some(url) = s.source_url
                && !g.summary.contains(&url)
            {
                if !g.summary.is_empty() {
                    g.summary.push_str("\n\n");
                }
                g.summary.push_str(&format!("Source: {url}"));
            }
            for (ns, t) in &s.tags {
                add(ns, t, TagSource::Sidecar, &mut c.warnings);
            }
        }
        for (ns, t) in &from_name.tags {
            add(ns, t, TagSource::FileName, &mut c.warnings);
        }
        if let Some(t) = &opts.title {
            g.title = t.clone();
        }
        if g.title.trim().is_empty() {
            g.title = g.source_filename.clone();
        }
        g.tags = tags;
        g
    }
}

/// Namespaces of names, where two sources often give one person's name short and long.
pub(super) const NAME_NAMESPACES: [&str; 2] = ["artist", "group"];

/// Adds `tag` to a gallery's tags unless it is there already. A name read from metadata
/// (`artist:kenji` from the file name, `artist:kenji mori` from ComicInfo) is one tag: of two
/// where one's words begin the other's, the fuller one is kept. Tags the caller gave are kept
/// as given.
pub(super) fn add_tag(tags: &mut Vec<(TagName, TagSource)>, tag: TagName, source: TagSource) {
    if tags.iter().any(|(have, _)| *have == tag) {
        return;
    }
    if source != TagSource::User && NAME_NAMESPACES.contains(&tag.namespace.as_str()) {
        let same_person = |short: &TagName, long: &TagName| {
            short.namespace == long.namespace && words_begin(&short.name, &long.name)
        };
        if tags.iter().any(|(have, _)| same_person(&tag, have)) {
            return;
        }
        tags.retain(|(have, s)| *s == TagSource::User || !same_person(have, &tag));
    }
    tags.push((tag, source));
}

/// Whether `short`'s words are the first words of `long` (and fewer).
pub(super) fn words_begin(short: &str, long: &str) -> bool {
    let (mut a, mut b) = (short.split_whitespace(), long.split_whitespace());
    let mut matched = 0;
    loop {
        match (a.next(), b.next()) {
            (None, Some(_)) => return matched > 0,
            (Some(x), Some(y)) if x == y => matched += 1,
            _ => return false,
        }
    }
}

pub(super) fn fill(field: &mut String, value: Option<String>) {
    if field.is_empty()
        && let Some(v) = value
    {
        *field = v;
    }
}
