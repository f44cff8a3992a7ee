//! The one job runner. Every background job is a row of `jobs` with a typed kind ([`Work`], one
//! JSON payload format) and one recovery policy: a job a stop interrupted is queued again when
//! the library is next opened ([`crate::app::Library::open`]) and [`Runner::resume`] (or, for
//! thumbnails, the next [`Runner::thumbnails`] pass) carries it on where it was. What each job
//! does is told to whoever listens (the server's live job feed) as a [`JobEvent`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use db::{Db, ImportPayload, Job, JobKind, JobState};

use crate::import::{ImportOptions, Importer, Outcome, Progress, Quiet, Source};
use crate::ops::{Error, Result};

/// What a job does, with what it needs to do it: the payload its row holds, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Imports everything found at a path on the server's disk.
    Import(ImportPayload),
    /// A browser upload's import, recorded once it has ended.
    Upload { name: String },
    /// Thumbnails of the page images waiting for one.
    Thumbnails,
}

impl Work {
    /// Its kind, as stored.
    pub fn kind(&self) -> JobKind {
        match self {
            Self::Import(_) => JobKind::Import,
            Self::Upload { .. } => JobKind::Upload,
            Self::Thumbnails => JobKind::Thumbnails,
        }
    }

    /// Its payload, as stored (JSON).
    pub fn payload(&self) -> String {
        match self {
            Self::Import(p) => p.to_json(),
            Self::Upload { name } => serde_json::json!({ "name": name }).to_string(),
            Self::Thumbnails => "{}".into(),
        }
    }

    /// The work a stored job describes, if its payload can be read.
    pub fn of(job: &Job) -> Option<Self> {
        match job.kind {
            JobKind::Import => ImportPayload::of(job).map(Self::Import),
            JobKind::Upload => {
                let v: serde_json::Value = serde_json::from_str(&job.payload).ok()?;
                Some(Self::Upload {
                    name: v.get("name")?.as_str()?.to_string(),
                })
            }
            JobKind::Thumbnails => Some(Self::Thumbnails),
        }
    }

    /// What the job works on, for people: the path, the file sent, or nothing.
    fn subject(job: &Job) -> String {
        match Self::of(job) {
            Some(Self::Import(p)) => p.path.display().to_string(),
            Some(Self::Upload { name }) => name,
            Some(Self::Thumbnails) => String::new(),
            // Jobs recorded before payloads were JSON hold the bare path.
            None => job.payload.clone(),
        }
    }
}

/// What a job is doing now, as told to watchers.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobEvent {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    pub done: u64,
    pub total: u64,
    /// The source being imported, or the last one (empty for thumbnails).
    pub current: String,
    /// `name: reason` for each import that failed so far.
    pub failures: Vec<String>,
}

impl From<&Job> for JobEvent {
    fn from(job: &Job) -> Self {
        Self {
            id: job.id,
            kind: job.kind,
            state: job.state,
            done: job.done,
            total: job.total,
            current: Work::subject(job),
            failures: job
                .error
                .as_deref()
                .map(|e| e.lines().map(str::to_string).collect())
                .unwrap_or_default(),
        }
    }
}

/// Where a runner tells what its jobs do.
pub type Publish = Arc<dyn Fn(JobEvent) + Send + Sync>;

/// Runs the library's jobs, records each in the database, and tells a listener.
#[derive(Clone)]
pub struct Runner {
    db: Arc<Db>,
    importer: Option<Arc<Importer>>,
    publish: Publish,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner over `db` that imports with `importer` (none: a server that only serves, where
    /// jobs are listed but none can run) and tells `publish` what its jobs do.
    pub fn new(db: Arc<Db>, importer: Option<Arc<Importer>>, publish: Publish) -> Self {
        Self {
            db,
            importer,
            publish,
        }
    }

    /// A runner that tells no one (the command line, where progress has its own display).
    pub fn quiet(db: Arc<Db>, importer: Arc<Importer>) -> Self {
        Self::new(db, Some(importer), Arc::new(|_| {}))
    }

    fn importer(&self) -> Result<&Arc<Importer>> {
        self.importer
            .as_ref()
            .ok_or_else(|| Error::Invalid("this server imports nothing: it has no store".into()))
    }

    fn tell(&self, event: &JobEvent) {
        (self.publish)(event.clone());
    }

    /// Records the import of `path` as a queued job and runs it on a thread of its own; answers
    /// the job's id.
    pub fn start_import(&self, path: PathBuf) -> Result<i64> {
        self.importer()?;
        let work = Work::Import(ImportPayload { path: path.clone() });
        let id = self.db.jobs().create(work.kind(), &work.payload())?;
        self.spawn_import(id, path);
        Ok(id)
    }

    fn spawn_import(&self, id: i64, path: PathBuf) {
        let runner = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("import-job-{id}"))
            .spawn(move || runner.run_import(id, &path));
        if let Err(e) = spawned {
            let _ = self
                .db
                .jobs()
                .fail(id, &format!("the job could not start: {e}"));
        }
    }

