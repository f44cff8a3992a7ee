//! `bench import`, three runs on the same disk:
//! 1. import throughput (no thumbnails) against `unzip -q` of the same archives into folders;
//! 2. thumbnails of real JPEG photos against one `vipsthumbnail` process over the same files;
//! 3. the time to import a gallery into an empty library against a 100,000-gallery one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use library::import::{ImportOptions, Importer, Outcome, Quiet, Source, ThumbConfig};

#[derive(Debug, Args)]
pub struct ImportBenchArgs {
    /// Archives in the throughput run.
    #[arg(long, default_value_t = 20)]
    archives: usize,
    /// Pages per archive in the throughput run.
    #[arg(long, default_value_t = 30)]
    pages: usize,
    /// Real JPEG photos for the thumbnail run (a folder, searched recursively); by default
    /// Debian's `mate-backgrounds`.
    #[arg(long, default_value = "/usr/share/backgrounds")]
    photos: PathBuf,
    /// Thumbnails to make (the photos are reused to reach this many).
    #[arg(long, default_value_t = 200)]
    thumbnails: usize,
    /// Galleries in the big library of the scaling run.
    #[arg(long, default_value_t = 100_000)]
    library: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Results {
    throughput: Throughput,
    thumbnails: Thumbnails,
    scaling: Scaling,
}

#[derive(Debug, serde::Serialize)]
struct Throughput {
    archives: usize,
    page_bytes: u64,
    import_mb_per_s: f64,
    unzip_mb_per_s: f64,
    /// Import's MB/s over unzip's (target ≥ 0.8).
    ratio: f64,
}

#[derive(Debug, serde::Serialize)]
struct Thumbnails {
    photos: usize,
    thumbnails: usize,
    width: u32,
    quality: u8,
    /// One thread.
    littlepanda_s: f64,
    /// One worker per core, as the background job runs.
    littlepanda_parallel_s: f64,
    threads: usize,
    vipsthumbnail_s: f64,
    /// LittlePanda's time on one thread over vipsthumbnail's (target ≤ 0.8).
    ratio: f64,
    /// The same with one worker per core.
    parallel_ratio: f64,
    littlepanda_bytes: u64,
    vipsthumbnail_bytes: u64,
}

#[derive(Debug, serde::Serialize)]
struct Scaling {
    galleries_imported: usize,
    library_galleries: u64,
    empty_ms_per_gallery: f64,
    full_ms_per_gallery: f64,
    /// Per-gallery time into the big library over the empty one (target ≤ 1.1).
    ratio: f64,
}

/// A JPEG that compresses like a photo: smooth shapes with noise.
fn photo_like(w: usize, h: usize, rng: &mut fastrand::Rng) -> anyhow::Result<Vec<u8>> {
    let (a, b, c) = (rng.u32(..256), rng.u32(..256), rng.u32(..256));
    let mut pixels = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let n = rng.u32(..48);
            pixels.extend_from_slice(&[
                ((x as u32 / 3 + a + n) & 255) as u8,
                ((y as u32 / 4 + b + n) & 255) as u8,
                (((x + y) as u32 / 5 + c + n) & 255) as u8,
            ]);
        }
    }
    Ok(library::import::thumb::jpeg_from_rgb(
        &pixels, w as u32, h as u32, 88,
    )?)
}

/// Writes `n` zip archives of `pages` distinct photo-like pages each; answers their paths and
/// the pages' total bytes.
fn make_archives(
    dir: &Path,
    n: usize,
    pages: usize,
    size: (usize, usize),
    seed: u64,
) -> anyhow::Result<(Vec<PathBuf>, u64)> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut total = 0u64;
    let mut paths = Vec::new();
    for a in 0..n {
        let path = dir.join(format!("[Bench] Archive {a:03}.cbz"));
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(&path)?));
        for p in 0..pages {
            let jpeg = photo_like(size.0, size.1, &mut rng)?;
            total += jpeg.len() as u64;
            zip.start_file(
                format!("{:03}.jpg", p + 1),
                zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated),
            )?;
            zip.write_all(&jpeg)?;
        }
        zip.finish()?.flush()?;
        paths.push(path);
    }
    Ok((paths, total))
}

fn open_library(dir: &Path) -> anyhow::Result<(Arc<lpfs::Store>, Arc<db::Db>, Importer)> {
    std::fs::create_dir_all(dir)?;
    let store = Arc::new(lpfs::Store::open(
        dir.join("lpfs"),
        lpfs::Options::default(),
    )?);
    let db = Arc::new(db::Db::open_sqlite(&dir.join("bench.db"))?);
    let importer = Importer::new(store.clone(), db.clone());
    Ok((store, db, importer))
}

