//! The `scale` target: a structure-aware generator that turns a few fuzz bytes into a valid
//! policy, entities and requests with large counts — past 256 of each kind of name, long names,
//! wide tables, many identical rules, deep access codes, many attributes and terms — so that a
//! fuzzer reaches the sizes where sets wrap, tables explode and passes turn quadratic.
//!
//! The bytes are read as a recipe of counts ([`Recipe`]), most of them small and a few up to past
//! the built-in limits (src/limits.rs), so most runs are quick and some are at the edge. What
//! runs:
//!
//! - the policy is checked; an error must be a diagnostic (a limit is CP0112), rendered every
//!   way, never a panic, a hang or a blow-up;
//! - a policy that checks is formatted (the formatter proves its own output) and compiled;
//! - the entities load or are refused with errors;
//! - each generated request is decided by the compiled evaluator and the reference evaluator,
//!   which must agree (the same check as `end_to_end`), and every action of a user on a resource
//!   from `Query::actions` must equal the decision of the request for that action alone.
//!
//! [`generate`] is public so that tests can read what an input stands for.

use casepol::diagnostic::Sources;
use casepol::query::Query;
use casepol::{Policy, Request};
use std::fmt::Write;

/// Reads the fuzz bytes as numbers; past the end, every read is zero.
struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn u16(&mut self) -> usize {
        (self.byte() as usize) << 8 | self.byte() as usize
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A count up to `max`: usually small, sometimes in the hundreds, sometimes right around
    /// 256 (254 to 258), rarely anywhere up to `max`.
    fn count(&mut self, max: usize) -> usize {
        let class = self.byte();
        let n = match class {
            0..=127 => self.byte() as usize % 8,
            128..=199 => self.byte() as usize * 2,
            200..=239 => 254 + self.byte() as usize % 5,
            _ => self.u16() * 16,
        };
        n.min(max)
    }
}

/// The shape of one generated world.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub roles: usize,
    pub relations: usize,
    pub actions: usize,
    pub permissions: usize,
    pub modules: usize,
    pub groups: usize,
    /// Resource kinds under the case kind, each under the one before.
    pub kinds: usize,
    pub casetypes: usize,
    pub states: usize,
    pub rules: usize,
    /// Every rule is `allow R: *;` for the same role (N identical rules).
    pub identical_rules: bool,
    /// Attributes of the case kind.
    pub attrs: usize,
    pub variants: usize,
    /// Extra characters on every generated name.
    pub name_pad: usize,
    /// Declare every role, action and permission in one long list on one line.
    pub one_line: bool,
    /// Columns of the one table (roles), rows are the states.
    pub table_columns: usize,
    /// Entries in one table cell.
    pub cell_entries: usize,
    pub users: usize,
    pub cases: usize,
    pub documents: usize,
    pub levels: usize,
    pub codes_per_level: usize,
    pub terms: usize,
    /// Length of the unknown principal of one extra request.
    pub unknown_len: usize,
}

impl Recipe {
    fn read(b: &mut Bytes<'_>) -> Recipe {
        Recipe {
            roles: 1 + b.count(600),
            relations: b.count(40),
            actions: 1 + b.count(600),
            permissions: b.count(600),
            modules: b.count(40),
            groups: 1 + b.count(300),
            kinds: b.count(40),
            casetypes: 1 + b.count(60),
            states: 1 + b.count(60),
            rules: b.count(3_000),
            identical_rules: b.flag(),
            attrs: b.count(2_000),
            variants: 1 + b.count(300),
            name_pad: match b.byte() {
                0..=239 => 0,
                240..=253 => b.count(300),
                _ => b.count(70_000),
            },
            one_line: b.flag(),
            table_columns: b.count(600),
            cell_entries: b.count(600),
            users: 1 + b.count(2_000),
            cases: 1 + b.count(2_000),
            documents: b.count(2_000),
            levels: b.count(1_000_000),
            codes_per_level: 1 + b.count(100),
            terms: b.count(80_000),
            unknown_len: b.count(70_000),
        }
    }
}

