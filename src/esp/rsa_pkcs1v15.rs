//! RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with SHA-1 or SHA-256: the signatures of SNS (`SignatureVersion` 1
//! and 2) and of Postal.
//!
//! Natively the `rsa` crate checks them (tests, CLI, benchmarks). Compiled to wasm the runtime's WebCrypto
//! does, as for SendGrid's P-256 (`p256_sha256.rs`): the `rsa` crate's big-integer arithmetic would
//! otherwise be part of the Worker, whose compressed size is limited to 500 KB.
//!
//! Which keys are usable is decided here, in Rust, before either check runs, and so the same way on both
//! targets: a key is taken only if both the `rsa` crate and workerd's `importKey` take it. The `rsa` crate
//! wants an `rsaEncryption` key with NULL parameters, an odd modulus of at most 4,096 bits and an odd
//! exponent; workerd (its strict crypto checks, on for every compatibility date since 2023-08-01) wants a
//! modulus of at least 256 bits counted in whole bytes and an exponent of 3, 17, 37 or 65537. A signature
//! of another length than the modulus is refused here too, as both would.

use spki::der::asn1::{AnyRef, Null};
use spki::SubjectPublicKeyInfoRef;

use super::EspError;

/// Modulus lengths in bytes, leading zeros not counted: 32 is workerd's 256 bits, 512 the `rsa` crate's
/// 4,096.
const MODULUS_BYTES: std::ops::RangeInclusive<usize> = 32..=512;
/// The public exponents workerd imports, big-endian.
const EXPONENTS: [&[u8]; 4] = [&[3], &[17], &[37], &[1, 0, 1]];

/// The hash under the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha1,
    Sha256,
}

/// An RSA public key both targets accept (see the module documentation).
#[derive(Debug, Clone)]
pub struct PublicKey {
    /// The SubjectPublicKeyInfo DER it was read from, as WebCrypto imports it.
    spki: Vec<u8>,
    modulus_len: usize,
}

impl PublicKey {
    /// The key of a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7, RFC 8017 A.1.1); `None` when it is not
    /// one, or is a key this module refuses.
    pub fn from_spki_der(der: &[u8]) -> Option<PublicKey> {
        let spki = SubjectPublicKeyInfoRef::try_from(der).ok()?;
        spki.algorithm.assert_algorithm_oid(pkcs1::ALGORITHM_OID).ok()?;
        if spki.algorithm.parameters_any().ok()? != AnyRef::from(Null) {
            return None;
        }
        let key = pkcs1::RsaPublicKey::try_from(spki.subject_public_key.as_bytes()?).ok()?;
        // Both integers come without leading zeros (DER `INTEGER`, positive).
        let (modulus, exponent) = (key.modulus.as_bytes(), key.public_exponent.as_bytes());
        let odd = modulus.last().is_some_and(|byte| byte & 1 == 1);
        let usable = odd && MODULUS_BYTES.contains(&modulus.len()) && EXPONENTS.contains(&exponent);
        usable.then(|| PublicKey { spki: der.to_vec(), modulus_len: modulus.len() })
    }
}

/// Whether `signature` by `key` over `message` with `hash` is valid; an error only when the runtime's
/// crypto failed.
pub async fn verify(key: &PublicKey, hash: Hash, signature: &[u8], message: &[u8]) -> Result<bool, EspError> {
    if signature.len() != key.modulus_len {
        return Ok(false);
    }
    check(key, hash, signature, message).await
}

#[cfg(not(target_arch = "wasm32"))]
async fn check(key: &PublicKey, hash: Hash, signature: &[u8], message: &[u8]) -> Result<bool, EspError> {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    use rsa::RsaPublicKey;
    // Cannot fail for a key `from_spki_der` took: its rules include the `rsa` crate's.
    let key = RsaPublicKey::from_public_key_der(&key.spki)
        .map_err(|e| EspError::Upstream(format!("could not check the signature: {e}")))?;
    let signature = Signature::try_from(signature)
        .map_err(|e| EspError::Upstream(format!("could not check the signature: {e}")))?;
    Ok(match hash {
        Hash::Sha1 => VerifyingKey::<sha1::Sha1>::new(key).verify(message, &signature).is_ok(),
        Hash::Sha256 => VerifyingKey::<sha2::Sha256>::new(key).verify(message, &signature).is_ok(),
    })
}

