//! Policies whose kinds and case-type states all have different rules, for the tests and the
//! benchmark of partial evaluation at scale (tests/queries_limits.rs, benches/limits.rs): the
//! residual of such a policy used to cost kinds × states.
#![allow(dead_code)]

use std::fmt::Write as _;

/// How many relations the case kind declares; kinds and states pick theirs among them.
pub const RELATIONS: usize = 200;

/// A policy of `kinds` resource kinds under the case kind, each allowing `view` to one relation
/// and denying it to another (no two kinds alike while `kinds` ≤ [`RELATIONS`]²), and one case
/// type of `states` states: the even states allow the role `Clerk` (granted by the group
/// `Staff`, of scope `all`), and the odd ones fall in `classes` classes (at most
/// [`RELATIONS`]²), each allowing one relation and denying another.
pub fn policy(kinds: usize, states: usize, classes: usize) -> String {
    let mut p = String::from("role Clerk;\naction view;\ngroup Staff { grants Clerk; }\n");
    let rels: Vec<String> = (0..RELATIONS).map(|r| format!("r{r}")).collect();
    writeln!(p, "case Case {{ relation {}; }}", rels.join(", ")).unwrap();
    for k in 0..kinds {
        writeln!(
            p,
            "resource K{k} under Case {{ allow r{}: view; deny r{}: view; }}",
            k % RELATIONS,
            (k / RELATIONS + 1) % RELATIONS
        )
        .unwrap();
    }
    let names: Vec<String> = (0..states).map(|s| format!("S{s}")).collect();
    writeln!(
        p,
        "casetype T {{\n  states {};\n  initial S0;",
        names.join(", ")
    )
    .unwrap();
    let even: Vec<&str> = names.iter().step_by(2).map(String::as_str).collect();
    if !even.is_empty() {
        writeln!(p, "  allow Clerk: view in {};", even.join(", ")).unwrap();
    }
    // The odd states, by the relation they allow and the one they deny.
    let mut allow = vec![Vec::new(); RELATIONS];
    let mut deny = vec![Vec::new(); RELATIONS];
    for s in (1..states).step_by(2) {
        let class = (s / 2) % classes.max(1);
        allow[class % RELATIONS].push(names[s].as_str());
        deny[(class / RELATIONS + 7) % RELATIONS].push(names[s].as_str());
    }
    for (r, states) in allow.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        writeln!(p, "  allow r{r}: view in {};", states.join(", ")).unwrap();
    }
    for (r, states) in deny.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
        writeln!(p, "  deny r{r}: view in {};", states.join(", ")).unwrap();
    }
    p.push_str("}\n");
    p
}

/// Entities for [`policy`]: `ann` in `Staff`, `bob` in no group; cases in the first few and the
/// last states, each with relations held by both, and under each case one resource of each of
/// the first, middle and last few kinds.
pub fn entities(kinds: usize, states: usize) -> String {
    let mut resources = Vec::new();
    let some_states: Vec<usize> = (0..states.min(6))
        .chain(states.saturating_sub(3)..states)
        .collect();
    let some_kinds: Vec<usize> = (0..kinds.min(4))
        .chain([kinds / 2, kinds / 2 + 1])
        .chain(kinds.saturating_sub(3)..kinds)
        .filter(|&k| k < kinds)
        .collect();
    for (c, &s) in some_states.iter().enumerate() {
        let held = |r: usize| format!("\"r{}\"", r % RELATIONS);
        resources.push(format!(
            r#"{{"id": "c{c}", "kind": "Case", "type": "T", "state": "S{s}", "relations": {{{}: ["ann"], {}: ["ann", "bob"], {}: ["bob"]}}}}"#,
            held(c),
            held(c + 1),
            held(c * 7 + 3)
        ));
        for &k in &some_kinds {
            resources.push(format!(
                r#"{{"id": "c{c}-k{k}", "kind": "K{k}", "parent": "c{c}"}}"#
            ));
        }
    }
    format!(
        r#"{{"users": [{{"id": "ann", "groups": ["Staff"]}}, {{"id": "bob"}}], "resources": [{}]}}"#,
        resources.join(",\n")
    )
}
