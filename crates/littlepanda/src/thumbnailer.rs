//! The background thumbnails job of `serve`: page images imported without a thumbnail get one, a
//! batch at a time, one worker per core, recorded as a job (`library::jobs::Runner::thumbnails`:
//! a stop leaves it to be carried on at the next start).

use std::time::Duration;

use library::jobs::Runner;

use crate::background::Background;

/// Images per batch.
const BATCH: usize = 32;
/// Pause when nothing is waiting.
const IDLE: Duration = Duration::from_secs(5);

pub fn start(jobs: Runner) -> anyhow::Result<Background> {
    Background::spawn("thumbnails", move |stop| {
        while !stop.requested() {
            let idle = match jobs.thumbnails(BATCH) {
                Ok(n) => n == 0,
                Err(e) => {
                    tracing::warn!(error = %e, "background thumbnails");
                    true
                }
            };
            if idle {
                stop.sleep(IDLE);
            }
        }
    })
}
