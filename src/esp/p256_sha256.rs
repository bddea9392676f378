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

/// Why a signature could not be checked at all (never that it does not match): the runtime's crypto failed.
#[derive(Debug)]
pub struct CheckFailed(pub String);

/// Whether `signature` by `key` covers the concatenation of `message`.
#[cfg(not(target_arch = "wasm32"))]
pub async fn verify(key: &VerifyingKey, signature: &Signature, message: &[&[u8]]) -> Result<bool, CheckFailed> {
    use p256::ecdsa::signature::DigestVerifier;
    use sha2::{Digest, Sha256};
    // Hashed part by part: no copy of a body that can be megabytes.
    let digest = message.iter().fold(Sha256::new(), |digest, part| digest.chain_update(part));
    Ok(key.verify_digest(digest, signature).is_ok())
}

/// Whether `signature` by `key` covers the concatenation of `message`.
#[cfg(target_arch = "wasm32")]
pub async fn verify(key: &VerifyingKey, signature: &Signature, message: &[&[u8]]) -> Result<bool, CheckFailed> {
    webcrypto::verify(key, signature, message).await.map_err(|e| CheckFailed(format!("WebCrypto: {e:?}")))
}

#[cfg(target_arch = "wasm32")]
mod webcrypto {
    use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
    use p256::ecdsa::{Signature, VerifyingKey};
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;
    use wasm_bindgen_futures::JsFuture;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = importKey)]
        fn import_key(
            format: &str,
            key_data: &Uint8Array,
            algorithm: &Object,
            extractable: bool,
            usages: &Array,
        ) -> Result<Promise, JsValue>;

        #[wasm_bindgen(catch, js_namespace = ["crypto", "subtle"], js_name = verify)]
        fn verify_signature(
            algorithm: &Object,
            key: &JsValue,
            signature: &Uint8Array,
            data: &Uint8Array,
        ) -> Result<Promise, JsValue>;
    }

    fn algorithm(fields: &[(&str, &str)]) -> Result<Object, JsValue> {
        let object = Object::new();
        for (name, value) in fields {
            Reflect::set(&object, &(*name).into(), &(*value).into())?;
        }
        Ok(object)
    }

    /// One JS-owned copy of the message: WebCrypto wants it contiguous, and a view into wasm memory could
    /// be detached if the memory grows before the promise settles.
    fn js_copy(message: &[&[u8]]) -> Result<Uint8Array, JsValue> {
        let total = message.iter().map(|part| part.len()).sum::<usize>();
        let data =
            Uint8Array::new_with_length(u32::try_from(total).map_err(|_| JsValue::from_str("message too long"))?);
        let mut offset = 0u32;
        for part in message {
            let end = offset + part.len() as u32;
            data.subarray(offset, end).copy_from(part);
            offset = end;
        }
        Ok(data)
    }

    pub async fn verify(key: &VerifyingKey, signature: &Signature, message: &[&[u8]]) -> Result<bool, JsValue> {
        let point = Uint8Array::from(key.to_encoded_point(false).as_bytes());
        let usages = Array::of1(&"verify".into());
        let import =
            import_key("raw", &point, &algorithm(&[("name", "ECDSA"), ("namedCurve", "P-256")])?, false, &usages)?;
        let crypto_key = JsFuture::from(import).await?;
        let data = js_copy(message)?;
        let raw_signature = Uint8Array::from(&signature.to_bytes()[..]);
        let check = algorithm(&[("name", "ECDSA"), ("hash", "SHA-256")])?;
        let verified = JsFuture::from(verify_signature(&check, &crypto_key, &raw_signature, &data)?).await?;
        Ok(verified.as_bool() == Some(true))
    }
}
