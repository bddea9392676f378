//! `GET /api/classify?reply=…[&kind=deferred]` and `POST /api/classify` with a JSON array of replies,
//! each a string or `{"reply": "…", "kind": "bounced"}`. The optional kind (`deferred`, `bounced`,
//! `dropped`, `delivered`) is the event's, and changes the verdict where it matters (see
//! `crate::classify`'s module docs).

use serde::Deserialize;

use crate::classify::{classify_as, kind_from_name, Classification};
use crate::error::AppError;
use crate::event::EventKind;

use super::{HttpRequest, HttpResponse};

/// The most replies one `POST /api/classify` may carry.
pub const MAX_BATCH: usize = 1000;
/// The largest `POST /api/classify` body: a full batch of long replies (1,000 × 1 KB) fits; the shell's
/// cap (the webhooks' 5 MB) is far more than a classify call needs, and the body is parsed whole.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The OpenAPI pattern of a reply: at least one character that is not blank. Blank is ASCII whitespace
/// only, spelled out, because `\s` and `trim` disagree between regex dialects and Rust (U+0085, U+FEFF,
/// U+001C…) and the document must reject exactly what the server does (both checked by tests).
#[cfg(test)]
pub const NOT_BLANK_PATTERN: &str = "[^\\t\\n\\x0b\\x0c\\r ]";

fn is_blank(reply: &str) -> bool {
    reply.chars().all(|c| matches!(c, '\t' | '\n' | '\x0b' | '\x0c' | '\r' | ' '))
}

pub fn get(req: &HttpRequest) -> Result<HttpResponse, AppError> {
    let reply = req.query_param("reply").unwrap_or_default();
    if is_blank(&reply) {
        return Err(AppError::BadRequest("query parameter `reply` is missing or empty".into()));
    }
    let kind = parse_kind(req.query_param("kind").as_deref())?;
    Ok(HttpResponse::json(200, &classify_as(&reply, kind)))
}

/// One item of a batch: a bare reply, or a reply with its event's kind (`null` or absent: not known).
#[derive(Deserialize)]
#[serde(untagged)]
enum Item {
    Reply(String),
    WithKind { reply: String, kind: Option<String> },
}

/// The kind as given, exactly, as `window` is read: a misspelt or blank kind is an error, not "unknown".
fn parse_kind(name: Option<&str>) -> Result<Option<EventKind>, AppError> {
    match name {
        None => Ok(None),
        Some(name) => kind_from_name(name).map(Some).ok_or_else(|| {
            AppError::BadRequest(format!("kind {name:?} is not one of deferred, bounced, dropped, delivered"))
        }),
    }
}

pub fn post(req: &HttpRequest) -> Result<HttpResponse, AppError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(super::body::too_large(MAX_BODY_BYTES));
    }
    let items: Vec<Item> = serde_json::from_slice(&req.body).map_err(|e| {
        AppError::BadRequest(format!("body must be a JSON array of replies (strings or {{\"reply\", \"kind\"}}): {e}"))
    })?;
    let mut replies = Vec::with_capacity(items.len());
    for item in items {
        replies.push(match item {
            Item::Reply(reply) => (reply, None),
            Item::WithKind { reply, kind } => {
                let kind = parse_kind(kind.as_deref())?;
                (reply, kind)
            }
        });
    }
    if replies.is_empty() {
        return Err(AppError::BadRequest("the array of replies is empty".into()));
    }
    if replies.len() > MAX_BATCH {
        return Err(AppError::PayloadTooLarge(format!(
            "{} replies sent; at most {MAX_BATCH} per request",
            replies.len()
        )));
    }
    if let Some(index) = replies.iter().position(|(r, _)| is_blank(r)) {
        return Err(AppError::BadRequest(format!("reply at index {index} is empty")));
    }
    let verdicts: Vec<Classification> = replies.iter().map(|(r, kind)| classify_as(r, *kind)).collect();
    Ok(HttpResponse::json(200, &verdicts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Method;

    fn post_body(body: &str) -> Result<HttpResponse, AppError> {
        post(&HttpRequest::new(Method::Post, "http://h/api/classify").with_body(body))
    }

    #[test]
    fn empty_reply_is_a_400_naming_the_parameter() {
        let err = get(&HttpRequest::new(Method::Get, "http://h/api/classify?reply=")).unwrap_err();
        assert_eq!(err.status(), 400);
        assert!(format!("{err:?}").contains("reply"));
    }

    #[test]
    fn batch_answers_in_order() {
        let response = post_body(r#"["550 5.1.1 user unknown", "451 4.3.0 greylisted"]"#).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.json_body().as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn the_events_kind_is_taken_into_account() {
        let get_json = |url: &str| get(&HttpRequest::new(Method::Get, url)).unwrap().json_body();
        let reply = "connect%20to%20mx.example.org%5B192.0.2.5%5D%3A25%3A%20Connection%20timed%20out";
        assert_eq!(get_json(&format!("http://h/api/classify?reply={reply}"))["category"], "expired");
        assert_eq!(
            get_json(&format!("http://h/api/classify?reply={reply}&kind=deferred"))["category"],
            "network_error"
        );
        for kind in ["later", "", "%20deferred"] {
            let err = get(&HttpRequest::new(Method::Get, &format!("http://h/api/classify?reply={reply}&kind={kind}")));
            assert_eq!(err.unwrap_err().status(), 400, "kind={kind}");
        }
        let batch = post_body(
            r#"["451 4.3.0 temporary failure", {"reply": "451 4.3.0 temporary failure", "kind": "bounced"}]"#,
        );
        let json = batch.unwrap().json_body();
        assert_eq!(
            (json[0]["category"].as_str(), json[1]["category"].as_str()),
            (Some("system_error"), Some("expired"))
        );
        assert_eq!(post_body(r#"[{"reply": "x", "kind": "soon"}]"#).unwrap_err().status(), 400);
        assert_eq!(post_body(r#"[{"reply": "x", "kind": null}, {"reply": "y"}]"#).map(|r| r.status), Ok(200));
    }

    #[test]
    fn batch_over_the_limit_is_413() {
        let body = serde_json::to_string(&vec!["451 4.7.1 x"; MAX_BATCH + 1]).unwrap();
        assert_eq!(post_body(&body).unwrap_err().status(), 413);
    }

    #[test]
    fn body_over_the_limit_is_413_before_it_is_parsed() {
        let within = serde_json::to_string(&vec!["x".repeat(MAX_BODY_BYTES / 2 - 8)]).unwrap();
        assert_eq!(post_body(&within).map(|r| r.status), Ok(200));
        // Not even JSON: the size is what refuses it.
        assert_eq!(post_body(&"[".repeat(MAX_BODY_BYTES + 1)).unwrap_err().status(), 413);
    }

    #[test]
    fn batch_that_is_not_an_array_of_strings_is_400() {
        assert_eq!(post_body("{}").unwrap_err().status(), 400);
        assert_eq!(post_body("[1]").unwrap_err().status(), 400);
        assert_eq!(post_body("[]").unwrap_err().status(), 400);
        assert_eq!(post_body(r#"["ok", " "]"#).unwrap_err().status(), 400);
    }

    #[test]
    fn blank_means_what_the_documented_pattern_means() {
        let pattern = regex_lite::Regex::new(NOT_BLANK_PATTERN).unwrap();
        for reply in ["", " ", "\t\r\n\x0b\x0c", "x", " 451 ", "\u{3000}", "\u{85}", "\u{feff}", "\u{1c}", "\0"] {
            assert_eq!(is_blank(reply), !pattern.is_match(reply), "{reply:?}");
        }
    }
}
