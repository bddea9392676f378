use std::cell::{Cell, RefCell};

use pollster::block_on;

use super::*;
use crate::alert::{AlertState, CauseShare};
use crate::notify::Fetched;
use crate::silence::{Matcher, NewSilence};

const T0: u64 = 1_795_838_400;
const MINUTE: u64 = 60;
const SUSPENSION: &str = "9511a32e-66f8-42aa-b151-ccb176df47d9";

/// Records every request and answers as KumoMTA and a webhook receiver would; `fail_next` requests get a
/// 503 first.
#[derive(Default)]
struct FakeTargets {
    requests: RefCell<Vec<OutboundRequest>>,
    fail_next: Cell<u32>,
}

impl Notifier for FakeTargets {
    async fn send_email(&self, _: &str, _: &str, _: &str) -> Result<(), SendError> {
        unreachable!("actions send no email")
    }

    async fn fetch(&self, request: &OutboundRequest) -> Result<Fetched, SendError> {
        self.requests.borrow_mut().push(request.clone());
        if self.fail_next.get() > 0 {
            self.fail_next.set(self.fail_next.get() - 1);
            return Ok(Fetched { status: 503, body: String::new() });
        }
        let body = match (request.url.ends_with(KUMOMTA_SUSPEND_PATH), request.method) {
            (true, "POST") => format!(r#"{{"id": "{SUSPENSION}"}}"#),
            _ => String::new(),
        };
        Ok(Fetched { status: 200, body })
    }
}

fn settings() -> ActionSettings {
    let config = Config::from_pairs([
        ("ACTION_WEBHOOK_URL", "http://127.0.0.1:9/actions"),
        ("ACTION_KUMOMTA_URL", "http://127.0.0.1:8000/"),
        ("ACTION_KUMOMTA_TOKEN", "bouncewatch:s3cret"),
        ("ACTION_KUMOMTA_DURATION", "2h"),
    ]);
    ActionSettings::from_config(&config).expect("valid")
}

fn alert(domain: &str, cause: Category, state: AlertState, severity: Severity) -> AlertSnapshot {
    AlertSnapshot {
        scope: Scope::Domain(domain.into()),
        severity,
        state,
        since: T0 - 600,
        window_minutes: 15,
        smtp_451: 60,
        attempts: 160,
        ratio_451: 0.375,
        baseline_ratio: 0.01,
        causes: vec![CauseShare { category: cause, share: 0.9 }],
        samples: vec![],
        sources: Default::default(),
    }
}

fn firing(domain: &str, cause: Category) -> AlertSnapshot {
    alert(domain, cause, AlertState::Firing, Severity::Critical)
}

fn tick(
    state: &ActionState,
    alerts: &[AlertSnapshot],
    silences: &Silences,
    now: u64,
    fake: &FakeTargets,
) -> ActionState {
    block_on(run(state, alerts, silences, now, &settings(), fake)).0
}

fn body(request: &OutboundRequest) -> serde_json::Value {
    serde_json::from_str(&request.body).expect("JSON")
}

#[test]
fn the_suggestion_follows_the_cause_and_greylisting_gets_none() {
    let slow = Suggestion::for_cause(Category::RateLimited).expect("a suggestion");
    assert!(slow.kind == SuggestionKind::SlowDown && slow.rate_fraction == Some(0.5) && slow.text.contains("50 %"));
    for cause in [Category::ReputationBlocked, Category::PolicyRejected, Category::SpamContent, Category::AuthFailed] {
        let pause = Suggestion::for_cause(cause).expect("a suggestion");
        assert!(pause.kind == SuggestionKind::PauseStream && pause.text.contains("don't retry by hand"), "{cause:?}");
    }
    assert_eq!(Suggestion::for_cause(Category::Greylisted), None);
    let fake = FakeTargets::default();
    tick(&ActionState::default(), &[firing("gmail.com", Category::Greylisted)], &Silences::default(), T0, &fake);
    assert!(fake.requests.borrow().is_empty(), "greylisting: no action sent");
}

#[test]
fn each_target_gets_one_throttle_while_it_fires_and_one_resume_when_it_resolves() {
    let fake = FakeTargets::default();
    let none = Silences::default();
    let mut state = tick(&ActionState::default(), &[firing("gmail.com", Category::RateLimited)], &none, T0, &fake);
    for minute in 1..10 {
        state = tick(&state, &[firing("gmail.com", Category::RateLimited)], &none, T0 + minute * MINUTE, &fake);
    }
    {
        let requests = fake.requests.borrow();
        assert_eq!(requests.len(), 2, "{requests:?}");
        let hook = &requests[0];
        assert_eq!((hook.method, hook.url.as_str()), ("POST", "http://127.0.0.1:9/actions"));
        assert_eq!(
            hook.header("idempotency-key"),
            Some(format!("bouncewatch/{T0}-webhook-throttle-gmail.com").as_str())
        );
        let message = body(hook);
        assert_eq!(
            (
                message["action"].as_str(),
                message["scope"].as_str(),
                message["domain"].as_str(),
                message["cause"].as_str()
            ),
            (Some("throttle"), Some("domain"), Some("gmail.com"), Some("rate_limited"))
        );
        assert_eq!((message["ratio_451"].as_f64(), message["baseline_ratio"].as_f64()), (Some(0.375), Some(0.01)));
        assert_eq!(
            (message["suggestion"]["kind"].as_str(), message["suggestion"]["rate_fraction"].as_f64()),
            (Some("slow_down"), Some(0.5))
        );
        let kumo = &requests[1];
        assert_eq!((kumo.method, kumo.url.as_str()), ("POST", "http://127.0.0.1:8000/api/admin/suspend/v1"));
        // base64("bouncewatch:s3cret")
        assert_eq!(kumo.header("authorization"), Some("Basic Ym91bmNld2F0Y2g6czNjcmV0"));
        let suspend = body(kumo);
        assert_eq!((suspend["domain"].as_str(), suspend["duration"].as_str()), (Some("gmail.com"), Some("7200s")));
        assert!(suspend["reason"].as_str().unwrap().contains("rate limiting"));
    }
    let resolving = alert("gmail.com", Category::RateLimited, AlertState::Resolving, Severity::Critical);
    state = tick(&state, &[resolving], &none, T0 + 11 * MINUTE, &fake);
    assert_eq!(fake.requests.borrow().len(), 2, "still firing while it waits out the resolve hold");
    state = tick(&state, &[], &none, T0 + 20 * MINUTE, &fake);
    tick(&state, &[], &none, T0 + 21 * MINUTE, &fake);
    let requests = fake.requests.borrow();
    assert_eq!(requests.len(), 4, "{requests:?}");
    let resume = body(&requests[2]);
    assert_eq!((resume["action"].as_str(), resume["suggestion"]["kind"].as_str()), (Some("resume"), Some("resume")));
    assert_eq!(resume["cause"], "rate_limited");
    assert_eq!(
        (requests[3].method, requests[3].url.as_str()),
        ("DELETE", "http://127.0.0.1:8000/api/admin/suspend/v1")
    );
    assert_eq!(body(&requests[3]), json!({ "id": SUSPENSION }));
}

#[test]
fn a_failed_throttle_is_retried_with_the_same_message_and_not_repeated_once_delivered() {
    let fake = FakeTargets::default();
    fake.fail_next.set(1);
    let none = Silences::default();
    let alerts = [firing("gmail.com", Category::PolicyRejected)];
    let mut state = tick(&ActionState::default(), &alerts, &none, T0, &fake);
    assert_eq!(fake.requests.borrow().len(), 2, "the webhook failed, KumoMTA succeeded");
    for minute in 1..5 {
        state = tick(&state, &alerts, &none, T0 + minute * MINUTE, &fake);
    }
    let requests = fake.requests.borrow();
    assert_eq!(requests.len(), 3, "one retry, after a minute");
    assert_eq!((requests[2].url.as_str(), &requests[2].body), (requests[0].url.as_str(), &requests[0].body));
    assert_eq!(requests[2].header("idempotency-key"), requests[0].header("idempotency-key"));
    assert_eq!(body(&requests[0])["suggestion"]["kind"], "pause_stream");
}

#[test]
fn a_throttle_never_delivered_is_cancelled_at_resolve_instead_of_resumed() {
    let fake = FakeTargets::default();
    fake.fail_next.set(2);
    let none = Silences::default();
    let state = tick(&ActionState::default(), &[firing("gmail.com", Category::PolicyRejected)], &none, T0, &fake);
    let state = tick(&state, &[], &none, T0 + MINUTE, &fake);
    assert!(state.outbox.is_empty() && state.throttled.is_empty(), "{state:?}");
    assert_eq!(fake.requests.borrow().len(), 2, "no resume for what was never received");
}

#[test]
fn a_silence_mutes_the_throttle_but_not_the_resume_of_one_already_sent() {
    let mut silences = Silences::default();
    let new = NewSilence {
        matcher: Matcher::Domain("gmail.com".into()),
        until: T0 + 3600,
        comment: "c".into(),
        created_by: None,
    };
    silences.add(new, T0).expect("room");
    let fake = FakeTargets::default();
    let alerts = [firing("gmail.com", Category::PolicyRejected), firing("yahoo.com", Category::ReputationBlocked)];
    let state = tick(&ActionState::default(), &alerts, &silences, T0, &fake);
    let domains: Vec<String> =
        fake.requests.borrow().iter().map(|r| body(r)["domain"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(domains, ["yahoo.com", "yahoo.com"], "gmail.com is silenced");
    let mut silences_yahoo = Silences::default();
    let new = NewSilence { matcher: Matcher::All, until: T0 + 3600, comment: "c".into(), created_by: None };
    silences_yahoo.add(new, T0).expect("room");
    tick(&state, &[], &silences_yahoo, T0 + MINUTE, &fake);
    let requests = fake.requests.borrow();
    assert_eq!(requests.len(), 4, "both targets lift yahoo.com's throttle under the silence");
    assert_eq!(body(&requests[2])["action"], "resume");
    assert_eq!(requests[3].method, "DELETE");
}

#[test]
fn benign_and_sender_wide_alerts_and_pending_ones_are_not_acted_on() {
    let fake = FakeTargets::default();
    let mut sender_wide = firing("*", Category::PolicyRejected);
    sender_wide.scope = Scope::SenderWide { domains: vec!["a.example".into(), "b.example".into()] };
    let alerts = [
        alert("gmail.com", Category::PolicyRejected, AlertState::Firing, Severity::Benign),
        alert("yahoo.com", Category::PolicyRejected, AlertState::Pending, Severity::Critical),
        sender_wide,
    ];
    let state = tick(&ActionState::default(), &alerts, &Silences::default(), T0, &fake);
    assert!(fake.requests.borrow().is_empty());
    assert_eq!(state, ActionState::default(), "nothing stored either: the row is not rewritten");
}

#[test]
fn a_suspension_that_expired_before_the_resolve_counts_as_lifted() {
    struct Expired;
    impl Notifier for Expired {
        async fn send_email(&self, _: &str, _: &str, _: &str) -> Result<(), SendError> {
            unreachable!()
        }
        async fn fetch(&self, request: &OutboundRequest) -> Result<Fetched, SendError> {
            let status = if request.method == "DELETE" { 404 } else { 200 };
            Ok(Fetched { status, body: format!(r#"{{"id": "{SUSPENSION}"}}"#) })
        }
    }
    let none = Silences::default();
    let s = settings();
    let state =
        block_on(run(&ActionState::default(), &[firing("gmail.com", Category::RateLimited)], &none, T0, &s, &Expired))
            .0;
    let (state, delivered, failed) = block_on(run(&state, &[], &none, T0 + MINUTE, &s, &Expired));
    assert_eq!((delivered.len(), failed), (2, vec![]));
    assert!(state.outbox.is_empty());
}
