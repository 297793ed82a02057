//! The cost of each phase at the limits of src/limits.rs: each benchmark builds the worst case
//! a limit allows (outside the timed part) and times the phase that limit protects, so that a
//! regression to quadratic work shows as a number. docs/limits.md ("Cost at the limits") holds
//! the figures. Each runs 10 samples in a short window: `cargo bench --bench limits` takes a few
//! minutes.

#[path = "../tests/common/residual_world.rs"]
mod residual_world;

use casepol::diagnostic::{render, Diagnostic, FileId, Sources};
use casepol::limits::*;
use casepol::query::sql::{self, Dialect};
use casepol::query::Query;
use casepol::{Entities, Policy, Request};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion};
use criterion::{measurement::WallTime, SamplingMode};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Duration;

/// A group of this file: flat sampling, so a benchmark whose one iteration takes a second runs
/// ten iterations, not the 55 of criterion's default linear sampling.
fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut g = c.benchmark_group(name);
    g.sampling_mode(SamplingMode::Flat);
    g
}

/// `action a0, a1, …;` for `n` actions.
fn actions(n: usize) -> String {
    format!("action {};\n", names("a", n).join(", "))
}

/// `prefix0`, `prefix1`, … `prefix{n-1}`.
fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn sources(text: &str) -> Sources {
    let mut s = Sources::new();
    s.add("limits.casepol", text);
    s
}

/// Parses, checks and lints, and asserts that the policy checks: a benchmark of a policy that
/// stopped at an error would measure nothing.
fn check(text: &str) -> (casepol::internal::ir::Policy, Vec<Diagnostic>) {
    let (ir, diags) = casepol::internal::check_sources(&sources(text));
    match ir {
        Some(ir) => (ir, diags),
        None => {
            let errors: Vec<_> = diags.iter().filter(|d| d.is_error()).take(3).collect();
            panic!("the benchmark's policy does not check: {errors:?}")
        }
    }
}

/// The policy nearest `MAX_TOKENS` made of whole rules: `allow R: a0, …, a255;` (515 tokens)
/// as many times as fits, 993,000 rule entries.
fn max_tokens() -> String {
    let rule = format!("allow R: {};\n", names("a", MAX_ACTIONS).join(", "));
    // `allow`, `R`, `:`, the names and the commas between them, `;`.
    let per_rule = 3 + 2 * MAX_ACTIONS - 1 + 1;
    let header = format!(
        "role R;\ngroup G {{ grants R; }}\n{}resource Note {{ }}\n",
        actions(MAX_ACTIONS)
    );
    let rules = (MAX_TOKENS - 2 * MAX_ACTIONS - 20) / per_rule;
    assert!(rules * per_rule > MAX_TOKENS * 99 / 100);
    header + &rule.repeat(rules)
}

