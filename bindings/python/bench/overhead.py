"""The cost of casepol from Python on the requests benches/overhead.rs wrote (every user x
resource x action of policies/workzone): one `check` (median of 15 rounds, each deciding the
requests 200 times), `check_many` in decisions per second (median of 15 batches of 1,000,020
requests, as tuples and as dicts), each in wall time and in CPU time (`time.process_time`),
since the machine is shared. Run by bindings/bench.sh (docs/performance.md §11).

Usage: python overhead.py POLICY_DIR REQUESTS_TSV"""

import pathlib
import statistics
import sys
import time

import casepol


def timed(fn, repeat=15):
    """The medians of `repeat` runs of `fn`: (wall seconds, CPU seconds)."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    policy_dir, tsv = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    policy = casepol.Policy.from_path(policy_dir)
    entities = policy.load_entities(policy_dir / "entities.json")
    requests = [tuple(line.split("\t")) for line in tsv.read_text().splitlines() if line]
    n = len(requests)
    allowed = sum(policy.check(entities, *r).allowed for r in requests)
    print(f"requests: {n}, {allowed} allowed")

    check = policy.check
    rounds = 200

    def checks() -> None:
        for _ in range(rounds):
            for r in requests:
                check(entities, *r)

    # The same loop calling a Python function that does nothing: what the loop and a call
    # cost in Python itself.
    def nothing(entities, principal, action, resource):
        return None

    def empty() -> None:
        for _ in range(rounds):
            for r in requests:
                nothing(entities, *r)

    for name, fn in (("python Policy.check (one call)", checks), ("python loop calling a no-op function", empty)):
        wall, cpu = timed(fn)
        print(f"{name:48} {wall / (rounds * n) * 1e9:7.1f} ns/request wall, {cpu / (rounds * n) * 1e9:7.1f} ns CPU")

    reps = 1_000_000 // n + 1
    batch = requests * reps
    dicts = [{"principal": p, "action": a, "resource": r} for p, a, r in batch]
    for name, items in (("tuples", batch), ("dicts", dicts)):
        wall, cpu = timed(lambda: policy.check_many(entities, items))
        label = f"python Policy.check_many ({name}, {len(items):,})"
        print(f"{label:48} {len(items) / wall:12,.0f} decisions/s wall, {len(items) / cpu:12,.0f} CPU")
    got = policy.check_many(entities, batch)
    assert len(got) == len(batch) and sum(d.allowed for d in got) == allowed * reps


if __name__ == "__main__":
    main()
