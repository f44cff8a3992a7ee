//! Synthetic libraries for benchmarks and tests: realistic titles (Latin and Japanese), 5–40 tags
//! per gallery drawn Zipf-like from about 50,000 tags across the E-Hentai namespaces, and 10–400
//! pages per gallery pointing at a small pool of real images kept in the blob store.

use db::{BlobInfo, Db, ImageFormat, NewGallery, NewPage, ReadingDirection, TagName, TagSource};
use lpfs::BlobStore;

/// How many tags of each namespace the synthetic vocabulary has (about 50,000 in all).
const NAMESPACE_SIZES: &[(&str, usize)] = &[
    ("artist", 20_000),
    ("group", 8_000),
    ("character", 10_000),
    ("parody", 3_000),
    ("female", 4_000),
    ("male", 2_500),
    ("misc", 1_500),
    ("other", 970),
    ("language", 30),
];

const LATIN: &[&str] = &[
    "summer", "night", "secret", "garden", "academy", "magic", "girl", "love", "story", "festival",
    "school", "island", "dream", "sister", "princess", "maid", "holiday", "after", "rain", "star",
    "memories", "diary", "winter", "sweet", "lesson", "journey", "castle", "moon", "cherry",
    "blossom", "tea", "party", "melody", "heart", "days", "world",
];
const KANA: &[&str] = &[
    "魔法",
    "少女",
    "の",
    "秘密",
    "夏",
    "休み",
    "学園",
    "恋",
    "物語",
    "星",
    "夜",
    "桜",
    "お姉ちゃん",
    "天使",
    "猫",
    "メイド",
    "ひみつ",
    "だいすき",
    "ラブ",
    "日記",
    "花火",
    "海",
    "温泉",
    "旅行",
    "先輩",
    "後輩",
];
const LANGUAGES: &[&str] = &[
    "English", "Japanese", "Chinese", "Korean", "Spanish", "French", "Russian",
];

/// A vocabulary of tags and a Zipf-like sampler over it: the tag of rank `r` is drawn with
/// probability proportional to 1/(r+1).
#[derive(Debug)]
pub struct TagVocabulary {
    tags: Vec<TagName>,
    cumulative: Vec<f64>,
}

impl TagVocabulary {
    /// The standard synthetic vocabulary (deterministic).
    pub fn standard() -> Self {
        let mut tags = Vec::new();
        for &(ns, n) in NAMESPACE_SIZES {
            for i in 0..n {
                let name = if ns == "language" && i < LANGUAGES.len() {
                    LANGUAGES[i].to_lowercase()
                } else {
                    format!(
                        "{} {}",
                        LATIN[i % LATIN.len()],
                        base36(i as u64 * 7919 + ns.len() as u64)
                    )
                };
                tags.push(TagName {
                    namespace: ns.to_string(),
                    name,
                });
            }
        }
        // Interleave namespaces in rank order so that every namespace has popular tags.
        let mut rng = fastrand::Rng::with_seed(42);
        rng.shuffle(&mut tags);
        let mut total = 0.0;
        let cumulative = (0..tags.len())
            .map(|r| {
                total += 1.0 / (r as f64 + 1.0);
                total
            })
            .collect();
        Self { tags, cumulative }
    }

    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The tag of popularity rank `r`.
    pub fn by_rank(&self, r: usize) -> &TagName {
        &self.tags[r]
    }

    /// A random tag, Zipf-like by rank.
    pub fn sample(&self, rng: &mut fastrand::Rng) -> &TagName {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = rng.f64() * total;
        let i = self
            .cumulative
            .partition_point(|&c| c < x)
            .min(self.tags.len() - 1);
        &self.tags[i]
    }
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A small uncompressed BMP: a real image every browser shows, made without an encoder.
pub fn bmp(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let row = (width * 3).div_ceil(4) * 4;
    let size = 54 + row * height;
    let mut out = Vec::with_capacity(size as usize);
    out.extend_from_slice(b"BM");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&54u32.to_le_bytes());
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&width.to_le_bytes());
    out.extend_from_slice(&height.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&24u16.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(row * height).to_le_bytes());
    out.extend_from_slice(&[0; 16]);
    let mut rng = fastrand::Rng::with_seed(seed);
    let (r0, g0, b0) = (rng.u8(..), rng.u8(..), rng.u8(..));
    for y in 0..height {
        for x in 0..width {
            out.push(b0.wrapping_add((x * 2) as u8));
            out.push(g0.wrapping_add((y * 2) as u8));
            out.push(r0.wrapping_add(((x + y) / 2) as u8));
        }
        out.extend(std::iter::repeat_n(0u8, (row - width * 3) as usize));
    }
    out
}

/// The pool of real page images: stored in `store`, described for the database.
pub fn image_pool(store: &dyn BlobStore, count: usize) -> lpfs::Result<Vec<BlobInfo>> {
    let images: Vec<(u32, u32, Vec<u8>)> = (0..count)
        .map(|i| {
            let (w, h) = (60 + (i as u32 % 5) * 4, 85);
            (w, h, bmp(w, h, i as u64))
        })
        .collect();
    let outcomes = store.put_many(images.iter().map(|(_, _, b)| b.clone()).collect())?;
    Ok(outcomes
        .into_iter()
        .zip(&images)
        .map(|(o, (w, h, _))| BlobInfo {
            hash: o.hash,
            format: ImageFormat::Bmp,
            width: *w,
            height: *h,
            bytes: o.len,
        })
        .collect())
}

