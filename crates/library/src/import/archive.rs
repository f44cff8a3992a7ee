//! Reading archives in place, one entry at a time: zip/cbz, rar/cbr (RAR4 and RAR5), 7z/cb7 and
//! tar/cbt (plain or gzip). Nothing is extracted to disk; an entry's bytes are read into memory
//! only when the caller wants it (a page or a metadata file), under caps that stop zip bombs.
//!
//! Entry names are only names here: `../x`, `/etc/x` or `C:\x` are labels of pages, never paths
//! that anything is written to, and links are skipped, never followed.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use super::{ImportError, Limits};
use crate::format::ArchiveKind;

/// What the caller does with an entry, from its name and declared size.
pub(crate) enum Want {
    Skip,
    /// Read it, refusing more than this many bytes.
    Read(u64),
}

/// The sink of an archive's wanted entries, in archive order.
pub(crate) trait Visitor {
    fn want(&mut self, name: &str, declared_size: u64) -> Want;
    fn take(&mut self, name: String, data: Vec<u8>) -> Result<(), ImportError>;
}

/// Counts what has been decompressed, and refuses more than the caps allow.
struct Budget<'a> {
    limits: &'a Limits,
    archive_bytes: u64,
    used: u64,
}

impl Budget<'_> {
    fn charge(&mut self, n: u64, entry: &str) -> Result<(), ImportError> {
        self.used += n;
        if self.used > self.limits.max_total_bytes {
            return Err(ImportError::TooBig(format!(
                "it expands to more than {} bytes (at {entry:?}); the cap is import.max_total_size",
                self.limits.max_total_bytes
            )));
        }
        let allowed = self
            .archive_bytes
            .saturating_mul(self.limits.max_ratio)
            .max(self.limits.ratio_floor_bytes);
        if self.used > allowed {
            return Err(ImportError::TooBig(format!(
                "it expands more than {}× its size (at {entry:?}): a zip bomb? The cap is import.max_ratio",
                self.limits.max_ratio
            )));
        }
        Ok(())
    }
}

/// Reads all of `r` (an entry), charging the budget; more than `cap` bytes is an error.
fn read_entry(
    r: &mut dyn Read,
    cap: u64,
    budget: &mut Budget<'_>,
    name: &str,
    declared: u64,
) -> Result<Vec<u8>, ImportError> {
    let mut out = Vec::with_capacity(declared.min(cap).min(64 << 20) as usize);
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(entry_error(name, &e)),
        };
        budget.charge(n as u64, name)?;
        if out.len() as u64 + n as u64 > cap {
            return Err(ImportError::TooBig(format!(
                "entry {name:?} is larger than {cap} bytes (import.max_page_size)"
            )));
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Reads and drops the rest of `r`, charging the budget (solid and streamed formats must
/// decompress what they skip).
fn drain(r: &mut dyn Read, budget: &mut Budget<'_>, name: &str) -> Result<(), ImportError> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => budget.charge(n as u64, name)?,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(entry_error(name, &e)),
        }
    }
}

fn entry_error(name: &str, e: &dyn std::fmt::Display) -> ImportError {
    ImportError::Corrupt {
        entry: name.to_string(),
        reason: e.to_string(),
    }
}

/// Reads the archive at `path`, handing wanted entries to `v` in archive order.
pub(crate) fn read(
    path: &Path,
    kind: ArchiveKind,
    limits: &Limits,
    v: &mut dyn Visitor,
) -> Result<(), ImportError> {
    let io_err = |e: io::Error| ImportError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let file = File::open(path).map_err(io_err)?;
    let archive_bytes = file.metadata().map_err(io_err)?.len();
    let mut budget = Budget {
        limits,
        archive_bytes,
        used: 0,
    };
    match kind {
        ArchiveKind::Zip => read_zip(file, &mut budget, v),
        ArchiveKind::Tar => read_tar(BufReader::new(file), &mut budget, v),
        ArchiveKind::TarGz => read_tar(
            flate2::read::MultiGzDecoder::new(BufReader::new(file)),
            &mut budget,
            v,
        ),
        ArchiveKind::SevenZip => read_7z(file, &mut budget, v),
        ArchiveKind::Rar => read_rar(path, &mut budget, v),
    }
}

// ---- zip -----------------------------------------------------------------------------------------

