//! `import`, `export`, `trash`, `restore`, `purge` and `gc`: galleries in and out of the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use db::{Db, TagName};
use library::import::{ImportOptions, Importer, Outcome, Progress, Source};
use lpfs::BlobStore;

use crate::config::Config;

/// The library opened for a command: the blob store, the database, an importer over both.
pub struct Library {
    pub store: Arc<lpfs::Store>,
    pub db: Arc<Db>,
    pub importer: Arc<Importer>,
}

impl Library {
    pub fn open(config: &Config, data: &Path) -> anyhow::Result<Self> {
        let store_dir = data.join("lpfs");
        let store = Arc::new(
            lpfs::Store::open(&store_dir, config.store_options())
                .with_context(|| format!("opening the image store in {}", store_dir.display()))?,
        );
        let db = Arc::new(crate::open_db(config, data)?);
        let mut importer = Importer::new(store.clone(), db.clone());
        importer.limits = config.import_limits();
        importer.thumbnails = config.thumbnail_config();
        let lib = Self {
            store,
            db,
            importer: Arc::new(importer),
        };
        lib.recover_interrupted_imports()?;
        Ok(lib)
    }

    /// Imports that a killed process left unfinished stored pages that no gallery names: this
    /// process holds the store alone (its lock), so nothing else is importing, and those blobs
    /// are released before anything new starts.
    fn recover_interrupted_imports(&self) -> anyhow::Result<()> {
        let interrupted = self
            .db
            .jobs()
            .in_state(db::JobState::Running, 10_000)?
            .into_iter()
            .filter(|j| j.kind == IMPORT_JOB)
            .collect::<Vec<_>>();
        if interrupted.is_empty() {
            return Ok(());
        }
        let released = self.importer.release_orphans()?;
        for job in &interrupted {
            self.db.jobs().fail(
                job.id,
                "interrupted: the process stopped before the import finished",
            )?;
        }
        tracing::info!(
            imports = interrupted.len(),
            released,
            "released the images of imports interrupted by the last stop"
        );
        Ok(())
    }
}

/// The job kind of an import.
pub const IMPORT_JOB: &str = "import";

#[derive(Debug, serde::Serialize)]
struct Report<'a> {
    path: &'a Path,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    public_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pages: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Progress bars: archives done, pages and bytes stored.
struct Bars {
    archives: indicatif::ProgressBar,
    bytes: indicatif::ProgressBar,
    pages: std::sync::atomic::AtomicU64,
}

impl Progress for Bars {
    fn page(&self, bytes: u64) {
        self.bytes.inc(bytes);
        self.bytes.inc_length(bytes);
        self.pages
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.bytes.set_message(format!(
            "{} pages",
            self.pages.load(std::sync::atomic::Ordering::Relaxed)
        ));
    }
}

fn style(template: &str) -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

