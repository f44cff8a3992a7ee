//! `import`, `export`, `trash`, `restore`, `purge` and `gc`: galleries in and out of the library.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use db::TagName;
use library::import::{ImportOptions, Outcome, Progress, Source};

use crate::config::Config;

pub use library::app::Library;

/// Opens the library in `data` as `config` says (see [`Library::open`]).
pub fn open_library(config: &Config, data: &Path) -> anyhow::Result<Library> {
    let store_dir = data.join("lpfs");
    let db = crate::open_db(config, data)?;
    let settings = library::app::Settings {
        store: config.store_options(),
        limits: config.import_limits(),
        thumbnails: config.thumbnail_config(),
    };
    Library::open(&store_dir, db, settings)
        .with_context(|| format!("opening the library in {}", data.display()))
}

/// What became of one source: printed as a line of JSON (`--json`) or as text, and sent line by
/// line over the control socket when a running server imports for the command.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Report {
    path: PathBuf,
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    public_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pages: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// Runs one import of `source`, recorded as a job (as the server records its own: the path, one
/// source of one done, and the reason when it failed).
pub fn import_one(
    lib: &Library,
    source: &Source,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> anyhow::Result<Outcome> {
    Ok(lib.jobs().import_now(source, opts, progress)?)
}

/// Records an import that could not even start (nothing importable was found at `path`) as a
/// failed job with its reason, so it is listed with the others.
pub fn record_failed_import(lib: &Library, path: &Path, reason: &str) -> anyhow::Result<()> {
    Ok(lib.jobs().record_failed_import(path, reason)?)
}

/// What `littlepanda import` was asked; also what it sends a running server to do for it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ImportArgs {
    pub paths: Vec<PathBuf>,
    pub tags: Option<String>,
    pub title: Option<String>,
    pub allow_partial: bool,
    pub json: bool,
}

/// Counts of what an import run did.
#[derive(Debug, Default)]
pub struct Tally {
    imported: usize,
    duplicates: usize,
    failed: usize,
}

impl Tally {
    fn count(&mut self, r: &Report) {
        match r.outcome.as_str() {
            "imported" => self.imported += 1,
            "duplicate" => self.duplicates += 1,
            _ => self.failed += 1,
        }
    }
}

