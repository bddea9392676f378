#![no_main]
// Any bytes, with `>name: value` header lines in front, through the Mandrill adapter (see harness::frame).
libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::adapter(bouncewatch::event::Esp::Mandrill, data));
