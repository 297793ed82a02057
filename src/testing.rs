//! Policy tests: test files next to a policy, run against it, with rule coverage.
