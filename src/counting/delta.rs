//! What a webhook request hands the counting object: its events, each cut down to what is counted and an
//! 8-byte id, grouped by the shard that owns their recipient domain. Built at the edge (the Worker verified,
//! parsed and classified the events), applied by the object, which alone decides what is new.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::breakdown::{for_each_value, Dimension};
use crate::classify::{is_fallback_rule, Category};
use crate::counters::{sample_text, Counted, MAX_SAMPLES_PER_CATEGORY};
use crate::esp::Nonce;
use crate::event::{EventKind, NormalizedEvent};
use crate::provider::consumer::consumer_platform;
use crate::provider::{signed_by, Provider};
use crate::settings::Settings;

/// Distinct reply texts forwarded per (bucket, domain, category): the object keeps three samples, and a
/// few more let the texts it already holds gain counts, without sending every reply of a big batch.
const FORWARDED_SAMPLES: usize = 2 * MAX_SAMPLES_PER_CATEGORY;

/// One event as the object counts it. Field names are one letter: a 1,000-event batch is 1,000 of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaEvent {
    /// The event's id: the first 8 bytes of SHA-256 over the ESP's name and its event id.
    #[serde(rename = "i")]
    pub id: u64,
    /// Index into [`Delta::domains`].
    #[serde(rename = "d")]
    pub domain: u32,
    /// The bucket it is counted in (its own time, or the time of receipt when stamped in the future).
    #[serde(rename = "b")]
    pub bucket: u64,
    /// The bucket of its own timestamp when that differs from `bucket`: where its id is remembered, so that
    /// a redelivery received later is still recognised.
    #[serde(rename = "s", default, skip_serializing_if = "Option::is_none")]
    pub stated: Option<u64>,
    #[serde(rename = "k")]
    pub kind: EventKind,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub smtp_code: Option<u16>,
    #[serde(rename = "g", default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// Index into [`Delta::samples`].
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u32>,
    /// Index into [`Delta::rules`]: the rule that decided `category`.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<u32>,
    /// Indices into [`Delta::streams`]: the sending IP, pool, domain and tags it was sent with.
    #[serde(rename = "v", default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<u32>,
}

impl DeltaEvent {
    /// The bucket whose row remembers this event's id.
    pub fn id_bucket(&self) -> u64 {
        self.stated.unwrap_or(self.bucket)
    }

    /// The event as [`crate::counters::Counts::add`] takes it, with what [`Delta::resolve`] found.
    pub fn counted<'a>(
        &self,
        sample: Option<&'a str>,
        rule: Option<&'a str>,
        streams: &'a [(Dimension, &'a str)],
    ) -> Counted<'a> {
        Counted { kind: self.kind, smtp_code: self.smtp_code, category: self.category, rule, sample, streams }
    }
}

/// One request's events for one counting object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub domains: Vec<String>,
    pub samples: Vec<String>,
    /// The rule ids the events name, each once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    /// The distinct dimension values the events name, each once: a batch sent from three IPs carries
    /// three strings, and each event small indices into them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<(Dimension, String)>,
    /// Domains (indices into [`Delta::domains`]) a reply of this request named the provider of by its own
    /// signature (`gsmtp`, `protection.outlook.com`…), each once: the object files the domain under it
    /// before any MX look-up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed: Vec<(u32, Provider)>,
    pub events: Vec<DeltaEvent>,
    /// A token the ESP's signature uses once (Mailgun), with the body it came on: the object refuses the
    /// whole delta if it has seen the token on another body, and records it with the counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<Nonce>,
    /// The ESP the events came from, for the object's webhook counters (`GET /metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp: Option<String>,
}

impl Delta {
    /// `event`'s sample and rule, and its dimension values pushed onto `streams`, its indices resolved;
    /// `Err` names an index the delta does not carry (a corrupt request, never a panic).
    pub fn resolve<'d>(
        &'d self,
        event: &DeltaEvent,
        streams: &mut Vec<(Dimension, &'d str)>,
    ) -> Result<(Option<&'d str>, Option<&'d str>), &'static str> {
        let text = |list: &'d [String], index: Option<u32>, what| match index {
            Some(i) => list.get(i as usize).map(|s| Some(s.as_str())).ok_or(what),
            None => Ok(None),
        };
        let sample = text(&self.samples, event.sample, "sample index")?;
        let rule = text(&self.rules, event.rule, "rule index")?;
        streams.reserve(event.streams.len());
        for &i in &event.streams {
            let (dimension, value) = self.streams.get(i as usize).ok_or("stream index")?;
            streams.push((*dimension, value.as_str()));
        }
        Ok((sample, rule))
    }
}

