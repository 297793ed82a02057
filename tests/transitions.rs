//! Transitions are edges: a request that names a target state is decided by the declared
//! transitions alone, whatever the allow rules say; `Query::transitions` lists the moves a user
//! may take now; a target that is not a state of the case's type is an error, never an allow.
//! Each expected decision is re-derived by hand from the policy below.

mod common;

use casepol::query::Query;
use casepol::{Layer, Policy, Reason, Request, RequestErrorKind};

const POLICY: &str = r#"
role Superuser, Clerk, Reviewer;
action view, close, reopen, review;
group Admins { grants Superuser; }
group Clerks { grants Clerk; }
group Reviewers { grants Reviewer; }
case Case { relation owner; }
resource Note under Case { }
resource Contact { }

// Full access: every action in every state, for requests that name no target.
allow Superuser: *;
allow Clerk, Reviewer: view;

casetype Claim {
  states Open, Review, Closed;
  initial Open;
  final Closed;
  transition review: Open -> Review by Clerk, owner;
  transition close: Review -> Closed by Reviewer;
  transition reopen: Review -> Open by Reviewer;
}
"#;

const ENTITIES: &str = r#"{
  "users": [
    {"id": "root", "groups": ["Admins"]},
    {"id": "cleo", "groups": ["Clerks"]},
    {"id": "rita", "groups": ["Reviewers"]},
    {"id": "olga", "groups": []}
  ],
  "resources": [
    {"id": "c-open", "kind": "Case", "type": "Claim", "state": "Open", "relations": {"owner": ["olga"]}},
    {"id": "c-review", "kind": "Case", "type": "Claim", "state": "Review"},
    {"id": "n1", "kind": "Note", "parent": "c-open"},
    {"id": "k1", "kind": "Contact"}
  ]
}"#;

fn world() -> (Policy, casepol::Entities) {
    let policy = Policy::from_source("claim.casepol", POLICY).expect("the policy checks");
    let entities = policy.load_entities(ENTITIES).expect("the entities load");
    (policy, entities)
}

fn decide(who: &str, action: &str, resource: &str, target: &str) -> casepol::Decision {
    let (policy, entities) = world();
    let request = Request::new(who, action, Some(resource)).to_state(target);
    let d = policy.is_allowed(&entities, &request);
    // The reference evaluator (what `explain` shows) agrees.
    assert_eq!(
        policy.explain(&entities, &request).decision,
        d,
        "{request:?}"
    );
    d
}

#[test]
fn full_access_cannot_take_an_undeclared_edge() {
    // The only `close` edge leaves Review; from Open, `allow Superuser: *` does not help.
    let d = decide("root", "close", "c-open", "Closed");
    assert_eq!(
        (d.allowed, d.layer, d.reason),
        (false, Layer::Transition, Reason::NoTransition)
    );
    // A declared edge, given to Reviewer only: Superuser is not among its subjects.
    let d = decide("root", "close", "c-review", "Closed");
    assert_eq!(
        (d.allowed, d.layer, d.reason),
        (false, Layer::Transition, Reason::TransitionNotGranted)
    );
    // An edge to another target by the same action is not this move.
    let d = decide("rita", "close", "c-review", "Open");
    assert_eq!((d.allowed, d.reason), (false, Reason::NoTransition));
}

#[test]
fn a_declared_edge_is_taken_by_its_subjects() {
    let d = decide("rita", "close", "c-review", "Closed");
    assert_eq!((d.allowed, d.layer), (true, Layer::Data));
    let d = decide("rita", "reopen", "c-review", "Open");
    assert!(d.allowed);
    // A relation in `by`: the owner moves her own claim on.
    let d = decide("olga", "review", "c-open", "Review");
    assert!(d.allowed);
    // A request about a resource under the case moves the case: its anchor's state counts.
    let d = decide("cleo", "review", "n1", "Review");
    assert!(d.allowed);
}

#[test]
fn without_a_target_a_transition_is_still_an_allow_in_its_source_states() {
    let (policy, entities) = world();
    // Unchanged for requests that name no target: Superuser's `*` allows `close` anywhere.
    let d = policy.is_allowed(&entities, &Request::new("root", "close", Some("c-open")));
    assert!(d.allowed);
    let d = policy.is_allowed(&entities, &Request::new("rita", "close", Some("c-review")));
    assert!(d.allowed);
}

