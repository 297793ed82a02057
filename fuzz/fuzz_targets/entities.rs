//! Fuzz target: arbitrary bytes as an entities file and as a request for a fixed policy.
//! See `casepol_fuzz::entities` and docs/fuzzing.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| casepol_fuzz::entities(data));
