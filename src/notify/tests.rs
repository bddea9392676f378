use std::cell::{Cell, RefCell};

use pollster::block_on;

use super::*;
use crate::alert::{AlertState, CauseShare, Scope, Severity};
use crate::classify::Category;
use crate::config::Config;
use crate::error::AppError;
use crate::outbound::{ApiSettings, Provider};
use crate::silence::{Matcher, NewSilence};

const T0: u64 = 1_795_838_400;
const MINUTE: u64 = 60;
const HOUR: u64 = 3600;

/// Records every send; fails the next `fail_next` sends, answering `fail_status` for HTTP ones (or a
/// transport error when it is 0, like a timeout).
#[derive(Default)]
struct FakeNotifier {
    emails: RefCell<Vec<(String, String, String)>>,
    requests: RefCell<Vec<OutboundRequest>>,
    fail_next: Cell<u32>,
    fail_status: Cell<u16>,
}

impl FakeNotifier {
    fn failing(times: u32, status: u16) -> FakeNotifier {
        let fake = FakeNotifier::default();
        fake.fail_next.set(times);
        fake.fail_status.set(status);
        fake
    }

    fn take_failure(&self) -> bool {
        let left = self.fail_next.get();
        self.fail_next.set(left.saturating_sub(1));
        left > 0
    }

    fn subjects(&self) -> Vec<String> {
        let mut subjects: Vec<String> = self
            .emails
            .borrow()
            .iter()
            .filter_map(|(_, _, raw)| raw.lines().find_map(|l| l.strip_prefix("Subject: ")).map(str::to_owned))
            .collect();
        subjects.extend(self.requests.borrow().iter().filter_map(|r| {
            serde_json::from_str::<serde_json::Value>(&r.body).ok()?["subject"].as_str().map(str::to_owned)
        }));
        subjects
    }
}

impl Notifier for FakeNotifier {
    async fn send_email(&self, envelope_from: &str, to: &str, raw_mime: &str) -> Result<(), SendError> {
        if self.take_failure() {
            return Err(SendError("binding refused".into()));
        }
        self.emails.borrow_mut().push((envelope_from.into(), to.into(), raw_mime.into()));
        Ok(())
    }

    async fn fetch(&self, request: &OutboundRequest) -> Result<Fetched, SendError> {
        if self.take_failure() {
            return match self.fail_status.get() {
                0 => Err(SendError("timed out".into())),
                status => Ok(Fetched { status, body: String::new() }),
            };
        }
        self.requests.borrow_mut().push(request.clone());
        Ok(Fetched { status: 202, body: String::new() })
    }
}

fn alert(domain: &str, state: AlertState, severity: Severity) -> AlertSnapshot {
    AlertSnapshot {
        scope: Scope::Domain(domain.into()),
        severity,
        state,
        since: T0 - 5 * MINUTE,
        window_minutes: 15,
        smtp_451: 180,
        attempts: 1000,
        ratio_451: 0.18,
        baseline_ratio: 0.004,
        causes: vec![CauseShare { category: Category::PolicyRejected, share: 0.8 }],
        samples: vec!["451 4.7.1 <someone@example.org> deferred".into()],
        sources: Default::default(),
    }
}

fn firing(domain: &str) -> AlertSnapshot {
    alert(domain, AlertState::Firing, Severity::Critical)
}

fn settings(pairs: &[(&str, &str)]) -> AlertSettings {
    let config = Config::from_pairs(pairs.iter().copied());
    AlertSettings::from_config(&config, true).expect("valid settings")
}

fn binding() -> AlertSettings {
    settings(&[
        ("ALERT_FROM", "Bouncewatch <alerts@bw.example>"),
        ("ALERT_TO", "ops@example.com"),
        ("PUBLIC_URL", "https://bw.example"),
    ])
}

fn resend() -> AlertSettings {
    settings(&[
        ("ALERT_FROM", "alerts@bw.example"),
        ("ALERT_TO", "ops@example.com"),
        ("ALERT_EMAIL_PROVIDER", "resend"),
        ("ALERT_EMAIL_API_KEY", "re_test"),
        ("ALERT_EMAIL_API_BASE", "http://127.0.0.1:9/"),
    ])
}

