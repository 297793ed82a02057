//! casepol's Python extension module (`casepol._casepol`, re-exported by the `casepol`
//! package): policies, entities, decisions, explanations, queries and change sets, over the
//! public Rust API only.
//!
//! Objects are immutable (`frozen`) and safe to share between Python threads. Batch decisions
//! (`check_many`), explanations, queries, loading and applying change sets run with the GIL
//! released. Errors raise the exceptions of `casepol._errors`, each carrying its diagnostics.

use casepol::live::{self, AppliedJson, ChangeSet, Snapshot};
use casepol::query::{ActionsJson, ListOrder, Query};
use casepol::{Decision as RustDecision, Request, RequestError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};
use pyo3::{intern, IntoPyObjectExt};
use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// The JSON shapes of the answers, shared with the C ABI (one file, two bindings).
#[path = "../../c/src/json.rs"]
#[allow(dead_code)]
mod json;

type Map = serde_json::Map<String, serde_json::Value>;

// ---- errors ---------------------------------------------------------------------------------

/// `casepol._errors`, imported once.
fn errors(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || Ok(py.import("casepol._errors")?.unbind()))
        .map(|m| m.bind(py))
}

/// One diagnostic, as the fields of `casepol.Diagnostic`.
#[derive(Default)]
struct Diag {
    code: Option<String>,
    severity: &'static str,
    message: String,
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    help: Option<String>,
    entity: Option<String>,
    field: Option<String>,
}

impl Diag {
    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(py);
        kwargs.set_item("code", &self.code)?;
        kwargs.set_item("severity", self.severity)?;
        kwargs.set_item("message", &self.message)?;
        kwargs.set_item("file", &self.file)?;
        kwargs.set_item("line", self.line)?;
        kwargs.set_item("column", self.column)?;
        kwargs.set_item("help", &self.help)?;
        kwargs.set_item("entity", &self.entity)?;
        kwargs.set_item("field", &self.field)?;
        errors(py)?
            .getattr(intern!(py, "Diagnostic"))?
            .call((), Some(&kwargs))
    }
}

fn severity_name(s: casepol::diagnostic::Severity) -> &'static str {
    match s {
        casepol::diagnostic::Severity::Error => "error",
        _ => "warning",
    }
}

/// The diagnostics of a policy, located in its sources.
fn policy_diags(
    diagnostics: &[casepol::diagnostic::Diagnostic],
    sources: &casepol::diagnostic::Sources,
) -> Vec<Diag> {
    diagnostics
        .iter()
        .map(|d| {
            let span = d.span();
            let located = (span.file.0 as usize) < sources.len();
            let (line, column) = match located {
                true => {
                    let (l, c) = sources.line_col(span);
                    (Some(l), Some(c))
                }
                false => (None, None),
            };
            Diag {
                code: Some(d.code.as_str().to_string()),
                severity: severity_name(d.severity),
                message: d.message.clone(),
                file: located.then(|| sources.name(span.file).to_string()),
                line,
                column,
                help: d.help.clone(),
                ..Diag::default()
            }
        })
        .collect()
}

fn entity_diag(e: &casepol::EntityError, file: Option<&str>) -> Diag {
    let mut message = String::new();
    match (&e.entity, &e.position) {
        (Some(id), _) => message.push_str(&format!("entity `{id}`")),
        (None, Some(p)) => message.push_str(p),
        (None, None) => {}
    }
    match (&e.field, message.is_empty()) {
        (Some(f), false) => message.push_str(&format!(", field `{f}`: ")),
        (None, false) => message.push_str(": "),
        _ => {}
    }
    message.push_str(&e.message);
    Diag {
        code: None,
        severity: "error",
        message,
        file: file.map(String::from),
        line: e.line,
        column: e.column,
        help: e.help.clone(),
        entity: e.entity.clone(),
        field: e.field.clone(),
    }
}

/// Raises the exception class `class` of `casepol._errors` with `message` and `diagnostics`
/// (and `kind`, for a request error).
fn raise(
    py: Python<'_>,
    class: &str,
    message: String,
    diags: &[Diag],
    kind: Option<&str>,
) -> PyErr {
    let made = (|| -> PyResult<Bound<'_, PyAny>> {
        let list = PyList::empty(py);
        for d in diags {
            list.append(d.to_py(py)?)?;
        }
        let class = errors(py)?.getattr(class)?;
        match kind {
            Some(k) => class.call1((message.clone(), list, k)),
            None => class.call1((message.clone(), list)),
        }
    })();
    match made {
        Ok(instance) => PyErr::from_value(instance),
        Err(e) => e,
    }
}

