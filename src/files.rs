//! Reading policies and data files from disk, with the size limits checked before reading: the
//! one place outside the command line that touches the file system.
//!
//! [`crate::Policy::from_path`] and [`crate::Policy::load_entities_from_path`] use it, and so
//! does the `casepol` binary, so a library user and the command line read the same files the
//! same way and refuse the same ones with the same words.

use crate::diagnostic::Sources;
use crate::limits::{self, MAX_POLICY_BYTES, MAX_POLICY_FILES, MAX_POLICY_FILE_BYTES};
use std::path::{Path, PathBuf};

/// A file that could not be read: missing, unreadable, a directory where a file belongs, over
/// its size limit, or not UTF-8. The message names the file and says what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    message: String,
    path: PathBuf,
    #[source]
    io: Option<std::io::Error>,
}

impl ReadError {
    #[cold]
    fn new(path: &Path, message: String) -> ReadError {
        ReadError {
            message,
            path: path.to_path_buf(),
            io: None,
        }
    }

    #[cold]
    fn io(path: &Path, what: &str, e: std::io::Error) -> ReadError {
        ReadError {
            message: format!("cannot read {what}`{}`: {e}", path.display()),
            path: path.to_path_buf(),
            io: Some(e),
        }
    }

    /// The file or directory the error is about.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where the first invalid UTF-8 sequence of `bytes` is: its one-based line and column (in
/// characters, counted over the valid prefix, as every line and column casepol shows is) and
/// its first byte.
pub fn utf8_position(bytes: &[u8], e: &std::str::Utf8Error) -> (usize, usize, u8) {
    let valid = e.valid_up_to();
    // INVARIANT: `bytes[..valid]` is valid UTF-8, by the definition of `valid_up_to`.
    let prefix = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
    let (line, column) = crate::json_pos::Lines::new(prefix).line_col(valid);
    (line, column, bytes.get(valid).copied().unwrap_or(0))
}

/// Reads a UTF-8 text file of at most `limit` bytes; `what` names its content in the error
/// ("a policy file", "an entities file"). The size is checked before reading, so an oversized
/// file is never loaded, and the read is bounded even if the file grows meanwhile.
pub fn read_text(path: &Path, limit: usize, what: &str) -> Result<String, ReadError> {
    if path.is_dir() {
        return Err(ReadError::new(
            path,
            format!(
                "`{}` is a directory, but a file is expected here",
                path.display()
            ),
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| ReadError::io(path, "", e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > limit as u64 {
        return Err(ReadError::new(
            path,
            format!(
                "`{}` is {}, more than the limit of {} for {what}",
                path.display(),
                limits::bytes(usize::try_from(size).unwrap_or(usize::MAX)),
                limits::bytes(limit)
            ),
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, (limit as u64).saturating_add(1)),
        &mut bytes,
    )
    .map_err(|e| ReadError::io(path, "", e))?;
    if bytes.len() > limit {
        return Err(ReadError::new(
            path,
            format!(
                "`{}` is more than the limit of {} for {what}",
                path.display(),
                limits::bytes(limit)
            ),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let (line, column, byte) = utf8_position(e.as_bytes(), &e.utf8_error());
        ReadError::new(
            path,
            format!(
                "`{}` is not valid UTF-8: byte 0x{byte:02X} at line {line}, column {column}; save it as UTF-8",
                path.display()
            ),
        )
    })
}

/// The name of the file, in any directory, that lists (in `.gitignore` syntax) what casepol
/// skips when it walks a directory, besides what `.gitignore` files list.
pub const IGNORE_FILE: &str = ".casepolignore";

/// The one rule by which every command reads a directory (docs/data-formats.md, "Directories"):
/// the files under `dir` that `wanted` accepts, sub-directories included, sorted by path.
/// Entries whose names start with `.` are skipped; so is whatever a `.gitignore` or
/// [`IGNORE_FILE`] inside `dir` (at any depth) excludes, as git reads them (whether or not
/// `dir` is in a git repository; ignore files above `dir` are not read, so a directory named
/// on the command line is read whole unless its own ignore files say otherwise). Symbolic
/// links are not followed. More than `limit` wanted files is an error, found while walking,
/// and so is a directory deeper than [`limits::MAX_WALK_DEPTH`] below `dir`; `what` names the
/// files and their limit in that error ("`.casepol` files, the limit for one policy").
pub fn walk(
    dir: &Path,
    wanted: impl Fn(&Path) -> bool,
    limit: usize,
    what: &str,
) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .hidden(true)
        .git_ignore(true)
        .require_git(false)
        .parents(false)
        .add_custom_ignore_filename(IGNORE_FILE)
        .follow_links(false)
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| {
            ReadError::new(
                dir,
                format!("cannot read directory `{}`: {e}", dir.display()),
            )
        })?;
        if entry.depth() > limits::MAX_WALK_DEPTH {
            return Err(ReadError::new(
                dir,
                format!(
                    "directory `{}` is nested more than {} levels deep, the limit for a walk",
                    dir.display(),
                    limits::MAX_WALK_DEPTH
                ),
            ));
        }
        if !entry.file_type().is_some_and(|t| t.is_file()) || !wanted(entry.path()) {
            continue;
        }
        if files.len() == limit {
            return Err(ReadError::new(
                dir,
                format!(
                    "directory `{}` holds more than {limit} {what}",
                    dir.display()
                ),
            ));
        }
        files.push(entry.into_path());
    }
    files.sort();
    Ok(files)
}

/// Whether `path` names a policy file: its extension is `.casepol`.
pub fn is_policy_file(path: &Path) -> bool {
    path.extension().is_some_and(|x| x == "casepol")
}

/// Reads one policy: a file, or every `.casepol` file that [`walk`] finds in a directory (sorted
/// by path, sub-directories included). A directory of more than [`MAX_POLICY_FILES`] files, or
/// of more than [`MAX_POLICY_BYTES`] together, is refused before any file is read; each file is
/// limited to [`MAX_POLICY_FILE_BYTES`]. Each file is named in the sources by its path.
pub fn read_policy(path: &Path) -> Result<Sources, ReadError> {
    let mut sources = Sources::new();
    if !path.is_dir() {
        let text = read_text(path, MAX_POLICY_FILE_BYTES, "a policy file")?;
        sources.add(path.display().to_string(), text);
        return Ok(sources);
    }
    let files = walk(
        path,
        is_policy_file,
        MAX_POLICY_FILES,
        "`.casepol` files, the limit for one policy",
    )?;
    let total = files.iter().fold(0u64, |total, p| {
        total.saturating_add(std::fs::metadata(p).map_or(0, |m| m.len()))
    });
    if total > MAX_POLICY_BYTES as u64 {
        return Err(ReadError::new(
            path,
            format!(
                "the `.casepol` files of `{}` are {} together, more than the limit of {} for a policy",
                path.display(),
                limits::bytes(usize::try_from(total).unwrap_or(usize::MAX)),
                limits::bytes(MAX_POLICY_BYTES)
            ),
        ));
    }
    if files.is_empty() {
        return Err(ReadError::new(
            path,
            format!("directory `{}` holds no `.casepol` files", path.display()),
        ));
    }
    for f in files {
        let text = read_text(&f, MAX_POLICY_FILE_BYTES, "a policy file")?;
        sources.add(f.display().to_string(), text);
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_is_placed_by_line_and_character() {
        let bytes = "ab\né€x\u{0}".as_bytes().to_vec();
        let mut bad = bytes.clone();
        bad.insert(bad.len() - 2, 0xFF);
        let e = std::str::from_utf8(&bad).unwrap_err();
        assert_eq!(utf8_position(&bad, &e), (2, 3, 0xFF));
    }
}
