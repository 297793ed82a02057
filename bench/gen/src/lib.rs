//! Deterministic generator of scaled case-management policies, entities and requests.
//!
//! One shape at every scale, the one of issue 5: roles come from access groups, each case type
//! has a table of workflow states × roles, deny overrides allow, and reading is checked against
//! a two-level access code (a document's own code, then its case's, as in WorkZone). A policy of
//! `n` rules has `n / 20` case types of exactly 20 rules each: 16 table-cell entries, 3
//! transitions and `allow HR, Manager: list;`.
//!
//! Everything is drawn from [`Rng`], a SplitMix64 generator whose output is fixed by its
//! definition, so a seed gives the same files on every machine and every toolchain. The crate
//! depends on nothing, not even casepol: it writes text (casepol source, entity JSON, request
//! JSON lines) and exposes the model it wrote, so that the Cedar comparison can express the same
//! policy in Cedar. See `policies/generated/README.md`.

use std::io::{self, Write};

/// The seed of every committed sample and benchmark.
pub const SEED: u64 = 5;

/// Rules per case type: 16 table-cell entries, 3 transitions and one rule statement.
pub const RULES_PER_CASETYPE: usize = 20;

pub const ADMINISTRATOR: usize = 0;
pub const EMPLOYEE: usize = 1;
pub const HR: usize = 2;
pub const MANAGER: usize = 3;
/// The roles, which are also the table's columns, in this order.
pub const ROLES: [&str; 4] = ["Administrator", "Employee", "HR", "Manager"];

pub const START: usize = 0;
pub const REVIEW: usize = 1;
pub const DECIDED: usize = 2;
pub const CLOSED: usize = 3;
/// The states of every case type, which are also the table's rows, in this order.
pub const STATES: [&str; 4] = ["Start", "Review", "Decided", "Closed"];

/// Every action, in declaration order.
pub const ACTIONS: [&str; 6] = ["access", "edit", "list", "submit", "decide", "close"];
/// The actions checked against the read access code (`codes { read: … }`).
pub const READ_CODED: [&str; 3] = ["access", "edit", "list"];

/// A workflow step: `transition action: from -> to by role;`.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    pub action: &'static str,
    pub from: usize,
    pub to: usize,
    pub by: usize,
}

/// The transitions of every case type.
pub const TRANSITIONS: [Transition; 3] = [
    Transition {
        action: "submit",
        from: START,
        to: REVIEW,
        by: EMPLOYEE,
    },
    Transition {
        action: "decide",
        from: REVIEW,
        to: DECIDED,
        by: HR,
    },
    Transition {
        action: "close",
        from: DECIDED,
        to: CLOSED,
        by: MANAGER,
    },
];

/// The roles of the one rule statement of every case type: `allow HR, Manager: list;`.
pub const LIST_ROLES: [usize; 2] = [HR, MANAGER];

/// The access groups: name, parent, granted role, and the relation that scopes it (`None` for
/// `scope all`).
pub const GROUPS: [(&str, Option<&str>, usize, Option<&str>); 4] = [
    ("Staff", None, EMPLOYEE, Some("subject")),
    ("HRDepartment", Some("Staff"), HR, None),
    ("LineManagers", Some("Staff"), MANAGER, Some("manager")),
    ("SystemAdmins", None, ADMINISTRATOR, None),
];

/// The org units: `ORG` and, under it, `U0` … `U7`. Cases carry one of them as read code.
pub const UNITS: usize = 8;
/// The term that confidential documents carry as read code.
pub const CONFIDENTIAL: &str = "CONF";

