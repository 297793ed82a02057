//! The library API for applications: load a policy, load entities, decide, explain.

use crate::compile::{compile, CompiledPolicy};
use crate::decision::Decision;
use crate::diagnostic::words;
use crate::diagnostic::{render, Code, Diagnostic, FileId, Sources, Span};
use crate::entities::{Entities, EntityError};
use crate::limits::{self, MAX_POLICY_BYTES, MAX_POLICY_FILES, MAX_WARNINGS_PER_CODE};
use crate::reference::{self, Trace};
use crate::request::{Request, Resolved};
use crate::resolve::{resolve, RequestError};
use crate::response::Response;
use crate::vm;

/// A checked and compiled policy. Immutable, `Send + Sync`: share one instance across threads.
///
/// ```
/// use casepol::{Policy, Request};
///
/// let policy = Policy::from_source("example.casepol", r#"
///     role Clerk;
///     action view;
///     group Clerks { grants Clerk; }
///     resource Note { allow Clerk: view; }
/// "#).expect("the policy checks");
/// let entities = policy.load_entities(r#"{
///     "users": [{"id": "ann", "groups": ["Clerks"]}, {"id": "bob"}],
///     "resources": [{"id": "n1", "kind": "Note"}]
/// }"#).expect("the entities are valid");
///
/// assert!(policy.is_allowed(&entities, &Request::new("ann", "view", Some("n1"))).allowed);
/// assert!(!policy.is_allowed(&entities, &Request::new("bob", "view", Some("n1"))).allowed);
/// ```
#[derive(Debug)]
pub struct Policy {
    compiled: CompiledPolicy,
    warnings: Vec<Diagnostic>,
}

/// A policy that did not check: every diagnostic, and the sources to render them against.
#[derive(Debug)]
#[non_exhaustive]
pub struct PolicyError {
    /// Every error and warning, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
    /// The policy's files, to render the diagnostics against.
    pub sources: Sources,
}

impl PolicyError {
    /// Renders the diagnostics for a terminal (without colour): the first
    /// [`MAX_SHOWN_DIAGNOSTICS`](crate::limits::MAX_SHOWN_DIAGNOSTICS), then a line counting
    /// the rest.
    pub fn render(&self) -> String {
        let mut budget = crate::limits::MAX_SHOWN_DIAGNOSTICS;
        render::human_list(&self.diagnostics, &self.sources, false, &mut budget)
    }
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for PolicyError {}

/// Entities that did not load: every problem found, each naming the entity and field or the
/// line and column. It reads as a slice of [`EntityError`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitiesError {
    errors: Vec<EntityError>,
}

impl EntitiesError {
    /// Every problem found, in file order.
    pub fn errors(&self) -> &[EntityError] {
        &self.errors
    }

    /// The problems, owned.
    pub fn into_errors(self) -> Vec<EntityError> {
        self.errors
    }
}

impl std::ops::Deref for EntitiesError {
    type Target = [EntityError];

    fn deref(&self) -> &[EntityError] {
        &self.errors
    }
}

