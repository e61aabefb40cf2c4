//! A connected client session fed arbitrary server bytes (checks in
//! tests/support/fuzz_checks.rs).
#![no_main]

#[path = "../../tests/support/fuzz_checks.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::check_session(data));
