// Starts the built Worker under `wrangler dev` (workerd) on 127.0.0.1 with a fresh local KV directory, and
// stops it again. The Worker must already be built (`make test` does it once): the harness runs wrangler
// with a generated config that has no [build] step, so each test file starts in seconds.
import { execFile, spawn } from "node:child_process";
import { createHmac, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../..");

function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * One of the project's two wrangler configs (the front's, wrangler.toml, or the counting Worker's) with the
 * [build] step removed and `main` pointing at that Worker's built shim.
 */
function testConfig(dir, file, built) {
  const source = readFileSync(join(ROOT, file), "utf8");
  const withoutBuild = source.replace(/\[build\][^\[]*/s, "");
  const config = withoutBuild
    .replace(/^main\s*=.*$/m, `main = ${JSON.stringify(join(ROOT, "build", built, "index.js"))}`)
    .replace(/^directory\s*=.*$/m, `directory = ${JSON.stringify(join(ROOT, "public"))}`);
  const path = join(dir, file);
  writeFileSync(path, config);
  return path;
}

/**
 * Starts a Worker. `vars` become Worker vars (the shell reads secrets and vars alike).
 * Returns { url, persistDir, logs(), stop() }.
 */
export async function startWorker(options = {}) {
  // Test files run side by side (`make test`), so a port found free may be taken before wrangler binds it.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWorkerOnce(options);
    } catch (error) {
      if (attempt === 3 || !/EADDRINUSE|address already in use/i.test(error.message)) throw error;
    }
  }
}

