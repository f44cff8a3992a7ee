//! Background threads of `serve` (the watch folder, the thumbnail job): named, stoppable, and
//! joined when their handle is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Tells a background loop when to stop.
#[derive(Debug, Clone)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Sleeps for `d`, or less if a stop is requested meanwhile.
    pub fn sleep(&self, d: Duration) {
        let until = Instant::now() + d;
        while Instant::now() < until && !self.requested() {
            std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
        }
    }
}

/// A running background thread; asks it to stop and waits for it when dropped.
#[derive(Debug)]
pub struct Background {
    stop: Stop,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Runs `body` on a thread named `name` until it returns (it should return once
    /// `stop.requested()`).
    pub fn spawn(name: &str, body: impl FnOnce(Stop) + Send + 'static) -> anyhow::Result<Self> {
        let stop = Stop(Arc::new(AtomicBool::new(false)));
        let for_thread = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(for_thread))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.0.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
