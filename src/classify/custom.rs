//! Operator rules: `CLASSIFY_RULES`, a JSON array of rules tried before the built-in ones, so an operator
//! can correct a verdict without forking the code (KumoMTA's rule files and PowerMTA's pattern lists
//! serve the same need).
//!
//! ```json
//! [{"id": "acme-quota", "match": "mailbox quota reached", "category": "mailbox_full"},
//!  {"id": "acme-block", "regex": "blocked by acme \\d+", "code": "5.7", "category": "reputation_blocked",
//!   "permanence": "permanent"}]
//! ```
//!
//! * `match` is a case-insensitive substring, `regex` a regex-lite pattern over the lower-cased text
//!   (exactly one of them); `code` an optional prefix of the basic (`"55"`, `"550"`) or enhanced code
//!   (`"5.7"`, `"5.7.1"`, whole components); `permanence` optional, else the reply's code decides.
//! * The verdict's `rule` is `custom.<id>`.
//! * A rule that does not parse, names an unknown category, has a regex that does not compile, or breaks
//!   a bound ([`MAX_RULES`], [`MAX_PATTERN_LEN`]) makes the whole variable a configuration error that
//!   names the rule, never a rule silently skipped: webhooks answer 503 and `/api/health` says why.
//!
//! regex-lite never backtracks, and a reply is read to at most `reply::MAX_SCANNED_BYTES`, so even an
//! operator's worst pattern costs time linear in a bounded text.
//!
//! The rules are compiled once per distinct text of the variable and kept for the isolate's life (the
//! shell reads the configuration per request; a 1,000-event batch must not recompile them). Each request
//! that may classify *activates* them for its duration ([`activate`]); the webhook adapters classify deep
//! inside the ESP parsers, which carry no configuration, and threading it through every adapter would
//! couple them all to this one feature.

use std::cell::RefCell;
use std::rc::Rc;

use regex_lite::{Regex, RegexBuilder};
use serde::Deserialize;

use super::{Category, Permanence};
use crate::config::Config;
use crate::reply::Reply;

/// The variable's name (listed in `config::NAMES`).
pub const VAR: &str = "CLASSIFY_RULES";
/// What an operator rule's id is prefixed with in a verdict's `rule`.
pub const PREFIX: &str = "custom.";
/// At most this many operator rules.
pub const MAX_RULES: usize = 200;
/// At most this many bytes per `match` or `regex`.
pub const MAX_PATTERN_LEN: usize = 500;
/// A compiled regex may take this much memory: ample for any real reply pattern (a few hundred bytes of
/// states), and it refuses what a pathological one (`(a{100}){100}`, 10,000 states, each stepped for
/// every byte of the reply) would build.
const REGEX_SIZE_LIMIT: usize = 1 << 16;

/// One rule as the operator writes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    id: String,
    #[serde(rename = "match")]
    substring: Option<String>,
    regex: Option<String>,
    code: Option<String>,
    category: String,
    permanence: Option<String>,
}

/// A rule ready to match.
#[derive(Debug)]
pub struct CustomRule {
    /// `custom.<id>`; static so that a verdict's `rule` is a [`super::RuleId`] like any other.
    pub rule_id: &'static str,
    pub category: Category,
    pub permanence: Option<Permanence>,
    pattern: Pattern,
    code: Option<CodePrefix>,
}

