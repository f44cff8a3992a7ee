//! Thumbnails: a page image scaled to a configured width, as a JPEG without metadata.
//!
//! JPEG pages are decoded by libjpeg-turbo (Mozilla's fork, built from source) at a reduced DCT
//! scale (1/2, 1/4 or 1/8: the smallest that still gives at least the target size), which skips
//! most of the decoding work; PNGs are read row by row and reduced as the rows come, so a huge
//! page is never held whole; other formats are decoded by the `image` crate. The resize is
//! Lanczos3 (`fast_image_resize`). The dimensions are read from the header first: an image over
//! the pixel cap (a decompression bomb) is refused before anything is decoded. What decoding holds
//! at once, across threads, is counted against a [`DecodeBudget`].

use db::ImageFormat;
use fast_image_resize as fr;

/// How thumbnails are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThumbConfig {
    /// Width of a thumbnail in pixels (narrower images are not enlarged).
    pub width: u32,
    /// Taller images (webtoon strips) are cropped to their top, this many times the width.
    pub max_aspect: u32,
    /// JPEG quality, 1–100.
    pub quality: u8,
    /// Images of more pixels than this are refused.
    pub max_pixels: u64,
}

impl Default for ThumbConfig {
    fn default() -> Self {
        Self {
            width: 320,
            max_aspect: 4,
            quality: 82,
            max_pixels: 150_000_000,
        }
    }
}

/// A thumbnail made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

/// Why no thumbnail was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThumbError {
    /// Not decodable by this build (AVIF); the page is fine and served as is.
    #[error("no decoder here for {0:?} images")]
    Unsupported(ImageFormat),
    #[error("{width}×{height} pixels is over the limit of {limit} (thumbnails.max_pixels)")]
    TooLarge { width: u64, height: u64, limit: u64 },
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
}

impl ThumbError {
    /// Whether trying again with the same decoders cannot help (the image is broken or too big),
    /// as opposed to a format this build does not decode.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Unsupported(_))
    }
}

/// An RGB image, 8 bits per channel, rows packed.
struct Rgb {
    pixels: Vec<u8>,
    width: u32,
    height: u32,
}

fn corrupt(e: impl std::fmt::Display) -> ThumbError {
    ThumbError::Corrupt(e.to_string())
}

/// The image's size from its header, when this build decodes its format and it is within the
/// pixel cap (a decompression bomb is refused before anything is decoded).
fn decodable_size(
    bytes: &[u8],
    format: ImageFormat,
    cfg: &ThumbConfig,
) -> Result<(u64, u64), ThumbError> {
    if format == ImageFormat::Avif || format == ImageFormat::Other {
        return Err(ThumbError::Unsupported(format));
    }
    let size = imagesize::blob_size(bytes).map_err(corrupt)?;
    let (w, h) = (size.width as u64, size.height as u64);
    if w == 0 || h == 0 {
        return Err(ThumbError::Corrupt("the image has no pixels".into()));
    }
    if w.saturating_mul(h) > cfg.max_pixels {
        return Err(ThumbError::TooLarge {
            width: w,
            height: h,
            limit: cfg.max_pixels,
        });
    }
    Ok((w, h))
}

/// About how many bytes decoding an image of `format` for a thumbnail holds at once: the
/// scaled output of a JPEG, a few rows and a reduced copy of a PNG read in bands, the whole
/// image (and its RGB copy) for the other formats. What [`DecodeBudget`] counts.
pub fn decode_bytes(bytes: &[u8], format: ImageFormat, cfg: &ThumbConfig) -> u64 {
    let Ok((w, h)) = decodable_size(bytes, format, cfg) else {
        return 0;
    };
    let target = u64::from(cfg.width).min(w).max(1);
    match format {
        ImageFormat::Jpeg => {
            let eighths = [1u64, 2, 4, 8]
                .into_iter()
                .find(|&n| (w * n).div_ceil(8) >= target)
                .unwrap_or(8);
            (w * eighths).div_ceil(8) * (h * eighths).div_ceil(8) * 3
        }
        ImageFormat::Png if !png_interlaced(bytes) => {
            let f = band_factor(w, target);
            w * 8 + (w / f + 1) * (h / f + 1) * 3
        }
        _ => w * h * 7,
    }
}

