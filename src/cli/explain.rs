//! `casepol explain`: why a request is allowed or denied, layer by layer.

use super::*;

pub(super) fn explain(
    policy_path: &Path,
    entities_path: &Path,
    request: &str,
    format: Format,
) -> Exit {
    let (policy, entities) = match load_inputs(policy_path, entities_path) {
        Ok(inputs) => inputs,
        Err(e) => return e,
    };
    let req = match read_request(request) {
        Ok(r) => r,
        Err(e) => return e,
    };
    let trace = policy.explain(&entities, &req);
    let written = match format {
        Format::Human => write!(std::io::stdout().lock(), "{}", policy.explain_text(&trace))
            .map_err(|_| Exit::Error),
        Format::Json => emit(&serde_json::to_string_pretty(&trace).unwrap_or_default()),
    };
    if let Err(e) = written {
        return e;
    }
    if trace.error.is_some() {
        Exit::Error
    } else if trace.decision.allowed {
        Exit::Ok
    } else {
        Exit::Fail
    }
}
