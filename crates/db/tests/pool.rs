//! Reading connections are bounded: every concurrent read opened a fresh SQLite connection (each
//! with its own large page cache), so memory and open files grew with the peak number of
//! requests. Now at most eight readers exist; the others wait their turn.

use std::sync::{Arc, Barrier};

/// Open file descriptors of this process that point at `path`.
fn open_files_of(path: &std::path::Path) -> usize {
    let path = std::fs::canonicalize(path).unwrap();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| *target == path)
        .count()
}

#[test]
fn many_readers_at_once_share_a_bounded_pool() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let db = Arc::new(db::Db::open_sqlite(&path).unwrap());
    let readers = 64;
    let barrier = Arc::new(Barrier::new(readers + 1));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = (0..readers)
        .map(|_| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..200 {
                    db.galleries().count().unwrap();
                    db.accounts().users().unwrap();
                }
            })
        })
        .collect();
    let watcher = {
        let (path, done, db) = (path.clone(), done.clone(), db.clone());
        std::thread::spawn(move || {
            let mut most = (0, 0);
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                most.0 = most.0.max(open_files_of(&path));
                most.1 = most.1.max(db.reading_connections());
                std::thread::yield_now();
            }
            most
        })
    };
    barrier.wait();
    for t in threads {
        t.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let (files, connections) = watcher.join().unwrap();
    assert!(
        connections <= 8,
        "{connections} reading connections at once"
    );
    // The writer's connection, and the readers'.
    assert!(files <= 9, "{files} open files of the database at once");
    assert!(
        connections >= 2,
        "the readers did share the work: {connections}"
    );
}