/// The most policy text the generator writes: just past the 16 MiB a policy file may have, so
/// that the limit is reached but the generator's own memory stays small.
const POLICY_CAP: usize = 17 << 20;
/// The most entities text the generator writes.
const ENTITIES_CAP: usize = 64 << 20;

/// Text that stops growing at a cap: what would go past it is cut off, and loops ask [`Text::full`] to
/// stop early. A recipe of all-maximum counts with long names would otherwise be gigabytes of
/// text before casepol saw any of it.
struct Text {
    s: String,
    cap: usize,
}

impl Text {
    fn new(start: &str, cap: usize) -> Text {
        Text {
            s: start.to_string(),
            cap,
        }
    }

    fn full(&self) -> bool {
        self.s.len() >= self.cap
    }

    fn push(&mut self, c: char) {
        if !self.full() {
            self.s.push(c);
        }
    }

    fn push_str(&mut self, t: &str) {
        let mut room = self.cap.saturating_sub(self.s.len()).min(t.len());
        while !t.is_char_boundary(room) {
            room -= 1;
        }
        self.s.push_str(&t[..room]);
    }
}

impl Write for Text {
    fn write_str(&mut self, t: &str) -> std::fmt::Result {
        self.push_str(t);
        Ok(())
    }
}

/// A generated world: policy text, entities JSON and requests.
pub struct World {
    pub recipe: Recipe,
    pub policy: String,
    pub entities: String,
    pub requests: Vec<Request>,
}

/// Names: a prefix, an index, and the recipe's padding.
struct Namer {
    pad: String,
}

impl Namer {
    fn name(&self, prefix: &str, i: usize) -> String {
        format!("{prefix}{i}{}", self.pad)
    }
}

