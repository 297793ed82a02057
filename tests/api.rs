//! The library API as an application uses it: load from disk with `?`, one call for the
//! decision with its determining rules, and errors that say what went wrong. The responses of
//! every bundled policy's tests are snapshotted as JSON.

use casepol::{LoadError, Policy, Request, RequestErrorKind, Response, RuleKind, TableCell};
use serde_json::{json, Value};
use std::error::Error;
use std::path::Path;

const POLICIES: [&str; 5] = ["combined", "efob", "tensorcase", "torq", "workzone"];

/// Every request of `policies/NAME/policy.test.json`, authorised: the response, which must
/// agree with `is_allowed` and with the test's expectation.
fn responses(name: &str) -> Result<Value, Box<dyn Error>> {
    let dir = Path::new("policies").join(name);
    let policy = Policy::from_path(&dir)?;
    let entities = policy.load_entities_from_path(dir.join("entities.json"))?;
    let tests: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("policy.test.json"))?)?;
    let mut out = Vec::new();
    for test in tests["tests"].as_array().ok_or("no tests")? {
        let request: Request = serde_json::from_value(test["request"].clone())?;
        let response = policy.authorize(&entities, &request);
        assert_eq!(
            response.decision,
            policy.is_allowed(&entities, &request),
            "{name}: {}",
            test["name"]
        );
        let expected = test["expect"].as_str() == Some("allow");
        assert_eq!(response.allowed(), expected, "{name}: {}", test["name"]);
        out.push(json!({"test": test["name"], "response": response}));
    }
    Ok(Value::Array(out))
}

#[test]
fn every_bundled_policy_test_gets_a_response_with_its_determining_rules(
) -> Result<(), Box<dyn Error>> {
    for name in POLICIES {
        insta::assert_json_snapshot!(format!("responses_{name}"), responses(name)?);
    }
    Ok(())
}

#[test]
fn a_table_cell_is_named_by_its_state_and_column() -> Result<(), Box<dyn Error>> {
    let policy = Policy::from_source(
        "cells.casepol",
        r#"
role HR, Clerk;
action view, edit;
group HRs { grants HR; }
case Case { }
casetype Complaint {
    states Open, Closed;
    initial Open;
    table {
           | HR          | Clerk
    Open   | +view +edit | +view
    Closed | +view -edit | -view
    }
}
"#,
    )?;
    let entities = policy.load_entities(
        r#"{"users": [{"id": "ann", "groups": ["HRs"]}],
            "resources": [{"id": "c1", "kind": "Case", "type": "Complaint", "state": "Closed"}]}"#,
    )?;
    let allow = policy.authorize(&entities, &Request::new("ann", "view", Some("c1")));
    let deny = policy.authorize(&entities, &Request::new("ann", "edit", Some("c1")));
    assert!(allow.allowed() && !deny.allowed());
    let cell = |r: &Response| r.determining.first().and_then(|d| d.cell.clone());
    let names = |c: Option<TableCell>| c.map(|c| c.to_string());
    assert_eq!(names(cell(&allow)), Some("Closed × HR".to_string()));
    assert_eq!(names(cell(&deny)), Some("Closed × HR".to_string()));
    assert_eq!(deny.determining[0].kind, RuleKind::TableCell);
    insta::assert_snapshot!(
        "table_cell_display",
        format!("{}\n{}", allow.determining[0], deny.determining[0])
    );
    Ok(())
}

#[test]
fn entities_of_another_policy_are_an_error_never_an_answer() -> Result<(), Box<dyn Error>> {
    let text = "role R; action view; group G { grants R; } resource Note { allow R: view; }";
    let one = Policy::from_source("one.casepol", text)?;
    let two = Policy::from_source("two.casepol", text)?;
    let entities = one.load_entities(
        r#"{"users": [{"id": "ann", "groups": ["G"]}], "resources": [{"id": "n1", "kind": "Note"}]}"#,
    )?;
    let request = Request::new("ann", "view", Some("n1"));
    assert!(one.authorize(&entities, &request).allowed());
    let response = two.authorize(&entities, &request);
    assert!(!response.allowed());
    assert!(response.determining.is_empty());
    assert_eq!(
        response.error.as_ref().map(|e| e.kind),
        Some(RequestErrorKind::MismatchedEntities)
    );
    insta::assert_json_snapshot!("mismatched_policy", response);
    Ok(())
}

#[test]
fn loading_errors_say_what_and_where_through_box_dyn_error() {
    fn load(policy: &str, entities: &str) -> Result<(), Box<dyn Error>> {
        let policy = Policy::from_path(policy)?;
        policy.load_entities_from_path(entities)?;
        Ok(())
    }
    let missing = load("tests/data/no-such-policy", "x.json").map_err(|e| e.to_string());
    let bad_entities =
        load("policies/efob", "policies/torq/entities.json").map_err(|e| e.to_string());
    let bad_policy = load("tests/data/syntax", "x.json").map_err(|e| e.to_string());
    let first_lines = |r: Result<(), String>| {
        r.expect_err("must fail")
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n")
    };
    insta::assert_snapshot!(
        "loading_errors",
        format!(
            "{}\n---\n{}\n---\n{}",
            first_lines(missing),
            first_lines(bad_entities),
            first_lines(bad_policy)
        )
    );
    // Each kind of failure is its own variant, for callers that match.
    assert!(matches!(
        Policy::from_path("tests/data/no-such-policy"),
        Err(LoadError::Read(_))
    ));
}

/// Every error type of the public API works with `?` into `Box<dyn Error + Send + Sync>`, so an
/// application can pass it across threads (a server) or keep it.
#[test]
fn every_public_error_is_a_std_error() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>() {}
    is_error::<casepol::PolicyError>();
    is_error::<casepol::EntitiesError>();
    is_error::<casepol::EntityError>();
    is_error::<casepol::LoadError>();
    is_error::<casepol::ReadError>();
    is_error::<casepol::JsonError>();
    is_error::<casepol::RequestError>();
}

/// A policy's warnings are located in the files it was read from, as its errors are.
#[test]
fn warnings_are_located_in_the_policys_sources() -> Result<(), Box<dyn Error>> {
    let policy = Policy::from_source(
        "hr.casepol",
        "role R, Unused;\naction view;\ngroup G { grants R; }\nresource N { allow R: view; }\n",
    )?;
    let unused: Vec<_> = (policy.warnings().iter())
        .filter(|w| w.message.contains("`Unused`"))
        .collect();
    assert_eq!(unused.len(), 1, "{:?}", policy.warnings());
    let span = unused[0].span();
    let sources = policy.sources();
    assert_eq!(sources.name(span.file), "hr.casepol");
    assert_eq!(sources.line_col(span), (1, 9));
    Ok(())
}