#[derive(Debug)]
enum Pattern {
    Substring(String),
    Regex(Regex),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CodePrefix {
    /// The basic code's decimal digits start with these.
    Basic(String),
    /// The enhanced code's first components are these.
    Enhanced(Vec<u16>),
}

/// The operator's rules, in their order.
#[derive(Debug, Default)]
pub struct CustomRules {
    rules: Vec<CustomRule>,
}

impl CustomRules {
    /// The first rule that matches `reply`.
    pub fn first_match(&self, reply: &Reply) -> Option<&CustomRule> {
        self.rules.iter().find(|rule| rule.matches(reply))
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl CustomRule {
    fn matches(&self, reply: &Reply) -> bool {
        let code_ok = match &self.code {
            None => true,
            Some(CodePrefix::Basic(digits)) => reply.basic.is_some_and(|b| b.to_string().starts_with(digits.as_str())),
            Some(CodePrefix::Enhanced(parts)) => reply.enhanced.is_some_and(|e| {
                let actual = [u16::from(e.class), u16::from(e.subject), e.detail];
                parts.iter().zip(actual).all(|(want, got)| *want == got)
            }),
        };
        code_ok
            && match &self.pattern {
                Pattern::Substring(needle) => reply.text.contains(needle.as_str()),
                Pattern::Regex(regex) => regex.is_match(&reply.text),
            }
    }
}

/// Why `CLASSIFY_RULES` cannot be used; the message names the rule (by id, or by position when it has
/// no readable id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError(pub String);

impl std::fmt::Display for RulesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{VAR}: {}", self.0)
    }
}

/// Parses and compiles the variable's text. Every rule id is leaked once into a `&'static str`; the
/// cache in [`from_config`] makes that once per distinct text of the variable.
pub fn parse(text: &str) -> Result<CustomRules, RulesError> {
    let values: Vec<serde_json::Value> =
        crate::json::parse(text).map_err(|e| RulesError(format!("must be a JSON array of rule objects: {e}")))?;
    if values.len() > MAX_RULES {
        return Err(RulesError(format!("{} rules given; at most {MAX_RULES}", values.len())));
    }
    let mut rules = Vec::with_capacity(values.len());
    let mut seen = std::collections::HashSet::new();
    for (index, value) in values.into_iter().enumerate() {
        let name =
            value.get("id").and_then(|id| id.as_str()).map_or_else(|| format!("#{index}"), |id| format!("{id:?}"));
        let fail = |why: String| RulesError(format!("rule {name}: {why}"));
        let spec: Spec = serde_json::from_value(value).map_err(|e| fail(e.to_string()))?;
        if spec.id.is_empty()
            || spec.id.len() > 64
            || !spec.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(fail("id must be 1-64 letters, digits, '-', '_' or '.'".into()));
        }
        if !seen.insert(spec.id.clone()) {
            return Err(fail("id is used twice".into()));
        }
        let category =
            Category::from_name(&spec.category).ok_or_else(|| fail(format!("unknown category {:?}", spec.category)))?;
        let permanence = match spec.permanence.as_deref() {
            None => None,
            Some("transient") => Some(Permanence::Transient),
            Some("permanent") => Some(Permanence::Permanent),
            Some(other) => {
                return Err(fail(format!("permanence {other:?} is neither \"transient\" nor \"permanent\"")))
            }
        };
        let pattern = match (spec.substring, spec.regex) {
            (Some(text), None) => {
                check_length(&text).map_err(&fail)?;
                if text.trim().is_empty() {
                    return Err(fail("match is empty".into()));
                }
                Pattern::Substring(crate::reply::parse(&text).text)
            }
            (None, Some(pattern)) => {
                check_length(&pattern).map_err(&fail)?;
                let regex = RegexBuilder::new(&pattern)
                    .case_insensitive(true)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| fail(format!("regex does not compile: {e}")))?;
                Pattern::Regex(regex)
            }
            _ => return Err(fail("give exactly one of \"match\" and \"regex\"".into())),
        };
        let code = spec.code.as_deref().map(parse_code).transpose().map_err(&fail)?;
        let rule_id: &'static str = Box::leak(format!("{PREFIX}{}", spec.id).into_boxed_str());
        rules.push(CustomRule { rule_id, category, permanence, pattern, code });
    }
    Ok(CustomRules { rules })
}

fn check_length(pattern: &str) -> Result<(), String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("pattern is {} bytes; at most {MAX_PATTERN_LEN}", pattern.len()));
    }
    Ok(())
}

