"""casepol's Python package against the shipped example policies: every policy test case,
every user x resource x action against `actions` and the command line's batch check, the
queries, change sets, explanations, every error with its diagnostics, and threads."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import threading

import pytest

import casepol

ROOT = pathlib.Path(__file__).resolve().parents[3]
POLICIES = ROOT / "policies"
WORKZONE = POLICIES / "workzone"
CLI = pathlib.Path(os.environ.get("CASEPOL_BIN", ROOT / "target" / "debug" / "casepol"))

SMALL = """
role Clerk;
action view;
group Clerks { grants Clerk; scope assigned via assignee; }
case Case {
  relation assignee;
  allow Clerk: view;
}
casetype Claim { states Open; initial Open; final Open; }
"""
SMALL_ENTITIES = {
    "users": [{"id": "ann", "groups": ["Clerks"]}, {"id": "bob"}],
    "resources": [{"id": "c1", "kind": "Case", "type": "Claim", "state": "Open"}],
}


@pytest.fixture(scope="module")
def workzone():
    policy = casepol.Policy.from_path(WORKZONE)
    return policy, policy.load_entities(WORKZONE / "entities.json")


def example_dirs():
    return sorted(d for d in POLICIES.iterdir() if (d / "policy.test.json").exists())


def test_the_examples_are_there():
    assert [d.name for d in example_dirs()] == [
        "combined", "efob", "generated", "github", "tensorcase", "torq", "workzone"
    ]


# ---- every policy test case ------------------------------------------------------------------


def test_every_policy_test_case_holds_through_check_and_check_many():
    cases = 0
    for d in example_dirs():
        policy = casepol.Policy.from_path(d)
        for test_file in sorted(d.glob("*.test.json")):
            spec = json.loads(test_file.read_text())
            ents = spec["entities"]
            if isinstance(ents, str):
                entities = policy.load_entities(d / ents)
            else:
                entities = policy.load_entities(json.dumps(ents))
            requests = [t["request"] for t in spec["tests"]]
            batch = policy.check_many(entities, requests)
            assert len(batch) == len(requests)
            for t, many in zip(spec["tests"], batch):
                cases += 1
                r = t["request"]
                expect = t["expect"]
                try:
                    one = policy.check(
                        entities,
                        r["principal"],
                        r["action"],
                        r.get("resource"),
                        module=r.get("module"),
                        target=r.get("target"),
                        context=r.get("context"),
                    )
                except casepol.RequestError as e:
                    assert expect == "error", (d.name, t["name"], e)
                    assert many.error is not None and many.error.kind == e.kind
                    assert not many.allowed and many.reason == "error"
                    if "error" in t:
                        assert e.kind == t["error"], (d.name, t["name"])
                    continue
                assert expect != "error", (d.name, t["name"])
                assert one.allowed == (expect == "allow"), (d.name, t["name"])
                assert (many.allowed, many.layer, many.reason) == (one.allowed, one.layer, one.reason)
                assert many.error is None
                if "layer" in t:
                    assert one.layer == t["layer"], (d.name, t["name"])
                if "reason" in t:
                    assert one.reason == t["reason"], (d.name, t["name"])
                if "rule" in t:
                    wanted = t["rule"] if isinstance(t["rule"], list) else [t["rule"]]
                    sources = [rule.source for rule in one.determining]
                    for w in wanted:
                        assert any(w in s for s in sources), (d.name, t["name"], w, sources)
    assert cases > 200, cases


# ---- against `actions` and the command line --------------------------------------------------


def every_request(policy, entities, d):
    """Every user x resource x action (through each module the policy's entities suggest),
    with the action decisions `actions` gives in one pass."""
    data = json.loads((d / "entities.json").read_text())
    out = []
    for user in data.get("users", []):
        for resource in data.get("resources", []):
            answer = policy.actions(entities, user["id"], resource["id"])
            for a in answer["decisions"]:
                out.append(((user["id"], a["action"], resource["id"]), a))
    return out


@pytest.mark.parametrize("name", ["workzone", "torq", "efob", "tensorcase", "combined"])
def test_check_equals_actions_and_the_command_line(name, tmp_path):
    d = POLICIES / name
    policy = casepol.Policy.from_path(d)
    entities = policy.load_entities(d / "entities.json")
    pairs = every_request(policy, entities, d)
    assert len(pairs) > 50, len(pairs)
    requests = [r for r, _ in pairs]
    batch = policy.check_many(entities, requests)
    for (r, a), many in zip(pairs, batch):
        one = policy.check(entities, *r)
        assert (one.allowed, one.layer, one.reason) == (many.allowed, many.layer, many.reason)
        assert (a["decision"] == "allow", a["layer"], a["reason"]) == (one.allowed, one.layer, one.reason), r
    # The command line's batch check decides the same requests the same way.
    lines = tmp_path / "requests.jsonl"
    lines.write_text(
        "".join(json.dumps({"principal": p, "action": a, "resource": res}) + "\n" for p, a, res in requests)
    )
    assert CLI.exists(), f"the casepol binary is built first ({CLI}); set CASEPOL_BIN"
    out = subprocess.run(
        [str(CLI), "check", str(d), "--entities", str(d / "entities.json"), "--requests", str(lines), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    cli = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(cli) == len(batch)
    for c, many in zip(cli, batch):
        assert (c["decision"] == "allow", c["layer"], c["reason"]) == (many.allowed, many.layer, many.reason)


# ---- decisions -------------------------------------------------------------------------------


def test_check_says_why(workzone):
    policy, entities = workzone
    denied = policy.check(entities, "AA", "view", "supp-1")
    assert (denied.allowed, denied.layer, denied.reason) == (False, "read_code", "code_not_held")
    assert not denied
    assert repr(denied) == "Decision(allowed=False, layer='read_code', reason='code_not_held')"
    assert denied.determining == []
    allowed = policy.check(entities, "BB", "view", "doc-1")
    assert allowed
    [rule] = allowed.determining
    assert (rule.kind, rule.line, rule.column, rule.source) == (
        "rule", 58, 1, "allow Clerk: view, view_codes, edit, edit_codes;"
    )
    assert rule.file.endswith("policy.casepol")
    assert str(rule).startswith("rule `allow Clerk: view, view_codes, edit, edit_codes;` (")
    assert rule.cell is None
    assert allowed.request == {"principal": "BB", "action": "view", "resource": "doc-1"}
    # A transition, named by its target state.
    moved = policy.check(entities, "BB", "close", "case-1", target="Closed")
    assert moved.allowed
    assert [(r.kind, r.source) for r in moved.determining] == [
        ("transition", "transition close: Open -> Closed by Clerk;")
    ]


def test_table_cells_name_their_cell():
    policy = casepol.Policy.from_path(POLICIES / "efob")
    entities = policy.load_entities(POLICIES / "efob" / "entities.json")
    cells = 0
    data = json.loads((POLICIES / "efob" / "entities.json").read_text())
    for user in data["users"]:
        for res in data["resources"]:
            for module in (None, "Cases"):
                try:
                    d = policy.check(entities, user["id"], "access", res["id"], module=module)
                except casepol.RequestError:
                    continue
                for r in d.determining:
                    if r.kind == "table_cell":
                        cells += 1
                        assert r.cell is not None and len(r.cell) == 3
    assert cells > 0


def test_request_errors_raise_and_never_allow(workzone):
    policy, entities = workzone
    with pytest.raises(casepol.RequestError) as e:
        policy.check(entities, "zoe", "view", "doc-1")
    assert e.value.kind == "unknown_principal"
    assert str(e.value) == "unknown principal `zoe`"
    [diag] = e.value.diagnostics
    assert (diag.code, diag.severity, diag.help) == ("unknown_principal", "error", "add the user to the entities file")
    with pytest.raises(casepol.RequestError) as e:
        policy.check(entities, "BB", "veiw", "doc-1")
    assert e.value.kind == "unknown_action"
    assert "view" in (e.value.diagnostics[0].help or "")
    with pytest.raises(casepol.RequestError) as e:
        policy.check(entities, "BB", "view")
    assert e.value.kind == "unknown_resource"
    with pytest.raises(casepol.RequestError) as e:
        policy.check(entities, "BB", "view", "doc-1", module="Cases")
    assert e.value.kind == "unknown_module"
    with pytest.raises(casepol.RequestError) as e:
        policy.check(entities, "BB", "close", "case-1", target="Nowhere")
    assert e.value.kind == "unknown_target"


def test_entities_of_another_policy_are_an_error(workzone):
    policy, _ = workzone
    small = casepol.Policy.from_source(SMALL, "small.casepol")
    theirs = small.load_entities(json.dumps(SMALL_ENTITIES))
    with pytest.raises(casepol.RequestError) as e:
        policy.check(theirs, "ann", "view", "c1")
    assert "another policy" in str(e.value)
    [d] = policy.check_many(theirs, [("ann", "view", "c1")])
    assert not d.allowed and d.reason == "error" and d.error is not None


def test_context_reaches_conditions():
    d = POLICIES / "github"
    policy = casepol.Policy.from_path(d)
    entities = policy.load_entities(d / "entities.json")
    spec = json.loads((d / "policy.test.json").read_text())
    with_context = [t for t in spec["tests"] if "context" in t["request"]]
    assert with_context
    for t in with_context:
        r = t["request"]
        if t["expect"] == "error":
            continue
        got = policy.check(entities, r["principal"], r["action"], r.get("resource"), module=r.get("module"), context=r["context"])
        assert got.allowed == (t["expect"] == "allow"), t["name"]
    with pytest.raises(TypeError):
        policy.check(entities, "x", "y", "z", context=["not", "a", "dict"])


def test_check_many_reads_dicts_and_tuples(workzone):
    policy, entities = workzone
    got = policy.check_many(
        entities,
        iter([
            ("BB", "view", "doc-1"),
            ("AA", "view", "supp-1", None),
            {"principal": "BB", "action": "view", "resource": "doc-1"},
            {"principal": "nobody", "action": "view", "resource": "doc-1"},
        ]),
    )
    assert [d.allowed for d in got] == [True, False, True, False]
    assert got[3].error.kind == "unknown_principal"
    assert policy.check_many(entities, []) == []
    with pytest.raises(ValueError, match="unknown field `principle`"):
        policy.check_many(entities, [{"principle": "BB", "action": "view"}])
    with pytest.raises(ValueError, match="needs `action`"):
        policy.check_many(entities, [{"principal": "BB"}])
    with pytest.raises(ValueError):
        policy.check_many(entities, [("BB",)])
    with pytest.raises(TypeError):
        policy.check_many(entities, ["BB view doc-1"])
    with pytest.raises(TypeError):
        policy.check_many(entities, [("BB", 1, "doc-1")])


# ---- explain and the queries -----------------------------------------------------------------


def test_explain_as_text_and_dict(workzone):
    policy, entities = workzone
    text = policy.explain(entities, "AA", "view", "supp-1")
    assert text.startswith("DENY: `AA` may not `view` Supplement `supp-1`")
    assert "[BB|AA] & [ ] & [PERS]" in text
    trace = policy.explain(entities, "AA", "view", "supp-1", format="dict")
    assert trace["decision"] == {"allowed": False, "layer": "read_code", "reason": "code_not_held"}
    assert trace["request"] == {"principal": "AA", "action": "view", "resource": "supp-1"}
    unknown = policy.explain(entities, "zoe", "view", "doc-1")
    assert "zoe" in unknown
    with pytest.raises(ValueError, match="unknown format `yaml`"):
        policy.explain(entities, "AA", "view", "supp-1", format="yaml")


def test_who_can_actions_list_filter(workzone):
    policy, entities = workzone
    who = policy.who_can(entities, "view", "case-1")
    assert [u["user"] for u in who["allowed"]] == ["BB", "CC"]
    assert who["denied"] == 4
    assert who["read_code"] == "[PERS]"
    acts = policy.actions(entities, "BB", "case-1")
    assert acts["allowed"] == ["view", "view_codes", "edit", "edit_codes", "close"]
    assert acts["transitions"][0] == {
        "action": "close", "from": "Open", "to": "Closed", "decision": "allow", "layer": "write_code", "reason": "allowed"
    }
    assert policy.list(entities, "BB", "view") == {
        "resources": ["case-1", "contact-1", "contact-2", "doc-1", "doc-2", "supp-1"], "next": None
    }
    page = policy.list(entities, "BB", "view", limit=4)
    assert page == {"resources": ["case-1", "contact-1", "contact-2", "doc-1"], "next": "doc-1"}
    assert policy.list(entities, "BB", "view", limit=4, after=page["next"]) == {"resources": ["doc-2", "supp-1"], "next": None}
    assert policy.list(entities, "BB", "view", kind="Contact")["resources"] == ["contact-1", "contact-2"]
    with pytest.raises(ValueError):
        policy.list(entities, "BB", "view", limit=0)
    sql = policy.filter(entities, "BB", "view", "sqlite")
    assert sql["dialect"] == "sqlite"
    assert sql["select"].startswith("SELECT r.id FROM resources r\nWHERE ")
    assert "?1" in sql["where"] and sql["params"]
    pg = policy.filter(entities, "BB", "view")
    assert pg["dialect"] == "postgres" and "$1" in pg["where"]
    with pytest.raises(ValueError, match="unknown dialect"):
        policy.filter(entities, "BB", "view", "oracle")
    for call in (
        lambda: policy.who_can(entities, "view", "nowhere"),
        lambda: policy.actions(entities, "nobody", "case-1"),
        lambda: policy.list(entities, "BB", "view", kind="Nope"),
        lambda: policy.filter(entities, "BB", "fly"),
    ):
        with pytest.raises(casepol.RequestError):
            call()


# ---- change sets -----------------------------------------------------------------------------


def test_apply_makes_the_next_version_with_its_events(workzone):
    policy, entities = workzone
    assert entities.version == 1
    applied = policy.apply(entities, {"changes": [{"op": "set_code", "resource": "case-1", "read": "FIN"}]})
    assert applied.version == 2 and applied.entities.version == 2
    assert applied.events[0] == {
        "user": "AA", "resource": "case-1", "action": "view", "module": None, "access": "gained", "causes": [1]
    }
    assert applied.groups[0]["text"].startswith("`AA` gained `view` and `view_codes` on `case-1`")
    assert policy.check(applied.entities, "AA", "view", "case-1").allowed
    assert not policy.check(entities, "AA", "view", "case-1").allowed
    # The same change set as text and as bytes.
    text = (WORKZONE / "changes.jsonl").read_text().splitlines()[0]
    assert policy.apply(entities, text).events == applied.events
    assert policy.apply(entities, text.encode()).events == applied.events
    again = policy.apply(applied.entities, {"changes": [{"op": "set_code", "resource": "case-1", "read": "PERS"}]})
    assert again.version == 3
    assert {"user": "AA", "resource": "case-1", "action": "view", "module": None, "access": "lost", "causes": [1]} in again.events


def test_a_refused_change_set_applies_nothing(workzone):
    policy, entities = workzone
    with pytest.raises(casepol.ChangeSetError) as e:
        policy.apply(
            entities,
            {"changes": [
                {"op": "set_state", "resource": "nowhere", "state": "Closed"},
                {"op": "set_state", "resource": "case-1", "state": "Nope"},
            ]},
        )
    messages = [d.message for d in e.value.diagnostics]
    assert len(messages) == 2 and messages[0].startswith("change 1: ") and "nowhere" in messages[0]
    assert all(d.help for d in e.value.diagnostics)
    with pytest.raises(casepol.ChangeSetError):
        policy.apply(entities, "{")
    with pytest.raises(TypeError):
        policy.apply(entities, 42)
    assert entities.version == 1


# ---- loading and its errors ------------------------------------------------------------------


def test_loading_from_str_bytes_and_paths():
    policy = casepol.Policy.from_source(SMALL, name="small.casepol")
    text = json.dumps(SMALL_ENTITIES)
    for data in (text, text.encode()):
        entities = policy.load_entities(data)
        assert policy.check(entities, "bob", "view", "c1").reason == "not_in_scope"
    policy = casepol.Policy.from_path(str(WORKZONE))
    assert policy.warnings == []
    assert policy.load_entities(WORKZONE / "entities.json").version == 1
    assert repr(policy) == "<casepol.Policy with 0 warning(s)>"


def test_policy_errors_carry_their_diagnostics():
    with pytest.raises(casepol.PolicyError) as e:
        casepol.Policy.from_source("role R;\nallow Q: view;\n", name="bad.casepol")
    diags = e.value.diagnostics
    assert [(d.code, d.file, d.line, d.column) for d in diags] == [
        ("CP0101", "bad.casepol", 2, 7), ("CP0101", "bad.casepol", 2, 10)
    ]
    assert diags[0].message == "unknown role or relation `Q`"
    assert diags[0].help == "did you mean `R`?"
    assert "bad.casepol" in str(e.value)
    assert isinstance(e.value, casepol.CasepolError)
    assert "[CP0101]" in str(diags[0])


def test_warnings_are_listed():
    policy = casepol.Policy.from_source("role R, Unused;\naction view;\ngroup G { grants R; }\nresource N { allow R: view; }\n")
    assert policy.warnings, "an unused role is a lint"
    assert all(w.severity == "warning" and w.code.startswith("CP02") for w in policy.warnings)
    unused = [w for w in policy.warnings if "`Unused`" in w.message]
    assert len(unused) == 1, policy.warnings
    # Where the warning is, as a PolicyError's diagnostics say it.
    assert (unused[0].file, unused[0].line, unused[0].column) == ("policy.casepol", 1, 9)


def test_entities_errors_carry_their_diagnostics():
    policy = casepol.Policy.from_source(SMALL)
    with pytest.raises(casepol.EntitiesError) as e:
        policy.load_entities('{"users": [{"id": "ann", "groups": ["Nope"]}]}')
    [d] = e.value.diagnostics
    assert (d.entity, d.field) == ("ann", "groups")
    assert "Nope" in d.message and d.help
    with pytest.raises(casepol.EntitiesError) as e:
        policy.load_entities('{\n  "users": [\n    {"id": 1}\n  ]\n}')
    assert e.value.diagnostics[0].line is not None
    with pytest.raises(ValueError):
        policy.load_entities(b"\xff")
    # A file name given as a str is JSON text that is not JSON: the error says to pass a path.
    name = str(WORKZONE / "entities.json")
    with pytest.raises(ValueError, match="is a file name, not JSON: pass `pathlib.Path"):
        casepol.Policy.from_path(WORKZONE).load_entities(name)
    with pytest.raises(casepol.ReadError) as e:
        policy.load_entities(pathlib.Path("/nonexistent/entities.json"))
    assert e.value.diagnostics[0].file == "/nonexistent/entities.json"
    with pytest.raises(TypeError):
        policy.load_entities(42)


def test_read_errors():
    with pytest.raises(casepol.ReadError):
        casepol.Policy.from_path("/nonexistent/policy.casepol")
    with pytest.raises(TypeError):
        casepol.Policy.from_path(42)


# ---- threads ---------------------------------------------------------------------------------


def test_threads_share_policy_and_entities(workzone):
    policy, entities = workzone
    requests = [("BB", "view", "doc-1"), ("AA", "view", "supp-1")] * 500
    expected = [d.allowed for d in policy.check_many(entities, requests)]
    results = {}

    def run(i):
        got = []
        for _ in range(5):
            got.append([d.allowed for d in policy.check_many(entities, requests)])
            got.append([policy.check(entities, *r).allowed for r in requests[:20]])
        results[i] = got

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for got in results.values():
        for i, answers in enumerate(got):
            assert answers == (expected if i % 2 == 0 else expected[:20])


# ---- the README's example --------------------------------------------------------------------


def test_the_readme_example_runs():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```python\n") + len("```python\n")
    code = readme[start:readme.index("```", start)]
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