/// The indices of `0..n` where a fixed-width set would go wrong: the first two, the last two,
/// the last one's image modulo 256, and the three around 256. Sorted, without repeats.
fn edges(n: usize) -> Vec<usize> {
    let last = n.saturating_sub(1);
    let mut v: Vec<usize> = [
        0,
        1,
        last.saturating_sub(1),
        last,
        last % 256,
        255,
        256,
        257,
    ]
    .into_iter()
    .filter(|&i| i < n)
    .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The world the bytes describe.
pub fn generate(data: &[u8]) -> World {
    let mut b = Bytes { data, at: 0 };
    let r = Recipe::read(&mut b);
    let n = Namer {
        pad: "x".repeat(r.name_pad),
    };
    let role = |i| n.name("r", i);
    let rel = |i| n.name("rel", i);
    let act = |i| n.name("a", i);
    let perm = |i| n.name("p", i);
    let module = |i| n.name("M", i);
    let group = |i| n.name("G", i);
    let kind = |i| n.name("K", i);
    let ctype = |i| n.name("T", i);
    let state = |i| n.name("S", i);
    let attr = |i| n.name("at", i);
    let variant = |i| n.name("v", i);

    let mut p = Text::new("", POLICY_CAP);
    let list = |names: Vec<String>, sep: &str| names.join(sep);
    let sep = if r.one_line { ", " } else { ",\n  " };
    let _ = writeln!(p, "role {};", list((0..r.roles).map(role).collect(), sep));
    // Action `i` requires permission `i % permissions` when there are permissions; the last
    // permission is the one every group permits, so a wrapped set shows as an allow.
    for i in 0..r.actions {
        if p.full() {
            break;
        }
        match r.permissions {
            0 => {
                let _ = writeln!(p, "action {};", act(i));
            }
            np => {
                let _ = writeln!(p, "action {} requires {};", act(i), perm(i % np));
            }
        }
    }
    if r.permissions > 0 {
        let _ = writeln!(
            p,
            "permission {};",
            list((0..r.permissions).map(perm).collect(), sep)
        );
    }
    for m in 0..r.modules {
        let _ = writeln!(
            p,
            "module {} {{ actions {}; }}",
            module(m),
            list(edges(r.actions).into_iter().map(act).collect(), ", ")
        );
    }
    // Variants of the access-mode enum.
    let _ = writeln!(
        p,
        "enum Mode {{ {} }}",
        list((0..r.variants).map(variant).collect(), sep)
    );
    // The case kind: attributes of every type, relations, and an access mode.
    let _ = writeln!(p, "case Case {{");
    let _ = writeln!(p, "  attr access: Mode;");
    for i in 0..r.attrs {
        let ty = ["string", "int", "bool", "set<string>", "Mode"][i % 5];
        let _ = writeln!(p, "  attr {}: {ty};", attr(i));
    }
    if r.relations > 0 {
        let _ = writeln!(
            p,
            "  relation {};",
            list((0..r.relations).map(rel).collect(), ", ")
        );
        let _ = writeln!(p, "  mode access {{");
        for v in 0..r.variants {
            if v % 2 == 0 {
                let _ = writeln!(p, "    {}: everyone;", variant(v));
            } else {
                let _ = writeln!(p, "    {}: {};", variant(v), rel(v % r.relations));
            }
        }
        let _ = writeln!(p, "  }}");
    }
    let _ = writeln!(p, "}}");
    for k in 0..r.kinds {
        let parent = if k == 0 {
            "Case".to_string()
        } else {
            kind(k - 1)
        };
        let _ = writeln!(
            p,
            "resource {} under {parent} {{ inherit read, write; }}",
            kind(k)
        );
    }
    let _ = writeln!(
        p,
        "codes {{ read: {}; write: {}; }}",
        act(0),
        act(r.actions - 1)
    );
    // Groups: each grants one role and permits the last permission; some are scoped.
    for g in 0..r.groups {
        if p.full() {
            break;
        }
        let mut body = format!("grants {};", role(g % r.roles));
        if r.permissions > 0 {
            let _ = write!(body, " permits {};", perm(r.permissions - 1));
        }
        match (g % 4, r.relations, r.attrs) {
            (1, nr, _) if nr > 0 => {
                let _ = write!(body, " scope assigned via {};", rel(g % nr));
            }
            (2, _, na) if na > 0 => {
                let a = (g * 5) % na;
                let cond = match a % 5 {
                    0 => format!("{} == \"s{g}\"", attr(a)),
                    1 => format!("{} != {g}", attr(a)),
                    2 => format!("{} == true", attr(a)),
                    3 => format!("{} contains \"s{g}\"", attr(a)),
                    _ => format!("{} in [{}]", attr(a), variant(g % r.variants)),
                };
                let _ = write!(body, " scope filter {{ {cond}; }}");
            }
            _ => {}
        }
        let parent = match g {
            0 => String::new(),
            _ => format!(" in {}", group((g - 1) / 2)),
        };
        let _ = writeln!(p, "group {}{parent} {{ {body} }}", group(g));
    }
    // Case types, each with every state, a transition, module grants and a table.
    for t in 0..r.casetypes {
        if p.full() {
            break;
        }
        let _ = writeln!(p, "casetype {} {{", ctype(t));
        let _ = writeln!(
            p,
            "  states {};",
            list((0..r.states).map(state).collect(), sep)
        );
        let _ = writeln!(p, "  initial {};", state(0));
        let _ = writeln!(p, "  final {};", state(r.states - 1));
        if r.states > 1 {
            let _ = writeln!(
                p,
                "  transition {}: {} -> {} by {};",
                act(r.actions - 1),
                state(0),
                state(r.states - 1),
                role(0)
            );
        }
        for m in 0..r.modules {
            let _ = writeln!(
                p,
                "  module {} {{ {}: {}; }}",
                module(m),
                role(m % r.roles),
                list(edges(r.actions).into_iter().map(act).collect(), ", ")
            );
        }
        if t == 0 && r.table_columns > 0 {
            let cols = r.table_columns.min(r.roles);
            let _ = write!(p, "  table {{\n   ");
            for c in 0..cols {
                let _ = write!(p, " | {}", role(c));
            }
            p.push('\n');
            for s in 0..r.states {
                if p.full() {
                    break;
                }
                let _ = write!(p, "    {}", state(s));
                for c in 0..cols {
                    let entries = if c == 0 { r.cell_entries.max(1) } else { 1 };
                    p.push_str(" |");
                    for e in 0..entries {
                        let sign = if (s + c + e) % 3 == 0 { '-' } else { '+' };
                        let _ = write!(p, " {sign}{}", act((c + e) % r.actions));
                    }
                }
                p.push('\n');
            }
            let _ = writeln!(p, "  }}");
        }
        let _ = writeln!(p, "}}");
    }
    // Top-level rules.
    for i in 0..r.rules {
        if p.full() {
            break;
        }
        if r.identical_rules {
            let _ = writeln!(p, "allow {}: *;", role(0));
        } else {
            let effect = if i % 7 == 6 { "deny" } else { "allow" };
            let _ = writeln!(
                p,
                "{effect} {}: {};",
                role(i % r.roles),
                act((i * 13) % r.actions)
            );
        }
    }

    // Entities.
    let mut e = Text::new("{\"users\": [", ENTITIES_CAP);
    for u in 0..r.users {
        if e.full() {
            break;
        }
        if u > 0 {
            e.push(',');
        }
        let groups: Vec<String> = [u % r.groups, r.groups - 1]
            .iter()
            .map(|&g| format!("\"{}\"", group(g)))
            .collect();
        let _ = write!(
            e,
            "\n{{\"id\": \"u{u}\", \"groups\": [{}]",
            groups.join(", ")
        );
        if u == 0 && r.terms > 0 {
            e.push_str(", \"terms\": [");
            for t in 0..r.terms {
                if t > 0 {
                    e.push(',');
                }
                let _ = write!(e, "\"t{t}\"");
            }
            e.push(']');
        }
        e.push('}');
    }
    e.push_str("],\n\"resources\": [");
    // The first case's code: at most 2,000,000 codes in all, and written only up to the
    // entities' cap: with long names, 823,456 levels asked for 19 GB before it was (a fuzzing
    // find in the generator itself, `scale/eight_hundred_thousand_levels_of_long_names`).
    let code = |levels: usize, per: usize| -> String {
        let per = per.min((2_000_000 / levels.max(1)).max(1));
        let mut out = String::new();
        for l in 0..levels {
            if out.len() >= ENTITIES_CAP {
                break;
            }
            if l > 0 {
                out.push_str(" & ");
            }
            out.push('[');
            for c in 0..per {
                if c > 0 {
                    out.push('|');
                }
                match (l + c) % 3 {
                    0 => {
                        let _ = write!(out, "t{}", (l * per + c) % r.terms.max(1));
                    }
                    1 => out.push_str(&group((l + c) % r.groups)),
                    _ => {
                        let _ = write!(out, "u{}", c % r.users);
                    }
                }
            }
            out.push(']');
        }
        out
    };
    for c in 0..r.cases {
        if e.full() {
            break;
        }
        if c > 0 {
            e.push(',');
        }
        let _ = write!(
            e,
            "\n{{\"id\": \"c{c}\", \"kind\": \"Case\", \"type\": \"{}\", \"state\": \"{}\", \
             \"attrs\": {{\"access\": \"{}\"",
            ctype(c % r.casetypes),
            state(c % r.states),
            variant(c % r.variants)
        );
        for a in 0..r.attrs {
            let v = match a % 5 {
                0 => format!("\"s{}\"", c % 7),
                1 => format!("{}", c % 7),
                2 => format!("{}", c % 2 == 0),
                3 => format!("[\"s{}\", \"s{}\"]", c % 7, a % 7),
                _ => format!("\"{}\"", variant((c + a) % r.variants)),
            };
            let _ = write!(e, ", \"{}\": {v}", attr(a));
        }
        e.push('}');
        if r.relations > 0 {
            e.push_str(", \"relations\": {");
            for x in 0..r.relations {
                if x > 0 {
                    e.push_str(", ");
                }
                let _ = write!(e, "\"{}\": [\"u{}\"]", rel(x), (c + x) % r.users);
            }
            e.push('}');
        }
        if c == 0 && r.levels > 0 {
            let _ = write!(e, ", \"read\": \"{}\"", code(r.levels, r.codes_per_level));
        }
        e.push('}');
    }
    // Documents under case 0, down the chain of kinds, each with a small code of its own so
    // that an effective code is its own level plus every inherited one.
    if r.kinds > 0 {
        for d in 0..r.documents {
            if e.full() {
                break;
            }
            let k = d % r.kinds;
            let parent = if k == 0 {
                "c0".to_string()
            } else {
                format!("d{}", d - 1)
            };
            let _ = write!(
                e,
                ",\n{{\"id\": \"d{d}\", \"kind\": \"{}\", \"parent\": \"{parent}\", \"read\": \"[u{}]\"}}",
                kind(k),
                d % r.users
            );
        }
    }
    e.push_str("]}");

    // Requests: the first and last user, every edge permission and action, the first and last
    // case and document, and no module, the first and the last.
    let ends = |n: usize| -> Vec<usize> {
        let mut v = vec![0, n.saturating_sub(1)];
        v.dedup();
        v
    };
    let mut requests = Vec::new();
    let mut resources: Vec<String> = ends(r.cases).into_iter().map(|c| format!("c{c}")).collect();
    if r.kinds > 0 && r.documents > 0 {
        resources.extend(ends(r.documents).into_iter().map(|d| format!("d{d}")));
    }
    let mut modules: Vec<Option<String>> = vec![None];
    if r.modules > 0 {
        modules.extend(ends(r.modules).into_iter().map(|m| Some(module(m))));
    }
    for u in ends(r.users) {
        let user = format!("u{u}");
        for q in edges(r.permissions) {
            requests.push(Request::new(&user, &perm(q), None));
        }
        for a in edges(r.actions) {
            for res in &resources {
                for m in &modules {
                    let mut req = Request::new(&user, &act(a), Some(res));
                    req.module = m.clone();
                    requests.push(req);
                }
            }
        }
    }
    if r.unknown_len > 0 {
        requests.push(Request::new(
            &"u".repeat(r.unknown_len),
            &act(0),
            Some("c0"),
        ));
    }
    World {
        recipe: r,
        policy: p.s,
        entities: e.s,
        requests,
    }
}

/// `scale`: see the file's header.
pub fn scale(data: &[u8]) {
    let world = generate(data);
    let mut sources = Sources::new();
    let file = sources.add("scale.casepol", world.policy.as_str());
    let policy = match Policy::from_sources(sources) {
        Ok(p) => p,
        Err(e) => {
            super::render_all(&e.diagnostics, &e.sources);
            return;
        }
    };
    super::render_all(policy.warnings(), policy.compiled().sources());
    // The formatter proves its own output; a failed proof is a bug report, never a panic.
    std::hint::black_box(casepol::internal::format::format_source(file, &world.policy).is_ok());
    std::hint::black_box(policy.compiled().to_string());
    let entities = match policy.load_entities(&world.entities) {
        Ok(e) => e,
        Err(errors) => {
            for e in errors.iter().take(100) {
                std::hint::black_box(e.to_string());
            }
            return;
        }
    };
    let query = Query::new(&policy, &entities);
    for request in &world.requests {
        super::decide(&policy, &entities, request);
        // `actions` answers every action at once; each must be the decision of that action.
        if let (Some(resource), true) = (
            &request.resource,
            request.action == world_first_action(&world),
        ) {
            if let Ok(all) = query.actions(&request.principal, resource, request.module.as_deref())
            {
                for (action, d) in all.iter().filter(|(a, _)| is_edge(&world, a)) {
                    let mut single = request.clone();
                    single.action = action.clone();
                    let vm = policy.is_allowed(&entities, &single);
                    assert!(
                        vm == *d,
                        "`actions` says {d:?} for {single:?}, deciding it alone says {vm:?}"
                    );
                }
            }
        }
    }
}

/// The first action's name: `actions` is asked once per user × resource × module.
fn world_first_action(world: &World) -> String {
    format!("a0{}", "x".repeat(world.recipe.name_pad))
}

/// Whether an action name is one of the edge actions (first two, last two).
fn is_edge(world: &World, name: &str) -> bool {
    let pad = "x".repeat(world.recipe.name_pad);
    edges(world.recipe.actions)
        .into_iter()
        .any(|i| format!("a{i}{pad}") == name)
}
