//! Counting at volume, simulated: days of webhook traffic, the cron every minute and a dashboard, through
//! the Worker's storage path (the counting objects on rusqlite, KV on a `MemoryStore`), with every billed
//! operation counted by type and held against the Free plan's daily quotas and the paid prices.
//!
//! `cargo test --release --test volume -- --nocapture` prints the tables the README's "Limits and costs"
//! quotes. `make test` runs it that way: simulating a few hundred thousand requests takes about a minute
//! optimized and ten times that in a debug build, so the debug run of `cargo test --all-targets` leaves
//! this file out.
#![cfg(not(debug_assertions))]

mod common;

use std::collections::BTreeMap;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::event::{Esp, EventKind, NormalizedEvent, Sending};
use bouncewatch::provider::doh;
use bouncewatch::settings::Settings;
use bouncewatch::store::OpCounts;
use common::World;

const DAY: u64 = 86_400;
/// Midnight UTC, so a simulated day is a Free plan day.
const START: u64 = 1_700_006_400 - 1_700_006_400 % DAY;

/// Free plan daily quotas (../shared/research/volume.md §1).
const FREE_KV_WRITES: u64 = 1_000;
const FREE_KV_LISTS: u64 = 1_000;
const FREE_KV_DELETES: u64 = 1_000;
const FREE_KV_READS: u64 = 100_000;
const FREE_DO_REQUESTS: u64 = 100_000;
const FREE_DO_ROWS_WRITTEN: u64 = 100_000;
const FREE_DO_ROWS_READ: u64 = 5_000_000;
const FREE_WORKER_REQUESTS: u64 = 100_000;
/// KV operations one invocation may make.
const KV_OPS_PER_INVOCATION: u64 = 1_000;

/// The KV operations made between two readings of the counters.
fn kv_since(before: OpCounts, after: OpCounts) -> OpCounts {
    OpCounts {
        gets: after.gets - before.gets,
        puts: after.puts - before.puts,
        lists: after.lists - before.lists,
        deletes: after.deletes - before.deletes,
    }
}

fn kv_total(ops: OpCounts) -> u64 {
    ops.gets + ops.puts + ops.lists + ops.deletes
}

/// What one simulated day cost, by billed operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct DayCost {
    kv: OpCounts,
    do_requests: u64,
    rows_read: u64,
    rows_written: u64,
    worker_requests: u64,
    events: u64,
    /// The most KV operations a single invocation made.
    max_kv_per_invocation: u64,
    /// The slowest cron run, natively, in microseconds (optimized build; a Worker in wasm is slower).
    /// Reported, never asserted: it measures the machine as much as the code.
    slowest_tick_us: u64,
    /// The most rows one cron run read: what bounds its time, independent of the machine.
    max_rows_read_per_tick: u64,
    /// MX look-ups over DNS-over-HTTPS (issue 13): subrequests of cron runs, not billed operations.
    doh_lookups: u64,
}

/// The traffic of one day.
#[derive(Debug, Clone, Copy)]
struct Traffic {
    one_event_requests: u64,
    batches: u64,
    batch_size: u64,
    domains: u64,
    /// Dashboard reads a day (`/api/domains?window=24h` and `/api/alerts` each).
    dashboard_polls: u64,
    /// Domains drawn evenly instead of by [`domain`]'s Zipf-like law: every one of them seen every day.
    uniform: bool,
}

impl Traffic {
    fn domain(&self, i: u64) -> String {
        if self.uniform {
            format!("u{}.example", i % self.domains)
        } else {
            domain(i, self.domains)
        }
    }
}

/// A recipient domain by a Zipf-like law over `n` domains: a few big ones, a long tail.
fn domain(i: u64, n: u64) -> String {
    let u = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
    let rank = ((n as f64).powf(u) - 1.0) as u64;
    format!("d{rank}.example")
}

