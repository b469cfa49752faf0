#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pluralmatrix::fuzzing::transaction(data));
