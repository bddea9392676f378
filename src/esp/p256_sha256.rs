//! ECDSA P-256 with SHA-256 over a message given in parts: SendGrid's signature, whose message is a whole
//! batch of events (430 KB for 1,000).
//!
//! Natively RustCrypto computes it (tests, CLI, benchmarks). Compiled to wasm, the same Rust takes about
//! 8 ms to check a 430 KB batch under V8 (SHA-256 5 ms, the curve 2.6 ms: wasm has no SHA or wide-multiply
//! instructions), most of a free-plan Worker's 10 ms of CPU. There the runtime's WebCrypto (native code in
//! workerd, as in Node) does the check in about 0.3 ms. Either way the key and signature reaching this
//! module were already decoded and range-checked by `p256`, so what is accepted is decided the same way on
//! both targets; the end-to-end tests exercise the WebCrypto side (good, tampered, stale, wrong key).

use p256::ecdsa::{Signature, VerifyingKey};

use super::EspError;

/// Whether `signature` by `key` covers the concatenation of `message`; an error only when the runtime's
/// crypto failed.
#[cfg(not(target_arch = "wasm32"))]
pub async fn verify(key: &VerifyingKey, signature: &Signature, message: &[&[u8]]) -> Result<bool, EspError> {
    use p256::ecdsa::signature::DigestVerifier;
    use sha2::{Digest, Sha256};
    // Hashed part by part: no copy of a body that can be megabytes.
    let digest = message.iter().fold(Sha256::new(), |digest, part| digest.chain_update(part));
    Ok(key.verify_digest(digest, signature).is_ok())
}

/// Whether `signature` by `key` covers the concatenation of `message`; an error only when the runtime's
/// crypto failed.
#[cfg(target_arch = "wasm32")]
pub async fn verify(key: &VerifyingKey, signature: &Signature, message: &[&[u8]]) -> Result<bool, EspError> {
    use super::webcrypto::{self, Scheme};
    let scheme = Scheme {
        format: "raw",
        import: &[("name", "ECDSA"), ("namedCurve", "P-256")],
        check: &[("name", "ECDSA"), ("hash", "SHA-256")],
    };
    let point = key.to_encoded_point(false);
    webcrypto::verify(&scheme, point.as_bytes(), &signature.to_bytes(), message).await
}
