//! The generated case-management policy (casepol-gen) in both engines: casepol, and Cedar
//! (the `cedar-policy` crate), deciding the same requests over the same entities.
//!
//! The Cedar model is a literal translation of what the casepol policy means for the
//! generated entities (docs/semantics.md):
//!
//! - Each table-cell entry, transition and the `allow HR, Manager: list;` statement is one
//!   Cedar `permit` (an allow) or `forbid` (a deny: Cedar's forbid overrides permit, as deny
//!   overrides allow), conditioned on the anchor case's type and state.
//! - A role is held as casepol's groups and scopes grant it: `Administrator` and `HR` through
//!   membership of `SystemAdmins` and `HRDepartment` (scope all), `Employee` through `Staff`
//!   only on a case whose `subject` the principal is, `Manager` through `LineManagers` only on a
//!   case whose `manager` the principal is. Groups are Cedar parents, so `in` follows
//!   `HRDepartment in Staff` as casepol does.
//! - The two-level read code is one `forbid … unless` on the read-coded actions: the document's
//!   own level and its case's level must each be empty or share a code with the principal's
//!   code set (id, groups with ancestors, units with ancestors, terms), which the entity data
//!   carries precomputed, as casepol computes it when it loads entities.
//! - Every resource carries its anchor case as `anchor` (a case is its own anchor), so one
//!   policy serves cases and documents; for a case the two code levels are the same level.
//!
//! Cedar evaluates every policy for every request; casepol looks its rules up by (case type,
//! state, action). The benchmark `side_by_side` times both; the test `equivalence` checks that
//! they decide every benchmarked request alike.

use casepol_gen::{
    Effect, Policy as Gen, Population, Request as GenRequest, Sizes, ACTIONS, ADMINISTRATOR,
    CONFIDENTIAL, EMPLOYEE, GROUPS, HR, LIST_ROLES, MANAGER, READ_CODED, SEED, STATES, TRANSITIONS,
};
use std::fmt::Write;

/// When `principal` holds role `r` on the resource (see the crate documentation).
fn holds(role: usize) -> &'static str {
    match role {
        ADMINISTRATOR => r#"principal in Group::"SystemAdmins""#,
        HR => r#"principal in Group::"HRDepartment""#,
        EMPLOYEE => {
            r#"(principal in Group::"Staff" && resource.anchor.subject.contains(principal))"#
        }
        MANAGER => {
            r#"(principal in Group::"LineManagers" && resource.anchor.manager.contains(principal))"#
        }
        _ => "false",
    }
}