/// Decodes zip entry names: UTF-8 when they all are (the UTF-8 flag, or tools that set none but
/// wrote UTF-8); otherwise the legacy code page the names look like (Shift_JIS/CP932 from
/// Japanese Windows, GBK, EUC-KR, Big5), falling back to CP437 as the zip format specifies.
fn zip_names(raw: &[Vec<u8>], cp437: &[String]) -> Vec<String> {
    if raw.iter().all(|n| std::str::from_utf8(n).is_ok()) {
        return raw
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    for n in raw.iter().filter(|n| !n.is_ascii()) {
        detector.feed(n, false);
        detector.feed(b" ", false);
    }
    detector.feed(b"", true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Deny);
    let cjk = [
        encoding_rs::SHIFT_JIS,
        encoding_rs::GBK,
        encoding_rs::GB18030,
        encoding_rs::EUC_KR,
        encoding_rs::BIG5,
        encoding_rs::EUC_JP,
    ];
    raw.iter()
        .zip(cp437)
        .map(|(n, fallback)| {
            if let Ok(s) = std::str::from_utf8(n) {
                s.to_string()
            } else if cjk.contains(&encoding) {
                encoding.decode_without_bom_handling(n).0.into_owned()
            } else {
                fallback.clone()
            }
        })
        .collect()
}

fn zip_error(e: zip::result::ZipError) -> ImportError {
    match e {
        zip::result::ZipError::UnsupportedArchive(m) if m.to_lowercase().contains("password") => {
            ImportError::Encrypted("an entry needs a password".into())
        }
        zip::result::ZipError::Io(e) => ImportError::CorruptArchive(e.to_string()),
        other => ImportError::CorruptArchive(other.to_string()),
    }
}

fn read_zip(file: File, budget: &mut Budget<'_>, v: &mut dyn Visitor) -> Result<(), ImportError> {
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_error)?;
    if zip.len() > budget.limits.max_entries {
        return Err(ImportError::TooBig(format!(
            "{} entries (the cap is {})",
            zip.len(),
            budget.limits.max_entries
        )));
    }
    let mut raw = Vec::with_capacity(zip.len());
    let mut cp437 = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(zip_error)?;
        raw.push(f.name_raw().to_vec());
        cp437.push(f.name().map_or_else(
            |_| String::from_utf8_lossy(f.name_raw()).into_owned(),
            |n| n.into_owned(),
        ));
    }
    let names = zip_names(&raw, &cp437);
    for (i, name) in names.into_iter().enumerate() {
        let (declared, compressed, skip) = {
            let f = zip.by_index_raw(i).map_err(zip_error)?;
            let skip = f.is_dir() || f.is_symlink();
            if !skip && f.encrypted() {
                return Err(ImportError::Encrypted(format!(
                    "entry {name:?} needs a password"
                )));
            }
            (f.size(), f.compressed_size(), skip)
        };
        if skip {
            continue;
        }
        let Want::Read(cap) = v.want(&name, declared) else {
            continue;
        };
        if declared > cap {
            return Err(ImportError::TooBig(format!(
                "entry {name:?} is {declared} bytes, more than {cap} (import.max_page_size)"
            )));
        }
        let data = {
            let mut f = zip.by_index(i).map_err(|e| match zip_error(e) {
                ImportError::CorruptArchive(reason) => ImportError::Corrupt {
                    entry: name.clone(),
                    reason,
                },
                other => other,
            })?;
            // Per entry, too: a small entry that claims to expand hugely is refused as it grows.
            let entry_cap = compressed
                .saturating_mul(budget.limits.max_ratio)
                .max(budget.limits.ratio_floor_bytes)
                .min(cap);
            read_entry(&mut f, entry_cap, budget, &name, declared)?
        };
        v.take(name, data)?;
    }
    Ok(())
}

// ---- tar -----------------------------------------------------------------------------------------

fn read_tar(r: impl Read, budget: &mut Budget<'_>, v: &mut dyn Visitor) -> Result<(), ImportError> {
    let mut archive = tar::Archive::new(r);
    let entries = archive
        .entries()
        .map_err(|e| ImportError::CorruptArchive(e.to_string()))?;
    let mut count = 0usize;
    for entry in entries {
        let mut entry = entry.map_err(|e| ImportError::CorruptArchive(e.to_string()))?;
        count += 1;
        if count > budget.limits.max_entries {
            return Err(ImportError::TooBig(format!(
                "more than {} entries",
                budget.limits.max_entries
            )));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let declared = entry.header().size().unwrap_or(0);
        // Only regular files; links and devices are names we do not follow.
        if !matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            drain(&mut entry, budget, &name)?;
            continue;
        }
        match v.want(&name, declared) {
            Want::Skip => drain(&mut entry, budget, &name)?,
            Want::Read(cap) => {
                let data = read_entry(&mut entry, cap, budget, &name, declared)?;
                if (data.len() as u64) < declared {
                    return Err(ImportError::Corrupt {
                        entry: name,
                        reason: "the archive ends inside this entry".into(),
                    });
                }
                v.take(name, data)?;
            }
        }
    }
    Ok(())
}

// ---- 7z ------------------------------------------------------------------------------------------

fn sevenz_error(e: sevenz_rust2::Error) -> ImportError {
    let text = e.to_string();
    if matches!(
        e,
        sevenz_rust2::Error::PasswordRequired | sevenz_rust2::Error::MaybeBadPassword(_)
    ) || text.to_lowercase().contains("password")
    {
        ImportError::Encrypted("the archive needs a password".into())
    } else {
        ImportError::CorruptArchive(text)
    }
}

