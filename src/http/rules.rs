//! `GET /api/rules?window=…`: how often each classification rule decided, over a window, from the same
//! counts as `/api/domains` (each counted event keeps the id of its rule, so nothing is written per
//! event for this). Users of every peer ask for it (listmonk #1334: false bounces with no way to see
//! why; Postfix-Deliverability-Analytics #4: hits per rule).
//!
//! The replies that only the code-class fallback classified (`fallback.*`, `unclassified` among them)
//! come first, whatever their hits: those are the ones to write rules for (`CLASSIFY_RULES`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::classify::{is_fallback_rule, Category};
use crate::counters::{BucketRange, Counts, Sample, Window};
use crate::counting::read::read_range;
use crate::counting::Counter;
use crate::error::AppError;
use crate::settings::Settings;
use crate::store::Store;

use super::stats::window_param;
use super::{Context, HttpRequest, HttpResponse};

/// One rule's hits with one category (the event's kind can change a rule's category: a timeout is
/// `expired` in a bounce after retries), and the reply seen most often among them, when one was kept.
#[derive(Debug, Serialize, PartialEq)]
pub struct RuleHits {
    pub rule: String,
    pub category: Category,
    pub hits: u64,
    /// Whether only the code-class fallback decided: a reply no text rule recognised.
    pub fallback: bool,
    pub sample: Option<String>,
}

#[derive(Serialize)]
struct RuleList {
    window: &'static str,
    rules: Vec<RuleHits>,
}

/// `GET /api/rules?window=…`.
pub async fn rules<S: Store, C: Counter>(req: &HttpRequest, ctx: &Context<'_, S, C>) -> Result<HttpResponse, AppError> {
    let window = window_param(req, &Window::HOURLY)?;
    let settings = Settings::from_config(ctx.config)?;
    let range = BucketRange::ending_at(ctx.now, window.secs(), &settings);
    let read = read_range(ctx.store, ctx.counter, &settings, range, None).await?;
    let mut all = Counts::default();
    for counts in crate::counters::sum_range(&read.buckets, range).values() {
        all.merge(counts);
    }
    Ok(HttpResponse::json(200, &RuleList { window: window.as_str(), rules: rule_hits(&all) }))
}

/// The hits of `counts` per (rule, category): fallback rules first, then by hits, most first.
pub fn rule_hits(counts: &Counts) -> Vec<RuleHits> {
    let mut best: BTreeMap<(&str, Category), &Sample> = BTreeMap::new();
    for sample in &counts.samples {
        if let Some(rule) = sample.rule.as_deref() {
            let seen = best.entry((rule, sample.category)).or_insert(sample);
            if sample.count > seen.count {
                *seen = sample;
            }
        }
    }
    let mut rules: Vec<RuleHits> = counts
        .rules
        .iter()
        .flat_map(|(rule, categories)| categories.iter().map(move |(category, hits)| (rule, *category, *hits)))
        .map(|(rule, category, hits)| RuleHits {
            rule: rule.clone(),
            category,
            hits,
            fallback: is_fallback_rule(rule),
            sample: best.get(&(rule.as_str(), category)).map(|s| s.reply.clone()),
        })
        .collect();
    crate::sort::sort_by(&mut rules, |a, b| {
        b.fallback.cmp(&a.fallback).then(b.hits.cmp(&a.hits)).then(a.rule.cmp(&b.rule))
    });
    rules
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Counted;
    use crate::event::EventKind;

    fn count(counts: &mut Counts, rule: &str, category: Category, reply: &str, times: usize) {
        for _ in 0..times {
            let event = Counted {
                kind: EventKind::Bounced,
                smtp_code: Some(550),
                category: Some(category),
                rule: Some(rule),
                sample: Some(reply),
                streams: &[],
            };
            counts.add(event);
        }
    }

    #[test]
    fn fallback_rules_come_first_then_the_most_hits_each_with_its_commonest_sample() {
        let mut counts = Counts::default();
        count(&mut counts, "code.x.1.1", Category::MailboxUnknown, "550 5.1.1 user unknown", 9);
        count(&mut counts, "code.x.1.1", Category::MailboxUnknown, "550 5.1.1 no such user", 2);
        count(&mut counts, "text.spamhaus", Category::ReputationBlocked, "554 listed at spamhaus", 4);
        count(&mut counts, "fallback.basic.550", Category::MailboxUnknown, "550 computer says no", 1);
        count(&mut counts, "fallback.unclassified", Category::Unclassified, "554 nope", 2);
        let hits = rule_hits(&counts);
        let order: Vec<(&str, u64)> = hits.iter().map(|r| (r.rule.as_str(), r.hits)).collect();
        assert_eq!(
            order,
            [("fallback.unclassified", 2), ("fallback.basic.550", 1), ("code.x.1.1", 11), ("text.spamhaus", 4)]
        );
        assert_eq!(hits[2].sample.as_deref(), Some("550 5.1.1 user unknown"));
        assert_eq!(hits[1].sample.as_deref(), Some("550 computer says no"));
        assert!(hits[0].fallback && !hits[3].fallback);
    }
}
