// The dashboard: which receiving domain is deferring mail, why, and what to do. Three views chosen by the URL hash
// (#/, #/domain/<name>, #/rules and #/streams), redrawn every 30 s; a classify box; a token form when the Worker asks for one.
import { Unauthorized, getJson, saveAdminToken, saveToken, savedAdminToken, savedToken, sendAdmin } from "./api.js";
import { h } from "./dom.js";
import { rebin, sparkline, timeChart } from "./svg.js";

const DAY = 86_400;
// `chartBin`: how much time one bar covers on the domain page, so a week still draws as ~84 readable bars.
// `days`: the API answers with the last complete UTC days (today not among them), in daily buckets.
const WINDOWS = {
  "15m": { seconds: 900, label: "15 min", chartBin: 300 },
  "1h": { seconds: 3600, label: "hour", chartBin: 300 },
  "24h": { seconds: DAY, label: "24 h", chartBin: 900 },
  "7d": { seconds: 7 * DAY, label: "7 days", chartBin: 7200 },
  "30d": { seconds: 30 * DAY, label: "30 days", chartBin: DAY, days: true },
  "90d": { seconds: 90 * DAY, label: "90 days", chartBin: DAY, days: true },
  // 73 bars of 5 days: a bar per day would be under 3 px wide.
  "365d": { seconds: 365 * DAY, label: "365 days", chartBin: 5 * DAY, days: true },
};
const WINDOW_KEY = "bouncewatch.window";
/** Rule hits and sending streams are kept with the hourly counts only: a long range shows their last 7 days. */
const hourlyWindow = () => (WINDOWS[state.window].days ? "7d" : state.window);
const hourlyNote = () => WINDOWS[state.window].days && h("p", { class: "muted" }, "Kept with the hourly counts: the last 7 days.");
const REFRESH_MS = 30_000;
const DEFAULT_BUCKET_SECONDS = 300; // the API's bucket size, for a series too short to measure it from
const SPARK_BINS = 24;


// Icons sit beside the words so status never depends on colour alone.
const SEVERITY_ICON = { critical: "◆", warning: "▲", benign: "○", info: "ℹ" };
const SEVERITY_RANK = { critical: 0, warning: 1, benign: 2, info: 3 };
const SIGNAL_NAME = { smtp_451: "451 ratio", bounced: "bounce ratio" };
const STATUS_ICON = { ok: "✓", pending: "◔", firing: "▲", resolving: "↘" };

const $ = (id) => document.getElementById(id);
const main = $("main");
const saved = localStorage.getItem(WINDOW_KEY);
const state = { window: Object.hasOwn(WINDOWS, saved ?? "") ? saved : "1h", generation: 0, timer: 0, drawChart: null };

