//! Import jobs run in the background, and their progress told live to whoever watches (the
//! manage page, through server-sent events). Each job is also a row in the database, so its
//! outcome (and the reason of each failed import) outlives the process; a job interrupted by a
//! stop is run again at the next start.

use std::path::PathBuf;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use db::{ImportPayload, Job, JobKind, JobState};
use library::import::{ImportOptions, Outcome, Quiet};
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::{AppState, blocking};

/// What a job is doing now, as told to watchers.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct JobEvent {
    pub id: i64,
    pub kind: JobKind,
    pub state: JobState,
    pub done: u64,
    pub total: u64,
    /// The source being imported, or the last one.
    pub current: String,
    /// `name: reason` for each import that failed so far.
    pub failures: Vec<String>,
}

/// Where job events are published.
#[derive(Debug)]
pub struct JobHub {
    tx: broadcast::Sender<JobEvent>,
}

impl Default for JobHub {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(256).0,
        }
    }
}

impl JobHub {
    fn publish(&self, event: JobEvent) {
        // Nobody watching is fine.
        let _ = self.tx.send(event);
    }
}

/// Queues the import of `path` (already checked to lie below an import root) and starts it in
/// the background; answers the job's id.
pub(crate) fn start_import(state: &AppState, path: PathBuf) -> Result<i64, ApiError> {
    let payload = ImportPayload { path: path.clone() }.to_json();
    let id = state.db.jobs().create(JobKind::Import, &payload)?;
    let state = state.clone();
    tokio::task::spawn_blocking(move || run_import(&state, id, &path));
    Ok(id)
}

/// Runs again the import jobs a stop interrupted (queued again by
/// [`db::Jobs::requeue_interrupted`]). Sources already imported are found to be duplicates.
pub fn resume(state: &AppState) -> Result<usize, ApiError> {
    let queued = state.db.jobs().in_state(JobState::Queued, 1000)?;
    let mut resumed = 0;
    for job in queued.into_iter().filter(|j| j.kind == JobKind::Import) {
        let Some(payload) = ImportPayload::of(&job) else {
            state
                .db
                .jobs()
                .fail(job.id, "the job's description cannot be read")?;
            continue;
        };
        let state = state.clone();
        tokio::task::spawn_blocking(move || run_import(&state, job.id, &payload.path));
        resumed += 1;
    }
    Ok(resumed)
}

fn run_import(state: &AppState, id: i64, path: &std::path::Path) {
    if let Err(e) = try_import(state, id, path) {
        tracing::error!(job = id, "import job: {e}");
        let _ = state.db.jobs().fail(id, &e.to_string());
    }
}

fn try_import(state: &AppState, id: i64, path: &std::path::Path) -> Result<(), ApiError> {
    let jobs = state.db.jobs();
    let Some(importer) = state.importer.clone() else {
        return Err(ApiError::RouteNotFound);
    };
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
    state.jobs.publish(event.clone());
    let sources = match importer.discover(path) {
        Ok(s) => s,
        Err(e) => {
            event.failures.push(format!("{}: {e}", path.display()));
            return finish(state, event);
        }
    };
    event.total = sources.len() as u64;
    jobs.progress(id, 0, event.total)?;
    state.jobs.publish(event.clone());
    for source in &sources {
        event.current = source.path().display().to_string();
        state.jobs.publish(event.clone());
        if let Outcome::Failed(e) = importer.import(source, &ImportOptions::default(), &Quiet) {
            event.failures.push(format!("{}: {e}", event.current));
        }
        event.done += 1;
        jobs.progress(id, event.done, event.total)?;
        state.jobs.publish(event.clone());
    }
    finish(state, event)
}

/// Records how a job ended (failed when any of its imports failed, with each reason) and tells
/// the watchers.
pub(crate) fn finish(state: &AppState, mut event: JobEvent) -> Result<(), ApiError> {
    let jobs = state.db.jobs();
    if event.failures.is_empty() {
        jobs.finish(event.id)?;
        event.state = JobState::Done;
    } else {
        jobs.fail(event.id, &event.failures.join("\n"))?;
        event.state = JobState::Failed;
    }
    state.jobs.publish(event);
    Ok(())
}