/// Makes the thumbnail of an image of `format`.
pub fn make(bytes: &[u8], format: ImageFormat, cfg: &ThumbConfig) -> Result<Thumbnail, ThumbError> {
    let (w, _) = decodable_size(bytes, format, cfg)?;
    let target = (cfg.width as u64).min(w).max(1) as u32;
    let rgb = match format {
        ImageFormat::Jpeg => decode_jpeg(bytes, target)?,
        ImageFormat::Png if !png_interlaced(bytes) => decode_png_in_bands(bytes, target)?,
        _ => decode_other(bytes, format, cfg)?,
    };
    let (tw, th, crop_h) = fit(rgb.width, rgb.height, target, cfg.max_aspect);
    let area = (0.0, 0.0, f64::from(rgb.width), crop_h);
    scaled_jpeg(rgb, area, tw, th, cfg.quality)
}

/// A part of an image, as shares of its width and height (0.0–1.0 from the top left).
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
pub struct Crop {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Crop {
    /// The crop clamped into the image, or `None` when nothing of it is left (or it is not a
    /// number).
    pub fn clamped(self) -> Option<Self> {
        let finite = [self.x, self.y, self.w, self.h]
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return None;
        }
        let x = self.x.clamp(0.0, 1.0);
        let y = self.y.clamp(0.0, 1.0);
        let w = self.w.min(1.0 - x);
        let h = self.h.min(1.0 - y);
        (w > 0.005 && h > 0.005).then_some(Self { x, y, w, h })
    }
}

/// A cover cut from an image: the `crop` part of it, scaled to `cfg.width` wide (not enlarged),
/// as a JPEG. JPEGs are decoded at the smallest DCT scale that keeps the part at least that wide.
pub fn crop(
    bytes: &[u8],
    format: ImageFormat,
    crop: Crop,
    cfg: &ThumbConfig,
) -> Result<Thumbnail, ThumbError> {
    let crop = crop
        .clamped()
        .ok_or_else(|| ThumbError::Corrupt("the crop leaves nothing of the image".into()))?;
    let (w, _) = decodable_size(bytes, format, cfg)?;
    // The whole image must be decoded at least this wide for the part to be `cfg.width` wide.
    let part_w = (w as f64 * crop.w).max(1.0);
    let target = (f64::from(cfg.width) / crop.w)
        .ceil()
        .min(w as f64)
        .max(1.0) as u32;
    let rgb = match format {
        ImageFormat::Jpeg => decode_jpeg(bytes, target)?,
        _ => decode_other(bytes, format, cfg)?,
    };
    let (sw, sh) = (f64::from(rgb.width), f64::from(rgb.height));
    let (left, top, cw, ch) = (
        crop.x * sw,
        crop.y * sh,
        (crop.w * sw).max(1.0),
        (crop.h * sh).max(1.0),
    );
    let tw = (f64::from(cfg.width).min(part_w).round() as u32).max(1);
    let th = ((ch * f64::from(tw) / cw).round() as u32)
        .clamp(1, tw.saturating_mul(cfg.max_aspect.max(1)));
    scaled_jpeg(rgb, (left, top, cw, ch), tw, th, cfg.quality)
}

/// The `area` (left, top, width, height in pixels) of `rgb`, scaled by Lanczos3 to `tw`×`th`
/// and encoded as a JPEG.
fn scaled_jpeg(
    rgb: Rgb,
    area: (f64, f64, f64, f64),
    tw: u32,
    th: u32,
    quality: u8,
) -> Result<Thumbnail, ThumbError> {
    let src =
        fr::images::Image::from_vec_u8(rgb.width, rgb.height, rgb.pixels, fr::PixelType::U8x3)
            .map_err(corrupt)?;
    let mut dst = fr::images::Image::new(tw, th, fr::PixelType::U8x3);
    let (left, top, width, height) = area;
    let options = fr::ResizeOptions::new()
        .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3))
        .crop(left, top, width, height);
    fr::Resizer::new()
        .resize(&src, &mut dst, &options)
        .map_err(corrupt)?;
    let jpeg = jpeg_from_rgb(dst.buffer(), tw, th, quality)?;
    Ok(Thumbnail {
        jpeg,
        width: tw,
        height: th,
    })
}

