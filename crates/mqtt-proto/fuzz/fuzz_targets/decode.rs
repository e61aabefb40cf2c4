//! Arbitrary bytes, in a chunking the input chooses, through the stream
//! decoder of any version (checks in tests/support/fuzz_checks.rs).
#![no_main]

#[path = "../../tests/support/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_decode(data));
