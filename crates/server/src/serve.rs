//! Serving the application on a listener, so that no one visitor can take the server down:
//! every connection must send a request's headers within a time limit (which also closes idle
//! kept-alive connections), a request body must keep arriving (and, past a grace period, at a
//! minimum rate), a body declared larger than allowed is refused at once with `413`, and the
//! number of open connections is bounded (new ones wait in the kernel's backlog).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::Semaphore;

use crate::zero_copy::ZeroCopyStream;

/// How long and how slowly a client may take.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this; an idle kept-alive connection is closed
    /// after it too.
    pub header_timeout: Duration,
    /// The longest wait for the next part of a request body.
    pub body_idle_timeout: Duration,
    /// After this long, a body must have come at least `min_body_rate` bytes a second.
    pub body_grace: Duration,
    pub min_body_rate: u64,
    /// Connections open at once; further ones wait to be accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(15),
            body_idle_timeout: Duration::from_secs(30),
            body_grace: Duration::from_secs(30),
            min_body_rate: 8 * 1024,
            max_connections: default_max_connections(),
        }
    }
}

/// Connections the process can hold: its open-file limit, less room for volumes, the database
/// and uploads in progress.
fn default_max_connections() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1024) as usize;
    soft.saturating_sub(256).clamp(64, 65_536)
}

/// Raises the soft limit of open files to the hard limit (as nginx does with
/// `worker_rlimit_nofile`), so that many clients at once do not exhaust it. Answers the limit
/// now in force.
pub fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current != Some(hard)
    {
        let raised = Rlimit {
            current: Some(hard),
            maximum: Some(hard),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return hard;
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests under way
/// finish (for up to ten seconds). Page images read from memory go to the socket by `sendfile`
/// ([`crate::zero_copy`]).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = Arc::new(limits);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A connection is accepted only when it can be held.
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(ZeroCopyStream::new(stream));
        let app = app.clone();
        let body_limits = limits.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let mut req = req.map(|b| Body::new(SlowBodyGuard::new(b, &body_limits)));
                req.extensions_mut().insert(ConnectInfo(addr));
                let mut app = app.clone();
                async move {
                    use tower::Service;
                    app.call(req).await
                }
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection(io, service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Errors here are the client's (it went away, it timed out): nothing to report.
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(10)) => {
            tracing::warn!("connections still open after 10 s of shutdown: closing them");
        }
    }
    Ok(())
}

/// A request body that fails when the client stops sending it (nothing for `body_idle_timeout`)
/// or, past `body_grace`, sends it slower than `min_body_rate`: a slow client holds a
/// connection and a task only so long.
struct SlowBodyGuard {
    inner: hyper::body::Incoming,
    idle_timeout: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
    started: tokio::time::Instant,
    grace: Duration,
    min_rate: u64,
    received: u64,
}

impl SlowBodyGuard {
    fn new(inner: hyper::body::Incoming, limits: &ConnectionLimits) -> Self {
        Self {
            inner,
            idle_timeout: limits.body_idle_timeout,
            idle: Box::pin(tokio::time::sleep(limits.body_idle_timeout)),
            started: tokio::time::Instant::now(),
            grace: limits.body_grace,
            min_rate: limits.min_body_rate,
            received: 0,
        }
    }
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error)]
enum SlowBody {
    #[error("the request body stopped arriving")]
    Stalled,
    #[error("the request body arrives too slowly ({rate} bytes/s, at least {min} wanted)")]
    TooSlow { rate: u64, min: u64 },
    #[error(transparent)]
    Broken(#[from] hyper::Error),
}

impl HttpBody for SlowBodyGuard {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                let elapsed = this.started.elapsed();
                if elapsed > this.grace {
                    let rate = this.received / elapsed.as_secs().max(1);
                    if rate < this.min_rate {
                        let e = SlowBody::TooSlow {
                            rate,
                            min: this.min_rate,
                        };
                        return Poll::Ready(Some(Err(e.into())));
                    }
                }
                let deadline = tokio::time::Instant::now() + this.idle_timeout;
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(SlowBody::Broken(e).into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(SlowBody::Stalled.into()))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