/// Encodes packed RGB pixels as a baseline JPEG (4:2:0), with no metadata.
pub fn jpeg_from_rgb(
    pixels: &[u8],
    width: u32,
    height: u32,
    quality: u8,
) -> Result<Vec<u8>, ThumbError> {
    let expected = width as usize * height as usize * 3;
    if width == 0 || height == 0 || pixels.len() != expected {
        return Err(ThumbError::Corrupt(format!(
            "{} bytes are not {width}×{height} RGB pixels",
            pixels.len()
        )));
    }
    // libjpeg reports errors by unwinding, which `mozjpeg` turns back into a `Result`; a panic
    // that is not an error of libjpeg's is caught the same way rather than taking the caller down.
    std::panic::catch_unwind(|| -> std::io::Result<Vec<u8>> {
        let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        // Baseline Huffman coding with the standard tables: what a thumbnail needs, fast.
        c.set_fastest_defaults();
        c.set_size(width as usize, height as usize);
        c.set_quality(f32::from(quality.clamp(1, 100)));
        c.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
        let mut started = c.start_compress(Vec::with_capacity(expected / 10))?;
        started.write_scanlines(pixels)?;
        started.finish()
    })
    .map_err(|_| ThumbError::Corrupt("the JPEG encoder failed".into()))?
    .map_err(corrupt)
}

/// Thumbnail size for a `w`×`h` source: `target` wide, at most `max_aspect` times as tall (the
/// source's top is kept). Answers (width, height, source rows used).
fn fit(w: u32, h: u32, target: u32, max_aspect: u32) -> (u32, u32, f64) {
    let tw = target.min(w).max(1);
    let full_h = (u64::from(h) * u64::from(tw)).div_ceil(u64::from(w)).max(1);
    let max_h = u64::from(tw) * u64::from(max_aspect.max(1));
    if full_h <= max_h {
        (tw, full_h as u32, f64::from(h))
    } else {
        let rows = (max_h as f64 * f64::from(w) / f64::from(tw)).min(f64::from(h));
        (tw, max_h as u32, rows)
    }
}

fn decode_jpeg(bytes: &[u8], target: u32) -> Result<Rgb, ThumbError> {
    // libjpeg reports errors by unwinding (without the panic hook), which `mozjpeg` turns back
    // into `io::Error`s where it can; whatever still unwinds is a corrupt image, not a crash.
    std::panic::catch_unwind(|| decode_jpeg_scaled(bytes, target))
        .map_err(|_| ThumbError::Corrupt("the JPEG cannot be decoded".into()))?
}

fn decode_jpeg_scaled(bytes: &[u8], target: u32) -> Result<Rgb, ThumbError> {
    let mut d = mozjpeg::Decompress::with_markers(&[])
        .from_mem(bytes)
        .map_err(corrupt)?;
    let (width, _) = d.size();
    // The smallest DCT scale (1/8, 1/4, 1/2) that still leaves at least `target` pixels across:
    // libjpeg then does only that much of the inverse DCT.
    let eighths = [1u8, 2, 4, 8]
        .into_iter()
        .find(|&n| (width * usize::from(n)).div_ceil(8) >= target as usize)
        .unwrap_or(8);
    d.scale(eighths);
    let cmyk = matches!(
        d.color_space(),
        mozjpeg::ColorSpace::JCS_CMYK | mozjpeg::ColorSpace::JCS_YCCK
    );
    let mut started = if cmyk {
        d.to_colorspace(mozjpeg::ColorSpace::JCS_CMYK)
    } else {
        d.rgb()
    }
    .map_err(corrupt)?;
    let (w, h) = (started.width(), started.height());
    let raw: Vec<u8> = started.read_scanlines().map_err(corrupt)?;
    let pixels = if cmyk {
        // Adobe writes CMYK JPEGs inverted: each stored value is 255 minus the ink.
        raw.chunks_exact(4)
            .flat_map(|p| {
                let k = u16::from(p[3]);
                [p[0], p[1], p[2]].map(|c| (u16::from(c) * k / 255) as u8)
            })
            .collect()
    } else {
        raw
    };
    if pixels.len() != w * h * 3 {
        return Err(ThumbError::Corrupt("the JPEG ended early".into()));
    }
    Ok(Rgb {
        pixels,
        width: w as u32,
        height: h as u32,
    })
}