/// Runs `run` once and returns the new state.
fn tick(
    state: &NotifyState,
    alerts: &[AlertSnapshot],
    now: u64,
    settings: &AlertSettings,
    fake: &FakeNotifier,
) -> NotifyState {
    block_on(run(state, alerts, &Silences::default(), now, settings, fake)).0
}

#[test]
fn firing_alert_is_sent_once_and_not_again_while_it_keeps_firing() {
    let fake = FakeNotifier::default();
    let s = binding();
    let mut state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &s, &fake);
    for minute in 1..30 {
        let next = tick(&state, &[firing("gmail.com")], T0 + minute * MINUTE, &s, &fake);
        assert_eq!(next, state, "nothing changes, so nothing needs writing");
        state = next;
    }
    assert_eq!(fake.emails.borrow().len(), 1);
    let (from, to, raw) = &fake.emails.borrow()[0];
    assert_eq!((from.as_str(), to.as_str()), ("alerts@bw.example", "ops@example.com"));
    assert!(raw.contains("Subject: =?UTF-8?B?"), "the dash makes the subject non-ASCII");
    assert!(state.outbox.is_empty());
}

#[test]
fn pending_alert_is_not_sent() {
    let fake = FakeNotifier::default();
    let pending = alert("gmail.com", AlertState::Pending, Severity::Critical);
    let state = tick(&NotifyState::default(), &[pending], T0, &binding(), &fake);
    assert!(fake.emails.borrow().is_empty());
    assert_eq!(state, NotifyState::default());
}

#[test]
fn failed_send_is_retried_next_run_and_delivered_exactly_once() {
    let fake = FakeNotifier::failing(1, 500);
    let s = resend();
    let alerts = [firing("gmail.com")];
    let state = tick(&NotifyState::default(), &alerts, T0, &s, &fake);
    assert!(fake.requests.borrow().is_empty());
    assert_eq!(state.outbox.len(), 1);
    assert_eq!(state.outbox[0].attempts, 1);
    assert_eq!(state.outbox[0].next_attempt_at, T0 + MINUTE);
    assert_eq!(state.outbox[0].last_error.as_deref(), Some("127.0.0.1:9 answered HTTP 500"));

    let state = tick(&state, &alerts, T0 + MINUTE, &s, &fake);
    assert_eq!(fake.requests.borrow().len(), 1);
    assert!(state.outbox.is_empty());
    for minute in 2..10 {
        tick(&state, &alerts, T0 + minute * MINUTE, &s, &fake);
    }
    assert_eq!(fake.requests.borrow().len(), 1, "a success is never repeated");
}

#[test]
fn retry_sends_the_identical_message_with_the_same_idempotency_key() {
    let fake = FakeNotifier::failing(1, 0);
    let s = resend();
    let first = plan(&NotifyState::default(), &[firing("gmail.com")], &Silences::default(), T0, &s);
    let state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &s, &fake);
    tick(&state, &[firing("gmail.com")], T0 + MINUTE, &s, &fake);
    let sent = &fake.requests.borrow()[0];
    let expected = format!("bouncewatch/{}", first.0[0].id);
    assert_eq!(sent.header("idempotency-key"), Some(expected.as_str()));
}

/// The waits, in minutes, before each of `retries` retries of a send that always fails.
fn retry_waits(s: &AlertSettings, retries: usize) -> (Vec<u64>, NotifyState) {
    let fake = FakeNotifier::failing(u32::MAX, 503);
    let mut state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, s, &fake);
    let mut delays = Vec::new();
    let mut now = T0;
    for _ in 0..retries {
        let next = state.outbox[0].next_attempt_at;
        delays.push((next - now) / MINUTE);
        // A run before the retry is due sends nothing and changes nothing.
        assert_eq!(tick(&state, &[firing("gmail.com")], next - 30, s, &fake), state);
        now = next;
        state = tick(&state, &[firing("gmail.com")], now, s, &fake);
    }
    (delays, state)
}

#[test]
fn backoff_doubles_from_a_minute_up_to_an_hour() {
    // No reminder within the four hours this takes.
    let (delays, state) = retry_waits(&AlertSettings { repeat_seconds: 24 * HOUR, ..resend() }, 9);
    assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(state.outbox.len(), 1, "still waiting, never dropped");
}

