//! Fuzzes the search query parser: any input gets a query or a positioned error, never a panic,
//! and an error's position lies within the input. The parser's two files are compiled in directly
//! (they depend on nothing else of LittlePanda), which keeps the database out of this build.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/search/src/text.rs"]
mod text;
#[allow(dead_code)]
#[path = "../../crates/search/src/query.rs"]
mod query;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match query::parse(input) {
        Ok(q) => {
            // Whatever parses can be matched against any name without trouble.
            fn visit(e: &query::Expr) {
                match e {
                    query::Expr::And(v) | query::Expr::Or(v) => v.iter().for_each(visit),
                    query::Expr::Not(x) => visit(x),
                    query::Expr::Term(query::Term::Tag { name, .. } | query::Term::Word(name)) => {
                        name.matches("some tag name");
                    }
                    _ => {}
                }
            }
            visit(&q.expr);
        }
        Err(e) => assert!(e.position <= input.chars().count().max(query::MAX_LEN)),
    }
});
