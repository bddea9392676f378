//! 451 spike detection: a pure state machine per recipient domain, given window counts and the time.
//!
//! Each evaluation (the cron, every minute) compares a domain's last [`Settings::window_secs`] against
//! its own baseline, an exponentially weighted moving average of its buckets over
//! [`Settings::baseline_secs`]. Only *candidates* are evaluated: domains with at least
//! [`Settings::min_451`] 451s in the window (no other can breach) and those with an alert open. A
//! candidate's baseline is computed from its stored buckets when it first becomes one, then folded forward
//! bucket by bucket while it stays tracked ([`crate::counting::detection`]), so the work of a run follows
//! the domains that can alert, not every domain seen. A domain **breaches** when, in the window,
//!
//! * its 451 count is at least [`Settings::min_451`] — one-off 451s never alert — and
//! * its 451 ratio (451s / attempts, attempts = delivered + deferred + bounced) is at least both the
//!   absolute floor [`Settings::ratio_floor`] and [`Settings::baseline_multiple`] × its baseline ratio.
//!
//! Where the ESP sends no delivered events (none in the window, none in the baseline) the ratio means
//! nothing, so the 451 count is tested against the baseline count instead: at least the minimum and the
//! multiple, and unlikely under a Poisson law with the baseline's mean ([`Settings::poisson_alpha`]).
//!
//! Hysteresis, after Prometheus' `for:` and Grafana's "recovering": `ok` → `pending` on the first breach,
//! → `firing` after [`Settings::confirm_evaluations`] consecutive breaches; `firing` → `resolving` once
//! the ratio is below half the threshold, → `ok` after it stays there for [`Settings::resolve_hold_secs`].
//! The baseline is frozen while a domain is not `ok`, so a long incident is not learnt as normal.
//!
//! When [`Settings::sender_wide_min_domains`] domains breach at once the cause is the sender, not the
//! receivers: one sender-wide alert (domain `*`) is raised and inhibits the per-domain ones it covers, as
//! Alertmanager's inhibit rules would.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::advice::{cause_advice, GREYLISTING_ADVICE, SPIKE_ADVICE};
use crate::breakdown::Sources;
use crate::classify::Category;
use crate::counters::{Counts, Sample, Totals};
use crate::settings::Settings;

/// The pseudo-domain of the sender-wide alert.
pub const SENDER_WIDE: &str = "*";
/// Causes below this share of the 451s are not worth naming.
const MIN_CAUSE_SHARE: f64 = 0.1;
const MAX_CAUSES: usize = 3;
const MAX_ALERT_SAMPLES: usize = 3;
/// How long an `ok` domain stays tracked after it was last a candidate, so a domain that hovers around
/// the minimum keeps its baseline folded forward instead of computing it again from the stored buckets.
pub const TRACK_GRACE_SECS: u64 = 3600;

/// Where a domain is in the alert lifecycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    #[default]
    Ok,
    Pending,
    Firing,
    Resolving,
}

/// How much an alert matters. `benign` is shown but never emailed by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Benign,
    Warning,
    Critical,
}

/// One cause of the 451s and its share of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub category: Category,
    pub share: f64,
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertScope {
    /// One recipient domain.
    #[default]
    Domain,
    /// A mailbox provider, over every domain it receives for (its id is the alert's `domain`).
    Provider,
    /// The sender as a whole (domain `*`).
    Sender,
}

/// What an alert says, as `/api/alerts` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The recipient domain; the provider's id for a provider alert; `*` for the sender-wide one.
    pub domain: String,
    #[serde(default)]
    pub scope: AlertScope,
    /// For a provider alert: its id (`microsoft`, `other:example-hosting.net`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// For a provider alert: how many of its domains had traffic in the window (`domains` names the
    /// busiest of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain_count: Option<u64>,
    pub state: Phase,
    pub severity: Severity,
    /// When the first breach of this episode was seen.
    pub since: u64,
    pub smtp_451: u64,
    /// The replies `SPIKE_CODES` watches (the 451s by default): what the detector judged.
    #[serde(default)]
    pub deferrals_watched: u64,
    /// Delivered + deferred + bounced in the window, the denominator of `ratio_451`.
    #[serde(default)]
    pub attempts: u64,
    pub ratio_451: f64,
    #[serde(default)]
    pub ratio_watched: f64,
    /// The baseline of the watched ratio.
    pub baseline_ratio: f64,
    pub causes: Vec<Cause>,
    pub advice: Vec<String>,
    pub samples: Vec<Sample>,
    /// Which sending IPs, pools, sending domains and tags the window's 451s came from.
    #[serde(flatten)]
    pub sources: Sources,
    /// For the sender-wide alert: the domains it covers; for a provider alert, its busiest domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<u64>,
}

