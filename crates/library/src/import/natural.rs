//! Natural order of page names: `2.jpg` before `10.jpg`, `p1_2` before `p1_10`, compared per path
//! component (so the pages of chapter folders stay together and in order), ignoring case and
//! character width (full-width digits and letters count as their ASCII forms).

use std::cmp::Ordering;

/// Compares two page paths in natural order. Ties (names that differ only in case, width or
/// leading zeros) fall back to the raw bytes, so the order is total and stable.
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut left = a.split(['/', '\\']).filter(|c| !c.is_empty());
    let mut right = b.split(['/', '\\']).filter(|c| !c.is_empty());
    loop {
        match (left.next(), right.next()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => match compare_component(x, y) {
                Ordering::Equal => {}
                other => return other,
            },
        }
    }
}

/// A character folded for comparison: full-width forms to ASCII, then lower case.
fn fold(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFF01 + 0x21).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    c.to_lowercase().next().unwrap_or(c)
}

fn compare_component(a: &str, b: &str) -> Ordering {
    let mut x = a.chars().map(fold).peekable();
    let mut y = b.chars().map(fold).peekable();
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let m = digits(&mut x);
                let n = digits(&mut y);
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                match m.len().cmp(&n.len()).then_with(|| m.cmp(n)) {
                    Ordering::Equal => {}
                    other => return other,
                }
            }
            (Some(c), Some(d)) => {
                // A number sorts before text at the same place ("1.jpg" < "a.jpg").
                match (c.is_ascii_digit(), d.is_ascii_digit()) {
                    (true, false) => return Ordering::Less,
                    (false, true) => return Ordering::Greater,
                    _ => {}
                }
                match c.cmp(&d) {
                    Ordering::Equal => {
                        x.next();
                        y.next();
                    }
                    other => return other,
                }
            }
        }
    }
}

fn digits(it: &mut std::iter::Peekable<impl Iterator<Item = char>>) -> String {
    let mut s = String::new();
    while let Some(&c) = it.peek() {
        if !c.is_ascii_digit() {
            break;
        }
        s.push(c);
        it.next();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::compare;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| compare(a, b));
        v
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(
            sorted(&["10.jpg", "2.jpg", "1.jpg", "01.jpg"]),
            ["01.jpg", "1.jpg", "2.jpg", "10.jpg"]
        );
        assert_eq!(
            sorted(&["p1_10.png", "p1_2.png", "p2_1.png", "p10_1.png"]),
            ["p1_2.png", "p1_10.png", "p2_1.png", "p10_1.png"]
        );
    }

    #[test]
    fn case_and_width_are_ignored() {
        assert_eq!(
            sorted(&["B.jpg", "a.jpg", "C.jpg"]),
            ["a.jpg", "B.jpg", "C.jpg"]
        );
        // Full-width digits: ２ < １０.
        assert_eq!(
            sorted(&["ページ１０.jpg", "ページ２.jpg", "ページ１.jpg"]),
            ["ページ１.jpg", "ページ２.jpg", "ページ１０.jpg"]
        );
        assert_eq!(sorted(&["ｐ１０.jpg", "p9.jpg"]), ["p9.jpg", "ｐ１０.jpg"]);
    }

    #[test]
    fn chapter_folders_stay_together_and_in_order() {
        assert_eq!(
            sorted(&[
                "Chapter 10/1.jpg",
                "Chapter 2/10.jpg",
                "Chapter 2/9.jpg",
                "Chapter 1/2.jpg",
            ]),
            [
                "Chapter 1/2.jpg",
                "Chapter 2/9.jpg",
                "Chapter 2/10.jpg",
                "Chapter 10/1.jpg"
            ]
        );
    }

    #[test]
    fn the_order_is_total() {
        // Equal under folding, still ordered (and never equal unless identical).
        let v = sorted(&["a.JPG", "A.jpg", "a.jpg"]);
        assert_eq!(v, ["A.jpg", "a.JPG", "a.jpg"]);
        assert_eq!(
            compare("001.jpg", "1.jpg"),
            "001.jpg".cmp("1.jpg"),
            "leading zeros tie, then raw bytes decide"
        );
        let huge = "9".repeat(500);
        assert_eq!(sorted(&[&huge, "1"]), ["1".to_string(), huge.clone()]);
    }
}
