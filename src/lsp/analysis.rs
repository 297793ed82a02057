//! The open documents, the policy each belongs to, and the analysis of each policy: its
//! sources, diagnostics (the checker's and the lints', as `casepol check` finds them) and the
//! index of its names. An analysis is computed when first asked for after a change and kept
//! until the next change to a document of its folder.

use super::index::Index;
use super::position::Lines;
use super::Shared;
use casepol::diagnostic::{Code, Diagnostic, FileId, Sources};
use casepol::internal::{check_sources, syntax};
use casepol::limits::{MAX_POLICY_FILES, MAX_POLICY_FILE_BYTES};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::rc::Rc;

/// A file of an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct File(pub FileId);

/// One policy, analysed.
pub(crate) struct Analysis {
    pub sources: Sources,
    /// The URI of each file, by `FileId`.
    pub uris: Vec<String>,
    pub lines: Vec<Lines>,
    pub index: Index,
    pub diags: Vec<Diagnostic>,
    /// When the text has a syntax error: the last analysis of this document without one, whose
    /// declarations completion offers too.
    pub fallback: Option<Shared>,
}

impl Analysis {
    pub(crate) fn file(&self, uri: &str) -> Option<File> {
        self.uris
            .iter()
            .position(|u| u == uri)
            .map(|i| File(FileId(i as u32)))
    }

    pub(crate) fn text(&self, f: File) -> &str {
        self.sources.text(f.0)
    }

    pub(crate) fn uri(&self, id: FileId) -> &str {
        self.uris.get(id.0 as usize).map_or("", String::as_str)
    }

    pub(crate) fn lines(&self, id: FileId) -> &Lines {
        &self.lines[id.0 as usize]
    }

    /// The LSP range of a span.
    pub(crate) fn range(&self, span: casepol::diagnostic::Span) -> lsp_types::Range {
        let text = self.sources.text(span.file);
        self.lines(span.file)
            .range(text, span.start as usize, span.end as usize)
    }

    fn build(files: Vec<(String, String, String)>) -> Analysis {
        let mut sources = Sources::new();
        let mut uris = Vec::new();
        let mut lines = Vec::new();
        for (uri, name, text) in files {
            lines.push(Lines::new(&text));
            sources.add(name, text);
            uris.push(uri);
        }
        let (_, diags) = check_sources(&sources);
        // The index reads the ASTs, which the check does not return: parsing again costs less
        // than checking, and only files within the size limits are parsed.
        let asts: Vec<_> = if diags.iter().any(|d| d.code == Code::Limit) {
            Vec::new()
        } else {
            sources
                .iter()
                .map(|(id, _, t)| syntax::parse(id, t).0)
                .collect()
        };
        let index = Index::build(&asts);
        Analysis {
            sources,
            uris,
            lines,
            index,
            diags,
            fallback: None,
        }
    }

    fn has_syntax_errors(&self) -> bool {
        self.diags.iter().any(|d| d.code == Code::Syntax)
    }

    /// Whether two files declare the same name: then the folder is not one policy.
    fn clashes_across_files(&self) -> bool {
        self.diags.iter().any(|d| {
            d.code == Code::Duplicate && d.labels.iter().any(|l| l.span.file != d.span().file)
        })
    }
}

/// The open documents and the analyses of their policies.
pub(crate) struct Workspace {
    docs: HashMap<String, String>,
    single_file: bool,
    cache: HashMap<String, Shared>,
    /// The last analysis of each open document that had no syntax error.
    last_good: HashMap<String, Shared>,
    /// Every URI diagnostics were last published for, and not cleared since.
    published: BTreeSet<String>,
}

impl Workspace {
    pub(crate) fn new(single_file: bool) -> Workspace {
        Workspace {
            docs: HashMap::new(),
            single_file,
            cache: HashMap::new(),
            last_good: HashMap::new(),
            published: BTreeSet::new(),
        }
    }

    pub(crate) fn open(&mut self, uri: &str, text: String) {
        self.docs.insert(uri.to_string(), text);
        self.changed(uri);
    }

    /// Forgets the analyses of every document in `uri`'s folder.
    pub(crate) fn changed(&mut self, uri: &str) {
        let dir = folder(uri).to_string();
        let last_good = &mut self.last_good;
        self.cache.retain(|u, a| {
            if folder(u) != dir {
                return true;
            }
            if !a.has_syntax_errors() {
                last_good.insert(u.clone(), a.clone());
            }
            false
        });
    }

    /// Closes a document; returns the URIs whose diagnostics are to be cleared, and an open
    /// document of the same folder whose policy is to be published again, if there is one.
    pub(crate) fn close(&mut self, uri: &str) -> (Vec<String>, Option<String>) {
        self.docs.remove(uri);
        self.changed(uri);
        self.last_good.remove(uri);
        let dir = folder(uri).to_string();
        let other = self.docs.keys().find(|u| folder(u) == dir).cloned();
        let cleared = if other.is_some() {
            vec![uri.to_string()]
        } else {
            let gone: Vec<String> = self
                .published
                .iter()
                .filter(|u| folder(u) == dir)
                .cloned()
                .collect();
            for u in &gone {
                self.published.remove(u);
            }
            gone
        };
        self.published.remove(uri);
        (cleared, other)
    }