/// Makes synthetic galleries, deterministic for a seed.
#[derive(Debug)]
pub struct GalleryMaker<'a> {
    rng: fastrand::Rng,
    vocabulary: &'a TagVocabulary,
    pool: &'a [BlobInfo],
    serial: u64,
}

impl<'a> GalleryMaker<'a> {
    pub fn new(seed: u64, vocabulary: &'a TagVocabulary, pool: &'a [BlobInfo]) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
            vocabulary,
            pool,
            serial: 0,
        }
    }

    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| LATIN[self.rng.usize(..LATIN.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn japanese(&mut self) -> String {
        let n = self.rng.usize(2..6);
        let mut s: String = (0..n).map(|_| KANA[self.rng.usize(..KANA.len())]).collect();
        if self.rng.bool() {
            s.push_str(&format!(" 第{}巻", self.rng.u32(1..20)));
        }
        s
    }

    /// The next gallery, with `pages` pages (or 10–400 when `None`).
    pub fn next(&mut self, pages: Option<usize>) -> NewGallery {
        self.serial += 1;
        let tag_count = self.rng.usize(5..=40);
        let mut tags: Vec<TagName> = (0..tag_count)
            .map(|_| self.vocabulary.sample(&mut self.rng).clone())
            .collect();
        tags.sort();
        tags.dedup();
        let artist = tags
            .iter()
            .find(|t| t.namespace == "artist")
            .map_or_else(|| self.words(1), |t| t.name.clone());
        let words = self.rng.usize(1..6);
        let english = self.words(words);
        let japanese_first = self.rng.u8(..10) < 3;
        let event = self.rng.u32(60..105);
        let language = LANGUAGES[self.rng.usize(..LANGUAGES.len())];
        let title = if japanese_first {
            format!("(C{event}) [{artist}] {} [{language}]", self.japanese())
        } else {
            format!(
                "(C{event}) [{artist}] {english} #{} [{language}]",
                self.serial
            )
        };
        let title_original = if self.rng.bool() {
            self.japanese()
        } else {
            String::new()
        };
        let page_count = pages.unwrap_or_else(|| self.rng.usize(10..=400));
        let pages = (0..page_count)
            .map(|i| NewPage {
                blob: self.pool[self.rng.usize(..self.pool.len())],
                name: format!("{:03}.bmp", i + 1),
            })
            .collect();
        NewGallery {
            title,
            title_original,
            category: "doujinshi".into(),
            source_filename: format!("synthetic-{}.cbz", self.serial),
            reading_direction: if self.rng.u8(..4) == 0 {
                ReadingDirection::RightToLeft
            } else {
                ReadingDirection::LeftToRight
            },
            posted_at: Some(1_300_000_000_000 + self.rng.i64(0..400_000_000_000)),
            pages,
            tags: tags.into_iter().map(|t| (t, TagSource::FileName)).collect(),
            ..NewGallery::default()
        }
    }
}

/// Fills `db` with `count` synthetic galleries in transactions of `batch`, calling `progress`
/// after each. The page images are stored in `store`.
pub fn fill(
    db: &Db,
    store: &dyn BlobStore,
    count: u64,
    batch: usize,
    seed: u64,
    mut progress: impl FnMut(u64),
) -> Result<(), SynthError> {
    let pool = image_pool(store, 64)?;
    // Galleries are made on a second thread while the first writes the previous batch.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<NewGallery>>(2);
    std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            let vocabulary = TagVocabulary::standard();
            let mut maker = GalleryMaker::new(seed, &vocabulary, pool);
            let mut made = 0;
            while made < count {
                let n = (count - made).min(batch as u64) as usize;
                if tx.send((0..n).map(|_| maker.next(None)).collect()).is_err() {
                    return;
                }
                made += n as u64;
            }
        });
        let mut done = 0;
        for galleries in rx {
            db.galleries().create_many(&galleries)?;
            done += galleries.len() as u64;
            progress(done);
        }
        Ok(())
    })
}

/// Why a synthetic library could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("storing the image pool")]
    Store(#[from] lpfs::Error),
    #[error("writing galleries")]
    Db(#[from] db::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocabulary_is_zipf_like_and_namespaced() {
        let v = TagVocabulary::standard();
        assert!((49_000..=51_000).contains(&v.len()));
        let mut rng = fastrand::Rng::with_seed(1);
        let mut top = 0;
        for _ in 0..10_000 {
            let t = v.sample(&mut rng);
            if t == v.by_rank(0) {
                top += 1;
            }
        }
        // Rank 0 has probability 1/H(50000) ≈ 8.9%.
        assert!((700..1100).contains(&top), "{top}");
    }

    #[test]
    fn galleries_look_real() {
        let v = TagVocabulary::standard();
        let pool: Vec<BlobInfo> = (0..4u32)
            .map(|i| BlobInfo {
                hash: lpfs::BlobHash::of(&i.to_le_bytes()),
                format: ImageFormat::Bmp,
                width: 1,
                height: 1,
                bytes: 1,
            })
            .collect();
        let mut m = GalleryMaker::new(7, &v, &pool);
        for _ in 0..200 {
            let g = m.next(None);
            assert!((10..=400).contains(&g.pages.len()));
            assert!((1..=40).contains(&g.tags.len()));
            assert!(g.title.starts_with("(C"));
        }
        let bmp = bmp(3, 2, 1);
        assert_eq!(&bmp[..2], b"BM");
        assert_eq!(bmp.len(), 54 + 12 * 2);
    }
}
