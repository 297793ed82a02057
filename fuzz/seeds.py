#!/usr/bin/env python3
"""Writes the seed corpus fuzz/seeds/<target>/ from the repository's own policies and test data.

Run from anywhere: `python3 fuzz/seeds.py`. It deletes and rewrites fuzz/seeds/, so a seed always
comes from a file that still exists. The inputs follow the formats of fuzz/src/lib.rs: `check`
splits files at NUL, `end_to_end` is `policy NUL entities NUL requests` (one JSON request a line).
"""

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fuzz" / "seeds"
NUL = b"\0"
# Requests per end_to_end seed; fuzz/src/lib.rs reads at most 16 lines.
CHUNK = 16


def rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def name_for(*paths: Path, suffix: str = "") -> str:
    """A readable file name: the source paths, with `/` as `-`."""
    return "+".join(rel(p).replace("/", "-") for p in paths) + suffix


def write(target: str, name: str, data: bytes) -> None:
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def policies() -> list[Path]:
    found = list((ROOT / "policies").rglob("*.casepol"))
    found += list((ROOT / "tests" / "data").rglob("*.casepol"))
    return sorted(found)


def policy_dir_text(d: Path) -> bytes:
    """Every .casepol file of a directory, in name order, as one text."""
    return b"\n".join(f.read_bytes() for f in sorted(d.glob("*.casepol")))


def request_lines_from_expect(path: Path) -> list[bytes]:
    cases = json.loads(path.read_text())
    return [json.dumps(c["request"]).encode() for c in cases]


def case_args(case: Path):
    """(policy, entities, request) named by a tests/data/bad_input case, where they exist."""
    args = [a.replace("{dir}", rel(case.parent)) for a in json.loads(case.read_text())["args"]]
    policy = entities = request = None
    if len(args) > 1 and args[1].endswith(".casepol"):
        policy = ROOT / args[1]
    for flag, value in zip(args, args[1:]):
        if flag == "--entities":
            entities = ROOT / value
        if flag == "--request":
            request = value.encode()
    return policy, entities, request


# The fields of a `scale` recipe, in the order fuzz/src/scale.rs reads them. Each is a count
# except `identical_rules` and `one_line` (flags) and `name_pad` (a selector byte, then a count).
SCALE_FIELDS = ["roles", "relations", "actions", "permissions", "modules", "groups", "kinds",
                "casetypes", "states", "rules", "identical_rules", "attrs", "variants",
                "name_pad", "one_line", "table_columns", "cell_entries", "users", "cases",
                "documents", "levels", "codes_per_level", "terms", "unknown_len"]