async function startWorkerOnce({ vars = {}, persistDir } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bouncewatch-e2e-"));
  const persist = persistDir ?? join(dir, "state");
  const port = await freePort();
  const args = [
    "dev", "--local", "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(await freePort()),
    // Both Workers in one workerd, the front first: it has the port, the vars and the cron.
    "--config", testConfig(dir, "wrangler.toml", "front"),
    "--config", testConfig(dir, "wrangler.counting.toml", "counting"),
    "--persist-to", persist,
    "--show-interactive-dev-session=false", "--log-level", "log",
  ];
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
    cwd: dir,
    env: {
      ...process.env,
      WRANGLER_SEND_METRICS: "false",
      CLOUDFLARE_CF_FETCH_ENABLED: "false",
      PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`wrangler dev exited early:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/api/health`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error(`wrangler dev did not answer within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    cwd: dir,
    persistDir: persist,
    logs: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(-child.pid, "SIGTERM");
        const timer = setTimeout(() => child.exitCode === null && process.kill(-child.pid, "SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fetches `path` and returns { status, headers, json }. */
export async function call(worker, path, init = {}) {
  const response = await fetch(`${worker.url}${path}`, init);
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, json, text };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until `read()` returns `expected` (the local runtime finishes a cron's sends after answering the
 * trigger), then a moment more, so that an extra, unwanted send would be seen too.
 */
export async function settle(read, expected, { timeoutMs = 15_000, quietMs = 2_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (read() < expected && Date.now() < deadline) await sleep(100);
  await sleep(quietMs);
  return read();
}

/** For checks that nothing more is sent: the sends that do happen land within a second here. */
export const NOTHING_NEW = { timeoutMs: 3_000, quietMs: 0 };

/**
 * A stand-in for an email API on 127.0.0.1 that records requests and answers each with the next queued
 * answer (then 200): an HTTP status, or "reset" to drop the connection unanswered.
 */
export async function captureServer(answers = []) {
  const requests = [];
  const server = createHttpServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      const answer = answers.shift() ?? 200;
      requests.push({ method: req.method, url: req.url, headers: req.headers, body, answer });
      if (answer === "reset") return req.socket.destroy();
      res.writeHead(answer, { "content-type": "application/json" });
      res.end(JSON.stringify(answer === 200 ? { id: `captured-${requests.length}` } : { message: "boom" }));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { requests, base: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
}

/** The log lines of the cron runs the Worker has finished so far, parsed (see `cron_log_line` in the shell). */
export function cronRuns(worker) {
  const lines = worker.logs().split("\n").filter((line) => line.includes('"event":"cron"'));
  return lines.map((line) => JSON.parse(line.slice(line.indexOf("{"), line.lastIndexOf("}") + 1)));
}

/** Runs the Worker's cron handler once, as the scheduler would. */
export async function triggerCron(worker, cron = "* * * * *") {
  const response = await fetch(`${worker.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(cron)}`);
  return response.status;
}

/** Runs the cron handler once and waits for its log line, so the run has finished (state saved). */
export async function cronRun(worker) {
  const before = cronRuns(worker).length;
  const status = await triggerCron(worker);
  if (status !== 200) throw new Error(`cron answered ${status}`);
  const deadline = Date.now() + 15_000;
  while (cronRuns(worker).length === before) {
    if (Date.now() > deadline) throw new Error(`the cron run logged nothing:\n${worker.logs()}`);
    await sleep(50);
  }
  return cronRuns(worker)[before];
}

/**
 * A P-256 key pair standing in for SendGrid's: `publicKey` is the SENDGRID_WEBHOOK_PUBLIC_KEY value and
 * `headers(body)` signs a body as SendGrid's Signed Event Webhook does.
 */
export function sendgridSigner() {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return {
    publicKey: publicKey.export({ type: "spki", format: "der" }).toString("base64"),
    headers(body, timestamp = String(Math.floor(Date.now() / 1000))) {
      const signature = sign("sha256", Buffer.from(timestamp + body), privateKey).toString("base64");
      return {
        "content-type": "application/json",
        "x-twilio-email-event-webhook-signature": signature,
        "x-twilio-email-event-webhook-timestamp": timestamp,
      };
    },
  };
}

/** Mailgun's `signature` block for `key`: signed now, with a fresh token (Mailgun re-signs every retry). */
export function mailgunSignature(key, token = randomBytes(25).toString("hex")) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  return { timestamp, token, signature: createHmac("sha256", key).update(timestamp + token).digest("hex") };
}

let serial = 0;

/** `count` generic-form events to `domain`, spread over the 4 minutes before `at` (unix seconds). */
export function genericEvents(domain, count, { event = "delivered", reply, at }) {
  return Array.from({ length: count }, (_, i) => ({
    id: `e2e-${domain}-${process.pid}-${serial++}`,
    event,
    recipient: `user${i}@${domain}`,
    ...(reply ? { reply } : {}),
    timestamp: at - (i % 240),
  }));
}

/** Posts a generic-form batch (an array or a ready body) and returns the response. */
export function postGeneric(worker, token, batch) {
  return call(worker, "/webhooks/generic", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: typeof batch === "string" ? batch : JSON.stringify(batch),
  });
}

/**
 * Seeds a day of quiet traffic to `domain` and `steadyDomain` (about 1 % greylisting 451s) and, in the
 * last minutes, a 451 spike on `domain` with `reply`, then runs the cron twice (an alert fires only after
 * two consecutive breaches). `sending(kind, i)` gives the spike's events to `domain` their sending dimensions
 * (`{ sending_ip, tags }`), by kind ("delivered" or "deferred") and index; none by default.
 */
export async function seedSpike(worker, token, { domain, steadyDomain, reply, now = Math.floor(Date.now() / 1000), sending = () => ({}) }) {
  const greylist = "451 4.3.0 greylisted, please retry in 300 seconds";
  const expectOk = (response) => {
    if (response.status !== 200) throw new Error(`seeding failed: ${response.status} ${response.text}`);
  };
  for (let hoursAgo = 2; hoursAgo <= 20; hoursAgo++) {
    const at = now - hoursAgo * 3600;
    expectOk(await postGeneric(worker, token, [
      ...genericEvents(domain, 100, { at }),
      ...genericEvents(domain, 1, { event: "deferred", reply: greylist, at }),
      ...genericEvents(steadyDomain, 100, { at }),
      ...genericEvents(steadyDomain, 1, { event: "deferred", reply: greylist, at }),
    ]));
  }
  const recent = now - 60;
  expectOk(await postGeneric(worker, token, [
    ...genericEvents(domain, 200, { at: recent }).map((e, i) => ({ ...e, ...sending("delivered", i) })),
    ...genericEvents(domain, 60, { event: "deferred", reply, at: recent }).map((e, i) => ({ ...e, ...sending("deferred", i) })),
    ...genericEvents(steadyDomain, 50, { at: recent }),
    ...genericEvents(steadyDomain, 1, { event: "deferred", reply: greylist, at: recent }),
  ]));
  for (let run = 0; run < 2; run++) {
    const status = await triggerCron(worker);
    if (status !== 200) throw new Error(`cron answered ${status}`);
  }
}

/** Runs the project's wrangler CLI (no metrics, no Request.cf lookup) in `cwd` and returns its stdout. */
function wranglerCli(args, cwd) {
  return new Promise((resolveRun, reject) => {
    execFile(join(ROOT, "node_modules/.bin/wrangler"), args, {
      cwd,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        CLOUDFLARE_CF_FETCH_ENABLED: "false",
        PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}`,
      },
      maxBuffer: 64 * 1024 * 1024,
    }, (error, out, err) => (error ? reject(new Error(`wrangler ${args.slice(0, 3).join(" ")} failed: ${error.message}\n${err}`)) : resolveRun(out)));
  });
}

