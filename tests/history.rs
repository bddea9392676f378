//! Issue 17's daily history over a simulated year and more, through the Worker's storage path (two
//! counting objects on rusqlite, KV in memory) and its HTTP routes: the daily fold, its expiry after
//! HISTORY_DAYS, a fold repeated after a crash, late events refolded, backfill once per event id, the
//! long windows' daily buckets and every row's period before and change.

mod common;

use bouncewatch::classify::Category;
use bouncewatch::config::Config;
use bouncewatch::event::{EventKind, NormalizedEvent};
use bouncewatch::sql::{Sql, SqlValue};
use common::{synthetic_event, World};
use serde_json::Value;

const DAY: u64 = 86_400;
const START: u64 = 1_700_006_400 - 1_700_006_400 % DAY;
/// Days simulated: past the 400 days the history keeps.
const DAYS: u64 = 420;

/// gmail.com's 451s on day `d`: a weekly shape, so that every window and its period before differ.
fn deferrals(d: u64) -> u64 {
    d % 7 + d % 3
}

fn events(domain: &str, kind: EventKind, at: u64, n: u64, tag: &str) -> Vec<NormalizedEvent> {
    let category = (kind == EventKind::Deferred).then_some(Category::RateLimited);
    (0..n)
        .map(|i| {
            let mut event = synthetic_event(domain, kind, at, category);
            event.event_id = format!("{}-{tag}-{i}", event.event_id);
            event
        })
        .collect()
}

/// Day `d`'s traffic, at noon: gmail.com 100 deliveries and [`deferrals`] 451s, example.org 20
/// deliveries on even days.
fn day_traffic(world: &World, d: u64) {
    let noon = START + d * DAY + 12 * 3600;
    let mut batch = events("gmail.com", EventKind::Delivered, noon, 100, "d");
    batch.extend(events("gmail.com", EventKind::Deferred, noon, deferrals(d), "d"));
    if d % 2 == 0 {
        batch.extend(events("example.org", EventKind::Delivered, noon, 20, "d"));
    }
    world.apply(&batch, noon + 60);
}

fn world() -> World {
    World::new(Config::from_pairs([("COUNTER_SHARDS", "2")]))
}

/// Runs `days` days: each day's traffic, its noon cron run and the 02:00 run that folds the day before.
fn run(world: &World, days: std::ops::Range<u64>) {
    for d in days {
        world.tick(START + d * DAY + 2 * 3600);
        day_traffic(world, d);
        world.tick(START + d * DAY + 12 * 3600 + 120);
    }
}

fn get(world: &World, url: &str, now: u64) -> Value {
    let response = world.get(url, now);
    assert_eq!(response.status, 200, "{url}: {}", String::from_utf8_lossy(&response.body));
    serde_json::from_slice(&response.body).unwrap()
}

fn row<'a>(list: &'a Value, key: &str, id: &str) -> &'a Value {
    list[key].as_array().unwrap().iter().find(|r| r["domain"] == id || r["provider"] == id).unwrap_or_else(|| {
        panic!("{id} not in {list}");
    })
}

/// gmail.com's attempts and 451s over days `first..=last`.
fn gmail(first: u64, last: u64) -> (u64, u64) {
    let smtp_451: u64 = (first..=last).map(deferrals).sum();
    ((last - first + 1) * 100 + smtp_451, smtp_451)
}

fn days_rows(world: &World) -> (u64, u64) {
    let mut oldest = u64::MAX;
    let mut rows = 0;
    for object in &world.objects {
        rows += object.count("days");
        let found = object.exec("SELECT MIN(day) FROM days", &[]).unwrap();
        if let Some(SqlValue::Integer(day)) = found.first().and_then(|r| r.first()) {
            oldest = oldest.min(*day as u64);
        }
    }
    (rows, oldest)
}

