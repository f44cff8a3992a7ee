//! The query language (see `docs/search.md`): a hand-written parser with positions in its errors
//! and caps on size and nesting, so any input gets an answer or a clear error in bounded time.
//!
//! ```text
//! query   = or
//! or      = and { ("|" | "OR") and }
//! and     = unary { unary }
//! unary   = "-" unary | "(" or ")" | term
//! term    = word | "\"phrase\"" | ns ":" value | ns ":" "\"value\"" | field ":" range | state
//! value   = text [ "$" ]            (prefix unless "$"; "*" and "?" are wildcards)
//! ```

use crate::text::fold;

/// At most this many terms in one query.
pub const MAX_TERMS: usize = 256;
/// At most this deep nesting of parentheses and negations.
pub const MAX_DEPTH: usize = 32;
/// At most this long a query, in bytes.
pub const MAX_LEN: usize = 4096;

/// A parsed query: what must match, and the order.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub expr: Expr,
    pub sort: Sort,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Matches everything (the empty query).
    All,
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term(Term),
}

impl Expr {
    /// Whether the query asks for the trash (the trash is searched only then).
    pub fn mentions_trash(&self) -> bool {
        match self {
            Expr::Term(Term::Trash) => true,
            Expr::And(v) | Expr::Or(v) => v.iter().any(Expr::mentions_trash),
            Expr::Not(x) => x.mentions_trash(),
            _ => false,
        }
    }
}

/// How a tag or word value matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// Folded text, possibly with `*` and `?`.
    pub text: String,
    /// `$`: the whole name, not a prefix.
    pub exact: bool,
}

impl Pattern {
    /// Whether a (folded) name matches.
    pub fn matches(&self, name: &str) -> bool {
        let wild = self.text.contains(['*', '?']);
        match (self.exact, wild) {
            (true, false) => name == self.text,
            (false, false) => name.starts_with(&self.text),
            (true, true) => crate::text::glob(&self.text, name),
            (false, true) => crate::text::glob(&format!("{}*", self.text), name),
        }
    }

