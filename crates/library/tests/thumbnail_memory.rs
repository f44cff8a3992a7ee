//! Thumbnails of huge pages cost little memory: eight readers asking at once for the thumbnail of
//! one fresh 12000×12000 RGBA PNG drove the server from 53 MB to 7.2 GB (one request alone 1.24 GB).
//! The page is now read in bands and reduced as it comes, and the thumbnail is made once however
//! many ask. The heap is measured by a counting allocator, in a test binary of its own.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use db::{BlobInfo, ImageFormat};
use library::import::thumb;
use lpfs::{BlobHash, BlobStore};

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = NOW.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A `side`×`side` RGBA PNG, made row by row (never whole in memory).
fn huge_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let mut row = vec![0u8; side as usize * 4];
    for y in 0..side {
        for x in 0..side as usize {
            row[x * 4] = ((x as u32 / 64) ^ (y / 64)) as u8;
            row[x * 4 + 1] = (y / 47) as u8;
            row[x * 4 + 2] = 200;
            row[x * 4 + 3] = if (x / 100) % 2 == 0 { 255 } else { 128 };
        }
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
    drop(writer);
    out
}

#[test]
fn a_huge_png_is_thumbnailed_in_bands_once_within_a_small_heap() {
    // 8000×8000 RGBA is 256 MB whole (the report's 12000×12000 was 576 MB; the same path).
    let side = 8_000;
    let png = huge_png(side);
    let cfg = thumb::ThumbConfig::default();
    let before = NOW.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let t = thumb::make(&png, ImageFormat::Png, &cfg).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - before;
    assert_eq!((t.width, t.height), (320, 320));
    let whole = side as usize * side as usize * 4;
    eprintln!("peak heap while thumbnailing: {} KB", peak >> 10);
    assert!(
        peak < 32 << 20,
        "decoding held {} MB; the image whole is {} MB",
        peak >> 20,
        whole >> 20
    );

    // Eight asking at once for one fresh image's thumbnail: it is made once, and the memory
    // decoding holds never goes past one decode's worth.
    let lib = support::library();
    let hash = lib.store.put(&png).unwrap().hash;
    let info = BlobInfo {
        hash,
        format: ImageFormat::Png,
        width: side,
        height: side,
        bytes: png.len() as u64,
    };
    let made = lib
        .db
        .galleries()
        .create(&db::NewGallery {
            title: "huge".into(),
            pages: vec![db::NewPage {
                name: "1.png".into(),
                blob: info,
            }],
            ..db::NewGallery::default()
        })
        .unwrap();
    assert!(matches!(made, db::Created::New { .. }));
    let one = thumb::decode_bytes(&png, ImageFormat::Png, &cfg);
    let most = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| lib.importer.make_thumbnail(&info).unwrap());
        }
        scope.spawn(|| {
            for _ in 0..2000 {
                most.fetch_max(lib.importer.decode_budget.in_use(), Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        });
    });
    assert!(
        most.load(Ordering::Relaxed) <= one,
        "more than one decode at once"
    );
    let state = lib.db.galleries().thumbnail_of(&hash).unwrap();
    assert!(
        matches!(state, Some(db::ThumbnailState::Made(_))),
        "{state:?}"
    );
    let _: BlobHash = hash;
}
