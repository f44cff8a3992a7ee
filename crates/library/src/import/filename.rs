//! Title and tags from the E-Hentai file-naming convention:
//!
//! ```text
//! (Event) [Circle (Artist)] Title (Parody) [Language] [Translator] {Extra}
//! ```
//!
//! The mapping (also in `docs/import.md`):
//! - `[Circle (Artist, Artist 2)]` → `group:circle`, `artist:artist`, `artist:artist 2`;
//!   `[Artist]` alone → `artist:artist`.
//! - `(Parody)` right after the title → `parody:parody` (`オリジナル` / `Original` →
//!   `parody:original`).
//! - A trailing `[...]` naming a language (`English`, `Japanese`, `中国翻訳`, `韓国語`, …) →
//!   `language:…`, plus `language:translated` when the name says it was translated.
//! - The leading `(Event)`, other trailing brackets (translators, `[Digital]`) and `{Extra}` are
//!   not tags: they are dropped from the title and kept nowhere else.
//! - The title is what remains, trimmed. A name that does not follow the convention is its own
//!   title, whole.

/// What a file name says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FromName {
    pub title: String,
    /// `(namespace, name)` pairs, not yet normalised.
    pub tags: Vec<(&'static str, String)>,
}

/// Languages as they appear in E-Hentai names, with their tag and whether they mean a
/// translation.
const LANGUAGES: &[(&str, &str, bool)] = &[
    ("english", "english", false),
    ("eng", "english", false),
    ("英訳", "english", true),
    ("英語", "english", false),
    ("japanese", "japanese", false),
    ("日本語", "japanese", false),
    ("chinese", "chinese", false),
    ("中国翻訳", "chinese", true),
    ("中国語", "chinese", false),
    ("中文", "chinese", false),
    ("中國翻譯", "chinese", true),
    ("korean", "korean", false),
    ("韓国翻訳", "korean", true),
    ("韓国語", "korean", false),
    ("spanish", "spanish", false),
    ("french", "french", false),
    ("german", "german", false),
    ("italian", "italian", false),
    ("portuguese", "portuguese", false),
    ("portuguese-br", "portuguese", false),
    ("russian", "russian", false),
    ("thai", "thai", false),
    ("vietnamese", "vietnamese", false),
    ("indonesian", "indonesian", false),
    ("polish", "polish", false),
];

fn language(text: &str) -> Option<(&'static str, bool)> {
    let lower = text.trim().to_lowercase();
    let (base, translated) = match lower.strip_suffix(" translated") {
        Some(b) => (b.trim(), true),
        None => (lower.as_str(), false),
    };
    LANGUAGES
        .iter()
        .find(|(name, _, _)| *name == base)
        .map(|&(_, tag, t)| (tag, t || translated))
}

/// Splits a trailing bracketed group `open … close` off `s`, answering (rest, inside).
fn strip_trailing(s: &str, open: char, close: char) -> Option<(&str, &str)> {
    let s = s.trim_end();
    let body = s.strip_suffix(close)?;
    // Find the matching opener, allowing nested pairs of the same kind.
    let mut depth = 0usize;
    for (i, c) in body.char_indices().rev() {
        if c == close {
            depth += 1;
        } else if c == open {
            if depth == 0 {
                return Some((&body[..i], &body[i + c.len_utf8()..]));
            }
            depth -= 1;
        }
    }
    None
}

/// Splits a leading bracketed group off `s`, answering (inside, rest).
fn strip_leading(s: &str, open: char, close: char) -> Option<(&str, &str)> {
    let s = s.trim_start();
    let body = s.strip_prefix(open)?;
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            if depth == 0 {
                return Some((&body[..i], &body[i + c.len_utf8()..]));
            }
            depth -= 1;
        }
    }
    None
}