fn event(id: String, at: u64, domain: String, i: u64) -> NormalizedEvent {
    let (kind, code, category, reply) = match i % 100 {
        0..=89 => (EventKind::Delivered, None, None, None),
        90..=96 => {
            (EventKind::Deferred, Some(451), Some(Category::RateLimited), Some("451 4.7.1 try again later".to_owned()))
        }
        _ => (EventKind::Bounced, Some(550), Some(Category::MailboxUnknown), Some("550 5.1.1 user unknown".to_owned())),
    };
    // What the classifier says of these replies, so the rows hold the per-rule hits they would.
    let rule = reply.as_deref().map(|r| bouncewatch::classify::classify(r).rule);
    NormalizedEvent {
        esp: Esp::Generic,
        event_id: id,
        kind,
        occurred_at: at,
        recipient_domain: domain,
        smtp_code: code,
        enhanced_code: None,
        reply,
        category,
        permanence: None,
        rule,
        sending: sending(i),
    }
}

/// What a sender with some streams sends with (issue 14): one of 4 IPs in 2 pools, one of 2 From
/// domains, one of 10 campaigns and a stream tag. Every event carries all four dimensions, so the
/// figures are the upper bound of what they cost.
fn sending(i: u64) -> Sending {
    let ip = (i / 7 % 4) as u8;
    Sending {
        sending_ip: Some(std::net::IpAddr::from([198, 51, 100, 7 + ip])),
        ip_pool: Some(format!("pool-{}", ip % 2)),
        sending_domain: Some(format!("mail{}.sender.example", i / 11 % 2)),
        tags: [format!("campaign:spring-{}", i / 13 % 10), "stream:outbound".to_owned()].into_iter().collect(),
    }
}

/// Runs `days` of `traffic`; returns the cost of each day.
fn simulate(world: &World, traffic: Traffic, days: u64) -> Vec<DayCost> {
    let mut costs = Vec::new();
    let mut serial = 0u64;
    for day in 0..days {
        let day_start = START + day * DAY;
        let kv_before = world.kv.ops();
        let (requests_before, sql_before) = (world.requests(), world.sql_ops());
        let lookups_before = world.resolver.lookups();
        let mut cost = DayCost::default();
        // Everything that happens in the day, in time order: webhooks, cron runs, dashboard polls.
        let mut moments: Vec<(u64, u8)> = Vec::new();
        moments.extend((0..traffic.one_event_requests).map(|i| (day_start + i * DAY / traffic.one_event_requests, 0)));
        moments.extend((0..traffic.batches).map(|i| (day_start + i * DAY / traffic.batches.max(1) + 1_800, 1)));
        moments.extend((0..1_440).map(|m| (day_start + m * 60, 2)));
        moments.extend(
            (0..traffic.dashboard_polls).map(|i| (day_start + i * DAY / traffic.dashboard_polls.max(1) + 7, 3)),
        );
        moments.sort_unstable();
        for (now, what) in moments {
            let kv_at = world.kv.ops();
            match what {
                0 => {
                    serial += 1;
                    let at = now.saturating_sub(5);
                    world.apply(&[event(format!("one-{serial}"), at, traffic.domain(serial), serial)], now);
                    cost.events += 1;
                }
                1 => {
                    let events: Vec<NormalizedEvent> = (0..traffic.batch_size)
                        .map(|j| {
                            serial += 1;
                            let at = now - 3_600 + j * 3_600 / traffic.batch_size;
                            event(format!("batch-{serial}"), at, traffic.domain(serial), serial)
                        })
                        .collect();
                    world.apply(&events, now);
                    cost.events += traffic.batch_size;
                }
                2 => {
                    let rows_before = world.sql_ops().rows_read;
                    let started = std::time::Instant::now();
                    world.tick(now);
                    cost.slowest_tick_us = cost.slowest_tick_us.max(started.elapsed().as_micros() as u64);
                    let rows = world.sql_ops().rows_read - rows_before;
                    cost.max_rows_read_per_tick = cost.max_rows_read_per_tick.max(rows);
                }
                _ => {
                    for url in ["/api/domains?window=24h", "/api/alerts"] {
                        let response = world.get(url, now);
                        assert_eq!(response.status, 200, "{url}: {}", String::from_utf8_lossy(&response.body));
                    }
                    cost.worker_requests += 1;
                }
            }
            cost.worker_requests += 1;
            let kv_ops = kv_total(kv_since(kv_at, world.kv.ops()));
            cost.max_kv_per_invocation = cost.max_kv_per_invocation.max(kv_ops);
        }
        cost.kv = kv_since(kv_before, world.kv.ops());
        cost.do_requests = world.requests() - requests_before;
        let sql = world.sql_ops();
        cost.rows_read = sql.rows_read - sql_before.rows_read;
        cost.rows_written = sql.rows_written - sql_before.rows_written;
        cost.doh_lookups = world.resolver.lookups() - lookups_before;
        costs.push(cost);
    }
    costs
}

