//! `GET /api/openapi.json`: an OpenAPI 3.1 description of every route the Worker answers, checked against
//! the running Worker by schemathesis (`tests/e2e/contract.test.mjs`). The document is `docs/openapi.json`,
//! which the tests (`openapi/tests.rs`) keep equal to what the types and the constants the server checks
//! with describe, so it cannot drift from them. It states the security really in force: a bearer token
//! on every `/api` route but health when `READ_TOKEN` is set, and none when it is not; `ADMIN_TOKEN` on the
//! write routes when it is set, and only their 403 when it is not.

use serde_json::Value;

use crate::config::Config;
use crate::silence::{MAX_SILENCE_SECONDS, MIN_SILENCE_SECONDS};

use super::HttpResponse;

/// The document as served when both tokens are set, but for the bounds on a silence's `until`, which
/// [`served`] adds from the time it is served.
const DOCUMENT: &str = include_str!("../../docs/openapi.json");

/// Where the silence body's `until` schema is, as a JSON pointer.
const UNTIL: &str = "/paths/~1api~1silences/post/requestBody/content/application~1json/schema/properties/until";

/// How far past the real 30 days the document's `until` maximum is. The server's bounds move with its
/// clock; the document's are from when it was served. The server must refuse whatever the document
/// refuses (schemathesis's negative checks), so the document's range holds the server's for ten minutes
/// after it was served: its minimum is then (a time a minute after it was served is a minute ahead later
/// only if it is now) and its maximum this much later.
const UNTIL_SLACK: u64 = 600;

pub fn document(config: &Config, now: u64) -> HttpResponse {
    HttpResponse::json(200, &served(config.get("READ_TOKEN").is_some(), config.get("ADMIN_TOKEN").is_some(), now))
}

/// Whether an operation asks for the named token's scheme.
fn requires(operation: &serde_json::Map<String, Value>, scheme: &str) -> bool {
    let first = operation.get("security").and_then(|s| s.get(0));
    first.and_then(|requirement| requirement.get(scheme)).is_some()
}

/// Without `READ_TOKEN`, no read route asks for one: its 401 and its security requirement go, and so does
/// its scheme (the webhooks' 401, a wrong signature, stays). Without `ADMIN_TOKEN`, a write route answers
/// only 403, naming it, and offers no security.
fn served(secured: bool, admin: bool, now: u64) -> Value {
    // The document is static and parsed by the test suite; `Null` would only mean a build from an
    // unchecked tree.
    let mut doc: Value = crate::json::parse(DOCUMENT).unwrap_or_default();
    if let Some(until) = doc.pointer_mut(UNTIL).and_then(Value::as_object_mut) {
        until.insert("minimum".into(), (now + MIN_SILENCE_SECONDS).into());
        until.insert("maximum".into(), (now + MAX_SILENCE_SECONDS + UNTIL_SLACK).into());
    }
    if let Some(schemes) = doc.pointer_mut("/components/securitySchemes").and_then(Value::as_object_mut) {
        if !secured {
            schemes.remove("readToken");
        }
        if !admin {
            schemes.remove("adminToken");
        }
    }
    let paths = doc.get_mut("paths").and_then(Value::as_object_mut).into_iter().flatten();
    let items = paths.filter(|(path, _)| path.starts_with("/api/")).filter_map(|(_, item)| item.as_object_mut());
    for operation in items.flat_map(|item| item.values_mut()).filter_map(Value::as_object_mut) {
        let (read, write) = (requires(operation, "readToken"), requires(operation, "adminToken"));
        if (read && !secured) || (write && !admin) {
            operation.remove("security");
        }
        let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
        if read && !secured {
            responses.remove("401");
        }
        if write && !admin {
            // The 401's content is the Error schema, as the 403's is.
            let mut forbidden = responses.remove("401").unwrap_or_default();
            forbidden["description"] = "Writes are disabled: ADMIN_TOKEN is not set.".into();
            responses.clear();
            responses.insert("403".into(), forbidden);
        }
    }
    if doc.pointer("/components/securitySchemes").and_then(Value::as_object).is_some_and(|s| s.is_empty()) {
        if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
            components.remove("securitySchemes");
        }
    }
    doc
}

#[cfg(test)]
mod tests;