/// The Cedar policies: one per casepol rule, and the access-code check.
pub fn cedar_policies(policy: &Gen) -> String {
    let mut out = String::new();
    let place = |ct: &str, state: Option<usize>| match state {
        Some(s) => format!(
            r#"resource.anchor.casetype == "{ct}" && resource.anchor.state == "{}""#,
            STATES[s]
        ),
        None => format!(r#"resource.anchor.casetype == "{ct}""#),
    };
    for ct in &policy.casetypes {
        for (s, row) in ct.cells.iter().enumerate() {
            for (role, entry) in row.iter().enumerate() {
                let effect = match entry.effect {
                    Effect::Allow => "permit",
                    Effect::Deny => "forbid",
                };
                let _ = writeln!(
                    out,
                    r#"{effect} (principal, action == Action::"{}", resource) when {{ {} && {} }};"#,
                    entry.action,
                    place(&ct.name, Some(s)),
                    holds(role)
                );
            }
        }
        for t in TRANSITIONS {
            let _ = writeln!(
                out,
                r#"permit (principal, action == Action::"{}", resource) when {{ {} && {} }};"#,
                t.action,
                place(&ct.name, Some(t.from)),
                holds(t.by)
            );
        }
        let roles: Vec<&str> = LIST_ROLES.iter().map(|&r| holds(r)).collect();
        let _ = writeln!(
            out,
            r#"permit (principal, action == Action::"list", resource) when {{ {} && ({}) }};"#,
            place(&ct.name, None),
            roles.join(" || ")
        );
    }
    let coded: Vec<String> = READ_CODED
        .iter()
        .map(|a| format!(r#"Action::"{a}""#))
        .collect();
    let _ = writeln!(
        out,
        r#"forbid (principal, action in [{}], resource) unless {{ (resource.code.isEmpty() || principal.codes.containsAny(resource.code)) && (resource.anchor.code.isEmpty() || principal.codes.containsAny(resource.anchor.code)) }};"#,
        coded.join(", ")
    );
    out
}

fn uid(ty: &str, id: &str) -> String {
    format!(r#"{{"type": "{ty}", "id": "{id}"}}"#)
}

/// An entity reference as an attribute value.
fn entity(ty: &str, id: &str) -> String {
    format!(r#"{{"__entity": {}}}"#, uid(ty, id))
}

/// The codes of one access-code level, as a JSON array of strings.
fn level(code: &str) -> String {
    let codes: Vec<String> = code
        .split('|')
        .filter(|c| !c.is_empty())
        .map(|c| format!("\"{c}\""))
        .collect();
    format!("[{}]", codes.join(", "))
}

/// The entities in Cedar's JSON format.
pub fn cedar_entities(policy: &Gen, population: &Population) -> String {
    let mut items: Vec<String> = Vec::new();
    for (name, parent, _, _) in GROUPS {
        let parents: Vec<String> = parent.iter().map(|p| uid("Group", p)).collect();
        items.push(format!(
            r#"{{"uid": {}, "attrs": {{}}, "parents": [{}]}}"#,
            uid("Group", name),
            parents.join(", ")
        ));
    }
    for u in &population.users {
        let mut codes: Vec<String> = vec![u.id.clone()];
        for g in u.groups {
            codes.push(g.to_string());
            let mut cur = GROUPS.iter().find(|x| x.0 == *g).and_then(|x| x.1);
            while let Some(p) = cur {
                codes.push(p.to_string());
                cur = GROUPS.iter().find(|x| x.0 == p).and_then(|x| x.1);
            }
        }
        if let Some(unit) = u.unit {
            codes.push(format!("U{unit}"));
            codes.push("ORG".into());
        }
        if u.confidential {
            codes.push(CONFIDENTIAL.into());
        }
        codes.sort();
        codes.dedup();
        let codes: Vec<String> = codes.iter().map(|c| format!("\"{c}\"")).collect();
        let parents: Vec<String> = u.groups.iter().map(|g| uid("Group", g)).collect();
        items.push(format!(
            r#"{{"uid": {}, "attrs": {{"codes": [{}]}}, "parents": [{}]}}"#,
            uid("User", &u.id),
            codes.join(", "),
            parents.join(", ")
        ));
    }
    for c in &population.cases {
        items.push(format!(
            r#"{{"uid": {}, "attrs": {{"casetype": "{}", "state": "{}", "subject": [{}], "manager": [{}], "code": {}, "anchor": {}}}, "parents": []}}"#,
            uid("Case", &c.id),
            policy.casetypes[c.casetype].name,
            STATES[c.state],
            entity("User", &population.users[c.subject].id),
            entity("User", &population.users[c.manager].id),
            level(&c.read),
            entity("Case", &c.id)
        ));
    }
    for d in &population.documents {
        items.push(format!(
            r#"{{"uid": {}, "attrs": {{"code": {}, "anchor": {}}}, "parents": []}}"#,
            uid("Document", &d.id),
            level(&d.read),
            entity("Case", &population.cases[d.case].id)
        ));
    }
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// The Cedar schema of the model, for validating the policies as casepol checks its own.
pub fn cedar_schema() -> String {
    let actions: Vec<String> = ACTIONS.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "entity Group in [Group];\n\
         entity User in [Group] {{ codes: Set<String> }};\n\
         entity Case {{ casetype: String, state: String, subject: Set<User>, manager: Set<User>, code: Set<String>, anchor: Case }};\n\
         entity Document {{ code: Set<String>, anchor: Case }};\n\
         action {} appliesTo {{ principal: User, resource: [Case, Document] }};\n",
        actions.join(", ")
    )
}

/// Parses and validates Cedar policies against [`cedar_schema`]: Cedar's counterpart of
/// casepol's parse, check and compile.
pub fn cedar_compile(source: &str) -> Result<cedar_policy::PolicySet, String> {
    let (schema, _) = cedar_policy::Schema::from_cedarschema_str(&cedar_schema())
        .map_err(|e| format!("Cedar schema: {e}"))?;
    let policies: cedar_policy::PolicySet =
        source.parse().map_err(|e| format!("Cedar policies: {e}"))?;
    let result = cedar_policy::Validator::new(schema)
        .validate(&policies, cedar_policy::ValidationMode::Strict);
    match result.validation_passed() {
        true => Ok(policies),
        false => Err(format!(
            "Cedar validation: {}",
            result
                .validation_errors()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    }
}

/// One scale of the comparison: the generated policy and entities, loaded in both engines.
pub struct Scale {
    pub rules: usize,
    pub generated: Gen,
    pub population: Population,
    pub casepol: casepol::Policy,
    pub casepol_entities: casepol::Entities,
    pub cedar_policies: cedar_policy::PolicySet,
    pub cedar_entities: cedar_policy::Entities,
    pub casepol_source: String,
    pub cedar_source: String,
}

impl Scale {
    /// Generates and loads a policy of `rules` rules with the entities of the decision
    /// benchmarks ([`Sizes::DECIDE`]).
    pub fn new(rules: usize) -> Result<Scale, String> {
        let generated = Gen::generate(rules, SEED)?;
        let population = Population::generate(&generated, Sizes::DECIDE, SEED);
        let casepol_source = generated.to_casepol();
        let casepol = casepol::Policy::from_source("generated.casepol", &casepol_source)
            .map_err(|e| e.render())?;
        let casepol_entities = casepol
            .load_entities(&population.to_json(&generated))
            .map_err(|e| format!("{} entity error(s): {}", e.len(), e[0]))?;
        let cedar_source = cedar_policies(&generated);
        let cedar_policies = cedar_compile(&cedar_source)?;
        let cedar_entities =
            cedar_policy::Entities::from_json_str(&cedar_entities(&generated, &population), None)
                .map_err(|e| format!("Cedar entities: {e}"))?;
        Ok(Scale {
            rules,
            generated,
            population,
            casepol,
            casepol_entities,
            cedar_policies,
            cedar_entities,
            casepol_source,
            cedar_source,
        })
    }

    /// The request for casepol, resolved to ids.
    pub fn casepol_request(&self, r: &GenRequest) -> Result<casepol::Resolved, String> {
        let req = casepol::Request::new(&r.principal, r.action, Some(&r.resource));
        self.casepol
            .resolve(&self.casepol_entities, &req)
            .map_err(|e| e.message)
    }

    /// The request for Cedar.
    pub fn cedar_request(&self, r: &GenRequest) -> Result<cedar_policy::Request, String> {
        let kind = if self.population.cases.iter().any(|c| c.id == r.resource) {
            "Case"
        } else {
            "Document"
        };
        let parse = |s: String| -> Result<cedar_policy::EntityUid, String> {
            s.parse().map_err(|e| format!("{s}: {e}"))
        };
        cedar_policy::Request::new(
            parse(format!(r#"User::"{}""#, r.principal))?,
            parse(format!(r#"Action::"{}""#, r.action))?,
            parse(format!(r#"{kind}::"{}""#, r.resource))?,
            cedar_policy::Context::empty(),
            None,
        )
        .map_err(|e| e.to_string())
    }

    pub fn casepol_allows(&self, r: &casepol::Resolved) -> bool {
        self.casepol.decide(&self.casepol_entities, r).allowed
    }

    pub fn cedar_allows(
        &self,
        authorizer: &cedar_policy::Authorizer,
        r: &cedar_policy::Request,
    ) -> bool {
        authorizer
            .is_authorized(r, &self.cedar_policies, &self.cedar_entities)
            .decision()
            == cedar_policy::Decision::Allow
    }
}

/// The scales of the comparison, in rules.
pub const SCALES: [usize; 3] = [20, 1_000, 10_000];
