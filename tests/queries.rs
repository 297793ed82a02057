//! Queries against the decisions they stand for, on every shipped example and on random worlds:
//! `actions` equals one VM decision per action, `list` equals the resources `check` allows and
//! pages concatenate to the whole list, and a residual evaluated on each resource equals the
//! VM's decision for every user, action and module.

mod common;
#[path = "common/world.rs"]
mod world;

use casepol::diagnostic::Sources;
use casepol::query::{self, Query};
use casepol::{Entities, Policy, Request};
use common::modules;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load_dir(dir: &Path) -> Policy {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "casepol"))
        .collect();
    files.sort();
    let mut sources = Sources::new();
    for f in files {
        sources.add(
            f.strip_prefix(root()).unwrap().display().to_string(),
            std::fs::read_to_string(&f).unwrap(),
        );
    }
    Policy::from_sources(sources).unwrap_or_else(|e| panic!("{}", e.render()))
}

/// A world to ask: its name, policy and entities, and the context its questions are asked in
/// (for a policy that declares one: the first context its tests give).
type World = (String, Policy, Entities, Option<Map<String, Value>>);

/// The context the tests of an example ask in, if any of them gives one.
fn test_context(dir: &Path) -> Option<Map<String, Value>> {
    let text = std::fs::read_to_string(dir.join("policy.test.json")).ok()?;
    let doc: Value = serde_json::from_str(&text).ok()?;
    doc["tests"]
        .as_array()?
        .iter()
        .find_map(|t| t["request"]["context"].as_object().cloned())
}

/// Every shipped example with its entities, and the test policy of this suite.
fn worlds() -> Vec<World> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("policies"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.push(root().join("tests/data/queries"));
    dirs.sort();
    for dir in dirs {
        let policy = load_dir(&dir);
        let text = std::fs::read_to_string(dir.join("entities.json")).unwrap();
        let entities = policy
            .load_entities(&text)
            .unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
        let context = test_context(&dir);
        out.push((dir.display().to_string(), policy, entities, context));
    }
    // Random worlds for the query test policy.
    for seed in 1..=3 {
        let policy = Policy::from_source("policy.casepol", world::POLICY).unwrap();
        let entities = policy
            .load_entities(&world::entities(seed, 60).to_string())
            .unwrap_or_else(|e| panic!("generated world {seed}: {e:?}"));
        out.push((format!("generated world {seed}"), policy, entities, None));
    }
    assert!(out.len() >= 9, "only {} worlds", out.len());
    out
}

fn actions_of(policy: &Policy) -> Vec<String> {
    policy
        .compiled()
        .ir()
        .actions
        .iter()
        .map(|a| a.name.clone())
        .collect()
}

fn request(
    user: &str,
    action: &str,
    resource: &str,
    module: &Option<String>,
    context: &Option<Map<String, Value>>,
) -> Request {
    let mut r = Request::new(user, action, Some(resource));
    r.context = context.clone();
    match module {
        Some(m) => r.via(m),
        None => r,
    }
}

/// The queries of a world, in its context.
fn query<'a>(
    policy: &'a Policy,
    entities: &'a Entities,
    context: &Option<Map<String, Value>>,
) -> Query<'a> {
    let q = Query::new(policy, entities);
    match context {
        Some(c) => q.with_context(c.clone()),
        None => q,
    }
}