#[cfg(target_arch = "wasm32")]
async fn check(key: &PublicKey, hash: Hash, signature: &[u8], message: &[u8]) -> Result<bool, EspError> {
    use super::webcrypto::{self, Scheme};
    let hash = match hash {
        Hash::Sha1 => "SHA-1",
        Hash::Sha256 => "SHA-256",
    };
    let scheme = Scheme {
        format: "spki",
        import: &[("name", "RSASSA-PKCS1-v1_5"), ("hash", hash)],
        check: &[("name", "RSASSA-PKCS1-v1_5")],
    };
    webcrypto::verify(&scheme, &key.spki, signature, &[message]).await
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    use rsa::signature::{SignatureEncoding, Signer};
    use rsa::traits::PublicKeyParts;
    use rsa::{BigUint, RsaPrivateKey, RsaPublicKey};

    use super::*;

    /// The 2,048-bit test key (e = 65537) kept with the Postal vectors.
    fn private_key() -> RsaPrivateKey {
        let vectors: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/webhooks/vectors/postal_vectors.json")).unwrap();
        let pem = vectors["private_key_pem_for_regenerating"].as_str().unwrap();
        RsaPrivateKey::from_pkcs8_der(&crate::esp::common::pem_to_der(pem, "PRIVATE KEY").unwrap()).unwrap()
    }

    /// The SPKI DER of any `n` and `e`, checked or not.
    fn spki(n: &[u8], e: &[u8]) -> Vec<u8> {
        let key = RsaPublicKey::new_unchecked(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e));
        key.to_public_key_der().unwrap().as_bytes().to_vec()
    }

    fn takes(n: &[u8], e: &[u8]) -> bool {
        PublicKey::from_spki_der(&spki(n, e)).is_some()
    }

    #[test]
    fn sha1_and_sha256_signatures_verify_and_nothing_else_does() {
        let private = private_key();
        let key = PublicKey::from_spki_der(&spki(&private.n().to_bytes_be(), &private.e().to_bytes_be())).unwrap();
        let message = b"Message\nhello\n";
        let sha1 = SigningKey::<sha1::Sha1>::new(private.clone()).sign(message).to_vec();
        let sha256 = SigningKey::<sha2::Sha256>::new(private).sign(message).to_vec();
        let run = |hash, signature: &[u8], message: &[u8]| pollster::block_on(verify(&key, hash, signature, message));
        assert_eq!(run(Hash::Sha1, &sha1, message), Ok(true));
        assert_eq!(run(Hash::Sha256, &sha256, message), Ok(true));
        assert_eq!(run(Hash::Sha256, &sha1, message), Ok(false), "the other hash");
        assert_eq!(run(Hash::Sha1, &sha1, b"Message\nhello!\n"), Ok(false), "another message");
        assert_eq!(run(Hash::Sha1, &sha1[1..], message), Ok(false), "shorter than the modulus");
        let longer = [&[0], sha1.as_slice()].concat();
        assert_eq!(run(Hash::Sha1, &longer, message), Ok(false), "longer, if only by a leading zero");
    }

    #[test]
    fn only_the_exponents_workerd_imports_are_taken() {
        let n = private_key().n().to_bytes_be();
        for e in [3u32, 17, 37, 65537] {
            assert!(takes(&n, &e.to_be_bytes()), "e = {e}");
        }
        // The `rsa` crate would take these (odd, 2 < e < 2^33); workerd refuses them.
        for e in [5u64, 7, 257, 65539, (1 << 33) - 1] {
            assert!(!takes(&n, &e.to_be_bytes()), "e = {e}");
        }
        assert!(!takes(&n, &[2]) && !takes(&n, &[1]), "even, one");
    }

    #[test]
    fn the_modulus_is_odd_and_of_32_to_512_bytes() {
        let odd = |len: usize| [vec![0x80], vec![0xff; len - 1]].concat();
        assert!(takes(&odd(32), &[1, 0, 1]), "256 bits");
        assert!(!takes(&odd(31), &[1, 0, 1]), "248 bits");
        assert!(takes(&odd(512), &[1, 0, 1]), "4,096 bits");
        assert!(!takes(&odd(513), &[1, 0, 1]), "4,104 bits");
        let even = [odd(256), vec![0xfe]].concat();
        assert!(!takes(&even, &[1, 0, 1]), "even");
    }

    #[test]
    fn only_rsa_encryption_keys_with_null_parameters_and_nothing_after_are_taken() {
        let good = spki(&private_key().n().to_bytes_be(), &[1, 0, 1]);
        // 30 82 01 22 | 30 0d 06 09 <rsaEncryption, last byte 01> 05 00 | 03 82 01 0f 00 <RSAPublicKey>
        assert_eq!((&good[..6], good[16], &good[17..19]), (&[0x30, 0x82, 0x01, 0x22, 0x30, 0x0d][..], 1, &[5, 0][..]));
        assert!(PublicKey::from_spki_der(&good).is_some());
        let mut other_algorithm = good.clone();
        other_algorithm[16] = 0x0b; // sha256WithRSAEncryption
        assert!(PublicKey::from_spki_der(&other_algorithm).is_none(), "another algorithm");
        let without_parameters = [&[0x30, 0x82, 0x01, 0x20, 0x30, 0x0b], &good[6..17], &good[19..]].concat();
        assert!(PublicKey::from_spki_der(&without_parameters).is_none(), "parameters absent");
        assert!(PublicKey::from_spki_der(&good[..good.len() - 1]).is_none(), "truncated");
        assert!(PublicKey::from_spki_der(&[good.as_slice(), &[0]].concat()).is_none(), "a byte after it");
    }
}
