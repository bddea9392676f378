//! The tunable numbers of counting and spike detection, read from `wrangler.toml` vars once per request
//! or cron run.
//!
//! | Var | Default | Meaning |
//! |---|---|---|
//! | `BUCKET_MINUTES` | 5 | Width of a counting bucket, by event time (1–60, should divide 60). |
//! | `RETENTION_DAYS` | 8 | How long the hourly counts are kept; every KV key expires; older events go to the history. |
//! | `HISTORY_DAYS` | 400 | How long the daily history is kept (at least `RETENTION_DAYS`); older events are `stale`. |
//! | `SPIKE_WINDOW_MINUTES` | 15 | The short window the detector looks at (rounded up to whole buckets). |
//! | `SPIKE_MIN_451` | 20 | Fewest 451s in the window before a domain can alert. |
//! | `SPIKE_CODES` | 451 | The replies the detector watches: 4xx codes (`451,421,450`) or `deferrals` (every 4xx). |
//! | `SPIKE_RATIO_FLOOR` | 0.05 | Absolute floor on the 451 ratio (451s / attempts). |
//! | `SPIKE_BASELINE_MULTIPLE` | 3 | The ratio must also reach this multiple of the domain's baseline. |
//! | `BASELINE_HOURS` | 24 | Span of the EWMA baseline of each domain's 451 ratio. |
//! | `CONFIRM_EVALUATIONS` | 2 | Consecutive breaching evaluations before `pending` becomes `firing`. |
//! | `RESOLVE_HOLD_MINUTES` | 30 | How long the ratio must stay below half the threshold to resolve. |
//! | `POISSON_ALPHA` | 0.001 | Significance of the Poisson tail test used when the ESP sends no deliveries. |
//! | `BENIGN_GREYLIST_SHARE` | 0.8 | A spike with at least this share of `greylisted` 451s is `benign`. |
//! | `CRITICAL_RATIO` | 0.2 | A 451 ratio from which a (non-benign) alert is `critical` rather than `warning`. |
//! | `SENDER_WIDE_MIN_DOMAINS` | 3 | Domains breaching at once that make one sender-wide alert instead. |
//! | `RECENT_ALERT_DAYS` | 7 | How long resolved alerts stay listed under `recent`. |
//! | `DEDUP_HOURS` | 72 | How long after its bucket an event id is surely recognised when it comes again. |
//! | `PUBLISH_MINUTES` | 5 | How often the counting object publishes changed hour pages to KV. |
//! | `COUNTER_SHARDS` | 1 | Counting objects, recipient domains spread over them by hash. |
//! | `DOH_LOOKUPS_PER_RUN` | 10 | MX look-ups (DNS-over-HTTPS) each counting object makes per cron run, at most (0–40). |
//!
//! Each name is also listed in [`crate::config::NAMES`], which the shell reads.
//!
//! A changed `BUCKET_MINUTES` only applies to new events: buckets already stored keep their old width.

use crate::config::Config;
use crate::error::AppError;

/// The most counting objects `COUNTER_SHARDS` may name.
pub const MAX_COUNTER_SHARDS: u64 = 4;

/// The most look-ups `DOH_LOOKUPS_PER_RUN` may allow: each is a subrequest of the run.
pub const MAX_DOH_LOOKUPS_PER_RUN: u64 = 40;

/// Every tunable, in the units the code uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bucket_secs: u64,
    pub retention_secs: u64,
    /// How far back the daily history reaches (`HISTORY_DAYS`).
    pub history_secs: u64,
    pub window_secs: u64,
    pub min_451: u64,
    pub ratio_floor: f64,
    pub baseline_multiple: f64,
    pub baseline_secs: u64,
    pub confirm_evaluations: u32,
    pub resolve_hold_secs: u64,
    pub poisson_alpha: f64,
    pub benign_greylist_share: f64,
    pub critical_ratio: f64,
    pub sender_wide_min_domains: usize,
    pub recent_alert_secs: u64,
    pub dedup_secs: u64,
    pub publish_secs: u64,
    pub counter_shards: u32,
    pub doh_lookups_per_run: u32,
    /// What the detector counts as the spiking signal (`SPIKE_CODES`).
    pub spike_codes: SpikeCodes,
}

/// The replies the detector watches (`SPIKE_CODES`): 451 alone by default. Gmail throttles with
/// `421-4.7.28` and Yahoo with `421 4.7.0 [TSS04]`, so a sender may watch those too, or every 4xx
/// deferral. The counts keep every 4xx code apart ([`crate::counters::Counts::codes_4xx`]), so the set
/// is applied when counts are summed and a changed setting applies to the whole history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpikeCodes {
    /// These basic codes, each 400–499.
    Codes(Vec<u16>),
    /// Every reply with a 4xx basic code (`deferrals`).
    Deferrals,
}

impl Default for SpikeCodes {
    fn default() -> Self {
        SpikeCodes::Codes(vec![451])
    }
}

