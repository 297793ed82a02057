//! Entity loading, data-driven: each `tests/data/entities/{ok,err}/*.json` is loaded against
//! `tests/data/entities/policy.casepol`.
//!
//! - `ok/*.json` must load; the snapshot is what was loaded (group and unit closures, code sets,
//!   anchors and effective access codes), so a wrong closure shows up as a diff.
//! - `err/*.json` must fail; the snapshot is every error rendered with `Display`, one per line.

use casepol::internal::entities::{EffectiveCode, Entities};
use casepol::Policy;
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn policy() -> Policy {
    let path = "tests/data/entities/policy.casepol";
    let text = std::fs::read_to_string(root().join(path)).unwrap();
    let policy = Policy::from_source(path, &text).unwrap_or_else(|e| panic!("{}", e.render()));
    assert!(policy.warnings().is_empty(), "{:?}", policy.warnings());
    policy
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The effective read (or write) code of resource `i`, each level marked with the resource it
/// comes from. The origins are re-derived here from the parent chain and its inherit flags; the
/// levels they give must be the loader's effective code.
fn codes(entities: &Entities, i: u32, read: bool) -> String {
    let resources = entities.resources();
    let mut derived: Vec<(&[u32], u32)> = Vec::new();
    let mut cur = Some(i);
    while let Some(c) = cur {
        let r = &resources[c as usize];
        let (own, inherits) = match read {
            true => (&r.own_read, r.inherit_read),
            false => (&r.own_write, r.inherit_write),
        };
        derived.extend(own.iter().map(|level| (&**level, c)));
        cur = r.parent.filter(|_| inherits);
    }
    let effective: EffectiveCode = match read {
        true => entities.read_code(i),
        false => entities.write_code(i),
    };
    let loaded: Vec<&[u32]> = effective.iter().map(|l| &**l).collect();
    let chain: Vec<&[u32]> = derived.iter().map(|&(l, _)| l).collect();
    assert_eq!(
        loaded,
        chain,
        "effective code of `{}`",
        entities.resource_id(i)
    );
    // Deciding visits only the levels that can fail; it must agree with every level, for every
    // user.
    for (u, id) in entities.users().iter().zip(entities.user_ids()) {
        let met = chain
            .iter()
            .all(|l| l.is_empty() || l.iter().any(|c| u.codes.contains(c)));
        assert_eq!(
            effective.is_met_by(&u.codes),
            met,
            "`{id}` and the effective code of `{}`",
            entities.resource_id(i)
        );
    }
    let levels: Vec<String> = derived
        .iter()
        .map(|&(level, from)| {
            let names: Vec<&str> = level.iter().map(|&s| entities.symbol(s)).collect();
            format!("[{}]@{}", names.join("|"), entities.resource_id(from))
        })
        .collect();
    if levels.is_empty() {
        "(none)".to_string()
    } else {
        levels.join(" & ")
    }
}

/// A readable account of everything the loader computed.
fn summary(policy: &Policy, entities: &Entities) -> String {
    let ir = policy.compiled().ir();
    let mut out = String::new();
    for u in entities.units() {
        let parent = u
            .parent
            .map(|p| entities.units()[p as usize].id.as_str())
            .unwrap_or("-");
        let _ = writeln!(out, "unit {} parent={parent}", u.id);
    }
    for (u, id) in entities.users().iter().zip(entities.user_ids()) {
        let groups: Vec<&str> = u
            .groups
            .iter()
            .map(|&g| ir.groups[g as usize].name.as_str())
            .collect();
        let mut code_set: Vec<&str> = u.codes.iter().map(|&s| entities.symbol(s)).collect();
        code_set.sort_unstable();
        let _ = writeln!(
            out,
            "user {} groups=[{}] codes=[{}]",
            id,
            groups.join(", "),
            code_set.join(", ")
        );
    }
    for (i, r) in (0u32..).zip(entities.resources()) {
        let id = |i: Option<u32>| i.map_or("-", |i| entities.resource_id(i));
        let kind = &ir.kinds[r.kind.idx()];
        let _ = write!(
            out,
            "resource {} kind={} parent={} anchor={}",
            entities.resource_id(i),
            kind.name,
            id(r.parent),
            id(r.anchor)
        );
        if kind.is_case {
            let ct = &ir.casetypes[r.casetype as usize];
            let relations: Vec<String> = ir
                .relations
                .iter()
                .zip(r.relations.iter())
                .map(|(rel, users)| {
                    let names: Vec<&str> = users.iter().map(|&u| entities.user_id(u)).collect();
                    format!("{}=[{}]", rel.name, names.join(", "))
                })
                .collect();
            let _ = write!(
                out,
                " type={} state={} {}",
                ct.name,
                ct.states[r.state as usize].name,
                relations.join(" ")
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "  read:  {}", codes(entities, i, true));
        let _ = writeln!(out, "  write: {}", codes(entities, i, false));
    }
    out
}

#[test]
fn entities_that_load() {
    let policy = policy();
    insta::glob!("data/entities/ok/*.json", |path| {
        let entities = policy.load_entities(&read(path)).unwrap_or_else(|errors| {
            let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
            panic!("{} should load:\n{}", path.display(), lines.join("\n"))
        });
        insta::assert_snapshot!(summary(&policy, &entities));
    });
}

#[test]
fn entities_that_fail() {
    let policy = policy();
    insta::glob!("data/entities/err/*.json", |path| {
        let errors = match policy.load_entities(&read(path)) {
            Ok(_) => panic!("{} should not load", path.display()),
            Err(errors) => errors,
        };
        assert!(
            !errors.is_empty(),
            "{}: an error result with no errors",
            path.display()
        );
        for e in &errors {
            // docs/data-formats.md §1.6: an error locates itself, by line and column in the JSON
            // or by entity (its id, or its place in the file) and field, and says how to fix it.
            let named = e.entity.is_some() || e.position.is_some();
            let located = (e.line.is_some() && e.column.is_some()) || (named && e.field.is_some());
            assert!(located, "{}: error is not located: {e:?}", path.display());
            assert!(
                e.help.as_deref().is_some_and(|h| !h.is_empty()),
                "{}: error has no help: {e:?}",
                path.display()
            );
        }
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        insta::assert_snapshot!(lines.join("\n"));
    });
}

/// `-0` is neither a fraction nor an exponent: the error says what it is and how to write it.
#[test]
fn negative_zero_is_named_as_such() {
    let policy = policy();
    let errors = policy
        .load_entities(&read(
            &root().join("tests/data/entities/err/int_negative_zero.json"),
        ))
        .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e.field.as_deref(), Some("attrs.priority"));
    assert!(e.message.contains("`-0`"), "{}", e.message);
    assert!(
        !e.message.contains("fraction or an exponent"),
        "{}",
        e.message
    );
    assert_eq!(e.help.as_deref(), Some("write it as `0`"));
}

/// An error's column counts characters, not bytes: with `é€😀` (two, three and four bytes)
/// before the mistake on its line, the column is that of the mistake as an editor shows it,
/// whether the text is not JSON at all or has the wrong structure; its byte offset is the
/// mistake's.
#[test]
fn error_columns_count_characters() {
    let policy = policy();
    for (text, marker) in [
        (
            "{\"users\": [\n  {\"id\": \"é€😀\", \"groups\": x}\n]}",
            "x",
        ),
        (
            "{\"users\": [\n  {\"id\": \"é€😀\", \"groups\": 5}\n]}",
            "5",
        ),
        (
            "{\"users\": [{\"id\": \"é€😀\"}], \"resources\": [{\"id\": \"é\", \"kind\": 1}]}",
            "1",
        ),
    ] {
        let at = text.find(marker).unwrap();
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let want = (
            text[..at].matches('\n').count() + 1,
            text[line_start..at].chars().count() + 1,
        );
        let errors = policy.load_entities(text).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            (errors[0].line, errors[0].column, errors[0].offset),
            (Some(want.0), Some(want.1), Some(at)),
            "{text}"
        );
        // After a byte order mark: the same line and column, and the offset in the text given.
        let errors = policy
            .load_entities(&format!("\u{feff}{text}"))
            .unwrap_err();
        assert_eq!(
            (errors[0].line, errors[0].column, errors[0].offset),
            (Some(want.0), Some(want.1), Some(at + 3)),
            "{text}"
        );
    }
}