/// Whether a PNG is interlaced (Adam7): its rows come in passes, so it is decoded whole.
fn png_interlaced(bytes: &[u8]) -> bool {
    // The IHDR chunk follows the 8-byte signature; its interlace method is its 13th byte.
    bytes.get(28).is_some_and(|&m| m != 0)
}

/// The factor by which a `w`-wide image is reduced while it is read in bands: as much as still
/// leaves at least twice the thumbnail's width for the Lanczos3 pass that follows.
fn band_factor(w: u64, target: u64) -> u64 {
    (w / (target * 2).max(1)).max(1)
}

/// Decodes a (non-interlaced) PNG row by row, averaging each square of `f`×`f` pixels into one
/// as the rows arrive (transparent pixels over white), so that what is held is a few rows and
/// the reduced image, never the whole: a 12000×12000 RGBA page would be 576 MB whole.
fn decode_png_in_bands(bytes: &[u8], target: u32) -> Result<Rgb, ThumbError> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(corrupt)?;
    let (w, h) = (reader.info().width as usize, reader.info().height as usize);
    let channels = match reader.output_color_type().0 {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(ThumbError::Corrupt(
                "a palette the decoder did not expand".into(),
            ));
        }
    };
    let f = band_factor(w as u64, u64::from(target)) as usize;
    let (rw, rh) = (w.div_ceil(f), h.div_ceil(f));
    let mut sums = vec![0u32; rw * 3];
    let mut counts = vec![0u32; rw];
    let mut pixels = Vec::with_capacity(rw * rh * 3);
    let mut rows_in_band = 0;
    let flush = |sums: &mut Vec<u32>, counts: &mut Vec<u32>, pixels: &mut Vec<u8>| {
        for (i, &n) in counts.iter().enumerate() {
            for c in 0..3 {
                pixels.push((sums[i * 3 + c] / n.max(1)) as u8);
            }
        }
        sums.fill(0);
        counts.fill(0);
    };
    while let Some(row) = reader.next_row().map_err(corrupt)? {
        let data = row.data();
        if data.len() < w * channels {
            return Err(ThumbError::Corrupt("a row of the image is short".into()));
        }
        for x in 0..w {
            let p = &data[x * channels..(x + 1) * channels];
            let (rgb, a) = match channels {
                1 => ([p[0]; 3], 255),
                2 => ([p[0]; 3], p[1]),
                3 => ([p[0], p[1], p[2]], 255),
                _ => ([p[0], p[1], p[2]], p[3]),
            };
            let a = u32::from(a);
            let cell = x / f;
            for c in 0..3 {
                sums[cell * 3 + c] += (u32::from(rgb[c]) * a + 255 * (255 - a)) / 255;
            }
            counts[cell] += 1;
        }
        rows_in_band += 1;
        if rows_in_band == f {
            flush(&mut sums, &mut counts, &mut pixels);
            rows_in_band = 0;
        }
    }
    if rows_in_band > 0 {
        flush(&mut sums, &mut counts, &mut pixels);
    }
    if pixels.len() != rw * rh * 3 {
        return Err(ThumbError::Corrupt("the image ended early".into()));
    }
    Ok(Rgb {
        pixels,
        width: rw as u32,
        height: rh as u32,
    })
}

/// How much memory thumbnail decoding may hold at once, across every thread: a decode that
/// would go past it waits for others to finish (one that needs more than all of it runs alone).
#[derive(Debug)]
pub struct DecodeBudget {
    cap: u64,
    used: std::sync::Mutex<u64>,
    freed: std::sync::Condvar,
}

impl DecodeBudget {
    pub fn new(cap: u64) -> Self {
        Self {
            cap,
            used: std::sync::Mutex::new(0),
            freed: std::sync::Condvar::new(),
        }
    }

