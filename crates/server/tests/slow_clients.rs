//! No one visitor can take the server down over its socket: half-sent requests are dropped after
//! the header timeout (2,000 of them leave health answering at once), a body that stops arriving
//! is cut off, and a body declared larger than allowed gets `413` before any of it is sent.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::{AppState, ConnectionLimits, ServerConfig, router};

struct Running {
    addr: SocketAddr,
    key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(limits: ConnectionLimits) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    let editor = db
        .accounts()
        .create_user("ed", "unused", db::Role::Editor)
        .unwrap();
    let (_, key) = server::auth::new_api_key(&db, editor.id, "t", db::KeyScope::ReadWrite).unwrap();
    let app = router(AppState::new(store, db), &ServerConfig::default());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve_with(listener, app, limits, async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        key,
        stop: Some(stop),
        _dir: dir,
    }
}

/// One request on a fresh connection; the whole answer, as text.
fn ask(addr: SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_half_sent_requests_leave_health_answering_and_are_dropped() {
    server::raise_open_file_limit();
    let limits = ConnectionLimits {
        header_timeout: Duration::from_secs(2),
        ..ConnectionLimits::default()
    };
    let running = start(limits).await;
    let addr = running.addr;
    tokio::task::spawn_blocking(move || {
        let mut held = Vec::new();
        for _ in 0..2000 {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                .unwrap();
            held.push(s);
        }
        let asked = Instant::now();
        let answer = ask(
            addr,
            "GET /api/v1/health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        );
        let took = asked.elapsed();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(took < Duration::from_secs(1), "health took {took:?}");
        // Past the header timeout, the server has let every half-sent request go.
        let deadline = Instant::now() + Duration::from_secs(15);
        for mut s in held {
            s.set_read_timeout(Some(
                deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(1),
            ))
            .unwrap();
            let mut buf = [0u8; 512];
            match s.read(&mut buf) {
                // Closed (perhaps after a 408 answer).
                Ok(0) => {}
                Ok(n) => {
                    let said = String::from_utf8_lossy(&buf[..n]);
                    assert!(said.contains("408") || said.is_empty(), "{said}");
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
                Err(e) => panic!("a half-sent request was still held: {e}"),
            }
        }
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_too_large_is_refused_before_it_is_sent() {
    let running = start(ConnectionLimits::default()).await;
    let (addr, key) = (running.addr, running.key.clone());
    tokio::task::spawn_blocking(move || {
        // 10 GiB declared, nothing sent: the answer comes at once.
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        write!(
            s,
            "PUT /api/v1/blobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n\
             Content-Length: 10737418240\r\n\r\n"
        )
        .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).expect("an answer without the body");
        let said = String::from_utf8_lossy(&buf[..n]);
        assert!(said.starts_with("HTTP/1.1 413"), "{said}");
        assert!(said.contains("payload-too-large"), "{said}");
        // An archive upload has its own, larger limit, and is refused the same way past it.
        let said = ask(
            addr,
            &format!(
                "POST /api/v1/uploads?name=a.cbz HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n\
                 Content-Length: 109951162777600\r\n\r\n"
            ),
        );
        assert!(said.starts_with("HTTP/1.1 413"), "{said}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_arriving_is_cut_off() {
    let limits = ConnectionLimits {
        body_idle_timeout: Duration::from_secs(1),
        ..ConnectionLimits::default()
    };
    let running = start(limits).await;
    let (addr, key) = (running.addr, running.key.clone());
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "PUT /api/v1/blobs HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n\
             Content-Length: 100000\r\n\r\nonly a little"
        )
        .unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let said = String::from_utf8_lossy(&answer);
        assert!(
            said.starts_with("HTTP/1.1 4"),
            "the stalled body gets a client error, not a wait: {said}"
        );
    })
    .await
    .unwrap();
}