/// The policies at each limit that the parser, the checker, the lints and the compiler read.
fn policies() -> Vec<(&'static str, String)> {
    let mut out = vec![("max_tokens", max_tokens())];
    // MAX_DECLARATIONS: kinds, each with a rule of its own (two declarations each).
    let mut text = String::from("role R;\naction view;\ngroup G { grants R; }\n");
    for k in 0..(MAX_DECLARATIONS - 10) / 2 {
        writeln!(text, "resource K{k} {{ allow R: view; }}").unwrap();
    }
    out.push(("declarations", text));
    // MAX_SUBJECTS, MAX_ACTIONS, MAX_PERMISSIONS: every 256-bit set full, each name used.
    let (roles, rels) = (names("R", MAX_SUBJECTS / 2), names("r", MAX_SUBJECTS / 2));
    let perms = names("p", MAX_PERMISSIONS);
    let acts = names("a", MAX_ACTIONS);
    let mut text = format!(
        "role {};\n{}permission {};\ncase Case {{ relation {}; }}\ncasetype T {{ states S; initial S; }}\n",
        roles.join(", "),
        actions(MAX_ACTIONS),
        perms.join(", "),
        rels.join(", ")
    );
    for (i, r) in roles.iter().enumerate() {
        writeln!(text, "group G{i} {{ grants {r}; permits {}; }}", perms[i]).unwrap();
        writeln!(text, "allow {r}: {};", acts[i]).unwrap();
    }
    writeln!(
        text,
        "resource Note under Case {{ allow {}: *; deny {}: {}; }}",
        rels.join(", "),
        rels[0],
        acts.join(", ")
    )
    .unwrap();
    out.push(("set_widths", text));
    // MAX_ATTRS: kinds of 1,000 attributes each, and 1,000 user attributes, up to the
    // declarations limit.
    let attrs = |prefix: &str| {
        names(prefix, MAX_ATTRS)
            .iter()
            .map(|a| format!("attr {a}: string;"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut text = format!(
        "role R;\naction view;\nuser {{ {} }}\nallow R: view;\n",
        attrs("u")
    );
    for k in 0..MAX_DECLARATIONS / (MAX_ATTRS + 1) - 2 {
        writeln!(text, "resource K{k} {{ {} }}", attrs("x")).unwrap();
    }
    out.push(("attrs", text));
    // Names used many times each at the declarations limit: enum variants tested in filters,
    // case attributes, states named by transitions.
    let n = 20_000;
    let mut text = format!(
        "role R;\naction go;\nenum E {{ {} }}\ncase Case {{\n",
        names("v", n).join(", ")
    );
    for i in 0..MAX_ATTRS {
        writeln!(text, "  attr x{i}: E;").unwrap();
    }
    text.push_str("}\ngroup G {\n  grants R;\n  scope filter {\n");
    for i in 0..n {
        writeln!(text, "    x{} == v{};", (i * 7) % MAX_ATTRS, n - 1 - i).unwrap();
    }
    writeln!(
        text,
        "  }}\n}}\nallow R: go;\ncasetype T {{\n  states {};\n  initial S0;\n  final S{};",
        names("S", n).join(", "),
        n - 1
    )
    .unwrap();
    for i in 1..n {
        writeln!(text, "  transition go: S{} -> S{i} by R;", i - 1).unwrap();
    }
    text.push_str("}\n");
    out.push(("names_used_often", text));
    // MAX_TABLE_SLOTS: kinds × actions and case-type states × actions, 250 actions each.
    let rows = MAX_TABLE_SLOTS / 250;
    let states = names("S", rows).join(", ");
    let mut text = String::from("role R;\ngroup G { grants R; }\n") + &actions(250);
    text.push_str("case Case { }\nallow R: *;\n");
    for k in 0..rows - 1 {
        writeln!(text, "resource K{k} {{ }}").unwrap();
    }
    writeln!(
        text,
        "casetype T {{ states {states}; initial S0; final S0; }}"
    )
    .unwrap();
    out.push(("kind_and_state_tables", text));
    // MAX_TABLE_SLOTS: case types × modules × actions.
    let mut text = String::from("role R;\ngroup G { grants R; }\n") + &actions(250);
    text.push_str("case Case { }\nallow R: *;\n");
    let all = names("a", 250).join(", ");
    for m in 0..4 {
        writeln!(text, "module M{m} {{ actions {all}; }}").unwrap();
    }
    for t in 0..MAX_TABLE_SLOTS / (4 * 250) {
        writeln!(
            text,
            "casetype T{t} {{ states S; initial S; final S; module M3 {{ R: *; }} }}"
        )
        .unwrap();
    }
    out.push(("module_table", text));
    // MAX_RULE_ENTRIES: four `allow R: *;` over a case type of 4,000 states and 250 actions.
    let text = format!(
        "role R;\ngroup G {{ grants R; }}\n{}case Case {{ }}\ncasetype T {{\n  states {states};\n  initial S0;\n  final S0;\n{}}}\n",
        actions(250),
        "  allow R: *;\n".repeat(MAX_RULE_ENTRIES / (rows * 250))
    );
    out.push(("rule_entries", text));
    // 2,000 identical rules over every action: the lints once compared every pair.
    let text = format!(
        "role R;\ngroup G {{ grants R; }}\n{}resource Note {{ }}\n{}",
        actions(MAX_ACTIONS),
        "allow R: *;\n".repeat(2_000)
    );
    out.push(("identical_rules", text));
    // MAX_LINT_COMPARISONS: every pair of 256 roles allowed `view` in two states (32,640
    // rules), none covering another, so CP0203 compares each with the 255 rules that share its
    // rarest role, at 6 steps a pair: more than its budget, which runs out before the last
    // rule, `allow R0: view in S0, S1;`, is found covered.
    let roles = names("R", MAX_SUBJECTS);
    let mut text = format!(
        "role {};\naction view;\ngroup G {{ grants R0; }}\ncase Case {{ }}\ncasetype T {{\n  states S0, S1, S2;\n  initial S0;\n",
        roles.join(", ")
    );
    for i in 0..roles.len() {
        for j in i + 1..roles.len() {
            writeln!(text, "  allow R{i}, R{j}: view in S0, S1;").unwrap();
        }
    }
    text.push_str("  allow R0: view in S0, S1;\n}\n");
    out.push(("pairs_of_roles", text));
    out
}

/// Which phases each policy is timed in, past parsing and checking (every one).
fn linted(name: &str) -> bool {
    matches!(
        name,
        "max_tokens"
            | "declarations"
            | "kind_and_state_tables"
            | "module_table"
            | "rule_entries"
            | "identical_rules"
            | "pairs_of_roles"
    )
}

fn compiled(name: &str) -> bool {
    matches!(
        name,
        "max_tokens" | "kind_and_state_tables" | "module_table" | "rule_entries"
    )
}

fn policy_phases(c: &mut Criterion) {
    let policies = policies();
    let parsed: Vec<_> = policies
        .iter()
        .map(|(name, text)| {
            let (ast, diags) = casepol::internal::syntax::parse(FileId(0), text);
            assert!(diags.is_empty(), "{name}: {:?}", diags.first());
            ast
        })
        .collect();
    let mut g = group(c, "limits_parse");
    for (name, text) in policies.iter().filter(|(n, _)| *n == "max_tokens") {
        g.bench_function(*name, |b| {
            b.iter(|| casepol::internal::syntax::parse(FileId(0), black_box(text)))
        });
    }
    g.finish();

    let mut g = group(c, "limits_check");
    for ((name, _), ast) in policies.iter().zip(&parsed) {
        let asts = std::slice::from_ref(ast);
        let (ir, diags) = casepol::internal::check::check(asts);
        assert!(ir.is_some(), "{name}: {:?}", diags.first());
        g.bench_function(*name, |b| {
            b.iter(|| casepol::internal::check::check(black_box(asts)))
        });
    }
    g.finish();

    let mut g = group(c, "limits_lint");
    for (name, text) in policies.iter().filter(|(n, _)| linted(n)) {
        let (ir, _) = check(text);
        g.bench_function(*name, |b| {
            b.iter(|| casepol::internal::lint::lint(black_box(&ir)))
        });
    }
    g.finish();

    let mut g = group(c, "limits_compile");
    for (name, text) in policies.iter().filter(|(n, _)| compiled(n)) {
        let (ir, _) = check(text);
        let src = sources(text);
        g.bench_function(*name, |b| {
            b.iter_batched(
                || (ir.clone(), src.clone()),
                |(ir, src)| casepol::internal::compile::compile(ir, src),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();

    let mut g = group(c, "limits_fmt");
    for (name, text) in policies.iter().filter(|(n, _)| *n == "max_tokens") {
        casepol::internal::format::format_source(FileId(0), text).expect("the policy formats");
        g.bench_function(*name, |b| {
            b.iter(|| casepol::internal::format::format_source(FileId(0), black_box(text)))
        });
    }
    // A table of 256 subject columns and 200 state rows, every cell wider than the column cap,
    // and one cell of 30,000 characters.
    let rels = names("r", MAX_SUBJECTS - 1);
    let mut text = format!(
        "role R;\naction view, edit;\ncase Case {{ relation {}; }}\ncasetype T {{\n  states {};\n  initial S0;\n  table {{\n    | R | {}\n",
        rels.join(", "),
        names("S", 200).join(", "),
        rels.join(" | ")
    );
    let wide = "+view -edit ".repeat(4);
    for s in 0..200 {
        let cell = if s == 0 {
            "+view ".repeat(5_000)
        } else {
            wide.clone()
        };
        let rest = format!("| {wide}").repeat(MAX_SUBJECTS - 1);
        writeln!(text, "    S{s} | {cell}{rest}").unwrap();
    }
    text.push_str("  }\n}\n");
    casepol::internal::format::format_source(FileId(0), &text).expect("the table formats");
    g.bench_function("wide_table", |b| {
        b.iter(|| casepol::internal::format::format_source(FileId(0), black_box(&text)))
    });
    g.finish();
}

fn diagnostics(c: &mut Criterion) {
    let mut g = group(c, "limits_render");
    // The policy of `MAX_TOKENS` with its rules on one line of 5.6 MB: 3,881 warnings (CP0203,
    // each rule shadowed by the first), all on that line, of which a run keeps the first
    // `MAX_WARNINGS_PER_CODE` and one counting the rest.
    let text = max_tokens().replace(";\nallow", "; allow");
    let src = sources(&text);
    let (_, diags) = casepol::internal::check_sources(&src);
    assert_eq!(diags.len(), MAX_WARNINGS_PER_CODE + 1);
    g.bench_function("human_warnings_one_line", |b| {
        b.iter(|| {
            let mut budget = MAX_SHOWN_DIAGNOSTICS;
            render::human_list(black_box(&diags), &src, false, &mut budget)
        })
    });
    g.bench_function("json_warnings_one_line", |b| {
        b.iter(|| {
            let all: Vec<_> = diags.iter().map(|d| render::json(d, &src)).collect();
            serde_json::to_string(black_box(&all))
        })
    });
    g.finish();
}

/// A chain of kinds as deep as allowed, each inheriting read and write codes.
fn deep_policy() -> Policy {
    let mut text = String::from(
        "role R;\naction view, edit;\ncodes { read: view; write: edit; }\ngroup G { grants R; }\ncase Case { allow R: view, edit; }\ncasetype T { states S; initial S; }\n",
    );
    let mut parent = "Case".to_string();
    for i in 0..MAX_KIND_DEPTH - 1 {
        writeln!(
            text,
            "resource K{i} under {parent} {{ inherit read, write; attr a: string; allow R: view, edit; }}"
        )
        .unwrap();
        parent = format!("K{i}");
    }
    Policy::from_source("deep.casepol", &text).expect("the deep policy checks")
}

/// `chains` chains of resources down the deep policy's kinds, each resource with a read code of
/// `MAX_CODE_LEVELS` levels of `codes_per_level` codes. `ann` holds one code of each level, and
/// `zed` (in no group, listed first) every other code: codes are numbered as they are first
/// read and a level is kept sorted, so `ann`'s code is the last of its level, the one a decision
/// finds after looking for all the others.
fn deep_entities(chains: usize, codes_per_level: usize) -> String {
    let level = |i: usize| {
        let codes: Vec<String> = (0..codes_per_level).map(|c| format!("L{i}C{c}")).collect();
        format!("[{}]", codes.join("|"))
    };
    let read: Vec<String> = (0..MAX_CODE_LEVELS).map(level).collect();
    let read = read.join(" & ");
    let mut resources = Vec::new();
    for c in 0..chains {
        resources.push(format!(
            r#"{{"id": "c{c}", "kind": "Case", "type": "T", "state": "S", "read": "{read}"}}"#
        ));
        let mut parent = format!("c{c}");
        for i in 0..MAX_KIND_DEPTH - 1 {
            resources.push(format!(
                r#"{{"id": "c{c}k{i}", "kind": "K{i}", "parent": "{parent}", "read": "{read}", "attrs": {{"a": "v"}}}}"#
            ));
            parent = format!("c{c}k{i}");
        }
    }
    let last = codes_per_level - 1;
    let terms: Vec<String> = (0..MAX_CODE_LEVELS)
        .map(|i| format!(r#""L{i}C{last}""#))
        .collect();
    let others: Vec<String> = (0..MAX_CODE_LEVELS)
        .flat_map(|i| (0..last).map(move |c| format!(r#""L{i}C{c}""#)))
        .collect();
    format!(
        r#"{{"users": [{{"id": "zed", "terms": [{}]}}, {{"id": "ann", "groups": ["G"], "terms": [{}]}}], "resources": [{}]}}"#,
        others.join(", "),
        terms.join(", "),
        resources.join(",\n")
    )
}

/// A group, and a kind without attributes.
fn users_policy() -> Policy {
    Policy::from_source(
        "users.casepol",
        "role R;\naction view;\ngroup G { grants R; }\nresource Note { }\nallow R: view;",
    )
    .expect("the users policy checks")
}

/// 100,000 users in the group, and one note.
fn many_users() -> String {
    let users: Vec<String> = (0..100_000)
        .map(|u| format!(r#"{{"id": "user-{u:06}", "groups": ["G"]}}"#))
        .collect();
    format!(
        r#"{{"users": [{}], "resources": [{{"id": "n", "kind": "Note"}}]}}"#,
        users.join(",\n")
    )
}

fn entities(c: &mut Criterion) {
    let mut g = group(c, "limits_entities");
    let deep = deep_policy();
    // MAX_CODE_LEVELS × MAX_KIND_DEPTH: 100 chains of 32 resources, each with a 64-level code.
    let json = deep_entities(100, 4);
    deep.load_entities(&json).expect("the entities load");
    g.bench_function("code_levels_x_kind_depth", |b| {
        b.iter(|| deep.load_entities(black_box(&json)))
    });
    // MAX_LEVEL_CODES: one chain of 32 resources, each level of each code 1,024 codes.
    let json = deep_entities(1, MAX_LEVEL_CODES);
    deep.load_entities(&json).expect("the entities load");
    g.bench_function("level_codes", |b| {
        b.iter(|| deep.load_entities(black_box(&json)))
    });
    // MAX_ENTITY_ATTRS and MAX_ATTRS: 1,000 resources of 1,000 attributes each.
    let decls: Vec<String> = names("a", MAX_ATTRS)
        .iter()
        .map(|a| format!("attr {a}: string;"))
        .collect();
    let attrs_policy = Policy::from_source(
        "attrs.casepol",
        &format!(
            "role R;\naction view;\nresource Note {{ {} }}\nallow R: view;",
            decls.join(" ")
        ),
    )
    .expect("the attrs policy checks");
    let keys: Vec<String> = (0..MAX_ATTRS).map(|i| format!(r#""a{i}": "v""#)).collect();
    let notes: Vec<String> = (0..1_000)
        .map(|n| {
            format!(
                r#"{{"id": "n{n}", "kind": "Note", "attrs": {{{}}}}}"#,
                keys.join(", ")
            )
        })
        .collect();
    let json = format!(r#"{{"resources": [{}]}}"#, notes.join(",\n"));
    attrs_policy
        .load_entities(&json)
        .expect("the attributes load");
    g.bench_function("entity_attrs", |b| {
        b.iter(|| attrs_policy.load_entities(black_box(&json)))
    });
    // MAX_ID_BYTES: 10,000 resources with ids of 1,024 bytes.
    let long = |n: usize| format!("{n:0>width$}", width = MAX_ID_BYTES);
    let notes: Vec<String> = (0..10_000)
        .map(|n| format!(r#"{{"id": "{}", "kind": "Note"}}"#, long(n)))
        .collect();
    let json = format!(r#"{{"resources": [{}]}}"#, notes.join(",\n"));
    let ids_policy = users_policy();
    ids_policy.load_entities(&json).expect("long ids load");
    g.bench_function("long_ids", |b| {
        b.iter(|| ids_policy.load_entities(black_box(&json)))
    });
    // MAX_UNIT_DEPTH: 1,000 chains of 64 units, a user in the deepest unit of each.
    let mut units = Vec::new();
    let mut users = Vec::new();
    for c in 0..1_000 {
        units.push(format!(r#"{{"id": "u{c}_0"}}"#));
        for d in 1..MAX_UNIT_DEPTH {
            units.push(format!(
                r#"{{"id": "u{c}_{d}", "parent": "u{c}_{}"}}"#,
                d - 1
            ));
        }
        users.push(format!(
            r#"{{"id": "user{c}", "units": ["u{c}_{}"]}}"#,
            MAX_UNIT_DEPTH - 1
        ));
    }
    let json = format!(
        r#"{{"units": [{}], "users": [{}]}}"#,
        units.join(",\n"),
        users.join(",\n")
    );
    ids_policy.load_entities(&json).expect("unit chains load");
    g.bench_function("unit_chains", |b| {
        b.iter(|| ids_policy.load_entities(black_box(&json)))
    });
    // 100,000 users, for the requests below.
    let json = many_users();
    ids_policy.load_entities(&json).expect("100,000 users load");
    g.bench_function("users_100000", |b| {
        b.iter(|| ids_policy.load_entities(black_box(&json)))
    });
    g.finish();
}

fn requests(c: &mut Criterion) {
    let mut g = group(c, "limits_requests");
    let policy = users_policy();
    let many: Entities = policy
        .load_entities(&many_users())
        .expect("100,000 users load");
    // MAX_REQUEST_BYTES, SUGGEST_WORK: a principal of nearly 64 KiB that no user has, among
    // 100,000 users: "did you mean" stops at its budget.
    let unknown = "u".repeat(MAX_REQUEST_BYTES - 100);
    let request = Request::new(&unknown, "view", None);
    assert!(policy.resolve(&many, &request).is_err());
    g.bench_function("resolve_unknown_long_principal", |b| {
        b.iter(|| policy.resolve(&many, black_box(&request)))
    });
    // An unknown principal one letter away from the last of 100,000 users.
    let request = Request::new("user-09999x", "view", None);
    assert!(policy.resolve(&many, &request).is_err());
    g.bench_function("resolve_near_miss_100000_users", |b| {
        b.iter(|| policy.resolve(&many, black_box(&request)))
    });
    // `who-can` on a note that all 100,000 users may view.
    let q = Query::new(&policy, &many);
    let who = q.who_can("view", "n", None).expect("who-can answers");
    assert_eq!(who.allowed.len(), 100_000);
    g.bench_function("who_can_100000_users", |b| {
        b.iter(|| q.who_can(black_box("view"), "n", None))
    });

    // The deepest resource of a chain of MAX_KIND_DEPTH kinds, each level of its effective
    // code (32 resources × 64 levels) holding MAX_LEVEL_CODES codes, the user's last.
    let deep = deep_policy();
    let entities = deep
        .load_entities(&deep_entities(1, MAX_LEVEL_CODES))
        .expect("the deepest chain loads");
    let last = format!("c0k{}", MAX_KIND_DEPTH - 2);
    let request = Request::new("ann", "view", Some(&last));
    let resolved = deep.resolve(&entities, &request).expect("resolves");
    assert!(deep.decide(&entities, &resolved).allowed);
    g.bench_function("decide_deepest_code_chain", |b| {
        b.iter(|| deep.decide(&entities, black_box(&resolved)))
    });
    g.bench_function("explain_deepest_code_chain", |b| {
        b.iter(|| {
            let trace = deep.explain(&entities, black_box(&request));
            deep.explain_text(&trace)
        })
    });
    let q = Query::new(&deep, &entities);
    g.bench_function("actions_deepest_code_chain", |b| {
        b.iter(|| q.actions("ann", black_box(&last), None))
    });
    // `who-can` on the deepest resource of a chain whose levels hold 64 codes each, for 10
    // and 100 users who all meet the code (each the last of its level): each allowed user costs
    // a decision, and the first code they hold in each level.
    for users in [10, 100] {
        let mut json = deep_entities(1, 64);
        let ann = json
            .find(r#"{"id": "ann""#)
            .expect("ann is in the entities");
        let end = ann + json[ann..].find("]}").expect("ann's terms end") + 2;
        let copies: Vec<String> = (1..users)
            .map(|i| json[ann..end].replace(r#""id": "ann""#, &format!(r#""id": "u{i}""#)))
            .collect();
        json.insert_str(end, &format!(", {}", copies.join(", ")));
        let entities = deep.load_entities(&json).expect("the users load");
        let q = Query::new(&deep, &entities);
        let who = q.who_can("view", &last, None).expect("who-can answers");
        assert_eq!(who.allowed.len(), users);
        g.bench_function(format!("who_can_{users}_users_deepest_code_chain"), |b| {
            b.iter(|| q.who_can(black_box("view"), &last, None))
        });
    }
    // `explain` for a user of 2,000 and of 20,000 terms more on the same chain (131,072
    // codes): each code of the chain is looked for among the user's codes.
    for terms in [2_000, 20_000] {
        let mut json = deep_entities(1, 64);
        let ann = json
            .find(r#"{"id": "ann""#)
            .expect("ann is in the entities");
        let at =
            ann + json[ann..].find(r#""terms": ["#).expect("ann has terms") + r#""terms": ["#.len();
        let more: Vec<String> = (0..terms).map(|i| format!(r#""T{i}""#)).collect();
        json.insert_str(at, &format!("{}, ", more.join(", ")));
        let entities = deep.load_entities(&json).expect("the terms load");
        assert!(deep.explain(&entities, &request).decision.allowed);
        g.bench_function(format!("explain_{terms}_terms_deepest_code_chain"), |b| {
            b.iter(|| deep.explain(&entities, black_box(&request)))
        });
    }
    // `list` over 100 chains of 32 resources, each with a 64-level code.
    let entities = deep
        .load_entities(&deep_entities(100, 4))
        .expect("the chains load");
    let q = Query::new(&deep, &entities);
    let first = q.list("ann", "view", None, None).expect("a listing").ids();
    assert_eq!(first.len(), 100 * MAX_KIND_DEPTH);
    g.bench_function("list_3200_deep_resources", |b| {
        b.iter(|| {
            q.list("ann", black_box("view"), None, None)
                .map(|l| l.ids())
        })
    });
    g.finish();
}

fn filter(c: &mut Criterion) {
    let mut g = group(c, "limits_filter");
    // Partial evaluation at 40,000 kinds that differ and a case type of 40,000 states, 20,000
    // of them with rules of their own (within the declarations and the tables).
    let (kinds, states) = (40_000, 40_000);
    let policy = Policy::from_source(
        "scale.casepol",
        &residual_world::policy(kinds, states, states / 2),
    )
    .expect("the scale policy checks");
    let entities: Entities = policy
        .load_entities(&residual_world::entities(kinds, states))
        .expect("its entities load");
    let q = Query::new(&policy, &entities);
    q.residual("ann", "view", None).expect("a residual");
    g.bench_function("residual_40000_kinds_40000_states", |b| {
        b.iter(|| q.residual("ann", black_box("view"), None))
    });
    // SQL where it fits: 2,000 kinds and 2,000 states, 4,000 subqueries.
    let policy = Policy::from_source(
        "scale.casepol",
        &residual_world::policy(2_000, 2_000, 1_000),
    )
    .expect("the scale policy checks");
    let entities = policy
        .load_entities(&residual_world::entities(2_000, 2_000))
        .expect("its entities load");
    let q = Query::new(&policy, &entities);
    let residual = q.residual("ann", "view", None).expect("a residual");
    for (name, dialect) in [
        ("sql_sqlite_2000_kinds_2000_states", Dialect::Sqlite),
        ("sql_postgres_2000_kinds_2000_states", Dialect::Postgres),
    ] {
        sql::compile(&policy, &residual, dialect).expect("the SQL fits");
        g.bench_function(name, |b| {
            b.iter(|| sql::compile(&policy, black_box(&residual), dialect))
        });
    }
    g.bench_function("filter_2000_kinds_2000_states", |b| {
        b.iter(|| q.filter("ann", black_box("view"), None, Dialect::Sqlite))
    });
    g.finish();
}

/// The test runner (`casepol test`) on a policy of 40,000 rules `allow R: view in S{i};`, one
/// for each state of a case type, and a test file of 4,000 cases, each on a case of its own
/// state and expecting the rule of that state by its text (`view in S{i};`, which no other
/// rule contains).
fn policy_tests(c: &mut Criterion) {
    let mut g = group(c, "limits_tests");
    let (states, cases) = (40_000, 4_000);
    let mut text = String::from(
        "role R;\naction view;\ngroup G { grants R; }\ncase Case { }\ncasetype T {\n  states ",
    );
    text.push_str(&names("S", states).join(", "));
    text.push_str(";\n  initial S0;\n");
    for s in 0..states {
        writeln!(text, "  allow R: view in S{s};").unwrap();
    }
    text.push_str("}\n");
    let policy = Policy::from_source("tests.casepol", &text).expect("the tests policy checks");
    let resources: Vec<String> = (0..cases)
        .map(|i| format!(r#"{{"id": "c{i}", "kind": "Case", "type": "T", "state": "S{i}"}}"#))
        .collect();
    let entities = format!(
        r#"{{"users": [{{"id": "ann", "groups": ["G"]}}], "resources": [{}]}}"#,
        resources.join(", ")
    );
    let tests: Vec<String> = (0..cases)
        .map(|i| {
            format!(
                r#"{{"name": "t{i}", "request": {{"principal": "ann", "action": "view", "resource": "c{i}"}}, "expect": "allow", "rule": "view in S{i};"}}"#
            )
        })
        .collect();
    let mut sources = Sources::new();
    let file = sources.add(
        "tests.test.json",
        format!(
            r#"{{"entities": {entities}, "tests": [{}]}}"#,
            tests.join(",\n")
        ),
    );
    let tests = casepol::internal::testing::parse(&sources, file).expect("the test file parses");
    let entities = policy.load_entities(&entities).expect("the entities load");
    let run = casepol::internal::testing::run(&policy, &entities, &tests);
    assert_eq!((run.passed(), run.failed()), (cases, 0));
    g.bench_function("rule_expectations_4000_cases_40000_rules", |b| {
        b.iter(|| casepol::internal::testing::run(&policy, &entities, black_box(&tests)))
    });
    // The policy of `MAX_TOKENS` (3,882 rules of 1.4 KB, all alike), and 1,000 cases that each
    // quote two actions no rule lists side by side: each expectation is an error (no case
    // runs), found only after reading every rule's text, and there are more than `find.rs`
    // searches one by one. Equal rules are indexed once; in the second policy a comment makes
    // each rule differ from the others, and all of its 5.6 MB are indexed.
    let alike = max_tokens();
    let mut n = 0;
    let distinct = alike
        .split("allow R: a0, ")
        .enumerate()
        .map(|(i, part)| match i {
            0 => part.to_string(),
            _ => {
                n += 1;
                format!("allow R: a0, // rule {n}\n{part}")
            }
        })
        .collect::<String>();
    let tests: Vec<String> = (0..1_000)
        .map(|i| {
            format!(
                r#"{{"name": "t{i}", "request": {{"principal": "ann", "action": "a0", "resource": "n"}}, "expect": "allow", "rule": "a{i}, a{}"}}"#,
                i + 2
            )
        })
        .collect();
    let json = r#"{"users": [{"id": "ann", "groups": ["G"]}], "resources": [{"id": "n", "kind": "Note"}]}"#;
    let mut sources = Sources::new();
    let file = sources.add(
        "max.test.json",
        format!(
            r#"{{"entities": {json}, "tests": [{}]}}"#,
            tests.join(",\n")
        ),
    );
    let tests = casepol::internal::testing::parse(&sources, file).expect("the test file parses");
    for (name, text) in [
        ("rule_expectations_1000_cases_max_tokens", alike),
        ("rule_expectations_1000_cases_max_tokens_distinct", distinct),
    ] {
        let policy = Policy::from_source("max.casepol", &text).expect("the policy checks");
        let entities = policy.load_entities(json).expect("the entities load");
        let run = casepol::internal::testing::run(&policy, &entities, &tests);
        assert_eq!((run.results.len(), run.diagnostics.len()), (0, 1_000));
        let message = &run.diagnostics[0].message;
        assert!(
            message.contains("no rule of the policy contains"),
            "{message}"
        );
        g.bench_function(name, |b| {
            b.iter(|| casepol::internal::testing::run(&policy, &entities, black_box(&tests)))
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = limits;
    config = config();
    targets = policy_phases, diagnostics, entities, requests, filter, policy_tests
}
criterion_main!(limits);
