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

/// Adds a user from the command line, the password on standard input.
pub fn add_user(data: &Path, name: &str, role: &str, password: &str) -> Output {
    use std::io::Write;
    let mut child = littlepanda(data)
        .args(["user", "add", name, "--role", role])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run littlepanda user add");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}