/// A retention of two days makes the third simulated day a steady one: it expires a day of buckets as it
/// writes one, which is what every day costs once the (default 8-day) retention is full.
fn config() -> Config {
    Config::from_pairs([("RETENTION_DAYS", "2")])
}

fn print_table(title: &str, costs: &[DayCost]) {
    println!("\n{title}");
    println!("| day | events | Worker requests | DO requests | DO rows written | DO rows read | KV reads | KV writes | KV lists | KV deletes | most KV ops in one invocation | most rows one cron run read | slowest cron run (native) | MX look-ups |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (day, c) in costs.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} ms | {} |",
            day + 1,
            c.events,
            c.worker_requests,
            c.do_requests,
            c.rows_written,
            c.rows_read,
            c.kv.gets,
            c.kv.puts,
            c.kv.lists,
            c.kv.deletes,
            c.max_kv_per_invocation,
            c.max_rows_read_per_tick,
            c.slowest_tick_us as f64 / 1000.0,
            c.doh_lookups
        );
    }
}

/// Whether a day fits the Free plan with `headroom` (0.1 = 10 % to spare).
fn fits_free(c: &DayCost, headroom: f64) -> bool {
    let cap = |limit: u64| (limit as f64 * (1.0 - headroom)) as u64;
    c.kv.puts <= cap(FREE_KV_WRITES)
        && c.kv.lists <= cap(FREE_KV_LISTS)
        && c.kv.deletes <= cap(FREE_KV_DELETES)
        && c.kv.gets <= cap(FREE_KV_READS)
        && c.do_requests <= cap(FREE_DO_REQUESTS)
        && c.rows_written <= cap(FREE_DO_ROWS_WRITTEN)
        && c.rows_read <= cap(FREE_DO_ROWS_READ)
        && c.worker_requests <= cap(FREE_WORKER_REQUESTS)
        && c.max_kv_per_invocation <= KV_OPS_PER_INVOCATION
}

const FREE_TRAFFIC: Traffic = Traffic {
    one_event_requests: 30_000,
    batches: 24,
    batch_size: 1_000,
    domains: 1_000,
    dashboard_polls: 96,
    uniform: false,
};

#[test]
fn thirty_thousand_one_event_requests_and_24_batches_a_day_fit_the_free_plan_with_ten_percent_headroom() {
    let world = World::new(config());
    let costs = simulate(&world, FREE_TRAFFIC, 3);
    print_table(
        "(a) 30,000 one-event requests + 24 batches of 1,000 a day over 1,000 domains, dashboard polled every 15 min",
        &costs,
    );
    for (day, cost) in costs.iter().enumerate() {
        assert!(fits_free(cost, 0.1), "day {} does not fit the Free plan with 10 % headroom: {cost:?}", day + 1);
    }
    let steady = costs[2];
    assert!(steady.rows_written > 30_000, "every one-event request writes its row: {steady:?}");
    assert_eq!(steady.kv.lists, 0, "nothing lists KV any more");
    assert_eq!(steady.kv.deletes, 0, "pages expire by TTL");
    // Counted exactly: the 24-hour totals are every event of the last 24 hours.
    let body = world.get("/api/domains?window=24h&limit=1000", START + 3 * DAY - 60).json_body();
    let counted: u64 = body["domains"].as_array().unwrap().iter().map(|d| d["attempts"].as_u64().unwrap()).sum();
    assert!(counted > 50_000 && counted < 54_500, "{counted}");
    // The history (issue 17): the two closed days of traffic folded, each domain's day a row, each day's
    // totals a row (the first fold also takes the day before START, which holds the first batch's
    // events stamped before midnight).
    let object = &world.objects[0];
    let count = |table: &str| object.stored_bytes(&format!("SELECT COUNT(*) FROM {table} WHERE day >= {START}"));
    let (rows, totals) = (count("days"), count("day_totals"));
    let bytes = object.stored_bytes(&format!("SELECT SUM(LENGTH(counts)) FROM days WHERE day >= {START}"))
        + object.stored_bytes(&format!("SELECT SUM(LENGTH(totals)) FROM day_totals WHERE day >= {START}"));
    assert!(totals == 2 && (1_950..=2_000).contains(&rows), "two days of (nearly) 1,000 domains: {rows}, {totals}");
    let per_day = bytes / 2;
    println!(
        "(a) history: {rows} day rows and {totals} totals rows for 2 days, {} KB a day of 1,000 domains: {:.0} MB \
         for HISTORY_DAYS=400 (DO storage ${:.3} a month at $0.20/GB-month)",
        per_day / 1_000,
        per_day as f64 * 400.0 / 1e6,
        per_day as f64 * 400.0 / 1e9 * 0.20,
    );
}