#[test]
fn alert_retry_sets_the_first_wait_and_the_doubling_keeps_its_cap() {
    let s = AlertSettings { retry_seconds: 20 * MINUTE, repeat_seconds: 24 * HOUR, ..resend() };
    assert_eq!(retry_waits(&s, 4).0, [20, 40, 60, 60]);
}

#[test]
fn a_retry_due_a_few_seconds_late_by_the_clock_is_still_taken() {
    let fake = FakeNotifier::failing(1, 0);
    let s = resend();
    let state = tick(&NotifyState::default(), &[firing("gmail.com")], T0 + 2, &s, &fake);
    tick(&state, &[firing("gmail.com")], T0 + MINUTE, &s, &fake);
    assert_eq!(fake.requests.borrow().len(), 1);
}

#[test]
fn reminder_follows_after_alert_repeat() {
    let fake = FakeNotifier::default();
    let s = binding();
    let mut state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &s, &fake);
    state = tick(&state, &[firing("gmail.com")], T0 + 4 * HOUR - MINUTE, &s, &fake);
    assert_eq!(fake.emails.borrow().len(), 1);
    state = tick(&state, &[firing("gmail.com")], T0 + 4 * HOUR, &s, &fake);
    tick(&state, &[firing("gmail.com")], T0 + 4 * HOUR + MINUTE, &s, &fake);
    assert_eq!(fake.emails.borrow().len(), 2);
    let raw = &fake.emails.borrow()[1].2;
    assert!(raw.contains("STILL FIRING =E2=80=94 gmail.com"), "{raw}");
}

#[test]
fn rising_severity_is_announced_at_once_and_falling_severity_is_not() {
    let fake = FakeNotifier::default();
    let s = binding();
    let warning = alert("gmail.com", AlertState::Firing, Severity::Warning);
    let state = tick(&NotifyState::default(), std::slice::from_ref(&warning), T0, &s, &fake);
    let state = tick(&state, &[firing("gmail.com")], T0 + MINUTE, &s, &fake);
    assert_eq!(fake.emails.borrow().len(), 2);
    assert!(fake.emails.borrow()[1].2.contains("FIRING =E2=80=94 gmail.com (critical)"));
    tick(&state, &[warning], T0 + 2 * MINUTE, &s, &fake);
    assert_eq!(fake.emails.borrow().len(), 2);
}

#[test]
fn alert_repeat_is_configurable() {
    let fake = FakeNotifier::default();
    let s = AlertSettings { repeat_seconds: 30 * MINUTE, ..binding() };
    let state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &s, &fake);
    tick(&state, &[firing("gmail.com")], T0 + 30 * MINUTE, &s, &fake);
    assert_eq!(fake.emails.borrow().len(), 2);
}

#[test]
fn resolved_is_sent_once_when_the_alert_returns_to_ok() {
    let fake = FakeNotifier::default();
    let s = binding();
    let state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &s, &fake);
    let resolving = alert("gmail.com", AlertState::Resolving, Severity::Critical);
    let state = tick(&state, &[resolving], T0 + 10 * MINUTE, &s, &fake);
    assert_eq!(fake.emails.borrow().len(), 1, "the resolve hold is still firing");
    let ok = alert("gmail.com", AlertState::Ok, Severity::Critical);
    let state = tick(&state, std::slice::from_ref(&ok), T0 + 40 * MINUTE, &s, &fake);
    let state = tick(&state, &[ok], T0 + 41 * MINUTE, &s, &fake);
    assert_eq!(fake.emails.borrow().len(), 2);
    assert!(fake.emails.borrow()[1].2.contains("RESOLVED =E2=80=94 gmail.com"));
    assert_eq!(state, NotifyState::default());
}

#[test]
fn alert_missing_from_the_detector_output_is_resolved_with_its_last_figures() {
    let fake = FakeNotifier::default();
    let s = resend();
    let state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &s, &fake);
    let state = tick(&state, &[], T0 + HOUR, &s, &fake);
    tick(&state, &[], T0 + HOUR + MINUTE, &s, &fake);
    assert_eq!(fake.subjects().len(), 2);
    assert_eq!(
        fake.subjects()[1],
        "[bouncewatch] resolved: gmail.com: 451 deferrals 18 % (baseline 0.4 %) — local policy"
    );
}