    /// Waits until `bytes` fit, and holds them until the answer is dropped.
    pub fn hold(&self, bytes: u64) -> Held<'_> {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *used > 0 && *used + bytes > self.cap {
            used = self
                .freed
                .wait(used)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *used += bytes;
        Held {
            budget: self,
            bytes,
        }
    }

    /// Bytes held now.
    pub fn in_use(&self) -> u64 {
        *self
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Memory held from a [`DecodeBudget`]; given back when dropped.
#[derive(Debug)]
pub struct Held<'a> {
    budget: &'a DecodeBudget,
    bytes: u64,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        let mut used = self
            .budget
            .used
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *used -= self.bytes;
        self.budget.freed.notify_all();
    }
}

fn decode_other(bytes: &[u8], format: ImageFormat, cfg: &ThumbConfig) -> Result<Rgb, ThumbError> {
    let f = match format {
        ImageFormat::Png => image::ImageFormat::Png,
        ImageFormat::Gif => image::ImageFormat::Gif,
        ImageFormat::Webp => image::ImageFormat::WebP,
        ImageFormat::Bmp => image::ImageFormat::Bmp,
        other => return Err(ThumbError::Unsupported(other)),
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), f);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(cfg.max_pixels.saturating_mul(8));
    reader.limits(limits);
    let decoded = reader.decode().map_err(corrupt)?;
    let (width, height) = (decoded.width(), decoded.height());
    let pixels = if decoded.color().has_alpha() {
        // Transparent pixels over white, as a page is shown.
        decoded
            .into_rgba8()
            .pixels()
            .flat_map(|p| {
                let a = u16::from(p.0[3]);
                [p.0[0], p.0[1], p.0[2]].map(|c| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8)
            })
            .collect()
    } else {
        decoded.into_rgb8().into_raw()
    };
    Ok(Rgb {
        pixels,
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::{Crop, ThumbConfig, crop, fit, jpeg_from_rgb};
    use db::ImageFormat;

    #[test]
    fn a_cropped_cover_is_the_part_asked_for() {
        // Left half black, right half white: the right half alone is white throughout.
        let (w, h) = (400u32, 300u32);
        let pixels: Vec<u8> = (0..w * h)
            .flat_map(|i| if i % w < w / 2 { [0u8; 3] } else { [255u8; 3] })
            .collect();
        let jpeg = jpeg_from_rgb(&pixels, w, h, 95).unwrap();
        let cfg = ThumbConfig {
            width: 100,
            ..ThumbConfig::default()
        };
        let part = Crop {
            x: 0.6,
            y: 0.0,
            w: 0.4,
            h: 1.0,
        };
        let t = crop(&jpeg, ImageFormat::Jpeg, part, &cfg).unwrap();
        assert_eq!((t.width, t.height), (100, 188));
        let out = super::decode_jpeg(&t.jpeg, t.width).unwrap();
        assert_eq!((out.width, out.height), (t.width, t.height));
        let darkest = out.pixels.iter().copied().min().unwrap();
        assert!(darkest > 200, "the crop took in the black half: {darkest}");
        // Nothing left, or not numbers: refused, not a panic.
        let none = Crop {
            x: 1.0,
            y: 0.0,
            w: 0.5,
            h: 0.5,
        };
        assert!(crop(&jpeg, ImageFormat::Jpeg, none, &cfg).is_err());
        let nan = Crop {
            x: f64::NAN,
            y: 0.0,
            w: 0.5,
            h: 0.5,
        };
        assert!(crop(&jpeg, ImageFormat::Jpeg, nan, &cfg).is_err());
        assert!(crop(b"not an image", ImageFormat::Jpeg, part, &cfg).is_err());
    }

    #[test]
    fn thumbnails_keep_the_aspect_and_crop_strips() {
        assert_eq!(fit(1000, 1400, 320, 4), (320, 448, 1400.0));
        // Narrower than the target: not enlarged.
        assert_eq!(fit(200, 300, 320, 4), (200, 300, 300.0));
        // A webtoon strip: the top 4:1 of it.
        let (w, h, rows) = fit(800, 20000, 320, 4);
        assert_eq!((w, h), (320, 1280));
        assert!((rows - 3200.0).abs() < 1e-9);
        assert_eq!(fit(1, 1, 320, 4), (1, 1, 1.0));
    }
}