fn policy_error(py: Python<'_>, e: &casepol::PolicyError) -> PyErr {
    let diags = policy_diags(&e.diagnostics, &e.sources);
    raise(py, "PolicyError", e.render(), &diags, None)
}

fn entities_error(py: Python<'_>, e: &casepol::EntitiesError, file: Option<&str>) -> PyErr {
    let diags: Vec<Diag> = e.errors().iter().map(|x| entity_diag(x, file)).collect();
    raise(py, "EntitiesError", e.to_string(), &diags, None)
}

fn load_error(py: Python<'_>, e: casepol::LoadError, file: &str) -> PyErr {
    match e {
        casepol::LoadError::Policy(p) => policy_error(py, &p),
        casepol::LoadError::Entities(x) => entities_error(py, &x, Some(file)),
        other => {
            let d = Diag {
                severity: "error",
                message: other.to_string(),
                file: Some(file.to_string()),
                ..Diag::default()
            };
            raise(py, "ReadError", other.to_string(), &[d], None)
        }
    }
}

fn kind_name(e: &RequestError) -> String {
    match serde_json::to_value(e.kind) {
        Ok(serde_json::Value::String(s)) => s,
        _ => "invalid_request".into(),
    }
}

/// The exception for a request that cannot be decided, made but not raised.
fn request_error(py: Python<'_>, e: &RequestError) -> PyErr {
    let kind = kind_name(e);
    let d = Diag {
        code: Some(kind.clone()),
        severity: "error",
        message: e.message.clone(),
        help: e.help.clone(),
        ..Diag::default()
    };
    raise(py, "RequestError", e.message.clone(), &[d], Some(&kind))
}

fn change_set_error(py: Python<'_>, e: &live::ChangeSetError) -> PyErr {
    let diags: Vec<Diag> = e
        .problems
        .iter()
        .map(|p| {
            let mut d = match &p.entity {
                Some(x) => entity_diag(x, None),
                None => Diag {
                    severity: "error",
                    message: p.message.clone(),
                    help: p.help.clone(),
                    ..Diag::default()
                },
            };
            if let Some(c) = p.change {
                d.message = format!("change {c}: {}", d.message);
            }
            d
        })
        .collect();
    raise(py, "ChangeSetError", e.to_string(), &diags, None)
}

// ---- conversions ----------------------------------------------------------------------------

/// A Python value as JSON, through `json.dumps` (dicts, lists, strings, numbers, booleans).
fn to_json_text(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<String> {
    let json = py.import(intern!(py, "json"))?;
    json.call_method1(intern!(py, "dumps"), (value,))?.extract()
}

/// JSON text as a Python value, through `json.loads`.
fn from_json_text<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    let json = py.import(intern!(py, "json"))?;
    json.call_method1(intern!(py, "loads"), (text,))
}

fn to_py_json<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value)
        .map_err(|e| PyValueError::new_err(format!("the answer could not be written: {e}")))?;
    from_json_text(py, &text)
}

/// A request context: a dict of the fields the policy's `context { … }` declares.
fn context_map(py: Python<'_>, context: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Map>> {
    let Some(c) = context else { return Ok(None) };
    if c.is_none() {
        return Ok(None);
    }
    if !c.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err("`context` must be a dict"));
    }
    let text = to_json_text(py, c)?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| PyValueError::new_err(format!("`context` is not a JSON object: {e}")))
}

/// A request from its parts, moving the strings in (no copy).
fn make_request(
    principal: String,
    action: String,
    resource: Option<String>,
    module: Option<String>,
    target: Option<String>,
    context: Option<Map>,
) -> Request {
    // `Request` is non-exhaustive: start from an empty one (empty strings do not allocate) and
    // move the parts into its public fields.
    let mut r = Request::new("", "", None);
    r.principal = principal;
    r.action = action;
    r.resource = resource;
    r.module = module;
    r.target = target;
    r.context = context;
    r
}

fn opt_str(item: Option<Bound<'_, PyAny>>, what: &str) -> PyResult<Option<String>> {
    match item {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => v
            .extract::<String>()
            .map(Some)
            .map_err(|_| PyTypeError::new_err(format!("`{what}` must be a string"))),
    }
}