#[test]
fn benign_alerts_are_suppressed_unless_alert_benign_is_true() {
    let benign = alert("gmail.com", AlertState::Firing, Severity::Benign);
    let quiet = FakeNotifier::default();
    tick(&NotifyState::default(), std::slice::from_ref(&benign), T0, &binding(), &quiet);
    assert!(quiet.emails.borrow().is_empty());

    let loud = FakeNotifier::default();
    let mut s = binding();
    s.benign = true;
    tick(&NotifyState::default(), &[benign], T0, &s, &loud);
    assert_eq!(loud.emails.borrow().len(), 1);
}

#[test]
fn alerts_of_one_run_go_out_as_one_message() {
    let fake = FakeNotifier::default();
    let s = resend();
    let state = tick(&NotifyState::default(), &[firing("gmail.com"), firing("outlook.com")], T0, &s, &fake);
    assert_eq!(fake.subjects(), ["[bouncewatch] 2 alerts: gmail.com firing, outlook.com firing"]);
    // One resolves and one starts in the same later run: again one message.
    tick(&state, &[firing("outlook.com"), firing("yahoo.com")], T0 + MINUTE, &s, &fake);
    assert_eq!(fake.subjects()[1], "[bouncewatch] 2 alerts: yahoo.com firing, gmail.com resolved");
}

#[test]
fn sender_wide_spike_is_one_message() {
    let fake = FakeNotifier::default();
    let wide = AlertSnapshot {
        scope: Scope::SenderWide { domains: vec!["gmail.com".into(), "outlook.com".into(), "yahoo.com".into()] },
        ..firing("ignored")
    };
    tick(&NotifyState::default(), &[wide], T0, &resend(), &fake);
    assert_eq!(fake.requests.borrow().len(), 1);
    assert!(fake.subjects()[0].starts_with("[bouncewatch] sender-wide (3 domains): 451 deferrals 18 %"));
}

#[test]
fn each_channel_is_retried_on_its_own() {
    let fake = FakeNotifier::default();
    let mut s = binding();
    s.webhook_url = Some("http://127.0.0.1:9/hook".into());
    // The email is delivered and the webhook times out.
    let (due, mut state) = plan(&NotifyState::default(), &[firing("gmail.com")], &Silences::default(), T0, &s);
    assert_eq!(due.iter().map(|o| o.channel).collect::<Vec<_>>(), [Channel::Email, Channel::Webhook]);
    record_result(&mut state, &due[0].id, Ok(()), T0, MINUTE);
    record_result(&mut state, &due[1].id, Err(SendError("timed out".into())), T0, MINUTE);
    let state = tick(&state, &[firing("gmail.com")], T0 + MINUTE, &s, &fake);
    assert!(fake.emails.borrow().is_empty(), "the delivered email is not repeated");
    assert_eq!(fake.requests.borrow().len(), 1);
    let body: serde_json::Value = serde_json::from_str(&fake.requests.borrow()[0].body).expect("json");
    assert!(body["text"].as_str().unwrap_or_default().starts_with("*[bouncewatch] gmail.com: 451 deferrals 18 %"));
    assert_eq!(body["notifications"][0]["kind"], "firing");
    assert_eq!(body["notifications"][0]["alert"]["scope"]["domain"], "gmail.com");
    assert_eq!(body["notifications"][0]["alert"]["samples"][0], "451 4.7.1 <…@example.org> deferred");
    assert!(state.outbox.is_empty());
}

#[test]
fn binding_sends_the_same_raw_message_to_each_recipient() {
    let fake = FakeNotifier::default();
    let s = settings(&[("ALERT_FROM", "alerts@bw.example"), ("ALERT_TO", "a@example.com, B <b@example.com>")]);
    tick(&NotifyState::default(), &[firing("gmail.com")], T0, &s, &fake);
    let emails = fake.emails.borrow();
    let recipients: Vec<&str> = emails.iter().map(|(_, to, _)| to.as_str()).collect();
    assert_eq!(recipients, ["a@example.com", "b@example.com"]);
    assert_eq!(emails[0].2, emails[1].2);
}

#[test]
fn without_channels_alerts_are_tracked_but_nothing_is_queued() {
    let fake = FakeNotifier::default();
    let state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &settings(&[]), &fake);
    assert!(state.outbox.is_empty());
    assert!(state.announced.contains_key("gmail.com"));
}