fn read_7z(file: File, budget: &mut Budget<'_>, v: &mut dyn Visitor) -> Result<(), ImportError> {
    let mut reader =
        sevenz_rust2::ArchiveReader::new(BufReader::new(file), sevenz_rust2::Password::empty())
            .map_err(sevenz_error)?;
    if reader.archive().files.len() > budget.limits.max_entries {
        return Err(ImportError::TooBig(format!(
            "{} entries (the cap is {})",
            reader.archive().files.len(),
            budget.limits.max_entries
        )));
    }
    // The closure's errors must be the crate's; ours wait here.
    let mut failure: Option<ImportError> = None;
    let result = reader.for_each_entries(|entry, r| {
        if entry.is_directory() {
            return Ok(true);
        }
        let name = entry.name().to_string();
        let declared = entry.size();
        let outcome = match v.want(&name, declared) {
            Want::Skip => drain(r, budget, &name),
            Want::Read(cap) => {
                read_entry(r, cap, budget, &name, declared).and_then(|data| v.take(name, data))
            }
        };
        match outcome {
            Ok(()) => Ok(true),
            Err(e) => {
                failure = Some(e);
                Ok(false)
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    result.map_err(sevenz_error)
}

// ---- rar -----------------------------------------------------------------------------------------

fn rar_error(e: unrar::error::UnrarError) -> ImportError {
    use unrar::error::Code;
    match e.code {
        Code::MissingPassword | Code::BadPassword => {
            ImportError::Encrypted("the archive needs a password".into())
        }
        _ => ImportError::CorruptArchive(e.to_string()),
    }
}

fn read_rar(path: &Path, budget: &mut Budget<'_>, v: &mut dyn Visitor) -> Result<(), ImportError> {
    let mut archive = unrar::Archive::new(path)
        .open_for_processing()
        .map_err(rar_error)?;
    let mut count = 0usize;
    while let Some(header) = archive.read_header().map_err(rar_error)? {
        count += 1;
        if count > budget.limits.max_entries {
            return Err(ImportError::TooBig(format!(
                "more than {} entries",
                budget.limits.max_entries
            )));
        }
        let entry = header.entry();
        let name = entry.filename.to_string_lossy().replace('\\', "/");
        let declared = entry.unpacked_size;
        if entry.is_encrypted() {
            return Err(ImportError::Encrypted(format!(
                "entry {name:?} needs a password"
            )));
        }
        let wanted = if entry.is_file() {
            v.want(&name, declared)
        } else {
            Want::Skip
        };
        archive = match wanted {
            Want::Skip => header.skip().map_err(rar_error)?,
            Want::Read(cap) => {
                if declared > cap {
                    return Err(ImportError::TooBig(format!(
                        "entry {name:?} is {declared} bytes, more than {cap} (import.max_page_size)"
                    )));
                }
                let (data, rest) = header.read().map_err(|e| ImportError::Corrupt {
                    entry: name.clone(),
                    reason: rar_error(e).to_string(),
                })?;
                budget.charge(data.len() as u64, &name)?;
                v.take(name, data)?;
                rest
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::zip_names;

    #[test]
    fn legacy_zip_names_are_decoded() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("第1話/画像０１.jpg");
        let (sjis2, _, _) = encoding_rs::SHIFT_JIS.encode("第1話/表紙のイラスト.jpg");
        let raw = vec![sjis.to_vec(), sjis2.to_vec(), b"plain.jpg".to_vec()];
        let cp437 = vec!["x".into(), "y".into(), "plain.jpg".into()];
        assert_eq!(
            zip_names(&raw, &cp437),
            [
                "第1話/画像０１.jpg",
                "第1話/表紙のイラスト.jpg",
                "plain.jpg"
            ]
        );
        let (gbk, _, _) = encoding_rs::GBK.encode("第一章/图片说明文字.jpg");
        let (gbk2, _, _) = encoding_rs::GBK.encode("第一章/这是封面图片.jpg");
        assert_eq!(
            zip_names(&[gbk.to_vec(), gbk2.to_vec()], &["x".into(), "y".into()]),
            ["第一章/图片说明文字.jpg", "第一章/这是封面图片.jpg"]
        );
        let (kr, _, _) = encoding_rs::EUC_KR.encode("제1화/표지 그림입니다.jpg");
        assert_eq!(
            zip_names(&[kr.to_vec()], &["x".into()]),
            ["제1화/표지 그림입니다.jpg"]
        );
        // Western bytes that are not UTF-8 take the zip format's own CP437.
        assert_eq!(
            zip_names(&[b"caf\x82.jpg".to_vec()], &["café.jpg".into()]),
            ["café.jpg"]
        );
    }
}