/// A domain's baseline: exponentially decayed sums per bucket, so the average is exact whatever the gaps
/// (a bucket without traffic is a zero) and needs no warm-up correction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub smtp_451: f64,
    pub attempts: f64,
    pub delivered: f64,
    /// The decayed number of buckets the sums cover.
    pub weight: f64,
    /// The last bucket folded in (or skipped while frozen).
    pub through: Option<u64>,
}

impl Baseline {
    /// The weight of the previous bucket: α = 2 / (N + 1) over the N buckets of the baseline span, the
    /// usual EWMA whose centre of mass matches an N-bucket moving average.
    fn decay(settings: &Settings) -> f64 {
        let buckets = settings.buckets_in(settings.baseline_secs) as f64;
        1.0 - 2.0 / (buckets + 1.0)
    }

    /// The baseline with every bucket up to `bucket` folded in, `totals` being that bucket's. Frozen, it
    /// only moves on: the bucket is passed over, not learnt.
    pub fn folded(&self, bucket: u64, totals: &Totals, frozen: bool, settings: &Settings) -> Baseline {
        if frozen {
            return Baseline { through: Some(self.through.map_or(bucket, |t| t.max(bucket))), ..self.clone() };
        }
        let steps = match self.through {
            Some(through) if bucket > through => (bucket - through) / settings.bucket_secs,
            Some(_) => return self.clone(),
            None => 1,
        };
        let d = Self::decay(settings);
        let dk = d.powi(steps.min(i32::MAX as u64) as i32);
        Baseline {
            smtp_451: self.smtp_451 * dk + totals.smtp_451 as f64,
            attempts: self.attempts * dk + totals.attempts as f64,
            delivered: self.delivered * dk + totals.delivered as f64,
            weight: self.weight * dk + (1.0 - dk) / (1.0 - d),
            through: Some(bucket),
        }
    }

    /// The baseline 451 ratio.
    pub fn ratio(&self) -> f64 {
        if self.attempts > 0.0 {
            self.smtp_451 / self.attempts
        } else {
            0.0
        }
    }

    fn mean_451_per_bucket(&self) -> f64 {
        if self.weight > 0.0 {
            self.smtp_451 / self.weight
        } else {
            0.0
        }
    }
}

/// One alert lifecycle: a domain's, or the sender-wide one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracker {
    pub phase: Phase,
    /// Consecutive breaching evaluations while pending.
    #[serde(default)]
    pub streak: u32,
    /// While resolving: since when the ratio has been below half the threshold.
    #[serde(default)]
    pub calm_since: Option<u64>,
    #[serde(default)]
    pub alert: Option<Alert>,
}

/// What the detector remembers about a tracked domain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainState {
    pub baseline: Baseline,
    pub tracker: Tracker,
    /// When the domain was last a candidate, to stop tracking it [`TRACK_GRACE_SECS`] later.
    pub last_seen: u64,
}

/// A domain to evaluate: its window and its baseline, folded up to the bucket before the window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub window: Counts,
    pub baseline: Baseline,
}

/// A mailbox provider to evaluate: the sum of its domains' windows and baselines, and which domains.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderCandidate {
    pub candidate: Candidate,
    /// Its busiest domains with traffic in the window, busiest first.
    pub domains: Vec<String>,
    /// How many domains had traffic in the window.
    pub domain_count: u64,
}

/// What one evaluation of one lifecycle found.
struct Evaluated {
    breach: bool,
    /// The alert, when this evaluation resolved it.
    resolved: Option<Alert>,
}

