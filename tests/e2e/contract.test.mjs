// The API contract under wrangler dev: schemathesis (pinned, installed by scripts/setup.sh into
// .venv-schemathesis) runs `--checks all` against the served OpenAPI document, once without READ_TOKEN,
// once with it and once on the write routes with ADMIN_TOKEN, and must find nothing. Then what workerd
// could change on the way out: HEAD, `Allow` on a 405, and the CSV answers, read back with Python's csv
// module (a real RFC 4180 reader, in the same venv).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT, call, genericEvents, postGeneric, startWorker } from "./harness.mjs";

const VENV = join(ROOT, ".venv-schemathesis/bin");
const GENERIC_TOKEN = "contract-generic-token";
const READ_TOKEN = "contract-read-token";
const ADMIN_TOKEN = "contract-admin-token";
// Bounded so that both runs take well under two minutes; the seed makes a failure reproducible with the
// command printed in the output (`st replay` needs the same seed).
const MAX_EXAMPLES = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? "20";
const SEED = process.env.SCHEMATHESIS_SEED ?? "20261216";

/** Runs a program to completion without blocking the event loop (wrangler's output must keep draining). */
function run(program, args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: ROOT, stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
    child.stdin.end(input ?? "");
  });
}

/** schemathesis against `worker`; the repository's schemathesis.toml is picked up from ROOT. */
async function schemathesis(worker, headers = [], filters = []) {
  const args = [
    "run", `${worker.url}/api/openapi.json`, "--checks", "all",
    "--max-examples", MAX_EXAMPLES, "--seed", SEED, "--generation-database", "none",
    "--workers", "1", "--no-color", ...filters,
  ];
  for (const header of headers) args.push("--header", header);
  const started = Date.now();
  const result = await run(join(VENV, "schemathesis"), args);
  return { ...result, seconds: (Date.now() - started) / 1000 };
}

/** Traffic to two ordinary domains, so the list has rows and schemathesis's links reach real details. */
async function seed(worker) {
  const at = Math.floor(Date.now() / 1000) - 120;
  const batch = [
    ...genericEvents("gmail.com", 20, { at }),
    ...genericEvents("gmail.com", 5, { event: "deferred", reply: "451 4.7.1 try again later", at }),
    ...genericEvents("outlook.com", 10, { at }),
  ];
  const response = await postGeneric(worker, GENERIC_TOKEN, batch);
  assert.equal(response.status, 200, response.text);
}

function assertClean(name, { code, output, seconds }, atLeast = 12) {
  console.log(`schemathesis ${name}: exit ${code} in ${seconds.toFixed(1)} s`);
  assert.equal(code, 0, `schemathesis ${name} found failures:\n${output}`);
  // A run that tested nothing would also exit 0.
  const selected = output.match(/Selected: (\d+)\/\d+/);
  const tested = output.match(/Tested: (\d+)/);
  assert.ok(selected && tested && Number(tested[1]) === Number(selected[1]) && Number(tested[1]) >= atLeast, output);
  assert.match(output, /No issues found/);
}

let open;
let secured;
let admin;

before(async () => {
  [open, secured, admin] = await Promise.all([
    startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: GENERIC_TOKEN } }),
    startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: GENERIC_TOKEN, READ_TOKEN } }),
    startWorker({ vars: { GENERIC_WEBHOOK_TOKEN: GENERIC_TOKEN, ADMIN_TOKEN } }),
  ]);
  await Promise.all([seed(open), seed(secured)]);
});

after(async () => {
  await Promise.all([open?.stop(), secured?.stop(), admin?.stop()]);
});

// Without ADMIN_TOKEN the write routes answer only 403, as the document says (tests/contract.rs pins it);
// schemathesis would warn that it cannot get past it, so they are checked in a run of their own, with it.
const WITHOUT_WRITES = ["--exclude-name", "POST /api/silences", "--exclude-name", "DELETE /api/silences/{id}"];