#[test]
fn the_largest_one_event_volume_the_free_plan_takes_is_found_and_published() {
    // To within STEP requests a day. With a retention of one day, the second simulated day already
    // expires as many rows as it creates; the check holds the first three days to the quota, so the search
    // measures all three (the third writes a few hundred rows more than the second).
    const STEP: u64 = 2_500;
    let one_day = || Config::from_pairs([("RETENTION_DAYS", "1")]);
    let traffic = |volume| Traffic {
        one_event_requests: volume,
        batches: 0,
        batch_size: 0,
        domains: 1_000,
        dashboard_polls: 96,
        uniform: false,
    };
    // Each volume is simulated once, however often the search asks for it. Volumes are independent (a
    // World each), so those known to be needed together are simulated at once, each on a thread: this
    // test is most of the file's time, and alone it would keep one core busy for minutes.
    let memo = std::cell::RefCell::new(BTreeMap::<u64, Vec<DayCost>>::new());
    let simulate_all = |volumes: &[u64]| {
        let missing: Vec<u64> = volumes.iter().copied().filter(|v| !memo.borrow().contains_key(v)).collect();
        std::thread::scope(|scope| {
            let runs: Vec<_> = missing
                .iter()
                .map(|&volume| (volume, scope.spawn(move || simulate(&World::new(one_day()), traffic(volume), 3))))
                .collect();
            for (volume, run) in runs {
                let costs = run.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                memo.borrow_mut().insert(volume, costs);
            }
        });
    };
    let run = |volume: u64| -> Vec<DayCost> {
        simulate_all(&[volume]);
        memo.borrow()[&volume].clone()
    };
    let fits = |costs: &[DayCost]| costs.iter().all(|c| fits_free(c, 0.0));
    // Every billed count is affine in the volume (the cron's and the dashboard's share is fixed), so two
    // runs tell where the first quota is met; the search then walks from there to the last volume that fits.
    let (low, high) = (40_000u64, 80_000u64);
    simulate_all(&[low, high]);
    let (at_low, at_high) = (run(low), run(high));
    assert!(fits(&at_low), "{at_low:?}");
    let reaches = |f: fn(&DayCost) -> u64, limit: u64| {
        let (a, b) = (at_low.iter().map(f).max().unwrap_or(0), at_high.iter().map(f).max().unwrap_or(0));
        let per_request = b.saturating_sub(a) as f64 / (high - low) as f64;
        if per_request == 0.0 {
            return u64::MAX;
        }
        low + (limit.saturating_sub(a) as f64 / per_request) as u64
    };
    let estimate = [
        reaches(|c| c.rows_written, FREE_DO_ROWS_WRITTEN),
        reaches(|c| c.do_requests, FREE_DO_REQUESTS),
        reaches(|c| c.worker_requests, FREE_WORKER_REQUESTS),
        reaches(|c| c.rows_read, FREE_DO_ROWS_READ),
    ]
    .into_iter()
    .min()
    .unwrap_or(low)
    .clamp(low, FREE_WORKER_REQUESTS)
        / STEP
        * STEP;
    // When the estimate fits, as it does when the counts are affine, the walk asks for the next step up
    // at once: both are simulated together (the second in vain if the estimate does not fit).
    simulate_all(&[estimate, estimate + STEP]);
    let mut volume = estimate;
    while !fits(&run(volume)) {
        volume -= STEP;
    }
    while fits(&run(volume + STEP)) {
        volume += STEP;
    }
    let costs = run(volume);
    let runs = memo.borrow().len();
    let title = format!("(b) the largest one-event volume found to fit the Free plan: {volume} requests a day (estimated {estimate}; {runs} volumes simulated, three days each)");
    print_table(&title, &costs);
    assert!(volume >= 45_000, "only {volume} one-event requests a day fit: {costs:?}");
}

