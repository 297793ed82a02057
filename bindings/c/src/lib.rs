//! casepol's C ABI: a policy, its entities and prepared requests behind opaque handles, JSON
//! strings in and out, and errors as a [`CasepolStatus`] plus a message the caller frees.
//!
//! The rules every entry point keeps (docs/bindings.md):
//!
//! - Strings are NUL-terminated UTF-8, in and out. A string casepol returns is the caller's, to
//!   free with [`casepol_string_free`]; a handle is freed with its own `_free` function.
//! - Every out parameter is set to `NULL` (or `false`) on entry and written only on success: on
//!   any status but `CASEPOL_STATUS_OK` nothing is returned but the message.
//! - `err` may be `NULL` when the caller wants no message; otherwise it receives one on failure
//!   (and `NULL` on success).
//! - A `NULL` where a pointer is required is `CASEPOL_STATUS_NULL_ARGUMENT`, never a crash.
//! - No panic crosses the boundary: every body runs under `catch_unwind` and a panic is
//!   `CASEPOL_STATUS_PANIC`. Errors deny: no failure is ever reported as an allow.
//! - Handles are immutable once made: use one policy, entities or prepared request from any
//!   number of threads at once, and free it only when no call is using it.
//!
//! It uses casepol's public API only, as any application would.

mod json;

use casepol::live::{self, AppliedJson, ChangeSet, Snapshot};
use casepol::query::{ActionsJson, ListOrder, Query};
use casepol::{Entities, Policy, Request, Resolved};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// What a call came to. `CASEPOL_STATUS_OK` is 0; every other status is a failure, and the
/// call's message (`err`) says what went wrong and how to fix it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasepolStatus {
    /// The call succeeded (a deny is a success: it is an answer).
    Ok = 0,
    /// A pointer that must not be `NULL` was.
    NullArgument = 1,
    /// A string was not valid UTF-8.
    InvalidUtf8 = 2,
    /// A file could not be read, or is over its size limit.
    Read = 3,
    /// The policy does not check: the message holds every diagnostic, rendered.
    Policy = 4,
    /// The entities do not load: the message lists every problem.
    Entities = 5,
    /// A request, query or change set is not valid JSON of the expected shape, or is too large.
    Json = 6,
    /// The request names something the policy or the entities do not have (an unknown user,
    /// action, resource or module, a missing context, entities of another policy): it cannot
    /// be decided, which is a deny.
    Request = 7,
    /// A change set was refused: the message lists every problem; nothing was applied.
    ChangeSet = 8,
    /// casepol panicked; the call was abandoned and nothing is returned. A bug: please report.
    Panic = 9,
}

/// A checked and compiled policy (`casepol::Policy`). Immutable; share it across threads.
pub struct CasepolPolicy {
    policy: Policy,
}

/// One version of the entities (`casepol::live::Snapshot`), loaded for one policy. Immutable;
/// share it across threads. Applying a change set makes a new handle and leaves this one as
/// it was.
pub struct CasepolEntities {
    snapshot: Snapshot,
    /// The order `casepol_list` pages in, sorted at the first listing.
    order: ListOrder,
}

/// A request with its names resolved against one entities handle (`casepol::Resolved`): the
/// fast path, deciding without looking up a string. Valid only with the policy and entities
/// it was prepared for; with others, [`casepol_decide`] denies with `CASEPOL_STATUS_REQUEST`.
pub struct CasepolPrepared {
    resolved: Resolved,
}

/// A failure inside a call: the status to return and the message to give.
struct Failure {
    status: CasepolStatus,
    message: String,
}

impl Failure {
    #[cold]
    fn new(status: CasepolStatus, message: impl Into<String>) -> Failure {
        Failure {
            status,
            message: message.into(),
        }
    }
}

type Outcome<T> = Result<T, Failure>;

/// Makes a C string the caller frees with [`casepol_string_free`]. A NUL inside (which JSON
/// never holds, and text only when an input held one) becomes U+FFFD, so nothing is cut short.
fn to_c(text: String) -> *mut c_char {
    let c = match CString::new(text) {
        Ok(c) => c,
        Err(e) => {
            let text = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\u{FFFD}");
            // INVARIANT: every NUL was just replaced.
            CString::new(text).unwrap_or_default()
        }
    };
    c.into_raw()
}

