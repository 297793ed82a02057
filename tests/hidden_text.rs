//! Text that reads one way and parses another ("Trojan Source", issue 11 finding 2): a line
//! break that the parser would not see hides a rule inside a comment, and invisible direction
//! controls reorder what an editor shows. A comment ends at every line break an editor honours,
//! the other line breaks and every direction or control character are errors (CP0002) with the
//! character's span, and `fmt` writes each line break it keeps as a line feed.

use casepol::diagnostic::{render, Diagnostic, FileId, Sources};
use casepol::internal::format::format_source;
use casepol::{Policy, Request};

const POLICY: &str = "role Staff, Contractor;
action view, export;
group Employees { grants Staff; }
group Contractors { grants Contractor; }
resource Report { }
";

const ENTITIES: &str = r#"{
    "users": [{"id": "sam", "groups": ["Employees"]}, {"id": "cody", "groups": ["Contractors"]}],
    "resources": [{"id": "r1", "kind": "Report"}]
}"#;

/// The policy with the rule line of the issue, its comment ended by `line_break`.
fn policy_text(line_break: &str) -> String {
    format!(
        "{POLICY}allow Staff, Contractor: view, export;   // everyone{line_break}deny Contractor: export;\n"
    )
}

fn allowed(policy: &Policy, principal: &str, action: &str) -> bool {
    let entities = policy.load_entities(ENTITIES).unwrap();
    policy
        .is_allowed(&entities, &Request::new(principal, action, Some("r1")))
        .allowed
}

#[test]
fn a_carriage_return_ends_a_comment() {
    for line_break in ["\r", "\n", "\r\n"] {
        let text = policy_text(line_break);
        let policy = Policy::from_source("p.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !allowed(&policy, "cody", "export"),
            "{line_break:?}: the deny on the next line applies"
        );
        assert!(allowed(&policy, "cody", "view"), "{line_break:?}");
        assert!(allowed(&policy, "sam", "export"), "{line_break:?}");
    }
}

#[test]
fn fmt_puts_the_hidden_rule_on_its_own_line() {
    let formatted = format_source(FileId(0), &policy_text("\r")).unwrap();
    assert!(!formatted.contains('\r'), "{formatted:?}");
    assert!(
        formatted.ends_with(
            "allow Staff, Contractor: view, export;  // everyone\ndeny Contractor: export;\n"
        ),
        "{formatted}"
    );
}

/// The CP0002 diagnostics of `text`, each with the text its span covers.
fn hidden(text: &str) -> Vec<(Diagnostic, String)> {
    let mut sources = Sources::new();
    sources.add("hidden.casepol", text);
    let (ir, diags) = casepol::internal::check_sources(&sources);
    assert!(
        ir.is_none(),
        "a policy with hidden characters must not check"
    );
    diags
        .into_iter()
        .filter(|d| d.code.as_str() == "CP0002")
        .map(|d| {
            let covered = sources.snippet(d.span()).to_string();
            (d, covered)
        })
        .collect()
}

#[test]
fn other_line_breaks_are_errors_on_the_character() {
    for c in ['\u{2028}', '\u{2029}', '\u{85}', '\u{b}', '\u{c}'] {
        let text = policy_text(&c.to_string());
        let found = hidden(&text);
        assert_eq!(found.len(), 1, "{c:?}: {found:?}");
        let (d, covered) = &found[0];
        assert_eq!(covered, &c.to_string(), "{c:?}: the span is the character");
        assert!(d.is_error() && d.help.is_some(), "{d:?}");
        assert!(
            d.message.contains(&format!("`U+{:04X}`", c as u32)),
            "{}",
            d.message
        );
        // Only the one error: the text after the character parses as the editor shows it.
        let mut sources = Sources::new();
        sources.add("hidden.casepol", text.as_str());
        let (_, all) = casepol::internal::check_sources(&sources);
        assert_eq!(all.len(), 1, "{c:?}: {all:?}");
    }
}

#[test]
fn direction_controls_are_errors_wherever_they_are() {
    let controls = [
        '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}',
    ];
    for c in controls {
        for (place, text) in [
            ("a comment", format!("{POLICY}allow Staff: view; // {c}x\n")),
            (
                "a string",
                format!("{POLICY}case C {{ attr t: string; }}\ngroup G {{ scope filter {{ t == \"a{c}b\"; }} }}\n"),
            ),
            ("a name", format!("{POLICY}allow Sta{c}ff: view;\n")),
            ("between tokens", format!("{POLICY}allow Staff{c}: view;\n")),
        ] {
            let found = hidden(&text);
            assert_eq!(found.len(), 1, "{c:?} in {place}: {found:?}");
            let (d, covered) = &found[0];
            assert_eq!(covered, &c.to_string(), "{c:?} in {place}");
            assert!(d.message.contains(&format!("`U+{:04X}`", c as u32)));
        }
    }
}

#[test]
fn control_characters_are_errors() {
    // An escape sequence in a comment can move a terminal's cursor and hide the lines above.
    let text = format!("{POLICY}allow Staff: view; // \u{1b}[1A\u{1b}[2K\n");
    let found = hidden(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(_, c)| c == "\u{1b}"));
}

#[test]
fn the_report_never_prints_the_character_itself() {
    let text = "role A; // \u{202E}gnirts\u{2066}\nrole B\u{1b};\n";
    let mut sources = Sources::new();
    sources.add("hidden.casepol", text);
    let (_, diags) = casepol::internal::check_sources(&sources);
    let human: String = diags
        .iter()
        .map(|d| render::human(d, &sources, false))
        .collect();
    for c in ['\u{202E}', '\u{2066}', '\u{1b}'] {
        assert!(!human.contains(c), "{c:?} printed:\n{human}");
    }
    insta::assert_snapshot!(human);
}

#[test]
fn zero_width_characters_are_errors_in_values_and_names() {
    // `dept != "Legal"` with a zero-width space in the value would hold for every department,
    // Legal's too.
    let text = format!(
        "{POLICY}case C {{ attr dept: string; }}\ngroup G {{ grants Staff; scope filter {{ dept != \"Le\u{200B}gal\"; }} }}\n"
    );
    let found = hidden(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, "\u{200B}");
    assert!(found[0]
        .0
        .message
        .contains("`U+200B` (zero width space) in a string"));
    // In a comment, it changes nothing: the policy checks.
    let text = format!("{POLICY}allow Staff: view; // a\u{200D}b\n");
    Policy::from_source("p.casepol", &text).unwrap_or_else(|e| panic!("{e}"));
}