test("schemathesis --checks all finds nothing, with READ_TOKEN unset and with it set, and on the write routes with ADMIN_TOKEN", async () => {
  const [withoutToken, withToken, writes] = await Promise.all([
    schemathesis(open, [], WITHOUT_WRITES),
    schemathesis(secured, [`Authorization: Bearer ${READ_TOKEN}`], WITHOUT_WRITES),
    schemathesis(admin, [`Authorization: Bearer ${ADMIN_TOKEN}`], ["--include-path-regex", "^/api/silences"]),
  ]);
  assertClean("without READ_TOKEN", withoutToken);
  assertClean("with READ_TOKEN", withToken);
  assertClean("the write routes with ADMIN_TOKEN", writes, 3);
});

test("HEAD is GET without the body, and a 405 names what is allowed", async () => {
  for (const path of ["/api/health", "/api/domains", "/api/domains/gmail.com?format=csv", "/api/classify"]) {
    const get = await fetch(`${open.url}${path}`);
    const head = await fetch(`${open.url}${path}`, { method: "HEAD" });
    assert.equal(head.status, get.status, path);
    assert.equal(head.headers.get("content-type"), get.headers.get("content-type"), path);
    assert.equal((await head.arrayBuffer()).byteLength, 0, path);
    assert.ok((await get.arrayBuffer()).byteLength > 0, path);
  }
  for (const [path, method, allow] of [
    ["/api/domains", "DELETE", "GET, HEAD, OPTIONS"],
    ["/api/classify", "PUT", "GET, HEAD, POST, OPTIONS"],
    ["/webhooks/sendgrid", "GET", "POST"],
    // A method workers-rs has no name for (it reads those as GET): the shell passes on the method as sent.
    ["/api/health", "QUERY", "GET, HEAD, OPTIONS"],
  ]) {
    const response = await call(open, path, { method });
    assert.equal(response.status, 405, `${method} ${path}`);
    assert.equal(response.headers.get("allow"), allow, `${method} ${path}`);
  }
  const lowerCase = await call(secured, "/api/alerts", { headers: { authorization: `bearer ${READ_TOKEN}` } });
  assert.equal(lowerCase.status, 200);
  const repeated = await call(open, "/api/domains?window=1h&window=7d");
  assert.equal(repeated.status, 400);
  assert.match(repeated.json.message, /`window`/);
});

/** A CSV body parsed by Python's csv module into objects keyed by the header. */
async function readCsv(text) {
  const script = "import csv, json, sys; print(json.dumps(list(csv.DictReader(sys.stdin))))";
  const { code, output } = await run(join(VENV, "python"), ["-c", script], { input: text });
  assert.equal(code, 0, output);
  return JSON.parse(output);
}

test("the CSV answers read back as the JSON rows", async () => {
  const json = await call(open, "/api/domains?window=1h");
  const csv = await call(open, "/api/domains?window=1h", { headers: { accept: "text/csv" } });
  assert.equal(csv.status, 200);
  assert.equal(csv.headers.get("content-type"), "text/csv; charset=utf-8; header=present");
  assert.equal(csv.headers.get("content-disposition"), 'attachment; filename="domains-1h.csv"');
  const rows = await readCsv(csv.text);
  assert.deepEqual(
    rows.map((r) => [r.domain, Number(r.attempts), Number(r.smtp_451), Number(r.rate_limited), r.status]),
    json.json.domains.map((d) => [d.domain, d.attempts, d.smtp_451, d.categories.rate_limited ?? 0, d.status]),
  );
  assert.equal(rows.length, 2);

  const detail = await call(open, "/api/domains/gmail.com?window=1h");
  const buckets = await readCsv((await call(open, "/api/domains/gmail.com?window=1h&format=csv")).text);
  assert.deepEqual(
    buckets.map((b) => [Number(b.start), Number(b.delivered), Number(b.deferred), Number(b.smtp_451)]),
    detail.json.buckets.map((b) => [b.start, b.delivered, b.deferred, b.smtp_451]),
  );
});