fn req_str(item: Option<Bound<'_, PyAny>>, what: &str) -> PyResult<String> {
    opt_str(item, what)?.ok_or_else(|| PyValueError::new_err(format!("a request needs `{what}`")))
}

/// The error for a request dict with a key that is not a request's field.
#[cold]
fn unknown_field(d: &Bound<'_, PyDict>) -> PyErr {
    for key in d.keys() {
        let name = key.str().map(|s| s.to_string()).unwrap_or_default();
        if !matches!(
            name.as_str(),
            "principal" | "action" | "resource" | "module" | "target" | "context"
        ) || !key.is_instance_of::<PyString>()
        {
            return PyValueError::new_err(format!(
                "unknown field `{name}` in a request: expected `principal`, `action`, `resource`, `module`, `target` or `context`"
            ));
        }
    }
    PyValueError::new_err("a request's keys are the fields of a JSON request")
}

/// One request of `check_many`: a dict with the fields of a JSON request, or a tuple
/// `(principal, action[, resource[, module]])`.
fn request_of(py: Python<'_>, item: &Bound<'_, PyAny>) -> PyResult<Request> {
    if let Ok(t) = item.cast::<PyTuple>() {
        let n = t.len();
        if !(2..=4).contains(&n) {
            return Err(PyValueError::new_err(
                "a request tuple is (principal, action[, resource[, module]])",
            ));
        }
        let principal = req_str(Some(t.get_item(0)?), "principal")?;
        let action = req_str(Some(t.get_item(1)?), "action")?;
        let resource = match n > 2 {
            true => opt_str(Some(t.get_item(2)?), "resource")?,
            false => None,
        };
        let module = match n > 3 {
            true => opt_str(Some(t.get_item(3)?), "module")?,
            false => None,
        };
        return Ok(make_request(
            principal, action, resource, module, None, None,
        ));
    }
    if let Ok(d) = item.cast::<PyDict>() {
        let principal = d.get_item(intern!(py, "principal"))?;
        let action = d.get_item(intern!(py, "action"))?;
        let resource = d.get_item(intern!(py, "resource"))?;
        let module = d.get_item(intern!(py, "module"))?;
        let target = d.get_item(intern!(py, "target"))?;
        let context = d.get_item(intern!(py, "context"))?;
        let known = [&principal, &action, &resource, &module, &target, &context]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if known != d.len() {
            return Err(unknown_field(d));
        }
        return Ok(make_request(
            req_str(principal, "principal")?,
            req_str(action, "action")?,
            opt_str(resource, "resource")?,
            opt_str(module, "module")?,
            opt_str(target, "target")?,
            context_map(py, context.as_ref())?,
        ));
    }
    Err(PyTypeError::new_err(
        "a request is a dict or a tuple (principal, action[, resource[, module]])",
    ))
}

