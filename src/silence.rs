//! Silences, with Prometheus Alertmanager's meaning: a matcher and an end time under which an alert is
//! still detected and shown (marked silenced, with who, why and until when) but sends nothing — no
//! email, no reminder, no action. When the silence ends while the alert still fires, notifications carry
//! on as if it had never been there: a reminder that fell due meanwhile goes out at the next run.
//!
//! Pure: parsing and checking a request body ([`NewSilence::parse`]), the stored list ([`Silences`], one
//! meta row of the counting object's shard 0, the writer of alert state) and matching. The routes are in
//! `http::silences`.
//!
//! A matcher may match no alert open now: that is how a silence is set ahead of a planned send or
//! maintenance, as in Alertmanager. What is refused is a matcher that could never match anything: an
//! empty object, an invalid domain, both fields at once.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::alert::{AlertSnapshot, Scope};
use crate::error::AppError;

/// The longest a silence may last: past that it is a configuration change, not a silence.
pub const MAX_SILENCE_SECONDS: u64 = 30 * 86_400;
/// The shortest: the cron runs once a minute, so a shorter silence could end before any run saw it.
pub const MIN_SILENCE_SECONDS: u64 = 60;
/// How many silences may be active at once; each is kept in one stored row, read by every cron run.
pub const MAX_ACTIVE: usize = 100;
pub const MAX_COMMENT_CHARS: usize = 500;
pub const MAX_CREATED_BY_CHARS: usize = 100;
/// Text without control characters and not blank, as [`NewSilence::parse`] takes a comment.
pub const COMMENT_PATTERN: &str =
    r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// Text without control characters.
pub const CREATED_BY_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

/// What a silence applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matcher {
    /// Every alert, the sender-wide one included.
    All,
    /// The alert on one recipient domain.
    Domain(String),
    /// The alerts on one receiving provider.
    Provider(String),
}

impl Matcher {
    /// The matcher as the API writes it: `"*"`, `{"domain": …}` or `{"provider": …}`.
    pub fn to_json(&self) -> Value {
        match self {
            Matcher::All => Value::from("*"),
            Matcher::Domain(domain) => serde_json::json!({ "domain": domain }),
            Matcher::Provider(provider) => serde_json::json!({ "provider": provider }),
        }
    }

    /// Whether an alert on `scope` is silenced by this matcher. A provider silence mutes the provider's
    /// alert, which stands for the alerts of its domains (one notification); a domain alert is muted by
    /// its own domain's silence.
    pub fn matches(&self, scope: &Scope) -> bool {
        match (self, scope) {
            (Matcher::All, _) => true,
            (Matcher::Domain(domain), Scope::Domain(alerted)) => domain == alerted,
            (Matcher::Provider(provider), Scope::Provider { provider: alerted, .. }) => provider == alerted,
            _ => false,
        }
    }
}

/// One silence as stored and listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silence {
    pub id: String,
    #[serde(rename = "match", with = "matcher_json")]
    pub matcher: Matcher,
    /// Unix seconds; the silence holds while `now < until`.
    pub until: u64,
    pub comment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    pub created_at: u64,
}

/// The API's matcher form in and out of storage.
mod matcher_json {
    use super::{parse_matcher, Matcher};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(matcher: &Matcher, s: S) -> Result<S::Ok, S::Error> {
        matcher.to_json().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Matcher, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        parse_matcher(&value).map_err(|e| serde::de::Error::custom(e.message().to_owned()))
    }
}

/// A `POST /api/silences` body, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSilence {
    #[serde(rename = "match", with = "matcher_json")]
    pub matcher: Matcher,
    pub until: u64,
    pub comment: String,
    pub created_by: Option<String>,
}

/// The body as sent; unknown fields are refused so that a misspelt `untill` is not a silence forever.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(rename = "match")]
    matcher: Value,
    until: Value,
    comment: String,
    #[serde(default)]
    created_by: Option<String>,
}

