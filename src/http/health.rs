//! `GET /api/health`: liveness, the version, and every configuration problem that makes the Worker
//! refuse work (so an operator sees why webhooks answer 503 without reading logs).

use crate::config::Config;

use super::HttpResponse;

/// Always 200, so that a health check tells "up but misconfigured" (`"status": "degraded"`) from down.
pub fn get(config: &Config) -> HttpResponse {
    let problems = config_problems(config);
    let status = if problems.is_empty() { "ok" } else { "degraded" };
    HttpResponse::json(200, &serde_json::json!({ "status": status, "version": crate::VERSION, "problems": problems }))
}

/// Each configuration var that cannot be used, with why. Other checks belong here too, one line each.
pub fn config_problems(config: &Config) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = crate::classify::custom::from_config(config) {
        problems.push(e.to_string());
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_operator_rule_degrades_health_and_names_the_rule() {
        let config = Config::from_pairs([("CLASSIFY_RULES", r#"[{"id": "acme", "match": "x", "category": "nope"}]"#)]);
        let body = get(&config).json_body();
        assert_eq!(body["status"], "degraded");
        assert!(body["problems"][0].as_str().is_some_and(|p| p.contains("CLASSIFY_RULES: rule \"acme\"")), "{body}");
        assert_eq!(get(&Config::new()).json_body()["problems"], serde_json::json!([]));
    }
}
