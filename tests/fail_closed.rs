//! Fail closed: every error on the decision path is a deny (or an error), never an allow, in
//! every entry point an application can use: `is_allowed`, `resolve` + `decide`, `explain`, and
//! the queries. One test per kind of error; the bad-input catalogue (`tests/bad_input.rs`)
//! covers the command line.

use casepol::RequestErrorKind;
use casepol::{Decision, Layer, Policy, Reason, Request};

const POLICY: &str = r#"
    role Clerk;
    action view;
    permission export;
    module Cases { actions view; }
    group Clerks { grants Clerk; permits export; }
    case Case { attr title: string; }
    casetype Standard { states Open; initial Open; }
    allow Clerk: view;
"#;

const ENTITIES: &str = r#"{
    "users": [{"id": "ann", "groups": ["Clerks"]}],
    "resources": [{"id": "c1", "kind": "Case", "type": "Standard", "state": "Open",
                   "attrs": {"title": "t"}}]
}"#;

fn policy() -> Policy {
    Policy::from_source("fail_closed.casepol", POLICY).unwrap_or_else(|e| panic!("{e}"))
}

/// Asserts that `request` is an error of `kind` and that no entry point allows it.
fn refused(request: Request, kind: RequestErrorKind) {
    let policy = policy();
    let entities = policy.load_entities(ENTITIES).unwrap();
    let err = policy.resolve(&entities, &request).unwrap_err();
    assert_eq!(err.kind, kind, "{err}");
    assert!(
        err.help.is_some(),
        "every request error says how to fix it: {err}"
    );
    let decision = policy.is_allowed(&entities, &request);
    assert_eq!(decision, Decision::ERROR);
    assert!(!decision.allowed);
    assert_eq!(
        (decision.layer, decision.reason),
        (Layer::Request, Reason::Error)
    );
    let trace = policy.explain(&entities, &request);
    assert!(!trace.decision.allowed);
    assert_eq!(trace.error.as_ref().map(|e| e.kind), Some(kind));
}

#[test]
fn the_same_request_without_the_error_is_allowed() {
    // So that each test below fails because of its one error, not because of something else.
    let policy = policy();
    let entities = policy.load_entities(ENTITIES).unwrap();
    assert!(
        policy
            .is_allowed(&entities, &Request::new("ann", "view", Some("c1")))
            .allowed
    );
    assert!(
        policy
            .is_allowed(
                &entities,
                &Request::new("ann", "view", Some("c1")).via("Cases")
            )
            .allowed
    );
    assert!(
        policy
            .is_allowed(&entities, &Request::new("ann", "export", None))
            .allowed
    );
}

#[test]
fn unknown_principal() {
    refused(
        Request::new("bob", "view", Some("c1")),
        RequestErrorKind::UnknownPrincipal,
    );
}

#[test]
fn principal_that_is_a_role_or_group() {
    refused(
        Request::new("Clerk", "view", Some("c1")),
        RequestErrorKind::UnknownPrincipal,
    );
    refused(
        Request::new("Clerks", "view", Some("c1")),
        RequestErrorKind::UnknownPrincipal,
    );
}

#[test]
fn unknown_resource() {
    refused(
        Request::new("ann", "view", Some("c2")),
        RequestErrorKind::UnknownResource,
    );
}

#[test]
fn action_without_a_resource() {
    refused(
        Request::new("ann", "view", None),
        RequestErrorKind::UnknownResource,
    );
}

#[test]
fn unknown_action() {
    refused(
        Request::new("ann", "delete", Some("c1")),
        RequestErrorKind::UnknownAction,
    );
}

#[test]
fn unknown_module() {
    refused(
        Request::new("ann", "view", Some("c1")).via("Billing"),
        RequestErrorKind::UnknownModule,
    );
}

#[test]
fn permission_with_a_resource() {
    refused(
        Request::new("ann", "export", Some("c1")),
        RequestErrorKind::PermissionTakesNoResource,
    );
}

