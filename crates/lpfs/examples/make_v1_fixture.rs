//! Writes the format-version-1 fixture store that `tests/fixture_v1.rs` reads, so that every later
//! version of LittlePandaFS keeps reading stores written by the first.
//!
//! Run once: `cargo run -p lpfs --example make_v1_fixture -- crates/lpfs/tests/fixtures/v1`.
//! Do not regenerate it for a new format version: add a new fixture beside it instead.

use lpfs::{BlobHash, BlobStore, Options, Store};

#[path = "../tests/fixtures/v1_contents.rs"]
mod v1_contents;
use v1_contents::contents;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: make_v1_fixture DIR")?;
    let store = Store::open(
        &dir,
        Options {
            max_volume_bytes: 4096,
            ..Options::default()
        },
    )?;
    for c in contents() {
        store.put(&c)?;
    }
    store.delete(&BlobHash::of(&contents()[2]))?;
    drop(store);
    std::fs::remove_file(std::path::Path::new(&dir).join("lock"))?;
    Ok(())
}