#[test]
fn outbox_overflow_drops_the_oldest_and_counts_it() {
    let fake = FakeNotifier::failing(u32::MAX, 500);
    let s = resend();
    let mut state = NotifyState::default();
    // Flapping alert: a new message every other run, none delivered.
    for run in 0..120u64 {
        let alerts = if run % 2 == 0 { vec![firing("gmail.com")] } else { vec![] };
        state = tick(&state, &alerts, T0 + run * HOUR, &s, &fake);
    }
    assert_eq!(state.outbox.len(), MAX_OUTBOX);
    assert_eq!(state.dropped, 120 - MAX_OUTBOX as u64);
}

#[test]
fn state_round_trips_through_json() {
    let fake = FakeNotifier::failing(1, 500);
    let state = tick(&NotifyState::default(), &[firing("gmail.com")], T0, &resend(), &fake);
    let json = serde_json::to_string(&state).expect("serializes");
    assert_eq!(serde_json::from_str::<NotifyState>(&json).ok(), Some(state));
    assert_eq!(serde_json::from_str::<NotifyState>("{}").ok(), Some(NotifyState::default()));
}

#[test]
fn settings_defaults_and_errors() {
    let s = settings(&[]);
    assert_eq!((s.repeat_seconds, s.benign, s.email.is_none(), s.webhook_url.is_none()), (4 * HOUR, false, true, true));
    assert_eq!(s.retry_seconds, MINUTE);
    assert_eq!(settings(&[("ALERT_RETRY", "5s")]).retry_seconds, 5);
    for (pairs, binding, expected) in [
        (vec![("ALERT_REPEAT", "90m")], false, Ok(90 * MINUTE)),
        (vec![("ALERT_REPEAT", "1d")], false, Ok(24 * HOUR)),
        (vec![("ALERT_REPEAT", "7200")], false, Ok(2 * HOUR)),
        (vec![("ALERT_REPEAT", "10s")], false, Err("ALERT_REPEAT")),
        (vec![("ALERT_REPEAT", "soon")], false, Err("ALERT_REPEAT")),
        (vec![("ALERT_RETRY", "0")], false, Err("ALERT_RETRY")),
        (vec![("ALERT_RETRY", "2h")], false, Err("ALERT_RETRY")),
        (vec![("ALERT_BENIGN", "maybe")], false, Err("ALERT_BENIGN")),
        (vec![("ALERT_TO", "a@x.example")], true, Err("ALERT_FROM and ALERT_TO")),
        (vec![("ALERT_FROM", "a@x.example"), ("ALERT_TO", "b@x.example")], false, Err("[[send_email]]")),
        (
            vec![("ALERT_FROM", "a@x.example"), ("ALERT_TO", "b@x.example"), ("ALERT_EMAIL_PROVIDER", "pigeon")],
            true,
            Err("pigeon"),
        ),
        (
            vec![("ALERT_FROM", "a@x.example"), ("ALERT_TO", "b@x.example"), ("ALERT_EMAIL_PROVIDER", "postmark")],
            true,
            Err("ALERT_EMAIL_API_KEY"),
        ),
        (
            vec![
                ("ALERT_FROM", "a@x.example"),
                ("ALERT_TO", "b@x.example"),
                ("ALERT_EMAIL_PROVIDER", "mailgun"),
                ("ALERT_EMAIL_API_KEY", "k"),
            ],
            true,
            Err("MAILGUN_DOMAIN"),
        ),
    ] {
        let result = AlertSettings::from_config(&Config::from_pairs(pairs.clone()), binding);
        match (result, expected) {
            (Ok(s), Ok(repeat)) => assert_eq!(s.repeat_seconds, repeat, "{pairs:?}"),
            (Err(AppError::Internal(message)), Err(names)) => {
                assert!(message.contains(names), "{message}")
            }
            (other, _) => panic!("{pairs:?} gave {other:?}"),
        }
    }
}