/// Runs `body` with panics caught: clears `*err`, and on failure writes the message there
/// (when `err` is not `NULL`) and returns its status.
fn guard(err: *mut *mut c_char, body: impl FnOnce() -> Outcome<()>) -> CasepolStatus {
    if !err.is_null() {
        // SAFETY: the caller passes `err` as NULL or as a pointer to writable storage.
        unsafe { *err = ptr::null_mut() };
    }
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return CasepolStatus::Ok,
        Ok(Err(f)) => f,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            Failure::new(
                CasepolStatus::Panic,
                format!("casepol panicked ({what}); this is a bug, please report it"),
            )
        }
    };
    if !err.is_null() {
        // SAFETY: as above.
        unsafe { *err = to_c(failure.message) };
    }
    failure.status
}

/// Reads a required C string.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string that outlives the call.
unsafe fn c_str<'a>(p: *const c_char, what: &str) -> Outcome<&'a str> {
    if p.is_null() {
        return Err(Failure::new(
            CasepolStatus::NullArgument,
            format!("`{what}` is NULL"),
        ));
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|e| {
        Failure::new(
            CasepolStatus::InvalidUtf8,
            format!("`{what}` is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })
}

/// Reads an optional C string: `NULL` is `None`.
///
/// # Safety
/// As [`c_str`].
unsafe fn optional<'a>(p: *const c_char, what: &str) -> Outcome<Option<&'a str>> {
    match p.is_null() {
        true => Ok(None),
        // SAFETY: the caller's contract.
        false => unsafe { c_str(p, what) }.map(Some),
    }
}

/// Borrows a handle.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library.
unsafe fn handle<'a, T>(p: *const T, what: &str) -> Outcome<&'a T> {
    // SAFETY: the caller's contract.
    unsafe { p.as_ref() }
        .ok_or_else(|| Failure::new(CasepolStatus::NullArgument, format!("`{what}` is NULL")))
}

/// Checks an out parameter and clears it.
///
/// # Safety
/// `p` is NULL or points to writable storage for a `T`.
unsafe fn clear_out<T>(p: *mut *mut T, what: &str) -> Outcome<()> {
    if p.is_null() {
        return Err(Failure::new(
            CasepolStatus::NullArgument,
            format!("`{what}` is NULL"),
        ));
    }
    // SAFETY: the caller's contract.
    unsafe { *p = ptr::null_mut() };
    Ok(())
}

/// Parses JSON input of at most `casepol::limits::MAX_REQUEST_BYTES`.
fn parse<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Outcome<T> {
    let limit = casepol::limits::MAX_REQUEST_BYTES;
    if json.len() > limit {
        return Err(Failure::new(
            CasepolStatus::Json,
            format!(
                "the {what} is {}, more than the limit of {}",
                casepol::limits::bytes(json.len()),
                casepol::limits::bytes(limit)
            ),
        ));
    }
    serde_json::from_str(json)
        .map_err(|e| Failure::new(CasepolStatus::Json, format!("invalid {what}: {e}")))
}

/// Parses a request, as `casepol check --request` reads one.
fn request(json: &str) -> Outcome<Request> {
    let limit = casepol::limits::MAX_REQUEST_BYTES;
    if json.len() > limit {
        return Err(Failure::new(
            CasepolStatus::Json,
            format!(
                "the request is {}, more than the limit of {}",
                casepol::limits::bytes(json.len()),
                casepol::limits::bytes(limit)
            ),
        ));
    }
    Request::from_json(json)
        .map_err(|e| Failure::new(CasepolStatus::Json, format!("invalid request: {e}")))
}

fn request_failure(e: casepol::RequestError) -> Failure {
    let message = match &e.help {
        Some(help) => format!("{}\nhelp: {help}", e.message),
        None => e.message.clone(),
    };
    Failure::new(CasepolStatus::Request, message)
}

fn to_json<T: serde::Serialize>(value: &T) -> Outcome<String> {
    serde_json::to_string(value).map_err(|e| {
        Failure::new(
            CasepolStatus::Panic,
            format!("the answer could not be written as JSON: {e}"),
        )
    })
}

/// A query of `entities` under `policy`, in `context` when given.
fn query_of<'a>(
    policy: &'a CasepolPolicy,
    entities: &'a CasepolEntities,
    context: Option<serde_json::Map<String, serde_json::Value>>,
) -> Query<'a> {
    let q = Query::with_order(
        &policy.policy,
        entities.snapshot.entities(),
        &entities.order,
    );
    match context {
        Some(c) => q.with_context(c),
        None => q,
    }
}

fn entities_handle(entities: Entities) -> *mut CasepolEntities {
    Box::into_raw(Box::new(CasepolEntities {
        snapshot: Snapshot::new(entities),
        order: ListOrder::new(),
    }))
}

/// The version of this library, as `"0.1.0"`: a static string, not to be freed.
#[no_mangle]
pub extern "C" fn casepol_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The name of a status, as `"CASEPOL_STATUS_POLICY"`: a static string, not to be freed.
/// An integer that is no status gives `"CASEPOL_STATUS_UNKNOWN"`.
#[no_mangle]
pub extern "C" fn casepol_status_name(status: i32) -> *const c_char {
    let name: &'static str = match status {
        0 => "CASEPOL_STATUS_OK\0",
        1 => "CASEPOL_STATUS_NULL_ARGUMENT\0",
        2 => "CASEPOL_STATUS_INVALID_UTF8\0",
        3 => "CASEPOL_STATUS_READ\0",
        4 => "CASEPOL_STATUS_POLICY\0",
        5 => "CASEPOL_STATUS_ENTITIES\0",
        6 => "CASEPOL_STATUS_JSON\0",
        7 => "CASEPOL_STATUS_REQUEST\0",
        8 => "CASEPOL_STATUS_CHANGE_SET\0",
        9 => "CASEPOL_STATUS_PANIC\0",
        _ => "CASEPOL_STATUS_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

/// Frees a string casepol returned. `NULL` is ignored.
///
/// # Safety
/// `s` is NULL or a string returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn casepol_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller's contract: it came from `CString::into_raw` in `to_c`.
        drop(unsafe { CString::from_raw(s) });
    }
}

/// Checks and compiles a policy from its source text; `name` is the file name diagnostics
/// show. On success `*out` is the policy, to free with [`casepol_policy_free`].
///
/// # Safety
/// `name` and `source` are NUL-terminated strings; `out` points to writable storage; `err` is
/// NULL or points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn casepol_policy_from_source(
    name: *const c_char,
    source: *const c_char,
    out: *mut *mut CasepolPolicy,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out, "out")? };
        let name = unsafe { c_str(name, "name")? };
        let source = unsafe { c_str(source, "source")? };
        let policy = Policy::from_source(name, source)
            .map_err(|e| Failure::new(CasepolStatus::Policy, e.render()))?;
        unsafe { *out = Box::into_raw(Box::new(CasepolPolicy { policy })) };
        Ok(())
    })
}

