//! Running the real `littlepanda` binary in a temporary data directory.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn littlepanda(data: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_littlepanda"));
    cmd.arg("--data")
        .arg(data)
        .env_remove("LITTLEPANDA_CONFIG")
        .env_remove("LITTLEPANDA_LISTEN");
    cmd
}

pub fn run(data: &Path, args: &[&str]) -> Output {
    littlepanda(data)
        .args(args)
        .output()
        .expect("run littlepanda")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
