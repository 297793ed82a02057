//! Fuzz target: arbitrary bytes (NUL splits files) → parse, check, render every diagnostic.
//! See `casepol_fuzz::check` and docs/fuzzing.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| casepol_fuzz::check(data));
