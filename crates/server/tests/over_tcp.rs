//! Blobs served over a real socket by `server::serve`, where page images read from memory go
//! out by `sendfile`: the bytes, lengths and ranges must be exactly those of the blob, and
//! responses on one kept-alive connection must stay framed (a body sent by `sendfile` is followed
//! by the next response's headers, written as usual).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use lpfs::{BlobStore, Store};
use server::{AppState, ServerConfig, router};

/// One response on a kept-alive connection: status, headers (lower-case names), body.
fn read_response(r: &mut BufReader<TcpStream>) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    (status, headers, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_images_over_a_socket_are_byte_exact_whole_and_in_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(db::Db::open_sqlite(&dir.path().join("db")).unwrap());
    let reader = db
        .accounts()
        .create_user("r", "unused", db::Role::Reader)
        .unwrap();
    let (_, key) = server::auth::new_api_key(&db, reader.id, "t", db::KeyScope::Read).unwrap();
    // Big enough to go by sendfile, small enough to stay by copy, and in between.
    let blobs: Vec<Vec<u8>> = [700_000usize, 40_000, 3_000]
        .iter()
        .enumerate()
        .map(|(k, &n)| (0..n).map(|i| (i * 31 + k * 7) as u8).collect())
        .collect();
    let hashes: Vec<lpfs::BlobHash> = blobs.iter().map(|b| store.put(b).unwrap().hash).collect();
    let state = AppState {
        lpfs: Some(store.clone()),
        ..AppState::new(store.clone(), db)
    };
    let app = router(state, &ServerConfig::default());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server::serve(listener, app, async {
        let _ = stopped.await;
    }));
    let client = tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(addr).unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        // Each blob twice (the second read is from memory, checked once), whole and in a range,
        // all on one connection.
        for round in 0..2 {
            for (b, h) in blobs.iter().zip(&hashes) {
                write!(
                    w,
                    "GET /api/v1/blobs/{h} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n\r\n"
                )
                .unwrap();
                let (status, _, body) = read_response(&mut r);
                assert_eq!(status, 200, "round {round}");
                assert!(body == *b, "blob of {} bytes, round {round}", b.len());
                let (start, end) = (b.len() / 3, b.len() - 5);
                write!(
                    w,
                    "GET /api/v1/blobs/{h} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {key}\r\n\
                     Range: bytes={start}-{}\r\n\r\n",
                    end - 1
                )
                .unwrap();
                let (status, headers, body) = read_response(&mut r);
                assert_eq!(status, 206);
                assert!(headers.iter().any(|(k, v)| k == "content-range"
                    && *v == format!("bytes {start}-{}/{}", end - 1, b.len())));
                assert!(body == b[start..end], "range of a {}-byte blob", b.len());
            }
        }
    });
    client.await.unwrap();
    // The big blob's second reads came from memory and went out by sendfile.
    let sent = server::zero_copy::SENT_BY_SENDFILE.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent >= 700_000, "sendfile sent {sent} bytes");
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}
