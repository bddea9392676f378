//! The alerting configuration: which channels are on, how often to remind, whether benign spikes count.

use std::ops::RangeInclusive;

use crate::alert::{AlertSnapshot, Severity};
use crate::config::Config;
use crate::error::AppError;
use crate::outbound::{ApiSettings, Provider};

use super::Channel;

/// `ALERT_REPEAT` when unset: Alertmanager's `repeat_interval` default.
pub const DEFAULT_REPEAT_SECONDS: u64 = 4 * 3600;

/// `ALERT_RETRY` when unset: the first retry of a failed send waits a minute (the next cron run).
pub const DEFAULT_RETRY_SECONDS: u64 = 60;

/// How the email channel sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailTransport {
    /// The `send_email` binding, with a MIME message built by [`crate::mime::build`].
    Binding,
    Api(ApiSettings),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSettings {
    pub from: String,
    pub to: Vec<String>,
    pub transport: EmailTransport,
}

/// The alerting configuration, read from vars and secrets by [`AlertSettings::from_config`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    pub repeat_seconds: u64,
    /// The wait before the first retry of a failed send; each further failure doubles it (at most an hour).
    pub retry_seconds: u64,
    pub benign: bool,
    pub public_url: Option<String>,
    pub email: Option<EmailSettings>,
    pub webhook_url: Option<String>,
}

impl AlertSettings {
    /// Reads `ALERT_*`, `MAILGUN_DOMAIN` and `PUBLIC_URL`. `email_binding` says whether the `send_email`
    /// binding exists, which only the shell can tell. Email goes through `ALERT_EMAIL_PROVIDER` when set,
    /// else through the binding; an email setting that cannot work is an error rather than silence.
    pub fn from_config(config: &Config, email_binding: bool) -> Result<AlertSettings, AppError> {
        let invalid = |message: String| AppError::Internal(message);
        let repeat_seconds =
            duration_var(config, "ALERT_REPEAT", DEFAULT_REPEAT_SECONDS, 60..=u64::MAX, "of at least 1m (e.g. 4h)")?;
        let retry_seconds =
            duration_var(config, "ALERT_RETRY", DEFAULT_RETRY_SECONDS, 1..=3600, "from 1s to 1h (e.g. 1m)")?;
        let to: Vec<String> = config
            .get("ALERT_TO")
            .map(|list| list.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let provider = config.get("ALERT_EMAIL_PROVIDER").map(str::to_ascii_lowercase);
        let email = match (config.get("ALERT_FROM"), to.is_empty()) {
            (None, true) => None,
            (None, false) | (Some(_), true) => {
                return Err(invalid("set both ALERT_FROM and ALERT_TO for alert emails".to_owned()))
            }
            (Some(from), false) => {
                let transport =
                    match provider.as_deref() {
                        None | Some("cloudflare") if email_binding => EmailTransport::Binding,
                        None | Some("cloudflare") => return Err(invalid(
                            "ALERT_TO is set but there is no [[send_email]] binding EMAIL and no ALERT_EMAIL_PROVIDER"
                                .to_owned(),
                        )),
                        Some(name) => EmailTransport::Api(api_settings(config, name)?),
                    };
                Some(EmailSettings { from: from.to_owned(), to, transport })
            }
        };
        Ok(AlertSettings {
            repeat_seconds,
            retry_seconds,
            benign: config.flag("ALERT_BENIGN", false)?,
            public_url: config.get("PUBLIC_URL").map(|u| u.trim_end_matches('/').to_owned()),
            email,
            webhook_url: config.get("ALERT_WEBHOOK_URL").map(str::to_owned),
        })
    }

    pub(super) fn channels(&self) -> Vec<Channel> {
        let mut channels = Vec::new();
        if self.email.is_some() {
            channels.push(Channel::Email);
        }
        if self.webhook_url.is_some() {
            channels.push(Channel::Webhook);
        }
        channels
    }

    pub(super) fn notifiable(&self, alert: &AlertSnapshot) -> bool {
        alert.is_firing() && (self.benign || alert.severity != Severity::Benign)
    }
}

fn api_settings(config: &Config, name: &str) -> Result<ApiSettings, AppError> {
    let provider = match name {
        "resend" => Provider::Resend,
        "postmark" => Provider::Postmark,
        "sendgrid" => Provider::Sendgrid,
        "mailgun" => Provider::Mailgun {
            domain: config
                .get("MAILGUN_DOMAIN")
                .ok_or_else(|| AppError::Internal("ALERT_EMAIL_PROVIDER=mailgun needs MAILGUN_DOMAIN".to_owned()))?
                .to_owned(),
        },
        other => {
            return Err(AppError::Internal(format!(
                "ALERT_EMAIL_PROVIDER must be cloudflare, resend, postmark, sendgrid or mailgun, not {other:?}"
            )))
        }
    };
    let api_key = config
        .get("ALERT_EMAIL_API_KEY")
        .ok_or_else(|| AppError::Internal(format!("ALERT_EMAIL_PROVIDER={name} needs the ALERT_EMAIL_API_KEY secret")))?
        .to_owned();
    let base_url =
        config.get("ALERT_EMAIL_API_BASE").unwrap_or(provider.default_base()).trim_end_matches('/').to_owned();
    Ok(ApiSettings { provider, api_key, base_url })
}

/// `90s`, `15m`, `4h`, `1d`, or a bare number of seconds.
/// The duration in seconds that var `name` holds, `default` when unset; a value outside `allowed` is an
/// error saying it should be a duration `expected`.
pub(crate) fn duration_var(
    config: &Config,
    name: &str,
    default: u64,
    allowed: RangeInclusive<u64>,
    expected: &str,
) -> Result<u64, AppError> {
    match config.get(name) {
        None => Ok(default),
        Some(raw) => parse_duration(raw)
            .filter(|seconds| allowed.contains(seconds))
            .ok_or_else(|| AppError::Internal(format!("{name} is not a duration {expected}: {raw:?}"))),
    }
}

fn parse_duration(raw: &str) -> Option<u64> {
    let raw = raw.trim();
    let (number, unit) = match raw.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&raw[..i], c.to_ascii_lowercase()),
        _ => (raw, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    number.trim().parse::<u64>().ok()?.checked_mul(scale)
}
