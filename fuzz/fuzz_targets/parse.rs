//! Fuzz target: arbitrary bytes → the parser. See `casepol_fuzz::parse` and docs/fuzzing.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| casepol_fuzz::parse(data));