// ---- formatting -------------------------------------------------------------------------------------------
const num = (n) => (n ?? 0).toLocaleString();
const pct = (ratio) => (typeof ratio === "number" ? `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)} %` : "—");
const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dayClock = new Intl.DateTimeFormat(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" });
// Daily buckets start at 00:00 UTC: labelled in UTC, else a bar would read as the evening before west of Greenwich.
const utcDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const unitOf = (seconds) => (seconds < 3600 ? `${Math.round(seconds / 60)} min`
  : seconds < DAY ? `${Math.round(seconds / 3600)} h` : seconds === DAY ? "day" : `${Math.round(seconds / DAY)} days`);
const timeLabel = (unix) => {
  const { seconds, days } = WINDOWS[state.window];
  return (days ? utcDay : seconds > DAY ? dayClock : clock).format(unix * 1000);
};
/** "last 7 days"; the long ranges say that they end at midnight UTC. */
const lastWindow = () => {
  const { label, days } = WINDOWS[state.window];
  return days ? `last ${label} to 00:00 UTC` : `last ${label}`;
};

/** A difference of two ratios in percentage points, with its sign: "+1.2 pp", "-0.4 pp", "0 pp". */
function points(delta) {
  const value = delta * 100;
  const shown = Math.abs(value).toFixed(Math.abs(value) >= 10 ? 0 : 1).replace(/\.0$/, "");
  return shown === "0" ? "0 pp" : `${value > 0 ? "+" : "-"}${shown} pp`;
}

/** The change of the attempts in percent of the previous period's: "+12 %", "-50 %"; "new" after none. */
function volumeChange(change, previous) {
  if (!previous.attempts) return change.attempts > 0 ? "new" : "0 %";
  const value = (change.attempts / previous.attempts) * 100;
  const shown = Math.abs(value).toFixed(Math.abs(value) >= 10 ? 0 : 1).replace(/\.0$/, "");
  return shown === "0" ? "0 %" : `${value > 0 ? "+" : "-"}${shown} %`;
}

/** A row's `change` against its `previous` period: the 451 ratio in pp (coloured by direction) and the volume. */
function changeText({ change, previous }) {
  if (!change || !previous) return null;
  const ratio = points(change.ratio_451);
  const direction = ratio.startsWith("+") ? "worse" : ratio.startsWith("-") ? "better" : null;
  return [h("span", { class: direction }, ratio), h("span", { class: "muted" }, ` · ${volumeChange(change, previous)}`)];
}

function changeCell(row) {
  const text = changeText(row);
  return h("td", { class: "n change", "data-label": "Change",
    title: text ? `previous period: 451 ratio ${pct(row.previous.ratio_451)}, ${num(row.previous.attempts)} attempts`
      : "no previous period kept" }, text ?? "—");
}

/** A <time> saying "12 minutes ago", with the full date on hover. Unix seconds, or an ISO string if the API sends one. */
function when(value) {
  const date = new Date(typeof value === "number" ? value * 1000 : value);
  if (Number.isNaN(date.getTime())) return "—";
  const minutes = Math.round((date - Date.now()) / 60_000);
  const text = Math.abs(minutes) < 60 ? relative.format(minutes, "minute")
    : Math.abs(minutes) < 2880 ? relative.format(Math.round(minutes / 60), "hour")
      : relative.format(Math.round(minutes / 1440), "day");
  return h("time", { datetime: date.toISOString(), title: date.toLocaleString() }, text);
}

function badge(kind = "unknown", icon = "•") {
  return h("span", { class: `badge badge-${kind}` }, h("span", { "aria-hidden": "true" }, icon), ` ${kind}`);
}
const category = (name) => h("code", { class: "cat" }, name);
const domainLink = (name) => h("a", { href: `#/domain/${encodeURIComponent(name)}` }, name);
const providerLink = (id, name = id) => h("a", { href: `#/provider/${encodeURIComponent(id)}` }, name);
/** What an alert is about: a domain, a provider (with how many domains it spans) or the sender as a whole. */
const alertSubject = (alert) => alert.scope === "provider"
  ? [providerLink(alert.provider ?? alert.domain), h("span", { class: "muted" }, ` · ${num(alert.domain_count ?? alert.domains?.length ?? 0)} domains`)]
  : alert.scope === "sender" || alert.domain === "*" ? h("span", {}, `sender-wide · ${num(alert.domains?.length ?? 0)} domains`)
    : domainLink(alert.domain);
/**
 * A row's status as its alert reads: a benign alert (greylisting) shows as benign, not as a red "firing".
 * `benign` holds the domains and provider ids whose open alert is benign.
 */
const statusBadge = (status, key, benign) => benign.has(key) && status !== "ok"
  ? badge("benign", SEVERITY_ICON.benign) : badge(status, STATUS_ICON[status]);
function benignKeys(alerts) {
  const keys = new Set();
  for (const a of alerts.active ?? []) {
    if (a.severity !== "benign") continue;
    keys.add(a.scope === "provider" ? a.provider ?? a.domain : a.domain);
    for (const d of a.scope === "provider" ? [] : a.domains ?? []) keys.add(d);
  }
  return keys;
}

// ---- data shaping ---------------------------------------------------------------------------------------
const detailPath = (name) => `/api/domains/${encodeURIComponent(name)}?window=${state.window}`;

/**
 * The buckets summed into bars of about `binSeconds` (a whole number of buckets) over the chosen window. The
 * window ends on a bar boundary, so bars hold whole buckets and the time labels fall on round times; a range
 * of whole days ends at today's midnight UTC, as the API's does. `previous` (the period before, or null) is
 * moved forward by one period and summed into the same bars, so each value lies under the one it compares with.
 */
function series(buckets, binSeconds, previous = null) {
  const { seconds, days } = WINDOWS[state.window];
  const sorted = [...buckets].sort((a, b) => a.start - b.start);
  let bucketSeconds = Infinity;
  for (let i = 1; i < sorted.length; i++) bucketSeconds = Math.min(bucketSeconds, sorted[i].start - sorted[i - 1].start);
  if (days) bucketSeconds = DAY; // measured, a day without traffic between two would read as a two-day bucket
  else if (!(bucketSeconds > 0 && bucketSeconds < Infinity)) bucketSeconds = DEFAULT_BUCKET_SECONDS;
  const bin = bucketSeconds * Math.max(1, Math.round(binSeconds / bucketSeconds));
  const latest = Math.max(Date.now() / 1000, sorted.at(-1)?.start ?? 0);
  const to = days ? Math.floor(Date.now() / 1000 / DAY) * DAY : (Math.floor(latest / bin) + 1) * bin;
  const count = Math.ceil(seconds / bin);
  const range = { from: to - count * bin, to, count };
  const shifted = previous?.map((b) => ({ ...b, start: b.start + seconds }));
  return { bins: rebin(sorted, range), previous: shifted ? rebin(shifted, range) : null, binSeconds: bin };
}

/** The previous period's buckets when the API has them (`previous` null means the counts do not reach back). */
const previousBuckets = (detail) => (detail.previous !== null && Array.isArray(detail.previous_buckets)
  ? detail.previous_buckets : null);

function totals(buckets) {
  const sum = { attempts: 0, delivered: 0, deferred: 0, bounced: 0, smtp_451: 0, categories: {} };
  for (const b of buckets) {
    for (const key of ["delivered", "deferred", "bounced", "smtp_451"]) sum[key] += b[key] ?? 0;
    for (const [name, n] of Object.entries(b.categories ?? {})) sum.categories[name] = (sum.categories[name] ?? 0) + n;
  }
  sum.attempts = sum.delivered + sum.deferred + sum.bounced;
  return sum;
}

/** Categories as [{category, share}], largest first: the same shape as an alert's `causes`. */
function shares(categories) {
  const total = Object.values(categories).reduce((a, b) => a + b, 0);
  return Object.entries(categories).sort((a, b) => b[1] - a[1]).map(([name, n]) => ({ category: name, share: n / total }));
}

// ---- sparklines: fetched lazily, only for rows on screen, a few at a time ------------------------------
const sparkCache = new Map(); // "window domain" → { generation, bins, binSeconds }
const sparkObserver = new IntersectionObserver((entries) => {
  for (const entry of entries.filter((e) => e.isIntersecting)) {
    sparkObserver.unobserve(entry.target);
    fillSparkline(entry.target);
  }
}, { rootMargin: "200px" });

let inFlight = 0;
const waiting = [];
/** At most three detail requests at once, so a long table does not burst the Worker and the KV reads behind it. */
async function limited(task) {
  if (inFlight >= 3) await new Promise((resolve) => waiting.push(resolve));
  inFlight++;
  try {
    return await task();
  } finally {
    inFlight--;
    waiting.shift()?.();
  }
}

function drawSparkline(cell, { bins, previous, binSeconds }) {
  const peak = Math.max(...bins.map((b) => b.smtp_451));
  let label = `451s over the ${lastWindow()}: at most ${num(peak)} per ${unitOf(binSeconds)}`;
  if (previous) label += `; the previous period (dashed): at most ${num(Math.max(...previous.map((b) => b.smtp_451)))}`;
  cell.replaceChildren(sparkline(bins, { label, previous }));
}

const sparkKey = (domain) => `${state.window} ${domain}`;

/** Draws the cached line at once (no flicker on refresh) and refetches it once per refresh when it scrolls into view. */
function trackSparkline(cell, domain) {
  cell.dataset.domain = domain;
  const cached = sparkCache.get(sparkKey(domain));
  if (cached) drawSparkline(cell, cached);
  if (cached?.generation !== state.generation) sparkObserver.observe(cell);
}

async function fillSparkline(cell) {
  const { domain } = cell.dataset;
  const { generation } = state;
  const key = sparkKey(domain);
  try {
    const detail = await limited(() => getJson(detailPath(domain)));
    if (generation !== state.generation) return; // the window changed meanwhile: this series is for the old one
    const line = { generation, ...series(detail.buckets, WINDOWS[state.window].seconds / SPARK_BINS, previousBuckets(detail)) };
    sparkCache.set(key, line);
    if (cell.isConnected) drawSparkline(cell, line);
  } catch {
    // A missing sparkline is not worth a banner: the row's numbers stand on their own.
  }
}

// ---- views ----------------------------------------------------------------------------------------------
const SILENCE_FOR = [["1 h", 3600], ["4 h", 4 * 3600], ["1 day", 86_400]];

/** Silences `domain` (or every alert, for the sender-wide one) for `seconds`, then redraws. */
async function silence(domain, seconds) {
  const match = domain === "*" ? "*" : { domain };
  const until = Math.floor(Date.now() / 1000) + seconds;
  await adminAction(() => sendAdmin("POST", "/api/silences", { match, until, comment: "silenced from the dashboard" }));
}

async function adminAction(send) {
  try {
    await send();
    $("admin-status").textContent = "";
  } catch (err) {
    $("admin-status").textContent = `Not done: ${err.message}`;
    $("admin").open = true;
  }
  refresh();
}

/** Who silenced the alert, why and until when; with the admin token, buttons to silence or unsilence. */
function silenceLine(alert) {
  const s = alert.silenced;
  const admin = Boolean(savedAdminToken());
  if (s) {
    return h("p", { class: "silenced" }, "🔕 Silenced until ", when(s.until), s.created_by ? ` by ${s.created_by}` : "",
      ` — ${s.comment}`,
      admin && h("button", { type: "button", class: "link", onclick: () => adminAction(() => sendAdmin("DELETE", `/api/silences/${encodeURIComponent(s.id)}`)) }, "Unsilence"));
  }
  return admin && h("p", { class: "silence-actions" }, "Silence for ",
    SILENCE_FOR.map(([label, seconds]) => h("button", { type: "button", onclick: () => silence(alert.domain, seconds) }, label)));
}

const DIMENSIONS = [["sending_ip", "Sending IP"], ["ip_pool", "IP pool"], ["sending_domain", "Sending domain"], ["tag", "Tag"]];

/** The top values of each dimension an alert or a domain names: `198.51.100.7 · 90 % of 451s`. */
function streamRows(breakdown, limit) {
  return DIMENSIONS.filter(([key]) => breakdown?.[key]?.length).flatMap(([key, label]) => [
    h("dt", {}, label),
    h("dd", { class: "streams", "data-dimension": key }, breakdown[key].slice(0, limit).map((v, i) =>
      h("span", {}, i ? ", " : "", h("code", {}, v.value), ` ${pct(v.share)} of 451s`))),
  ]);
}

function alertCard(alert) {
  const top = alert.causes?.[0];
  return h("article", { class: `alert alert-${alert.severity}${alert.silenced ? " is-silenced" : ""}` },
    h("header", {}, badge(alert.severity, SEVERITY_ICON[alert.severity]), alertSubject(alert),
      h("span", { class: "muted state" }, alert.state)),
    h("dl", {},
      h("dt", {}, "451 ratio"),
      h("dd", {}, h("strong", {}, pct(alert.ratio_451)), ` vs ${pct(alert.baseline_ratio)} baseline`),
      h("dt", {}, "451s"),
      h("dd", {}, num(alert.smtp_451)),
      h("dt", {}, "Cause"),
      h("dd", {}, top ? [category(top.category), ` ${pct(top.share)} of 451s`] : "mixed"),
      h("dt", {}, "Since"),
      h("dd", {}, when(alert.since)),
      ...streamRows(alert.breakdown, 2)),
    alert.concentration && h("p", { class: "concentration" }, alert.concentration),
    alert.advice && h("p", { class: "advice" }, [alert.advice].flat().join(" ")),
    silenceLine(alert));
}

/** Which of the sender's streams the window's 451s came from; nothing when the ESP named none. */
function streamsCard(detail) {
  if (!detail.breakdown) return null;
  return h("section", { class: "card", "aria-labelledby": "streams-h" },
    h("h2", { id: "streams-h" }, "Where the 451s came from"),
    detail.concentration && h("p", { class: "concentration" }, detail.concentration),
    h("dl", { class: "stream-list" }, streamRows(detail.breakdown, 5)));
}

/** `gmail.com · 451 ratio up three weeks running: 1.0 % → 1.2 % → 1.4 % → 1.7 % (+0.7 pp)`. */
function driftItem(drift) {
  const subject = drift.scope === "provider" ? providerLink(drift.id) : domainLink(drift.id);
  const ratios = (drift.weeks ?? []).map((w) => pct(w.ratio)).join(" → ");
  return h("li", { class: "drift" }, badge(drift.severity ?? "info", SEVERITY_ICON.info), " ", subject,
    ` · ${SIGNAL_NAME[drift.signal] ?? drift.signal} up three weeks running: ${ratios} (${points(drift.rise ?? 0)})`);
}

/** The weekly drift check's findings (`/api/alerts` `drifts`); nothing when there are none or the API has none. */
function driftsList(drifts = []) {
  return drifts.length > 0 && h("section", { class: "drifts", "aria-labelledby": "drifts-h" },
    h("h3", { id: "drifts-h" }, "Slow drifts ", h("span", { class: "count" }, drifts.length)),
    h("p", { class: "muted" }, "Ratios that rose three weeks running, checked weekly: for information, no alert is sent."),
    h("ul", {}, drifts.map(driftItem)));
}

function alertsSection({ active = [], recent = [], drifts = [] }, recentOpen) {
  const sorted = [...active].sort((a, b) => (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3));
  return h("section", { class: "alerts", "aria-labelledby": "alerts-h" },
    h("h2", { id: "alerts-h" }, "Active alerts ", h("span", { class: "count" }, active.length)),
    sorted.length
      ? h("div", { class: "alert-list" }, sorted.map(alertCard))
      : h("p", { class: "empty" }, "✓ No active alerts — no receiving domain is deferring more than usual."),
    driftsList(drifts),
    recent.length > 0 && h("details", { class: "recent", open: recentOpen },
      h("summary", {}, `Resolved in the last 7 days (${recent.length})`),
      h("ul", {}, recent.map((a) => h("li", {}, badge(a.severity, SEVERITY_ICON[a.severity]), " ", alertSubject(a),
        " · started ", when(a.since), ", resolved ", when(a.resolved_at))))));
}

function noTraffic() {
  return h("div", { class: "empty" },
    h("p", {}, `No mail seen in the ${lastWindow()}.`),
    h("p", { class: "muted" }, "No traffic yet? Point your ESP's webhook at ",
      h("code", {}, `${location.origin}/webhooks/{esp}`), " (sendgrid, mailgun, postmark, … — the README lists them)."));
}

function domainRow(d, benign) {
  const spark = h("td", { class: "spark-cell" });
  trackSparkline(spark, d.domain);
  return h("tr", { class: d.status && d.status !== "ok" && !benign.has(d.domain) ? "hot" : null },
    h("th", { scope: "row" }, domainLink(d.domain), d.provider && d.provider !== "unknown" &&
      h("span", { class: "muted" }, " · ", providerLink(d.provider))),
    h("td", { class: "status" }, statusBadge(d.status, d.domain, benign)),
    h("td", { class: "n", "data-label": "Attempts" }, num(d.attempts)),
    h("td", { class: "n", "data-label": "451s" }, num(d.smtp_451)),
    h("td", { class: "n", "data-label": "451 ratio" }, pct(d.ratio_451)),
    changeCell(d),
    spark);
}

function providerRow(p, benign) {
  return h("tr", { class: p.status && p.status !== "ok" && !benign.has(p.provider) ? "hot" : null },
    h("th", { scope: "row" }, providerLink(p.provider, p.name)),
    h("td", { class: "status" }, statusBadge(p.status, p.provider, benign)),
    h("td", { class: "n", "data-label": "Domains" }, num(p.domains)),
    h("td", { class: "n", "data-label": "Attempts" }, num(p.attempts)),
    h("td", { class: "n", "data-label": "451s" }, num(p.smtp_451)),
    h("td", { class: "n", "data-label": "451 ratio" }, pct(p.ratio_451)),
    changeCell(p));
}

/** The change column's heading, with what it compares. */
const changeHead = () => h("th", { scope: "col", class: "n", title: "451 ratio in percentage points · attempts in %, against the period before" }, "Change");

function providersSection({ providers = [] }, benign) {
  const heads = ["Provider", "Status", "Domains", "Attempts", "451s", "451 ratio"];
  return providers.length > 0 && h("section", { "aria-labelledby": "providers-h" },
    h("h2", { id: "providers-h" }, "Mailbox providers ", h("span", { class: "muted" }, `· ${lastWindow()}`)),
    h("div", { class: "card flush" }, h("table", { class: "domains" },
      h("thead", {}, h("tr", {}, heads.map((t, i) => h("th", { scope: "col", class: i >= 2 ? "n" : null }, t)), changeHead())),
      h("tbody", {}, providers.slice(0, 20).map((p) => providerRow(p, benign))))));
}

function domainsSection({ domains = [] }, benign) {
  const heads = ["Domain", "Status", "Attempts", "451s", "451 ratio"];
  return h("section", { "aria-labelledby": "domains-h" },
    h("h2", { id: "domains-h" }, "Receiving domains ", h("span", { class: "muted" }, `· ${lastWindow()}`)),
    domains.length
      ? h("div", { class: "card flush" }, h("table", { class: "domains" },
        h("thead", {}, h("tr", {}, heads.map((t, i) => h("th", { scope: "col", class: i >= 2 ? "n" : null }, t)), changeHead(),
          h("th", { scope: "col" }, "451s over time"))),
        h("tbody", {}, domains.map((d) => domainRow(d, benign)))))
      : noTraffic());
}

async function overview() {
  const [alerts, providers, domains] = await Promise.all([getJson("/api/alerts"),
    getJson(`/api/providers?window=${state.window}`), getJson(`/api/domains?window=${state.window}&limit=50`)]);
  const recentOpen = main.querySelector("details.recent")?.open;
  const benign = benignKeys(alerts);
  return [alertsSection(alerts, recentOpen), providersSection(providers, benign), domainsSection(domains, benign)];
}

/** The domain or provider page's chart of `detail.buckets`, with the previous period's line when the API has it. */
function chartCard(name, detail, sum) {
  const box = h("div", { class: "chart-box" });
  const { chartBin } = WINDOWS[state.window];
  const buckets = detail.buckets ?? [];
  const previous = previousBuckets(detail);
  state.drawChart = sum.attempts + sum.smtp_451 === 0 ? null : () => {
    const { bins, previous: before, binSeconds } = series(buckets, chartBin, previous);
    const peak = bins.reduce((a, b) => (b.smtp_451 > a.smtp_451 ? b : a));
    let desc = `${num(sum.attempts)} attempts and ${num(sum.smtp_451)} replies with code 451 in all; ` +
      `the most 451s, ${num(peak.smtp_451)}, in the ${unitOf(binSeconds)} from ${timeLabel(peak.start)}.`;
    if (before) {
      const then = totals(previous);
      desc += ` Dashed lines: the previous period, ${num(then.attempts)} attempts and ${num(then.smtp_451)} replies with code 451.`;
    }
    box.replaceChildren(timeChart(bins, {
      width: Math.max(280, box.clientWidth),
      title: `Attempts and 451 replies for ${name}, ${lastWindow()}`,
      desc,
      formatTime: timeLabel,
      unit: unitOf(binSeconds),
      previous: before,
    }));
  };
  if (!state.drawChart) box.append(h("p", { class: "empty" }, `No mail to ${name} in the ${lastWindow()}.`));
  const figures = [["Attempts", sum.attempts], ["Delivered", sum.delivered], ["Deferred", sum.deferred],
    ["Bounced", sum.bounced], ["451s", sum.smtp_451]];
  const change = changeText(detail);
  return h("section", { class: "card", "aria-labelledby": "chart-h" },
    h("h2", { id: "chart-h" }, "Attempts and 451s ", h("span", { class: "muted" }, `· ${lastWindow()}`)),
    h("ul", { class: "legend" },
      h("li", {}, h("span", { class: "swatch swatch-attempts", "aria-hidden": "true" }), "Attempts (delivered + deferred + bounced)"),
      h("li", {}, h("span", { class: "swatch swatch-451", "aria-hidden": "true" }), "Replies with code 451"),
      previous && h("li", { class: "legend-previous" },
        h("span", { class: "swatch swatch-previous", "aria-hidden": "true" }), "previous period (dashed: attempts, 451s)")),
    box,
    h("dl", { class: "figures" }, figures.map(([term, n]) => h("div", {}, h("dt", {}, term), h("dd", {}, num(n)))),
      h("div", {}, h("dt", {}, "451 ratio"), h("dd", {}, sum.attempts ? pct(sum.smtp_451 / sum.attempts) : "—")),
      change && h("div", { class: "figure-change" }, h("dt", {}, "Change on the previous period"), h("dd", {}, change))));
}

function categoriesCard(categories) {
  const rows = shares(categories);
  return h("section", { class: "card", "aria-labelledby": "cats-h" },
    h("h2", { id: "cats-h" }, "Failures by category"),
    rows.length === 0 ? h("p", { class: "empty" }, "No failures in this window.")
      : h("ul", { class: "breakdown" }, rows.map(({ category: name, share }) => {
        const bar = h("span", { class: "bar", "aria-hidden": "true" });
        bar.style.setProperty("--share", share);
        return h("li", {}, category(name), h("span", { class: "n" }, `${num(categories[name])} · ${pct(share)}`), bar);
      })));
}

/**
 * The advice for each cause making up at least a fifth of the failures, led by the spike advice when alerting.
 * The words come from the API (`advice`, `spike_advice`), so the page says exactly what the alert emails say.
 */
function adviceCard(causes, spiking, advice = {}, spikeAdvice = "") {
  const items = causes.filter((c) => c.share >= 0.2 && advice[c.category]).slice(0, 3)
    .map((c) => h("li", {}, category(c.category), ` ${pct(c.share)} — `, advice[c.category]));
  if (spiking && spikeAdvice) items.unshift(h("li", {}, h("strong", {}, "451 spike: "), spikeAdvice));
  return h("section", { class: "card", "aria-labelledby": "advice-h" },
    h("h2", { id: "advice-h" }, "What to do"),
    items.length ? h("ul", { class: "advice-list" }, items) : h("p", { class: "empty" }, "Nothing stands out in this window."));
}

/** Who the reply says produced the verdict (a blocklist, a filter, a provider), linked to its lookup page. */
function entityNote(entity) {
  if (!entity) return null;
  const name = entity.lookup ? h("a", { href: entity.lookup, rel: "noreferrer" }, entity.name) : entity.name;
  return h("span", {}, " · named by ", name, ` (${entity.kind.replaceAll("_", " ")})`);
}

function samplesCard(samples = []) {
  return h("section", { class: "card", "aria-labelledby": "samples-h" },
    h("h2", { id: "samples-h" }, "Sample replies"),
    h("p", { class: "muted" }, "As the receiving servers wrote them, redacted."),
    samples.length === 0 ? h("p", { class: "empty" }, "No sample replies in this window.")
      : h("ul", { class: "samples" }, samples.map((sample) => h("li", {},
        h("pre", {}, sample.reply),
        h("p", { class: "muted" }, category(sample.category), ` × ${num(sample.count)}`,
          sample.rule && [" · rule ", h("code", {}, sample.rule)], entityNote(sample.entity))))));
}

/** Hits per classification rule: the replies only the code-class fallback classified first, to write rules for. */
async function rulesPage() {
  const { rules = [] } = await getJson(`/api/rules?window=${hourlyWindow()}`);
  const heads = ["Rule", "Category", "Hits", "Sample reply"];
  return [
    h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "← All domains")),
    h("div", { class: "page-title" }, h("h1", {}, "Classification rules")),
    hourlyNote(),
    h("section", { class: "card", "aria-labelledby": "rules-h" },
      h("h2", { id: "rules-h" }, "Hits per rule ", h("span", { class: "muted" }, `· ${lastWindow()}`)),
      h("p", { class: "muted" }, "Replies no text rule recognised (", h("code", {}, "fallback.*"),
        ") come first: those are the ones to write a ", h("code", {}, "CLASSIFY_RULES"), " rule for."),
      rules.length === 0 ? h("p", { class: "empty" }, "No classified failures in this window.")
        : h("table", { class: "domains rules" },
          h("thead", {}, h("tr", {}, heads.map((t, i) => h("th", { scope: "col", class: i === 2 ? "n" : null }, t)))),
          h("tbody", {}, rules.map((r) => h("tr", { class: r.fallback ? "hot" : null },
            h("th", { scope: "row" }, h("code", {}, r.rule)),
            h("td", {}, category(r.category)),
            h("td", { class: "n", "data-label": "Hits" }, num(r.hits)),
            h("td", {}, r.sample ? h("pre", {}, r.sample) : h("span", { class: "muted" }, "—"))))))),
  ];
}

