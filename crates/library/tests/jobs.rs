//! The job runner: the thumbnails job is recorded, and one a stop interrupted is carried on.

mod support;

use std::sync::{Arc, Mutex};

use db::{JobKind, JobState};
use library::import::{ImportOptions, Outcome, Quiet};
use library::jobs::{JobEvent, Runner};
use support::{jpeg, library, zip};

#[test]
fn an_interrupted_thumbnails_job_is_carried_on_to_its_end() {
    let lib = library();
    let input = tempfile::tempdir().unwrap();
    let pages: Vec<(String, Vec<u8>)> = (0..7)
        .map(|i| (format!("{i:02}.jpg"), jpeg(64, 96, i)))
        .collect();
    let entries: Vec<(&str, &[u8])> = pages.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
    let path = input.path().join("a.cbz");
    std::fs::write(&path, zip(&entries)).unwrap();
    let sources = lib.importer.discover(&path).unwrap();
    let outcome = lib
        .importer
        .import(&sources[0], &ImportOptions::default(), &Quiet);
    assert!(matches!(outcome, Outcome::Imported(_)), "{outcome:?}");
    // The cover's thumbnail is made at import; the six other pages wait.
    assert_eq!(lib.db.galleries().count_needing_thumbnails().unwrap(), 6);

    let told: Arc<Mutex<Vec<JobEvent>>> = Arc::default();
    let listener = told.clone();
    let runner = Runner::new(
        lib.db.clone(),
        Some(Arc::new(library::import::Importer::new(
            lib.store.clone(),
            lib.db.clone(),
        ))),
        Arc::new(move |e| listener.lock().unwrap().push(e)),
    );
    // A first pass of two, then the process stops: its job is left running.
    assert_eq!(runner.thumbnails(2).unwrap(), 2);
    let running = lib
        .db
        .jobs()
        .in_state(JobState::Running, 10)
        .unwrap()
        .into_iter()
        .find(|j| j.kind == JobKind::Thumbnails)
        .expect("a running thumbnails job");
    assert_eq!((running.done, running.total), (2, 6));
    // The next start queues it again (what opening the library does) and carries it on.
    assert_eq!(lib.db.jobs().requeue_interrupted().unwrap(), 1);
    assert_eq!(runner.resume().unwrap(), 0, "no import to resume");
    while runner.thumbnails(2).unwrap() > 0 {}
    assert_eq!(runner.thumbnails(2).unwrap(), 0);
    let job = lib.db.jobs().get(running.id).unwrap();
    assert_eq!(job.state, JobState::Done, "{job:?}");
    assert_eq!((job.done, job.total), (6, 6));
    let all = lib.db.jobs().recent(&[JobKind::Thumbnails], 10).unwrap();
    assert_eq!(all.len(), 1, "carried on, not started again: {all:?}");
    assert_eq!(lib.db.galleries().count_needing_thumbnails().unwrap(), 0);
    // Watchers were told each step, the last one its end.
    let told = told.lock().unwrap();
    assert!(
        told.iter()
            .all(|e| e.id == running.id && e.kind == JobKind::Thumbnails)
    );
    let last = told.last().expect("events");
    assert_eq!((last.state, last.done, last.total), (JobState::Done, 6, 6));
}

#[test]
fn a_job_whose_payload_cannot_be_read_fails_with_that_reason() {
    let lib = library();
    let id = lib.db.jobs().create(JobKind::Upload, "not json").unwrap();
    let runner = Runner::quiet(
        lib.db.clone(),
        Arc::new(library::import::Importer::new(
            lib.store.clone(),
            lib.db.clone(),
        )),
    );
    runner.resume().unwrap();
    let job = lib.db.jobs().get(id).unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(job.error.unwrap().contains("cannot be read"));
}