/// Takes an object of ours out of the cyclic garbage collector's view. A `Decision` holds no
/// Python object, so it can be part of no reference cycle; tracked, a batch of a million would
/// be traversed again by every collection that the batch's own allocations trigger.
fn untracked<T: pyo3::PyClass>(obj: Bound<'_, T>) -> PyResult<Bound<'_, T>> {
    // SAFETY: `obj` is a live object of a GC type (every pyclass is); untracking an object is
    // always allowed, and its deallocation untracks only if it is still tracked.
    unsafe { pyo3::ffi::PyObject_GC_UnTrack(obj.as_ptr().cast()) };
    Ok(obj)
}

// ---- classes --------------------------------------------------------------------------------

/// A checked and compiled policy. Immutable: share one across threads.
///
/// Make one with `Policy.from_path(path)` (a `.casepol` file, or a directory of them) or
/// `Policy.from_source(text)`; a policy that does not check raises `PolicyError` with every
/// diagnostic.
#[pyclass(frozen, module = "casepol")]
struct Policy {
    inner: Arc<casepol::Policy>,
}

/// One version of the entities, loaded for one policy. Immutable: share it across threads.
/// `Policy.apply` makes the next version and leaves this one as it is.
#[pyclass(frozen, module = "casepol")]
struct Entities {
    snapshot: Snapshot,
    order: ListOrder,
}

impl Entities {
    fn new(snapshot: Snapshot) -> Entities {
        Entities {
            snapshot,
            order: ListOrder::new(),
        }
    }
}

#[pymethods]
impl Entities {
    /// The version: 1 when loaded, one more for each change set applied since.
    #[getter]
    fn version(&self) -> u64 {
        self.snapshot.version()
    }

    fn __repr__(&self) -> String {
        format!("<casepol.Entities version {}>", self.snapshot.version())
    }
}

/// The answer to one request: `allowed`, the `layer` that decided and the `reason`, and the
/// `determining` rules (computed when first read). True in a boolean context when allowed.
/// From `check_many`, a request that could not be decided is a deny whose `error` says why.
#[pyclass(frozen, module = "casepol")]
struct Decision {
    decision: RustDecision,
    origin: Origin,
    determining: OnceLock<Vec<casepol::DeterminingRule>>,
}

/// Where a decision came from, to say what determined it when asked.
enum Origin {
    /// One request of `check`.
    One(Box<Asked>),
    /// The request at this index of a `check_many` batch, which its decisions share.
    Batch(Arc<Batch>, usize),
}

/// A request, and the policy and entities it was decided with.
struct Asked {
    request: Request,
    policy: Arc<casepol::Policy>,
    snapshot: Snapshot,
}

/// The requests of one `check_many` call, shared by its decisions, and the errors of those
/// that could not be decided, by index.
struct Batch {
    requests: Vec<Request>,
    errors: Vec<(usize, RequestError)>,
    policy: Arc<casepol::Policy>,
    snapshot: Snapshot,
}

impl Decision {
    /// The request, the policy and the entities.
    fn asked(&self) -> (&Request, &casepol::Policy, &Snapshot) {
        match &self.origin {
            Origin::One(a) => (&a.request, &a.policy, &a.snapshot),
            Origin::Batch(b, i) => (&b.requests[*i], &b.policy, &b.snapshot),
        }
    }

    /// The error of a request that could not be decided.
    fn request_error(&self) -> Option<&RequestError> {
        match &self.origin {
            Origin::One(_) => None,
            Origin::Batch(b, i) => b
                .errors
                .binary_search_by_key(i, |(at, _)| *at)
                .ok()
                .map(|k| &b.errors[k].1),
        }
    }
}

#[pymethods]
impl Decision {
    /// Whether the request is allowed.
    #[getter]
    fn allowed(&self) -> bool {
        self.decision.allowed
    }

    /// The layer that decided (`"data"`, `"read_code"`, …; docs/semantics.md).
    #[getter]
    fn layer(&self) -> &'static str {
        self.decision.layer.name()
    }

    /// Why (`"allowed"`, `"not_in_scope"`, `"code_not_held"`, …).
    #[getter]
    fn reason(&self) -> &'static str {
        self.decision.reason.name()
    }

    /// The rules that determined the decision, in source order (docs/semantics.md,
    /// "Determining rules").
    #[getter]
    fn determining(&self) -> Vec<Rule> {
        let rules = self.determining.get_or_init(|| {
            if self.decision.reason == casepol::Reason::Error {
                return Vec::new();
            }
            let (request, policy, snapshot) = self.asked();
            policy.authorize(snapshot.entities(), request).determining
        });
        rules.iter().map(Rule::from).collect()
    }

    /// Why the request could not be decided (a `RequestError`, not raised), or `None`.
    #[getter]
    fn error(&self, py: Python<'_>) -> Option<PyErr> {
        self.request_error().map(|e| request_error(py, e))
    }

    /// The request, as a dict of the JSON request's fields.
    #[getter]
    fn request<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_py_json(py, self.asked().0)
    }

    fn __bool__(&self) -> bool {
        self.decision.allowed
    }

    fn __repr__(&self) -> String {
        format!(
            "Decision(allowed={}, layer='{}', reason='{}')",
            if self.decision.allowed {
                "True"
            } else {
                "False"
            },
            self.decision.layer.name(),
            self.decision.reason.name()
        )
    }
}

/// A rule that determined a decision: its `kind` (`"rule"`, `"table_cell"`, `"transition"`,
/// `"module_grant"`, `"access_mode"`), where it is written (`file`, `line`, `column`), its
/// `source` text, and for a table cell the `cell` as `(casetype, state, subject)`.
#[pyclass(frozen, get_all, module = "casepol")]
struct Rule {
    kind: String,
    file: String,
    line: usize,
    column: usize,
    source: String,
    cell: Option<(String, String, String)>,
    text: String,
}