async function domainPage(name) {
  const [detail, alerts] = await Promise.all([getJson(detailPath(name)), getJson("/api/alerts")]);
  const alert = alerts.active?.find((a) => a.domain === name && a.scope !== "provider");
  const sum = totals(detail.buckets ?? []);
  const spiking = alert ? alert.severity !== "benign" : ["pending", "firing"].includes(detail.status);
  return [
    h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "← All domains"),
      detail.provider && detail.provider !== "unknown" && [" · ", providerLink(detail.provider)]),
    h("div", { class: "page-title" }, h("h1", {}, name), statusBadge(detail.status, name, benignKeys(alerts))),
    alert && alertCard(alert),
    driftsList(alerts.drifts?.filter((d) => d.scope === "domain" && d.id === name)),
    chartCard(name, detail, sum),
    h("div", { class: "columns" }, categoriesCard(sum.categories),
      adviceCard(alert?.causes?.length ? alert.causes : shares(sum.categories), spiking, detail.advice, detail.spike_advice)),
    streamsCard(detail),
    samplesCard(detail.samples),
  ];
}

function topDomainsCard(domains = [], benign) {
  return h("section", { class: "card", "aria-labelledby": "top-h" },
    h("h2", { id: "top-h" }, "Its domains"),
    domains.length === 0 ? h("p", { class: "empty" }, "No mail to this provider in this window.")
      : h("table", { class: "domains" },
        h("thead", {}, h("tr", {}, ["Domain", "Status", "Attempts", "451s", "451 ratio"].map((t, i) => h("th", { scope: "col", class: i >= 2 ? "n" : null }, t)))),
        h("tbody", {}, domains.map((d) => h("tr", {},
          h("th", { scope: "row" }, domainLink(d.domain)),
          h("td", { class: "status" }, statusBadge(d.status, d.domain, benign)),
          h("td", { class: "n" }, num(d.attempts)), h("td", { class: "n" }, num(d.smtp_451)),
          h("td", { class: "n" }, pct(d.ratio_451)))))));
}

