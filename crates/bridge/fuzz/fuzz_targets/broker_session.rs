//! Two broker sessions sharing a router, fed arbitrary client bytes (the
//! check is in tests/common/fuzz_session.rs, also run by
//! tests/fuzz_regressions.rs).
#![no_main]

#[path = "../../tests/common/fuzz_session.rs"]
mod fuzz_session;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    fuzz_session::check_broker(data);
});