impl From<&casepol::DeterminingRule> for Rule {
    fn from(r: &casepol::DeterminingRule) -> Rule {
        let kind = match serde_json::to_value(r.kind) {
            Ok(serde_json::Value::String(s)) => s,
            _ => r.kind.title().replace(' ', "_"),
        };
        Rule {
            kind,
            file: r.file.clone(),
            line: r.line,
            column: r.column,
            source: r.source.clone(),
            cell: r
                .cell
                .as_ref()
                .map(|c| (c.casetype.clone(), c.state.clone(), c.subject.clone())),
            text: r.to_string(),
        }
    }
}

#[pymethods]
impl Rule {
    fn __str__(&self) -> String {
        self.text.clone()
    }

    fn __repr__(&self) -> String {
        format!("<casepol.Rule {}>", self.text)
    }
}

/// A change set applied: the next version of the `entities`, its `version`, the `events`
/// (every user, resource, action and module whose decision changed, as dicts) and the same
/// gathered into `groups` for reading, each with its `text`.
#[pyclass(frozen, get_all, module = "casepol")]
struct Applied {
    entities: Py<Entities>,
    version: u64,
    events: Py<PyAny>,
    groups: Py<PyAny>,
}

/// Whether text given as entities JSON is rather the name of a file: short, not starting like a
/// JSON object, and an existing file.
fn looks_like_a_path(text: &str) -> bool {
    text.len() <= 4096
        && !text.trim_start().starts_with('{')
        && std::path::Path::new(text).is_file()
}

/// A path from a `str` or an `os.PathLike`.
fn fspath(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<String> {
    let os = py.import(intern!(py, "os"))?;
    let p = os.call_method1(intern!(py, "fspath"), (path,))?;
    p.extract::<String>()
        .map_err(|_| PyTypeError::new_err("a path must be a str or an os.PathLike of str"))
}

/// JSON text from a `str`, `bytes` (UTF-8) or, when `dicts` is true, a dict dumped as JSON.
fn json_text(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = value.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec())
            .map_err(|e| PyValueError::new_err(format!("the {what} are not UTF-8: {e}")));
    }
    if value.is_instance_of::<PyDict>() {
        return to_json_text(py, value);
    }
    Err(PyTypeError::new_err(format!(
        "the {what} must be a str or bytes of JSON, or a dict"
    )))
}

impl Policy {
    fn query<'a>(&'a self, entities: &'a Entities, context: Option<Map>) -> Query<'a> {
        let q = Query::with_order(&self.inner, entities.snapshot.entities(), &entities.order);
        match context {
            Some(c) => q.with_context(c),
            None => q,
        }
    }
}

#[pymethods]
impl Policy {
    /// Reads, checks and compiles the policy at `path`: a `.casepol` file, or every `.casepol`
    /// file directly in a directory. Raises `ReadError` or `PolicyError`.
    #[staticmethod]
    fn from_path(py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<Policy> {
        let path = fspath(py, path)?;
        match py.detach(|| casepol::Policy::from_path(&path)) {
            Ok(p) => Ok(Policy { inner: Arc::new(p) }),
            Err(e) => Err(load_error(py, e, &path)),
        }
    }

    /// Checks and compiles a policy from its text; `name` is the file name diagnostics show.
    /// Raises `PolicyError`.
    #[staticmethod]
    #[pyo3(signature = (source, name = "policy.casepol".to_string()))]
    fn from_source(py: Python<'_>, source: Cow<'_, str>, name: String) -> PyResult<Policy> {
        match py.detach(|| casepol::Policy::from_source(&name, &source)) {
            Ok(p) => Ok(Policy { inner: Arc::new(p) }),
            Err(e) => Err(policy_error(py, &e)),
        }
    }

    /// The warnings of the checker and the lints (a policy with errors is never made).
    #[getter]
    fn warnings<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        // Each warning with its file, line and column, as a `PolicyError`'s diagnostics have.
        policy_diags(self.inner.warnings(), self.inner.sources())
            .iter()
            .map(|d| d.to_py(py))
            .collect()
    }

