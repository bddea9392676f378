#![no_main]
// Any bytes as an SMTP reply: parser, classifier and redaction.
libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::reply(data));
