#![no_main]
// Any bytes, with `>name: value` header lines in front, through the Generic adapter (see harness::frame).
libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::adapter(bouncewatch::event::Esp::Generic, data));
