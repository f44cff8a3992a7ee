//! The control socket of `serve`: a Unix socket in the data directory (`control.sock`, readable
//! and writable by its owner only) through which `littlepanda import` hands its work to the server
//! that has the library open, instead of failing on the store's lock.
//!
//! The protocol is one line of JSON each way and then more: the command sends its
//! [`ImportArgs`] as one line; the server answers one [`Report`] per line as each source is
//! done, and closes the connection when all are. Only the data directory's owner can reach the
//! socket, and they could open the library themselves, so it asks for no other credential.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

use crate::import_cmd::{ImportArgs, Library, Report, run_import};

/// The socket's name in the data directory.
const SOCKET: &str = "control.sock";

/// The longest request line read.
const MAX_REQUEST: u64 = 1 << 20;

fn socket_path(data: &Path) -> PathBuf {
    data.join(SOCKET)
}

/// A connection to the server that has the library in `data` open, if one is running.
pub fn connect(data: &Path) -> Option<UnixStream> {
    UnixStream::connect(socket_path(data)).ok()
}

/// Asks the server on `stream` to import what `args` names; hands each report to `emit` as it
/// comes.
pub fn import(
    mut stream: UnixStream,
    args: &ImportArgs,
    emit: &mut dyn FnMut(Report) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut line = serde_json::to_vec(args)?;
    line.push(b'\n');
    stream
        .write_all(&line)
        .context("sending the import to the server")?;
    for line in BufReader::new(stream).lines() {
        let line = line.context("reading the server's answer")?;
        if let Some(error) = line.strip_prefix("error: ") {
            anyhow::bail!("the server could not import: {error}");
        }
        let report: Report =
            serde_json::from_str(&line).with_context(|| format!("the server answered {line:?}"))?;
        emit(report)?;
    }
    Ok(())
}

/// Listens on the data directory's control socket until the returned guard is dropped (the
/// socket file goes with it). A stale socket left by a killed server is replaced.
pub fn listen(data: &Path, lib: Arc<Library>) -> anyhow::Result<Listening> {
    let path = socket_path(data);
    if connect(data).is_some() {
        anyhow::bail!(
            "another server already answers on {}: is this library served twice?",
            path.display()
        );
    }
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path)
        .with_context(|| format!("listening on {}", path.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for stream in listener.incoming() {
                // Dropping the guard sets the flag, then connects once to wake this loop up.
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let lib = lib.clone();
                let _ = std::thread::Builder::new()
                    .name("control-import".into())
                    .spawn(move || answer(&lib, stream));
            }
        })?;
    Ok(Listening { path, stop })
}

/// The control socket, closed and removed when dropped.
#[derive(Debug)]
pub struct Listening {
    path: PathBuf,
    stop: Arc<AtomicBool>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accepting thread, which then sees the flag and stops.
        let _ = UnixStream::connect(&self.path);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Runs one command's import and writes its reports back, one per line.
fn answer(lib: &Library, stream: UnixStream) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half.take(MAX_REQUEST));
    let mut writer = stream;
    let mut line = String::new();
    let request = reader
        .read_line(&mut line)
        .context("reading the request")
        .and_then(|_| serde_json::from_str::<ImportArgs>(&line).context("reading the request"));
    let result = request.and_then(|args| {
        tracing::info!(
            paths = args.paths.len(),
            "importing for `littlepanda import`"
        );
        run_import(lib, &args, false, &mut |report| {
            let mut out = serde_json::to_vec(&report)?;
            out.push(b'\n');
            writer.write_all(&out)?;
            Ok(())
        })
    });
    if let Err(e) = result {
        tracing::warn!(error = %format!("{e:#}"), "control socket");
        let _ = writeln!(writer, "error: {e:#}");
    }
}