fn parse_code(code: &str) -> Result<CodePrefix, String> {
    let bad = || {
        format!(
            "code {code:?} is neither a basic code prefix (\"55\", \"550\") nor an enhanced one (\"5.7\", \"5.7.1\")"
        )
    };
    if !code.contains('.') {
        let shaped = (1..=3).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_digit())
            && matches!(code.as_bytes()[0], b'2' | b'4' | b'5');
        return if shaped { Ok(CodePrefix::Basic(code.to_owned())) } else { Err(bad()) };
    }
    let parts: Option<Vec<u16>> =
        code.split('.').map(|p| (!p.is_empty() && p.len() <= 3).then(|| p.parse().ok()).flatten()).collect();
    match parts {
        Some(parts) if (2..=3).contains(&parts.len()) && matches!(parts[0], 2 | 4 | 5) => {
            Ok(CodePrefix::Enhanced(parts))
        }
        _ => Err(bad()),
    }
}

/// The operator's rules from the configuration: `None` when the variable is unset. Compiled once per
/// distinct text and cached for the isolate (thread) — a configuration read per request costs a string
/// comparison.
pub fn from_config(config: &Config) -> Result<Option<Rc<CustomRules>>, RulesError> {
    type Cached = Option<(String, Result<Rc<CustomRules>, RulesError>)>;
    thread_local! {
        static CACHE: RefCell<Cached> = const { RefCell::new(None) };
    }
    let Some(text) = config.get(VAR) else {
        return Ok(None);
    };
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((cached_text, compiled)) = cache.as_ref() {
            if cached_text == text {
                return compiled.clone().map(Some);
            }
        }
        let compiled = parse(text).map(Rc::new);
        *cache = Some((text.to_owned(), compiled.clone()));
        compiled.map(Some)
    })
}

thread_local! {
    static ACTIVE: RefCell<Option<Rc<CustomRules>>> = const { RefCell::new(None) };
}

/// While the returned guard lives, classification on this thread tries `rules` first.
#[must_use = "the rules are active only while the guard lives"]
pub fn activate(rules: Option<Rc<CustomRules>>) -> Active {
    let previous = ACTIVE.with(|active| active.replace(rules));
    Active { previous }
}

/// Restores the previously active rules when dropped.
pub struct Active {
    previous: Option<Rc<CustomRules>>,
}

impl Drop for Active {
    fn drop(&mut self) {
        let previous = self.previous.take();
        ACTIVE.with(|active| *active.borrow_mut() = previous);
    }
}

/// What the active operator rule that matches says: its category, permanence and id.
pub(super) struct Hit {
    pub category: Category,
    pub permanence: Option<Permanence>,
    pub rule_id: &'static str,
}

