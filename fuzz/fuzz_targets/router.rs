#![no_main]
// Any bytes as an HTTP request (`METHOD URL`, headers, blank line, body) through the whole router.
libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::router(data));
