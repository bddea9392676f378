//! `GET /api/openapi.json`: an OpenAPI 3.1 description of every route the Worker answers, checked against
//! the running Worker by schemathesis (`tests/e2e/contract.test.mjs`). The document is `docs/openapi.json`,
//! which the tests (`openapi/tests.rs`) keep equal to what the types and the constants the server checks
//! with describe, so it cannot drift from them. It states the security really in force: a bearer token
//! on every `/api` route but health when `READ_TOKEN` is set, and none when it is not.

use serde_json::Value;

use crate::config::Config;

use super::HttpResponse;

/// The document as served when `READ_TOKEN` is set; [`served`] takes the token out when it is not.
const DOCUMENT: &str = include_str!("../../docs/openapi.json");

pub fn document(config: &Config) -> HttpResponse {
    HttpResponse::json(200, &served(config.get("READ_TOKEN").is_some()))
}

/// Without a token, no `/api` route asks for one: its 401 and its security requirement go, and so does
/// the scheme. The webhooks' 401 (a wrong signature) stays.
fn served(secured: bool) -> Value {
    // The document is static and parsed by the test suite; `Null` would only mean a build from an
    // unchecked tree.
    let mut doc: Value = crate::json::parse(DOCUMENT).unwrap_or_default();
    if secured {
        return doc;
    }
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.remove("securitySchemes");
    }
    let api_paths = doc.get_mut("paths").and_then(Value::as_object_mut).into_iter().flatten();
    let api_paths = api_paths.filter(|(path, _)| path.starts_with("/api/")).map(|(_, item)| item);
    for operation in api_paths.filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        if let Some(operation) = operation.as_object_mut() {
            operation.remove("security");
            if let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) {
                responses.remove("401");
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests;