fn import_all(importer: &Importer, archives: &[PathBuf]) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(archives.len());
    for path in archives {
        let source = Source::Archive {
            path: path.clone(),
            kind: library::format::ArchiveKind::Zip,
        };
        let t = Instant::now();
        match importer.import(&source, &ImportOptions::default(), &Quiet) {
            Outcome::Imported(_) => {}
            other => bail!("{}: {other:?}", path.display()),
        }
        times.push(t.elapsed());
    }
    Ok(times)
}

fn have(tool: &str, package: &str) -> anyhow::Result<()> {
    match Command::new(tool).arg("--help").output() {
        Ok(_) => Ok(()),
        Err(_) => bail!("`{tool}` is needed for this benchmark: apt install {package}"),
    }
}

fn throughput(work: &Path, args: &ImportBenchArgs) -> anyhow::Result<Throughput> {
    have("unzip", "unzip")?;
    eprintln!(
        "  making {} archives of {} pages…",
        args.archives, args.pages
    );
    let (archives, page_bytes) = make_archives(
        &work.join("archives"),
        args.archives,
        args.pages,
        (1200, 1700),
        1,
    )?;
    // unzip, made durable like an import is.
    let _ = super::drop_page_cache();
    let out = work.join("unzipped");
    std::fs::create_dir_all(&out)?;
    let t = Instant::now();
    for (i, a) in archives.iter().enumerate() {
        let status = Command::new("unzip")
            .args(["-q", "-o"])
            .arg(a)
            .arg("-d")
            .arg(out.join(i.to_string()))
            .status()?;
        anyhow::ensure!(status.success(), "unzip failed on {}", a.display());
    }
    rustix::fs::sync();
    let unzip = t.elapsed();
    std::fs::remove_dir_all(&out)?;

    let (_store, _db, mut importer) = open_library(&work.join("throughput-library"))?;
    importer.cover_thumbnails = false;
    let _ = super::drop_page_cache();
    let t = Instant::now();
    import_all(&importer, &archives)?;
    let import = t.elapsed();
    let mb = page_bytes as f64 / 1e6;
    Ok(Throughput {
        archives: archives.len(),
        page_bytes,
        import_mb_per_s: mb / import.as_secs_f64(),
        unzip_mb_per_s: mb / unzip.as_secs_f64(),
        ratio: unzip.as_secs_f64() / import.as_secs_f64(),
    })
}

fn jpegs_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            jpegs_under(&p, out);
        } else if std::fs::File::open(&p).ok().and_then(|mut f| {
            let mut head = [0u8; 3];
            std::io::Read::read_exact(&mut f, &mut head)
                .ok()
                .map(|()| head)
        }) == Some([0xFF, 0xD8, 0xFF])
        {
            out.push(p);
        }
    }
}

fn thumbnails(work: &Path, args: &ImportBenchArgs) -> anyhow::Result<Thumbnails> {
    have("vipsthumbnail", "libvips-tools")?;
    let mut photos = Vec::new();
    jpegs_under(&args.photos, &mut photos);
    photos.sort();
    if photos.is_empty() {
        bail!(
            "no JPEG photos under {} (apt install mate-backgrounds, or pass --photos DIR)",
            args.photos.display()
        );
    }
    // The same inputs for both: links with distinct names, the photos reused to reach the count.
    let inputs_dir = work.join("photos");
    std::fs::create_dir_all(&inputs_dir)?;
    let mut inputs = Vec::new();
    for i in 0..args.thumbnails.max(1) {
        let link = inputs_dir.join(format!("{i:04}.jpg"));
        std::os::unix::fs::symlink(&photos[i % photos.len()], &link)?;
        inputs.push(link);
    }
    let cfg = ThumbConfig::default();
    // Warm the page cache for both.
    for p in &inputs {
        std::fs::read(p)?;
    }
    let ours = work.join("thumbs-littlepanda");
    std::fs::create_dir_all(&ours)?;
    let one = |p: &PathBuf| -> anyhow::Result<u64> {
        let bytes = std::fs::read(p)?;
        let thumb = library::import::thumb::make(&bytes, db::ImageFormat::Jpeg, &cfg)
            .with_context(|| p.display().to_string())?;
        std::fs::write(ours.join(p.file_name().unwrap_or_default()), &thumb.jpeg)?;
        Ok(thumb.jpeg.len() as u64)
    };
    // One thread, like vipsthumbnail here (its CPU time equals its wall time)…
    let t = Instant::now();
    let mut our_bytes = 0u64;
    for p in &inputs {
        our_bytes += one(p)?;
    }
    let our_time = t.elapsed();
    // …and as the background job runs, one worker per core.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let t = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> anyhow::Result<()> {
                    while let Some(p) =
                        inputs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
                    {
                        one(p)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a thumbnail thread panicked"))??;
        }
        Ok(())
    })?;
    let parallel_time = t.elapsed();

    let theirs = work.join("thumbs-vips");
    std::fs::create_dir_all(&theirs)?;
    let t = Instant::now();
    let status = Command::new("vipsthumbnail")
        .arg("--size")
        .arg(format!("{}x", cfg.width))
        .arg("-o")
        .arg(theirs.join(format!("%s.jpg[Q={},strip]", cfg.quality)))
        .args(&inputs)
        .status()?;
    let vips_time = t.elapsed();
    anyhow::ensure!(status.success(), "vipsthumbnail failed");
    let vips_bytes: u64 = std::fs::read_dir(&theirs)?
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok(Thumbnails {
        photos: photos.len(),
        thumbnails: inputs.len(),
        width: cfg.width,
        quality: cfg.quality,
        littlepanda_s: our_time.as_secs_f64(),
        littlepanda_parallel_s: parallel_time.as_secs_f64(),
        threads,
        vipsthumbnail_s: vips_time.as_secs_f64(),
        ratio: our_time.as_secs_f64() / vips_time.as_secs_f64(),
        parallel_ratio: parallel_time.as_secs_f64() / vips_time.as_secs_f64(),
        littlepanda_bytes: our_bytes,
        vipsthumbnail_bytes: vips_bytes,
    })
}