/// A request's events, split by shard, and what was left out before any storage was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// `(shard, delta)`, shards in order, only those with events.
    pub deltas: Vec<(u32, Delta)>,
    /// Events older than the history (`HISTORY_DAYS`): nothing is kept that far back to add them to.
    /// Those older than the retention but inside the history go to the object, which backfills them.
    pub stale: usize,
    /// Events stamped in the future (clock skew at the ESP), counted at the time of receipt.
    pub clamped: usize,
    /// Events of a kind that is not counted (opens, clicks, `processed`…).
    pub ignored: usize,
}

/// The 8-byte id the object de-duplicates on. SHA-256 rather than a fast hash because it is stored: it
/// must never change across versions, and ids from two ESPs must not collide by construction.
pub fn event_id(event: &NormalizedEvent) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(event.esp.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(event.event_id.as_bytes());
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The shard that owns a recipient domain: every count, id and alert of a domain lives in one object.
pub fn shard_of(domain: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    // FNV-1a: stable across versions and platforms, and a domain is short.
    let hash = domain.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    (hash % u64::from(shards)) as u32
}

/// Cuts a request's events into deltas. Pure: no storage, no clock but `now`.
pub fn prepare(events: &[NormalizedEvent], now: u64, settings: &Settings) -> Prepared {
    let oldest_kept = super::history::first_kept_day(settings, now);
    let mut prepared = Prepared::default();
    let mut by_shard: BTreeMap<u32, Builder> = BTreeMap::new();
    for event in events {
        if event.kind == EventKind::Other {
            prepared.ignored += 1;
            continue;
        }
        let stated = settings.bucket_of(event.occurred_at);
        let bucket = if event.occurred_at > now {
            prepared.clamped += 1;
            settings.bucket_of(now)
        } else {
            stated
        };
        if bucket < oldest_kept {
            prepared.stale += 1;
            continue;
        }
        let shard = shard_of(&event.recipient_domain, settings.counter_shards);
        by_shard.entry(shard).or_default().push(event, bucket, stated);
    }
    prepared.deltas = by_shard.into_iter().map(|(shard, builder)| (shard, builder.delta)).collect();
    prepared
}

#[derive(Default)]
struct Builder {
    delta: Delta,
    domains: BTreeMap<String, u32>,
    rules: BTreeMap<&'static str, u32>,
    /// Sample texts already forwarded, per (bucket, domain, category, whether only the code-class
    /// fallback classified it), as indices into `delta.samples`: the object keeps fallback samples apart.
    forwarded: BTreeMap<(u64, u32, Category, bool), Vec<u32>>,
    /// Indices into `delta.streams`, per dimension (in [`Dimension::ALL`] order), looked up by `&str`.
    streams: [BTreeMap<String, u32>; 4],
    /// Domains whose provider need not be read from a reply: signed already in this delta, or in the
    /// consumer table.
    settled_providers: std::collections::BTreeSet<u32>,
}

impl Builder {
    fn push(&mut self, event: &NormalizedEvent, bucket: u64, stated: u64) {
        let domain = match self.domains.get(&event.recipient_domain) {
            Some(&index) => index,
            None => {
                let index = self.delta.domains.len() as u32;
                self.delta.domains.push(event.recipient_domain.clone());
                self.domains.insert(event.recipient_domain.clone(), index);
                index
            }
        };
        if let Some(reply) = &event.reply {
            self.sign(domain, &event.recipient_domain, reply, event.rule);
        }
        let fallback = event.rule.is_some_and(is_fallback_rule);
        let sample = match (&event.reply, event.category) {
            (Some(reply), Some(category)) => self.sample((bucket, domain, category, fallback), sample_text(reply)),
            _ => None,
        };
        let rule = event.rule.map(|rule| {
            let next = self.rules.len() as u32;
            *self.rules.entry(rule).or_insert_with(|| {
                self.delta.rules.push(rule.to_owned());
                next
            })
        });
        let mut streams = Vec::new();
        for_each_value(&event.sending, |dimension, value| streams.push(self.stream(dimension, value)));
        self.delta.events.push(DeltaEvent {
            id: event_id(event),
            domain,
            bucket,
            stated: (stated != bucket).then_some(stated),
            kind: event.kind,
            smtp_code: event.smtp_code,
            category: event.category,
            sample,
            rule,
            streams,
        });
    }

    fn sign(&mut self, index: u32, domain: &str, reply: &str, rule: Option<&str>) {
        if self.settled_providers.contains(&index) {
            return;
        }
        if consumer_platform(domain).is_some() {
            self.settled_providers.insert(index);
        } else if let Some(platform) = signed_by(reply, rule) {
            self.delta.signed.push((index, platform.into()));
            self.settled_providers.insert(index);
        }
    }

    fn stream(&mut self, dimension: Dimension, value: &str) -> u32 {
        let known = &mut self.streams[dimension as usize];
        if let Some(&index) = known.get(value) {
            return index;
        }
        let index = self.delta.streams.len() as u32;
        self.delta.streams.push((dimension, value.to_owned()));
        known.insert(value.to_owned(), index);
        index
    }

    fn sample(&mut self, key: (u64, u32, Category, bool), text: &str) -> Option<u32> {
        if text.is_empty() {
            return None;
        }
        let forwarded = self.forwarded.entry(key).or_default();
        if let Some(&index) = forwarded.iter().find(|&&i| self.delta.samples[i as usize] == text) {
            return Some(index);
        }
        if forwarded.len() >= FORWARDED_SAMPLES {
            return None;
        }
        let index = self.delta.samples.len() as u32;
        self.delta.samples.push(text.to_owned());
        forwarded.push(index);
        Some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Esp;

    fn event(id: &str, kind: EventKind, at: u64, domain: &str, reply: Option<&str>) -> NormalizedEvent {
        NormalizedEvent {
            esp: Esp::Generic,
            event_id: id.into(),
            kind,
            occurred_at: at,
            recipient_domain: domain.into(),
            smtp_code: reply.map(|_| 451),
            enhanced_code: None,
            reply: reply.map(str::to_owned),
            category: reply.map(|_| Category::PolicyRejected),
            permanence: None,
            rule: reply.map(|_| "text.policy"),
            sending: Default::default(),
        }
    }

    #[test]
    fn a_signed_reply_names_its_hosted_domain_s_provider_once_and_never_a_consumer_domain_s() {
        let gsmtp = "421 4.7.28 Our system has detected an unusual rate of unsolicited mail - gsmtp";
        let events = [
            event("a", EventKind::Deferred, 9_000, "corp.example", Some("451 4.7.1 try later")),
            event("b", EventKind::Deferred, 9_000, "corp.example", Some(gsmtp)),
            event("c", EventKind::Deferred, 9_000, "corp.example", Some(gsmtp)),
            event("d", EventKind::Deferred, 9_000, "gmail.com", Some(gsmtp)),
            event("e", EventKind::Deferred, 9_000, "other.example", Some("451 4.7.1 try later")),
        ];
        let prepared = prepare(&events, 10_000, &Settings::default());
        let [(0, delta)] = prepared.deltas.as_slice() else { panic!("one shard: {prepared:?}") };
        let signed: Vec<(&str, String)> =
            delta.signed.iter().map(|(i, p)| (delta.domains[*i as usize].as_str(), p.id().into_owned())).collect();
        assert_eq!(signed, [("corp.example", "google".to_owned())]);
    }

    #[test]
    fn events_land_in_the_bucket_of_their_event_time() {
        let events = [
            event("a", EventKind::Delivered, 9_000, "gmail.com", None),
            event("b", EventKind::Deferred, 9_100, "gmail.com", Some("451 4.7.1 try later")),
            event("c", EventKind::Deferred, 9_700, "outlook.com", Some("451 4.7.1 try later")),
        ];
        let prepared = prepare(&events, 10_000, &Settings::default());
        let [(0, delta)] = prepared.deltas.as_slice() else { panic!("one shard: {prepared:?}") };
        let buckets: Vec<u64> = delta.events.iter().map(|e| e.bucket).collect();
        assert_eq!(buckets, [9_000, 9_000, 9_600]);
        assert_eq!(delta.domains, ["gmail.com", "outlook.com"]);
        assert_eq!(delta.samples, ["451 4.7.1 try later", "451 4.7.1 try later"], "one per domain");
        assert_eq!(delta.rules, ["text.policy"], "each rule id once");
        let rules: Vec<Option<u32>> = delta.events.iter().map(|e| e.rule).collect();
        assert_eq!(rules, [None, Some(0), Some(0)]);
        assert!(delta.events.iter().all(|e| e.stated.is_none()));
    }

    #[test]
    fn stale_events_are_left_out_other_kinds_ignored_and_future_ones_clamped_but_remembered_where_stamped() {
        let settings = Settings::default();
        let now = 1_000 * 86_400;
        let events = [
            event("old", EventKind::Delivered, now - settings.history_secs - 86_400, "gmail.com", None),
            event("future", EventKind::Delivered, now + 3_600, "gmail.com", None),
            event("open", EventKind::Other, now, "gmail.com", None),
            // Past the hourly retention, inside the history: the object backfills it.
            event("backfill", EventKind::Delivered, now - settings.retention_secs - 600, "gmail.com", None),
        ];
        let prepared = prepare(&events, now, &settings);
        assert_eq!((prepared.stale, prepared.clamped, prepared.ignored), (1, 1, 1));
        let delta = &prepared.deltas[0].1;
        assert_eq!(delta.events.len(), 2);
        assert_eq!(delta.events[0].bucket, settings.bucket_of(now));
        assert_eq!(delta.events[0].id_bucket(), settings.bucket_of(now + 3_600));
        assert_eq!(delta.events[1].bucket, settings.bucket_of(now - settings.retention_secs - 600));
    }

    #[test]
    fn ids_depend_on_the_esp_and_its_event_id_only() {
        let a = event("x1", EventKind::Delivered, 1, "gmail.com", None);
        let mut same = event("x1", EventKind::Bounced, 99, "other.example", Some("550 no"));
        assert_eq!(event_id(&a), event_id(&same));
        same.esp = Esp::Mailgun;
        assert_ne!(event_id(&a), event_id(&same));
        // Pinned: ids are stored, so the hash may never change.
        assert_eq!(event_id(&a), 6_142_164_857_891_024_650);
    }

    #[test]
    fn shards_split_by_domain_and_keep_a_domain_in_one() {
        let settings = Settings { counter_shards: 4, ..Settings::default() };
        let events: Vec<_> = (0..200)
            .map(|i| event(&format!("e{i}"), EventKind::Delivered, 9_000, &format!("d{}.example", i % 40), None))
            .collect();
        let prepared = prepare(&events, 10_000, &settings);
        assert!(prepared.deltas.len() > 1);
        let mut owners: BTreeMap<&str, u32> = BTreeMap::new();
        for (shard, delta) in &prepared.deltas {
            for domain in &delta.domains {
                assert_eq!(*owners.entry(domain).or_insert(*shard), *shard);
                assert_eq!(shard_of(domain, 4), *shard);
            }
        }
        assert_eq!(prepared.deltas.iter().map(|(_, d)| d.events.len()).sum::<usize>(), 200);
    }

    #[test]
    fn dimension_values_are_carried_once_per_delta_and_events_point_at_them() {
        use crate::event::Sending;
        let sent = |ip: &str, tags: &[&str]| Sending {
            sending_ip: Some(ip.parse().expect("a test IP")),
            tags: tags.iter().copied().collect(),
            ..Sending::default()
        };
        let mut events: Vec<_> = (0..100)
            .map(|i| {
                let ip = if i % 2 == 0 { "198.51.100.7" } else { "198.51.100.8" };
                let e = event(&format!("e{i}"), EventKind::Deferred, 9_000, "gmail.com", Some("451 4.7.1 later"));
                NormalizedEvent { sending: sent(ip, &["news", "campaign:spring"]), ..e }
            })
            .collect();
        events.push(event("bare", EventKind::Delivered, 9_000, "gmail.com", None));
        let delta = &prepare(&events, 10_000, &Settings::default()).deltas[0].1;
        assert_eq!(
            delta.streams,
            [
                (Dimension::SendingIp, "198.51.100.7".to_owned()),
                (Dimension::Tag, "news".to_owned()),
                (Dimension::Tag, "campaign:spring".to_owned()),
                (Dimension::SendingIp, "198.51.100.8".to_owned()),
            ]
        );
        assert_eq!(delta.events[1].streams, [3, 1, 2]);
        assert!(delta.events[100].streams.is_empty());
        let json = serde_json::to_string(&delta.events[100]).unwrap();
        assert!(!json.contains("\"v\""), "an event without dimensions carries nothing: {json}");
        assert_eq!(serde_json::from_str::<Delta>(&serde_json::to_string(delta).unwrap()).unwrap(), *delta);
    }

    #[test]
    fn a_big_batch_forwards_a_bounded_set_of_sample_texts() {
        let events: Vec<_> = (0..1000)
            .map(|i| {
                event(&format!("e{i}"), EventKind::Deferred, 9_000, "gmail.com", Some(&format!("451 try later {i}")))
            })
            .collect();
        let delta = &prepare(&events, 10_000, &Settings::default()).deltas[0].1;
        assert_eq!(delta.samples.len(), FORWARDED_SAMPLES);
        assert_eq!(delta.events.iter().filter(|e| e.sample.is_some()).count(), FORWARDED_SAMPLES);
    }
}