    /// Carries on every job a stop interrupted (queued again when the library was opened):
    /// imports run again, and find what they had committed as duplicates; a thumbnails job is
    /// carried on by the next [`Runner::thumbnails`] pass. An upload cut off fails (its file is
    /// gone), and so does a job whose payload cannot be read, each with its reason. Answers how
    /// many imports were resumed.
    pub fn resume(&self) -> Result<usize> {
        let mut resumed = 0;
        for job in self.db.jobs().in_state(JobState::Queued, 1000)? {
            match Work::of(&job) {
                Some(Work::Import(p)) if self.importer.is_some() => {
                    self.spawn_import(job.id, p.path);
                    resumed += 1;
                }
                // An upload's file is gone with the process that was receiving it.
                Some(Work::Upload { .. }) => self
                    .db
                    .jobs()
                    .fail(job.id, "the upload was cut off by a stop: send it again")?,
                Some(_) => {}
                None => self
                    .db
                    .jobs()
                    .fail(job.id, "the job's description cannot be read")?,
            }
        }
        Ok(resumed)
    }

    /// Runs the import job `id` of `path` to its end, recording its progress and how it ended.
    pub fn run_import(&self, id: i64, path: &Path) {
        if let Err(e) = self.try_import(id, path) {
            tracing::error!(job = id, "import job: {e}");
            let _ = self.db.jobs().fail(id, &e.to_string());
        }
    }

    fn try_import(&self, id: i64, path: &Path) -> Result<()> {
        let importer = self.importer()?;
        let jobs = self.db.jobs();
        jobs.start(id)?;
        let mut event = JobEvent {
            id,
            kind: JobKind::Import,
            state: JobState::Running,
            done: 0,
            total: 0,
            current: path.display().to_string(),
            failures: Vec::new(),
        };
        self.tell(&event);
        let sources = match importer.discover(path) {
            Ok(s) => s,
            Err(e) => {
                event.failures.push(format!("{}: {e}", path.display()));
                return self.finish(event);
            }
        };
        event.total = sources.len() as u64;
        jobs.progress(id, 0, event.total)?;
        self.tell(&event);
        for source in &sources {
            event.current = source.path().display().to_string();
            self.tell(&event);
            if let Outcome::Failed(e) = importer.import(source, &ImportOptions::default(), &Quiet) {
                event.failures.push(format!("{}: {e}", event.current));
            }
            event.done += 1;
            jobs.progress(id, event.done, event.total)?;
            self.tell(&event);
        }
        self.finish(event)
    }

    /// Records how a job ended (failed when any of its imports failed, with each reason) and
    /// tells the listener.
    fn finish(&self, mut event: JobEvent) -> Result<()> {
        let jobs = self.db.jobs();
        if event.failures.is_empty() {
            jobs.finish(event.id)?;
            event.state = JobState::Done;
        } else {
            jobs.fail(event.id, &event.failures.join("\n"))?;
            event.state = JobState::Failed;
        }
        self.tell(&event);
        Ok(())
    }

    /// Imports one source now, on this thread, recorded as a job of one source (the command
    /// line's import, and a running server's import handed over from it).
    pub fn import_now(
        &self,
        source: &Source,
        opts: &ImportOptions,
        progress: &dyn Progress,
    ) -> Result<Outcome> {
        let importer = self.importer()?;
        let work = Work::Import(ImportPayload {
            path: source.path().to_path_buf(),
        });
        let jobs = self.db.jobs();
        let id = jobs.create(work.kind(), &work.payload())?;
        jobs.start(id)?;
        jobs.progress(id, 0, 1)?;
        let outcome = importer.import(source, opts, progress);
        jobs.progress(id, 1, 1)?;
        match &outcome {
            Outcome::Failed(e) => jobs.fail(id, &format!("{}: {e}", source.path().display()))?,
            _ => jobs.finish(id)?,
        }
        Ok(outcome)
    }

    /// Records an import that could not even start (nothing importable at `path`) as a failed
    /// job with its reason, so it is listed with the others.
    pub fn record_failed_import(&self, path: &Path, reason: &str) -> Result<()> {
        let work = Work::Import(ImportPayload {
            path: path.to_path_buf(),
        });
        let jobs = self.db.jobs();
        let id = jobs.create(work.kind(), &work.payload())?;
        jobs.progress(id, 1, 1)?;
        jobs.fail(id, &format!("{}: {reason}", path.display()))?;
        Ok(())
    }