/// Reads, checks and compiles the policy at `path`: a `.casepol` file, or every `.casepol`
/// file directly in a directory. On success `*out` is the policy.
///
/// # Safety
/// As [`casepol_policy_from_source`].
#[no_mangle]
pub unsafe extern "C" fn casepol_policy_from_path(
    path: *const c_char,
    out: *mut *mut CasepolPolicy,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out, "out")? };
        let path = unsafe { c_str(path, "path")? };
        let policy = Policy::from_path(path).map_err(load_failure)?;
        unsafe { *out = Box::into_raw(Box::new(CasepolPolicy { policy })) };
        Ok(())
    })
}

fn load_failure(e: casepol::LoadError) -> Failure {
    let status = match &e {
        casepol::LoadError::Policy(_) => CasepolStatus::Policy,
        casepol::LoadError::Entities(_) => CasepolStatus::Entities,
        _ => CasepolStatus::Read,
    };
    let message = match e {
        casepol::LoadError::Policy(p) => p.render(),
        other => other.to_string(),
    };
    Failure::new(status, message)
}

/// How many warnings the policy's checker and lints gave (a policy with errors is never made).
///
/// # Safety
/// `policy` is NULL (which gives 0) or a live policy.
#[no_mangle]
pub unsafe extern "C" fn casepol_policy_warning_count(policy: *const CasepolPolicy) -> usize {
    // SAFETY: the caller's contract.
    match unsafe { policy.as_ref() } {
        Some(p) => p.policy.warnings().len(),
        None => 0,
    }
}

