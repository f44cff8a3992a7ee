//! Test fixtures made on the fly: images, and archives of every kind LittlePanda reads. RAR has
//! no free compressor, so RAR4 and RAR5 archives are written here with stored (uncompressed)
//! entries, following RARLAB's format descriptions; the UnRAR library reads them like any other.

#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::path::Path;
use std::sync::Arc;

use db::Db;
use library::import::Importer;

/// A library in a temporary directory.
pub struct Lib {
    pub dir: tempfile::TempDir,
    pub store: Arc<lpfs::Store>,
    pub db: Arc<Db>,
    pub importer: Importer,
}

pub fn library() -> Lib {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(lpfs::Store::open(dir.path().join("lpfs"), lpfs::Options::default()).unwrap());
    let db = Arc::new(Db::open_sqlite(&dir.path().join("db.sqlite")).unwrap());
    let importer = Importer::new(store.clone(), db.clone());
    Lib {
        dir,
        store,
        db,
        importer,
    }
}

/// An RGB test pattern, different for each `seed`.
fn pattern(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            v.extend_from_slice(&[
                (x.wrapping_mul(7).wrapping_add(seed * 31)) as u8,
                (y.wrapping_mul(5).wrapping_add(seed * 17)) as u8,
                ((x ^ y).wrapping_add(seed)) as u8,
            ]);
        }
    }
    v
}

pub fn jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    library::import::thumb::jpeg_from_rgb(&pattern(w, h, seed), w, h, 85).unwrap()
}

pub fn png(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let img = image::RgbImage::from_raw(w, h, pattern(w, h, seed)).unwrap();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG that claims to be `w`×`h` (its header only: a decompression bomb's shape).
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&ihdr);
    out.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(b"IDAT");
    out.extend_from_slice(&crc32(b"IDAT").to_be_bytes());
    out
}

pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip of `(name, bytes)` entries, deflated.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        w.start_file(
            *name,
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A zip whose entry names are raw bytes in a legacy code page (no UTF-8 flag), as Japanese
/// Windows tools write them: written with ASCII stand-ins of the same length, then swapped.
pub fn zip_with_raw_names(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let stand_ins: Vec<String> = entries
        .iter()
        .enumerate()
        .map(|(i, (raw, _))| {
            let mut s = format!("{i:04}");
            while s.len() < raw.len() {
                s.push('_');
            }
            s
        })
        .collect();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (stand_in, (_, data)) in stand_ins.iter().zip(entries) {
        w.start_file(
            stand_in.as_str(),
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored),
        )
        .unwrap();
        w.write_all(data).unwrap();
    }
    let mut bytes = w.finish().unwrap().into_inner();
    for (stand_in, (raw, _)) in stand_ins.iter().zip(entries) {
        assert_eq!(stand_in.len(), raw.len());
        let mut at = 0;
        while let Some(i) = find(&bytes[at..], stand_in.as_bytes()) {
            bytes[at + i..at + i + raw.len()].copy_from_slice(raw);
            at += i + raw.len();
        }
    }
    bytes
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn sevenz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = sevenz_rust2::ArchiveWriter::new(Cursor::new(Vec::new())).unwrap();
    for (name, data) in entries {
        w.push_archive_entry(
            sevenz_rust2::ArchiveEntry::new_file(name),
            Some(Cursor::new(data.to_vec())),
        )
        .unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn vint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A RAR5 block: CRC32, size, then the header fields `body` (from the type on), then `data`.
fn rar5_block(body: &[u8], data: &[u8], out: &mut Vec<u8>) {
    let mut size = Vec::new();
    vint(body.len() as u64, &mut size);
    let mut crc_input = size.clone();
    crc_input.extend_from_slice(body);
    out.extend_from_slice(&crc32(&crc_input).to_le_bytes());
    out.extend_from_slice(&crc_input);
    out.extend_from_slice(data);
}

/// A RAR5 archive of stored entries.
pub fn rar5(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = b"Rar!\x1a\x07\x01\x00".to_vec();
    // Main archive header: type 1, no header flags, no archive flags.
    rar5_block(&[1, 0, 0], &[], &mut out);
    for (name, data) in entries {
        let mut h = Vec::new();
        vint(2, &mut h); // file header
        vint(0x0002, &mut h); // a data area follows
        vint(data.len() as u64, &mut h); // data size
        vint(0x0004, &mut h); // file flags: CRC32 present
        vint(data.len() as u64, &mut h); // unpacked size
        vint(0o100644, &mut h); // attributes
        h.extend_from_slice(&crc32(data).to_le_bytes());
        vint(0, &mut h); // compression: version 0, stored
        vint(1, &mut h); // host OS: Unix
        vint(name.len() as u64, &mut h);
        h.extend_from_slice(name.as_bytes());
        rar5_block(&h, data, &mut out);
    }
    // End of archive.
    rar5_block(&[5, 0, 0], &[], &mut out);
    out
}

/// A RAR 2.9–4.x archive of stored entries (ASCII names).
pub fn rar4(entries: &[(&str, &[u8])]) -> Vec<u8> {
    fn block(fields: &[u8], out: &mut Vec<u8>) {
        // `fields` starts at HEAD_TYPE; HEAD_CRC is the low 16 bits of its CRC32.
        out.extend_from_slice(&(crc32(fields) as u16).to_le_bytes());
        out.extend_from_slice(fields);
    }
    let mut out = b"Rar!\x1a\x07\x00".to_vec();
    let mut main = vec![0x73];
    main.extend_from_slice(&0u16.to_le_bytes()); // flags
    main.extend_from_slice(&13u16.to_le_bytes()); // header size
    main.extend_from_slice(&[0; 6]); // reserved
    block(&main, &mut out);
    for (name, data) in entries {
        let mut f = vec![0x74];
        f.extend_from_slice(&0x8000u16.to_le_bytes()); // LONG_BLOCK
        f.extend_from_slice(&((32 + name.len()) as u16).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes()); // packed size
        f.extend_from_slice(&(data.len() as u32).to_le_bytes()); // unpacked size
        f.push(3); // host OS: Unix
        f.extend_from_slice(&crc32(data).to_le_bytes());
        f.extend_from_slice(&0x5A21_0000u32.to_le_bytes()); // DOS time
        f.push(20); // version needed
        f.push(0x30); // method: store
        f.extend_from_slice(&(name.len() as u16).to_le_bytes());
        f.extend_from_slice(&0o100644u32.to_le_bytes());
        f.extend_from_slice(name.as_bytes());
        block(&f, &mut out);
        out.extend_from_slice(data);
    }
    let mut end = vec![0x7B];
    end.extend_from_slice(&0x4000u16.to_le_bytes());
    end.extend_from_slice(&7u16.to_le_bytes());
    block(&end, &mut out);
    out
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, bytes).unwrap();
    p
}
