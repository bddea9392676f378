//! HTTP without a runtime: plain request and response values, and the router that maps one to the other.
//! The shell converts `worker::Request`/`Response` to and from these, so every route, status code and
//! error body is tested natively.

pub mod body;
mod classify;
mod csv;
mod health;
mod metrics;
mod openapi;
mod providers;
mod router;
mod rules;
mod silences;
mod stats;
mod webhooks;

pub use router::{handle, tally_webhook_answer, Context};
pub use webhooks::{log_line, ECHOED_EVENTS_MAX, MAX_BODY_BYTES};

use serde::Serialize;

/// The HTTP methods we route on; anything else is answered 405 where the path exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Delete,
    Options,
    Other,
}

impl Method {
    pub fn parse(name: &str) -> Method {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// A request as the router sees it. Header names are lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: Method,
    /// The full URL as received (the Mandrill signature covers it).
    pub url: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// Builds a request from a URL like `http://host/path?query`.
    pub fn new(method: Method, url: &str) -> Self {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let path_and_query = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        HttpRequest {
            method,
            url: url.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The decoded query parameters, in order.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        form_urlencoded_pairs(&self.query)
    }

    /// The first query parameter with this name, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query_pairs().into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Decodes `a=1&b=x%20y` (with `+` as space) into pairs; invalid escapes are kept as written.
pub fn form_urlencoded_pairs(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

pub(super) fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// A response as the router produces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// One structured JSON line for the shell to `console_log` (webhook requests), free of secrets,
    /// signatures and addresses.
    pub log: Option<String>,
}

impl HttpResponse {
    /// A JSON response. Serializing our own types cannot fail; if it ever did, the client gets a 500
    /// rather than a panic.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => HttpResponse {
                status,
                headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
                body,
                log: None,
            },
            Err(_) => HttpResponse {
                status: 500,
                headers: vec![("content-type".into(), "application/json; charset=utf-8".into())],
                body: br#"{"error":"internal","message":"response could not be serialized"}"#.to_vec(),
                log: None,
            },
        }
    }

    pub fn empty(status: u16) -> Self {
        HttpResponse { status, headers: Vec::new(), body: Vec::new(), log: None }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn with_log(mut self, line: String) -> Self {
        self.log = Some(line);
        self
    }

    /// The body parsed as JSON, for tests.
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_percent_and_plus_decoded() {
        let req = HttpRequest::new(Method::Get, "http://h/api/classify?reply=451+4.3.0%20greylisted&x");
        assert_eq!(req.path, "/api/classify");
        assert_eq!(req.query_param("reply").as_deref(), Some("451 4.3.0 greylisted"));
        assert_eq!(req.query_param("x").as_deref(), Some(""));
    }

    #[test]
    fn broken_escapes_are_kept_not_panicked_on() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
    }
}
