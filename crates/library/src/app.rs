//! The library as one thing: the image store, the metadata database and an importer over both,
//! opened once per process. Every surface (the server, the command line, later APIs) starts from
//! it, and opening it applies the one policy for what a stopped process left behind.

use std::path::Path;
use std::sync::Arc;

use db::{Db, JobKind, JobState};

use crate::import::{ImportError, Importer, Limits, ThumbConfig};

/// How to open a library: the store's options and the importer's caps.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub store: lpfs::Options,
    pub limits: Limits,
    pub thumbnails: ThumbConfig,
}

/// The library opened: the blob store, the database, an importer over both.
pub struct Library {
    pub store: Arc<lpfs::Store>,
    pub db: Arc<Db>,
    pub importer: Arc<Importer>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Library {
    /// Builds the search index over this library's metadata (what `serve` answers searches
    /// from, kept current from the change feed afterwards).
    pub fn search_index(&self) -> db::Result<search::Live> {
        search::Live::build(self.db.clone())
    }

    /// The job runner over this library, telling no one (a server makes its own, which tells
    /// its watchers).
    pub fn jobs(&self) -> crate::jobs::Runner {
        crate::jobs::Runner::quiet(self.db.clone(), self.importer.clone())
    }

    /// Opens the image store in `store_dir` (for writing: this process then holds it alone) over
    /// the database `db`, then recovers what a stopped process left unfinished (see
    /// [`Library::recover_interrupted_imports`]).
    pub fn open(store_dir: &Path, db: Db, settings: Settings) -> Result<Self, ImportError> {
        let store = Arc::new(lpfs::Store::open(store_dir, settings.store)?);
        let db = Arc::new(db);
        let mut importer = Importer::new(store.clone(), db.clone());
        importer.limits = settings.limits;
        importer.thumbnails = settings.thumbnails;
        let lib = Self {
            store,
            db,
            importer: Arc::new(importer),
        };
        lib.recover_interrupted_imports()?;
        Ok(lib)
    }

    /// Imports that a stopped process left unfinished (a restart, a crash, a kill) stored pages
    /// that no gallery names yet: this process holds the store alone (its lock), so nothing else
    /// is importing, and those blobs are released before anything new starts. The jobs are then
    /// queued again, and the server resumes them; what the interrupted run had already committed
    /// is found again as duplicates.
    fn recover_interrupted_imports(&self) -> Result<(), ImportError> {
        let running = self.db.jobs().in_state(JobState::Running, 10_000)?;
        if running.is_empty() {
            return Ok(());
        }
        let imports = running.iter().filter(|j| j.kind == JobKind::Import).count();
        let released = if imports > 0 {
            self.importer.release_orphans()?
        } else {
            0
        };
        let requeued = self.db.jobs().requeue_interrupted()?;
        tracing::info!(
            imports,
            requeued,
            released,
            "jobs interrupted by the last stop: the unfinished imports' images released, the \
             jobs queued again (the next `serve` resumes them)"
        );
        Ok(())
    }
}
