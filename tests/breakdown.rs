//! Breakdowns by sending IP, pool, domain and tag: what is counted, what the cap keeps, how sums merge,
//! and the sentence an alert carries (src/breakdown.rs).

mod common;

use bouncewatch::breakdown::{
    breakdown, concentration, concentration_sentence, Dimension, DimensionCounts, Tally, MAX_VALUES, MIN_451,
};
use bouncewatch::event::{EventKind, NormalizedEvent, Sending};
use proptest::prelude::*;

/// A delivery, or (`deferred`) a 451 deferral, sent with `sending`.
fn event(deferred: bool, sending: Sending) -> NormalizedEvent {
    let kind = if deferred { EventKind::Deferred } else { EventKind::Delivered };
    NormalizedEvent { sending, ..common::synthetic_event("gmail.com", kind, 1_700_000_000, None) }
}

fn from_ip(ip: &str) -> Sending {
    Sending { sending_ip: Some(ip.parse().expect("a test IP")), ..Sending::default() }
}

fn tagged(ip: &str, tag: &str) -> Sending {
    Sending { tags: [tag].into_iter().collect(), ..from_ip(ip) }
}

/// `(sending, attempts, 451s)` rows counted into one `DimensionCounts`.
fn counted(rows: &[(Sending, u64, u64)]) -> DimensionCounts {
    let mut counts = DimensionCounts::default();
    for (sending, attempts, deferrals) in rows {
        for i in 0..*attempts {
            counts.add_event(&event(i < *deferrals, sending.clone()));
        }
    }
    counts
}

#[test]
fn ninety_percent_of_the_451s_from_one_of_three_ips_names_that_ip_with_its_share() {
    let counts = counted(&[
        (from_ip("198.51.100.7"), 100, 90),
        (from_ip("198.51.100.8"), 100, 5),
        (from_ip("198.51.100.9"), 100, 5),
    ]);
    let found = concentration(&counts).expect("concentrated");
    assert_eq!((found.dimension, found.value.as_str()), (Dimension::SendingIp, "198.51.100.7"));
    assert_eq!(
        concentration_sentence(&counts).as_deref(),
        Some(
            "90 % of the 451s came from sending IP 198.51.100.7 (33 % of the attempts): check that IP's reputation \
             (blocklists, Postmaster Tools, SNDS)"
        )
    );
    let shown = breakdown(&counts).expect("IPs were named");
    let top = &shown.sending_ip[0];
    assert_eq!(
        (top.value.as_str(), top.attempts, top.smtp_451, top.share, top.ratio_451),
        ("198.51.100.7", 100, 90, 0.9, 0.9)
    );
    assert_eq!(
        shown.sending_ip.iter().map(|v| v.value.as_str()).collect::<Vec<_>>(),
        ["198.51.100.7", "198.51.100.8", "198.51.100.9"]
    );
    assert!(shown.tag.is_empty() && shown.ip_pool.is_empty() && shown.sending_domain.is_empty());
}

#[test]
fn even_over_the_ips_but_concentrated_in_one_tag_names_the_tag() {
    // Each IP sends 50 newsletter and 50 welcome mails; the newsletter draws 30 451s on every IP.
    let mut rows = Vec::new();
    for ip in ["198.51.100.7", "198.51.100.8", "198.51.100.9"] {
        rows.push((tagged(ip, "campaign:newsletter"), 50, 30));
        rows.push((tagged(ip, "campaign:welcome"), 50, 1));
    }
    let counts = counted(&rows);
    let sentence = concentration_sentence(&counts).expect("enough 451s");
    assert_eq!(
        sentence,
        "97 % of the 451s came from tag campaign:newsletter (50 % of the attempts): check that campaign's content and list"
    );
}

#[test]
fn a_spike_spread_like_the_mail_says_so_and_points_at_content_and_authentication() {
    let counts = counted(&[
        (tagged("198.51.100.7", "a"), 100, 10),
        (tagged("198.51.100.8", "b"), 100, 11),
        (tagged("198.51.100.9", "c"), 100, 9),
    ]);
    assert_eq!(concentration(&counts), None);
    assert_eq!(
        concentration_sentence(&counts).as_deref(),
        Some("spread over all 3 sending IPs and all 3 tags: look at content and authentication")
    );
}

#[test]
fn one_ip_carrying_all_the_mail_is_not_a_concentration() {
    let counts = counted(&[(from_ip("198.51.100.7"), 100, 40)]);
    assert_eq!(concentration(&counts), None);
    let sentence = concentration_sentence(&counts).expect("enough 451s");
    assert!(sentence.starts_with("all the mail went out on one sending IP: nothing to compare"), "{sentence}");
}

#[test]
fn most_451s_on_a_value_that_also_carries_most_of_the_mail_is_not_a_concentration() {
    // 80 % of the 451s, but also 70 % of the attempts: that IP is most of the stream, not its problem.
    let counts = counted(&[(from_ip("198.51.100.7"), 70, 40), (from_ip("198.51.100.8"), 30, 10)]);
    assert_eq!(concentration(&counts), None);
}