/// Frees a policy. `NULL` is ignored. Free the entities loaded for it first or after: they do
/// not borrow it, but no call may use either while it is freed.
///
/// # Safety
/// `policy` is NULL or a policy from this library, not yet freed and in use by no call.
#[no_mangle]
pub unsafe extern "C" fn casepol_policy_free(policy: *mut CasepolPolicy) {
    if !policy.is_null() {
        // SAFETY: the caller's contract: it came from `Box::into_raw`.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(policy) })));
    }
}

/// Loads and validates entities (JSON, docs/data-formats.md) for `policy`. On success `*out` is
/// version 1 of the entities, to free with [`casepol_entities_free`].
///
/// # Safety
/// `policy` is a live policy; `json` a NUL-terminated string; `out` points to writable
/// storage; `err` is NULL or points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn casepol_entities_load(
    policy: *const CasepolPolicy,
    json: *const c_char,
    out: *mut *mut CasepolEntities,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out, "out")? };
        let policy = unsafe { handle(policy, "policy")? };
        let json = unsafe { c_str(json, "json")? };
        let entities = policy
            .policy
            .load_entities(json)
            .map_err(|e| Failure::new(CasepolStatus::Entities, e.to_string()))?;
        unsafe { *out = entities_handle(entities) };
        Ok(())
    })
}

/// Reads and loads the entities file at `path` for `policy`. On success `*out` is version 1.
///
/// # Safety
/// As [`casepol_entities_load`].
#[no_mangle]
pub unsafe extern "C" fn casepol_entities_load_path(
    policy: *const CasepolPolicy,
    path: *const c_char,
    out: *mut *mut CasepolEntities,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out, "out")? };
        let policy = unsafe { handle(policy, "policy")? };
        let path = unsafe { c_str(path, "path")? };
        let entities = policy
            .policy
            .load_entities_from_path(path)
            .map_err(load_failure)?;
        unsafe { *out = entities_handle(entities) };
        Ok(())
    })
}

/// The version of the entities: 1 when loaded, one more for each change set applied since.
/// `NULL` gives 0.
///
/// # Safety
/// `entities` is NULL or a live entities handle.
#[no_mangle]
pub unsafe extern "C" fn casepol_entities_version(entities: *const CasepolEntities) -> u64 {
    // SAFETY: the caller's contract.
    match unsafe { entities.as_ref() } {
        Some(e) => e.snapshot.version(),
        None => 0,
    }
}

/// Frees entities. `NULL` is ignored.
///
/// # Safety
/// `entities` is NULL or an entities handle from this library, not yet freed and in use by no
/// call.
#[no_mangle]
pub unsafe extern "C" fn casepol_entities_free(entities: *mut CasepolEntities) {
    if !entities.is_null() {
        // SAFETY: the caller's contract: it came from `Box::into_raw`.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop(unsafe { Box::from_raw(entities) })
        }));
    }
}

/// Decides one request (JSON: `{"principal", "action", "resource"?, "module"?, "target"?,
/// "context"?}`) and says why. On success `*out_json` is
/// `{"decision": "allow"|"deny", "layer", "reason", "determining": [rules]}`, each rule with its
/// `kind`, `file`, `line`, `column` and `source`. A request that cannot be decided (an unknown
/// name) is `CASEPOL_STATUS_REQUEST`: a deny, with the message saying why.
///
/// # Safety
/// `policy` and `entities` are live handles; `request_json` a NUL-terminated string;
/// `out_json` points to writable storage; `err` is NULL or points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn casepol_check(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out_json, "out_json")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let req = request(unsafe { c_str(request_json, "request_json")? })?;
        let response = policy.policy.authorize(entities.snapshot.entities(), &req);
        if let Some(e) = response.error {
            return Err(request_failure(e));
        }
        let text = to_json(&json::CheckJson::new(&response))?;
        unsafe { *out_json = to_c(text) };
        Ok(())
    })
}

