//! The route table. Every path and method the Worker answers is listed here, and every error leaves
//! through [`AppError::into_response`].

use crate::config::Config;
use crate::counting::Counter;
use crate::error::AppError;
use crate::esp::Fetcher;
use crate::store::Store;

use super::{
    classify, health, metrics, openapi, providers, rules, silences, stats, webhooks, HttpRequest, HttpResponse, Method,
};

/// What a request may use besides itself: KV (pages, SNS certificates), the counting objects,
/// configuration, the clock (unix seconds) and outbound HTTP (SNS certificates), all passed in so tests
/// control them.
pub struct Context<'a, S: Store, C: Counter> {
    pub store: &'a S,
    pub counter: &'a C,
    pub config: &'a Config,
    pub now: u64,
    pub fetcher: &'a dyn Fetcher,
}

/// Answers one request. Never panics on input; every failure is a JSON error.
pub async fn handle<S: Store, C: Counter>(req: &HttpRequest, ctx: &Context<'_, S, C>) -> HttpResponse {
    let mut response = match route(req, ctx).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    // HEAD is GET without the body (RFC 9110 §9.3.2): same status and headers, so routes answer both alike.
    if req.method == Method::Head {
        response.body.clear();
    }
    tally_webhook_answer(ctx.counter, &req.path, response.status, ctx.now).await;
    if req.path.starts_with("/api/") {
        with_cors(response)
    } else {
        response
    }
}

/// Counts an answer to `/webhooks/{esp}` for `GET /metrics`, whatever it was and wherever it was given: here
/// for every routed request, in the shell for a body refused before it could be read (413, 400).
pub async fn tally_webhook_answer<C: Counter>(counter: &C, path: &str, status: u16, now: u64) {
    let esp = path.trim_matches('/').strip_prefix("webhooks/").filter(|esp| !esp.contains('/'));
    if let Some(esp) = esp {
        crate::counting::client::tally_webhook(counter, esp, status, now).await;
    }
}

/// The methods a path under `/api` answers, for `Allow` on a 405 and on OPTIONS; `None` when there is no
/// such route. HEAD goes wherever GET does, and OPTIONS everywhere (browsers' CORS preflights).
fn allowed_methods(segments: &[&str]) -> Option<&'static str> {
    match segments {
        ["api", "classify"] => Some("GET, HEAD, POST, OPTIONS"),
        ["api", "health" | "domains" | "providers" | "streams" | "alerts" | "rules" | "openapi.json"]
        | ["api", "domains" | "providers", _] => Some("GET, HEAD, OPTIONS"),
        ["api", "silences"] => Some("GET, HEAD, POST, OPTIONS"),
        ["api", "silences", _] => Some("DELETE, OPTIONS"),
        ["metrics"] => Some("GET, HEAD, OPTIONS"),
        _ => None,
    }
}

async fn route<S: Store, C: Counter>(req: &HttpRequest, ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    if let ["webhooks", esp] = segments.as_slice() {
        // A rule the operator wrote but that cannot be used must not silently classify differently: 503
        // makes the ESP retry once the configuration is fixed.
        let _rules = operator_rules(ctx.config)?;
        // Webhooks answer their own errors, so that each request's log line includes its rejection.
        return Ok(webhooks::handle(req, esp, ctx).await);
    }
    // Preflights carry no credentials, and health checks must work without them. Everything else under
    // /api is checked before routing, so that without the token not even which paths exist can be learnt.
    let open = matches!((req.method, segments.as_slice()), (Method::Options, _) | (_, ["api", "health"]));
    // Writes are checked against ADMIN_TOKEN instead, so a read token cannot change anything.
    let write = silences::is_write(req.method, &segments);
    if write {
        authorize_admin(req, ctx.config)?;
    } else if !open && matches!(segments.first(), Some(&"api" | &"metrics")) {
        authorize(req, ctx.config)?;
    }
    let allow = allowed_methods(&segments).ok_or_else(|| AppError::NotFound(format!("no route for {}", req.path)))?;
    if req.method == Method::Options {
        return Ok(HttpResponse::empty(204).with_header("allow", allow));
    }
    refuse_repeated_parameters(req)?;
    match (req.method, segments.as_slice()) {
        (Method::Get | Method::Head, ["api", "health"]) => Ok(health::get(ctx.config)),
        (Method::Get | Method::Head, ["api", "classify"]) => {
            let _rules = operator_rules(ctx.config)?;
            classify::get(req)
        }
        (Method::Post, ["api", "classify"]) => {
            let _rules = operator_rules(ctx.config)?;
            classify::post(req)
        }
        (Method::Get | Method::Head, ["api", "domains"]) => stats::domains(req, ctx).await,
        (Method::Get | Method::Head, ["api", "domains", domain]) => stats::domain(req, ctx, domain).await,
        (Method::Get | Method::Head, ["api", "providers"]) => providers::list(req, ctx).await,
        (Method::Get | Method::Head, ["api", "providers", id]) => providers::detail(req, ctx, id).await,
        (Method::Get | Method::Head, ["api", "streams"]) => stats::streams(req, ctx).await,
        (Method::Get | Method::Head, ["api", "alerts"]) => stats::alerts(ctx).await,
        (Method::Get | Method::Head, ["api", "rules"]) => rules::rules(req, ctx).await,
        (Method::Get | Method::Head, ["api", "openapi.json"]) => Ok(openapi::document(ctx.config, ctx.now)),
        (Method::Get | Method::Head, ["api", "silences"]) => silences::list(ctx).await,
        (Method::Get | Method::Head, ["metrics"]) => metrics::metrics(ctx).await,
        (Method::Post, ["api", "silences"]) => silences::create(req, ctx).await,
        (Method::Delete, ["api", "silences", id]) => silences::delete(ctx, id).await,
        _ => Err(method_not_allowed(allow)),
    }
}

