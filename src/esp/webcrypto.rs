//! The runtime's WebCrypto `verify`, for the public-key signatures in wasm: SendGrid's P-256
//! (`p256_sha256.rs`) and the RSA of SNS and Postal (`rsa_pkcs1v15.rs`). Those modules decide which keys
//! and signatures reach it, the same way on both targets; natively they compute the check in Rust instead.

use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use super::EspError;

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

/// How to import a key and check a signature with it: `importKey`'s format and algorithm, and `verify`'s.
pub struct Scheme<'a> {
    /// `"raw"` or `"spki"`.
    pub format: &'a str,
    pub import: &'a [(&'a str, &'a str)],
    pub check: &'a [(&'a str, &'a str)],
}

/// Whether `signature` by `key` covers the concatenation of `message`. An error means WebCrypto itself
/// failed (not the sender's fault), so it is [`EspError::Upstream`] and the ESP retries.
pub async fn verify(scheme: &Scheme<'_>, key: &[u8], signature: &[u8], message: &[&[u8]]) -> Result<bool, EspError> {
    verify_js(scheme, key, signature, message)
        .await
        .map_err(|e| EspError::Upstream(format!("could not check the signature: WebCrypto: {e:?}")))
}

async fn verify_js(scheme: &Scheme<'_>, key: &[u8], signature: &[u8], message: &[&[u8]]) -> Result<bool, JsValue> {
    let usages = Array::of1(&"verify".into());
    let import = import_key(scheme.format, &Uint8Array::from(key), &algorithm(scheme.import)?, false, &usages)?;
    let crypto_key = JsFuture::from(import).await?;
    let data = js_copy(message)?;
    let check = verify_signature(&algorithm(scheme.check)?, &crypto_key, &Uint8Array::from(signature), &data)?;
    Ok(JsFuture::from(check).await?.as_bool() == Some(true))
}

fn algorithm(fields: &[(&str, &str)]) -> Result<Object, JsValue> {
    let object = Object::new();
    for (name, value) in fields {
        Reflect::set(&object, &(*name).into(), &(*value).into())?;
    }
    Ok(object)
}

/// One JS-owned copy of the message: WebCrypto wants it contiguous, and a view into wasm memory could be
/// detached if the memory grows before the promise settles.
fn js_copy(message: &[&[u8]]) -> Result<Uint8Array, JsValue> {
    let total = message.iter().map(|part| part.len()).sum::<usize>();
    let data = Uint8Array::new_with_length(u32::try_from(total).map_err(|_| JsValue::from_str("message too long"))?);
    let mut offset = 0u32;
    for part in message {
        let end = offset + part.len() as u32;
        data.subarray(offset, end).copy_from(part);
        offset = end;
    }
    Ok(data)
}
