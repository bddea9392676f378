#![no_main]
// Any text as the fields of an alert email (NUL-separated: from, to, subject, text, html).
libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::mime(data));
