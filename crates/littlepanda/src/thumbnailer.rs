//! The background thumbnail job of `serve`: page images imported without a thumbnail get one, a
//! batch at a time, one worker per core (`Importer::make_pending_thumbnails`).

use std::sync::Arc;
use std::time::Duration;

use crate::background::Background;
use crate::import_cmd::Library;

/// Images per batch.
const BATCH: usize = 32;
/// Pause when nothing is waiting.
const IDLE: Duration = Duration::from_secs(5);

pub fn start(lib: Arc<Library>) -> anyhow::Result<Background> {
    Background::spawn("thumbnails", move |stop| {
        while !stop.requested() {
            let idle = match lib.importer.make_pending_thumbnails(BATCH) {
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