/// `littlepanda import`: in this process when the library is free, or by the server that has it
/// open (through its control socket, see [`crate::control`]), so the command works beside
/// `serve` either way.
pub fn import(config: &Config, data: &Path, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut tally = Tally::default();
    let json = args.json;
    let mut emit = |r: Report| -> anyhow::Result<()> {
        tally.count(&r);
        print_report(&mut out, json, &r)
    };
    if let Some(server) = crate::control::connect(data) {
        // The paths go to the server as this command sees them.
        let args = ImportArgs {
            paths: args
                .paths
                .iter()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
                .collect(),
            ..args
        };
        if !json {
            eprintln!("The server that has this library open imports for this command.");
        }
        crate::control::import(server, &args, &mut emit)?;
    } else {
        let lib = open_library(config, data)?;
        run_import(&lib, &args, !json, &mut emit)?;
    }
    if !json {
        writeln!(
            out,
            "{} imported, {} already in the library, {} failed",
            tally.imported, tally.duplicates, tally.failed
        )?;
    }
    Ok(if tally.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Imports what `args` names into `lib`, each source recorded as a job; tells `emit` what became
/// of each. Progress bars are drawn when `bars_shown`.
pub fn run_import(
    lib: &Library,
    args: &ImportArgs,
    bars_shown: bool,
    emit: &mut dyn FnMut(Report) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let tags = match &args.tags {
        Some(t) => TagName::parse_list(t).context("--tags")?,
        None => Vec::new(),
    };
    let opts = ImportOptions {
        title: args.title.clone(),
        tags,
        allow_partial: args.allow_partial,
    };
    let mut sources = Vec::new();
    for path in &args.paths {
        match lib.importer.discover(path) {
            Ok(found) if found.is_empty() => {
                emit(Report::failed(
                    path,
                    "no archives or folders of images in it".into(),
                ))?;
            }
            Ok(found) => sources.extend(found),
            Err(e) => emit(Report::failed(path, e.to_string()))?,
        }
    }
    let multi = indicatif::MultiProgress::new();
    if !bars_shown {
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
    for source in &sources {
        bars.archives.set_message(
            source
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let outcome = import_one(lib, source, &opts, &bars)?;
        bars.archives.inc(1);
        let path = source.path().to_path_buf();
        let report = match outcome {
            Outcome::Imported(g) => Report {
                path,
                outcome: "imported".into(),
                public_id: Some(g.public_id),
                title: Some(g.title),
                pages: Some(g.pages),
                bytes: Some(g.bytes),
                warnings: g.warnings,
                error: None,
            },
            Outcome::Duplicate { public_id } => Report {
                path,
                outcome: "duplicate".into(),
                public_id: Some(public_id),
                title: None,
                pages: None,
                bytes: None,
                warnings: Vec::new(),
                error: None,
            },
            Outcome::Failed(e) => Report::failed(&path, e.to_string()),
        };
        multi.suspend(|| emit(report))?;
    }
    bars.archives.finish_and_clear();
    bars.bytes.finish_and_clear();
    Ok(())
}

impl Report {
    fn failed(path: &Path, error: String) -> Self {
        Report {
            path: path.to_path_buf(),
            outcome: "failed".into(),
            public_id: None,
            title: None,
            pages: None,
            bytes: None,
            warnings: Vec::new(),
            error: Some(error),
        }
    }
}

fn print_report(out: &mut impl Write, json: bool, r: &Report) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string(r)?)?;
        return Ok(());
    }
    let path = r.path.display();
    match r.outcome.as_str() {
        "imported" => writeln!(
            out,
            "imported   {path}\n           → {} {:?}, {} pages, {:.1} MB",
            r.public_id.as_deref().unwrap_or_default(),
            r.title.as_deref().unwrap_or_default(),
            r.pages.unwrap_or_default(),
            r.bytes.unwrap_or_default() as f64 / 1e6
        )?,
        "duplicate" => writeln!(
            out,
            "duplicate  {path}\n           = {} (already in the library)",
            r.public_id.as_deref().unwrap_or_default()
        )?,
        _ => writeln!(
            out,
            "failed     {path}\n           ✗ {}",
            r.error.as_deref().unwrap_or_default()
        )?,
    }
    for w in &r.warnings {
        writeln!(out, "           ! {w}")?;
    }
    Ok(())
}

/// `export GALLERY --to FILE.cbz`: the pages byte for byte, and a ComicInfo.xml of the metadata.
/// Export only reads: it opens the image store read-only, so it works beside a running server.
pub fn export(config: &Config, data: &Path, gallery: &str, to: &Path) -> anyhow::Result<ExitCode> {
    let store_dir = data.join("lpfs");
    let store = lpfs::Store::open_read_only(&store_dir)
        .with_context(|| format!("opening the image store in {}", store_dir.display()))?;
    let db = crate::open_db(config, data)?;
    let (g, pages) = library::ops::browse::gallery_with_pages(&db, gallery)?;
    let tmp = to.with_extension("cbz.part");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let written = (|| -> anyhow::Result<()> {
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(file));
        library::export::write_cbz(&mut zip, &g, &pages, &store)?;
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
    let lib = open_library(config, data)?;
    match what {
        Removal::Trash => {
            library::ops::galleries::trash(&lib.db, gallery)?;
            println!("{gallery} is in the trash (restore it with `littlepanda restore {gallery}`)");
        }
        Removal::Restore => {
            library::ops::galleries::restore(&lib.db, gallery)?;
            println!("{gallery} is back in the library");
        }
        Removal::Purge => {
            let released = library::ops::galleries::purge(&lib.importer, gallery)?;
            println!(
                "{gallery} is deleted; {released} images nothing else used are released (`littlepanda compact` returns the space)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gc`: releases stored images that no gallery uses (left by imports killed mid-way).
pub fn gc(config: &Config, data: &Path) -> anyhow::Result<ExitCode> {
    let lib = open_library(config, data)?;
    let released = lib.importer.release_orphans()?;
    println!("released {released} images that nothing in the library uses");
    Ok(ExitCode::SUCCESS)
}
