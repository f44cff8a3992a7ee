//! Text made safe inside HTML: the one escaping every page of the web app uses (the ComicInfo
//! exporter has its own, for XML).

/// `s` with the characters that mean markup as entities (safe in element text and in quoted
/// attribute values), and the control characters a page has no use for dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&amp;</a>"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;"
        );
        assert_eq!(escape("tab\tand\u{0}nul\u{1b}"), "tab\tandnul");
        assert_eq!(escape("お姉ちゃん"), "お姉ちゃん");
    }
}