def scale_count(n: int) -> bytes:
    """Bytes that `Bytes::count` reads as `n` (before the field's own cap and offset)."""
    if n < 8:
        return bytes([0, n])
    if 254 <= n <= 258:
        return bytes([200, n - 254])
    if n <= 510 and n % 2 == 0:
        return bytes([128, n // 2])
    u = (n + 15) // 16
    return bytes([255, u >> 8, u & 0xFF])


def scale_recipe(**fields: int) -> bytes:
    """A `scale` input. Fields left out are zero; counts with an offset of one (`roles`,
    `actions`, ...) are written as given, so `actions=256` declares 257 actions."""
    out = b""
    for f in SCALE_FIELDS:
        v = fields.get(f, 0)
        if f in ("identical_rules", "one_line"):
            out += bytes([1 if v else 0])
        elif f == "name_pad":
            out += bytes([255]) + scale_count(v) if v else bytes([0])
        else:
            out += scale_count(v)
    return out


SCALE_SEEDS = {
    "small": {},
    "permissions-257": {"permissions": 257, "users": 1},
    "actions-257": {"actions": 256, "modules": 2, "permissions": 2},
    "roles-256": {"roles": 255, "relations": 1, "table_columns": 7},
    "identical-rules": {"rules": 3000, "identical_rules": 1, "actions": 600},
    "wide-table": {"roles": 256, "states": 60, "table_columns": 256, "cell_entries": 600},
    "long-names": {"name_pad": 70000, "one_line": 1},
    "many-attributes": {"attrs": 2000, "groups": 300, "cases": 2000},
    "deep-code": {"levels": 1000000, "kinds": 1, "documents": 300},
    "wide-code": {"levels": 3, "codes_per_level": 100, "kinds": 3, "documents": 2000},
    "many-terms": {"terms": 80000, "levels": 3},
    "long-unknown-principal": {"unknown_len": 70000, "users": 2000},
    "one-line-unused": {"actions": 600, "permissions": 600, "one_line": 1},
    "many-case-types": {"casetypes": 60, "states": 60, "modules": 40, "actions": 600},
}


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)

    # parse and check: every policy file on its own.
    for p in policies():
        for target in ("parse", "check"):
            write(target, name_for(p), p.read_bytes())
    # check: every multi-file policy as its files separated by NUL.
    for d in sorted({p.parent for p in policies()}):
        files = sorted(d.glob("*.casepol"))
        if 2 <= len(files) <= 4:
            write("check", name_for(d, suffix=".multi"), NUL.join(f.read_bytes() for f in files))

    # entities: every entities file, and every request the tests send.
    for j in sorted((ROOT / "tests" / "data").rglob("*.json")):
        if j.name == "case.json" or "explain" in j.parts:
            continue
        write("entities", name_for(j), j.read_bytes())
    for j in sorted((ROOT / "policies").rglob("entities.json")):
        write("entities", name_for(j), j.read_bytes())
    requests: dict[str, bytes] = {}
    for e in sorted((ROOT / "policies").rglob("expect.json")):
        for i, line in enumerate(request_lines_from_expect(e)):
            requests[name_for(e, suffix=f".{i}")] = line
    for j in sorted((ROOT / "tests" / "data" / "explain").glob("*.json")):
        requests[name_for(j)] = json.dumps(json.loads(j.read_text())["request"]).encode()
    for case in sorted((ROOT / "tests" / "data" / "bad_input").rglob("case.json")):
        _, _, request = case_args(case)
        if request is not None:
            requests[name_for(case.parent, suffix=".request")] = request
    for f in sorted((ROOT / "tests" / "data" / "cli").glob("*.json*")):
        if f.name.startswith("request"):
            for i, line in enumerate(f.read_bytes().splitlines()):
                requests[name_for(f, suffix=f".{i}")] = line
    for name, data in requests.items():
        write("entities", name, data)

    # end_to_end: each worked example with its expected requests, in chunks.
    for e in sorted((ROOT / "policies").rglob("expect.json")):
        d = e.parent
        lines = request_lines_from_expect(e)
        head = policy_dir_text(d) + NUL + (d / "entities.json").read_bytes() + NUL
        for i in range(0, len(lines), CHUNK):
            write("end_to_end", name_for(d, suffix=f".{i // CHUNK}"),
                  head + b"\n".join(lines[i:i + CHUNK]))
    # ... the same with the policy named (`@efob`), so mutations go to entities and requests ...
    for e in sorted((ROOT / "policies").rglob("expect.json")):
        d = e.parent
        lines = request_lines_from_expect(e)
        head = b"@" + d.name.encode() + NUL + (d / "entities.json").read_bytes() + NUL
        write("end_to_end", name_for(d, suffix=".named"), head + b"\n".join(lines[:CHUNK]))
    for j in sorted((ROOT / "tests" / "data" / "entities" / "ok").glob("*.json")):
        write("end_to_end", name_for(j, suffix=".named"), b"@entities" + NUL + j.read_bytes())
    # ... the CLI test data with its request files ...
    cli = ROOT / "tests" / "data" / "cli"
    for reqs in sorted(cli.glob("requests*.jsonl")):
        data = (cli / "policy.casepol").read_bytes() + NUL + (cli / "entities.json").read_bytes()
        write("end_to_end", name_for(reqs), data + NUL + reqs.read_bytes())
    # ... every bad-input case that names a policy file and an entities file ...
    for case in sorted((ROOT / "tests" / "data" / "bad_input").rglob("case.json")):
        policy, entities, request = case_args(case)
        if policy and policy.is_file() and entities and entities.is_file():
            data = policy.read_bytes() + NUL + entities.read_bytes() + NUL + (request or b"")
            write("end_to_end", name_for(case.parent), data)
    # ... every explain case, and the entity test files against their policy.
    for j in sorted((ROOT / "tests" / "data" / "explain").glob("*.json")):
        case = json.loads(j.read_text())
        data = (policy_dir_text(ROOT / case["policy"]) + NUL
                + (ROOT / case["entities"]).read_bytes() + NUL
                + json.dumps(case["request"]).encode())
        write("end_to_end", name_for(j), data)
    ent_policy = (ROOT / "tests" / "data" / "entities" / "policy.casepol").read_bytes()
    for j in sorted((ROOT / "tests" / "data" / "entities").rglob("*.json")):
        write("end_to_end", name_for(j), ent_policy + NUL + j.read_bytes())
    for d in sorted((ROOT / "tests" / "data" / "multi" / "ok").iterdir()):
        write("end_to_end", name_for(d), policy_dir_text(d))

    # scale: recipes of counts (fuzz/src/scale.rs), one per size that once went wrong.
    for name, recipe in SCALE_SEEDS.items():
        write("scale", name, scale_recipe(**recipe))

    for t in sorted(OUT.iterdir()):
        files = list(t.iterdir())
        size = sum(f.stat().st_size for f in files)
        print(f"{t.name}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