#[test]
fn actions_equal_one_decision_per_action() {
    let mut checked = 0;
    for (name, policy, entities, context) in worlds() {
        let q = query(&policy, &entities, &context);
        for user in entities.user_ids() {
            for res in entities.resource_ids() {
                for module in modules(&policy) {
                    let got = q.actions(user, res, module.as_deref()).unwrap();
                    for (action, decision) in got {
                        let want = policy
                            .is_allowed(&entities, &request(user, &action, res, &module, &context));
                        assert_eq!(
                            decision, want,
                            "{name}: {} {action} {} via {module:?}",
                            user, res
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} decisions checked");
}

#[test]
fn list_equals_the_resources_check_allows_and_pages_concatenate() {
    for (name, policy, entities, context) in worlds() {
        let q = query(&policy, &entities, &context);
        let mut ids: Vec<&str> = entities.resource_ids().collect();
        ids.sort();
        for user in entities.user_ids() {
            for action in actions_of(&policy) {
                for module in modules(&policy) {
                    let listing = q.list(user, &action, module.as_deref(), None).unwrap();
                    let all = listing.ids();
                    let want: Vec<String> = ids
                        .iter()
                        .filter(|id| {
                            policy
                                .is_allowed(
                                    &entities,
                                    &request(user, &action, id, &module, &context),
                                )
                                .allowed
                        })
                        .map(|s| s.to_string())
                        .collect();
                    assert_eq!(all, want, "{name}: {} {action} via {module:?}", user);
                    for limit in [1, 2, 3] {
                        let mut pages: Vec<String> = Vec::new();
                        let mut after: Option<String> = None;
                        loop {
                            let page = listing.page(after.as_deref(), limit);
                            assert!(page.resources.len() <= limit);
                            pages.extend(
                                page.resources
                                    .iter()
                                    .map(|&r| entities.resource_id(r).to_string()),
                            );
                            match page.next {
                                Some(next) => {
                                    assert_eq!(page.resources.len(), limit);
                                    assert_eq!(Some(&next), pages.last());
                                    after = Some(next);
                                }
                                None => break,
                            }
                        }
                        assert_eq!(pages, all, "{name}: pages of {limit}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_cursor_whose_resource_is_gone_resumes_after_its_place() {
    let policy = load_dir(&root().join("policies/workzone"));
    let text = std::fs::read_to_string(root().join("policies/workzone/entities.json")).unwrap();
    let entities = policy.load_entities(&text).unwrap();
    let q = Query::new(&policy, &entities);
    let listing = q.list("BB", "view", None, None).unwrap();
    let all = listing.ids();
    assert_eq!(
        all,
        [
            "case-1",
            "contact-1",
            "contact-2",
            "doc-1",
            "doc-2",
            "supp-1"
        ]
    );
    // `contact-15` is no resource; it sorts between `contact-1` and `contact-2`.
    let page = listing.page(Some("contact-15"), 2);
    let ids: Vec<&str> = page
        .resources
        .iter()
        .map(|&r| entities.resource_id(r))
        .collect();
    assert_eq!(ids, ["contact-2", "doc-1"]);
    assert_eq!(page.next.as_deref(), Some("doc-1"));
    // A cursor after the last id: an empty last page.
    let page = listing.page(Some("zzz"), 2);
    assert!(page.resources.is_empty() && page.next.is_none());
}

#[test]
fn unknown_names_are_errors_never_empty_answers() {
    let policy = load_dir(&root().join("policies/efob"));
    let text = std::fs::read_to_string(root().join("policies/efob/entities.json")).unwrap();
    let entities = policy.load_entities(&text).unwrap();
    let q = Query::new(&policy, &entities);
    let user = entities.user_id(0);
    let res = entities.resource_id(0);
    use query::QueryErrorKind::*;
    let kind = |e: query::QueryError| e.kind;
    assert_eq!(
        q.who_can("nope", res, None).map(|_| ()).map_err(kind),
        Err(UnknownAction)
    );
    assert_eq!(
        q.who_can("access", "nope", None).map(|_| ()).map_err(kind),
        Err(UnknownResource)
    );
    assert_eq!(
        q.who_can("access", res, Some("Nope"))
            .map(|_| ())
            .map_err(kind),
        Err(UnknownModule)
    );
    assert_eq!(
        q.actions("nope", res, None).map(|_| ()).map_err(kind),
        Err(UnknownPrincipal)
    );
    assert_eq!(
        q.list(user, "access", None, Some("Nope"))
            .map(|_| ())
            .map_err(kind),
        Err(UnknownKind)
    );
    assert_eq!(
        q.residual("Staff", "access", None)
            .map(|_| ())
            .map_err(kind),
        Err(UnknownPrincipal)
    );
}

/// The residual of every (user, action, module) of every world, evaluated on every resource,
/// equals the VM's decision.
#[test]
fn residuals_equal_the_vm_on_every_resource() {
    let mut checked = 0;
    for (name, policy, entities, context) in worlds() {
        let q = query(&policy, &entities, &context);
        for user in entities.user_ids() {
            for action in actions_of(&policy) {
                for module in modules(&policy) {
                    let r = q.residual(user, &action, module.as_deref()).unwrap();
                    for (i, res) in entities.resource_ids().enumerate() {
                        let want = policy
                            .is_allowed(&entities, &request(user, &action, res, &module, &context))
                            .allowed;
                        let got = r.eval(&policy, &entities, i as u32).unwrap();
                        assert_eq!(
                            got,
                            want,
                            "{name}: {} {action} {} via {module:?}\nresidual: {}",
                            user,
                            res,
                            serde_json::to_string_pretty(&r.json(&policy).unwrap()).unwrap()
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} decisions checked");
}

/// A `ListOrder` shared by many queries lists what each query's own order lists, and listing
/// other entities through it is an error, never their page in the wrong order.
#[test]
fn a_shared_list_order_lists_the_same_and_only_for_its_entities() {
    let mut compared = 0;
    for (name, policy, entities, context) in worlds() {
        let order = query::ListOrder::new();
        let users: Vec<String> = entities.user_ids().map(String::from).collect();
        for action in actions_of(&policy) {
            for user in &users {
                let (mut q_own, mut q_shared) = (
                    Query::new(&policy, &entities),
                    Query::with_order(&policy, &entities, &order),
                );
                if let Some(c) = &context {
                    q_own = q_own.with_context(c.clone());
                    q_shared = q_shared.with_context(c.clone());
                }
                let own = q_own.list(user, &action, None, None);
                let shared = q_shared.list(user, &action, None, None);
                match (own, shared) {
                    (Ok(a), Ok(b)) => {
                        assert_eq!(a.ids(), b.ids(), "{name}: {user} {action}");
                        assert_eq!(a.page(None, 2), b.page(None, 2));
                        compared += 1;
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    (a, b) => panic!("{name}: {user} {action}: {:?} / {:?}", a.is_ok(), b.is_ok()),
                }
            }
        }
        // The same policy's entities loaded again are other entities.
        let again = policy
            .load_entities(&serde_json::to_string(&entities.to_json(policy.compiled())).unwrap())
            .unwrap();
        let user = &users[0];
        let action = &actions_of(&policy)[0];
        let mut q = Query::with_order(&policy, &again, &order);
        if let Some(c) = &context {
            q = q.with_context(c.clone());
        }
        let e = q
            .list(user, action, None, None)
            .err()
            .expect("another entities' order is refused");
        assert_eq!(
            e.kind,
            casepol::RequestErrorKind::MismatchedEntities,
            "{name}"
        );
    }
    assert!(compared > 100, "{compared}");
}