#[test]
fn a_hundred_thousand_distinct_domains_a_day_grow_no_stored_value_and_no_cron_run() {
    // The B2B shape: 200 batches of 1,000 events a day, one or two events per domain, every one of
    // 100,000 domains seen every day; plus a gmail.com spike after the second day, which must still alert.
    // A retention of one day makes the second day the steady one (the slowest scenario: one day less).
    let traffic = Traffic {
        one_event_requests: 0,
        batches: 200,
        batch_size: 1_000,
        domains: 100_000,
        dashboard_polls: 96,
        uniform: true,
    };
    let world = World::new(Config::from_pairs([("RETENTION_DAYS", "1")]));
    let costs = simulate(&world, traffic, 2);
    print_table("(d) 200 batches of 1,000 events a day over 100,000 distinct domains", &costs);
    let largest_sql = world.objects.iter().map(|o| o.largest_value()).max().unwrap_or(0);
    let largest_kv = world.kv.largest_value();
    println!("largest stored value: {largest_sql} bytes in the object's SQLite, {largest_kv} bytes in KV");
    assert!(largest_sql < 1_000_000 && largest_kv < 1_000_000, "{largest_sql} / {largest_kv}");
    let steady = costs[1];
    assert_eq!(steady.events, 200_000);
    // Each (hour, domain) is one row: a day writes each once per batch that touches it and deletes it
    // once; nothing is rewritten per domain by the cron.
    assert!(steady.rows_written < steady.events * 23 / 10, "{steady:?}");
    // The cron scans the window's rows of every domain, but parses and keeps only candidates: none here.
    let detector = world.get("/api/alerts", START + 2 * DAY - 60).json_body();
    assert_eq!(detector["active"].as_array().map(Vec::len), Some(0), "{detector}");
    // With no domain near alerting, a cron run reads the rows of the hours it publishes and the hot marks,
    // not every domain's: a scan of the window would read at least one row per domain, 100,000.
    assert!(steady.max_rows_read_per_tick < 50_000, "a cron run read {} rows", steady.max_rows_read_per_tick);

    let spike_at = START + 2 * DAY;
    let deferred = |i: u64| {
        let mut e = event(format!("spike-{i}"), spike_at + i, "gmail.com".to_owned(), 95);
        e.reply = Some("451 4.7.0 temporary policy rejection".to_owned());
        e.category = Some(Category::PolicyRejected);
        e
    };
    let spike: Vec<NormalizedEvent> = (0..200).map(deferred).collect();
    assert_eq!(world.apply(&spike, spike_at + 300).accepted, 200);
    for minute in 0..3 {
        world.tick(spike_at + 300 + minute * 60);
    }
    let alerts = world.get("/api/alerts", spike_at + 480).json_body();
    let active = alerts["active"].as_array().unwrap();
    assert!(active.iter().any(|a| a["domain"] == "gmail.com"), "{alerts}");
}