#[test]
fn a_simulated_year_is_folded_a_day_at_a_time_kept_400_days_and_read_in_daily_buckets_with_the_period_before() {
    let world = world();
    run(&world, 0..DAYS);
    let today = DAYS - 1;
    let now = START + today * DAY + 13 * 3600;

    // Expiry: 400 days kept before today; gmail.com every day, example.org every other day.
    let (rows, oldest) = days_rows(&world);
    assert_eq!(oldest, START + (today - 400) * DAY);
    assert_eq!(rows, 400 + 200, "the days from today - 400 to yesterday, each domain's");

    // 30 complete days, and the 30 before them.
    let list = get(&world, "/api/domains?window=30d", now);
    assert_eq!(list["window"], "30d");
    let gmail_row = row(&list, "domains", "gmail.com");
    let (attempts, smtp_451) = gmail(today - 30, today - 1);
    let (before, before_451) = gmail(today - 60, today - 31);
    assert_eq!((gmail_row["attempts"].as_u64(), gmail_row["smtp_451"].as_u64()), (Some(attempts), Some(smtp_451)));
    assert_eq!(gmail_row["previous"]["attempts"].as_u64(), Some(before));
    assert_eq!(gmail_row["previous"]["smtp_451"].as_u64(), Some(before_451));
    assert_eq!(gmail_row["change"]["attempts"].as_i64(), Some(attempts as i64 - before as i64));
    let ratio_change = smtp_451 as f64 / attempts as f64 - before_451 as f64 / before as f64;
    assert!((gmail_row["change"]["ratio_451"].as_f64().unwrap() - ratio_change).abs() < 1e-12);
    assert_eq!(row(&list, "domains", "example.org")["attempts"].as_u64(), Some(15 * 20));

    // One domain over a year: a bucket per day, at its midnight, each day's own figures.
    let detail = get(&world, "/api/domains/gmail.com?window=365d", now);
    let buckets = detail["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 365);
    for bucket in buckets {
        let d = (bucket["start"].as_u64().unwrap() - START) / DAY;
        assert_eq!((bucket["delivered"].as_u64(), bucket["smtp_451"].as_u64()), (Some(100), Some(deferrals(d))));
    }
    assert_eq!(buckets[0]["start"].as_u64(), Some(START + (today - 365) * DAY));
    assert!(detail["previous"].is_null(), "the year before is past the history: {}", detail["previous"]);
    let quarter = get(&world, "/api/domains/gmail.com?window=90d", now);
    assert_eq!(quarter["previous_buckets"].as_array().unwrap().len(), 90);
    assert_eq!(quarter["previous"]["smtp_451"].as_u64(), Some(gmail(today - 180, today - 91).1));

    // Providers: the same sums under Google.
    let providers = get(&world, "/api/providers?window=30d", now);
    let google = row(&providers, "providers", "google");
    assert_eq!((google["attempts"].as_u64(), google["previous"]["attempts"].as_u64()), (Some(attempts), Some(before)));
    let google = get(&world, "/api/providers/google?window=90d", now);
    assert_eq!(google["buckets"].as_array().unwrap().len(), 90);
    assert_eq!(google["top_domains"][0]["domain"], "gmail.com");
    assert_eq!(google["previous"]["attempts"].as_u64(), Some(gmail(today - 180, today - 91).0));

    // The hourly windows compare too: 24h from the hourly counts, 7d with the seven whole days before.
    let day = row(&get(&world, "/api/domains?window=24h", now), "domains", "gmail.com").clone();
    assert_eq!(day["smtp_451"].as_u64(), Some(deferrals(today)));
    assert_eq!(day["previous"]["smtp_451"].as_u64(), Some(deferrals(today - 1)));
    let week = row(&get(&world, "/api/domains?window=7d", now), "domains", "gmail.com").clone();
    assert_eq!(week["smtp_451"].as_u64(), Some(gmail(today - 6, today).1));
    assert_eq!(week["previous"]["smtp_451"].as_u64(), Some(gmail(today - 14, today - 8).1));
}

#[test]
fn a_fold_repeated_after_a_crash_writes_the_same_rows_and_late_events_are_refolded_once() {
    let world = world();
    run(&world, 0..12);
    let now = START + 12 * DAY + 3 * 3600;
    world.tick(now);
    let snapshot = |world: &World| -> Vec<Vec<Vec<SqlValue>>> {
        world.objects.iter().map(|o| o.exec("SELECT * FROM days ORDER BY day, domain", &[]).unwrap()).collect()
    };
    let before = snapshot(&world);
    let list = get(&world, "/api/domains?window=30d", now);
    // The crash: the fold of day 11 done, its bookkeeping lost.
    for object in &world.objects {
        let state = serde_json::json!({ "folded": START + 10 * DAY }).to_string();
        object.exec("UPDATE meta SET value = ? WHERE name = 'history'", &[state.into()]).unwrap();
    }
    let report = world.tick(now + 60);
    assert_eq!(report.upkeep[0].history.folded, Some(START + 11 * DAY), "folded again");
    assert_eq!(snapshot(&world), before);
    assert_eq!(get(&world, "/api/domains?window=30d", now + 60), list);

    // A late event for yesterday, sent twice: the next run refolds gmail.com's day, once.
    let late = events("gmail.com", EventKind::Deferred, START + 11 * DAY + 20 * 3600, 5, "late");
    assert_eq!(world.apply(&late, now + 120).accepted, 5);
    world.tick(now + 180);
    assert_eq!(world.apply(&late, now + 240).duplicates, 5);
    world.tick(now + 300);
    let after = row(&get(&world, "/api/domains?window=30d", now + 360), "domains", "gmail.com").clone();
    assert_eq!(after["smtp_451"].as_u64(), row(&list, "domains", "gmail.com")["smtp_451"].as_u64().map(|n| n + 5));
    assert!(world.objects.iter().all(|o| o.count("day_dirty") == 0), "every mark cleared");
}

#[test]
fn events_older_than_the_retention_are_backfilled_into_their_day_once_and_never_into_a_day_counted_live() {
    let world = world();
    run(&world, 0..40);
    let now = START + 40 * DAY + 3 * 3600;
    // 20 days back: past the 8-day retention, inside the history. example.net was never seen then.
    let old = START + 20 * DAY + 9 * 3600;
    let mut import = events("example.net", EventKind::Deferred, old, 7, "import");
    import.extend(events("example.net", EventKind::Delivered, old, 50, "import"));
    let applied = world.apply(&import, now);
    assert_eq!((applied.accepted, applied.duplicates), (57, 0));
    assert_eq!(world.apply(&import, now + 10).duplicates, 57, "the replay of the import counts nothing");
    // gmail.com was counted live that day: its event ids are gone with its hours, so nothing new is taken.
    let replayed = events("gmail.com", EventKind::Delivered, old, 3, "replay");
    assert_eq!(world.apply(&replayed, now + 20).duplicates, 3);
    // Past the history: stale, neither counted nor a duplicate.
    let ancient = events("example.net", EventKind::Delivered, now - 401 * DAY, 2, "ancient");
    let applied = world.apply(&ancient, now + 30);
    assert_eq!((applied.accepted, applied.duplicates), (0, 0));

    // The day the retention's edge falls in (its early hours expired, its day long folded): still
    // counted in its hours, and in its day at once, since it is never refolded; a repeat in neither.
    let edge = events("gmail.com", EventKind::Delivered, START + 32 * DAY + 5 * 3600, 4, "edge");
    assert_eq!(world.apply(&edge, now + 40).accepted, 4);
    assert_eq!(world.apply(&edge, now + 50).duplicates, 4);

    world.tick(now + 60);
    let list = get(&world, "/api/domains?window=30d", now + 120);
    let net = row(&list, "domains", "example.net");
    assert_eq!((net["attempts"].as_u64(), net["smtp_451"].as_u64()), (Some(57), Some(7)));
    let gmail_row = row(&list, "domains", "gmail.com");
    assert_eq!(gmail_row["attempts"].as_u64(), Some(gmail(10, 39).0 + 4));
    let detail = get(&world, "/api/domains/example.net?window=30d", now + 120);
    let buckets = detail["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 1);
    assert_eq!(buckets[0]["start"].as_u64(), Some(START + 20 * DAY));
    assert_eq!(detail["samples"][0]["count"].as_u64(), Some(7), "samples are kept with the day");
}

#[test]
fn a_day_costs_its_fold_once_rows_written_per_domain_and_a_long_list_a_row_per_day() {
    use bouncewatch::counting::history::fold;
    use bouncewatch::counting::CounterObject;
    let world = world();
    run(&world, 0..10);
    let settings = bouncewatch::settings::Settings::from_config(&world.config).unwrap();
    let at = START + 10 * DAY + 2 * 3600;
    let mut written = 0;
    let mut read = 0;
    for object in &world.objects {
        let before = object.ops();
        let report = fold(&CounterObject::new(object, &settings), at).unwrap();
        assert_eq!(report.folded, Some(START + 9 * DAY));
        let ops = object.ops() - before;
        (written, read) = (written + ops.rows_written, read + ops.rows_read);
    }
    // Day 9 (odd: no example.org): gmail.com's row and its shard's totals row, and each shard's state.
    assert_eq!(written, 1 + 1 + 2);
    // Each shard's state, gmail.com's rows of the day (one: its noon hour), and every row written, which
    // SQLite reads to write (the harness bills them as the runtime does).
    assert_eq!(read, 2 + 1 + written, "rows read by the fold");
    assert_eq!(fold(&CounterObject::new(&world.objects[0], &settings), at + 60).unwrap().folded, None, "once");

    let before = world.sql_ops();
    get(&world, "/api/domains?window=90d", at + 120);
    let list = world.sql_ops() - before;
    // A totals row per day with traffic in each shard: gmail.com's shard 9 days, example.org's 5 (the
    // even ones), and each object's layout and shard 0's alert state (2 + 2): no row per domain and day.
    assert_eq!(list.rows_read, 9 + 5 + 4, "{list:?}");
    assert_eq!(list.rows_written, 0);
}

#[test]
fn a_day_of_many_domains_is_folded_over_several_runs_each_reading_a_bounded_number_of_rows() {
    use bouncewatch::counting::history::{fold, FOLD_DOMAINS_PER_RUN};
    use bouncewatch::counting::CounterObject;
    let world = World::new(Config::new());
    let settings = bouncewatch::settings::Settings::from_config(&world.config).unwrap();
    let noon = START + 12 * 3600;
    let domains = 2 * FOLD_DOMAINS_PER_RUN + 500;
    // Each domain in two hours: every batch must take a domain's rows from both.
    for hour in [noon, noon + 3600] {
        let batch: Vec<NormalizedEvent> = (0..domains)
            .flat_map(|i| events(&format!("d{i:05}.example"), EventKind::Delivered, hour, 1, "many"))
            .collect();
        world.apply(&batch, noon + 2 * 3600);
    }
    let object = CounterObject::new(&world.objects[0], &settings);
    let at = START + DAY + 2 * 3600;
    let mut runs = 0;
    loop {
        let before = world.objects[0].ops();
        let report = fold(&object, at).unwrap();
        // A fresh object first folds the empty days its retention reaches back to.
        if report.folded.is_some_and(|day| day < START) {
            continue;
        }
        runs += 1;
        let read = (world.objects[0].ops() - before).rows_read;
        assert!(read <= (24 * FOLD_DOMAINS_PER_RUN + 3 * FOLD_DOMAINS_PER_RUN) as u64, "run {runs} read {read} rows");
        if report.folded == Some(START) {
            break;
        }
        assert_eq!(report.folded, None);
    }
    assert_eq!(runs, 3);
    assert_eq!(world.objects[0].count("days"), domains as u64);
    let list = get(&world, "/api/domains?window=30d&limit=1000", at + 60);
    assert_eq!(list["domains"].as_array().unwrap().len(), 1000);
    assert!(list["domains"].as_array().unwrap().iter().all(|d| d["attempts"] == 2), "both hours of each domain");
}