impl SpikeCodes {
    /// `451,421,450` or `deferrals`.
    pub fn parse(text: &str) -> Result<SpikeCodes, AppError> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("deferrals") {
            return Ok(SpikeCodes::Deferrals);
        }
        let mut codes = Vec::new();
        for item in text.split(',').map(str::trim) {
            match item.parse::<u16>() {
                Ok(code) if (400..=499).contains(&code) => {
                    if !codes.contains(&code) {
                        codes.push(code);
                    }
                }
                _ => return Err(out_of_range("SPIKE_CODES", "`deferrals` or 4xx codes separated by commas")),
            }
        }
        Ok(SpikeCodes::Codes(codes))
    }

    /// Whether a reply with the basic code `code` is watched.
    pub fn watches(&self, code: u16) -> bool {
        match self {
            SpikeCodes::Codes(codes) => codes.contains(&code),
            SpikeCodes::Deferrals => (400..=499).contains(&code),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bucket_secs: 5 * 60,
            retention_secs: 8 * 86_400,
            // Thirteen months and a bit, as the peers keep (SendGrid 13 months): "365d" with the year
            // before it is out of reach, a year with its last month compared is not.
            history_secs: 400 * 86_400,
            window_secs: 15 * 60,
            min_451: 20,
            ratio_floor: 0.05,
            baseline_multiple: 3.0,
            baseline_secs: 24 * 3600,
            confirm_evaluations: 2,
            resolve_hold_secs: 30 * 60,
            poisson_alpha: 0.001,
            benign_greylist_share: 0.8,
            critical_ratio: 0.2,
            sender_wide_min_domains: 3,
            recent_alert_secs: 7 * 86_400,
            dedup_secs: 72 * 3600,
            // 288 publishes a day, each writing the hour pages that changed (usually one): about 300 KV
            // writes a day, inside the Free plan's 1,000 with room for late events and a second shard.
            publish_secs: 5 * 60,
            counter_shards: 1,
            // 14,400 look-ups a day at most per object: a new domain is resolved within minutes, and a
            // run's subrequests (the Free plan allows 50) stay well inside the limit with KV and email.
            doh_lookups_per_run: 10,
            spike_codes: SpikeCodes::default(),
        }
    }
}

impl Settings {
    /// Reads every var, falling back to the defaults above. A value that does not parse or is out of
    /// range is a configuration error naming the var, so a typo is loud rather than silently ignored.
    pub fn from_config(config: &Config) -> Result<Settings, AppError> {
        let d = Settings::default();
        let minutes = |name, default_secs: u64, max: u64| -> Result<u64, AppError> {
            let value: u64 = config.number(name, default_secs / 60)?;
            in_range(name, value, 1, max).map(|m| m * 60)
        };
        let fraction = |name, default: f64| -> Result<f64, AppError> {
            let value: f64 = config.number(name, default)?;
            if value > 0.0 && value <= 1.0 {
                Ok(value)
            } else {
                Err(out_of_range(name, "between 0 (exclusive) and 1"))
            }
        };
        let settings = Settings {
            bucket_secs: minutes("BUCKET_MINUTES", d.bucket_secs, 60)?,
            retention_secs: retention_days(config)? * 86_400,
            history_secs: in_range(
                "HISTORY_DAYS",
                config.number("HISTORY_DAYS", 400)?,
                retention_days(config)?,
                3 * 366,
            )? * 86_400,
            window_secs: minutes("SPIKE_WINDOW_MINUTES", d.window_secs, 24 * 60)?,
            min_451: in_range("SPIKE_MIN_451", config.number("SPIKE_MIN_451", d.min_451)?, 1, u64::MAX)?,
            ratio_floor: fraction("SPIKE_RATIO_FLOOR", d.ratio_floor)?,
            baseline_multiple: {
                let value: f64 = config.number("SPIKE_BASELINE_MULTIPLE", d.baseline_multiple)?;
                if value >= 1.0 {
                    value
                } else {
                    return Err(out_of_range("SPIKE_BASELINE_MULTIPLE", "at least 1"));
                }
            },
            baseline_secs: in_range("BASELINE_HOURS", config.number("BASELINE_HOURS", 24)?, 1, 24 * 30)? * 3600,
            confirm_evaluations: config.number("CONFIRM_EVALUATIONS", d.confirm_evaluations)?.max(1),
            resolve_hold_secs: minutes("RESOLVE_HOLD_MINUTES", d.resolve_hold_secs, 7 * 24 * 60)?,
            poisson_alpha: fraction("POISSON_ALPHA", d.poisson_alpha)?,
            benign_greylist_share: fraction("BENIGN_GREYLIST_SHARE", d.benign_greylist_share)?,
            critical_ratio: fraction("CRITICAL_RATIO", d.critical_ratio)?,
            sender_wide_min_domains: in_range(
                "SENDER_WIDE_MIN_DOMAINS",
                config.number("SENDER_WIDE_MIN_DOMAINS", d.sender_wide_min_domains as u64)?,
                2,
                100_000,
            )? as usize,
            recent_alert_secs: in_range("RECENT_ALERT_DAYS", config.number("RECENT_ALERT_DAYS", 7)?, 1, 365)? * 86_400,
            dedup_secs: match config.get("DEDUP_HOURS") {
                Some(_) => in_range("DEDUP_HOURS", config.number("DEDUP_HOURS", 72)?, 1, 24 * 365)? * 3600,
                // The default fits a retention shorter than three days rather than refusing it.
                None => d.dedup_secs.min(retention_days(config)? * 86_400),
            },
            publish_secs: minutes("PUBLISH_MINUTES", d.publish_secs, 60)?,
            // A read asks every shard and reads its pages: 4 shards keep a 7-day window (169 hour pages each)
            // inside the 1,000 operations a Worker invocation may make.
            counter_shards: in_range("COUNTER_SHARDS", config.number("COUNTER_SHARDS", 1)?, 1, MAX_COUNTER_SHARDS)?
                as u32,
            doh_lookups_per_run: in_range(
                "DOH_LOOKUPS_PER_RUN",
                config.number("DOH_LOOKUPS_PER_RUN", u64::from(d.doh_lookups_per_run))?,
                0,
                MAX_DOH_LOOKUPS_PER_RUN,
            )? as u32,
            spike_codes: match config.get("SPIKE_CODES") {
                Some(text) => SpikeCodes::parse(text)?,
                None => SpikeCodes::default(),
            },
        };
        if settings.dedup_secs > settings.retention_secs {
            // Ids live with their bucket's counts, which expire with the retention.
            return Err(out_of_range("DEDUP_HOURS", "at most RETENTION_DAYS × 24"));
        }
        if settings.window_secs < settings.bucket_secs {
            return Err(out_of_range("SPIKE_WINDOW_MINUTES", "at least BUCKET_MINUTES"));
        }
        Ok(settings)
    }