    /// Loads and validates entities for this policy: JSON text as a `str` or `bytes`, or the
    /// path of a file as an `os.PathLike` (a `pathlib.Path`). Raises `EntitiesError` (every
    /// problem, with its line and column) or `ReadError`.
    fn load_entities(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<Entities> {
        let policy = &self.inner;
        if data.is_instance_of::<PyString>() || data.is_instance_of::<PyBytes>() {
            let text = json_text(py, data, "entities")?;
            return match py.detach(|| policy.load_entities(&text)) {
                Ok(e) => Ok(Entities::new(Snapshot::new(e))),
                // A `str` is JSON text: one that is not JSON but names a file was meant as a
                // path, and the JSON parser's "expected value" would not say so.
                Err(_) if looks_like_a_path(&text) => Err(PyValueError::new_err(format!(
                    "`{text}` is a file name, not JSON: pass `pathlib.Path({text:?})` to read the file (a `str` is read as JSON text)"
                ))),
                Err(e) => Err(entities_error(py, &e, None)),
            };
        }
        let path = fspath(py, data)?;
        match py.detach(|| policy.load_entities_from_path(&path)) {
            Ok(e) => Ok(Entities::new(Snapshot::new(e))),
            Err(e) => Err(load_error(py, e, &path)),
        }
    }

    /// Decides whether `principal` may do `action` on `resource` (`None` for an account
    /// permission), through `module`, moving the case to state `target`, in `context`.
    /// Returns a `Decision`; a request naming something the policy or entities do not have
    /// raises `RequestError` (it is never allowed).
    #[pyo3(signature = (entities, principal, action, resource = None, *, module = None, target = None, context = None))]
    #[allow(clippy::too_many_arguments)]
    fn check<'py>(
        &self,
        py: Python<'py>,
        entities: PyRef<'_, Entities>,
        principal: String,
        action: String,
        resource: Option<String>,
        module: Option<String>,
        target: Option<String>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, Decision>> {
        let context = context_map(py, context)?;
        let request = make_request(principal, action, resource, module, target, context);
        let data = entities.snapshot.entities();
        let resolved = self
            .inner
            .resolve(data, &request)
            .map_err(|e| request_error(py, &e))?;
        let decision = self.inner.decide(data, &resolved);
        let asked = Asked {
            request,
            policy: Arc::clone(&self.inner),
            snapshot: entities.snapshot.clone(),
        };
        untracked(Bound::new(
            py,
            Decision {
                decision,
                origin: Origin::One(Box::new(asked)),
                determining: OnceLock::new(),
            },
        )?)
    }

    /// Decides every request of an iterable, with the GIL released while deciding, and
    /// returns the `Decision`s in order. A request is a dict with the fields of a JSON request
    /// (`principal`, `action`, `resource`, `module`, `target`, `context`) or a tuple
    /// `(principal, action[, resource[, module]])`. A request that cannot be decided is a deny
    /// whose `error` says why; a request of the wrong shape raises `TypeError` or `ValueError`
    /// before anything is decided.
    fn check_many<'py>(
        &self,
        py: Python<'py>,
        entities: PyRef<'_, Entities>,
        requests: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let mut asked = Vec::new();
        for item in requests.try_iter()? {
            asked.push(request_of(py, &item?)?);
        }
        let policy = &self.inner;
        let data = entities.snapshot.entities();
        let (decisions, errors) = py.detach(|| {
            let mut errors = Vec::new();
            let decisions: Vec<RustDecision> = asked
                .iter()
                .enumerate()
                .map(|(i, r)| match policy.resolve(data, r) {
                    Ok(resolved) => policy.decide(data, &resolved),
                    Err(e) => {
                        errors.push((i, e));
                        RustDecision::ERROR
                    }
                })
                .collect();
            (decisions, errors)
        });
        let batch = Arc::new(Batch {
            requests: asked,
            errors,
            policy: Arc::clone(policy),
            snapshot: entities.snapshot.clone(),
        });
        let list = PyList::empty(py);
        for (i, decision) in decisions.into_iter().enumerate() {
            let d = Decision {
                decision,
                origin: Origin::Batch(Arc::clone(&batch), i),
                determining: OnceLock::new(),
            };
            list.append(untracked(Bound::new(py, d)?)?)?;
        }
        Ok(list)
    }

