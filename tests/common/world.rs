//! Generated entities for the query test policy (`tests/data/queries/policy.casepol`): cases
//! of every case type, state, access mode and channel, documents and attachments that do and do
//! not inherit their codes, contacts, users in every group, relations of the case and of
//! documents and contacts listing users and groups, and values that look like SQL.
//!
//! Deterministic: the same seed gives the same world. Used by tests/queries*.rs and
//! benches/queries.rs.
#![allow(dead_code)]

use serde_json::{json, Value};

/// When cases were opened, with their order: the same instant is written with two offsets, one
/// value is a microsecond before another, and some have fractions. A test reads the order from
/// here, not from casepol.
pub const OPENED: [(&str, u8); 6] = [
    ("2025-05-31T23:59:59.999999Z", 0),
    ("2025-06-01T02:00:00+02:00", 1),
    ("2025-06-01T00:00:00.000000Z", 1),
    ("2026-01-01T00:00:00Z", 2),
    ("2026-01-01T01:00:00+01:00", 2),
    ("2026-07-01T12:00:00.25-04:00", 3),
];

/// A value that would end a SQL string and drop a table if it were spliced into a statement.
pub const INJECTION: &str = "'; DROP TABLE cases; --";

/// The query test policy, as one source text.
pub const POLICY: &str = include_str!("../data/queries/policy.casepol");

/// xorshift64*: small, fast, and good enough to spread test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Users: (id, groups, units, terms). Every group, none, several, a unit-only user, and ids and
/// terms with quotes.
/// A user: id, groups, units, terms.
type UserSpec = (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static [&'static str],
);

const USERS: &[UserSpec] = &[
    ("ann", &["Staff"], &["PERS"], &[]),
    ("bob", &["Leads"], &["HR"], &["CONF"]),
    ("cat", &["Auditors"], &["FIN"], &[]),
    ("dan", &["Phones"], &["ORG"], &[INJECTION]),
    ("eve", &["Owners"], &["LEGAL"], &[]),
    ("fay", &["Assigned"], &["PERS"], &["CONF"]),
    ("gus", &["Empty"], &[], &[]),
    ("hal", &[], &["HR"], &[]),
    ("o'brien", &["Staff", "Auditors"], &["FIN"], &[]),
    ("ivy", &["Leads", "Phones", "Owners"], &["PERS"], &["CONF"]),
    ("jon", &["Assigned", "Auditors"], &["LEGAL"], &[]),
    ("kim", &["Staff", "Owners"], &["HR"], &[]),
];

/// The access groups a relation may list (`relation_groups`), nested `Leads in Staff` among them.
const GROUPS: &[&str] = &["Staff", "Leads", "Auditors", "Phones", "Empty"];

const CODES: &[&str] = &[
    "",
    "",
    "",
    "PERS",
    "HR",
    "FIN|LEGAL",
    "[ORG] & [CONF]",
    "Staff",
    "Leads|Auditors",
    "ann|bob|dan",
    "NOBODY",
    "[HR|FIN] & [ ] & [Staff|Auditors]",
];

fn code(rng: &mut Rng) -> String {
    rng.pick(CODES).to_string()
}

fn some_users(rng: &mut Rng, max: usize) -> Vec<&'static str> {
    let n = rng.below(max + 1);
    let mut out: Vec<&str> = (0..n).map(|_| rng.pick(USERS).0).collect();
    out.sort();
    out.dedup();
    out
}