/// The fast path: decides whether `principal` may do `action` on `resource` (NULL for an
/// account permission) through `module` (NULL for none), without JSON and without a message
/// unless `err` asks for one. `*allowed` is the answer; it is `false` on every failure. A name
/// the policy or entities do not have is `CASEPOL_STATUS_REQUEST`, a deny.
///
/// # Safety
/// `policy` and `entities` are live handles; `principal` and `action` NUL-terminated strings,
/// `resource` and `module` NULL or NUL-terminated strings; `allowed` points to a writable
/// `bool`; `err` is NULL or points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn casepol_is_allowed(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    principal: *const c_char,
    action: *const c_char,
    resource: *const c_char,
    module: *const c_char,
    allowed: *mut bool,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        if allowed.is_null() {
            return Err(Failure::new(
                CasepolStatus::NullArgument,
                "`allowed` is NULL",
            ));
        }
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { *allowed = false };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let principal = unsafe { c_str(principal, "principal")? };
        let action = unsafe { c_str(action, "action")? };
        let resource = unsafe { optional(resource, "resource")? };
        let module = unsafe { optional(module, "module")? };
        let mut req = Request::new(principal, action, resource);
        if let Some(m) = module {
            req = req.via(m);
        }
        let entities = entities.snapshot.entities();
        let resolved = policy
            .policy
            .resolve(entities, &req)
            .map_err(request_failure)?;
        unsafe { *allowed = policy.policy.decide(entities, &resolved).allowed };
        Ok(())
    })
}

/// Resolves a request (JSON, as [`casepol_check`] reads it) against `entities` once, for
/// deciding it many times with [`casepol_decide`]. On success `*out` is the prepared request,
/// to free with [`casepol_prepared_free`].
///
/// # Safety
/// As [`casepol_check`], with `out` in place of `out_json`.
#[no_mangle]
pub unsafe extern "C" fn casepol_prepare(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    request_json: *const c_char,
    out: *mut *mut CasepolPrepared,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out, "out")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let req = request(unsafe { c_str(request_json, "request_json")? })?;
        let resolved = policy
            .policy
            .resolve(entities.snapshot.entities(), &req)
            .map_err(request_failure)?;
        unsafe { *out = Box::into_raw(Box::new(CasepolPrepared { resolved })) };
        Ok(())
    })
}

/// Decides a prepared request: no string is looked up and nothing is allocated. With a
/// policy or entities other than those it was prepared for, the answer is a deny and the
/// status `CASEPOL_STATUS_REQUEST`.
///
/// # Safety
/// `policy`, `entities` and `prepared` are live handles; `allowed` points to a writable `bool`.
#[no_mangle]
pub unsafe extern "C" fn casepol_decide(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    prepared: *const CasepolPrepared,
    allowed: *mut bool,
) -> CasepolStatus {
    guard(ptr::null_mut(), || {
        if allowed.is_null() {
            return Err(Failure::new(
                CasepolStatus::NullArgument,
                "`allowed` is NULL",
            ));
        }
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { *allowed = false };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let prepared = unsafe { handle(prepared, "prepared")? };
        let decision = policy
            .policy
            .decide(entities.snapshot.entities(), &prepared.resolved);
        if decision.reason == casepol::Reason::Error {
            return Err(Failure::new(
                CasepolStatus::Request,
                "the request was prepared for other entities or another policy",
            ));
        }
        unsafe { *allowed = decision.allowed };
        Ok(())
    })
}

/// Frees a prepared request. `NULL` is ignored.
///
/// # Safety
/// `prepared` is NULL or a prepared request from this library, not yet freed and in use by no
/// call.
#[no_mangle]
pub unsafe extern "C" fn casepol_prepared_free(prepared: *mut CasepolPrepared) {
    if !prepared.is_null() {
        // SAFETY: the caller's contract: it came from `Box::into_raw`.
        let _ = catch_unwind(AssertUnwindSafe(|| {
            drop(unsafe { Box::from_raw(prepared) })
        }));
    }
}

/// Explains a request (JSON, as [`casepol_check`] reads it) layer by layer: with `as_json`
/// false, the text `casepol explain` prints; with `as_json` true, the trace of
/// `casepol explain --format json`. A request that cannot be resolved is explained too (as the
/// deny it is).
///
/// # Safety
/// As [`casepol_check`].
#[no_mangle]
pub unsafe extern "C" fn casepol_explain(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    request_json: *const c_char,
    as_json: bool,
    out: *mut *mut c_char,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out, "out")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let req = request(unsafe { c_str(request_json, "request_json")? })?;
        let trace = policy.policy.explain(entities.snapshot.entities(), &req);
        let text = match as_json {
            true => to_json(&trace)?,
            false => policy.policy.explain_text(&trace),
        };
        unsafe { *out = to_c(text) };
        Ok(())
    })
}