/// Runs one import of `source`, recorded as a job.
pub fn import_one(
    lib: &Library,
    source: &Source,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> anyhow::Result<Outcome> {
    let jobs = lib.db.jobs();
    let job = jobs.create(IMPORT_JOB, &source.path().to_string_lossy())?;
    jobs.start(job)?;
    let outcome = lib.importer.import(source, opts, progress);
    match &outcome {
        Outcome::Failed(e) => jobs.fail(job, &e.to_string())?,
        _ => jobs.finish(job)?,
    }
    Ok(outcome)
}

pub struct ImportArgs {
    pub paths: Vec<PathBuf>,
    pub tags: Option<String>,
    pub title: Option<String>,
    pub allow_partial: bool,
    pub json: bool,
}

pub fn import(config: &Config, data: &Path, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let tags = match &args.tags {
        Some(t) => TagName::parse_list(t).context("--tags")?,
        None => Vec::new(),
    };
    let opts = ImportOptions {
        title: args.title.clone(),
        tags,
        allow_partial: args.allow_partial,
    };
    let lib = Library::open(config, data)?;
    let mut sources = Vec::new();
    let mut failed = 0usize;
    let mut out = std::io::stdout().lock();
    for path in &args.paths {
        match lib.importer.discover(path) {
            Ok(found) if found.is_empty() => {
                failed += 1;
                report_failure(
                    &mut out,
                    args.json,
                    path,
                    "no archives or folders of images in it",
                )?;
            }
            Ok(found) => sources.extend(found),
            Err(e) => {
                failed += 1;
                report_failure(&mut out, args.json, path, &e.to_string())?;
            }
        }
    }
    let multi = indicatif::MultiProgress::new();
    if args.json {
        multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let bars = Bars {
        archives: multi.add(indicatif::ProgressBar::new(sources.len() as u64)),
        bytes: multi.add(indicatif::ProgressBar::new(0)),
        pages: std::sync::atomic::AtomicU64::new(0),
    };
    bars.archives.set_style(style(
        "{elapsed_precise} [{bar:30}] {pos}/{len} galleries  {msg}",
    ));
    bars.bytes
        .set_style(style("{msg}, {binary_bytes} ({binary_bytes_per_sec})"));
    let (mut imported, mut duplicates) = (0usize, 0usize);
    for source in &sources {
        bars.archives.set_message(
            source
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let outcome = import_one(&lib, source, &opts, &bars)?;
        bars.archives.inc(1);
        let path = source.path();
        let report = match &outcome {
            Outcome::Imported(g) => {
                imported += 1;
                Report {
                    path,
                    outcome: "imported",
                    public_id: Some(&g.public_id),
                    title: Some(&g.title),
                    pages: Some(g.pages),
                    bytes: Some(g.bytes),
                    warnings: &g.warnings,
                    error: None,
                }
            }
            Outcome::Duplicate { public_id } => {
                duplicates += 1;
                Report {
                    path,
                    outcome: "duplicate",
                    public_id: Some(public_id),
                    title: None,
                    pages: None,
                    bytes: None,
                    warnings: &[],
                    error: None,
                }
            }
            Outcome::Failed(e) => {
                failed += 1;
                Report::failed(path, e.to_string())
            }
        };
        multi.suspend(|| print_report(&mut out, args.json, &report))?;
    }
    bars.archives.finish_and_clear();
    bars.bytes.finish_and_clear();
    if !args.json {
        writeln!(
            out,
            "{imported} imported, {duplicates} already in the library, {failed} failed"
        )?;
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn report_failure(
    out: &mut impl Write,
    json: bool,
    path: &Path,
    error: &str,
) -> anyhow::Result<()> {
    print_report(out, json, &Report::failed(path, error.to_string()))
}

impl<'a> Report<'a> {
    fn failed(path: &'a Path, error: String) -> Self {
        Report {
            path,
            outcome: "failed",
            public_id: None,
            title: None,
            pages: None,
            bytes: None,
            warnings: &[],
            error: Some(error),
        }
    }
}

fn print_report(out: &mut impl Write, json: bool, r: &Report<'_>) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
        return Ok(());
    }
    let path = r.path.display();
    match r.outcome {
        "imported" => writeln!(
            out,
            "imported   {path}\n           → {} {:?}, {} pages, {:.1} MB",
            r.public_id.unwrap_or_default(),
            r.title.unwrap_or_default(),
            r.pages.unwrap_or_default(),
            r.bytes.unwrap_or_default() as f64 / 1e6
        )?,
        "duplicate" => writeln!(
            out,
            "duplicate  {path}\n           = {} (already in the library)",
            r.public_id.unwrap_or_default()
        )?,
        _ => writeln!(
            out,
            "failed     {path}\n           ✗ {}",
            r.error.as_deref().unwrap_or_default()
        )?,
    }
    for w in r.warnings {
        writeln!(out, "           ! {w}")?;
    }
    Ok(())
}

/// `export GALLERY --to FILE.cbz`: the pages byte for byte, and a ComicInfo.xml of the metadata.
pub fn export(config: &Config, data: &Path, gallery: &str, to: &Path) -> anyhow::Result<ExitCode> {
    let lib = Library::open(config, data)?;
    let g = lib.db.galleries().get(gallery)?;
    let pages = lib.db.galleries().pages(gallery)?;
    let tmp = to.with_extension("cbz.part");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let written = (|| -> anyhow::Result<()> {
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        library::export::write_cbz(&mut zip, &g, &pages, lib.store.as_ref())?;
        let mut inner = zip.finish()?;
        inner.flush()?;
        inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, to).with_context(|| format!("renaming to {}", to.display()))?;
    println!(
        "exported {} pages of {gallery} to {}",
        pages.len(),
        to.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `trash`, `restore`, `purge`.
pub enum Removal {
    Trash,
    Restore,
    Purge,
}

pub fn remove(
    config: &Config,
    data: &Path,
    gallery: &str,
    what: Removal,
) -> anyhow::Result<ExitCode> {
    let lib = Library::open(config, data)?;
    match what {
        Removal::Trash => {
            lib.db.galleries().trash(gallery)?;
            println!("{gallery} is in the trash (restore it with `littlepanda restore {gallery}`)");
        }
        Removal::Restore => {
            lib.db.galleries().restore(gallery)?;
            println!("{gallery} is back in the library");
        }
        Removal::Purge => {
            let released = lib.db.galleries().purge(gallery)?;
            for h in &released {
                lib.store.delete(h)?;
            }
            println!(
                "{gallery} is deleted; {} images nothing else used are released (`littlepanda compact` returns the space)",
                released.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gc`: releases stored images that no gallery uses (left by imports killed mid-way).
pub fn gc(config: &Config, data: &Path) -> anyhow::Result<ExitCode> {
    let lib = Library::open(config, data)?;
    let released = lib.importer.release_orphans()?;
    println!("released {released} images that nothing in the library uses");
    Ok(ExitCode::SUCCESS)
}
