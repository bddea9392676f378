//! The description the OpenAPI document is checked against: computed from the types and from the constants
//! the server checks with, as the Worker used to compute it on every request. Building it at run time took
//! about 60 KB of the Worker's wasm (2026-12); the Worker now serves `docs/openapi.json` and these tests
//! keep that file equal to what the code says. `UPDATE_OPENAPI=1 cargo test --lib http::openapi` rewrites
//! it after a change to a route, a type or a constant.

use serde_json::{json, Map, Value};

use crate::breakdown::{Dimension, CONCENTRATION_SHARE, MAX_VALUES, MIN_451, TOP_VALUES};
use crate::classify::Category;
use crate::counters::Window;
use crate::event::{Esp, MAX_DOMAIN_LEN};
use crate::http::classify::{MAX_BATCH, MAX_BODY_BYTES, NOT_BLANK_PATTERN};
use crate::http::csv::Format;
use crate::http::ECHOED_EVENTS_MAX;
use crate::silence::{
    COMMENT_PATTERN, CREATED_BY_PATTERN, MAX_ACTIVE, MAX_COMMENT_CHARS, MAX_CREATED_BY_CHARS, MAX_SILENCE_SECONDS,
    MIN_SILENCE_SECONDS,
};

use super::{served, DOCUMENT, UNTIL_SLACK};

fn error(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(schema: &str) -> Value {
    json!({ "description": "OK",
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

/// A JSON answer that `?format=csv` or `Accept: text/csv` turns into a table (see `csv.rs` for its columns).
fn ok_or_csv(schema: &str, table: &str) -> Value {
    json!({ "description": format!("OK; as CSV, {table}, with a header record."),
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } },
                         "text/csv": { "schema": { "type": "string" } } } })
}

/// One `/api` operation. Every one can answer 400 (a repeated query parameter, at least) and, when the
/// token is in force, 401; `errors` adds what the route itself can fail with.
fn operation(secured: bool, summary: &str, parameters: Value, success: Value, errors: &[(&str, &str)]) -> Value {
    let mut responses = Map::new();
    responses.insert("200".into(), success);
    responses.insert("400".into(), error("A parameter is invalid or repeated; the message names it."));
    if secured {
        responses.insert("401".into(), error("The bearer token is missing or is not READ_TOKEN."));
    }
    for (status, description) in errors {
        responses.insert((*status).into(), error(description));
    }
    let mut op = json!({ "summary": summary, "parameters": parameters, "responses": responses });
    if secured {
        op["security"] = json!([{ "readToken": [] }]);
    }
    op
}

/// A path answered by GET, and by HEAD with the same status and headers and no body (RFC 9110 §9.3.2).
fn get_and_head(get: Value) -> Value {
    let mut head = get.clone();
    head["summary"] = json!(format!("{} Headers only.", get["summary"].as_str().unwrap_or_default()));
    if let Some(responses) = head["responses"].as_object_mut() {
        for response in responses.values_mut() {
            if let Some(response) = response.as_object_mut() {
                response.remove("content");
            }
        }
    }
    json!({ "get": get, "head": head })
}

/// A write operation: `ADMIN_TOKEN` when it is set; when it is not, the route answers only 403, and says
/// so, with no security to offer.
fn write_operation(
    admin: bool,
    summary: &str,
    parameters: Value,
    success: (&str, Value),
    errors: &[(&str, &str)],
) -> Value {
    let mut responses = Map::new();
    if admin {
        responses.insert(success.0.into(), success.1);
        responses.insert("400".into(), error("The body or a parameter is invalid; the message names it."));
        responses.insert("401".into(), error("The bearer token is missing or is not ADMIN_TOKEN."));
        for (status, description) in errors {
            responses.insert((*status).into(), error(description));
        }
    } else {
        responses.insert("403".into(), error("Writes are disabled: ADMIN_TOKEN is not set."));
    }
    let mut op = json!({ "summary": summary, "parameters": parameters, "responses": responses });
    if admin {
        op["security"] = json!([{ "adminToken": [] }]);
    }
    op
}

/// The silence routes (`crate::silence`): their schema and their three operations. `until`'s bounds are
/// from the time the document is served; the stored document (`now` none) has none.
fn silence_paths(secured: bool, admin: bool, now: Option<u64>, storage: &[(&str, &str)]) -> (Value, Value, Value) {
    let matcher = json!({ "oneOf": [
        { "const": "*", "description": "Every alert." },
        { "type": "object", "required": ["domain"], "additionalProperties": false,
          "properties": { "domain": { "type": "string", "maxLength": MAX_DOMAIN_LEN, "pattern": crate::domain::PATTERN } } },
        { "type": "object", "required": ["provider"], "additionalProperties": false,
          "properties": { "provider": { "$ref": "#/components/schemas/ProviderId" } } } ] });
    let schema = json!({ "type": "object", "required": ["id", "match", "until", "comment", "created_at"], "properties": {
        "id": { "type": "string" }, "match": matcher, "until": { "type": "integer", "description": "Unix seconds." },
        "comment": { "type": "string" }, "created_by": { "type": "string" }, "created_at": { "type": "integer" } } });
    let mut until = json!({ "type": "integer",
        "description": "Unix seconds, a minute ahead at least and 30 days at most. The bounds are from when this document was served, the maximum ten minutes past 30 days: a value between them can be refused once time has moved on, one outside them always is." });
    if let Some(now) = now {
        until["minimum"] = json!(now + MIN_SILENCE_SECONDS);
        until["maximum"] = json!(now + MAX_SILENCE_SECONDS + UNTIL_SLACK);
    }
    let body = json!({ "required": true, "content": { "application/json": { "schema": {
        "type": "object", "required": ["match", "until", "comment"], "additionalProperties": false, "properties": {
            "match": matcher,
            "until": until,
            "comment": { "type": "string", "minLength": 1, "maxLength": MAX_COMMENT_CHARS, "pattern": COMMENT_PATTERN },
            // null is taken as absent (serde's `Option`), so the document says so.
            "created_by": { "type": ["string", "null"], "maxLength": MAX_CREATED_BY_CHARS, "pattern": CREATED_BY_PATTERN } } } } } });
    let list = json!({ "description": "OK", "content": { "application/json": { "schema": {
        "type": "object", "properties": { "silences": { "type": "array", "items": { "$ref": "#/components/schemas/Silence" } } } } } } });
    let one = |description: &str| {
        json!({ "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Silence" } } } })
    };
    let mut collection = get_and_head(operation(secured, "The silences in force.", json!([]), list, storage));
    let full = format!("{MAX_ACTIVE} silences are active already (the most there may be); delete one first.");
    let mut post = write_operation(
        admin,
        "Silence the alerts a matcher covers until a time.",
        json!([]),
        ("201", one("Created.")),
        &[("409", &full), storage[0]],
    );
    post["requestBody"] = body;
    collection["post"] = post;
    let id = json!([{ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "pattern": "^s[0-9]{1,20}$" } }]);
    let not_found = [("404", "No active silence has this id."), storage[0]];
    let item = json!({ "delete": write_operation(admin, "End a silence now.", id, ("200", one("The silence ended.")), &not_found) });
    (schema, collection, item)
}

