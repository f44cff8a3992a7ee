//! Finding what to import below a path (archives by content, folders of images), and reading a
//! folder as a source.

use super::*;

/// Whether a directory has image files directly in it (judged by their first bytes).
pub(super) fn has_images(dir: &Path) -> Result<bool, ImportError> {
    let io_err = |e| ImportError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type().map_err(io_err)?.is_file()
            || is_junk(&name)
            || surely_not_an_image(&name)
        {
            continue;
        }
        if head(&entry.path(), format::SNIFF_LEN)
            .ok()
            .and_then(|h| format::image_format(&h))
            .is_some()
        {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(super) const MAX_DEPTH: usize = 16;

pub(super) fn discover_into(
    path: &Path,
    depth: usize,
    out: &mut Vec<Source>,
) -> Result<(), ImportError> {
    let io_err = |e| ImportError::Io {
        path: path.to_path_buf(),
        source: e,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io_err)?;
    if meta.is_file() {
        if meta.len() == 0 {
            return Err(ImportError::NotAnArchive("the file is empty".into()));
        }
        let head = head(path, ARCHIVE_SNIFF_LEN).map_err(io_err)?;
        return match format::archive_kind(&head) {
            Some(kind) => {
                out.push(Source::Archive {
                    path: path.to_path_buf(),
                    kind,
                });
                Ok(())
            }
            None => Err(ImportError::NotAnArchive(path.display().to_string())),
        };
    }
    if !meta.is_dir() {
        return Err(ImportError::NotAnArchive(format!(
            "{} is neither a file nor a folder (links are not followed)",
            path.display()
        )));
    }
    if has_images(path)? {
        out.push(Source::Folder {
            path: path.to_path_buf(),
        });
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let mut children: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io_err)?
        .filter_map(|e| e.ok())
        .filter(|e| !is_junk(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    children.sort_by(|a, b| natural::compare(&a.to_string_lossy(), &b.to_string_lossy()));
    for child in children {
        let Ok(meta) = std::fs::symlink_metadata(&child) else {
            continue;
        };
        if meta.is_dir() {
            discover_into(&child, depth + 1, out)?;
        } else if meta.is_file()
            && meta.len() > 0
            && let Ok(h) = head(&child, ARCHIVE_SNIFF_LEN)
            && let Some(kind) = format::archive_kind(&h)
        {
            out.push(Source::Archive { path: child, kind });
        }
    }
    Ok(())
}

/// Reads a folder gallery: its files and those of its subfolders (chapters), links skipped.
pub(super) fn read_folder(
    root: &Path,
    limits: &Limits,
    v: &mut dyn Visitor,
) -> Result<(), ImportError> {
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    let mut count = 0usize;
    while let Some((dir, prefix, depth)) = stack.pop() {
        let io_err = |e| ImportError::Io {
            path: dir.clone(),
            source: e,
        };
        for entry in std::fs::read_dir(&dir).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            let kind = entry.file_type().map_err(io_err)?;
            if kind.is_dir() && depth < MAX_DEPTH && !is_junk(&format!("{name}/x")) {
                stack.push((entry.path(), format!("{name}/"), depth + 1));
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            count += 1;
            if count > limits.max_entries {
                return Err(ImportError::TooBig(format!(
                    "more than {} files",
                    limits.max_entries
                )));
            }
            let size = entry.metadata().map_err(io_err)?.len();
            let Want::Read(cap) = v.want(&name, size) else {
                continue;
            };
            let path = entry.path();
            let mut data = Vec::with_capacity(size.min(cap) as usize);
            std::fs::File::open(&path)
                .and_then(|f| f.take(cap + 1).read_to_end(&mut data))
                .map_err(|e| ImportError::Io {
                    path: path.clone(),
                    source: e,
                })?;
            if data.len() as u64 > cap {
                return Err(ImportError::TooBig(format!(
                    "{name} is larger than {cap} bytes (import.max_page_size)"
                )));
            }
            v.take(name, data)?;
        }
    }
    Ok(())
}