/// SplitMix64 (Steele, Lea and Flood, 2014): small, fast, and fixed by its definition.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Separate streams for the policy, the entities and the requests, so that asking for more
/// requests does not change the entities.
fn stream(seed: u64, which: u64) -> Rng {
    let mut r = Rng::new(seed ^ which.wrapping_mul(0xA076_1D64_78BD_642F));
    r.next_u64();
    r
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One table-cell entry: `+action` or `-action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub effect: Effect,
    pub action: &'static str,
}

/// One case type: its name and its table, one entry per cell, `cells[state][role]`.
#[derive(Debug, Clone)]
pub struct CaseType {
    pub name: String,
    pub cells: [[Entry; 4]; 4],
}

/// A generated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub casetypes: Vec<CaseType>,
}

const fn allow(action: &'static str) -> Entry {
    Entry {
        effect: Effect::Allow,
        action,
    }
}

const fn deny(action: &'static str) -> Entry {
    Entry {
        effect: Effect::Deny,
        action,
    }
}

impl Policy {
    /// A policy of `rules` rules, a positive multiple of [`RULES_PER_CASETYPE`].
    ///
    /// Each cell holds one entry drawn at random: a deny of `access` or `edit` for
    /// Administrator, an allow of `access` or `edit` for the other roles. Three cells are fixed
    /// so that every case type has the situations the benchmarks probe: HR may access in Start,
    /// HR may access in Review where Administrator is denied it, and HR may only edit in Decided.
    pub fn generate(rules: usize, seed: u64) -> Result<Policy, String> {
        if rules == 0 || rules % RULES_PER_CASETYPE != 0 {
            return Err(format!(
                "the number of rules must be a positive multiple of {RULES_PER_CASETYPE} (one case type has {RULES_PER_CASETYPE} rules), not {rules}"
            ));
        }
        let n = rules / RULES_PER_CASETYPE;
        let mut rng = stream(seed, 1);
        let width = n.to_string().len().max(4);
        let casetypes = (0..n)
            .map(|t| {
                let mut cells = [[allow("access"); 4]; 4];
                for row in cells.iter_mut() {
                    for (role, cell) in row.iter_mut().enumerate() {
                        let action = if rng.chance(50) { "access" } else { "edit" };
                        *cell = if role == ADMINISTRATOR {
                            deny(action)
                        } else {
                            allow(action)
                        };
                    }
                }
                cells[START][HR] = allow("access");
                cells[REVIEW][HR] = allow("access");
                cells[REVIEW][ADMINISTRATOR] = deny("access");
                cells[DECIDED][HR] = allow("edit");
                CaseType {
                    name: format!("T{:0width$}", t + 1),
                    cells,
                }
            })
            .collect();
        Ok(Policy { casetypes })
    }

    /// The number of rules: table-cell entries, transitions and rule statements.
    pub fn rules(&self) -> usize {
        self.casetypes.len() * RULES_PER_CASETYPE
    }

    /// The policy as casepol source, in the layout `casepol fmt` writes.
    pub fn to_casepol(&self) -> String {
        let mut s = String::new();
        s.push_str(&format!(
            "// Generated by casepol-gen: {} rules in {} case type(s). Do not edit: see\n// policies/generated/README.md.\n\n",
            self.rules(),
            self.casetypes.len()
        ));
        s.push_str(&format!("role {};\n\n", ROLES.join(", ")));
        s.push_str(&format!("action {};\n\n", ACTIONS.join(", ")));
        for (name, parent, role, via) in GROUPS {
            let head = match parent {
                Some(p) => format!("group {name} in {p}"),
                None => format!("group {name}"),
            };
            match via {
                None => s.push_str(&format!("{head} {{ grants {}; }}\n", ROLES[role])),
                Some(rel) => s.push_str(&format!(
                    "{head} {{\n  grants {};\n  scope assigned via {rel};\n}}\n",
                    ROLES[role]
                )),
            }
        }
        s.push_str("\ncase Case { relation subject, manager; }\n");
        s.push_str("resource Document under Case { inherit read; }\n\n");
        s.push_str(&format!("codes {{ read: {}; }}\n", READ_CODED.join(", ")));
        let header: Vec<String> = ROLES.iter().map(|r| r.to_string()).collect();
        for ct in &self.casetypes {
            s.push_str(&format!("\ncasetype {} {{\n", ct.name));
            s.push_str(&format!("  states {};\n", STATES.join(", ")));
            s.push_str(&format!("  initial {};\n", STATES[START]));
            s.push_str(&format!("  final {};\n\n", STATES[CLOSED]));
            for t in TRANSITIONS {
                s.push_str(&format!(
                    "  transition {}: {} -> {} by {};\n",
                    t.action, STATES[t.from], STATES[t.to], ROLES[t.by]
                ));
            }
            let list: Vec<&str> = LIST_ROLES.iter().map(|&r| ROLES[r]).collect();
            s.push_str(&format!("\n  allow {}: list;\n\n", list.join(", ")));
            // Columns are as wide as their widest cell; the first as the longest state.
            let texts: Vec<Vec<String>> = ct
                .cells
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|e| {
                            let sign = if e.effect == Effect::Allow { '+' } else { '-' };
                            format!("{sign}{}", e.action)
                        })
                        .collect()
                })
                .collect();
            let first = STATES.iter().map(|x| x.len()).max().unwrap_or(0);
            let widths: Vec<usize> = (0..ROLES.len())
                .map(|c| {
                    texts
                        .iter()
                        .map(|row| row[c].len())
                        .chain([header[c].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |head: &str, cols: &[String]| -> String {
                let mut l = format!("    {head:first$}");
                for (c, text) in cols.iter().enumerate() {
                    l.push_str(&format!(" | {text:w$}", w = widths[c]));
                }
                l.truncate(l.trim_end().len());
                l.push('\n');
                l
            };
            s.push_str("  table {\n");
            s.push_str(&line("", &header));
            for (i, row) in texts.iter().enumerate() {
                s.push_str(&line(STATES[i], row));
            }
            s.push_str("  }\n}\n");
        }
        s
    }
}

/// How many entities to generate.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub users: usize,
    pub cases: usize,
    pub documents_per_case: usize,
}

impl Sizes {
    /// The entities of the decision benchmarks and the Cedar comparison.
    pub const DECIDE: Sizes = Sizes {
        users: 1_000,
        cases: 1_000,
        documents_per_case: 2,
    };
    /// The entities of the batch benchmark (one million requests).
    pub const BATCH: Sizes = Sizes {
        users: 10_000,
        cases: 10_000,
        documents_per_case: 2,
    };
    /// The entity-load benchmark: one million cases and a hundred thousand users.
    pub const LOAD: Sizes = Sizes {
        users: 100_000,
        cases: 1_000_000,
        documents_per_case: 0,
    };
    /// The committed sample, small enough to read.
    pub const SAMPLE: Sizes = Sizes {
        users: 8,
        cases: 6,
        documents_per_case: 2,
    };
}

/// The access groups a user may be in, and how often (percent).
const MEMBERSHIPS: [(&[&str], usize); 6] = [
    (&["Staff"], 60),
    (&["HRDepartment"], 15),
    (&["LineManagers"], 10),
    (&["SystemAdmins"], 5),
    (&["HRDepartment", "SystemAdmins"], 5),
    (&[], 5),
];

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub groups: &'static [&'static str],
    /// The org unit `U{n}` the user is in, if any.
    pub unit: Option<usize>,
    /// Holds the term [`CONFIDENTIAL`].
    pub confidential: bool,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: String,
    /// Index into [`Policy::casetypes`].
    pub casetype: usize,
    /// Index into [`STATES`].
    pub state: usize,
    /// Index into [`Population::users`] of the user the case is about.
    pub subject: usize,
    /// Index into [`Population::users`] of the case's line manager.
    pub manager: usize,
    /// The case's read code: one org unit, or empty for no restriction.
    pub read: String,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub id: String,
    /// Index into [`Population::cases`].
    pub case: usize,
    /// The document's own read code: empty, [`CONFIDENTIAL`], an org unit, or "user|unit".
    pub read: String,
}

/// Generated entities.
#[derive(Debug, Clone)]
pub struct Population {
    pub users: Vec<User>,
    pub cases: Vec<Case>,
    pub documents: Vec<Document>,
}

/// The users that come first, all in unit `U0`: `hr` (HRDepartment) and `hradmin`
/// (HRDepartment and SystemAdmins), whom the probes ask as, and `employee` (Staff) and
/// `manager` (LineManagers), the subject and the manager of every probe case.
pub const PROBE_USERS: [&str; 4] = ["hr", "hradmin", "employee", "manager"];

/// One request of a benchmark, in the JSON request format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub principal: String,
    pub action: &'static str,
    pub resource: String,
}

impl Request {
    /// The request as one line of JSON (no newline).
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"principal": "{}", "action": "{}", "resource": "{}"}}"#,
            self.principal, self.action, self.resource
        )
    }
}

/// The four decisions a benchmark of one decision measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// HR accesses a document of a case in Start: table allows, both code levels held.
    Allow,
    /// HR accesses a document of a case in Decided, where HR's cell only allows edit.
    DenyByTable,
    /// HR accesses a confidential document of a case in Start: the table allows, the
    /// document's own code level `[CONF]` is not held.
    DenyByCode,
    /// A user who is in HR and an administrator accesses a document of a case in Review: HR's
    /// cell allows, Administrator's denies, and deny overrides.
    DenyByOverride,
}

impl Probe {
    pub const ALL: [Probe; 4] = [
        Probe::Allow,
        Probe::DenyByTable,
        Probe::DenyByCode,
        Probe::DenyByOverride,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Probe::Allow => "allow",
            Probe::DenyByTable => "deny_by_table",
            Probe::DenyByCode => "deny_by_code",
            Probe::DenyByOverride => "deny_by_override",
        }
    }

    /// The request. Its case is of the last case type, and is one of the probe cases that
    /// [`Population::generate`] always adds.
    pub fn request(self) -> Request {
        let (principal, resource) = match self {
            Probe::Allow => ("hr", "probe-start-doc"),
            Probe::DenyByTable => ("hr", "probe-decided-doc"),
            Probe::DenyByCode => ("hr", "probe-start-conf"),
            Probe::DenyByOverride => ("hradmin", "probe-review-doc"),
        };
        Request {
            principal: principal.into(),
            action: "access",
            resource: resource.into(),
        }
    }
}

impl Population {
    /// `sizes.users` users (the first four are [`PROBE_USERS`]), `sizes.cases` cases with
    /// `sizes.documents_per_case` documents each, and then the probe cases (`probe-start`,
    /// `probe-review`, `probe-decided`, `probe-closed`, of the policy's last case type, read
    /// code `U0`) with their documents (`probe-start-doc`, `probe-start-conf`,
    /// `probe-review-doc`, `probe-decided-doc`, `probe-closed-doc`).
    pub fn generate(policy: &Policy, sizes: Sizes, seed: u64) -> Population {
        let mut rng = stream(seed, 2);
        let n_users = sizes.users.max(4);
        let mut users = Vec::with_capacity(n_users);
        users.push(User {
            id: PROBE_USERS[0].into(),
            groups: &["HRDepartment"],
            unit: Some(0),
            confidential: false,
        });
        users.push(User {
            id: PROBE_USERS[1].into(),
            groups: &["HRDepartment", "SystemAdmins"],
            unit: Some(0),
            confidential: false,
        });
        users.push(User {
            id: PROBE_USERS[2].into(),
            groups: &["Staff"],
            unit: Some(0),
            confidential: false,
        });
        users.push(User {
            id: PROBE_USERS[3].into(),
            groups: &["LineManagers"],
            unit: Some(0),
            confidential: false,
        });
        for i in users.len()..n_users {
            let mut roll = rng.below(100);
            let mut groups: &'static [&'static str] = &[];
            for (g, pct) in MEMBERSHIPS {
                if roll < pct {
                    groups = g;
                    break;
                }
                roll -= pct;
            }
            let unit = if rng.chance(90) {
                Some(rng.below(UNITS))
            } else {
                None
            };
            users.push(User {
                id: format!("u{i}"),
                groups,
                unit,
                confidential: rng.chance(10),
            });
        }
        let n_types = policy.casetypes.len();
        let mut cases = Vec::with_capacity(sizes.cases + 4);
        let mut documents = Vec::with_capacity(sizes.cases * sizes.documents_per_case + 5);
        for i in 0..sizes.cases {
            let read = if rng.chance(25) {
                String::new()
            } else {
                format!("U{}", rng.below(UNITS))
            };
            cases.push(Case {
                id: format!("c{i}"),
                casetype: rng.below(n_types),
                state: rng.below(STATES.len()),
                subject: rng.below(n_users),
                manager: rng.below(n_users),
                read,
            });
            for _ in 0..sizes.documents_per_case {
                let read = match rng.below(100) {
                    0..60 => String::new(),
                    60..75 => CONFIDENTIAL.to_string(),
                    75..90 => format!("U{}", rng.below(UNITS)),
                    _ => format!("{}|U{}", users[rng.below(n_users)].id, rng.below(UNITS)),
                };
                documents.push(Document {
                    id: format!("d{}", documents.len()),
                    case: i,
                    read,
                });
            }
        }
        let last = n_types - 1;
        for (state, name) in [
            (START, "probe-start"),
            (REVIEW, "probe-review"),
            (DECIDED, "probe-decided"),
            (CLOSED, "probe-closed"),
        ] {
            cases.push(Case {
                id: name.into(),
                casetype: last,
                state,
                subject: 2,
                manager: 3,
                read: "U0".into(),
            });
        }
        let n = cases.len();
        for (case, id, read) in [
            (n - 4, "probe-start-doc", ""),
            (n - 4, "probe-start-conf", CONFIDENTIAL),
            (n - 3, "probe-review-doc", ""),
            (n - 2, "probe-decided-doc", ""),
            (n - 1, "probe-closed-doc", ""),
        ] {
            documents.push(Document {
                id: id.into(),
                case,
                read: read.into(),
            });
        }
        Population {
            users,
            cases,
            documents,
        }
    }

    /// Writes the entities file: units, then users, then cases, then documents, one entity
    /// per line.
    pub fn write_json(&self, policy: &Policy, out: &mut impl Write) -> io::Result<()> {
        out.write_all(b"{\n  \"units\": [\n    {\"id\": \"ORG\"}")?;
        for u in 0..UNITS {
            write!(out, ",\n    {{\"id\": \"U{u}\", \"parent\": \"ORG\"}}")?;
        }
        out.write_all(b"\n  ],\n  \"users\": [\n")?;
        for (i, u) in self.users.iter().enumerate() {
            let sep = if i == 0 { "" } else { ",\n" };
            let groups: Vec<String> = u.groups.iter().map(|g| format!("\"{g}\"")).collect();
            write!(
                out,
                "{sep}    {{\"id\": \"{}\", \"groups\": [{}]",
                u.id,
                groups.join(", ")
            )?;
            if let Some(unit) = u.unit {
                write!(out, ", \"units\": [\"U{unit}\"]")?;
            }
            if u.confidential {
                write!(out, ", \"terms\": [\"{CONFIDENTIAL}\"]")?;
            }
            out.write_all(b"}")?;
        }
        out.write_all(b"\n  ],\n  \"resources\": [\n")?;
        let mut first = true;
        for c in &self.cases {
            let sep = if std::mem::take(&mut first) {
                ""
            } else {
                ",\n"
            };
            write!(
                out,
                "{sep}    {{\"id\": \"{}\", \"kind\": \"Case\", \"type\": \"{}\", \"state\": \"{}\", \"relations\": {{\"subject\": [\"{}\"], \"manager\": [\"{}\"]}}",
                c.id,
                policy.casetypes[c.casetype].name,
                STATES[c.state],
                self.users[c.subject].id,
                self.users[c.manager].id
            )?;
            if !c.read.is_empty() {
                write!(out, ", \"read\": \"{}\"", c.read)?;
            }
            out.write_all(b"}")?;
        }
        for d in &self.documents {
            let sep = if std::mem::take(&mut first) {
                ""
            } else {
                ",\n"
            };
            write!(
                out,
                "{sep}    {{\"id\": \"{}\", \"kind\": \"Document\", \"parent\": \"{}\"",
                d.id, self.cases[d.case].id
            )?;
            if !d.read.is_empty() {
                write!(out, ", \"read\": \"{}\"", d.read)?;
            }
            out.write_all(b"}")?;
        }
        out.write_all(b"\n  ]\n}\n")
    }

    /// The entities file as a string.
    pub fn to_json(&self, policy: &Policy) -> String {
        let mut out = Vec::new();
        // INVARIANT: writing to a Vec cannot fail, and only UTF-8 text is written.
        self.write_json(policy, &mut out).expect("write to memory");
        String::from_utf8(out).expect("the entities are UTF-8")
    }

    /// `n` requests: a random user, one of the six actions, and a document (three times in
    /// four) or a case.
    pub fn requests(&self, n: usize, seed: u64) -> Vec<Request> {
        let mut rng = stream(seed, 3);
        (0..n)
            .map(|_| {
                let principal = self.users[rng.below(self.users.len())].id.clone();
                let action = ACTIONS[rng.below(ACTIONS.len())];
                let resource = if self.documents.is_empty() || rng.chance(25) {
                    self.cases[rng.below(self.cases.len())].id.clone()
                } else {
                    self.documents[rng.below(self.documents.len())].id.clone()
                };
                Request {
                    principal,
                    action,
                    resource,
                }
            })
            .collect()
    }
}

/// Writes requests as JSON lines.
pub fn write_jsonl(requests: &[Request], out: &mut impl Write) -> io::Result<()> {
    for r in requests {
        writeln!(out, "{}", r.to_json())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_splitmix64() {
        // The first outputs of SplitMix64 seeded with 0, as published with the algorithm.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn sizes_are_exact_and_output_is_deterministic() {
        for rules in [20, 1_000, 10_000] {
            let p = Policy::generate(rules, SEED).unwrap();
            assert_eq!(p.rules(), rules);
            assert_eq!(p.casetypes.len() * RULES_PER_CASETYPE, rules);
        }
        let a = Policy::generate(1_000, SEED).unwrap().to_casepol();
        let b = Policy::generate(1_000, SEED).unwrap().to_casepol();
        assert_eq!(a, b);
        assert_ne!(a, Policy::generate(1_000, SEED + 1).unwrap().to_casepol());
        assert!(Policy::generate(30, SEED).is_err());
        assert!(Policy::generate(0, SEED).is_err());
    }

    #[test]
    fn probes_name_generated_entities() {
        let p = Policy::generate(40, SEED).unwrap();
        let pop = Population::generate(&p, Sizes::SAMPLE, SEED);
        for probe in Probe::ALL {
            let r = probe.request();
            assert!(pop.users.iter().any(|u| u.id == r.principal));
            assert!(pop.documents.iter().any(|d| d.id == r.resource));
        }
        let json = pop.to_json(&p);
        assert!(json.contains("\"probe-review-doc\""));
        assert_eq!(pop.requests(50, SEED), pop.requests(50, SEED));
    }
}