impl NewSilence {
    /// Parses and checks a request body at `now`. Every refusal is a 400 naming the field.
    pub fn parse(body: &[u8], now: u64) -> Result<NewSilence, AppError> {
        let body: Body = serde_json::from_slice(body).map_err(|e| {
            bad(format!("the body must be {{\"match\": \"*\" | {{\"domain\": …}} | {{\"provider\": …}}, \"until\": …, \"comment\": …}}: {e}"))
        })?;
        let matcher = parse_matcher(&body.matcher)?;
        let until = parse_until(&body.until)?;
        if until < now + MIN_SILENCE_SECONDS {
            return Err(bad(format!(
                "`until` ({until}) is not in the future by a minute at least (now is {now}): the cron runs once a minute"
            )));
        }
        if until - now > MAX_SILENCE_SECONDS {
            return Err(bad(format!(
                "`until` is more than 30 days ahead; the longest silence ends at {}",
                now + MAX_SILENCE_SECONDS
            )));
        }
        let comment = bounded_text("comment", &body.comment, MAX_COMMENT_CHARS)?
            .ok_or_else(|| bad("`comment` must say why the alert is silenced".to_owned()))?;
        let created_by = match &body.created_by {
            None => None,
            Some(who) => bounded_text("created_by", who, MAX_CREATED_BY_CHARS)?,
        };
        Ok(NewSilence { matcher, until, comment, created_by })
    }
}

fn bad(message: String) -> AppError {
    AppError::BadRequest(message)
}

/// `"*"`, `{"domain": "gmail.com"}` or `{"provider": "google"}`, with exactly one field.
fn parse_matcher(value: &Value) -> Result<Matcher, AppError> {
    let shape = "`match` must be \"*\", {\"domain\": \"<recipient domain>\"} or {\"provider\": \"<provider>\"}";
    match value {
        Value::String(s) if s == "*" => Ok(Matcher::All),
        Value::Object(fields) if fields.len() == 1 => match fields.iter().next() {
            Some((name, Value::String(domain))) if name == "domain" => {
                let normalized = crate::domain::normalize(domain)
                    .map_err(|why| bad(format!("`match.domain` matches no recipient domain: {why}")))?;
                Ok(Matcher::Domain(normalized))
            }
            Some((name, Value::String(provider))) if name == "provider" => {
                match crate::provider::Provider::from_id(provider) {
                    Some(provider) => Ok(Matcher::Provider(provider.id().into_owned())),
                    None => Err(bad(
                        "`match.provider` matches no provider: a platform id (google, microsoft…), unknown, no_mail \
                         or other: and a domain"
                            .to_owned(),
                    )),
                }
            }
            _ => Err(bad(shape.to_owned())),
        },
        Value::Object(fields) if fields.is_empty() => Err(bad(format!("{shape}; {{}} would match nothing"))),
        _ => Err(bad(shape.to_owned())),
    }
}

/// Unix seconds, like every time the API answers with.
fn parse_until(value: &Value) -> Result<u64, AppError> {
    value.as_u64().ok_or_else(|| bad("`until` must be a time in unix seconds".to_owned()))
}