    /// The literal text before any wildcard: every match starts with it.
    pub fn literal_prefix(&self) -> &str {
        let end = self.text.find(['*', '?']).unwrap_or(self.text.len());
        &self.text[..end]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A bare word: a title word, or a tag of that name in any namespace.
    Word(Pattern),
    /// `"exact phrase"`: in a title.
    Phrase(String),
    /// `ns:value`.
    Tag {
        namespace: String,
        name: Pattern,
    },
    /// `pages:`, `size:`, `added:`, `posted:` with an inclusive range.
    Range {
        field: Field,
        min: i64,
        max: i64,
    },
    Untagged,
    Trash,
    /// `read`: galleries the viewer has opened (`unread` is its negation).
    Read,
    /// `favorite`: the viewer's favorites.
    Favorite,
    /// `in:name`: in one of the viewer's collections (a saved search's matches, for a saved one).
    InCollection(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Pages,
    Size,
    Added,
    Posted,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortKey {
    Title,
    #[default]
    Added,
    Posted,
    Pages,
    Size,
    Random,
    /// The first tag of a namespace (`sort:artist`).
    Namespace(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Self {
            key: SortKey::Added,
            descending: true,
        }
    }
}

/// A query that cannot be answered, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct ParseError {
    /// Character offset in the query.
    pub position: usize,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Or,
    Minus,
    /// A term's text (quotes resolved): `ns`, value, whether the value was quoted, `$`.
    Text {
        ns: Option<String>,
        value: String,
        quoted: bool,
        exact: bool,
    },
}

fn err(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

fn lex(input: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        match c {
            '(' => {
                out.push((start, Token::Open));
                i += 1;
            }
            ')' => {
                out.push((start, Token::Close));
                i += 1;
            }
            '|' => {
                out.push((start, Token::Or));
                i += 1;
            }
            '-' => {
                out.push((start, Token::Minus));
                i += 1;
            }
            _ => {
                // A term: text up to whitespace or a bracket, with quoted parts kept whole.
                let mut ns: Option<String> = None;
                let mut value = String::new();
                let mut quoted = false;
                while i < chars.len() {
                    let c = chars[i];
                    if c.is_whitespace() || c == '(' || c == ')' || (c == '|' && !quoted) {
                        break;
                    }
                    if c == '"' {
                        let open = i;
                        i += 1;
                        while i < chars.len() && chars[i] != '"' {
                            value.push(chars[i]);
                            i += 1;
                        }
                        if i >= chars.len() {
                            return Err(err(open, "this quote is never closed"));
                        }
                        quoted = true;
                        i += 1;
                        continue;
                    }
                    if c == ':' && ns.is_none() && !quoted && !value.is_empty() {
                        ns = Some(std::mem::take(&mut value));
                        i += 1;
                        continue;
                    }
                    value.push(c);
                    i += 1;
                }
                let exact = value.ends_with('$') && !value.ends_with("\\$");
                if exact {
                    value.pop();
                }
                if value == "OR" && ns.is_none() && !quoted {
                    out.push((start, Token::Or));
                } else {
                    out.push((
                        start,
                        Token::Text {
                            ns,
                            value,
                            quoted,
                            exact,
                        },
                    ));
                }
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    terms: usize,
    sort: Option<Sort>,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.end, |(p, _)| *p)
    }

    fn or(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut alternatives = vec![self.and(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            alternatives.push(self.and(depth)?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.pop().unwrap_or(Expr::All)
        } else {
            Expr::Or(alternatives)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, ParseError> {
        let mut all = Vec::new();
        while let Some(t) = self.peek() {
            if matches!(t, Token::Or | Token::Close) {
                break;
            }
            if let Some(e) = self.unary(depth)? {
                all.push(e);
            }
        }
        if all.is_empty() {
            return match self.peek() {
                Some(Token::Or) => Err(err(self.position(), "nothing before this |")),
                _ if self.at > 0 && matches!(self.tokens[self.at - 1].1, Token::Or) => {
                    Err(err(self.position(), "nothing after |"))
                }
                _ => Ok(Expr::All),
            };
        }
        Ok(if all.len() == 1 {
            all.pop().unwrap_or(Expr::All)
        } else {
            Expr::And(all)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Option<Expr>, ParseError> {
        if depth > MAX_DEPTH {
            return Err(err(
                self.position(),
                format!("nested more than {MAX_DEPTH} deep"),
            ));
        }
        let pos = self.position();
        match self.tokens.get(self.at).map(|(_, t)| t.clone()) {
            Some(Token::Minus) => {
                self.at += 1;
                match self.unary(depth + 1)? {
                    Some(e) => Ok(Some(Expr::Not(Box::new(e)))),
                    None => Err(err(pos, "nothing to exclude after -")),
                }
            }
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.or(depth + 1)?;
                if self.peek() != Some(&Token::Close) {
                    return Err(err(pos, "this parenthesis is never closed"));
                }
                self.at += 1;
                Ok(Some(inner))
            }
            Some(Token::Close) => Err(err(pos, "this parenthesis was never opened")),
            Some(Token::Or) => Err(err(pos, "| needs something on both sides")),
            Some(Token::Text {
                ns,
                value,
                quoted,
                exact,
            }) => {
                self.at += 1;
                self.terms += 1;
                if self.terms > MAX_TERMS {
                    return Err(err(pos, format!("more than {MAX_TERMS} terms")));
                }
                self.term(pos, ns, value, quoted, exact)
            }
            None => Ok(None),
        }
    }

    fn term(
        &mut self,
        pos: usize,
        ns: Option<String>,
        value: String,
        quoted: bool,
        exact: bool,
    ) -> Result<Option<Expr>, ParseError> {
        let value_folded = fold(value.trim());
        let Some(ns) = ns else {
            if quoted {
                if value_folded.is_empty() {
                    return Err(err(pos, "an empty phrase"));
                }
                return Ok(Some(Expr::Term(Term::Phrase(value_folded))));
            }
            return Ok(Some(Expr::Term(match value_folded.as_str() {
                "untagged" if !exact => Term::Untagged,
                "trash" if !exact => Term::Trash,
                "read" if !exact => Term::Read,
                "unread" if !exact => {
                    return Ok(Some(Expr::Not(Box::new(Expr::Term(Term::Read)))));
                }
                "favorite" | "favorites" | "fav" if !exact => Term::Favorite,
                _ => Term::Word(Pattern {
                    text: value_folded,
                    exact,
                }),
            })));
        };
        let ns = fold(&ns);
        let field = match ns.as_str() {
            "pages" => Some(Field::Pages),
            "size" => Some(Field::Size),
            "added" => Some(Field::Added),
            "posted" => Some(Field::Posted),
            _ => None,
        };
        if let Some(field) = field {
            let (min, max) = range(field, &value_folded).map_err(|m| err(pos, m))?;
            return Ok(Some(Expr::Term(Term::Range { field, min, max })));
        }
        if ns == "in" {
            if value_folded.is_empty() {
                return Err(err(pos, "in: needs a collection name"));
            }
            return Ok(Some(Expr::Term(Term::InCollection(value_folded))));
        }
        if ns == "sort" {
            if self.sort.is_some() {
                return Err(err(pos, "only one sort: per query"));
            }
            let (key, dir) = value_folded
                .split_once(':')
                .map_or((value_folded.as_str(), None), |(k, d)| (k, Some(d)));
            let key = match key {
                "title" => SortKey::Title,
                "added" => SortKey::Added,
                "posted" => SortKey::Posted,
                "pages" => SortKey::Pages,
                "size" => SortKey::Size,
                "random" => SortKey::Random,
                ns if !ns.is_empty()
                    && ns
                        .chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '-') =>
                {
                    SortKey::Namespace(ns.to_string())
                }
                other => return Err(err(pos, format!("cannot sort by {other:?}"))),
            };
            let descending = match dir {
                None => matches!(
                    key,
                    SortKey::Added | SortKey::Posted | SortKey::Pages | SortKey::Size
                ),
                Some("asc") => false,
                Some("desc") => true,
                Some(other) => return Err(err(pos, format!("{other:?} is not asc or desc"))),
            };
            self.sort = Some(Sort { key, descending });
            return Ok(None);
        }
        if value_folded.is_empty() {
            return Err(err(pos, format!("{ns}: needs a value")));
        }
        Ok(Some(Expr::Term(Term::Tag {
            namespace: ns,
            name: Pattern {
                text: value_folded,
                exact,
            },
        })))
    }
}

/// Milliseconds since the epoch at the start of a civil day.
fn day_ms(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1..=9999).contains(&y) {
        return None;
    }
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mm = i64::from(m);
    let doy = (153 * (if mm > 2 { mm - 3 } else { mm + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

/// A date or a prefix of one (`2023`, `2023-05`, `2023-05-17`) as the range of milliseconds it
/// covers.
fn date_span(s: &str) -> Option<(i64, i64)> {
    let parts: Vec<&str> = s.split('-').collect();
    let num = |i: usize| parts.get(i).and_then(|p| p.parse::<i64>().ok());
    let y = num(0)?;
    match parts.len() {
        1 => Some((day_ms(y, 1, 1)?, day_ms(y + 1, 1, 1)? - 1)),
        2 => {
            let m = num(1)? as u32;
            let next = if m == 12 {
                day_ms(y + 1, 1, 1)?
            } else {
                day_ms(y, m + 1, 1)?
            };
            Some((day_ms(y, m, 1)?, next - 1))
        }
        3 => {
            let start = day_ms(y, num(1)? as u32, num(2)? as u32)?;
            Some((start, start + 86_400_000 - 1))
        }
        _ => None,
    }
}

/// A number, with a size unit for sizes.
fn number(field: Field, s: &str) -> Option<(i64, i64)> {
    match field {
        Field::Added | Field::Posted => date_span(s),
        Field::Pages => s.parse::<i64>().ok().map(|n| (n, n)),
        Field::Size => {
            let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            let unit = &s[digits.len()..];
            let n: f64 = digits.parse().ok()?;
            let mult = match unit {
                "" | "b" => 1.0,
                "kb" => 1e3,
                "mb" => 1e6,
                "gb" => 1e9,
                "kib" => 1024.0,
                "mib" => 1024.0 * 1024.0,
                "gib" => 1024.0 * 1024.0 * 1024.0,
                _ => return None,
            };
            let v = (n * mult) as i64;
            Some((v, v))
        }
    }
}

fn range(field: Field, v: &str) -> Result<(i64, i64), String> {
    let bad = || {
        format!(
            "{v:?} is not a {}",
            match field {
                Field::Pages => "page count (20, >20, <=50, 10..50)",
                Field::Size => "size (100MB, <2GiB, 1MB..5MB)",
                Field::Added | Field::Posted => "date (2024, 2024-01, >2024-01-01, 2023..2024)",
            }
        )
    };
    let parse = |s: &str| number(field, s).ok_or_else(bad);
    if let Some((a, b)) = v.split_once("..") {
        let lo = if a.is_empty() { i64::MIN } else { parse(a)?.0 };
        let hi = if b.is_empty() { i64::MAX } else { parse(b)?.1 };
        return Ok((lo, hi));
    }
    for (op, f) in [(">=", 0), ("<=", 1), (">", 2), ("<", 3)] {
        if let Some(rest) = v.strip_prefix(op) {
            let (lo, hi) = parse(rest)?;
            return Ok(match f {
                0 => (lo, i64::MAX),
                1 => (i64::MIN, hi),
                2 => (hi.saturating_add(1), i64::MAX),
                _ => (i64::MIN, lo.saturating_sub(1)),
            });
        }
    }
    parse(v)
}

/// Parses a query.
pub fn parse(input: &str) -> Result<Query, ParseError> {
    if input.len() > MAX_LEN {
        return Err(err(MAX_LEN, format!("longer than {MAX_LEN} bytes")));
    }
    let tokens = lex(input)?;
    let mut p = Parser {
        tokens,
        at: 0,
        terms: 0,
        sort: None,
        end: input.chars().count(),
    };
    let expr = p.or(0)?;
    if p.at < p.tokens.len() {
        return Err(err(p.position(), "this parenthesis was never opened"));
    }
    Ok(Query {
        expr,
        sort: p.sort.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(ns: &str, name: &str, exact: bool) -> Expr {
        Expr::Term(Term::Tag {
            namespace: ns.into(),
            name: Pattern {
                text: name.into(),
                exact,
            },
        })
    }

    #[test]
    fn the_grammar() {
        let q = parse(r#"female:glasses$ -male:"big guy" (artist:a | artist:b) sort:title:asc"#)
            .unwrap();
        assert_eq!(
            q.expr,
            Expr::And(vec![
                tag("female", "glasses", true),
                Expr::Not(Box::new(tag("male", "big guy", false))),
                Expr::Or(vec![tag("artist", "a", false), tag("artist", "b", false)]),
            ])
        );
        assert_eq!(
            q.sort,
            Sort {
                key: SortKey::Title,
                descending: false
            }
        );
        assert_eq!(parse("").unwrap().expr, Expr::All);
        assert_eq!(parse("a OR b").unwrap().expr, parse("a | b").unwrap().expr);
        assert!(matches!(
            parse("pages:10..50").unwrap().expr,
            Expr::Term(Term::Range {
                min: 10,
                max: 50,
                ..
            })
        ));
        assert!(matches!(
            parse("size:<1KB").unwrap().expr,
            Expr::Term(Term::Range { max: 999, .. })
        ));
    }

    #[test]
    fn errors_say_where() {
        for (q, at) in [
            ("\"unclosed", 0),
            ("(a b", 0),
            ("a b)", 3),
            ("a |", 3),
            ("| a", 0),
            ("pages:lots", 0),
            ("sort:title:up", 0),
            ("-", 0),
        ] {
            let e = parse(q).expect_err(q);
            assert_eq!(e.position, at, "{q}: {e}");
        }
        let many = vec!["a"; MAX_TERMS + 1].join(" ");
        assert!(parse(&many).is_err());
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
    }
}