/// `{sending_ip: [ValueShare], ip_pool: …}`, at most `max` values each.
fn values_by_dimension(max: usize) -> Value {
    let list = json!({ "type": "array", "maxItems": max, "items": { "$ref": "#/components/schemas/ValueShare" } });
    Value::Object(Dimension::ALL.iter().map(|d| (d.as_str().to_owned(), list.clone())).collect())
}

/// An `other:` provider id: lower-case DNS labels (underscores allowed, as in MX host names).
const OTHER_PROVIDER_PATTERN: &str =
    "^other:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$";

fn spec(secured: bool, admin: bool, now: Option<u64>) -> Value {
    let windows: Vec<&str> = Window::ALL.iter().map(|w| w.as_str()).collect();
    let hourly_windows: Vec<&str> = Window::HOURLY.iter().map(|w| w.as_str()).collect();
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let esps: Vec<&str> = Esp::ALL.iter().map(|e| e.as_str()).collect();
    let window = json!({ "name": "window", "in": "query", "required": false,
                         "description": "15m to 7d: 5-minute buckets ending now. 30d, 90d, 365d: the last complete UTC days, in daily buckets, from the history.",
                         "schema": { "type": "string", "enum": windows, "default": "24h" } });
    let hourly_window = json!({ "name": "window", "in": "query", "required": false,
                         "schema": { "type": "string", "enum": hourly_windows, "default": "24h" } });
    let previous = json!({ "anyOf": [{ "$ref": "#/components/schemas/Period" }, { "type": "null" }],
                           "description": "The same window one period earlier (7d: the seven whole days before its first day); null when the kept counts do not reach it." });
    let change = json!({ "anyOf": [{ "$ref": "#/components/schemas/Change" }, { "type": "null" }],
                         "description": "This window minus the period before; null with it." });
    let format = json!({ "name": "format", "in": "query", "required": false,
                         "description": "csv for text/csv; without it, `Accept: text/csv` (ranked above application/json) does the same.",
                         "schema": { "type": "string", "enum": Format::NAMES, "default": "json" } });
    let counts_by_category = json!({ "type": "object", "propertyNames": { "enum": categories },
                                     "additionalProperties": { "type": "integer" } });
    let phase = json!({ "type": "string", "enum": ["ok", "pending", "firing", "resolving"] });
    let watched = json!({ "type": "integer", "description": "Replies with a code SPIKE_CODES watches (451 by default): what the detector judges." });
    let mut provider_ids: Vec<&str> = crate::provider::Platform::ALL.iter().map(|p| p.id()).collect();
    provider_ids.extend(["unknown", "no_mail"]);
    let provider_id_schema = json!({ "anyOf": [{ "type": "string", "enum": provider_ids },
        { "type": "string", "maxLength": 6 + crate::provider::MAX_NAME_LEN, "pattern": OTHER_PROVIDER_PATTERN }],
        "description": "A platform id, unknown (not looked up yet), no_mail (null MX), or other: and the MX hosts' registrable domain." });
    let provider_id = json!({ "$ref": "#/components/schemas/ProviderId" });
    let provider_totals = json!({ "type": "object", "properties": {
        "provider": provider_id, "name": { "type": "string" },
        "domains": { "type": "integer", "description": "Domains with traffic in the window." },
        "attempts": { "type": "integer" }, "delivered": { "type": "integer" }, "deferred": { "type": "integer" },
        "bounced": { "type": "integer" }, "smtp_451": { "type": "integer" }, "ratio_451": { "type": "number" },
        "deferrals_watched": watched, "ratio_watched": { "type": "number" },
        "categories": counts_by_category, "status": phase, "previous": previous, "change": change } });
    let bucket = json!({ "type": "object", "properties": {
        "start": { "type": "integer", "description": "Unix seconds." }, "delivered": { "type": "integer" },
        "deferred": { "type": "integer" }, "bounced": { "type": "integer" }, "smtp_451": { "type": "integer" },
        "categories": counts_by_category } });
    let previous_buckets = json!({ "type": "array", "items": bucket,
        "description": "The period before's buckets at their own times; absent when it is not kept." });
    let period_schema = json!({ "type": "object", "required": ["attempts", "delivered", "deferred", "bounced", "smtp_451", "ratio_451", "ratio_bounced"],
              "properties": { "attempts": { "type": "integer", "minimum": 0 }, "delivered": { "type": "integer", "minimum": 0 },
                  "deferred": { "type": "integer", "minimum": 0 }, "bounced": { "type": "integer", "minimum": 0 },
                  "smtp_451": { "type": "integer", "minimum": 0 }, "ratio_451": { "type": "number", "minimum": 0 },
                  "ratio_bounced": { "type": "number", "minimum": 0 } } });
    let change_schema = json!({ "type": "object", "required": ["attempts", "smtp_451", "ratio_451", "ratio_bounced"],
              "properties": { "attempts": { "type": "integer" }, "smtp_451": { "type": "integer" },
                  "ratio_451": { "type": "number", "description": "Difference of the 451 ratios." },
                  "ratio_bounced": { "type": "number" } } });
    let storage = [("503", "Storage failed; retry.")];
    let (silence, silences, silence_item) = silence_paths(secured, admin, now, &storage);
    let kinds = json!({ "type": "string", "enum": ["deferred", "bounced", "dropped", "delivered"],
                        "description": "The event's kind, where known: a deferral is never `expired` nor permanent." });
    let dimensions: Vec<&str> = Dimension::ALL.iter().map(|d| d.as_str()).collect();
    let concentration = json!({ "type": "string", "description": format!(
        "Where the 451s came from, with what to do: the value carrying at least {} % of them with much less of the attempts, or that they are spread. Absent below {MIN_451} 451s or without dimensions.",
        CONCENTRATION_SHARE * 100.0) });
    let tally = json!({ "type": "object", "required": ["attempts", "smtp_451", "ratio_451"], "properties": {
        "attempts": { "type": "integer", "minimum": 0 }, "smtp_451": { "type": "integer", "minimum": 0 },
        "ratio_451": { "type": "number", "minimum": 0, "maximum": 1 } } });
    let mut streams = values_by_dimension(MAX_VALUES);
    streams["window"] = json!({ "type": "string", "enum": hourly_windows });
    streams["attempts"] =
        json!({ "type": "integer", "minimum": 0, "description": "Every attempt, with or without dimensions." });
    streams["smtp_451"] = json!({ "type": "integer", "minimum": 0 });
    streams["other"] = json!({ "type": "object", "propertyNames": { "enum": dimensions }, "additionalProperties": tally,
        "description": format!("Per dimension, the values beyond the {MAX_VALUES} kept per recipient domain and bucket, summed.") });
    let reply = json!([{ "name": "reply", "in": "query", "required": true,
                         "schema": { "type": "string", "minLength": 1, "pattern": NOT_BLANK_PATTERN } },
                       { "name": "kind", "in": "query", "required": false, "schema": kinds }]);
    let misconfigured = ("503", "CLASSIFY_RULES cannot be used (`configuration_error`); the message names the rule.");
    let mut classify =
        get_and_head(operation(secured, "Classify one SMTP reply.", reply, ok("Classification"), &[misconfigured]));
    let verdicts = json!({ "description": "One verdict per reply, in order.", "content": { "application/json": {
        "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Classification" } } } } });
    let too_large = format!("More than {MAX_BATCH} replies, or a body over {} MiB.", MAX_BODY_BYTES >> 20);
    let post_errors = [("413", too_large.as_str()), misconfigured];
    classify["post"] = operation(secured, "Classify up to 1,000 replies.", json!([]), verdicts, &post_errors);
    let one_reply = json!({ "type": "string", "minLength": 1, "pattern": NOT_BLANK_PATTERN });
    classify["post"]["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": {
        "type": "array", "minItems": 1, "maxItems": MAX_BATCH,
        "items": { "oneOf": [one_reply, { "type": "object", "required": ["reply"], "properties": { "reply": one_reply,
            "kind": { "type": ["string", "null"], "enum": ["deferred", "bounced", "dropped", "delivered", null],
                      "description": "The event's kind; null or absent when not known." } } }] } } } } });
    let mut doc = json!({
      "openapi": "3.1.0",
      "info": { "title": "bouncewatch", "version": crate::VERSION,
                "description": "Per-recipient-domain delivery counts, 451 deferral spikes and SMTP reply classification." },
      "components": {
        "schemas": {
          "Error": { "type": "object", "required": ["error", "message"],
                     "properties": { "error": { "type": "string" }, "message": { "type": "string" } } },
          "Category": { "type": "string", "enum": categories },
          "ProviderId": provider_id_schema,
          "Entity": { "type": "object", "description": "The blocklist, filter or provider the reply names.", "properties": {
              "name": { "type": "string" }, "kind": { "type": "string", "enum": ["blocklist", "filter", "mailbox_provider"] },
              "lookup": { "type": "string", "format": "uri" } } },
          "Sample": { "type": "object", "properties": { "reply": { "type": "string" },
                      "category": { "$ref": "#/components/schemas/Category" }, "count": { "type": "integer" },
                      "rule": { "type": "string", "description": "The rule that classified it." },
                      "entity": { "$ref": "#/components/schemas/Entity" } } },
          "RuleList": { "type": "object", "properties": {
              "window": { "type": "string", "enum": hourly_windows },
              "rules": { "type": "array", "description": "Code-class fallbacks (`fallback.*`) first, then by hits.",
                  "items": { "type": "object", "properties": {
                  "rule": { "type": "string" }, "category": { "$ref": "#/components/schemas/Category" },
                  "hits": { "type": "integer" }, "fallback": { "type": "boolean" },
                  "sample": { "type": ["string", "null"] } } } } } },
          "DomainList": { "type": "object", "properties": {
              "window": { "type": "string", "enum": windows },
              "domains": { "type": "array", "items": { "type": "object", "properties": {
                  "domain": { "type": "string" }, "provider": provider_id,
                  "attempts": { "type": "integer" }, "delivered": { "type": "integer" },
                  "deferred": { "type": "integer" }, "bounced": { "type": "integer" }, "dropped": { "type": "integer" },
                  "smtp_451": { "type": "integer" }, "ratio_451": { "type": "number" },
                  "deferrals_watched": watched, "ratio_watched": { "type": "number" },
                  "categories": counts_by_category, "status": phase } } } } },
          "DomainDetail": { "type": "object", "properties": {
              "domain": { "type": "string" }, "provider": provider_id,
              "buckets": { "type": "array", "items": bucket },
              "samples": { "type": "array", "items": { "$ref": "#/components/schemas/Sample" } },
              "status": phase,
              "advice": { "type": "object", "additionalProperties": { "type": "string" },
                  "description": "What to do, by category seen in the window." },
              "spike_advice": { "type": "string", "description": "What to do while the domain is spiking." },
              "breakdown": { "$ref": "#/components/schemas/Breakdown" },
              "concentration": concentration } },
          "Alert": { "type": "object", "properties": {
              "domain": { "type": "string", "description": "A recipient domain, a provider's id (provider alerts), or * for the sender-wide alert." },
              "scope": { "type": "string", "enum": ["domain", "provider", "sender"] },
              "provider": provider_id,
              "domain_count": { "type": "integer", "description": "Provider alerts: its domains with traffic in the window." },
              "domains": { "type": "array", "items": { "type": "string" }, "description": "Sender-wide alert: the domains it covers; provider alert: its busiest domains." },
              "state": phase, "severity": { "type": "string", "enum": ["benign", "warning", "critical"] },
              "since": { "type": "integer" }, "smtp_451": { "type": "integer" }, "ratio_451": { "type": "number" },
              "deferrals_watched": watched, "ratio_watched": { "type": "number" },
              "baseline_ratio": { "type": "number", "description": "The baseline of the watched ratio." },
              "causes": { "type": "array", "items": { "type": "object", "properties": {
                  "category": { "$ref": "#/components/schemas/Category" }, "share": { "type": "number" } } } },
              "advice": { "type": "array", "items": { "type": "string" } },
              "samples": { "type": "array", "items": { "$ref": "#/components/schemas/Sample" } },
              "breakdown": { "$ref": "#/components/schemas/Breakdown" },
              "concentration": concentration,
              "resolved_at": { "type": "integer", "description": "Recent (resolved) alerts only." },
              "silenced": { "$ref": "#/components/schemas/Silence", "description": "Active alerts only: the silence muting it." } } },
          "Silence": silence,
          "ValueShare": { "type": "object", "required": ["value", "attempts", "smtp_451", "share", "ratio_451"], "properties": {
              "value": { "type": "string" }, "attempts": { "type": "integer", "minimum": 0 },
              "smtp_451": { "type": "integer", "minimum": 0 },
              "share": { "type": "number", "minimum": 0, "maximum": 1, "description": "Of all the 451s." },
              "ratio_451": { "type": "number", "minimum": 0, "maximum": 1 } } },
          "Breakdown": { "type": "object", "required": dimensions,
              "description": format!("The top {TOP_VALUES} values per dimension, most 451s first. Absent when the ESP named no sending IP, pool, sending domain or tag."),
              "properties": values_by_dimension(TOP_VALUES) },
          "Streams": { "type": "object", "required": ["window", "attempts", "smtp_451", "sending_ip", "ip_pool", "sending_domain", "tag", "other"],
              "properties": streams },
          "ProviderList": { "type": "object", "properties": {
              "window": { "type": "string", "enum": windows },
              "providers": { "type": "array", "items": provider_totals } } },
          "ProviderDetail": { "type": "object", "properties": {
              "provider": provider_id, "name": { "type": "string" }, "window": { "type": "string", "enum": windows },
              "status": phase, "domains": { "type": "integer" },
              "buckets": { "type": "array", "items": bucket },
              "categories": counts_by_category,
              "top_domains": { "type": "array", "items": { "type": "object", "properties": {
                  "domain": { "type": "string" }, "attempts": { "type": "integer" }, "smtp_451": { "type": "integer" },
                  "ratio_451": { "type": "number" }, "status": phase } } },
              "samples": { "type": "array", "items": { "$ref": "#/components/schemas/Sample" } },
              "advice": { "type": "object", "additionalProperties": { "type": "string" } },
              "spike_advice": { "type": "string" },
              "breakdown": { "$ref": "#/components/schemas/Breakdown",
                  "description": format!("Over its {} busiest domains.", crate::http::providers::MAX_TOP_DOMAINS) },
              "concentration": concentration } },
          "Alerts": { "type": "object", "properties": {
              "active": { "type": "array", "items": { "$ref": "#/components/schemas/Alert" } },
              "recent": { "type": "array", "items": { "$ref": "#/components/schemas/Alert" } } } },
          "Classification": { "type": "object", "properties": {
              "category": { "$ref": "#/components/schemas/Category" },
              "permanence": { "type": "string", "enum": ["transient", "permanent"] },
              "smtp_code": { "type": ["integer", "null"] }, "enhanced_code": { "type": ["string", "null"] },
              "action": { "type": "string" }, "reputation_signal": { "type": "boolean" },
              "rule": { "type": "string", "description": "The deciding rule's id; `custom.<id>` for an operator rule (CLASSIFY_RULES)." },
              "context": { "type": "string", "description": "Present when the event's kind changed the verdict." },
              "entity": { "$ref": "#/components/schemas/Entity" } } },
          "Recorded": { "type": "object", "required": ["accepted", "stale", "ignored"], "properties": {
              "accepted": { "type": "integer" }, "stale": { "type": "integer" }, "ignored": { "type": "integer" },
              "duplicates": { "type": "integer", "description": "Events counted before, by an earlier delivery or batch." },
              "invalid": { "type": "integer", "description": "Recipients naming no domain that could be looked up; not stored." },
              "events": { "type": "array", "items": { "type": "object" }, "description": format!("The normalized events, for batches of up to {ECHOED_EVENTS_MAX}.") },
              "subscription_confirmed": { "type": "boolean", "description": "SES only: the SNS subscription was confirmed." } } }
        }
      },
      "paths": {
        "/api/health": get_and_head(operation(false, "Liveness and version; never needs a token.", json!([]),
            json!({ "description": "OK", "content": { "application/json": { "schema": {
                "type": "object", "required": ["status", "version", "problems"],
                "properties": { "status": { "type": "string", "enum": ["ok", "degraded"] }, "version": { "type": "string" },
                    "problems": { "type": "array", "items": { "type": "string" },
                        "description": "Configuration that cannot be used (webhooks answer 503 until it is fixed)." } } } } } }), &[])),
        "/api/classify": classify,
        "/api/domains": get_and_head(operation(secured, "Recipient domains by 451 count over a window.", json!([window, {
            "name": "limit", "in": "query", "required": false,
            "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }, format]),
            ok_or_csv("DomainList", "one row per domain"), &storage)),
        "/api/domains/{domain}": get_and_head(operation(secured, "One domain's buckets, samples and status over a window.", json!([
            { "name": "domain", "in": "path", "required": true,
              "description": "As /api/domains lists it, in any case; an xn-- label must also be valid punycode (RFC 5891), which the pattern cannot say.",
              "schema": { "type": "string", "maxLength": MAX_DOMAIN_LEN, "pattern": crate::domain::PATTERN } },
            window, format]), ok_or_csv("DomainDetail", "one row per bucket"), &storage)),
        "/api/providers": get_and_head(operation(secured, "Mailbox providers by 451 count over a window: each domain's counts under its provider as known now.",
            json!([window, format]), ok_or_csv("ProviderList", "one row per provider"), &storage)),
        "/api/providers/{provider}": get_and_head(operation(secured, "One provider's buckets, causes, busiest domains and samples over a window.", json!([
            { "name": "provider", "in": "path", "required": true, "schema": provider_id }, window, format]),
            ok_or_csv("ProviderDetail", "one row per bucket"), &storage)),
        "/api/rules": get_and_head(operation(secured, "Hits per classification rule over a window, with a sample reply each.",
            json!([hourly_window]), ok("RuleList"), &storage)),
        "/api/streams": get_and_head(operation(secured, "Attempts, 451s and 451 ratio per sending IP, IP pool, sending domain and tag, across all recipient domains, over a window.",
            json!([hourly_window]), ok("Streams"), &storage)),
        "/api/alerts": get_and_head(operation(secured, "Open alerts and those resolved in the last 7 days.", json!([]),
            ok("Alerts"), &storage)),
        "/api/openapi.json": get_and_head(operation(secured, "This document.", json!([]),
            json!({ "description": "An OpenAPI 3.1 document.",
                    "content": { "application/json": { "schema": { "type": "object" } } } }), &[])),
        "/api/silences": silences,
        "/api/silences/{id}": silence_item,
        "/webhooks/{esp}": { "post": {
            "summary": "Receive an ESP's event webhook. Authenticated by the ESP's own signature scheme (or, for generic, a bearer token); counted exactly once per body.",
            "description": "Mandrill's unsigned HEAD (its URL check) is answered 200 with no body; docs/webhooks.md has each ESP's scheme.",
            "parameters": [{ "name": "esp", "in": "path", "required": true, "schema": { "type": "string", "enum": esps } }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": {} },
                                                            "application/x-www-form-urlencoded": { "schema": {} } } },
            "responses": { "200": ok("Recorded"), "400": error("The body is not this ESP's format."),
                           "401": error("Signature or token missing, wrong or stale, or the secret is not configured."),
                           "404": error("Unknown ESP."), "413": error("Body too large."),
                           "503": error("Storage (`storage_unavailable`) or an upstream such as the SNS certificate host (`upstream_unavailable`) failed, or CLASSIFY_RULES cannot be used (`configuration_error`); the ESP should retry.") } } }
      }
    });
    // Added after: one more level inside the macro above passes its recursion limit.
    let schemas = &mut doc["components"]["schemas"];
    schemas["Alerts"]["properties"]["drifts"] = json!({ "type": "array", "items": { "$ref": "#/components/schemas/Drift" },
        "description": "What the last weekly check found: a ratio rising three weeks running (informational)." });
    schemas["Drift"] = json!({ "type": "object", "required": ["scope", "id", "signal", "severity", "weeks", "rise"],
        "properties": { "scope": { "type": "string", "enum": ["domain", "provider"] }, "id": { "type": "string" },
            "signal": { "type": "string", "enum": ["smtp_451", "bounced"] }, "severity": { "type": "string", "enum": ["info"] },
            "weeks": { "type": "array", "minItems": 4, "maxItems": 4, "items": { "type": "object",
                "required": ["start", "attempts", "ratio"], "properties": { "start": { "type": "integer" },
                "attempts": { "type": "integer", "minimum": 0 }, "ratio": { "type": "number", "minimum": 0 } } } },
            "rise": { "type": "number" } } });
    schemas["Period"] = period_schema;
    schemas["Change"] = change_schema;
    for detail in ["DomainDetail", "ProviderDetail"] {
        let properties = &mut schemas[detail]["properties"];
        properties["previous"] = previous.clone();
        properties["change"] = change.clone();
        properties["previous_buckets"] = previous_buckets.clone();
    }
    let row = &mut schemas["DomainList"]["properties"]["domains"]["items"]["properties"];
    row["previous"] = previous;
    row["change"] = change;
    let mut schemes = Map::new();
    if secured {
        schemes.insert("readToken".into(), json!({ "type": "http", "scheme": "bearer",
            "description": "READ_TOKEN, required on every /api route but /api/health, the write routes and CORS preflights." }));
    }
    if admin {
        schemes.insert("adminToken".into(), json!({ "type": "http", "scheme": "bearer",
            "description": "ADMIN_TOKEN, required on the write routes (POST /api/silences, DELETE /api/silences/{id})." }));
    }
    if !schemes.is_empty() {
        doc["components"]["securitySchemes"] = Value::Object(schemes);
    }
    doc
}

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

#[test]
fn docs_openapi_json_is_the_document_the_types_and_constants_describe() {
    let expected = spec(true, true, None);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let text = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        if text != DOCUMENT {
            std::fs::write(PATH, text).unwrap();
            panic!("docs/openapi.json rewritten: run the tests again without UPDATE_OPENAPI");
        }
    }
    let stored: Value = serde_json::from_str(DOCUMENT).unwrap();
    assert!(
        stored == expected,
        "docs/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test --lib http::openapi`"
    );
}

#[test]
fn the_served_document_states_the_security_in_force_and_until_bounds_from_now() {
    let now = 1_700_000_000;
    for (secured, admin) in [(true, true), (true, false), (false, true), (false, false)] {
        assert!(served(secured, admin, now) == spec(secured, admin, Some(now)), "secured: {secured}, admin: {admin}");
    }
}
