//! What the fuzz targets in `fuzz/` found (`make fuzz`), one test per bug, named after it.

mod common;

use bouncewatch::esp::{self, Delivery, EspError};
use bouncewatch::event::{Esp, MAX_DOMAIN_LEN};

fn generic_domains(recipient: &str) -> Result<Vec<String>, EspError> {
    let body = serde_json::json!({"event": "deferred", "recipient": recipient, "reply": "451 4.7.1 try later",
        "timestamp": 1_700_000_000u64});
    let body = serde_json::to_vec(&body).unwrap();
    let events = esp::parse(Esp::Generic, &Delivery { body: &body, headers: &[], now: 1_700_000_000 })?;
    Ok(events.into_iter().map(|e| e.recipient_domain).collect())
}

/// fuzz target `sendgrid`: the 253-character limit was checked before punycode, which made a 231-byte
/// Unicode domain a 255-character one that was counted but that `/api/domains/{domain}` refuses. (The
/// first version of this test also let a 68-character punycode label through: UTS #46's DNS length check,
/// 63 per label, now refuses it too.)
#[test]
fn punycode_that_grows_a_domain_past_253_characters_is_no_domain() {
    // 57 bytes of UTF-8, 63 characters as punycode (the Python `idna` package gives the same).
    let label = format!("ü{}", "a".repeat(55));
    let domain = [label.as_str(); 4].join(".");
    assert!(domain.len() <= MAX_DOMAIN_LEN);
    let refused = generic_domains(&format!("x@{domain}"));
    assert!(matches!(&refused, Err(EspError::Malformed(why)) if why.contains("no valid domain")), "{refused:?}");
    let fits = [label.as_str(); 3].join(".");
    let punycode = format!("xn--{}-oxf", "a".repeat(55));
    assert_eq!(generic_domains(&format!("x@{fits}")), Ok(vec![[punycode.as_str(); 3].join(".")]));
    let label_over_63_as_punycode = format!("x@ü{}.example", "a".repeat(60));
    assert!(generic_domains(&label_over_63_as_punycode).is_err());
}