/// The operator's classification rules, active for the rest of the request.
fn operator_rules(config: &Config) -> Result<crate::classify::custom::Active, AppError> {
    let rules = crate::classify::custom::from_config(config).map_err(|e| AppError::Misconfigured(e.to_string()))?;
    Ok(crate::classify::custom::activate(rules))
}

/// `window=1h&window=7d` has no one meaning; taking either would answer a question the caller did not ask.
fn refuse_repeated_parameters(req: &HttpRequest) -> Result<(), AppError> {
    let pairs = req.query_pairs();
    for (i, (name, _)) in pairs.iter().enumerate() {
        if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
            return Err(AppError::BadRequest(format!("query parameter `{name}` is given more than once")));
        }
    }
    Ok(())
}

/// Checks the bearer token when `READ_TOKEN` is set, with the webhooks' constant-time comparison, so neither
/// the token's bytes nor its length can be learnt from response times. The scheme's name is
/// case-insensitive (RFC 9110 §11.1): `bearer` and `BEARER` are `Bearer`.
pub fn authorize(req: &HttpRequest, config: &Config) -> Result<(), AppError> {
    match config.get("READ_TOKEN") {
        None => Ok(()),
        Some(expected) => check_bearer(req, "READ_TOKEN", expected),
    }
}

/// A write route: `ADMIN_TOKEN` as the bearer token; without it set, nothing can be written (403), since
/// a write route open to anyone who can reach the Worker would let them mute every alert.
fn authorize_admin(req: &HttpRequest, config: &Config) -> Result<(), AppError> {
    match config.get("ADMIN_TOKEN") {
        None => Err(AppError::Forbidden("writes are disabled: set the ADMIN_TOKEN secret to enable them".into())),
        Some(expected) => check_bearer(req, "ADMIN_TOKEN", expected),
    }
}

fn check_bearer(req: &HttpRequest, name: &str, expected: &str) -> Result<(), AppError> {
    let given = req.header("authorization").and_then(|header| {
        let (scheme, token) = header.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    });
    match given {
        Some(token) if crate::esp::constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(AppError::Unauthorized(format!("the bearer token is not {name}"))),
        None => Err(AppError::Unauthorized(format!("send `Authorization: Bearer <{name}>`"))),
    }
}

/// The 405 for a route that does not take this method; `allow` becomes its `Allow` header.
pub(super) fn method_not_allowed(allow: &'static str) -> AppError {
    AppError::MethodNotAllowed { allow, message: format!("this route accepts {allow}") }
}

fn with_cors(response: HttpResponse) -> HttpResponse {
    response
        .with_header("access-control-allow-origin", "*")
        .with_header("access-control-allow-methods", "GET, POST, DELETE, OPTIONS")
        .with_header("access-control-allow-headers", "authorization, content-type")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use pollster::block_on;

    /// `req` answered with `config`, an empty store and no counting object.
    fn serve(req: &HttpRequest, config: &Config) -> HttpResponse {
        let store = MemoryStore::new();
        let counter = crate::counting::client::Unreachable;
        let ctx =
            Context { store: &store, counter: &counter, config, now: 1_700_000_000, fetcher: &crate::esp::NoFetch };
        block_on(handle(req, &ctx))
    }

    fn get(url: &str) -> HttpResponse {
        serve(&HttpRequest::new(Method::Get, url), &Config::new())
    }

    #[test]
    fn health_reports_the_crate_version() {
        let response = get("http://h/api/health");
        assert_eq!(response.status, 200);
        assert_eq!(
            response.json_body(),
            serde_json::json!({"status": "ok", "version": crate::VERSION, "problems": []})
        );
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn a_bad_operator_rule_makes_webhooks_and_classify_503_naming_the_rule() {
        let config =
            Config::from_pairs([("CLASSIFY_RULES", r#"[{"id": "acme", "regex": "(", "category": "spam_content"}]"#)]);
        for req in [
            HttpRequest::new(Method::Post, "http://h/webhooks/sendgrid").with_body("[]"),
            HttpRequest::new(Method::Get, "http://h/api/classify?reply=550"),
        ] {
            let response = serve(&req, &config);
            assert_eq!(response.status, 503, "{}", req.path);
            assert_eq!(response.json_body()["error"], "configuration_error");
            assert!(response.json_body()["message"].as_str().is_some_and(|m| m.contains("rule \"acme\"")));
        }
    }

    #[test]
    fn unknown_route_is_a_404_json_error() {
        let response = get("http://h/nope");
        assert_eq!(response.status, 404);
        assert_eq!(response.json_body()["error"], "not_found");
    }
}