impl<'a> IntoIterator for &'a EntitiesError {
    type Item = &'a EntityError;
    type IntoIter = std::slice::Iter<'a, EntityError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

impl IntoIterator for EntitiesError {
    type Item = EntityError;
    type IntoIter = std::vec::IntoIter<EntityError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl std::fmt::Display for EntitiesError {
    /// One line counting the problems, then each on its own line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} problem(s) in the entities", self.errors.len())?;
        for e in &self.errors {
            write!(f, "\n{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for EntitiesError {}

/// Why a policy or its entities could not be loaded from disk
/// ([`Policy::from_path`], [`Policy::load_entities_from_path`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A file could not be read, or is over its size limit.
    #[error(transparent)]
    Read(#[from] crate::files::ReadError),
    /// The policy does not check.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The entities do not load.
    #[error(transparent)]
    Entities(#[from] EntitiesError),
}

/// Parses and checks every file of `sources` as one policy, then lints it if it checks
/// (docs/lints.md): the lints' warnings come with the checker's, sorted by position.
///
/// A policy of more than [`MAX_POLICY_FILES`](crate::limits::MAX_POLICY_FILES) files, or of more
/// than [`MAX_POLICY_BYTES`](crate::limits::MAX_POLICY_BYTES) in all, is refused before
/// anything is parsed, and one whose text is over a limit (a file or a name too long) is not
/// checked further (CP0112).
pub fn check_sources(sources: &Sources) -> (Option<crate::ir::Policy>, Vec<Diagnostic>) {
    if let Some(d) = too_large(sources) {
        return (None, vec![d]);
    }
    let mut diags = Vec::new();
    let mut asts = Vec::new();
    for (id, _, text) in sources.iter() {
        let (ast, d) = crate::syntax::parse(id, text);
        diags.extend(d);
        asts.push(ast);
    }
    if diags.iter().any(|d| d.code == Code::Limit) {
        return (None, diags);
    }
    let (ir, mut d) = crate::check::check(&asts);
    crate::check::drop_follow_ons(&mut d, &asts, sources);
    diags.extend(d);
    let ok = !diags.iter().any(Diagnostic::is_error);
    let ir = ir.filter(|_| ok);
    if let Some(ir) = &ir {
        // Lints look for likely mistakes in a policy that checks; they only warn.
        diags.extend(crate::lint::lint(ir));
        diags.sort_by_key(|d| (d.span().file, d.span().start, d.code));
    }
    (ir, cap_warnings(diags))
}

/// Keeps the first [`MAX_WARNINGS_PER_CODE`] warnings of each code, in position order, and
/// counts the rest in one more warning of that code, at the first one left out.
fn cap_warnings(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut seen: std::collections::HashMap<Code, (usize, Span)> = Default::default();
    let mut kept = Vec::with_capacity(diags.len().min(MAX_WARNINGS_PER_CODE * 4));
    for d in diags {
        if d.is_error() {
            kept.push(d);
            continue;
        }
        let (count, first_dropped) = seen.entry(d.code).or_insert((0, Span::default()));
        *count += 1;
        if *count == MAX_WARNINGS_PER_CODE + 1 {
            *first_dropped = d.span();
        }
        if *count <= MAX_WARNINGS_PER_CODE {
            kept.push(d);
        }
    }
    let mut more: Vec<(Code, usize, Span)> = seen
        .into_iter()
        .filter(|(_, (count, _))| *count > MAX_WARNINGS_PER_CODE)
        .map(|(code, (count, at))| (code, count - MAX_WARNINGS_PER_CODE, at))
        .collect();
    if more.is_empty() {
        return kept;
    }
    more.sort_by_key(|&(code, _, at)| (at.file, at.start, code));
    for (code, n, at) in more {
        kept.push(
            Diagnostic::new(
                code,
                at,
                format!(
                    "{} more {} warning(s) like the {} above are not reported",
                    words::thousands(n),
                    code.as_str(),
                    words::thousands(MAX_WARNINGS_PER_CODE)
                ),
            )
            .with_label("the first warning not reported")
            .with_help("fix the warnings reported first: so many of one kind are usually one mistake repeated"),
        );
    }
    kept.sort_by_key(|d| (d.span().file, d.span().start, d.code));
    kept
}

/// CP0112 for a policy of too many files or too many bytes in all, at its first file.
fn too_large(sources: &Sources) -> Option<Diagnostic> {
    let at = Span::new(FileId(0), 0, 0);
    if sources.len() > MAX_POLICY_FILES {
        return Some(
            Diagnostic::new(
                Code::Limit,
                at,
                format!(
                    "this policy has {} files, more than the limit of {MAX_POLICY_FILES}",
                    sources.len()
                ),
            )
            .with_label("the policy's first file")
            .with_help("merge small files: a policy's files are read together anyway"),
        );
    }
    let total: usize = sources.iter().map(|(_, _, text)| text.len()).sum();
    (total > MAX_POLICY_BYTES).then(|| {
        Diagnostic::new(
            Code::Limit,
            at,
            format!(
                "this policy's files are {} together, more than the limit of {} for one policy",
                limits::bytes(total),
                limits::bytes(MAX_POLICY_BYTES)
            ),
        )
        .with_label("the policy's first file")
        .with_help("a policy this large usually holds data, such as one rule per user, that belongs in the entities")
    })
}

impl Policy {
    /// Checks and compiles a policy made of one source text.
    pub fn from_source(name: &str, text: &str) -> Result<Policy, PolicyError> {
        let mut sources = Sources::new();
        sources.add(name, text);
        Policy::from_sources(sources)
    }

    /// Reads, checks and compiles the policy at `path`: a `.casepol` file, or every `.casepol`
    /// file under a directory (sub-directories included, skipping hidden entries and what
    /// `.gitignore` or `.casepolignore` files exclude), as the command line reads it
    /// ([`crate::files::read_policy`], with the same size limits).
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Policy, LoadError> {
        let sources = crate::files::read_policy(path.as_ref())?;
        Ok(Policy::from_sources(sources)?)
    }

    /// Checks and compiles a policy made of several files.
    pub fn from_sources(sources: Sources) -> Result<Policy, PolicyError> {
        let (ir, diagnostics) = check_sources(&sources);
        match ir {
            Some(ir) => Ok(Policy {
                compiled: compile(ir, sources),
                warnings: diagnostics,
            }),
            None => Err(PolicyError {
                diagnostics,
                sources,
            }),
        }
    }

    /// Warnings found while checking (errors prevent a `Policy` from existing).
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The files the policy was read from, to render or locate its [`Policy::warnings`]
    /// against (as [`PolicyError::sources`] is for its errors).
    pub fn sources(&self) -> &Sources {
        self.compiled.sources()
    }

    /// The compiled form, for casepol's own tools (the command line, tests and benchmarks).
    #[doc(hidden)]
    pub fn compiled(&self) -> &CompiledPolicy {
        &self.compiled
    }

    /// Loads and validates entities (see docs/data-formats.md). The entities belong to this
    /// policy: deciding them with another is an error, never an answer.
    pub fn load_entities(&self, json: &str) -> Result<Entities, EntitiesError> {
        Entities::from_json(&self.compiled, json).map_err(|errors| EntitiesError { errors })
    }

    /// Reads and loads an entities file, refusing one over
    /// [`MAX_ENTITIES_BYTES`](crate::limits::MAX_ENTITIES_BYTES) before reading it.
    pub fn load_entities_from_path(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Entities, LoadError> {
        let text = crate::files::read_text(
            path.as_ref(),
            crate::limits::MAX_ENTITIES_BYTES,
            "an entities file",
        )?;
        Ok(self.load_entities(&text)?)
    }

    /// Resolves a request's names to ids. Do this once per request; `decide` is then string-free.
    /// An unknown principal, action, resource or module is an error, never an allow.
    ///
    /// ```
    /// use casepol::{Policy, Request};
    /// use casepol::RequestErrorKind;
    ///
    /// let policy = Policy::from_source("p.casepol", "role R; action view; group G { grants R; }").unwrap();
    /// let entities = policy.load_entities(r#"{"users": [{"id": "ann", "groups": ["G"]}]}"#).unwrap();
    /// let err = policy.resolve(&entities, &Request::new("G", "view", None)).unwrap_err();
    /// assert_eq!(err.kind, RequestErrorKind::UnknownPrincipal);
    /// assert_eq!(err.help.as_deref(), Some("`G` is an access group; the principal must be a user id"));
    /// ```
    pub fn resolve(
        &self,
        entities: &Entities,
        request: &Request,
    ) -> Result<Resolved, RequestError> {
        resolve(&self.compiled, entities, request)
    }

    /// Decides a resolved request with the compiled evaluator.
    #[inline]
    pub fn decide(&self, entities: &Entities, request: &Resolved) -> Decision {
        vm::decide(&self.compiled, entities, request)
    }

    /// Resolves and decides a request, and says what determined the decision: the one call
    /// an application needs. A request that cannot be resolved is denied with
    /// [`Reason::Error`](crate::Reason::Error), and the response carries the error.
    ///
    /// ```
    /// use casepol::{Policy, Request, RequestErrorKind, RuleKind};
    ///
    /// let policy = Policy::from_source("example.casepol", r#"
    ///     role Clerk;
    ///     action view;
    ///     group Clerks { grants Clerk; }
    ///     resource Note { allow Clerk: view; }
    /// "#)?;
    /// let entities = policy.load_entities(r#"{
    ///     "users": [{"id": "ann", "groups": ["Clerks"]}],
    ///     "resources": [{"id": "n1", "kind": "Note"}]
    /// }"#)?;
    ///
    /// let response = policy.authorize(&entities, &Request::new("ann", "view", Some("n1")));
    /// assert!(response.allowed());
    /// let rule = &response.determining[0];
    /// assert_eq!(rule.kind, RuleKind::Rule);
    /// assert_eq!((rule.line, rule.source.as_str()), (5, "allow Clerk: view;"));
    ///
    /// let response = policy.authorize(&entities, &Request::new("zoe", "view", Some("n1")));
    /// assert!(!response.allowed());
    /// assert_eq!(response.error.map(|e| e.kind), Some(RequestErrorKind::UnknownPrincipal));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn authorize(&self, entities: &Entities, request: &Request) -> Response {
        match self.resolve(entities, request) {
            Ok(r) => {
                let decision = self.decide(entities, &r);
                let why = vm::determining_rules(&self.compiled, entities, &r, &decision);
                Response::new(&self.compiled, decision, &why)
            }
            Err(e) => Response::error(e),
        }
    }

    /// Resolves and decides, without saying why: the fast path. A request that cannot be
    /// resolved is denied (`Reason::Error`); [`Policy::authorize`] also says what went wrong.
    pub fn is_allowed(&self, entities: &Entities, request: &Request) -> Decision {
        match self.resolve(entities, request) {
            Ok(r) => self.decide(entities, &r),
            Err(_) => Decision::ERROR,
        }
    }

    /// Decides with the reference evaluator and records why, layer by layer. The trace
    /// serialises to the JSON that `casepol explain --format json` prints. The data layer looks
    /// only at the rules indexed for the request's resource and action
    /// ([`reference::Scan::Indexed`]), so the time does not grow with the policy; the trace is
    /// the one scanning every rule gives ([`reference::evaluate`]).
    ///
    /// ```
    /// use casepol::{Layer, Policy, Request};
    ///
    /// let policy = Policy::from_source("codes.casepol", r#"
    ///     role Clerk;
    ///     action view;
    ///     group Clerks { grants Clerk; }
    ///     codes { read: view; }
    ///     resource File { allow Clerk: view; }
    /// "#).unwrap();
    /// let entities = policy.load_entities(r#"{
    ///     "users": [{"id": "ann", "groups": ["Clerks"], "terms": ["HR"]}],
    ///     "resources": [{"id": "f1", "kind": "File", "read": "[HR] & [PERS|FIN]"}]
    /// }"#).unwrap();
    /// let trace = policy.explain(&entities, &Request::new("ann", "view", Some("f1")));
    /// assert!(!trace.decision.allowed);
    /// assert_eq!(trace.decision.layer, Layer::ReadCode);
    /// let text = policy.explain_text(&trace);
    /// assert!(text.contains("would be allowed if `ann` held term `PERS`"));
    /// ```
    pub fn explain(&self, entities: &Entities, request: &Request) -> Trace {
        let scan = reference::Scan::Indexed;
        match self.resolve(entities, request) {
            Ok(r) => {
                let mut trace =
                    reference::evaluate_resolved_with(&self.compiled, entities, request, &r, scan);
                crate::hints::settle(&self.compiled, entities, &r, &mut trace);
                trace
            }
            Err(_) => reference::evaluate_with(&self.compiled, entities, request, scan),
        }
    }

    /// Renders an explanation as text.
    pub fn explain_text(&self, trace: &Trace) -> String {
        crate::explain::render_text(trace, &self.compiled)
    }
}

// INVARIANT: the compiled policy and loaded entities are shared across threads without locks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Policy>();
    assert_send_sync::<Entities>();
};