#[test]
fn no_dimension_data_gives_no_breakdown_and_no_sentence() {
    let counts = counted(&[(Sending::default(), 100, 60)]);
    assert_eq!((counts.attempts, counts.smtp_451), (100, 60));
    assert_eq!(breakdown(&counts), None);
    assert_eq!(concentration_sentence(&counts), None);
    assert_eq!(serde_json::to_string(&counts).unwrap(), r#"{"attempts":100,"smtp_451":60}"#);
}

#[test]
fn too_few_451s_say_nothing() {
    let counts = counted(&[(from_ip("198.51.100.7"), 10, MIN_451 - 1), (from_ip("198.51.100.8"), 100, 0)]);
    assert_eq!(concentration_sentence(&counts), None);
    assert!(breakdown(&counts).is_some() && concentration_sentence(&counts).is_none());
}

#[test]
fn only_attempts_count_and_events_without_dimensions_still_count_in_the_totals() {
    let mut counts = DimensionCounts::default();
    let dropped = NormalizedEvent { kind: EventKind::Dropped, ..event(false, from_ip("198.51.100.7")) };
    assert!(!counts.add_event(&dropped));
    assert!(counts.add_event(&event(true, Sending::default())));
    assert!(counts.add_event(&event(true, from_ip("198.51.100.7"))));
    assert_eq!((counts.attempts, counts.smtp_451), (2, 2));
    let ips: Vec<(&str, Tally)> = counts.streams.sending_ip.values().collect();
    assert_eq!(ips, [("198.51.100.7", Tally { attempts: 1, smtp_451: 1 })]);
    // Half the 451s named an IP: the share is of all of them.
    assert_eq!(breakdown(&counts).unwrap().sending_ip[0].share, 0.5);
}

#[test]
fn counts_serialize_compactly_and_round_trip() {
    let counts = counted(&[(tagged("2001:db8::1", "t"), 3, 1)]);
    let json = serde_json::to_string(&counts).unwrap();
    assert_eq!(json, r#"{"attempts":3,"smtp_451":1,"ip":{"2001:db8::1":[3,1]},"tag":{"t":[3,1]}}"#);
    assert_eq!(serde_json::from_str::<DimensionCounts>(&json).unwrap(), counts);
}

#[test]
fn ten_thousand_tags_keep_the_heaviest_twenty_and_sum_the_rest_as_other() {
    let mut counts = DimensionCounts::default();
    let heavy = Sending { tags: ["heavy"].into_iter().collect(), ..Sending::default() };
    for _ in 0..50 {
        counts.add_event(&event(true, heavy.clone()));
    }
    for i in 0..10_000 {
        counts.add_event(&event(
            i % 2 == 0,
            Sending { tags: [format!("tag-{i}")].into_iter().collect(), ..Sending::default() },
        ));
    }
    let tags = &counts.streams.tag;
    assert_eq!(tags.values().count(), MAX_VALUES);
    assert!(tags.values().any(|(value, _)| value == "heavy"), "the heaviest tag is kept");
    let named: u64 = tags.values().map(|(_, t)| t.attempts).sum();
    assert_eq!(named + tags.other().attempts, 10_050, "nothing is lost from the totals");
    assert_eq!(counts.attempts, 10_050);
}

fn tags_strategy() -> impl Strategy<Value = Vec<(u8, bool)>> {
    // Tag numbers from a range wider than the cap, so some merges overflow it.
    prop::collection::vec((0u8..30, any::<bool>()), 0..80)
}

fn counted_tags(events: &[(u8, bool)]) -> DimensionCounts {
    let mut counts = DimensionCounts::default();
    for (tag, deferred) in events {
        counts.add_event(&event(
            *deferred,
            Sending { tags: [format!("t{tag}")].into_iter().collect(), ..Sending::default() },
        ));
    }
    counts
}

proptest! {
    #[test]
    fn merging_is_commutative_and_keeps_the_totals(a in tags_strategy(), b in tags_strategy()) {
        let (ca, cb) = (counted_tags(&a), counted_tags(&b));
        let mut ab = ca.clone();
        ab.merge(&cb);
        let mut ba = cb.clone();
        ba.merge(&ca);
        prop_assert_eq!(&ab, &ba);
        let total = |c: &DimensionCounts| c.streams.tag.values().map(|(_, t)| t.attempts).sum::<u64>() + c.streams.tag.other().attempts;
        prop_assert_eq!(total(&ab), (a.len() + b.len()) as u64);
        prop_assert!(ab.streams.tag.values().count() <= MAX_VALUES);
    }

    #[test]
    fn within_the_cap_merging_equals_counting_everything_at_once(
        a in prop::collection::vec((0u8..10, any::<bool>()), 0..40),
        b in prop::collection::vec((10u8..20, any::<bool>()), 0..40),
    ) {
        let mut merged = counted_tags(&a);
        merged.merge(&counted_tags(&b));
        let all: Vec<(u8, bool)> = a.iter().chain(&b).copied().collect();
        prop_assert_eq!(merged, counted_tags(&all));
    }
}
