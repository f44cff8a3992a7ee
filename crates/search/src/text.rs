//! Text as search sees it: folded (full-width forms to ASCII, lower case), split into Latin words,
//! and CJK runs cut into single characters and pairs (Japanese and Chinese titles have no spaces,
//! so they match as substrings).

/// Full-width ASCII forms to ASCII, the ideographic space to a space, then lower case.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(&mut out, s);
    out
}

/// Appends the folded form of `s` ([`fold`]) to `out`.
pub fn fold_into(out: &mut String, s: &str) {
    if s.is_ascii() {
        let at = out.len();
        out.push_str(s);
        out[at..].make_ascii_lowercase();
        return;
    }
    for c in s.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        };
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if is_cjk(c) {
            // These scripts have no case: no lookup in the case tables.
            out.push(c);
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// Whether a character belongs to a script written without spaces.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // compatibility ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xFF66..=0xFF9F // half-width Katakana
    )
}

/// The index keys of a folded text: its Latin words, and each CJK character and pair, as slices
/// of it (sorted, without repeats).
pub fn keys_of(folded: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for_each_key(folded, |k| out.push(k));
    out.sort_unstable();
    out.dedup();
    out
}

/// Calls `f` with each index key of a folded text, in text order (a key may come more than once).
pub fn for_each_key<'a>(folded: &'a str, mut f: impl FnMut(&'a str)) {
    let mut word_start: Option<usize> = None;
    let mut prev_cjk: Option<usize> = None;
    for (i, c) in folded.char_indices() {
        let end = i + c.len_utf8();
        if c.is_ascii() {
            prev_cjk = None;
            if c.is_ascii_alphanumeric() {
                word_start.get_or_insert(i);
            } else if let Some(w) = word_start.take() {
                f(&folded[w..i]);
            }
        } else if is_cjk(c) {
            if let Some(w) = word_start.take() {
                f(&folded[w..i]);
            }
            f(&folded[i..end]);
            if let Some(p) = prev_cjk {
                f(&folded[p..end]);
            }
            prev_cjk = Some(i);
        } else {
            prev_cjk = None;
            if c.is_alphanumeric() {
                word_start.get_or_insert(i);
            } else if let Some(w) = word_start.take() {
                f(&folded[w..i]);
            }
        }
    }
    if let Some(w) = word_start {
        f(&folded[w..]);
    }
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one character), whole. Linear in
/// their lengths times the number of stars at worst, never exponential.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_and_keys() {
        assert_eq!(fold("ＡＢＣ　Def"), "abc def");
        assert_eq!(
            keys_of("the quick-brown fox"),
            ["brown", "fox", "quick", "the"]
        );
        assert_eq!(keys_of("東方project"), ["project", "方", "東", "東方"]);
    }

    #[test]
    fn globs() {
        assert!(glob("gl*s", "glasses"));
        assert!(glob("g?asses", "glasses"));
        assert!(!glob("gl*x", "glasses"));
        assert!(glob("*", ""));
        assert!(glob("*a*b*c*d*", "xaxbxcxdx"));
        let long = "a".repeat(5000);
        assert!(!glob(&format!("{}b", "*a".repeat(200)), &long));
    }
}