async function providerPage(id) {
  const [detail, alerts] = await Promise.all([
    getJson(`/api/providers/${encodeURIComponent(id)}?window=${state.window}`), getJson("/api/alerts")]);
  const alert = alerts.active?.find((a) => a.scope === "provider" && a.provider === id);
  const sum = totals(detail.buckets ?? []);
  const spiking = alert ? alert.severity !== "benign" : ["pending", "firing"].includes(detail.status);
  const benign = benignKeys(alerts);
  return [
    h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "← Overview")),
    h("div", { class: "page-title" }, h("h1", {}, detail.name ?? id), statusBadge(detail.status, id, benign),
      h("span", { class: "muted" }, ` ${num(detail.domains ?? 0)} domains`)),
    alert && alertCard(alert),
    driftsList(alerts.drifts?.filter((d) => d.scope === "provider" && d.id === id)),
    chartCard(detail.name ?? id, detail, sum),
    h("div", { class: "columns" }, categoriesCard(sum.categories),
      adviceCard(alert?.causes?.length ? alert.causes : shares(sum.categories), spiking, detail.advice, detail.spike_advice)),
    streamsCard(detail),
    topDomainsCard(detail.top_domains, benign),
    samplesCard(detail.samples),
  ];
}

/** One dimension's values across all recipients, most 451s first, and what the values past the cap add up to. */
function streamTable([key, label], list, other) {
  const rows = list[key] ?? [];
  if (!rows.length && !other) return null;
  const cells = (v) => [
    h("td", { class: "n", "data-label": "Attempts" }, num(v.attempts)),
    h("td", { class: "n", "data-label": "451s" }, num(v.smtp_451)),
    h("td", { class: "n", "data-label": "451 ratio" }, pct(v.ratio_451)),
  ];
  return h("section", { class: "card flush", "aria-labelledby": `streams-${key}` },
    h("h2", { id: `streams-${key}`, class: "table-title" }, label),
    h("table", { class: "domains streams-table", "data-dimension": key },
      h("thead", {}, h("tr", {}, ["Value", "Attempts", "451s", "451 ratio"].map((t, i) => h("th", { scope: "col", class: i ? "n" : null }, t)))),
      h("tbody", {},
        rows.map((v) => h("tr", {}, h("th", { scope: "row" }, h("code", {}, v.value)), ...cells(v))),
        other && h("tr", { class: "muted" }, h("th", { scope: "row" }, "other values"), ...cells(other)))));
}