/// Who may do an action on a resource, and why. `query_json` is `{"action", "resource",
/// "module"?, "context"?}`; `*out_json` is the JSON of `casepol who-can --format json`.
///
/// # Safety
/// As [`casepol_check`], with `query_json` in place of `request_json`.
#[no_mangle]
pub unsafe extern "C" fn casepol_who_can(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out_json, "out_json")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let q: json::WhoCanQuery = parse(unsafe { c_str(query_json, "query_json")? }, "query")?;
        let answer = query_of(policy, entities, q.context)
            .who_can(&q.action, &q.resource, q.module.as_deref())
            .map_err(request_failure)?;
        let text = to_json(&answer)?;
        unsafe { *out_json = to_c(text) };
        Ok(())
    })
}

/// Every action's decision for a user on a resource, and every transition out of its case's
/// state. `query_json` is `{"principal", "resource", "module"?, "context"?}`; `*out_json` is
/// the JSON of `casepol actions --format json`.
///
/// # Safety
/// As [`casepol_who_can`].
#[no_mangle]
pub unsafe extern "C" fn casepol_actions(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out_json, "out_json")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let q: json::ActionsQuery = parse(unsafe { c_str(query_json, "query_json")? }, "query")?;
        let query = query_of(policy, entities, q.context.clone());
        let module = q.module.as_deref();
        let decisions = query
            .actions(&q.principal, &q.resource, module)
            .map_err(request_failure)?;
        let moves = query
            .transitions(&q.principal, &q.resource, module)
            .map_err(request_failure)?;
        let note = query
            .module_note(&q.resource, None, module)
            .map_err(request_failure)?;
        let text = to_json(&ActionsJson::new(
            &q.principal,
            &q.resource,
            module,
            &decisions,
            &moves,
            note.as_deref(),
        ))?;
        unsafe { *out_json = to_c(text) };
        Ok(())
    })
}

/// The resources a user may do an action on, in id order, a page at a time. `query_json` is
/// `{"principal", "action", "kind"?, "module"?, "context"?, "limit"?, "after"?}`; `*out_json`
/// is `{"resources": [ids], "next": cursor or null}`: pass `next` as `after` for the next page.
///
/// # Safety
/// As [`casepol_who_can`].
#[no_mangle]
pub unsafe extern "C" fn casepol_list(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out_json, "out_json")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let q: json::ListQuery = parse(unsafe { c_str(query_json, "query_json")? }, "query")?;
        let limit = match q.limit {
            None => usize::MAX,
            Some(0) => {
                return Err(Failure::new(
                    CasepolStatus::Json,
                    "`limit` must be at least 1",
                ))
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let query = query_of(policy, entities, q.context);
        let listing = query
            .list(
                &q.principal,
                &q.action,
                q.module.as_deref(),
                q.kind.as_deref(),
            )
            .map_err(request_failure)?;
        let page = listing.page(q.after.as_deref(), limit);
        let ids = entities.snapshot.entities();
        let answer = json::ListJson {
            resources: page
                .resources
                .iter()
                .map(|&r| ids.resource_id(r).to_string())
                .collect(),
            next: page.next,
        };
        let text = to_json(&answer)?;
        unsafe { *out_json = to_c(text) };
        Ok(())
    })
}

/// A SQL condition selecting the resources a user may do an action on, with bound parameters.
/// `query_json` is `{"principal", "action", "dialect": "postgres"|"sqlite", "module"?,
/// "context"?}`; `*out_json` is `{"dialect", "select", "where", "params"}`: the whole query, its
/// condition, and the value of placeholder `n` at `params[n - 1]`.
///
/// # Safety
/// As [`casepol_who_can`].
#[no_mangle]
pub unsafe extern "C" fn casepol_filter(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    query_json: *const c_char,
    out_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out_json, "out_json")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let q: json::FilterQuery = parse(unsafe { c_str(query_json, "query_json")? }, "query")?;
        let filter = query_of(policy, entities, q.context)
            .filter(
                &q.principal,
                &q.action,
                q.module.as_deref(),
                q.dialect.into(),
            )
            .map_err(request_failure)?;
        let text = to_json(&json::FilterJson::new(&filter))?;
        unsafe { *out_json = to_c(text) };
        Ok(())
    })
}

