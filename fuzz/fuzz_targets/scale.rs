//! Fuzz target: bytes read as a recipe of counts → a large valid policy, entities and requests;
//! check, format, compile, load, decide with both evaluators and `actions`.
//! See `casepol_fuzz::scale` and docs/fuzzing.md.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| casepol_fuzz::scale(data));