/// A world of `cases` cases, about a third as many documents, a tenth as many attachments and a
/// twentieth as many contacts, as entities JSON.
pub fn entities(seed: u64, cases: usize) -> Value {
    let mut rng = Rng::new(seed);
    let units = json!([
        {"id": "ORG"}, {"id": "HR", "parent": "ORG"}, {"id": "PERS", "parent": "HR"},
        {"id": "FIN", "parent": "ORG"}, {"id": "LEGAL", "parent": "ORG"}
    ]);
    let users: Vec<Value> = USERS
        .iter()
        .map(|(id, groups, units, terms)| {
            json!({"id": id, "groups": groups, "units": units, "terms": terms})
        })
        .collect();
    let types: &[(&str, &[&str])] = &[
        ("Complaint", &["New", "Open", "Closed", "Archived"]),
        ("Request", &["Draft", "Submitted", "Done"]),
        ("Review", &["Planned", "Running"]),
    ];
    let mut resources = Vec::new();
    // Ids of different lengths and with a quote, so that ordering and escaping both matter.
    let case_id = |i: usize| match i % 7 {
        0 => format!("case-{i}"),
        1 => format!("c{i:06}"),
        2 => format!("case'{i}"),
        _ => format!("case-{i:05}"),
    };
    for i in 0..cases {
        let (ty, states) = rng.pick(types);
        let mut tags: Vec<&str> = Vec::new();
        for t in ["vip", INJECTION, "fraud"] {
            if rng.chance(30) {
                tags.push(t);
            }
        }
        let mut relations = serde_json::Map::new();
        let mut relation_groups = serde_json::Map::new();
        for rel in ["assignee", "watcher", "reporter", "subject"] {
            let max = if rel == "subject" { 1 } else { 2 };
            let who = some_users(&mut rng, max);
            if !who.is_empty() {
                relations.insert(rel.into(), json!(who));
            }
            // A team now and then: every member of the group holds the relation.
            if rel != "subject" && rng.chance(10) {
                relation_groups.insert(rel.into(), json!([rng.pick(GROUPS)]));
            }
        }
        resources.push(json!({
            "id": case_id(i), "kind": "Case", "type": ty, "state": rng.pick(states),
            "attrs": {
                "region": rng.pick(&["north", "south", "east", "o'hara", INJECTION]),
                "priority": rng.below(5) as i64 - 1,
                "urgent": rng.chance(20),
                "channel": rng.pick(&["web", "phone", "mail"]),
                "tags": tags,
                "owner": rng.pick(USERS).0,
                "access_mode": rng.pick(&["open", "open", "restricted", "secret"]),
                "opened": rng.pick(&OPENED).0,
            },
            "relations": relations,
            "relation_groups": relation_groups,
            "read": code(&mut rng),
            "write": code(&mut rng),
        }));
    }
    let docs = cases / 3;
    for i in 0..docs {
        let mut d = json!({
            "id": format!("doc-{i}"), "kind": "Document", "parent": case_id(rng.below(cases)),
            "attrs": {"title": format!("Document {i}")},
            "read": code(&mut rng), "write": code(&mut rng),
        });
        if rng.chance(20) {
            d["inherit_read"] = json!(false);
        }
        if rng.chance(20) {
            d["inherit_write"] = json!(false);
        }
        let authors = some_users(&mut rng, 2);
        if !authors.is_empty() {
            d["relations"] = json!({"author": authors});
        }
        if rng.chance(10) {
            d["relation_groups"] = json!({"author": [rng.pick(GROUPS)]});
        }
        resources.push(d);
    }
    for i in 0..cases / 10 {
        if docs == 0 {
            break;
        }
        let mut a = json!({
            "id": format!("att-{i}"), "kind": "Attachment",
            "parent": format!("doc-{}", rng.below(docs)),
            "attrs": {"name": format!("file{i}.pdf")},
            "read": code(&mut rng), "write": code(&mut rng),
        });
        if rng.chance(30) {
            a["inherit_read"] = json!(false);
        }
        resources.push(a);
    }
    for i in 0..(cases / 20).max(1) {
        let mut c = json!({
            "id": format!("contact-{i}"), "kind": "Contact",
            "attrs": {"name": format!("Contact {i}")},
            "read": code(&mut rng), "write": code(&mut rng),
        });
        let keepers = some_users(&mut rng, 1);
        if !keepers.is_empty() {
            c["relations"] = json!({"keeper": keepers});
        }
        if rng.chance(20) {
            c["relation_groups"] = json!({"keeper": [rng.pick(GROUPS)]});
        }
        resources.push(c);
    }
    json!({"units": units, "users": users, "resources": resources})
}