fn people(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split([',', '、'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads a file or folder name (without its extension).
pub fn parse(name: &str) -> FromName {
    let mut tags: Vec<(&'static str, String)> = Vec::new();
    let mut rest = name.trim();
    // Leading (Event).
    if let Some((_, after)) = strip_leading(rest, '(', ')')
        && after.trim_start().starts_with('[')
    {
        rest = after;
    }
    // [Circle (Artist)] or [Artist].
    if let Some((inside, after)) = strip_leading(rest, '[', ']')
        && !after.trim().is_empty()
    {
        match strip_trailing(inside, '(', ')') {
            Some((circle, artists)) if !circle.trim().is_empty() => {
                tags.push(("group", circle.trim().to_string()));
                tags.extend(people(artists).map(|a| ("artist", a)));
            }
            _ => tags.extend(people(inside).map(|a| ("artist", a))),
        }
        rest = after;
    }
    // Trailing {Extra} and [..] groups, then one (Parody).
    let mut languages = Vec::new();
    loop {
        if let Some((before, _)) = strip_trailing(rest, '{', '}')
            && !before.trim().is_empty()
        {
            rest = before;
            continue;
        }
        if let Some((before, inside)) = strip_trailing(rest, '[', ']')
            && !before.trim().is_empty()
        {
            if let Some(l) = language(inside) {
                languages.push(l);
            }
            rest = before;
            continue;
        }
        break;
    }
    if let Some((before, inside)) = strip_trailing(rest, '(', ')')
        && !before.trim().is_empty()
    {
        let parody = inside.trim();
        let parody = match parody.to_lowercase().as_str() {
            "オリジナル" | "original" => "original".to_string(),
            _ => parody.to_string(),
        };
        if !parody.is_empty() {
            tags.push(("parody", parody));
        }
        rest = before;
    }
    languages.reverse();
    for (l, translated) in languages {
        tags.push(("language", l.to_string()));
        if translated {
            tags.push(("language", "translated".to_string()));
        }
    }
    let title = rest.trim();
    FromName {
        title: if title.is_empty() {
            name.trim().to_string()
        } else {
            title.to_string()
        },
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::{FromName, parse};

    fn tags(f: &FromName) -> Vec<String> {
        f.tags.iter().map(|(n, t)| format!("{n}:{t}")).collect()
    }

    #[test]
    fn the_full_convention() {
        let f = parse(
            "(C99) [Circle Name (Artist A, Artist B)] The Title (Some Parody) [English] [Translator Group] {Extra}",
        );
        assert_eq!(f.title, "The Title");
        assert_eq!(
            tags(&f),
            [
                "group:Circle Name",
                "artist:Artist A",
                "artist:Artist B",
                "parody:Some Parody",
                "language:english"
            ]
        );
    }

    #[test]
    fn japanese_names() {
        let f = parse("(COMIC1☆15) [サークル (作家)] タイトル (オリジナル) [中国翻訳] [DL版]");
        assert_eq!(f.title, "タイトル");
        assert_eq!(
            tags(&f),
            [
                "group:サークル",
                "artist:作家",
                "parody:original",
                "language:chinese",
                "language:translated"
            ]
        );
    }

    #[test]
    fn partial_and_plain_names() {
        let f = parse("[Artist] Title");
        assert_eq!(f.title, "Title");
        assert_eq!(tags(&f), ["artist:Artist"]);
        let f = parse("Just a folder name");
        assert_eq!(f.title, "Just a folder name");
        assert!(f.tags.is_empty());
        // Brackets only: the name is its own title.
        let f = parse("[Only Brackets]");
        assert_eq!(f.title, "[Only Brackets]");
        // Parentheses inside the title are the title's.
        let f = parse("Title (with parens) inside [Japanese]");
        assert_eq!(f.title, "Title (with parens) inside");
        assert_eq!(tags(&f), ["language:japanese"]);
    }

    #[test]
    fn unbalanced_brackets_do_not_panic() {
        for name in [
            "((((",
            "]]]]",
            "[a (b] c)",
            "(x) [",
            "{",
            "[a] b (c",
            "",
            " ",
        ] {
            let f = parse(name);
            assert!(!f.title.is_empty() || name.trim().is_empty(), "{name:?}");
        }
    }
}