#[test]
fn provider_settings_default_to_production_and_take_a_base_override() {
    let base = |pairs: &[(&str, &str)]| match settings(pairs).email.map(|e| e.transport) {
        Some(EmailTransport::Api(api)) => api.base_url,
        other => panic!("{other:?}"),
    };
    let common = [("ALERT_FROM", "a@x.example"), ("ALERT_TO", "b@x.example"), ("ALERT_EMAIL_API_KEY", "k")];
    let with = |extra: &[(&'static str, &'static str)]| [&common[..], extra].concat();
    assert_eq!(base(&with(&[("ALERT_EMAIL_PROVIDER", "Postmark")])), "https://api.postmarkapp.com");
    assert_eq!(base(&with(&[("ALERT_EMAIL_PROVIDER", "sendgrid")])), "https://api.sendgrid.com");
    assert_eq!(
        base(&with(&[
            ("ALERT_EMAIL_PROVIDER", "mailgun"),
            ("MAILGUN_DOMAIN", "mg.x.example"),
            ("ALERT_EMAIL_API_BASE", "https://api.eu.mailgun.net/")
        ])),
        "https://api.eu.mailgun.net"
    );
    assert_eq!(
        resend().email.map(|e| e.transport),
        Some(EmailTransport::Api(ApiSettings {
            provider: Provider::Resend,
            api_key: "re_test".into(),
            base_url: "http://127.0.0.1:9".into(),
        }))
    );
}

fn silenced(matcher: Matcher, from: u64, until: u64) -> Silences {
    let mut silences = Silences::default();
    let new = NewSilence { matcher, until, comment: "working on it".into(), created_by: Some("ana".into()) };
    silences.add(new, from).expect("room");
    silences
}

fn tick_silenced(
    state: &NotifyState,
    alerts: &[AlertSnapshot],
    silences: &Silences,
    now: u64,
    fake: &FakeNotifier,
) -> NotifyState {
    block_on(run(state, alerts, silences, now, &resend(), fake)).0
}

#[test]
fn a_silenced_alert_sends_nothing_and_is_announced_when_the_silence_ends() {
    let fake = FakeNotifier::default();
    let silences = silenced(Matcher::Domain("gmail.com".into()), T0, T0 + HOUR);
    let mut state = NotifyState::default();
    for minute in 0..60 {
        state = tick_silenced(&state, &[firing("gmail.com")], &silences, T0 + minute * MINUTE, &fake);
    }
    assert_eq!(fake.subjects().len(), 0, "nothing while silenced");
    state = tick_silenced(&state, &[firing("gmail.com")], &silences, T0 + HOUR, &fake);
    assert_eq!(fake.subjects().len(), 1, "the first notification once the silence has ended");
    tick_silenced(&state, &[firing("gmail.com")], &silences, T0 + HOUR + MINUTE, &fake);
    assert_eq!(fake.subjects().len(), 1);
}

#[test]
fn a_reminder_due_during_a_silence_goes_out_once_when_it_ends() {
    let fake = FakeNotifier::default();
    let mut state = tick_silenced(&NotifyState::default(), &[firing("gmail.com")], &Silences::default(), T0, &fake);
    assert_eq!(fake.subjects().len(), 1, "fired before the silence");
    let silences = silenced(Matcher::All, T0 + MINUTE, T0 + 6 * HOUR);
    for hour in 1..6 {
        state = tick_silenced(&state, &[firing("gmail.com")], &silences, T0 + hour * HOUR, &fake);
    }
    assert_eq!(fake.subjects().len(), 1, "no reminder while silenced, though one fell due at 4 h");
    state = tick_silenced(&state, &[firing("gmail.com")], &silences, T0 + 6 * HOUR, &fake);
    assert_eq!(fake.subjects().len(), 2, "the reminder, at the first run after the silence");
    tick_silenced(&state, &[firing("gmail.com")], &silences, T0 + 6 * HOUR + MINUTE, &fake);
    assert_eq!(fake.subjects().len(), 2, "and only once");
}

#[test]
fn an_alert_resolving_under_a_silence_resolves_quietly_and_other_domains_still_notify() {
    let fake = FakeNotifier::default();
    let state = tick_silenced(&NotifyState::default(), &[firing("gmail.com")], &Silences::default(), T0, &fake);
    let silences = silenced(Matcher::Domain("gmail.com".into()), T0, T0 + HOUR);
    let state = tick_silenced(&state, &[firing("yahoo.com")], &silences, T0 + MINUTE, &fake);
    assert_eq!(state.announced.keys().collect::<Vec<_>>(), ["yahoo.com"], "gmail.com is no longer announced");
    let subjects = fake.subjects();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects[1].starts_with("[bouncewatch] yahoo.com:"), "no resolved for gmail.com: {subjects:?}");
}
