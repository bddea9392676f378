//! Configuration: `wrangler.toml` vars and Worker secrets, read once per request by the shell into a
//! [`Config`], so the core never asks the runtime for anything.

use std::collections::BTreeMap;

use crate::error::AppError;

/// Every var and secret the Worker reads. The shell looks each one up; anything unset is absent.
pub const NAMES: &[&str] = &[
    "READ_TOKEN",
    // Write routes (silences); a separate secret so that a dashboard's read token cannot change anything.
    "ADMIN_TOKEN",
    "GENERIC_WEBHOOK_TOKEN",
    // Counting and spike detection: see `crate::settings` for meanings and defaults.
    "BUCKET_MINUTES",
    "RETENTION_DAYS",
    "HISTORY_DAYS",
    "SPIKE_WINDOW_MINUTES",
    "SPIKE_MIN_451",
    "SPIKE_RATIO_FLOOR",
    "SPIKE_BASELINE_MULTIPLE",
    "BASELINE_HOURS",
    "CONFIRM_EVALUATIONS",
    "RESOLVE_HOLD_MINUTES",
    "POISSON_ALPHA",
    "BENIGN_GREYLIST_SHARE",
    "CRITICAL_RATIO",
    "SENDER_WIDE_MIN_DOMAINS",
    "RECENT_ALERT_DAYS",
    "DEDUP_HOURS",
    "PUBLISH_MINUTES",
    "COUNTER_SHARDS",
    "DOH_LOOKUPS_PER_RUN",
    // The weekly slow-drift check (`crate::drift`).
    "DRIFT_MIN_ATTEMPTS",
    "DRIFT_MIN_RISE",
    // Mailbox providers: the DNS-over-HTTPS endpoint of the MX look-ups (`crate::provider::doh`).
    crate::provider::DOH_URL_VAR,
    // Alert notifications (src/notify.rs; documented in docs/alerts.md).
    "ALERT_FROM",
    "ALERT_TO",
    "ALERT_REPEAT",
    "ALERT_RETRY",
    "ALERT_BENIGN",
    "ALERT_EMAIL_PROVIDER",
    "ALERT_EMAIL_API_KEY",
    "ALERT_EMAIL_API_BASE",
    "MAILGUN_DOMAIN",
    "ALERT_WEBHOOK_URL",
    "PUBLIC_URL",
    // The weekly digest (`crate::alert::digest`).
    "DIGEST_TO",
    "DIGEST_AT",
    // The action hook (src/action.rs; docs/actions.md).
    "ACTION_WEBHOOK_URL",
    "ACTION_KUMOMTA_URL",
    "ACTION_KUMOMTA_TOKEN",
    "ACTION_KUMOMTA_DURATION",
    // GET /metrics (src/metrics.rs).
    "METRICS_TOP_N",
    // Operator classification rules (`crate::classify::custom`).
    crate::classify::custom::VAR,
    // Webhook secrets, one (or two) per ESP: see `.dev.vars.example` and `crate::esp::SECRET_NAMES`.
    "SENDGRID_WEBHOOK_PUBLIC_KEY",
    "MAILGUN_WEBHOOK_SIGNING_KEY",
    "POSTMARK_WEBHOOK_CREDENTIALS",
    "SES_TOPIC_ARNS",
    "SPARKPOST_WEBHOOK_CREDENTIALS",
    "MAILJET_WEBHOOK_CREDENTIALS",
    "BREVO_WEBHOOK_CREDENTIALS",
    "MANDRILL_WEBHOOK_KEY",
    "MANDRILL_WEBHOOK_URL",
    "RESEND_WEBHOOK_SECRET",
    "POSTAL_WEBHOOK_PUBLIC_KEY",
    // Test-only storage fault injection for the end-to-end tests (`crate::store::Faults`).
    crate::store::FAULTS_VAR,
];

/// Vars and secrets by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    values: BTreeMap<String, String>,
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a config from `(name, value)` pairs; blank values count as unset.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        let mut config = Config::new();
        for (name, value) in pairs {
            config.set(name, value);
        }
        config
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let value = value.into();
        if !value.trim().is_empty() {
            self.values.insert(name.into(), value);
        }
    }

    /// A var or secret, trimmed; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(|v| v.trim())
    }

    /// A numeric var, or `default` when unset. A value that does not parse is a configuration error.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, AppError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|_| AppError::Internal(format!("configuration var {name} is not a valid number: {raw:?}"))),
        }
    }

    /// The whole configuration as one header value, for the counting Worker: its objects take their vars
    /// and secrets from the front Worker with every request, so that the two Workers cannot disagree on a
    /// setting both read (shards, buckets, thresholds) and the counting Worker has none of its own to set.
    /// Base64 of a JSON object, so any value (a display name in UTF-8, a multi-line rule file) fits a header.
    pub fn encode(&self) -> String {
        use base64::Engine;
        let json = serde_json::to_vec(&self.values).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    /// [`Config::encode`]'s value read back; `None` if it is not one.
    pub fn decode(header: &str) -> Option<Config> {
        use base64::Engine;
        let json = base64::engine::general_purpose::STANDARD.decode(header.trim()).ok()?;
        serde_json::from_slice(&json).ok().map(|values| Config { values })
    }

    /// A boolean var (`true`/`false`/`1`/`0`), or `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, AppError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if v == "true" || v == "1" || v == "yes" => Ok(true),
            Some(v) if v == "false" || v == "0" || v == "no" => Ok(false),
            Some(v) => Err(AppError::Internal(format!("configuration var {name} is not true or false: {v:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_survives_its_header_encoding_whatever_its_values() {
        let config = Config::from_pairs([
            ("ALERT_FROM", "Bouncewatch Ünited <alerts@bw.example>"),
            ("CLASSIFY_RULES", "[[rule]]\nid = \"x\"\nany = [\"\\\"quoted\\\"\"]\n"),
            ("COUNTER_SHARDS", "4"),
        ]);
        let header = config.encode();
        assert!(header.bytes().all(|b| b.is_ascii_graphic()), "{header}");
        assert_eq!(Config::decode(&header), Some(config));
        assert_eq!(Config::decode(&Config::new().encode()), Some(Config::new()));
        for bad in ["", "not base64!", "bm90IGpzb24=", "WzFd"] {
            assert_eq!(Config::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_webhook_secret_is_read_by_the_shell() {
        for name in crate::esp::SECRET_NAMES {
            assert!(NAMES.contains(name), "{name} missing from NAMES");
        }
    }

    #[test]
    fn blank_values_count_as_unset() {
        let config = Config::from_pairs([("A", "  "), ("B", " x ")]);
        assert_eq!(config.get("A"), None);
        assert_eq!(config.get("B"), Some("x"));
    }

    #[test]
    fn numbers_fall_back_to_default_and_reject_garbage() {
        let config = Config::from_pairs([("N", "12"), ("BAD", "twelve")]);
        assert_eq!(config.number("N", 5u32), Ok(12));
        assert_eq!(config.number("MISSING", 5u32), Ok(5));
        assert!(config.number("BAD", 5u32).is_err());
    }
}