pub(super) fn first_match(reply: &Reply) -> Option<Hit> {
    ACTIVE.with(|active| {
        let active = active.borrow();
        let rule = active.as_ref()?.first_match(reply)?;
        Some(Hit { category: rule.category, permanence: rule.permanence, rule_id: rule.rule_id })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::classify;

    fn error_of(text: &str) -> String {
        parse(text).expect_err(text).0
    }

    #[test]
    fn an_operator_rule_is_tried_first_and_reports_its_id() {
        let rules = parse(r#"[{"id": "acme", "match": "User Unknown", "category": "policy_rejected"}]"#).unwrap();
        let _active = activate(Some(Rc::new(rules)));
        let verdict = classify("550 5.1.1 user unknown");
        assert_eq!((verdict.category, verdict.rule), (Category::PolicyRejected, "custom.acme"));
    }

    #[test]
    fn without_active_rules_the_built_in_rules_answer() {
        let _active = activate(None);
        assert_eq!(classify("550 5.1.1 user unknown").rule, "code.x.1.1");
    }

    #[test]
    fn code_prefixes_narrow_a_rule() {
        let rules = parse(
            r#"[{"id": "b", "match": "acme", "code": "45", "category": "greylisted"},
                {"id": "e", "regex": "acme \\d+", "code": "5.7", "category": "spam_content", "permanence": "transient"}]"#,
        )
        .unwrap();
        let _active = activate(Some(Rc::new(rules)));
        assert_eq!(classify("451 acme says wait").rule, "custom.b");
        let verdict = classify("550 5.7.1 ACME 42 rejected");
        assert_eq!((verdict.rule, verdict.permanence), ("custom.e", Permanence::Transient));
        assert_eq!(classify("550 5.1.1 acme").rule, "code.x.1.1");
    }

    #[test]
    fn each_kind_of_bad_rule_is_an_error_naming_the_rule() {
        let cases = [
            ("{}", "JSON array"),
            (r#"[{"id": "x", "match": "a", "category": "nope"}]"#, "rule \"x\": unknown category \"nope\""),
            (r#"[{"id": "y", "regex": "(", "category": "spam_content"}]"#, "rule \"y\": regex does not compile"),
            (r#"[{"id": "z", "category": "spam_content"}]"#, "rule \"z\": give exactly one"),
            (
                r#"[{"id": "w", "match": "a", "regex": "a", "category": "spam_content"}]"#,
                "rule \"w\": give exactly one",
            ),
            (r#"[{"id": "v", "match": "a", "code": "5.x", "category": "spam_content"}]"#, "rule \"v\": code"),
            (
                r#"[{"id": "u", "match": "a", "category": "spam_content", "permanence": "soon"}]"#,
                "rule \"u\": permanence",
            ),
            (r#"[{"id": "t", "match": "a", "category": "spam_content", "extra": 1}]"#, "rule \"t\": unknown field"),
            (r#"[{"match": "a", "category": "spam_content"}]"#, "rule #0: missing field `id`"),
            (r#"[{"id": "s s", "match": "a", "category": "spam_content"}]"#, "rule \"s s\": id must be"),
            (
                r#"[{"id": "d", "match": "a", "category": "spam_content"}, {"id": "d", "match": "b", "category": "spam_content"}]"#,
                "rule \"d\": id is used twice",
            ),
        ];
        for (text, expected) in cases {
            let error = error_of(text);
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn bounds_on_count_and_pattern_length_are_errors() {
        let many: Vec<String> =
            (0..=MAX_RULES).map(|i| format!(r#"{{"id": "r{i}", "match": "a", "category": "spam_content"}}"#)).collect();
        assert!(error_of(&format!("[{}]", many.join(","))).contains("at most 200"));
        let long = "a".repeat(MAX_PATTERN_LEN + 1);
        let text = format!(r#"[{{"id": "long", "regex": "{long}", "category": "spam_content"}}]"#);
        assert!(error_of(&text).contains("rule \"long\": pattern is 501 bytes"));
    }

    #[test]
    fn a_catastrophic_pattern_is_refused_or_runs_in_bounded_time() {
        // Classic backtracking bombs; regex-lite either refuses them (size limit) or runs them in linear
        // time over the capped text.
        for pattern in ["(a+)+$", "(a|aa)+b", "(.*a){20}", "(a{100}){100}"] {
            let text = format!(r#"[{{"id": "bomb", "regex": "{pattern}", "category": "spam_content"}}]"#);
            let Ok(rules) = parse(&text) else { continue };
            let _active = activate(Some(Rc::new(rules)));
            let reply = format!("550 {}!", "a".repeat(1 << 20));
            let started = std::time::Instant::now();
            let _ = classify(&reply);
            assert!(started.elapsed() < std::time::Duration::from_secs(2), "{pattern}");
        }
    }

    #[test]
    fn the_compiled_rules_are_cached_by_the_variables_text() {
        let text = r#"[{"id": "c", "match": "acme", "category": "greylisted"}]"#;
        let config = Config::from_pairs([(VAR, text)]);
        let first = from_config(&config).unwrap().unwrap();
        let second = from_config(&config).unwrap().unwrap();
        assert!(Rc::ptr_eq(&first, &second));
        let other = Config::from_pairs([(VAR, r#"[{"id": "c", "match": "other", "category": "greylisted"}]"#)]);
        assert!(!Rc::ptr_eq(&first, &from_config(&other).unwrap().unwrap()));
        assert!(from_config(&Config::new()).unwrap().is_none());
    }
}
