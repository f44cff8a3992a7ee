//! The background thumbnail job of `serve`: page images imported without a thumbnail get one, a
//! batch at a time, on one thread, so it never takes more than one core from the server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::import_cmd::Library;

/// Images per batch.
const BATCH: usize = 32;
/// Pause when nothing is waiting.
const IDLE: Duration = Duration::from_secs(5);

/// The running job; stops when dropped.
#[derive(Debug)]
pub struct Thumbnailer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Thumbnailer {
    pub fn start(lib: Arc<Library>) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("thumbnails".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let idle = match lib.importer.make_pending_thumbnails(BATCH) {
                        Ok(n) => n == 0,
                        Err(e) => {
                            tracing::warn!(error = %e, "background thumbnails");
                            true
                        }
                    };
                    if idle {
                        let until = std::time::Instant::now() + IDLE;
                        while std::time::Instant::now() < until && !flag.load(Ordering::Relaxed) {
                            std::thread::sleep(Duration::from_millis(100));
                        }
                    }
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Thumbnailer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
