// The DoH stub itself answers as a dns-json resolver would, for every fault the provider tests need.
import { test } from "node:test";
import assert from "node:assert/strict";

import { startDohStub } from "./doh_stub.mjs";

const ACCEPT = { accept: "application/dns-json" };

async function query(stub, name, init = {}) {
  return fetch(`${stub.url}?name=${encodeURIComponent(name)}&type=MX`, { headers: ACCEPT, ...init });
}

test("the stub serves configured MX records, a null MX, CNAMEs and NXDOMAIN in the dns-json form", async () => {
  const stub = await startDohStub({
    "corp.example": { mx: ["10 corp-example.mail.protection.outlook.com."], ttl: 300 },
    "null.example": { mx: ["0 ."] },
    "alias.example": { fault: "cname", target: "mail.example-hosting.net", mx: ["5 mx1.example-hosting.net."] },
  });
  try {
    const corp = await (await query(stub, "corp.example")).json();
    assert.equal(corp.Status, 0);
    assert.deepEqual(corp.Answer, [
      { name: "corp.example.", type: 15, TTL: 300, data: "10 corp-example.mail.protection.outlook.com." },
    ]);
    const nullMx = await (await query(stub, "NULL.example.")).json();
    assert.equal(nullMx.Answer[0].data, "0 .");
    const alias = await (await query(stub, "alias.example")).json();
    assert.deepEqual(alias.Answer.map((r) => r.type), [5, 15]);
    const missing = await (await query(stub, "nobody.example")).json();
    assert.equal(missing.Status, 3);
    assert.equal(missing.Authority[0].type, 6);
    assert.deepEqual(stub.requests[0], { name: "corp.example", type: "MX", accept: "application/dns-json" });
  } finally {
    await stub.stop();
  }
});

test("the stub answers SERVFAIL, malformed, huge and HTTP 500 when told to", async () => {
  const stub = await startDohStub({
    "servfail.example": { fault: "servfail" },
    "malformed.example": { fault: "malformed" },
    "huge.example": { fault: "huge" },
    "broken.example": { fault: "http500" },
  });
  try {
    assert.equal((await (await query(stub, "servfail.example")).json()).Status, 2);
    const malformed = await (await query(stub, "malformed.example")).text();
    assert.throws(() => JSON.parse(malformed), SyntaxError);
    const huge = await (await query(stub, "huge.example")).text();
    assert.ok(huge.length > 64 * 1024, `${huge.length} bytes`);
    assert.equal((await query(stub, "broken.example")).status, 500);
    assert.equal((await fetch(`${stub.url}?type=MX`)).status, 400);
  } finally {
    await stub.stop();
  }
});

test("a slow answer outlasts a client's timeout, and set() changes an answer while running", async () => {
  const stub = await startDohStub();
  try {
    stub.set("slow.example", { fault: "slow", delayMs: 2_000 });
    const started = Date.now();
    await assert.rejects(query(stub, "slow.example", { signal: AbortSignal.timeout(200) }), /abort|timeout/i);
    assert.ok(Date.now() - started < 1_500);
    stub.set("slow.example", { mx: ["10 aspmx.l.google.com."] });
    const fast = await (await query(stub, "slow.example")).json();
    assert.equal(fast.Answer[0].data, "10 aspmx.l.google.com.");
  } finally {
    await stub.stop();
  }
});