#[test]
fn names_differ_only_in_case() {
    // Names are case-sensitive: `Ann` is not `ann`, and `View` is not `view`.
    refused(
        Request::new("Ann", "view", Some("c1")),
        RequestErrorKind::UnknownPrincipal,
    );
    refused(
        Request::new("ann", "View", Some("c1")),
        RequestErrorKind::UnknownAction,
    );
}

/// Entity data that does not fit the policy never loads, so no decision can be made with it.
#[test]
fn attribute_missing_from_an_entity() {
    let json = ENTITIES.replace(r#""attrs": {"title": "t"}"#, r#""attrs": {}"#);
    let errors = policy().load_entities(&json).unwrap_err();
    assert!(
        errors[0].message.contains("missing attribute `title`"),
        "{errors:?}"
    );
}

#[test]
fn type_mismatch_in_entity_data() {
    let json = ENTITIES.replace(r#""title": "t""#, r#""title": ["t"]"#);
    let errors = policy().load_entities(&json).unwrap_err();
    assert!(
        errors[0].message.contains("has type `string`"),
        "{errors:?}"
    );
}

#[test]
fn state_not_in_the_case_type() {
    let json = ENTITIES.replace(r#""state": "Open""#, r#""state": "Archived""#);
    assert!(policy().load_entities(&json).is_err());
}

#[test]
fn a_policy_with_errors_yields_no_policy() {
    let broken = POLICY.replace("allow Clerk: view;", "allow Clerk: veiw;");
    assert!(Policy::from_source("broken.casepol", &broken).is_err());
}

/// Entities loaded for one policy, used with another: an error, whatever the two policies say.
#[test]
fn entities_of_another_policy() {
    let a = policy();
    let b = policy();
    let entities = a.load_entities(ENTITIES).unwrap();
    let request = Request::new("ann", "view", Some("c1"));
    assert!(a.is_allowed(&entities, &request).allowed);
    let err = b.resolve(&entities, &request).unwrap_err();
    assert_eq!(err.kind, RequestErrorKind::MismatchedEntities, "{err}");
    assert_eq!(b.is_allowed(&entities, &request), Decision::ERROR);
    // A request resolved with the right policy, decided by the other one.
    let resolved = a.resolve(&entities, &request).unwrap();
    assert_eq!(b.decide(&entities, &resolved), Decision::ERROR);
}

/// A request resolved against one set of entities and decided with another: its ids would name
/// other users and resources there, so it is an error, never their decision.
#[test]
fn request_resolved_against_other_entities() {
    let policy = policy();
    let first = policy.load_entities(ENTITIES).unwrap();
    // The same ids in another order: index 0 is `bob`, who is in no group.
    let second = policy
        .load_entities(&ENTITIES.replace(
            r#""users": [{"id": "ann", "groups": ["Clerks"]}]"#,
            r#""users": [{"id": "bob"}, {"id": "ann", "groups": ["Clerks"]}]"#,
        ))
        .unwrap();
    let request = Request::new("ann", "view", Some("c1"));
    let resolved = policy.resolve(&first, &request).unwrap();
    assert!(policy.decide(&first, &resolved).allowed);
    assert_eq!(policy.decide(&second, &resolved), Decision::ERROR);
    let trace = casepol::internal::reference::evaluate_resolved(
        policy.compiled(),
        &second,
        &request,
        &resolved,
    );
    assert_eq!(trace.decision, Decision::ERROR);
    assert_eq!(
        trace.error.map(|e| e.kind),
        Some(RequestErrorKind::MismatchedEntities)
    );
    let rules = casepol::internal::vm::determining_rules(
        policy.compiled(),
        &second,
        &resolved,
        &Decision::ERROR,
    );
    assert!(rules.is_empty());
}

/// Queries refuse entities loaded for another policy rather than answer from the wrong tables.
#[test]
fn queries_with_entities_of_another_policy() {
    let a = policy();
    let b = policy();
    let entities = a.load_entities(ENTITIES).unwrap();
    let kind = casepol::query::QueryErrorKind::MismatchedEntities;
    let own = casepol::query::Query::new(&a, &entities);
    assert_eq!(own.allowed_actions("ann", "c1", None).unwrap(), ["view"]);
    let other = casepol::query::Query::new(&b, &entities);
    assert_eq!(other.who_can("view", "c1", None).unwrap_err().kind, kind);
    assert_eq!(other.actions("ann", "c1", None).unwrap_err().kind, kind);
    assert_eq!(
        other.list("ann", "view", None, None).err().map(|e| e.kind),
        Some(kind)
    );
    assert_eq!(other.residual("ann", "view", None).unwrap_err().kind, kind);
}

/// A policy before a reload; the reload adds `deny Contractor: export;`.
const BEFORE_RELOAD: &str = r#"
    role Staff, Contractor;
    action view, export;
    group Employees { grants Staff; }
    group Contractors { grants Contractor; }
    resource Note { attr title: string; }
    allow Staff, Contractor: view, export;
"#;

const RELOAD_ENTITIES: &str = r#"{
    "users": [{"id": "carl", "groups": ["Contractors"]}, {"id": "sue", "groups": ["Employees"]}],
    "resources": [{"id": "n1", "kind": "Note", "attrs": {"title": "t"}}]
}"#;

/// After a reload that adds a deny, the entities loaded with the new policy and asked with the
/// stale one: every public query entry point is an error, never the stale policy's allow. (On
/// the code before this test, `query::actions` allowed the contractor to export and the SQL
/// filter selected every resource of the kind: `WHERE r.kind = ?1`.)
#[test]
fn every_query_refuses_entities_of_another_policy() {
    use casepol::query::sql::{self, Dialect};
    use casepol::query::{Query, QueryError, QueryErrorKind};
    let stale = Policy::from_source("stale.casepol", BEFORE_RELOAD).unwrap();
    let reloaded = Policy::from_source(
        "reloaded.casepol",
        &format!("{BEFORE_RELOAD}\ndeny Contractor: export;"),
    )
    .unwrap();
    let entities = reloaded.load_entities(RELOAD_ENTITIES).unwrap();
    // The two policies do differ on the question: the stale one, with its own entities, lets
    // the contractor export; the reloaded one does not.
    let stale_entities = stale.load_entities(RELOAD_ENTITIES).unwrap();
    let before = Query::new(&stale, &stale_entities);
    assert_eq!(
        before.allowed_actions("carl", "n1", None).unwrap(),
        ["view", "export"]
    );
    assert_eq!(
        before
            .filter("carl", "export", None, Dialect::Sqlite)
            .unwrap()
            .where_clause,
        "r.id IN (\n  SELECT r.id FROM resources r\n  WHERE r.kind = ?1)"
    );
    let after = Query::new(&reloaded, &entities);
    assert_eq!(after.allowed_actions("carl", "n1", None).unwrap(), ["view"]);
    assert!(after
        .list("carl", "export", None, None)
        .unwrap()
        .ids()
        .is_empty());
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        let filter = after.filter("carl", "export", None, dialect).unwrap();
        assert_eq!(filter.where_clause, "FALSE");
    }

    // The stale policy with the reloaded entities: every query is the same error.
    let mismatched = |e: QueryError| {
        assert_eq!(e.kind, QueryErrorKind::MismatchedEntities, "{e}");
        assert_eq!(e.message, "the entities were loaded for another policy");
        assert!(e
            .help
            .is_some_and(|h| h.contains("load entities with the policy")));
    };
    let q = Query::new(&stale, &entities);
    mismatched(q.who_can("export", "n1", None).unwrap_err());
    mismatched(q.actions("carl", "n1", None).unwrap_err());
    mismatched(q.allowed_actions("carl", "n1", None).unwrap_err());
    mismatched(q.list("carl", "export", None, None).err().unwrap());
    mismatched(q.list("carl", "export", None, Some("Note")).err().unwrap());
    mismatched(q.residual("carl", "export", None).unwrap_err());
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        mismatched(q.filter("carl", "export", None, dialect).unwrap_err());
    }
    // Unknown names do not get past the check either: the mix is reported first.
    mismatched(q.actions("nobody", "n1", None).unwrap_err());
    mismatched(sql::tables(&stale, &entities).unwrap_err());
    assert!(sql::tables(&reloaded, &entities).is_ok());

    // A residual computed by the reloaded policy, used with the stale one: its ids are the
    // reloaded policy's, so compiling, printing or evaluating it with another is an error.
    let residual = after.residual("carl", "export", None).unwrap();
    let other_policy = |e: QueryError| {
        assert_eq!(e.kind, QueryErrorKind::MismatchedPolicy, "{e}");
        assert_eq!(e.message, "the residual was computed for another policy");
        assert!(e.help.is_some());
    };
    for dialect in [Dialect::Sqlite, Dialect::Postgres] {
        other_policy(sql::compile(&stale, &residual, dialect).unwrap_err());
        assert!(sql::compile(&reloaded, &residual, dialect).is_ok());
    }
    other_policy(residual.json(&stale).err().unwrap());
    assert!(residual.json(&reloaded).is_ok());
    other_policy(residual.eval(&stale, &entities, 0).unwrap_err());
    other_policy(residual.eval(&stale, &stale_entities, 0).unwrap_err());
    // Its own policy with entities loaded for another: the entities are refused.
    mismatched(residual.eval(&reloaded, &stale_entities, 0).unwrap_err());
    // Its own policy and entities: the answer, and a position past the resources is an error.
    assert_eq!(residual.eval(&reloaded, &entities, 0), Ok(false));
    let past = residual.eval(&reloaded, &entities, 1).unwrap_err();
    assert_eq!(past.kind, QueryErrorKind::UnknownResource, "{past}");

    // A condition checked by the stale policy, asked of the reloaded one's query: its ids are
    // the stale policy's, so list, residual and filter are errors, never an answer.
    let condition =
        casepol::query::Condition::new(&stale, "where", "resource.title == \"t\"", Some("Note"))
            .unwrap();
    let q = Query::new(&reloaded, &entities).with_condition(&condition);
    let checked_elsewhere = |e: QueryError| {
        assert_eq!(e.kind, QueryErrorKind::MismatchedPolicy, "{e}");
        assert_eq!(
            e.message,
            "the condition was checked against another policy"
        );
    };
    checked_elsewhere(q.list("sue", "view", None, None).err().unwrap());
    checked_elsewhere(q.residual("sue", "view", None).unwrap_err());
    checked_elsewhere(q.filter("sue", "view", None, Dialect::Sqlite).unwrap_err());
    let own =
        casepol::query::Condition::new(&reloaded, "where", "resource.title == \"t\"", Some("Note"))
            .unwrap();
    let q = Query::new(&reloaded, &entities).with_condition(&own);
    assert_eq!(q.list("sue", "view", None, None).unwrap().ids(), ["n1"]);
}

