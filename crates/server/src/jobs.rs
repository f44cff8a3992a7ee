//! Background jobs over HTTP: starting a server-path import, the job list, one job, and the
//! live feed of what every job does (server-sent events, for the manage page). The jobs
//! themselves are run and recorded by [`library::jobs::Runner`]; this module gives it a place to
//! tell its events ([`JobHub`]).

use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
pub use library::jobs::JobEvent;
use library::jobs::Runner;
use tokio::sync::broadcast;

use crate::error::ApiError;
use crate::{AppState, blocking};

/// Where job events are published, for the watchers of `GET /api/v1/jobs/events`.
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
    /// What a runner calls with each event: nobody watching is fine.
    pub fn publisher(&self) -> library::jobs::Publish {
        let tx = self.tx.clone();
        Arc::new(move |event| {
            let _ = tx.send(event);
        })
    }
}

/// The job runner over this server's library, telling its events to the server's watchers.
pub fn runner(state: &AppState) -> Runner {
    Runner::new(
        state.db.clone(),
        state.importer.clone(),
        state.jobs.publisher(),
    )
}

/// Queues the import of `path` (already checked to lie below an import root) and starts it in
/// the background; answers the job's id.
pub(crate) fn start_import(state: &AppState, path: PathBuf) -> Result<i64, ApiError> {
    Ok(runner(state).start_import(path)?)
}

/// Carries on the jobs the last stop interrupted; answers how many imports were resumed.
pub fn resume(state: &AppState) -> Result<usize, ApiError> {
    Ok(runner(state).resume()?)
}

/// The latest jobs, newest first.
pub(crate) fn recent(state: &AppState, limit: usize) -> Result<Vec<JobEvent>, ApiError> {
    Ok(runner(state).recent(limit)?)
}

/// The latest jobs (imports, uploads, thumbnails), newest first.
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
    let job = blocking(move || Ok(runner(&state).get(id)?)).await?;
    Ok(Json(job).into_response())
}

/// Server-sent events, one `job` event per change of any job (JSON,
/// as [`JobEvent`]); the jobs still queued or running come first.
#[utoipa::path(get, path = "/api/v1/jobs/events", tag = "imports", responses((status = 200, description = "Server-sent events: one `job` event (a `JobEvent` as JSON) per change of any job, the open jobs first", content_type = "text/event-stream", body = String)), security(("apiKey" = ["edit"]), ("session" = ["edit"])))]
pub async fn events(State(state): State<AppState>) -> Result<Response, ApiError> {
    let rx = state.jobs.tx.subscribe();
    let open = blocking(move || Ok(runner(&state).open()?)).await?;
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
