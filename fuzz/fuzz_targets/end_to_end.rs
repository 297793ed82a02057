//! Fuzz target: `policy NUL entities NUL requests` → parse, check, compile, load, decide with
//! both evaluators (which must agree), explain. See `casepol_fuzz::end_to_end` and docs/fuzzing.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| casepol_fuzz::end_to_end(data));
