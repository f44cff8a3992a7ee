//! The cargo-fuzz targets in `fuzz/` must keep building as the store's API changes. Fuzzing itself
//! needs nightly (`cargo +nightly fuzz run lpfs_open`); this builds the same targets with the
//! current toolchain, so a broken target fails the test suite.

use std::path::Path;
use std::process::Command;

#[test]
fn fuzz_targets_build() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .arg("build")
        .arg("--quiet")
        .arg("--manifest-path")
        .arg(root.join("fuzz/Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target/fuzz-build"))
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "the fuzz targets do not build:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