/// Two loads of the same entities for the same policy: a `Query` keeps its own, so a listing
/// never pages through one load with the order of another.
#[test]
fn a_listing_keeps_the_entities_it_was_built_from() {
    use casepol::query::Query;
    let policy = Policy::from_source("reload.casepol", BEFORE_RELOAD).unwrap();
    let first = policy.load_entities(RELOAD_ENTITIES).unwrap();
    // The same ids in another order, and one more resource.
    let second = policy
        .load_entities(&RELOAD_ENTITIES.replace(
            r#""resources": [{"id": "n1","#,
            r#""resources": [{"id": "n0", "kind": "Note", "attrs": {"title": "t"}}, {"id": "n1","#,
        ))
        .unwrap();
    let q1 = Query::new(&policy, &first);
    let q2 = Query::new(&policy, &second);
    let l1 = q1.list("sue", "view", None, None).unwrap();
    let l2 = q2.list("sue", "view", None, None).unwrap();
    assert_eq!(l1.ids(), ["n1"]);
    assert_eq!(l2.ids(), ["n0", "n1"]);
    // A second listing of the same query reuses its order, and still gives its own entities.
    assert_eq!(q1.list("carl", "view", None, None).unwrap().ids(), ["n1"]);
    let page = l2.page(None, 1);
    assert_eq!(page.next.as_deref(), Some("n0"));
    assert_eq!(second.resource_id(page.resources[0]), "n0");
}

