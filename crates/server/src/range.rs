//! HTTP byte ranges (RFC 9110 §14): parsing a `Range` header against a representation's length.

/// What a `Range` header asks of a representation of `len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send the whole representation (200). Multiple ranges and malformed
    /// headers land here too, as RFC 9110 allows a server to ignore them.
    Full,
    /// One satisfiable range, `start..end` (206).
    Partial { start: u64, end: u64 },
    /// A well-formed range that selects no byte of the representation (416).
    Unsatisfiable,
}

/// Interprets the value of a `Range` header for a representation of `len` bytes.
pub fn parse(header: &str, len: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        // bytes=-N: the last N bytes.
        (true, false) if digits(last) => {
            // More digits than u64 holds still means "all of it".
            let n = last.parse::<u64>().unwrap_or(u64::MAX);
            if n == 0 || len == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial {
                    start: len.saturating_sub(n),
                    end: len,
                }
            }
        }
        // bytes=A- and bytes=A-B.
        (false, _) if digits(first) && (last.is_empty() || digits(last)) => {
            let Ok(start) = first.parse::<u64>() else {
                return RangeRequest::Unsatisfiable;
            };
            if start >= len {
                return RangeRequest::Unsatisfiable;
            }
            let end = if last.is_empty() {
                len
            } else {
                match last.parse::<u64>() {
                    Ok(l) if l < start => return RangeRequest::Full,
                    Ok(l) => l.saturating_add(1).min(len),
                    Err(_) => len,
                }
            };
            RangeRequest::Partial { start, end }
        }
        _ => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::*;
    use super::parse;

    #[test]
    fn ranges() {
        assert_eq!(parse("bytes=0-0", 10), Partial { start: 0, end: 1 });
        assert_eq!(parse("bytes=0-", 10), Partial { start: 0, end: 10 });
        assert_eq!(parse("bytes=2-5", 10), Partial { start: 2, end: 6 });
        assert_eq!(parse("bytes=2-500", 10), Partial { start: 2, end: 10 });
        assert_eq!(parse("bytes=9-", 10), Partial { start: 9, end: 10 });
        assert_eq!(parse("bytes=-3", 10), Partial { start: 7, end: 10 });
        assert_eq!(parse("bytes=-30", 10), Partial { start: 0, end: 10 });
        assert_eq!(
            parse("bytes=-99999999999999999999999", 10),
            Partial { start: 0, end: 10 }
        );
        assert_eq!(
            parse("bytes=0-99999999999999999999999", 10),
            Partial { start: 0, end: 10 }
        );
        assert_eq!(parse("bytes=10-", 10), Unsatisfiable);
        assert_eq!(parse("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(parse("bytes=-0", 10), Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse("bytes=-5", 0), Unsatisfiable);
        assert_eq!(parse("bytes=99999999999999999999999-", 10), Unsatisfiable);
        // Ignored: send everything.
        assert_eq!(parse("bytes=5-2", 10), Full);
        assert_eq!(parse("bytes=0-1,3-4", 10), Full);
        assert_eq!(parse("items=0-1", 10), Full);
        assert_eq!(parse("bytes=a-b", 10), Full);
        assert_eq!(parse("bytes=-", 10), Full);
        assert_eq!(parse("bytes=+1-2", 10), Full);
        assert_eq!(parse("", 10), Full);
    }
}
