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

/// A `serve` on a free port of this machine, stopped when dropped (however the test ends).
pub struct Serving {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The server's log lines so far, gathered on a thread so the pipe never fills.
    log: Option<std::thread::JoinHandle<Vec<String>>>,
}

impl Serving {
    /// Starts `littlepanda serve` on `data`; answers once it announced its address.
    pub fn start(data: &Path) -> Serving {
        use std::io::BufRead;
        let mut child = littlepanda(data)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("LITTLEPANDA_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the server");
        let stderr = child.stderr.take().expect("the server's stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let addr = loop {
            assert!(
                std::time::Instant::now() < deadline,
                "the server did not start"
            );
            let line = lines
                .next()
                .expect("the server's output")
                .expect("read the server's output");
            if let Some(rest) = line.split("serving http://").nth(1) {
                break rest.trim_end_matches('/').to_string();
            }
        };
        let log = std::thread::spawn(move || lines.map_while(Result::ok).collect());
        Serving {
            child,
            addr,
            log: Some(log),
        }
    }

    /// Stops the server; answers what it logged.
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log
            .take()
            .and_then(|l| l.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a connection of its own: the status, the head (as sent) and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the server");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head[9..12].parse().expect("a status");
    (status, head, raw[split + 4..].to_vec())
}

/// Signs in as `name`: the session's cookie and CSRF token.
pub fn sign_in(addr: &str, name: &str, password: &str) -> (String, String) {
    let (status, head, body) = http(
        addr,
        "POST",
        "/api/v1/login",
        &[("Content-Type", "application/json")],
        serde_json::json!({ "name": name, "password": password })
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 200, "{}", text(&body));
    let cookie = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("set-cookie")
                .then(|| v.trim().split(';').next().unwrap_or_default().to_string())
        })
        .expect("a session cookie");
    let csrf = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["csrf"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    (cookie, csrf)
}