    /// The analysis of the policy `uri` belongs to, if it is open.
    pub(crate) fn analysis(&mut self, uri: &str) -> Option<Shared> {
        if !self.docs.contains_key(uri) {
            return None;
        }
        if let Some(a) = self.cache.get(uri) {
            return Some(a.clone());
        }
        let folder_files = if self.single_file {
            None
        } else {
            self.folder_files(uri)
        };
        let fallback = self.last_good.get(uri).cloned();
        let shared = match folder_files {
            Some(files) => {
                let mut a = Analysis::build(files);
                if a.has_syntax_errors() {
                    a.fallback = fallback.clone();
                }
                if a.clashes_across_files() {
                    None
                } else {
                    Some(Rc::new(a))
                }
            }
            None => None,
        };
        match shared {
            Some(a) => {
                for u in &a.uris {
                    if self.docs.contains_key(u) {
                        self.cache.insert(u.clone(), a.clone());
                    }
                }
                Some(a)
            }
            None => {
                let text = self.docs.get(uri).cloned().unwrap_or_default();
                let name = file_name(uri);
                let mut a = Analysis::build(vec![(uri.to_string(), name, text)]);
                if a.has_syntax_errors() {
                    a.fallback = fallback;
                }
                let a = Rc::new(a);
                self.cache.insert(uri.to_string(), a.clone());
                Some(a)
            }
        }
    }

    /// The analyses of the other open documents of `uri`'s folder.
    pub(crate) fn analyses_near(&mut self, uri: &str) -> Vec<Shared> {
        let dir = folder(uri).to_string();
        let others: Vec<String> = self
            .docs
            .keys()
            .filter(|u| folder(u) == dir && u.as_str() != uri)
            .cloned()
            .collect();
        others.iter().filter_map(|u| self.analysis(u)).collect()
    }

    /// After the diagnostics of `done` were published for `uri`'s folder: the URIs of that
    /// folder that had diagnostics before and were not published now, to be cleared.
    pub(crate) fn take_stale(&mut self, done: &BTreeSet<String>) -> Vec<String> {
        let dirs: BTreeSet<&str> = done.iter().map(|u| folder(u)).collect();
        let stale: Vec<String> = self
            .published
            .iter()
            .filter(|u| dirs.contains(folder(u)) && !done.contains(*u))
            .cloned()
            .collect();
        for u in &stale {
            self.published.remove(u);
        }
        self.published.extend(done.iter().cloned());
        stale
    }

    /// The `.casepol` files of `uri`'s folder as (URI, name, text), open documents' text in
    /// place of the disk's; `None` if `uri` is not a `file:` URI or the folder cannot be read
    /// or holds too many files.
    fn folder_files(&self, uri: &str) -> Option<Vec<(String, String, String)>> {
        let path = uri_to_path(uri)?;
        let dir = path.parent()?;
        let prefix = folder(uri);
        let open: HashMap<PathBuf, &String> = self
            .docs
            .keys()
            .filter(|u| folder(u) == prefix)
            .filter_map(|u| Some((uri_to_path(u)?, u)))
            .collect();
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).ok()?.filter_map(Result::ok) {
            let p = entry.path();
            if p.extension().is_some_and(|x| x == "casepol") && p.is_file() {
                if paths.len() == MAX_POLICY_FILES {
                    return None;
                }
                paths.push(p);
            }
        }
        for p in open.keys() {
            if !paths.contains(p) {
                paths.push(p.clone());
            }
        }
        paths.sort();
        let mut files = Vec::new();
        for p in paths {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(u) = open.get(&p) {
                let text = self.docs.get(*u).cloned().unwrap_or_default();
                files.push(((*u).clone(), name, text));
            } else if let Ok(text) =
                casepol::internal::files::read_text(&p, MAX_POLICY_FILE_BYTES, "a policy file")
            {
                files.push((format!("{prefix}/{}", encode(&name)), name, text));
            }
        }
        Some(files)
    }
}

/// The URI of the folder a document is in: everything before its last `/`.
fn folder(uri: &str) -> &str {
    uri.rfind('/').map_or(uri, |i| &uri[..i])
}

fn file_name(uri: &str) -> String {
    let last = uri.rfind('/').map_or(uri, |i| &uri[i + 1..]);
    decode(last)
}

/// The path of a `file:` URI (`file:///a/b.casepol`, or `file://localhost/…`).
fn uri_to_path(uri: &str) -> Option<PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') || rest.contains(['?', '#']) {
        return None;
    }
    Some(PathBuf::from(decode(rest)))
}

/// Percent-decoding; an escape that is not two hex digits is kept as written.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a file name for a URI path segment.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_paths() {
        assert_eq!(
            uri_to_path("file:///tmp/a%20b/p%C3%A9.casepol"),
            Some(PathBuf::from("/tmp/a b/pé.casepol"))
        );
        assert_eq!(uri_to_path("untitled:Untitled-1"), None);
        assert_eq!(encode("pé a.casepol"), "p%C3%A9%20a.casepol");
        assert_eq!(decode(&encode("pé a%.casepol")), "pé a%.casepol");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(folder("file:///a/b.casepol"), "file:///a");
    }
}
