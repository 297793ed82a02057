"""The cost of casepol from Python on the requests benches/overhead.rs wrote (every user x
resource x action of policies/workzone): one `check` (median of 15 rounds of timeit over the
requests), `check_many` in decisions per second (median of 15 batches of 1,000,000 requests,
as tuples and as dicts), and the same decisions read back. Run by bindings/bench.sh
(docs/performance.md §10).

Usage: python overhead.py POLICY_DIR REQUESTS_TSV"""

import pathlib
import statistics
import sys
import time
import timeit

import casepol


def main() -> None:
    policy_dir, tsv = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    policy = casepol.Policy.from_path(policy_dir)
    entities = policy.load_entities(policy_dir / "entities.json")
    requests = [tuple(line.split("\t")) for line in tsv.read_text().splitlines() if line]
    n = len(requests)
    allowed = sum(policy.check(entities, *r).allowed for r in requests)
    print(f"requests: {n}, {allowed} allowed")

    check = policy.check

    def one_round() -> None:
        for r in requests:
            check(entities, *r)

    rounds = 200
    times = timeit.repeat(one_round, number=rounds, repeat=15)
    per_check = statistics.median(times) / (rounds * n) * 1e9
    print(f"python Policy.check (one call)                  {per_check:7.1f} ns/request")

    # The loop alone, calling a function of the same arguments that does nothing: what Python
    # itself costs per call in this loop.
    def nothing(entities, principal, action, resource):
        return None

    def empty_round() -> None:
        for r in requests:
            nothing(entities, *r)

    empty = statistics.median(timeit.repeat(empty_round, number=rounds, repeat=15)) / (rounds * n) * 1e9
    print(f"python loop calling a no-op Python function     {empty:7.1f} ns/request")

    reps = 1_000_000 // n + 1
    batch = requests * reps
    dicts = [{"principal": p, "action": a, "resource": r} for p, a, r in batch]
    for name, items in (("tuples", batch), ("dicts", dicts)):
        rates = []
        for _ in range(15):
            start = time.perf_counter()
            got = policy.check_many(entities, items)
            rates.append(len(items) / (time.perf_counter() - start))
            assert len(got) == len(items)
            del got
        rate = statistics.median(rates)
        print(f"python Policy.check_many ({name:6}, {len(items):,} requests) {rate:12,.0f} decisions/s")
    got = policy.check_many(entities, batch)
    assert sum(d.allowed for d in got) == allowed * reps


if __name__ == "__main__":
    main()