#[test]
fn a_target_that_is_not_a_state_is_an_error() {
    let (policy, entities) = world();
    let cases = [
        (
            Request::new("rita", "close", Some("c-review")).to_state("Closd"),
            "case type `Claim` has no state `Closd`",
            Some("did you mean `Closed`?"),
        ),
        (
            Request::new("rita", "view", Some("k1")).to_state("Open"),
            "resource `k1` is in no case, so it has no workflow state to move to `Open`",
            Some("remove `target` from the request, or ask about the case"),
        ),
    ];
    for (request, message, help) in cases {
        let r = policy.authorize(&entities, &request);
        assert!(!r.allowed());
        let e = r.error.expect("an error");
        assert_eq!(e.kind, RequestErrorKind::UnknownTarget);
        assert_eq!(e.message, message);
        assert_eq!(e.help.as_deref(), help);
    }
}

#[test]
fn the_request_json_takes_a_target() {
    let r = Request::from_json(
        r#"{"principal": "rita", "action": "close", "resource": "c-review", "target": "Closed"}"#,
    )
    .expect("a request");
    assert_eq!(r.target.as_deref(), Some("Closed"));
    assert_eq!(
        serde_json::to_string(&r).expect("serializes"),
        r#"{"principal":"rita","action":"close","resource":"c-review","target":"Closed"}"#
    );
}

#[test]
fn transitions_lists_the_moves_out_of_the_current_state() {
    let (policy, entities) = world();
    let q = Query::new(&policy, &entities);
    let show = |who: &str, res: &str| -> Vec<String> {
        q.transitions(who, res, None)
            .expect("answers")
            .into_iter()
            .map(|m| {
                format!(
                    "{} {} -> {}: {}",
                    m.action,
                    m.from,
                    m.to,
                    if m.decision.allowed {
                        "allow".to_string()
                    } else {
                        m.decision.reason.name().to_string()
                    }
                )
            })
            .collect()
    };
    assert_eq!(
        show("rita", "c-review"),
        [
            "close Review -> Closed: allow",
            "reopen Review -> Open: allow"
        ]
    );
    assert_eq!(
        show("root", "c-review"),
        [
            "close Review -> Closed: transition_not_granted",
            "reopen Review -> Open: transition_not_granted"
        ]
    );
    assert_eq!(show("cleo", "c-open"), ["review Open -> Review: allow"]);
    // Nobody else holds a subject on the claim: the scope layer denies.
    assert_eq!(
        show("olga", "c-review"),
        [
            "close Review -> Closed: not_in_scope",
            "reopen Review -> Open: not_in_scope"
        ]
    );
    assert!(show("rita", "k1").is_empty());
    // Each listed decision is the one a request naming that target gets.
    for who in ["root", "cleo", "rita", "olga"] {
        for res in ["c-open", "c-review", "n1"] {
            for m in q.transitions(who, res, None).expect("answers") {
                let request = Request::new(who, &m.action, Some(res)).to_state(&m.to);
                assert_eq!(m.decision, policy.is_allowed(&entities, &request));
            }
        }
    }
}

/// A batch mixes lines with and without a target: the fast reader of plain lines leaves the
/// target out, never carrying one over from the line before.
#[test]
fn a_batch_reads_targets_line_by_line() {
    let dir = std::env::temp_dir().join(format!("casepol-transitions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let lines = dir.join("moves.jsonl");
    std::fs::write(
        &lines,
        concat!(
            r#"{"principal": "hanna", "action": "submit", "resource": "case-review", "module": "Cases", "target": "DocumentsLoaded"}"#,
            "\n",
            r#"{"principal": "hanna", "action": "access", "resource": "case-review", "module": "Cases"}"#,
            "\n",
            r#"{"principal": "hanna", "action": "submit", "resource": "case-start", "module": "Cases", "target": "Done"}"#,
            "\n",
        ),
    )
    .expect("written");
    let run = common::expect(
        &[
            "check",
            "policies/efob",
            "--entities",
            "policies/efob/entities.json",
            "--requests",
            lines.to_str().expect("a UTF-8 path"),
            "--format",
            "json",
        ],
        // A line that cannot be decided makes the run an error (exit 2).
        common::ERROR,
    );
    let _ = std::fs::remove_dir_all(&dir);
    let layers: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            format!("{} {} {}", v["decision"], v["layer"], v["reason"])
        })
        .collect();
    assert_eq!(
        layers,
        [
            r#""deny" "transition" "no_transition""#,
            r#""allow" "data" "allowed""#,
            r#""deny" "request" "error""#,
        ]
    );
}
