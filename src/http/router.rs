//! The route table. Every path and method the Worker answers is listed here, and every error leaves
//! through [`AppError::into_response`].

use crate::config::Config;
use crate::counting::Counter;
use crate::error::AppError;
use crate::esp::Fetcher;
use crate::store::Store;

use super::{classify, openapi, stats, webhooks, HttpRequest, HttpResponse, Method};

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
    let response = match route(req, ctx).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    if req.path.starts_with("/api/") {
        with_cors(response)
    } else {
        response
    }
}

async fn route<S: Store, C: Counter>(req: &HttpRequest, ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    // Preflights carry no credentials, and health checks must work without them.
    let open = matches!((req.method, segments.as_slice()), (Method::Options, _) | (_, ["api", "health"]));
    if !open && segments.first() == Some(&"api") {
        authorize(req, ctx.config)?;
    }
    match (req.method, segments.as_slice()) {
        (Method::Options, ["api", ..]) => Ok(HttpResponse::empty(204)),
        (Method::Get | Method::Head, ["api", "health"]) => {
            Ok(HttpResponse::json(200, &serde_json::json!({ "status": "ok", "version": crate::VERSION })))
        }
        (_, ["api", "health"]) => Err(method_not_allowed("GET")),
        (Method::Get, ["api", "classify"]) => classify::get(req),
        (Method::Post, ["api", "classify"]) => classify::post(req),
        (_, ["api", "classify"]) => Err(method_not_allowed("GET, POST")),
        (Method::Get, ["api", "domains"]) => stats::domains(req, ctx).await,
        (Method::Get, ["api", "domains", domain]) => stats::domain(req, ctx, domain).await,
        (Method::Get, ["api", "alerts"]) => stats::alerts(ctx).await,
        (Method::Get, ["api", "openapi.json"]) => Ok(openapi::document()),
        (_, ["api", "domains" | "alerts" | "openapi.json"] | ["api", "domains", _]) => Err(method_not_allowed("GET")),
        // Webhooks answer their own errors, so that each request's log line includes its rejection.
        (_, ["webhooks", esp]) => Ok(webhooks::handle(req, esp, ctx).await),
        _ => Err(AppError::NotFound(format!("no route for {}", req.path))),
    }
}

/// Checks the bearer token when `READ_TOKEN` is set, with the webhooks' constant-time comparison, so neither
/// the token's bytes nor its length can be learnt from response times.
pub fn authorize(req: &HttpRequest, config: &Config) -> Result<(), AppError> {
    let Some(expected) = config.get("READ_TOKEN") else {
        return Ok(());
    };
    let given = req.header("authorization").and_then(|h| h.strip_prefix("Bearer ")).map(str::trim);
    match given {
        Some(token) if crate::esp::constant_time_eq(token.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(AppError::Unauthorized("the bearer token is not READ_TOKEN".into())),
        None => Err(AppError::Unauthorized("send `Authorization: Bearer <READ_TOKEN>`".into())),
    }
}

pub(super) fn method_not_allowed(allowed: &str) -> AppError {
    AppError::MethodNotAllowed(format!("this route accepts {allowed}"))
}

fn with_cors(response: HttpResponse) -> HttpResponse {
    response
        .with_header("access-control-allow-origin", "*")
        .with_header("access-control-allow-methods", "GET, POST, OPTIONS")
        .with_header("access-control-allow-headers", "authorization, content-type")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use pollster::block_on;

    fn get(url: &str) -> HttpResponse {
        let store = MemoryStore::new();
        let config = Config::new();
        let counter = crate::counting::client::Unreachable;
        let ctx = Context {
            store: &store,
            counter: &counter,
            config: &config,
            now: 1_700_000_000,
            fetcher: &crate::esp::NoFetch,
        };
        block_on(handle(&HttpRequest::new(Method::Get, url), &ctx))
    }

    #[test]
    fn health_reports_the_crate_version() {
        let response = get("http://h/api/health");
        assert_eq!(response.status, 200);
        assert_eq!(response.json_body(), serde_json::json!({"status": "ok", "version": crate::VERSION}));
        assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    }

    #[test]
    fn unknown_route_is_a_404_json_error() {
        let response = get("http://h/nope");
        assert_eq!(response.status, 404);
        assert_eq!(response.json_body()["error"], "not_found");
    }
}