    /// Imports an upload staged at `staged` (the file `name` the user sent) and records it as a
    /// job of its own; answers one outcome per source found in it. `shown` rewrites a reason for
    /// the user (the server's staging paths are never shown). An upload in which nothing
    /// importable is found is recorded as failed, and refused (`Invalid`) with the reason.
    pub fn import_upload(
        &self,
        name: &str,
        staged: &Path,
        shown: &dyn Fn(&str) -> String,
    ) -> Result<Vec<Outcome>> {
        let importer = self.importer()?;
        let sources = match importer.discover(staged) {
            Ok(s) => s,
            Err(e) => {
                let why = shown(&e.to_string());
                self.record_upload(name, 1, vec![format!("{name}: {why}")])?;
                return Err(Error::Invalid(why));
            }
        };
        let outcomes: Vec<Outcome> = sources
            .iter()
            .map(|s| importer.import(s, &ImportOptions::default(), &Quiet))
            .collect();
        let failures = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Failed(e) => Some(format!("{name}: {}", shown(&e.to_string()))),
                _ => None,
            })
            .collect();
        self.record_upload(name, outcomes.len() as u64, failures)?;
        Ok(outcomes)
    }

    /// Records an upload's import, once it has ended, as a job of its own (so a failure and its
    /// reason are listed with the others). `failures` is `name: reason` for each failed source.
    pub fn record_upload(&self, name: &str, total: u64, failures: Vec<String>) -> Result<()> {
        let work = Work::Upload {
            name: name.to_string(),
        };
        let id = self.db.jobs().create(work.kind(), &work.payload())?;
        self.db.jobs().progress(id, total, total)?;
        self.finish(JobEvent {
            id,
            kind: JobKind::Upload,
            state: JobState::Running,
            done: total,
            total,
            current: name.to_string(),
            failures,
        })
    }

    /// One pass of the thumbnails job: makes up to `batch` of the thumbnails waiting, recorded
    /// in the open thumbnails job (the one a stop interrupted, or a new one when there is work
    /// and none is open). The job ends when nothing waits. Answers how many were made.
    pub fn thumbnails(&self, batch: usize) -> Result<usize> {
        let importer = self.importer()?;
        let jobs = self.db.jobs();
        let waiting = self.db.galleries().count_needing_thumbnails()?;
        let open = self.open_job(JobKind::Thumbnails)?;
        if waiting == 0 {
            if let Some(job) = open {
                jobs.finish(job.id)?;
                self.tell(&JobEvent {
                    state: JobState::Done,
                    ..JobEvent::from(&job)
                });
            }
            return Ok(0);
        }
        let job = match open {
            Some(job) => job,
            None => {
                let id = jobs.create(JobKind::Thumbnails, &Work::Thumbnails.payload())?;
                jobs.get(id)?
            }
        };
        if job.state != JobState::Running {
            jobs.start(job.id)?;
        }
        let made = importer.make_pending_thumbnails(batch)? as u64;
        let done = job.done + made;
        // Images that could not be decoded leave the queue without a thumbnail: what is left
        // is counted again rather than guessed.
        let total = done + self.db.galleries().count_needing_thumbnails()?;
        jobs.progress(job.id, done, total)?;
        self.tell(&JobEvent {
            state: JobState::Running,
            done,
            total,
            ..JobEvent::from(&job)
        });
        Ok(made as usize)
    }

    /// The open (running, or queued again after a stop) job of `kind`, if any.
    fn open_job(&self, kind: JobKind) -> Result<Option<Job>> {
        let jobs = self.db.jobs();
        let mut open = jobs.in_state(JobState::Running, 100)?;
        open.extend(jobs.in_state(JobState::Queued, 100)?);
        Ok(open.into_iter().find(|j| j.kind == kind))
    }

    /// One job as it is now.
    pub fn get(&self, id: i64) -> Result<JobEvent> {
        Ok(JobEvent::from(&self.db.jobs().get(id)?))
    }

    /// The latest jobs of every kind, newest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<JobEvent>> {
        let jobs = self.db.jobs().recent(&JobKind::ALL, limit)?;
        Ok(jobs.iter().map(JobEvent::from).collect())
    }

    /// The jobs still running or queued (the first thing a new watcher is told).
    pub fn open(&self) -> Result<Vec<JobEvent>> {
        let jobs = self.db.jobs();
        let mut open = jobs.in_state(JobState::Running, 100)?;
        open.extend(jobs.in_state(JobState::Queued, 100)?);
        Ok(open.iter().map(JobEvent::from).collect())
    }
}
