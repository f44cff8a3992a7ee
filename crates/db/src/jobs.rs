//! Background jobs (imports, thumbnailing, …): state, progress and error, kept in the database so
//! they survive restarts.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::sql::{Param, Row};
use crate::{Db, now_ms};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
}

impl JobState {
    /// The state as stored (and as shown in job listings).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => Self::Queued,
        }
    }
}

/// What a background job does. Each kind has one payload format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum JobKind {
    /// Imports the archives and folders at a path on the server's disk (a server-path import, a
    /// watched folder's file, a command-line import). Payload: [`ImportPayload`]. A stop leaves it
    /// to be resumed.
    Import,
    /// A browser upload's import, recorded once it has ended. Payload: `{"name"}`, the file sent.
    Upload,
    /// Thumbnails of the page images imported without one, made in the background; `total`
    /// grows as imports add pages. Payload: `{}`. A stop leaves it to be resumed.
    Thumbnails,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Import, Self::Upload, Self::Thumbnails];

    /// The kind as stored (and as shown in job listings).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Import => "import",
            Self::Upload => "upload",
            Self::Thumbnails => "thumbnails",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::Decode(format!("unknown job kind {s:?}")))
    }
}

/// What an [`JobKind::Import`] job imports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportPayload {
    pub path: PathBuf,
}

impl ImportPayload {
    /// The payload as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// The payload of an import job, if it can be read.
    pub fn of(job: &Job) -> Option<Self> {
        (job.kind == JobKind::Import)
            .then(|| serde_json::from_str(&job.payload).ok())
            .flatten()
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    pub done: u64,
    pub total: u64,
    /// What the job works on, as its owner encoded it (JSON by convention).
    pub payload: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, kind, state, done, total, payload, error, created_at, updated_at";

fn job(r: &Row) -> Result<Job> {
    Ok(Job {
        id: r.int(0)?,
        kind: JobKind::parse(&r.text(1)?)?,
        state: JobState::parse(&r.text(2)?),
        done: r.int(3)? as u64,
        total: r.int(4)? as u64,
        payload: r.text(5)?,
        error: r
            .opt_blob(6)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
        created_at: r.int(7)?,
        updated_at: r.int(8)?,
    })
}

/// Background jobs.
#[derive(Debug, Clone, Copy)]
pub struct Jobs<'a> {
    pub(crate) db: &'a Db,
}

impl Jobs<'_> {
    /// Queues a job; answers its id. `payload` is in the format of its kind ([`JobKind`]).
    pub fn create(&self, kind: JobKind, payload: &str) -> Result<i64> {
        let kind = kind.as_str();
        self.db.write(|c| {
            let now = now_ms();
            c.exec(
                "INSERT INTO jobs (kind, state, done, total, payload, created_at, updated_at) VALUES (?, 'queued', 0, 0, ?, ?, ?)",
                &[Param::Text(kind), Param::Text(payload), Param::Int(now), Param::Int(now)],
            )?;
            c.last_insert_id()
        })
    }

    fn set(&self, id: i64, sql: &str, params: &[Param<'_>]) -> Result<()> {
        self.db.write(|c| {
            let mut all = params.to_vec();
            all.push(Param::Int(now_ms()));
            all.push(Param::Int(id));
            if c.exec(
                &format!("UPDATE jobs SET {sql}, updated_at = ? WHERE id = ?"),
                &all,
            )? == 0
            {
                return Err(Error::JobNotFound(id));
            }
            Ok(())
        })
    }

    /// Marks a job as running.
    pub fn start(&self, id: i64) -> Result<()> {
        self.set(id, "state = 'running'", &[])
    }

    /// Records progress.
    pub fn progress(&self, id: i64, done: u64, total: u64) -> Result<()> {
        self.set(
            id,
            "done = ?, total = ?",
            &[Param::Int(done as i64), Param::Int(total as i64)],
        )
    }

    /// Marks a job as done.
    pub fn finish(&self, id: i64) -> Result<()> {
        self.set(id, "state = 'done'", &[])
    }

    /// Marks a job as failed, with the reason.
    pub fn fail(&self, id: i64, error: &str) -> Result<()> {
        self.set(id, "state = 'failed', error = ?", &[Param::Text(error)])
    }

    /// One job.
    pub fn get(&self, id: i64) -> Result<Job> {
        self.db.read(|c| {
            let row = c.query_opt(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?"),
                &[Param::Int(id)],
            )?;
            job(&row.ok_or(Error::JobNotFound(id))?)
        })
    }

    /// Jobs in `state`, oldest first.
    pub fn in_state(&self, state: JobState, limit: usize) -> Result<Vec<Job>> {
        self.db.read(|c| {
            let rows = c.query(
                &format!("SELECT {COLUMNS} FROM jobs WHERE state = ? ORDER BY id LIMIT ?"),
                &[Param::Text(state.as_str()), Param::Int(limit as i64)],
            )?;
            rows.iter().map(job).collect()
        })
    }

    /// The latest jobs of `kinds`, newest first.
    pub fn recent(&self, kinds: &[JobKind], limit: usize) -> Result<Vec<Job>> {
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        self.db.read(|c| {
            let mut params: Vec<Param<'_>> =
                kinds.iter().map(|k| Param::Text(k.as_str())).collect();
            params.push(Param::Int(limit as i64));
            let rows = c.query(
                &format!(
                    "SELECT {COLUMNS} FROM jobs WHERE kind IN {} ORDER BY id DESC LIMIT ?",
                    crate::sql::placeholders(kinds.len())
                ),
                &params,
            )?;
            rows.iter().map(job).collect()
        })
    }

    /// After a restart: jobs that were running when the process stopped are queued again, so they
    /// are resumed rather than shown running forever. Answers how many.
    pub fn requeue_interrupted(&self) -> Result<u64> {
        self.db.write(|c| {
            c.exec(
                "UPDATE jobs SET state = 'queued', updated_at = ? WHERE state = 'running'",
                &[Param::Int(now_ms())],
            )
        })
    }
}