#[test]
fn six_thousand_new_domains_are_resolved_to_their_providers_on_the_first_day_within_the_free_plan() {
    // A B2B sender's first two days: 6,000 recipient domains none of which has been looked up, hosted by
    // Google (half), Microsoft (a quarter) and 40 other hosts; their MX answers carry a 5-minute TTL, which
    // the cache keeps a day.
    let traffic = Traffic {
        one_event_requests: 20_000,
        batches: 24,
        batch_size: 500,
        domains: 6_000,
        dashboard_polls: 96,
        uniform: true,
    };
    let world = World::new(config());
    let record = |exchange: String| doh::MxRecord { preference: 10, exchange };
    for i in 0..traffic.domains {
        let domain = format!("u{i}.example");
        let exchange = match i % 4 {
            0 | 1 => "aspmx.l.google.com".to_owned(),
            2 => format!("u{i}-example.mail.protection.outlook.com"),
            _ => format!("mx{}.hosting{}.example", i % 2, i % 40),
        };
        let answer = doh::MxAnswer { domain: domain.clone(), mx: doh::Mx::Exchanges(vec![record(exchange)]), ttl: 300 };
        world.resolver.set(&domain, Ok(answer));
    }
    let costs = simulate(&world, traffic, 2);
    print_table("(f) 6,000 domains never looked up, 32,000 events a day: MX look-ups and what they cost", &costs);
    let per_day = 1_440 * u64::from(Settings::default().doh_lookups_per_run);
    for (day, cost) in costs.iter().enumerate() {
        assert!(fits_free(cost, 0.1), "day {}: {cost:?}", day + 1);
        // Each domain is looked up once a day at most (its answer kept a day), within the runs' budget.
        assert!(cost.doh_lookups <= traffic.domains.min(per_day), "day {}: {} look-ups", day + 1, cost.doh_lookups);
    }
    let providers = world.get("/api/providers?window=24h", START + 2 * DAY - 60).json_body();
    let domains_of = |id: &str| {
        let rows = providers["providers"].as_array().expect("a list");
        rows.iter()
            .filter(|p| p["provider"].as_str().is_some_and(|p| p.starts_with(id)))
            .map(|p| p["domains"].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    assert_eq!(domains_of("google"), 3_000, "{providers}");
    assert_eq!(domains_of("microsoft"), 1_500, "{providers}");
    assert_eq!(domains_of("other:hosting"), 1_500, "{providers}");
    assert_eq!(domains_of("unknown"), 0, "every domain is resolved by the end of the first day: {providers}");
}

/// Paid prices (../shared/research/volume.md §1), per month of 30 days.
fn monthly_cost(day: &DayCost) -> (f64, f64, f64, f64) {
    let month = |n: u64| n as f64 * 30.0;
    let over = |used: f64, included: f64, per_million: f64| ((used - included).max(0.0)) / 1e6 * per_million;
    let kv = over(month(day.kv.gets), 10e6, 0.50)
        + over(month(day.kv.puts), 1e6, 5.0)
        + over(month(day.kv.lists), 1e6, 5.0)
        + over(month(day.kv.deletes), 1e6, 5.0);
    let requests = over(month(day.do_requests), 1e6, 0.15);
    let rows = over(month(day.rows_written), 50e6, 1.0) + over(month(day.rows_read), 25e9, 0.001);
    // Duration: an object busy all day is 86,400 s × 128 MB = 10,800 GB-s a day per shard.
    let duration = over(30.0 * 10_800.0, 400_000.0, 12.5);
    (kv, requests, rows, duration)
}

#[test]
fn five_million_one_event_requests_a_day_cost_under_a_dollar_per_million_events() {
    // Two simulated hours at the rate of 5 M a day over 10,000 domains (the per-event cost does not
    // depend on the day's length), scaled to a day; the hours include their cron runs and publishes.
    let hours = 2;
    let rate = 5_000_000 / 24;
    let world = World::new(config());
    let traffic = Traffic {
        one_event_requests: rate * 24,
        batches: 0,
        batch_size: 0,
        domains: 10_000,
        dashboard_polls: 96,
        uniform: false,
    };
    let sampled = simulate_hours(&world, traffic, hours);
    let scale = |n: u64| n * 24 / hours;
    // A domain's provider row is written once when it is first seen (the row and its index entry), not
    // every two hours: counted once a day, as if every domain were new every day (an upper bound).
    let stored_domains: u64 = world.objects.iter().map(|o| o.count("providers")).sum();
    let first_seen = 2 * stored_domains;
    let day = DayCost {
        kv: OpCounts {
            gets: scale(sampled.kv.gets),
            puts: scale(sampled.kv.puts),
            lists: scale(sampled.kv.lists),
            deletes: scale(sampled.kv.deletes),
        },
        do_requests: scale(sampled.do_requests),
        // Each bucket row is deleted once when it expires: a steady day deletes the rows a day creates.
        rows_written: scale(sampled.rows_written - first_seen) + first_seen + scale(world.objects[0].count("counts")),
        rows_read: scale(sampled.rows_read),
        worker_requests: scale(sampled.worker_requests),
        events: scale(sampled.events),
        max_kv_per_invocation: sampled.max_kv_per_invocation,
        slowest_tick_us: sampled.slowest_tick_us,
        max_rows_read_per_tick: sampled.max_rows_read_per_tick,
        // Scaled: a run looks up at most DOH_LOOKUPS_PER_RUN, and a domain's answer is kept a day.
        doh_lookups: scale(sampled.doh_lookups).min(stored_domains),
    };
    let title = "(c) 5 M one-event requests a day over 10,000 domains (2 hours simulated, scaled to a day)";
    print_table(title, &[day]);
    let (kv, requests, rows, duration) = monthly_cost(&day);
    let total = kv + requests + rows + duration;
    let per_million = total / (day.events as f64 * 30.0 / 1e6);
    println!(
        "\nmonthly storage cost: KV ${kv:.2} + DO requests ${requests:.2} + DO rows ${rows:.2} + duration ${duration:.2} = ${total:.2}, ${per_million:.3} per million events"
    );
    assert!(day.max_kv_per_invocation <= KV_OPS_PER_INVOCATION, "{day:?}");
    // The target: a dollar per million events. Rows written dominate, about one per event (its
    // (hour, domain) row) plus the row's delete at expiry, once per (hour, domain).
    assert!(per_million <= 1.0, "${per_million:.3} per million events");
    assert!(day.rows_written < day.events * 11 / 10, "more than 1.1 rows written per event: {day:?}");
}

/// Like [`simulate`] for the first `hours` of a day (one-event requests, cron, dashboard).
fn simulate_hours(world: &World, traffic: Traffic, hours: u64) -> DayCost {
    let span = hours * 3600;
    let requests = traffic.one_event_requests * hours / 24;
    let shortened =
        Traffic { one_event_requests: requests, dashboard_polls: traffic.dashboard_polls * hours / 24, ..traffic };
    let kv_before = world.kv.ops();
    let lookups_before = world.resolver.lookups();
    let mut cost = DayCost::default();
    let mut serial = 0u64;
    let mut next_tick = START;
    let mut next_poll = START + 7;
    let poll_every = span / shortened.dashboard_polls.max(1);
    for i in 0..requests {
        let now = START + i * span / requests;
        while next_tick <= now {
            world.tick(next_tick);
            cost.worker_requests += 1;
            next_tick += 60;
        }
        if next_poll <= now {
            let kv_at = world.kv.ops();
            for url in ["/api/domains?window=24h", "/api/alerts"] {
                assert_eq!(world.get(url, now).status, 200);
            }
            let kv_ops = kv_total(kv_since(kv_at, world.kv.ops()));
            cost.max_kv_per_invocation = cost.max_kv_per_invocation.max(kv_ops);
            cost.worker_requests += 2;
            next_poll += poll_every;
        }
        serial += 1;
        world.apply(&[event(format!("one-{serial}"), now.saturating_sub(5), traffic.domain(serial), serial)], now);
        cost.events += 1;
        cost.worker_requests += 1;
    }
    cost.kv = kv_since(kv_before, world.kv.ops());
    cost.do_requests = world.requests();
    cost.rows_read = world.sql_ops().rows_read;
    cost.rows_written = world.sql_ops().rows_written;
    cost.doh_lookups = world.resolver.lookups() - lookups_before;
    cost
}
