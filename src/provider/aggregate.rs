//! Per-provider totals from per-domain counts, and how an alert names a provider.
//!
//! The mapping is applied when counts are summed, not frozen into them at ingest: a domain resolved an
//! hour after its first deferrals joins its provider with its whole history.

use std::collections::BTreeMap;

use super::consumer::consumer_platform;
use super::Provider;
use crate::counters::{Counts, DomainCounts};

/// One provider's counts over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderTotals {
    pub provider: Provider,
    /// Every domain's counts merged ([`Counts::merge`]).
    pub counts: Counts,
    /// How many domains it spans.
    pub domains: usize,
    /// Its busiest domains (by attempts, then 451s, then name), at most the `top` asked for.
    pub top_domains: Vec<(String, Counts)>,
}

/// Sums `counts` per provider. `provider_of` maps a domain to its provider (the cached resolution, or
/// [`Provider::Unknown`]). Providers come busiest first (attempts, then 451s, then id), each with its `top`
/// busiest domains.
pub fn by_provider(counts: &DomainCounts, provider_of: impl Fn(&str) -> Provider, top: usize) -> Vec<ProviderTotals> {
    let mut groups: BTreeMap<Provider, Vec<(&String, &Counts)>> = BTreeMap::new();
    for (domain, domain_counts) in counts {
        groups.entry(provider_of(domain)).or_default().push((domain, domain_counts));
    }
    let mut totals: Vec<ProviderTotals> = groups
        .into_iter()
        .map(|(provider, mut domains)| {
            let mut sum = Counts::default();
            for (_, c) in &domains {
                sum.merge(c);
            }
            crate::sort::sort_by(&mut domains, |(a_name, a), (b_name, b)| busiest_first((a, a_name), (b, b_name)));
            let top_domains = domains.iter().take(top).map(|(d, c)| ((*d).clone(), (*c).clone())).collect();
            ProviderTotals { provider, counts: sum, domains: domains.len(), top_domains }
        })
        .collect();
    crate::sort::sort_by(&mut totals, |a, b| busiest_first((&a.counts, &a.provider), (&b.counts, &b.provider)));
    totals
}

fn busiest_first<K: Ord>(a: (&Counts, K), b: (&Counts, K)) -> std::cmp::Ordering {
    (b.0.attempts(), b.0.smtp_451).cmp(&(a.0.attempts(), a.0.smtp_451)).then_with(|| a.1.cmp(&b.1))
}

/// How many of a provider's own domains an alert names before it counts the rest.
const MAX_NAMED: usize = 3;

/// A provider as an alert names it: `"Microsoft (outlook.com, hotmail.com and 38 hosted domains)"`.
///
/// `domains` are the provider's busiest domains, busiest first, and `total` how many it spans (at least
/// `domains.len()`). The provider's own consumer domains are named (up to three); the rest are "hosted
/// domains" when none of those listed is a consumer domain, else "more domains". A provider with no
/// consumer domain among them (a gateway, an `other:` host) names its busiest two.
pub fn describe(provider: &Provider, domains: &[&str], total: usize) -> String {
    let own: Vec<&str> = match provider {
        Provider::Platform(p) => {
            domains.iter().copied().filter(|d| consumer_platform(d) == Some(*p)).take(MAX_NAMED).collect()
        }
        _ => Vec::new(),
    };
    let named: Vec<&str> = if own.is_empty() { domains.iter().copied().take(2).collect() } else { own };
    let rest: Vec<&str> = domains.iter().copied().filter(|d| !named.contains(d)).collect();
    let name = provider.name();
    if named.is_empty() {
        return name.into_owned();
    }
    let rest_phrase = match rest.len().max(total.saturating_sub(named.len())) {
        0 => None,
        n => {
            let kind = if rest.iter().any(|d| consumer_platform(d).is_some()) { "more" } else { "hosted" };
            Some(format!("{n} {kind} domain{}", if n == 1 { "" } else { "s" }))
        }
    };
    let mut items: Vec<String> = named.iter().map(|d| (*d).to_owned()).collect();
    items.extend(rest_phrase);
    let list = match items.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, init)) => format!("{} and {last}", init.join(", ")),
        None => String::new(),
    };
    format!("{name} ({list})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Platform;

    fn counts(delivered: u64, deferred_451: u64) -> Counts {
        Counts { delivered, deferred: deferred_451, smtp_451: deferred_451, ..Counts::default() }
    }

    #[test]
    fn forty_small_hosted_domains_sum_into_one_microsoft_spike() {
        let mut per_domain = DomainCounts::new();
        per_domain.insert("outlook.com".into(), counts(30, 10));
        per_domain.insert("hotmail.com".into(), counts(20, 8));
        for n in 0..40 {
            per_domain.insert(format!("corp{n:02}.example"), counts(3, 2));
        }
        per_domain.insert("gmail.com".into(), counts(500, 1));
        per_domain.insert("pending.example".into(), counts(4, 0));
        let microsoft: Provider = Platform::Microsoft.into();
        let totals = by_provider(
            &per_domain,
            |d| match d {
                "gmail.com" => Platform::Google.into(),
                "pending.example" => Provider::Unknown,
                _ => microsoft.clone(),
            },
            3,
        );
        let ids: Vec<String> = totals.iter().map(|t| t.provider.id().into_owned()).collect();
        assert_eq!(ids, ["google", "microsoft", "unknown"]);
        let ms = &totals[1];
        assert_eq!((ms.domains, ms.counts.smtp_451, ms.counts.attempts()), (42, 98, 268));
        let top: Vec<&str> = ms.top_domains.iter().map(|(d, _)| d.as_str()).collect();
        assert_eq!(top, ["outlook.com", "hotmail.com", "corp00.example"]);
    }

    #[test]
    fn an_alert_names_the_providers_own_domains_and_counts_the_hosted_ones() {
        let microsoft: Provider = Platform::Microsoft.into();
        let mut domains = vec!["corp00.example", "outlook.com", "hotmail.com"];
        let hosted: Vec<String> = (1..38).map(|n| format!("corp{n:02}.example")).collect();
        domains.extend(hosted.iter().map(String::as_str));
        assert_eq!(
            describe(&microsoft, &domains, domains.len()),
            "Microsoft (outlook.com, hotmail.com and 38 hosted domains)"
        );
        assert_eq!(
            describe(&microsoft, &domains[..5], 40),
            "Microsoft (outlook.com, hotmail.com and 38 hosted domains)",
            "the domains not listed are counted"
        );
        assert_eq!(describe(&microsoft, &["outlook.com", "hotmail.com"], 2), "Microsoft (outlook.com and hotmail.com)");
        assert_eq!(
            describe(&microsoft, &["outlook.com", "corp.example"], 2),
            "Microsoft (outlook.com and 1 hosted domain)"
        );
        assert_eq!(
            describe(&microsoft, &["outlook.com", "hotmail.com", "live.com", "msn.com", "a.example"], 5),
            "Microsoft (outlook.com, hotmail.com, live.com and 2 more domains)"
        );
        assert_eq!(describe(&microsoft, &[], 0), "Microsoft");
    }

    #[test]
    fn a_gateway_or_other_host_names_its_busiest_two_domains() {
        let proofpoint: Provider = Platform::Proofpoint.into();
        assert_eq!(
            describe(&proofpoint, &["a.example", "b.example", "c.example"], 3),
            "Proofpoint (a.example, b.example and 1 hosted domain)"
        );
        let other = Provider::Other("example-hosting.net".into());
        assert_eq!(describe(&other, &["a.example"], 1), "example-hosting.net (a.example)");
    }
}