/// A case of a policy that declares no case type cannot be given one: the help says to declare
/// one (it was "set `type` to one of " followed by nothing), and the declaration it shows checks.
#[test]
fn a_case_type_missing_from_the_policy_is_said_so() {
    let text = "role R;\naction view;\ncase Matter { }\ngroup G { grants R; }\nallow R: view;\n";
    let policy = Policy::from_source("nocasetype.casepol", text).unwrap_or_else(|e| panic!("{e}"));
    let errors = policy
        .load_entities(r#"{"resources": [{"id": "m", "kind": "Matter"}]}"#)
        .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let help = errors[0].help.clone().unwrap_or_default();
    insta::assert_snapshot!(help);
    // The declaration the help suggests, added to the policy, makes the case loadable.
    let snippet = help
        .split('`')
        .find(|s| s.starts_with("casetype"))
        .unwrap_or_else(|| panic!("{help}"));
    let fixed = Policy::from_source("fixed.casepol", &format!("{text}{snippet}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    fixed
        .load_entities(r#"{"resources": [{"id": "m", "kind": "Matter", "type": "Standard"}]}"#)
        .unwrap_or_else(|e| panic!("{e:?}"));
}

/// A `datetime` attribute is one UTC instant in microseconds, whatever offset and case of
/// letters it was written with; it is written back in RFC 3339, in UTC.
#[test]
fn datetimes_load_as_utc_instants_and_are_written_back_in_utc() {
    use casepol::internal::entities::AttrValue;
    let policy = policy();
    let path = root().join("tests/data/entities/ok/datetime.json");
    let entities = policy.load_entities(&read(&path)).unwrap();
    let due = |id: &str| -> i64 {
        let r = entities.resource_ids().position(|x| x == id).unwrap();
        match entities.resources()[r].attrs[0] {
            AttrValue::DateTime(t) => t,
            ref other => panic!("{id}: {other:?}"),
        }
    };
    // 2026-01-31T09:30:00Z, re-derived: 20,484 days after 1970-01-01, and 9.5 hours.
    let expected = (20_484 * 86_400 + 9 * 3_600 + 30 * 60) * 1_000_000;
    assert_eq!(due("s-utc"), expected);
    assert_eq!(due("s-offset"), expected, "+01:00 is an hour ahead of UTC");
    assert_eq!(due("s-fraction"), expected + 123_456);
    assert_eq!(due("s-negative"), -500_000);
    assert_eq!(due("s-first"), -62_167_219_200 * 1_000_000);
    assert_eq!(due("s-last"), 253_402_300_800 * 1_000_000 - 1);
    let written = entities.to_json(policy.compiled());
    let dues: Vec<&str> = written["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["attrs"]["due"].as_str().unwrap())
        .collect();
    assert_eq!(
        dues,
        [
            "2026-01-31T09:30:00Z",
            "2026-01-31T09:30:00Z",
            "2026-01-31T09:30:00.123456Z",
            "1969-12-31T23:59:59.5Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z"
        ]
    );
}