/// Records an upload's import as a job of its own (so a failure and its reason are listed with
/// the others) and tells the watchers. `failures` is `name: reason` for each failed source.
pub(crate) fn record_upload(
    state: &AppState,
    name: &str,
    total: u64,
    failures: Vec<String>,
) -> Result<(), ApiError> {
    let payload = serde_json::json!({ "name": name }).to_string();
    let id = state.db.jobs().create(JobKind::Upload, &payload)?;
    state.db.jobs().progress(id, total, total)?;
    finish(
        state,
        JobEvent {
            id,
            kind: JobKind::Upload,
            state: JobState::Running,
            done: total,
            total,
            current: name.to_string(),
            failures,
        },
    )
}

/// A stored job as an event (for the first message to a new watcher, and for the list).
fn event_of(job: &Job) -> JobEvent {
    let current = serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| {
            v.get("path")
                .or_else(|| v.get("name"))
                .and_then(|p| p.as_str().map(str::to_string))
        })
        // Jobs recorded before payloads were JSON hold the bare path.
        .unwrap_or_else(|| job.payload.clone());
    JobEvent {
        id: job.id,
        kind: job.kind,
        state: job.state,
        done: job.done,
        total: job.total,
        current,
        failures: job
            .error
            .as_deref()
            .map(|e| e.lines().map(str::to_string).collect())
            .unwrap_or_default(),
    }
}

/// The latest import and upload jobs, newest first.
pub(crate) fn recent(state: &AppState, limit: usize) -> Result<Vec<JobEvent>, ApiError> {
    Ok(state
        .db
        .jobs()
        .recent(&JobKind::ALL, limit)?
        .iter()
        .map(event_of)
        .collect())
}

/// The latest import and upload jobs, newest first.
#[utoipa::path(get, path = "/api/v1/jobs", tag = "imports", responses((status = 200, description = "The latest 50 jobs, newest first", body = crate::views::JobsView)), security(("apiKey" = ["edit"]), ("session" = ["edit"])))]
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let jobs = blocking(move || recent(&state, 50)).await?;
    Ok(Json(crate::views::JobsView { jobs }).into_response())
}

/// One job: what it is doing, or how it ended.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "imports",
    params(("id" = i64, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = JobEvent),
        (status = 404, description = "`job-not-found`", body = crate::api_doc::ErrorBody),
    ),
    security(("apiKey" = ["edit"]), ("session" = ["edit"])))]
pub async fn job(
    State(state): State<AppState>,
    crate::extract::Path(id): crate::extract::Path<i64>,
) -> Result<Response, ApiError> {
    let db = state.db.clone();
    let job = blocking(move || Ok(db.jobs().get(id)?)).await?;
    Ok(Json(event_of(&job)).into_response())
}

/// Server-sent events, one `job` event per change of any job (JSON,
/// as [`JobEvent`]); the jobs still queued or running come first.
#[utoipa::path(get, path = "/api/v1/jobs/events", tag = "imports", responses((status = 200, description = "Server-sent events: one `job` event (a `JobEvent` as JSON) per change of any job, the open jobs first", content_type = "text/event-stream", body = String)), security(("apiKey" = ["edit"]), ("session" = ["edit"])))]
pub async fn events(State(state): State<AppState>) -> Result<Response, ApiError> {
    let rx = state.jobs.tx.subscribe();
    let db = state.db.clone();
    let open: Vec<JobEvent> = blocking(move || {
        let jobs = db.jobs();
        let mut open = jobs.in_state(JobState::Running, 100)?;
        open.extend(jobs.in_state(JobState::Queued, 100)?);
        Ok(open
            .iter()
            .filter(|j| JobKind::ALL.contains(&j.kind))
            .map(event_of)
            .collect())
    })
    .await?;
    let first = futures_util::stream::iter(open.into_iter().map(to_sse));
    let live = futures_util::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(e) => return Some((to_sse(e), rx)),
                // A slow watcher missed some: the next event brings it up to date.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    use futures_util::StreamExt;
    Ok(Sse::new(first.chain(live))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn to_sse(e: JobEvent) -> Result<Event, std::convert::Infallible> {
    Ok(Event::default()
        .event("job")
        .json_data(&e)
        .unwrap_or_else(|_| Event::default().comment("unserialisable")))
}