async function streamsPage() {
  const list = await getJson(`/api/streams?window=${hourlyWindow()}`);
  const tables = DIMENSIONS.map((dimension) => streamTable(dimension, list, list.other?.[dimension[0]])).filter(Boolean);
  return [
    h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "← All domains")),
    h("div", { class: "page-title" }, h("h1", {}, "Sending streams"),
      h("span", { class: "muted" }, `${num(list.attempts)} attempts · ${num(list.smtp_451)} 451s · ${lastWindow()}`)),
    hourlyNote(),
    ...(tables.length ? tables : [h("p", { class: "empty" }, "No event in this window named a sending IP, pool, sending domain or tag.")]),
  ];
}

// ---- refresh loop, token, classify -------------------------------------------------------------------------
function route() {
  if (location.hash === "#/rules") return { rules: true };
  if (location.hash === "#/streams") return { streams: true };
  const match = location.hash.match(/^#\/(domain|provider)\/(.+)$/);
  try {
    return match ? { [match[1]]: decodeURIComponent(match[2]) } : {};
  } catch {
    return {}; // a malformed escape in a hand-typed URL: show the overview
  }
}

function askForToken() {
  const rejected = Boolean(savedToken());
  saveToken(null);
  main.replaceChildren();
  $("token").hidden = false;
  $("token-error").textContent = rejected ? "That token was not accepted; check READ_TOKEN and try again." : "";
  $("token-input").focus();
}

/** Redraws the current view. A newer refresh (hash change, window change) makes an older one drop its result. */
async function refresh() {
  clearTimeout(state.timer);
  const generation = ++state.generation;
  sparkObserver.disconnect();
  const { domain, provider, rules, streams } = route();
  try {
    const nodes = rules ? await rulesPage() : streams ? await streamsPage() : domain ? await domainPage(domain)
      : provider ? await providerPage(provider) : await overview();
    if (generation !== state.generation) return;
    if (!domain && !provider) state.drawChart = null;
    main.replaceChildren(...nodes.filter(Boolean));
    state.drawChart?.();
    $("banner").hidden = true;
    $("updated").textContent = `Updated ${clock.format(new Date())} · every 30 s`;
  } catch (err) {
    if (generation !== state.generation) return;
    if (err instanceof Unauthorized) return askForToken(); // no timer: nothing loads until the token is given
    $("banner").textContent = `Couldn't load the latest data (${err.message}). Trying again every 30 s.`;
    $("banner").hidden = false;
  }
  if (!document.hidden) state.timer = setTimeout(refresh, REFRESH_MS);
}

function verdict(v) {
  const row = (term, ...detail) => [h("dt", {}, term), h("dd", {}, ...detail)];
  return h("dl", { class: "verdict" },
    row("Category", category(v.category)),
    row("Permanence", v.permanence),
    row("Action", v.action),
    row("Rule", h("code", {}, v.rule)),
    v.context && row("Context", v.context),
    v.entity && row("Named by", entityNote(v.entity)),
    row("Codes", [v.smtp_code, v.enhanced_code].filter(Boolean).join(" · ") || "none in the reply"),
    v.reputation_signal && row("Reputation", "⚠ the reply also speaks of your sending reputation"));
}

$("classify-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = $("classify-result");
  result.replaceChildren(h("p", { class: "muted" }, "Classifying…"));
  try {
    const v = await getJson(`/api/classify?reply=${encodeURIComponent($("classify-input").value.trim())}`);
    result.replaceChildren(verdict(v));
  } catch (err) {
    result.replaceChildren();
    if (err instanceof Unauthorized) askForToken();
    else result.append(h("p", { class: "error" }, err.message));
  }
});

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  saveToken($("token-input").value.trim());
  $("token-input").value = "";
  $("token").hidden = true;
  refresh();
});

$("admin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  saveAdminToken($("admin-input").value.trim());
  $("admin-input").value = "";
  $("admin-status").textContent = savedAdminToken() ? "Admin token kept for this tab." : "Admin token forgotten.";
  refresh();
});

for (const input of document.querySelectorAll('input[name="window"]')) {
  input.checked = input.value === state.window;
  input.addEventListener("change", () => {
    state.window = input.value;
    localStorage.setItem(WINDOW_KEY, input.value);
    refresh();
  });
}

let resizeTimer = 0;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => state.drawChart?.(), 150);
});
window.addEventListener("hashchange", () => {
  refresh();
  window.scrollTo(0, 0);
});
// A hidden tab stops asking the Worker every 30 s; it catches up the moment it is shown again.
document.addEventListener("visibilitychange", () => {
  if (document.hidden) clearTimeout(state.timer);
  else refresh();
});
refresh();