fn scaling(work: &Path, args: &ImportBenchArgs) -> anyhow::Result<Scaling> {
    const GALLERIES: usize = 20;
    let (small, _) = make_archives(&work.join("scaling-a"), GALLERIES, 20, (800, 1100), 2)?;
    let (small_b, _) = make_archives(&work.join("scaling-b"), GALLERIES, 20, (800, 1100), 3)?;
    let (_s, _d, empty) = open_library(&work.join("empty-library"))?;
    let (store, db, full) = open_library(&work.join("full-library"))?;
    eprintln!("  filling a library of {} galleries…", args.library);
    library::synth::fill(&db, store.as_ref(), args.library, 10_000, 5, |_| {})?;
    let mean = |t: &[Duration]| t.iter().sum::<Duration>().as_secs_f64() * 1e3 / t.len() as f64;
    // Alternate, so that neither library gets the quieter moments.
    let mut e = Vec::new();
    let mut f = Vec::new();
    for (a, b) in small.chunks(5).zip(small_b.chunks(5)) {
        e.extend(import_all(&empty, a)?);
        f.extend(import_all(&full, b)?);
    }
    let (em, fm) = (mean(&e), mean(&f));
    Ok(Scaling {
        galleries_imported: GALLERIES,
        library_galleries: args.library,
        empty_ms_per_gallery: em,
        full_ms_per_gallery: fm,
        ratio: fm / em,
    })
}

pub fn run(args: &ImportBenchArgs, data: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(data)?;
    let work = tempfile::Builder::new()
        .prefix("bench-import-")
        .tempdir_in(data)
        .with_context(|| format!("making a work folder in {}", data.display()))?;
    eprintln!("bench import in {}", work.path().display());
    let throughput = throughput(work.path(), args)?;
    eprintln!(
        "  throughput: {:.0} MB/s vs unzip {:.0} MB/s",
        throughput.import_mb_per_s, throughput.unzip_mb_per_s
    );
    let thumbnails = thumbnails(work.path(), args)?;
    eprintln!(
        "  thumbnails: {:.2} s vs vipsthumbnail {:.2} s",
        thumbnails.littlepanda_s, thumbnails.vipsthumbnail_s
    );
    let scaling = scaling(work.path(), args)?;
    let r = Results {
        throughput,
        thumbnails,
        scaling,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let t = &r.throughput;
        println!(
            "import, {} archives, {:.0} MB of pages:",
            t.archives,
            t.page_bytes as f64 / 1e6
        );
        println!(
            "  throughput (no thumbnails)   {:>7.0} MB/s   unzip -q {:>7.0} MB/s   ratio {:.2} (target ≥ 0.8)",
            t.import_mb_per_s, t.unzip_mb_per_s, t.ratio
        );
        let th = &r.thumbnails;
        println!(
            "  {} thumbnails of {} photos  {:>7.2} s       vipsthumbnail {:>5.2} s  ratio {:.2} (target ≤ 0.8); {}px wide, Q{}, {} vs {} KB",
            th.thumbnails,
            th.photos,
            th.littlepanda_s,
            th.vipsthumbnail_s,
            th.ratio,
            th.width,
            th.quality,
            th.littlepanda_bytes / 1000,
            th.vipsthumbnail_bytes / 1000
        );
        println!(
            "    with {} workers (the background job) {:>5.2} s                       ratio {:.2}",
            th.threads, th.littlepanda_parallel_s, th.parallel_ratio
        );
        let s = &r.scaling;
        println!(
            "  per gallery, empty library {:>6.1} ms   {}-gallery library {:>6.1} ms   ratio {:.2} (target ≤ 1.1)",
            s.empty_ms_per_gallery, s.library_galleries, s.full_ms_per_gallery, s.ratio
        );
    }
    Ok(())
}