/// Applies a change set (JSON, docs/data-formats.md §4) to `entities`, all or nothing. On
/// success `*out` is the next version of the entities (a new handle; `entities` is unchanged
/// and still valid) and `*out_events_json` is `{"version", "events", "groups"}`: who gained or
/// lost which access, as `casepol apply --format json` writes it. A refused change set is
/// `CASEPOL_STATUS_CHANGE_SET`, with every problem in the message.
///
/// # Safety
/// `policy` and `entities` are live handles; `changes_json` a NUL-terminated string; `out` and
/// `out_events_json` point to writable storage; `err` is NULL or points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn casepol_apply(
    policy: *const CasepolPolicy,
    entities: *const CasepolEntities,
    changes_json: *const c_char,
    out: *mut *mut CasepolEntities,
    out_events_json: *mut *mut c_char,
    err: *mut *mut c_char,
) -> CasepolStatus {
    guard(err, || {
        // SAFETY: the caller's contract, for every pointer below.
        unsafe { clear_out(out, "out")? };
        unsafe { clear_out(out_events_json, "out_events_json")? };
        let policy = unsafe { handle(policy, "policy")? };
        let entities = unsafe { handle(entities, "entities")? };
        let changes_text = unsafe { c_str(changes_json, "changes_json")? };
        let changes = ChangeSet::from_json(changes_text)
            .map_err(|e| Failure::new(CasepolStatus::ChangeSet, e.to_string()))?;
        let applied = live::apply(&policy.policy, &entities.snapshot, &changes)
            .map_err(|e| Failure::new(CasepolStatus::ChangeSet, e.to_string()))?;
        let groups = live::group(&applied.events);
        let text = to_json(&AppliedJson::new(
            None,
            applied.snapshot.version(),
            &applied.events,
            &groups,
            &changes,
        ))?;
        let next = Box::into_raw(Box::new(CasepolEntities {
            snapshot: applied.snapshot,
            order: ListOrder::new(),
        }));
        unsafe { *out = next };
        unsafe { *out_events_json = to_c(text) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_a_status_and_a_message() {
        let mut err: *mut c_char = ptr::null_mut();
        let status = guard(&mut err, || panic!("boom"));
        assert_eq!(status, CasepolStatus::Panic);
        // SAFETY: `guard` wrote a string made by `to_c`.
        let message = unsafe { CStr::from_ptr(err) }.to_str().map(String::from);
        unsafe { casepol_string_free(err) };
        assert_eq!(
            message.as_deref(),
            Ok("casepol panicked (boom); this is a bug, please report it")
        );
    }

    #[test]
    fn a_nul_inside_text_is_replaced() {
        let p = to_c("a\0b".into());
        // SAFETY: made by `to_c` just above.
        let back = unsafe { CStr::from_ptr(p) }.to_str().map(String::from);
        unsafe { casepol_string_free(p) };
        assert_eq!(back.as_deref(), Ok("a\u{FFFD}b"));
    }

    #[test]
    fn every_status_has_its_name() {
        for (status, name) in [
            (CasepolStatus::Ok, "OK"),
            (CasepolStatus::NullArgument, "NULL_ARGUMENT"),
            (CasepolStatus::InvalidUtf8, "INVALID_UTF8"),
            (CasepolStatus::Read, "READ"),
            (CasepolStatus::Policy, "POLICY"),
            (CasepolStatus::Entities, "ENTITIES"),
            (CasepolStatus::Json, "JSON"),
            (CasepolStatus::Request, "REQUEST"),
            (CasepolStatus::ChangeSet, "CHANGE_SET"),
            (CasepolStatus::Panic, "PANIC"),
        ] {
            // SAFETY: a static NUL-terminated string.
            let got = unsafe { CStr::from_ptr(casepol_status_name(status as i32)) };
            assert_eq!(got.to_str(), Ok(format!("CASEPOL_STATUS_{name}").as_str()));
        }
        let unknown = unsafe { CStr::from_ptr(casepol_status_name(42)) };
        assert_eq!(unknown.to_str(), Ok("CASEPOL_STATUS_UNKNOWN"));
    }
}