/**
 * The keys in the Worker's local KV, as `wrangler kv key list` reads them from its persistence directory:
 * the real CLI on the real store, so no debug route is needed to see what the Worker wrote.
 */
export async function kvKeys(worker, { binding = "BOUNCEWATCH", persistDir = worker.persistDir } = {}) {
  const args = [
    "kv", "key", "list", "--binding", binding, "--local", "--persist-to", persistDir,
    "--config", join(worker.cwd, "wrangler.toml"),
  ];
  const stdout = await wranglerCli(args, worker.cwd);
  // Wrangler may print a banner before the JSON array.
  return JSON.parse(stdout.slice(stdout.indexOf("[")));
}

/**
 * Writes `value` under `key` into the local KV at `persistDir` with `wrangler kv key put`, for a Worker
 * started on it afterwards (`startWorker({ persistDir })`): what the Worker would find had it stored it.
 */
export async function kvPut(persistDir, key, value, { binding = "BOUNCEWATCH" } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bouncewatch-kv-"));
  try {
    const file = join(dir, "value");
    writeFileSync(file, value);
    const args = [
      "kv", "key", "put", key, "--path", file, "--binding", binding, "--local", "--persist-to", persistDir,
      "--config", testConfig(dir, "wrangler.toml", "front"),
    ];
    await wranglerCli(args, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The counting shard that owns `domain`: FNV-1a modulo the shard count, as `shard_of` in
 * src/counting/delta.rs, so a test can say which `page:<shard>:` keys to expect.
 */
export function shardOf(domain, shards) {
  if (shards <= 1) return 0;
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(domain)) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return Number(hash % BigInt(shards));
}

/** Svix's headers (Resend's webhooks) for `body` under a `whsec_…` secret, signed now with message id `id`. */
export function svixHeaders(secret, id, body, timestamp = String(Math.floor(Date.now() / 1000))) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const signature = createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64");
  return { "content-type": "application/json", "svix-id": id, "svix-timestamp": timestamp, "svix-signature": `v1,${signature}` };
}

/** The count fields the volume tests compare, per domain and per bucket (a bucket's view has no `dropped`). */
export const COUNTED = ["delivered", "deferred", "bounced", "smtp_451"];

const zeroCounts = () => Object.fromEntries(COUNTED.map((f) => [f, 0]));

/** What a test sent, per domain and per bucket (by event time), in the shape `apiCounts` reads back. */
export class Tally {
  constructor(bucketSecs = 300) {
    this.bucketSecs = bucketSecs;
    this.byDomain = {};
    this.events = 0;
  }

  add(domain, at, counts) {
    const bucket = at - (at % this.bucketSecs);
    const entry = (this.byDomain[domain] ??= { totals: zeroCounts(), buckets: {} });
    const slot = (entry.buckets[bucket] ??= zeroCounts());
    for (const [field, n] of Object.entries(counts)) {
      entry.totals[field] += n;
      slot[field] += n;
    }
    this.events++;
  }

  domains() {
    return Object.keys(this.byDomain).sort();
  }

  /** The hour pages the counted buckets fall in: `[shard, hour start]`, sorted. */
  pages(shards = 1) {
    const pages = new Set();
    for (const [domain, { buckets }] of Object.entries(this.byDomain)) {
      for (const bucket of Object.keys(buckets)) pages.add(`${shardOf(domain, shards)}:${Number(bucket) - (Number(bucket) % 3600)}`);
    }
    return [...pages].sort().map((p) => p.split(":").map(Number));
  }
}

/** The KV key of shard `shard`'s page of the hour starting at `hour`, as src/counting/publish.rs names it. */
export const pageKey = (shard, hour) => `page:${shard}:${String(hour).padStart(10, "0")}`;

/**
 * What the API says about `domains` over `window`: their totals from `/api/domains` and their buckets from
 * `/api/domains/{d}`, in `Tally`'s shape, and every domain `/api/domains` listed.
 */
export async function apiCounts(worker, domains, { window = "24h" } = {}) {
  const list = await call(worker, `/api/domains?window=${window}&limit=1000`);
  if (list.status !== 200) throw new Error(`/api/domains answered ${list.status}: ${list.text}`);
  const pick = (row) => Object.fromEntries(COUNTED.map((f) => [f, row?.[f] ?? 0]));
  const byDomain = {};
  for (const domain of domains) {
    const detail = await call(worker, `/api/domains/${domain}?window=${window}`);
    if (detail.status !== 200) throw new Error(`/api/domains/${domain} answered ${detail.status}: ${detail.text}`);
    byDomain[domain] = {
      totals: pick(list.json.domains.find((d) => d.domain === domain)),
      buckets: Object.fromEntries(detail.json.buckets.map((b) => [b.start, pick(b)])),
    };
  }
  return { byDomain, listed: list.json.domains.map((d) => d.domain).sort() };
}

/** The outcomes sent, each as a generic event, a SendGrid event and Mailgun event-data, and what it counts. */
export const OUTCOMES = [
  { counts: { delivered: 1 }, generic: { event: "delivered" }, sendgrid: { event: "delivered" }, mailgun: { event: "delivered" } },
  {
    counts: { deferred: 1, smtp_451: 1 },
    generic: { event: "deferred", reply: "451 4.7.1 Try again later" },
    sendgrid: { event: "deferred", response: "451 4.7.1 Try again later" },
    mailgun: { event: "failed", severity: "temporary", "delivery-status": { code: 451, message: "4.7.1 Try again later" } },
  },
  {
    counts: { deferred: 1 },
    generic: { event: "deferred", reply: "421 4.7.0 Too many concurrent connections" },
    sendgrid: { event: "deferred", response: "421 4.7.0 Too many concurrent connections" },
    mailgun: { event: "failed", severity: "temporary", "delivery-status": { code: 421, message: "4.7.0 Too many concurrent connections" } },
  },
  {
    counts: { bounced: 1 },
    generic: { event: "bounced", reply: "550 5.1.1 user unknown" },
    sendgrid: { event: "bounce", type: "bounce", status: "5.1.1", reason: "550 5.1.1 user unknown" },
    mailgun: { event: "failed", severity: "permanent", "delivery-status": { code: 550, message: "5.1.1 user unknown" } },
  },
];

/** mulberry32: a seeded generator, so a failure can be replayed with the same traffic. */
export function generator(seed) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