/// Trimmed text of at most `max` characters without control characters (they would break the dashboard
/// and log lines); `None` when blank.
fn bounded_text(field: &str, text: &str, max: usize) -> Result<Option<String>, AppError> {
    let text = text.trim();
    if text.chars().count() > max {
        return Err(bad(format!("`{field}` is longer than {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(bad(format!("`{field}` contains control characters")));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// Every silence stored, in creation order; ended ones are dropped at the next write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Silences {
    #[serde(default)]
    pub silences: Vec<Silence>,
    /// The number the next silence's id is made from: ids are never reused.
    #[serde(default)]
    pub next_id: u64,
}

impl Silences {
    /// The silences in force at `now`.
    pub fn active(&self, now: u64) -> Vec<&Silence> {
        self.silences.iter().filter(|s| s.until > now).collect()
    }

    /// The silence in force at `now` that covers this alert, the one lasting longest if several do.
    pub fn silencing(&self, alert: &AlertSnapshot, now: u64) -> Option<&Silence> {
        self.silencing_scope(&alert.scope, now)
    }

    pub fn silencing_scope(&self, scope: &Scope, now: u64) -> Option<&Silence> {
        self.active(now).into_iter().filter(|s| s.matcher.matches(scope)).max_by_key(|s| s.until)
    }

    /// Adds a silence, dropping the ended ones; refused past [`MAX_ACTIVE`] with a 409: the body is fine,
    /// the list is full (RFC 9110 §15.5.10, a conflict with the resource's current state).
    pub fn add(&mut self, new: NewSilence, now: u64) -> Result<Silence, AppError> {
        self.silences.retain(|s| s.until > now);
        if self.silences.len() >= MAX_ACTIVE {
            return Err(AppError::Conflict(format!("{MAX_ACTIVE} silences are active already; delete one first")));
        }
        self.next_id += 1;
        let silence = Silence {
            id: format!("s{}", self.next_id),
            matcher: new.matcher,
            until: new.until,
            comment: new.comment,
            created_by: new.created_by,
            created_at: now,
        };
        self.silences.push(silence.clone());
        Ok(silence)
    }

    /// Ends a silence now (Alertmanager's "expire"); `NotFound` when no active silence has that id.
    pub fn remove(&mut self, id: &str, now: u64) -> Result<Silence, AppError> {
        self.silences.retain(|s| s.until > now);
        let at = self
            .silences
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| AppError::NotFound(format!("no active silence has id {id:?}")))?;
        Ok(self.silences.remove(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_795_838_400;

    fn parse(body: &str) -> Result<NewSilence, String> {
        NewSilence::parse(body.as_bytes(), NOW).map_err(|e| {
            assert_eq!(e.status(), 400, "{e:?}");
            e.message().to_owned()
        })
    }

    #[test]
    fn a_domain_or_catch_all_silence_takes_an_end_in_unix_seconds() {
        let unix =
            parse(&format!(r#"{{"match": {{"domain": "Gmail.com"}}, "until": {}, "comment": "on it"}}"#, NOW + 3600));
        assert_eq!(
            unix,
            Ok(NewSilence {
                matcher: Matcher::Domain("gmail.com".into()),
                until: NOW + 3600,
                comment: "on it".into(),
                created_by: None
            })
        );
        let all =
            parse(&format!(r#"{{"match": "*", "until": {}, "comment": "deploy", "created_by": "ana"}}"#, NOW + 60))
                .expect("valid");
        assert_eq!((all.matcher, all.until, all.created_by.as_deref()), (Matcher::All, NOW + 60, Some("ana")));
        // The document declares `created_by` nullable because null is read as absent.
        let anonymous =
            parse(&format!(r#"{{"match": "*", "until": {}, "comment": "c", "created_by": null}}"#, NOW + 60));
        assert_eq!(anonymous.map(|s| s.created_by), Ok(None));
    }

    #[test]
    fn bad_bodies_are_refused_naming_what_is_wrong() {
        let in_an_hour = NOW + 3600;
        let cases = [
            ("not json", "the body must be"),
            (
                &format!(r#"{{"match": "*", "until": {in_an_hour}, "comment": "x", "untill": 1}}"#),
                "unknown field `untill`",
            ),
            (&format!(r#"{{"match": "*", "until": {in_an_hour}}}"#), "missing field `comment`"),
            (&format!(r#"{{"match": {{}}, "until": {in_an_hour}, "comment": "x"}}"#), "would match nothing"),
            (
                &format!(r#"{{"match": {{"domain": "a", "provider": "b"}}, "until": {in_an_hour}, "comment": "x"}}"#),
                "`match` must be",
            ),
            (
                &format!(r#"{{"match": {{"domain": "not a domain"}}, "until": {in_an_hour}, "comment": "x"}}"#),
                "matches no recipient domain",
            ),
            (
                &format!(r#"{{"match": {{"provider": "Google!"}}, "until": {in_an_hour}, "comment": "x"}}"#),
                "matches no provider",
            ),
            (&format!(r#"{{"match": "all", "until": {in_an_hour}, "comment": "x"}}"#), "`match` must be"),
            (&format!(r#"{{"match": "*", "until": {}, "comment": "x"}}"#, NOW - 1), "not in the future"),
            (&format!(r#"{{"match": "*", "until": {NOW}, "comment": "x"}}"#), "not in the future"),
            (
                &format!(r#"{{"match": "*", "until": {}, "comment": "x"}}"#, NOW + MIN_SILENCE_SECONDS - 1),
                "by a minute",
            ),
            (&format!(r#"{{"match": "*", "until": {}, "comment": "x"}}"#, NOW + 31 * 86_400), "more than 30 days"),
            (r#"{"match": "*", "until": "2026-11-28T05:00:00Z", "comment": "x"}"#, "unix seconds"),
            (r#"{"match": "*", "until": -5, "comment": "x"}"#, "unix seconds"),
            (&format!(r#"{{"match": "*", "until": {in_an_hour}, "comment": "  "}}"#), "must say why"),
            (&format!(r#"{{"match": "*", "until": {in_an_hour}, "comment": "a\u0007b"}}"#), "control characters"),
            (
                &format!(r#"{{"match": "*", "until": {in_an_hour}, "comment": "{}"}}"#, "x".repeat(501)),
                "longer than 500",
            ),
        ];
        for (body, expected) in cases {
            let message = parse(body).expect_err(body);
            assert!(message.contains(expected), "{body}: {message}");
        }
    }

    fn domain_alert(domain: &str) -> Scope {
        Scope::Domain(domain.into())
    }

    #[test]
    fn a_silence_covers_its_matches_until_it_ends() {
        let mut silences = Silences::default();
        let new = |matcher, until| NewSilence { matcher, until, comment: "c".into(), created_by: None };
        let gmail = silences.add(new(Matcher::Domain("gmail.com".into()), NOW + 60), NOW).expect("added");
        assert_eq!(gmail.id, "s1");
        assert_eq!(silences.silencing_scope(&domain_alert("gmail.com"), NOW + 59).map(|s| s.id.as_str()), Some("s1"));
        assert_eq!(silences.silencing_scope(&domain_alert("gmail.com"), NOW + 60), None, "ended at until");
        assert_eq!(silences.silencing_scope(&domain_alert("yahoo.com"), NOW), None);
        let all = silences.add(new(Matcher::All, NOW + 600), NOW).expect("added");
        let sender_wide = Scope::SenderWide { domains: vec!["a.com".into()] };
        assert_eq!(silences.silencing_scope(&sender_wide, NOW).map(|s| s.id.clone()), Some(all.id.clone()));
        assert_eq!(silences.silencing_scope(&domain_alert("gmail.com"), NOW).map(|s| s.id.clone()), Some(all.id));
        let provider = silences.add(new(Matcher::Provider("google".into()), NOW + 60), NOW).expect("added");
        let google = |provider: &str| Scope::Provider { provider: provider.into(), domains: vec![], domain_count: 3 };
        assert!(provider.matcher.matches(&google("google")));
        assert!(!provider.matcher.matches(&google("microsoft")));
        assert!(!provider.matcher.matches(&domain_alert("gmail.com")), "a domain alert has its own silences");
    }

    #[test]
    fn removing_ends_a_silence_and_ids_are_not_reused() {
        let mut silences = Silences::default();
        let new = NewSilence { matcher: Matcher::All, until: NOW + 60, comment: "c".into(), created_by: None };
        let first = silences.add(new.clone(), NOW).expect("added");
        assert_eq!(silences.remove(&first.id, NOW).map(|s| s.id), Ok("s1".to_owned()));
        assert_eq!(silences.remove(&first.id, NOW).map_err(|e| e.status()), Err(404));
        assert_eq!(silences.add(new, NOW).map(|s| s.id), Ok("s2".to_owned()));
    }

    #[test]
    fn at_most_a_hundred_silences_are_active_and_ended_ones_make_room() {
        let mut silences = Silences::default();
        for i in 0..MAX_ACTIVE as u64 {
            let new = NewSilence { matcher: Matcher::All, until: NOW + 60 + i, comment: "c".into(), created_by: None };
            silences.add(new, NOW).expect("room");
        }
        let one_more = NewSilence { matcher: Matcher::All, until: NOW + 3600, comment: "c".into(), created_by: None };
        assert_eq!(silences.add(one_more.clone(), NOW).map_err(|e| e.status()), Err(409));
        assert!(silences.add(one_more, NOW + 61).is_ok(), "the first silence has ended by then");
    }

    #[test]
    fn the_declared_text_patterns_take_what_parse_takes() {
        let comment = regex_lite::Regex::new(COMMENT_PATTERN).expect("valid");
        let created_by = regex_lite::Regex::new(CREATED_BY_PATTERN).expect("valid");
        for text in ["on it", " padded ", "é ✓", "a\u{7f}b", "a\u{85}b", "  ", "", "a\nb", "\u{0}"] {
            let body = serde_json::json!({ "match": "*", "until": NOW + 60, "comment": text, "created_by": text });
            let parsed = NewSilence::parse(body.to_string().as_bytes(), NOW);
            assert_eq!(comment.is_match(text), parsed.is_ok(), "comment {text:?}: {parsed:?}");
            let by = serde_json::json!({ "match": "*", "until": NOW + 60, "comment": "c", "created_by": text });
            let parsed = NewSilence::parse(by.to_string().as_bytes(), NOW);
            assert_eq!(created_by.is_match(text), parsed.is_ok(), "created_by {text:?}: {parsed:?}");
        }
    }

    #[test]
    fn stored_silences_read_back_in_the_api_form() {
        let silence = Silence {
            id: "s7".into(),
            matcher: Matcher::Domain("gmail.com".into()),
            until: NOW,
            comment: "c".into(),
            created_by: Some("ana".into()),
            created_at: NOW - 1,
        };
        let json = serde_json::to_value(&silence).expect("encodes");
        assert_eq!(json["match"], serde_json::json!({"domain": "gmail.com"}));
        assert_eq!(serde_json::from_value::<Silence>(json).expect("decodes"), silence);
    }
}