    /// Says why a request is allowed or denied, layer by layer: with `format="text"` the text
    /// `casepol explain` prints, with `format="dict"` the trace of `casepol explain --format
    /// json`. A request that cannot be resolved is explained as the deny it is.
    #[pyo3(signature = (entities, principal, action, resource = None, *, module = None, target = None, context = None, format = "text"))]
    #[allow(clippy::too_many_arguments)]
    fn explain<'py>(
        &self,
        py: Python<'py>,
        entities: PyRef<'_, Entities>,
        principal: String,
        action: String,
        resource: Option<String>,
        module: Option<String>,
        target: Option<String>,
        context: Option<&Bound<'_, PyAny>>,
        format: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        let as_dict = match format {
            "text" => false,
            "dict" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown format `{other}`: expected `text` or `dict`"
                )))
            }
        };
        let context = context_map(py, context)?;
        let request = make_request(principal, action, resource, module, target, context);
        let policy = &self.inner;
        let data = entities.snapshot.entities();
        let text = py.detach(|| {
            let trace = policy.explain(data, &request);
            match as_dict {
                true => serde_json::to_string(&trace).map_err(|e| e.to_string()),
                false => Ok(policy.explain_text(&trace)),
            }
        });
        let text = text.map_err(PyValueError::new_err)?;
        match as_dict {
            true => from_json_text(py, &text),
            false => text.into_bound_py_any(py),
        }
    }

    /// Who may do `action` on `resource`, and why: the dict of `casepol who-can --format
    /// json` (`allowed`: each user with the grants, rules and codes that let them in;
    /// `denied`: how many are not allowed). Raises `RequestError` for an unknown name.
    #[pyo3(signature = (entities, action, resource, *, module = None, context = None))]
    fn who_can<'py>(
        &self,
        py: Python<'py>,
        entities: PyRef<'_, Entities>,
        action: Cow<'_, str>,
        resource: Cow<'_, str>,
        module: Option<Cow<'_, str>>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let entities: &Entities = &entities;
        let context = context_map(py, context)?;
        let answer = py.detach(|| {
            let q = self.query(entities, context);
            q.who_can(&action, &resource, module.as_deref())
                .map(|w| serde_json::to_string(&w).map_err(|e| e.to_string()))
        });
        match answer {
            Ok(text) => from_json_text(py, &text.map_err(PyValueError::new_err)?),
            Err(e) => Err(request_error(py, &e)),
        }
    }

    /// Every action's decision for `principal` on `resource`, and every transition out of its
    /// case's state: the dict of `casepol actions --format json` (`allowed`, `decisions`,
    /// `transitions`, `note`). Raises `RequestError` for an unknown name.
    #[pyo3(signature = (entities, principal, resource, *, module = None, context = None))]
    fn actions<'py>(
        &self,
        py: Python<'py>,
        entities: PyRef<'_, Entities>,
        principal: Cow<'_, str>,
        resource: Cow<'_, str>,
        module: Option<Cow<'_, str>>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let entities: &Entities = &entities;
        let context = context_map(py, context)?;
        let answer = py.detach(|| -> Result<String, RequestError> {
            let q = self.query(entities, context.clone());
            let module = module.as_deref();
            let decisions = q.actions(&principal, &resource, module)?;
            let moves = q.transitions(&principal, &resource, module)?;
            let note = q.module_note(&resource, None, module)?;
            Ok(serde_json::to_string(&ActionsJson::new(
                &principal,
                &resource,
                module,
                &decisions,
                &moves,
                note.as_deref(),
            ))
            .unwrap_or_default())
        });
        match answer {
            Ok(text) => from_json_text(py, &text),
            Err(e) => Err(request_error(py, &e)),
        }
    }

    /// The resources `principal` may do `action` on, in id order: `{"resources": [ids],
    /// "next": cursor or None}`. With `limit`, one page of at most that many; pass `next` as
    /// `after` for the next page. `kind` keeps one kind of resource. Raises `RequestError`
    /// for an unknown name.
    #[pyo3(signature = (entities, principal, action, *, kind = None, module = None, context = None, limit = None, after = None))]
    #[allow(clippy::too_many_arguments)]
    fn list<'py>(
        &self,
        py: Python<'py>,
        entities: PyRef<'_, Entities>,
        principal: Cow<'_, str>,
        action: Cow<'_, str>,
        kind: Option<Cow<'_, str>>,
        module: Option<Cow<'_, str>>,
        context: Option<&Bound<'_, PyAny>>,
        limit: Option<usize>,
        after: Option<Cow<'_, str>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let entities: &Entities = &entities;
        if limit == Some(0) {
            return Err(PyValueError::new_err("`limit` must be at least 1"));
        }
        let context = context_map(py, context)?;
        let answer = py.detach(|| {
            let q = self.query(entities, context);
            let listing = q.list(&principal, &action, module.as_deref(), kind.as_deref())?;
            let page = listing.page(after.as_deref(), limit.unwrap_or(usize::MAX));
            let ids = entities.snapshot.entities();
            let resources: Vec<String> = page
                .resources
                .iter()
                .map(|&r| ids.resource_id(r).to_string())
                .collect();
            Ok::<_, RequestError>((resources, page.next))
        });
        match answer {
            Ok((resources, next)) => {
                let d = PyDict::new(py);
                d.set_item(intern!(py, "resources"), resources)?;
                d.set_item(intern!(py, "next"), next)?;
                Ok(d)
            }
            Err(e) => Err(request_error(py, &e)),
        }
    }

    /// A SQL condition selecting the resources `principal` may do `action` on, in the layout
    /// of docs/schema.*.sql: `{"dialect", "select", "where", "params"}`, the value of
    /// placeholder `n` at `params[n - 1]`. `dialect` is `"postgres"` or `"sqlite"`. Raises
    /// `RequestError` for an unknown name.
    #[pyo3(signature = (entities, principal, action, dialect = "postgres", *, module = None, context = None))]
    #[allow(clippy::too_many_arguments)]
    fn filter<'py>(
        &self,
        py: Python<'py>,
        entities: PyRef<'_, Entities>,
        principal: Cow<'_, str>,
        action: Cow<'_, str>,
        dialect: &str,
        module: Option<Cow<'_, str>>,
        context: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let entities: &Entities = &entities;
        let dialect = match dialect {
            "postgres" => casepol::query::sql::Dialect::Postgres,
            "sqlite" => casepol::query::sql::Dialect::Sqlite,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown dialect `{other}`: expected `postgres` or `sqlite`"
                )))
            }
        };
        let context = context_map(py, context)?;
        let answer = py.detach(|| {
            let q = self.query(entities, context);
            q.filter(&principal, &action, module.as_deref(), dialect)
                .map(|f| serde_json::to_string(&json::FilterJson::new(&f)).unwrap_or_default())
        });
        match answer {
            Ok(text) => from_json_text(py, &text),
            Err(e) => Err(request_error(py, &e)),
        }
    }

    /// Applies a change set (`{"changes": [...]}`, docs/data-formats.md §4; a `str`, `bytes`
    /// or dict) to `entities`, all or nothing, and returns an `Applied`: the next version and
    /// who gained or lost which access. `entities` is left as it was. A change set with
    /// problems raises `ChangeSetError`, with every problem, and applies nothing.
    fn apply(
        &self,
        py: Python<'_>,
        entities: PyRef<'_, Entities>,
        changes: &Bound<'_, PyAny>,
    ) -> PyResult<Applied> {
        let entities: &Entities = &entities;
        let text = json_text(py, changes, "changes")?;
        let policy = &self.inner;
        let outcome = py.detach(|| {
            let changes = ChangeSet::from_json(&text)?;
            let applied = live::apply(policy, &entities.snapshot, &changes)?;
            let groups = live::group(&applied.events);
            let json = serde_json::to_string(&AppliedJson::new(
                None,
                applied.snapshot.version(),
                &applied.events,
                &groups,
                &changes,
            ))
            .unwrap_or_default();
            Ok::<_, live::ChangeSetError>((applied.snapshot, json))
        });
        let (snapshot, json) = outcome.map_err(|e| change_set_error(py, &e))?;
        let answer = from_json_text(py, &json)?;
        let version = snapshot.version();
        Ok(Applied {
            entities: Py::new(py, Entities::new(snapshot))?,
            version,
            events: answer.get_item(intern!(py, "events"))?.unbind(),
            groups: answer.get_item(intern!(py, "groups"))?.unbind(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<casepol.Policy with {} warning(s)>",
            self.inner.warnings().len()
        )
    }
}

/// casepol: a declarative access-policy language for case-management systems.
#[pymodule]
fn _casepol(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Policy>()?;
    m.add_class::<Entities>()?;
    m.add_class::<Decision>()?;
    m.add_class::<Rule>()?;
    m.add_class::<Applied>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
