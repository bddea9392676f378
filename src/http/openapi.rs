//! `GET /api/openapi.json`: an OpenAPI 3.1 description of every route the Worker answers. Enumerations
//! (ESPs, categories, windows) are generated from the types, so the document cannot drift from them.

use serde_json::{json, Value};

use crate::classify::Category;
use crate::counters::Window;
use crate::event::Esp;

use super::HttpResponse;

pub fn document() -> HttpResponse {
    HttpResponse::json(200, &spec())
}

fn error_response(description: &str) -> Value {
    json!({ "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } })
}

fn ok(schema: &str) -> Value {
    json!({ "description": "OK",
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn read_route(summary: &str, parameters: Value, success: Value) -> Value {
    json!({ "get": {
        "summary": summary,
        "security": [{ "readToken": [] }],
        "parameters": parameters,
        "responses": { "200": success, "400": error_response("A parameter is invalid; the message names it."),
                       "401": error_response("READ_TOKEN is set and the bearer token is missing or wrong."),
                       "503": error_response("Storage failed; retry.") } } })
}

fn spec() -> Value {
    let windows: Vec<&str> = Window::ALL.iter().map(|w| w.as_str()).collect();
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    let esps: Vec<&str> = Esp::ALL.iter().map(|e| e.as_str()).collect();
    let window = json!({ "name": "window", "in": "query", "required": false,
                         "schema": { "type": "string", "enum": windows, "default": "24h" } });
    let counts_by_category = json!({ "type": "object", "propertyNames": { "enum": categories },
                                     "additionalProperties": { "type": "integer" } });
    let phase = json!({ "type": "string", "enum": ["ok", "pending", "firing", "resolving"] });
    json!({
      "openapi": "3.1.0",
      "info": { "title": "bouncewatch", "version": crate::VERSION,
                "description": "Per-recipient-domain delivery counts, 451 deferral spikes and SMTP reply classification." },
      "components": {
        "securitySchemes": { "readToken": { "type": "http", "scheme": "bearer",
                              "description": "Required on /api routes other than /api/health when READ_TOKEN is set." } },
        "schemas": {
          "Error": { "type": "object", "required": ["error", "message"],
                     "properties": { "error": { "type": "string" }, "message": { "type": "string" } } },
          "Category": { "type": "string", "enum": categories },
          "Sample": { "type": "object", "properties": { "reply": { "type": "string" },
                      "category": { "$ref": "#/components/schemas/Category" }, "count": { "type": "integer" } } },
          "DomainList": { "type": "object", "properties": {
              "window": { "type": "string", "enum": windows },
              "domains": { "type": "array", "items": { "type": "object", "properties": {
                  "domain": { "type": "string" }, "attempts": { "type": "integer" }, "delivered": { "type": "integer" },
                  "deferred": { "type": "integer" }, "bounced": { "type": "integer" }, "dropped": { "type": "integer" },
                  "smtp_451": { "type": "integer" }, "ratio_451": { "type": "number" },
                  "categories": counts_by_category, "status": phase } } } } },
          "DomainDetail": { "type": "object", "properties": {
              "domain": { "type": "string" },
              "buckets": { "type": "array", "items": { "type": "object", "properties": {
                  "start": { "type": "integer", "description": "Unix seconds." }, "delivered": { "type": "integer" },
                  "deferred": { "type": "integer" }, "bounced": { "type": "integer" }, "smtp_451": { "type": "integer" },
                  "categories": counts_by_category } } },
              "samples": { "type": "array", "items": { "$ref": "#/components/schemas/Sample" } },
              "status": phase,
              "advice": { "type": "object", "additionalProperties": { "type": "string" },
                  "description": "What to do, by category seen in the window." },
              "spike_advice": { "type": "string", "description": "What to do while the domain is spiking." } } },
          "Alert": { "type": "object", "properties": {
              "domain": { "type": "string", "description": "A recipient domain, or * for the sender-wide alert." },
              "domains": { "type": "array", "items": { "type": "string" }, "description": "Sender-wide alert only." },
              "state": phase, "severity": { "type": "string", "enum": ["benign", "warning", "critical"] },
              "since": { "type": "integer" }, "smtp_451": { "type": "integer" }, "ratio_451": { "type": "number" },
              "baseline_ratio": { "type": "number" },
              "causes": { "type": "array", "items": { "type": "object", "properties": {
                  "category": { "$ref": "#/components/schemas/Category" }, "share": { "type": "number" } } } },
              "advice": { "type": "array", "items": { "type": "string" } },
              "samples": { "type": "array", "items": { "$ref": "#/components/schemas/Sample" } },
              "resolved_at": { "type": "integer", "description": "Recent (resolved) alerts only." } } },
          "Alerts": { "type": "object", "properties": {
              "active": { "type": "array", "items": { "$ref": "#/components/schemas/Alert" } },
              "recent": { "type": "array", "items": { "$ref": "#/components/schemas/Alert" } } } },
          "Classification": { "type": "object", "properties": {
              "category": { "$ref": "#/components/schemas/Category" },
              "permanence": { "type": "string", "enum": ["transient", "permanent"] },
              "smtp_code": { "type": ["integer", "null"] }, "enhanced_code": { "type": ["string", "null"] },
              "action": { "type": "string" }, "reputation_signal": { "type": "boolean" }, "rule": { "type": "string" } } },
          "Recorded": { "type": "object", "properties": {
              "accepted": { "type": "integer" }, "stale": { "type": "integer" }, "clamped": { "type": "integer" },
              "ignored": { "type": "integer" }, "writes": { "type": "integer" },
              "invalid": { "type": "integer", "description": "Recipients naming no domain that could be looked up; not stored." } } }
        }
      },
      "paths": {
        "/api/health": { "get": { "summary": "Liveness and version; never needs a token.",
            "responses": { "200": { "description": "OK", "content": { "application/json": { "schema": {
                "type": "object", "properties": { "status": { "const": "ok" }, "version": { "type": "string" } } } } } } } } },
        "/api/classify": {
          "get": { "summary": "Classify one SMTP reply.", "security": [{ "readToken": [] }],
                   "parameters": [{ "name": "reply", "in": "query", "required": true, "schema": { "type": "string" } }],
                   "responses": { "200": ok("Classification"), "400": error_response("`reply` is missing or empty.") } },
          "post": { "summary": "Classify up to 1,000 replies.", "security": [{ "readToken": [] }],
                    "requestBody": { "required": true, "content": { "application/json": { "schema": {
                        "type": "array", "items": { "type": "string" }, "maxItems": 1000 } } } },
                    "responses": { "200": { "description": "One verdict per reply, in order.", "content": {
                        "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Classification" } } } } },
                        "400": error_response("Not a non-empty array of non-empty strings."),
                        "413": error_response("More than 1,000 replies, or a body over 1 MiB.") } } },
        "/api/domains": read_route("Recipient domains by 451 count over a window.", json!([window, {
            "name": "limit", "in": "query", "required": false,
            "schema": { "type": "integer", "minimum": 1, "maximum": 1000, "default": 100 } }]), ok("DomainList")),
        "/api/domains/{domain}": read_route("One domain's buckets, samples and status over a window.", json!([
            { "name": "domain", "in": "path", "required": true, "schema": { "type": "string" } }, window]), ok("DomainDetail")),
        "/api/alerts": read_route("Open alerts and those resolved in the last 7 days.", json!([]), ok("Alerts")),
        "/api/openapi.json": read_route("This document.", json!([]), json!({ "description": "An OpenAPI 3.1 document.",
            "content": { "application/json": { "schema": { "type": "object" } } } })),
        "/webhooks/{esp}": { "post": {
            "summary": "Receive an ESP's event webhook. Authenticated by the ESP's own signature scheme (or, for generic, a bearer token); counted exactly once per body.",
            "parameters": [{ "name": "esp", "in": "path", "required": true, "schema": { "type": "string", "enum": esps } }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": {} },
                                                            "application/x-www-form-urlencoded": { "schema": {} } } },
            "responses": { "200": ok("Recorded"), "400": error_response("The body is not this ESP's format."),
                           "401": error_response("Signature or token missing, wrong or stale, or the secret is not configured."),
                           "404": error_response("Unknown ESP."), "413": error_response("Body too large."),
                           "503": error_response("Storage (`storage_unavailable`) or an upstream such as the SNS certificate host (`upstream_unavailable`) failed; the ESP should retry.") } } }
      }
    })
}