/// `"read": null` (or `"write": null`) is not an absent field: it is an error, never "no
/// restriction". Only a field that is left out means "no own code".
#[test]
fn null_access_code_is_an_error_not_no_restriction() {
    let policy = Policy::from_source(
        "codes.casepol",
        r#"
        role Clerk;
        action view, edit;
        group Clerks { grants Clerk; }
        case Case { }
        casetype Standard { states Open; initial Open; }
        codes { read: view; write: edit; }
        allow Clerk: view, edit;
        "#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let entities = |read: &str, write: &str| {
        format!(
            r#"{{"users": [{{"id": "ann", "groups": ["Clerks"]}}],
                "resources": [{{"id": "c1", "kind": "Case", "type": "Standard", "state": "Open"{read}{write}}}]}}"#
        )
    };
    // Left out: no own code, so ann may view and edit.
    let loaded = policy.load_entities(&entities("", "")).unwrap();
    assert!(
        policy
            .is_allowed(&loaded, &Request::new("ann", "view", Some("c1")))
            .allowed
    );
    for (read, write, field) in [
        (r#", "read": null"#, "", "read"),
        ("", r#", "write": null"#, "write"),
    ] {
        let errors = policy.load_entities(&entities(read, write)).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].entity.as_deref(), Some("c1"));
        assert_eq!(errors[0].field.as_deref(), Some(field));
        assert!(errors[0].message.contains("null"), "{}", errors[0].message);
    }
}