impl DomainState {
    /// Evaluates one domain (or provider) at `now`: `candidate` is its window and baseline, `None` when
    /// it was not a candidate this run (an open alert with a quiet window).
    fn evaluate(
        &mut self,
        key: &str,
        candidate: Option<&Candidate>,
        now: u64,
        settings: &Settings,
    ) -> (Evaluated, Counts) {
        let counts = candidate.map(|c| c.window.clone()).unwrap_or_default();
        if let Some(candidate) = candidate {
            self.baseline = candidate.baseline.clone();
            // Tracked domains are reported every run; only one that could breach renews the grace.
            if candidate.window.watched(&settings.spike_codes) >= settings.min_451 {
                self.last_seen = now;
            }
        }
        let judgement = judge(&counts, &self.baseline, settings);
        let resolved = self.tracker.step(judgement, now, settings);
        self.tracker.describe(key, &counts, self.baseline.ratio(), now, settings);
        (Evaluated { breach: judgement.breach, resolved }, counts)
    }
}

fn tracked_of(states: &BTreeMap<String, DomainState>) -> BTreeMap<String, Tracked> {
    crate::sort::map(
        states.iter().map(|(key, s)| {
            (key.clone(), Tracked { baseline: s.baseline.clone(), frozen: s.tracker.phase != Phase::Ok })
        }),
    )
}

/// The candidates and the tracked entries with an alert open, in order.
fn keys_to_evaluate(tracked: &BTreeMap<String, DomainState>, candidates: &BTreeMap<String, Candidate>) -> Vec<String> {
    let open = tracked.iter().filter(|(_, s)| s.tracker.phase != Phase::Ok).map(|(k, _)| k);
    crate::sort::set(candidates.keys().chain(open)).into_iter().cloned().collect()
}

/// What the detector asks about a tracked domain: its baseline so far, and whether it is frozen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tracked {
    pub baseline: Baseline,
    #[serde(default)]
    pub frozen: bool,
}

/// Everything the detector keeps between evaluations, stored by the counting object. It holds only the
/// tracked domains (candidates, recent candidates and open alerts), so it stays small however many
/// domains are mailed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorState {
    pub domains: BTreeMap<String, DomainState>,
    /// Mailbox providers by id, tracked like domains.
    #[serde(default)]
    pub providers: BTreeMap<String, DomainState>,
    pub sender_wide: Tracker,
    /// Alerts resolved within [`Settings::recent_alert_secs`], newest first.
    pub recent: Vec<Alert>,
}

/// The outcome of testing one window against a baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Judgement {
    breach: bool,
    /// Below half the threshold: the condition for resolving.
    calm: bool,
}

/// Tests a domain's window against its baseline.
fn judge(window: &Counts, baseline: &Baseline, settings: &Settings) -> Judgement {
    let count = window.watched(&settings.spike_codes);
    if window.delivered == 0 && baseline.delivered == 0.0 {
        let window_buckets = settings.buckets_in(settings.window_secs) as f64;
        let expected = baseline.mean_451_per_bucket() * window_buckets;
        let needed = (settings.baseline_multiple * expected).max(settings.min_451 as f64);
        let unlikely = poisson_upper_tail(count, expected) < settings.poisson_alpha;
        return Judgement { breach: count as f64 >= needed && unlikely, calm: (count as f64) < needed / 2.0 };
    }
    let threshold = settings.ratio_floor.max(settings.baseline_multiple * baseline.ratio());
    let ratio = window.ratio_watched(&settings.spike_codes);
    Judgement { breach: count >= settings.min_451 && ratio >= threshold, calm: ratio < threshold / 2.0 }
}

