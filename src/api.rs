//! The library API for applications: load a policy, load entities, decide, explain.

use crate::compile::{compile, CompiledPolicy};
use crate::decision::Decision;
use crate::diagnostic::{render, Code, Diagnostic, FileId, Sources, Span};
use crate::entities::{Entities, EntityError};
use crate::limits::{self, MAX_POLICY_BYTES, MAX_POLICY_FILES};
use crate::reference::{self, Trace};
use crate::request::{resolve, Request, RequestError, Resolved};
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
pub struct PolicyError {
    pub diagnostics: Vec<Diagnostic>,
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
    let (ir, d) = crate::check::check(&asts);
    diags.extend(d);
    let ok = !diags.iter().any(Diagnostic::is_error);
    let ir = ir.filter(|_| ok);
    if let Some(ir) = &ir {
        // Lints look for likely mistakes in a policy that checks; they only warn.
        diags.extend(crate::lint::lint(ir));
        diags.sort_by_key(|d| (d.span().file, d.span().start, d.code));
    }
    (ir, diags)
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

    pub fn compiled(&self) -> &CompiledPolicy {
        &self.compiled
    }

    /// Loads and validates entities (see docs/data-formats.md).
    pub fn load_entities(&self, json: &str) -> Result<Entities, Vec<EntityError>> {
        Entities::from_json(&self.compiled, json)
    }

    /// Resolves a request's names to ids. Do this once per request; `decide` is then string-free.
    /// An unknown principal, action, resource or module is an error, never an allow.
    ///
    /// ```
    /// use casepol::{Policy, Request};
    /// use casepol::request::RequestErrorKind;
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

    /// Resolves and decides. A request that cannot be resolved is denied (`Reason::Error`).
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
    /// assert!(text.contains("would be allowed if `ann` were in `PERS` or `FIN`"));
    /// ```
    pub fn explain(&self, entities: &Entities, request: &Request) -> Trace {
        reference::evaluate_with(&self.compiled, entities, request, reference::Scan::Indexed)
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
