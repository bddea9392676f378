// A DNS-over-HTTPS stub in the JSON form (`GET /dns-query?name=…&type=MX`, `accept: application/dns-json`)
// on 127.0.0.1, so the end-to-end tests resolve MX records without reaching the internet. Point the
// Worker's DOH_URL at `stub.url`.
//
//   const stub = await startDohStub({
//     "corp.example": { mx: ["10 corp-example.mail.protection.outlook.com."] },
//     "null.example": { mx: ["0 ."] },
//     "gone.example": { fault: "nxdomain" },
//   });
//   stub.set("slow.example", { fault: "slow", delayMs: 5000 });
//   ... stub.requests (every query asked), await stub.stop()
//
// Faults: "nxdomain", "servfail", "malformed" (not JSON), "huge" (a body over 64 KiB), "slow" (answers
// after delayMs, default 10 s), "http500", "cname" (a CNAME to `target` whose MX answers follow).
// A name with no entry gets NXDOMAIN, as a real resolver would for a name nobody registered.
import { createServer } from "node:http";

const MX = 15;
const CNAME = 5;
const SOA = 6;

function soa(name, ttl) {
  return { name: `${name}.`, type: SOA, TTL: ttl, data: `ns1.${name}. hostmaster.${name}. 1 7200 3600 1209600 ${ttl}` };
}

/** The dns-json body and HTTP status for `name`, per its entry. */
function answerFor(name, entry) {
  const ttl = entry?.ttl ?? 3600;
  const question = [{ name: `${name}.`, type: MX }];
  if (!entry || entry.fault === "nxdomain") {
    return { status: 200, body: { Status: 3, TC: false, Question: question, Authority: [soa(name, 900)] } };
  }
  switch (entry.fault) {
    case "servfail":
      return { status: 200, body: { Status: 2, TC: false, Question: question, Comment: "stub SERVFAIL" } };
    case "malformed":
      return { status: 200, raw: "<html>not dns-json</html>" };
    case "huge":
      return { status: 200, raw: JSON.stringify({ Status: 0, Question: question, Comment: "x".repeat(70 * 1024) }) };
    case "http500":
      return { status: 500, raw: "stub failure" };
    case "cname": {
      const target = entry.target;
      const answer = [{ name: `${name}.`, type: CNAME, TTL: ttl, data: `${target}.` }];
      for (const data of entry.mx ?? []) answer.push({ name: `${target}.`, type: MX, TTL: ttl, data });
      return { status: 200, body: { Status: 0, TC: false, Question: question, Answer: answer } };
    }
    default: {
      const answer = (entry.mx ?? []).map((data) => ({ name: `${name}.`, type: MX, TTL: ttl, data }));
      const body = { Status: 0, TC: false, Question: question, Answer: answer };
      if (answer.length === 0) body.Authority = [soa(name, 900)];
      return { status: 200, body };
    }
  }
}

/** Starts the stub on a free port of 127.0.0.1. `answers` maps a lower-case name to its entry. */
export async function startDohStub(answers = {}) {
  const entries = new Map(Object.entries(answers));
  const requests = [];
  const timers = new Set();
  const server = createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const name = (url.searchParams.get("name") ?? "").toLowerCase().replace(/\.$/, "");
    const type = url.searchParams.get("type");
    requests.push({ name, type, accept: req.headers.accept ?? "" });
    if (url.pathname !== "/dns-query" || !name || (type !== "MX" && type !== "15")) {
      res.writeHead(400, { "content-type": "text/plain" }).end("bad query");
      return;
    }
    const entry = entries.get(name);
    const { status, body, raw } = answerFor(name, entry);
    const send = () => {
      res.writeHead(status, { "content-type": "application/dns-json" });
      res.end(raw ?? JSON.stringify(body));
    };
    if (entry?.fault === "slow") {
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, entry.delayMs ?? 10_000);
      timers.add(timer);
    } else {
      send();
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/dns-query`,
    requests,
    set(name, entry) {
      entries.set(name.toLowerCase(), entry);
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