    /// The start of the bucket holding unix time `t`.
    pub fn bucket_of(&self, t: u64) -> u64 {
        t - t % self.bucket_secs
    }

    /// How many buckets a span covers, rounded up, at least one.
    pub fn buckets_in(&self, secs: u64) -> u64 {
        secs.div_ceil(self.bucket_secs).max(1)
    }
}

fn retention_days(config: &Config) -> Result<u64, AppError> {
    in_range("RETENTION_DAYS", config.number("RETENTION_DAYS", 8)?, 1, 365)
}

fn in_range(name: &str, value: u64, min: u64, max: u64) -> Result<u64, AppError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(out_of_range(name, &format!("between {min} and {max}")))
    }
}

fn out_of_range(name: &str, expected: &str) -> AppError {
    AppError::Internal(format!("configuration var {name} must be {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spike_codes_are_4xx_codes_or_deferrals() {
        let parsed =
            |text: &str| Settings::from_config(&Config::from_pairs([("SPIKE_CODES", text)])).map(|s| s.spike_codes);
        assert_eq!(parsed("451"), Ok(SpikeCodes::Codes(vec![451])));
        assert_eq!(parsed(" 451, 421,450,421 "), Ok(SpikeCodes::Codes(vec![451, 421, 450])));
        assert_eq!(parsed("Deferrals"), Ok(SpikeCodes::Deferrals));
        for bad in ["451,", "550", "399", "4xx", "451;421"] {
            assert!(format!("{:?}", parsed(bad)).contains("SPIKE_CODES"), "{bad:?}");
        }
        assert!(SpikeCodes::Deferrals.watches(421) && !SpikeCodes::Deferrals.watches(550));
    }

    #[test]
    fn unset_vars_give_the_documented_defaults() {
        assert_eq!(Settings::from_config(&Config::new()), Ok(Settings::default()));
    }

    #[test]
    fn vars_override_defaults_in_their_own_units() {
        let config =
            Config::from_pairs([("BUCKET_MINUTES", "10"), ("RETENTION_DAYS", "2"), ("SPIKE_RATIO_FLOOR", "0.1")]);
        let settings = Settings::from_config(&config).unwrap();
        assert_eq!(settings.bucket_secs, 600);
        assert_eq!(settings.retention_secs, 2 * 86_400);
        assert_eq!(settings.ratio_floor, 0.1);
    }

    #[test]
    fn out_of_range_values_name_the_var() {
        for (name, value) in [("BUCKET_MINUTES", "0"), ("SPIKE_RATIO_FLOOR", "5"), ("SPIKE_BASELINE_MULTIPLE", "0.5")] {
            let err = Settings::from_config(&Config::from_pairs([(name, value)])).unwrap_err();
            assert!(format!("{err:?}").contains(name), "{err:?}");
        }
    }
}