/// P(X ≥ k) for X ~ Poisson(λ). At or below the mean the tail is about one half or more, never
/// significant for the small α we test against, so it is returned as 1 rather than summed.
pub fn poisson_upper_tail(k: u64, lambda: f64) -> f64 {
    if k == 0 || k as f64 <= lambda {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    // Terms decrease from k on (k > λ), so summing relative to P(X = k) neither overflows nor loses
    // precision; P(X = k) itself is computed in log space.
    let log_pk = -lambda + k as f64 * lambda.ln() - ln_factorial(k);
    let (mut sum, mut term, mut i) = (0.0_f64, 1.0_f64, k);
    while term > 1e-16 * sum.max(1.0) {
        sum += term;
        i += 1;
        term *= lambda / i as f64;
    }
    (log_pk.exp() * sum).min(1.0)
}

fn ln_factorial(n: u64) -> f64 {
    if n <= 20 {
        return (2..=n).map(|i| (i as f64).ln()).sum();
    }
    // Stirling's series; its error at n > 20 is far below what the tail test can notice.
    let n = n as f64;
    n * n.ln() - n + 0.5 * (2.0 * std::f64::consts::PI * n).ln() + 1.0 / (12.0 * n) - 1.0 / (360.0 * n.powi(3))
}

impl Tracker {
    /// Advances the lifecycle by one evaluation. Returns the alert when this evaluation resolved it.
    fn step(&mut self, judgement: Judgement, now: u64, settings: &Settings) -> Option<Alert> {
        match self.phase {
            Phase::Ok | Phase::Pending if judgement.breach => {
                self.streak = if self.phase == Phase::Ok { 1 } else { self.streak + 1 };
                self.phase = if self.streak >= settings.confirm_evaluations { Phase::Firing } else { Phase::Pending };
            }
            Phase::Ok => {}
            Phase::Pending => *self = Tracker::default(),
            Phase::Firing if judgement.calm => {
                self.phase = Phase::Resolving;
                self.calm_since = Some(now);
            }
            Phase::Firing => {}
            Phase::Resolving if !judgement.calm => {
                self.phase = Phase::Firing;
                self.calm_since = None;
            }
            Phase::Resolving => {
                let calm_since = self.calm_since.unwrap_or(now);
                if now.saturating_sub(calm_since) >= settings.resolve_hold_secs {
                    let mut resolved = std::mem::take(self).alert?;
                    resolved.state = Phase::Ok;
                    resolved.resolved_at = Some(now);
                    return Some(resolved);
                }
            }
        }
        if let Some(alert) = &mut self.alert {
            alert.state = self.phase;
        }
        None
    }

    /// Refreshes what the alert says from the current window, while the episode is rising or firing.
    fn describe(&mut self, domain: &str, window: &Counts, baseline_ratio: f64, now: u64, settings: &Settings) {
        if !matches!(self.phase, Phase::Pending | Phase::Firing) {
            return;
        }
        let since = self.alert.as_ref().map_or(now, |a| a.since);
        let domains = self.alert.take().map(|a| a.domains).unwrap_or_default();
        self.alert = Some(describe(domain, self.phase, since, window, baseline_ratio, domains, settings));
    }
}

/// Builds an alert's text from the 451s of its window.
fn describe(
    domain: &str,
    state: Phase,
    since: u64,
    window: &Counts,
    baseline_ratio: f64,
    domains: Vec<String>,
    settings: &Settings,
) -> Alert {
    let watched_causes = window.watched_causes(&settings.spike_codes);
    let total: u64 = watched_causes.values().sum();
    let mut causes: Vec<Cause> = watched_causes
        .iter()
        .map(|(category, n)| Cause { category: *category, share: *n as f64 / total.max(1) as f64 })
        .collect();
    crate::sort::sort_by(&mut causes, |a, b| b.share.total_cmp(&a.share));
    let greylisted = causes.iter().find(|c| c.category == Category::Greylisted).map_or(0.0, |c| c.share);
    let benign = total > 0 && greylisted >= settings.benign_greylist_share;
    // Keep the leading cause even when the 451s are spread thin.
    let kept = causes.iter().take_while(|c| c.share >= MIN_CAUSE_SHARE).count().clamp(1, MAX_CAUSES);
    causes.truncate(kept);

    let advice: Vec<String> = if benign {
        vec![GREYLISTING_ADVICE.to_owned()]
    } else {
        let mut advice = vec![SPIKE_ADVICE.to_owned()];
        for text in causes.iter().filter_map(|c| cause_advice(c.category)) {
            if !advice.iter().any(|a| a == text) {
                advice.push(text.to_owned());
            }
        }
        advice
    };
    let severity = if benign {
        Severity::Benign
    } else if domain == SENDER_WIDE || window.ratio_watched(&settings.spike_codes) >= settings.critical_ratio {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let mut samples: Vec<Sample> =
        window.samples.iter().filter(|s| causes.iter().any(|c| c.category == s.category)).cloned().collect();
    crate::sort::sort_by_key(&mut samples, |s| std::cmp::Reverse(s.count));
    samples.truncate(MAX_ALERT_SAMPLES);
    Alert {
        domain: domain.to_owned(),
        scope: if domain == SENDER_WIDE { AlertScope::Sender } else { AlertScope::Domain },
        provider: None,
        domain_count: None,
        state,
        severity,
        since,
        smtp_451: window.smtp_451,
        deferrals_watched: window.watched(&settings.spike_codes),
        ratio_watched: window.ratio_watched(&settings.spike_codes),
        attempts: window.attempts(),
        ratio_451: window.ratio_451(),
        baseline_ratio,
        causes,
        advice,
        samples,
        sources: Sources::of(&window.dimensions()),
        domains,
        resolved_at: None,
    }
}

impl DetectorState {
    /// The tracked domains and their baselines, for the objects to fold forward and report on.
    pub fn tracked(&self) -> BTreeMap<String, Tracked> {
        tracked_of(&self.domains)
    }

    /// The tracked providers and their baselines.
    pub fn tracked_providers(&self) -> BTreeMap<String, Tracked> {
        tracked_of(&self.providers)
    }

    /// One evaluation at `now` of the candidates' windows. Touches the candidates and the domains with
    /// an alert open, nothing else.
    pub fn evaluate(&mut self, candidates: &BTreeMap<String, Candidate>, now: u64, settings: &Settings) {
        let mut breaching = BTreeSet::new();
        let mut resolved = Vec::new();
        let mut window = BTreeMap::new();
        for domain in keys_to_evaluate(&self.domains, candidates) {
            let state = self.domains.entry(domain.clone()).or_default();
            let (judgement, counts) = state.evaluate(&domain, candidates.get(&domain), now, settings);
            if judgement.breach {
                breaching.insert(domain.clone());
            }
            resolved.extend(judgement.resolved);
            window.insert(domain, counts);
        }
        self.evaluate_sender_wide(&window, &breaching, now, settings, resolved);
        self.forget(now, settings);
    }

    fn evaluate_sender_wide(
        &mut self,
        window: &BTreeMap<String, Counts>,
        breaching: &BTreeSet<String>,
        now: u64,
        settings: &Settings,
        mut resolved: Vec<Alert>,
    ) {
        let judgement =
            Judgement { breach: breaching.len() >= settings.sender_wide_min_domains, calm: breaching.is_empty() };
        if let Some(alert) = self.sender_wide.step(judgement, now, settings) {
            resolved.push(alert);
        }
        if matches!(self.sender_wide.phase, Phase::Pending | Phase::Firing) {
            let mut covered: BTreeSet<String> = self
                .sender_wide
                .alert
                .as_ref()
                .map(|a| crate::sort::set(a.domains.iter().cloned()))
                .unwrap_or_default();
            covered.extend(breaching.iter().cloned());
            let mut sum = Counts::default();
            let (mut base_451, mut base_attempts) = (0.0, 0.0);
            for domain in &covered {
                if let Some(counts) = window.get(domain) {
                    sum.merge(counts);
                }
                if let Some(state) = self.domains.get(domain) {
                    base_451 += state.baseline.smtp_451;
                    base_attempts += state.baseline.attempts;
                }
            }
            let baseline_ratio = if base_attempts > 0.0 { base_451 / base_attempts } else { 0.0 };
            let since = self.sender_wide.alert.as_ref().map_or(now, |a| a.since);
            self.sender_wide.alert = Some(describe(
                SENDER_WIDE,
                self.sender_wide.phase,
                since,
                &sum,
                baseline_ratio,
                covered.into_iter().collect(),
                settings,
            ));
        }
        // A domain alert that resolves under an open sender-wide alert was part of it: not listed twice.
        let inhibited = self.inhibited();
        resolved.retain(|a| !inhibited.contains(&a.domain));
        for alert in resolved.into_iter().rev() {
            self.recent.insert(0, alert);
        }
    }

    /// Domains whose alerts the open sender-wide alert stands for.
    fn inhibited(&self) -> BTreeSet<String> {
        match (&self.sender_wide.phase, &self.sender_wide.alert) {
            (Phase::Ok, _) | (_, None) => BTreeSet::new(),
            (_, Some(alert)) => crate::sort::set(alert.domains.iter().cloned()),
        }
    }

    /// One evaluation at `now` of the mailbox providers' windows (each the sum of its domains'), with
    /// the same detector, settings and hysteresis as a domain. A provider alert names its busiest
    /// domains and how many it spans, and stands for its domains' own alerts ([`Self::active_alerts`]).
    pub fn evaluate_providers(
        &mut self,
        candidates: &BTreeMap<String, ProviderCandidate>,
        now: u64,
        settings: &Settings,
    ) {
        let windows: BTreeMap<String, Candidate> =
            candidates.iter().map(|(id, c)| (id.clone(), c.candidate.clone())).collect();
        for id in keys_to_evaluate(&self.providers, &windows) {
            let state = self.providers.entry(id.clone()).or_default();
            let (judgement, _) = state.evaluate(&id, windows.get(&id), now, settings);
            if let (Some(alert), Some(candidate)) = (&mut state.tracker.alert, candidates.get(&id)) {
                alert.scope = AlertScope::Provider;
                alert.provider = Some(id.clone());
                alert.domains = candidate.domains.clone();
                alert.domain_count = Some(candidate.domain_count);
            }
            if let Some(alert) = judgement.resolved {
                self.recent.insert(0, alert);
            }
        }
        self.forget(now, settings);
    }

    /// Drops resolved alerts past their listing time, and `ok` domains and providers that stopped being
    /// candidates.
    fn forget(&mut self, now: u64, settings: &Settings) {
        self.recent.retain(|a| a.resolved_at.unwrap_or(now) + settings.recent_alert_secs > now);
        let keep = |s: &DomainState| s.tracker.phase != Phase::Ok || s.last_seen + TRACK_GRACE_SECS > now;
        self.domains.retain(|_, s| keep(s));
        self.providers.retain(|_, s| keep(s));
    }

    /// Domains whose alert is not `ok`, for the API's status column.
    pub fn phases(&self) -> BTreeMap<String, Phase> {
        let open = self.domains.iter().filter(|(_, s)| s.tracker.phase != Phase::Ok);
        let mut phases = crate::sort::map(open.map(|(d, s)| (d.clone(), s.tracker.phase)));
        if self.sender_wide.phase != Phase::Ok {
            phases.insert(SENDER_WIDE.to_owned(), self.sender_wide.phase);
        }
        phases
    }

    /// Open alerts: the sender-wide one first, then per provider, then per domain, leaving out the domains
    /// an open sender-wide or provider alert covers.
    pub fn active_alerts(&self) -> Vec<&Alert> {
        let mut inhibited = self.inhibited();
        let provider_alerts: Vec<&Alert> =
            self.providers.values().filter_map(|s| s.tracker.alert.as_ref()).filter(|a| a.state != Phase::Ok).collect();
        // A provider alert and its own domains' alerts are one alert (one notification), like the
        // sender-wide one and the domains it covers.
        inhibited.extend(provider_alerts.iter().flat_map(|a| a.domains.iter().cloned()));
        let domain_alerts = self
            .domains
            .iter()
            .filter(|(domain, _)| !inhibited.contains(*domain))
            .filter_map(|(_, s)| s.tracker.alert.as_ref());
        self.sender_wide
            .alert
            .iter()
            .chain(provider_alerts)
            .chain(domain_alerts)
            .filter(|a| a.state != Phase::Ok)
            .collect()
    }

    /// Providers whose alert is not `ok`.
    pub fn provider_phases(&self) -> BTreeMap<String, Phase> {
        self.providers
            .iter()
            .filter(|(_, s)| s.tracker.phase != Phase::Ok)
            .map(|(p, s)| (p.clone(), s.tracker.phase))
            .collect()
    }

    /// A domain's phase; `ok` when it is unknown.
    pub fn phase_of(&self, domain: &str) -> Phase {
        self.domains.get(domain).map_or(Phase::Ok, |s| s.tracker.phase)
    }
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