/// A user whose id is the name of an access group would hold that group's access code without
/// being a member (WorkZone: `contact-2`'s write code is the group `Registry`). Codes have one
/// namespace, so such an id is refused when the entities load, with an error naming both.
#[test]
fn user_id_equal_to_a_group_name_is_refused() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/workzone");
    let mut sources = casepol::diagnostic::Sources::new();
    sources.add(
        "policy.casepol",
        std::fs::read_to_string(format!("{dir}/policy.casepol")).unwrap(),
    );
    let policy = Policy::from_sources(sources).unwrap_or_else(|e| panic!("{}", e.render()));
    let json = std::fs::read_to_string(format!("{dir}/entities.json")).unwrap();
    let entities = policy.load_entities(&json).unwrap();
    // As shipped, only the records office may edit contact-2: its write code is `Registry`.
    let edit = |who: &str| Request::new(who, "edit", Some("contact-2"));
    assert!(policy.is_allowed(&entities, &edit("RR")).allowed);
    assert!(!policy.is_allowed(&entities, &edit("AA")).allowed);
    let with_registry_user = json.replace(
        r#""users": ["#,
        r#""users": [{"id": "Registry", "groups": ["Employees"]},"#,
    );
    assert_ne!(with_registry_user, json);
    let errors = policy.load_entities(&with_registry_user).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(
        (e.entity.as_deref(), e.field.as_deref()),
        (Some("Registry"), Some("id"))
    );
    assert!(
        e.message.contains("user id `Registry`") && e.message.contains("access group `Registry`"),
        "{}",
        e.message
    );
}
