// Starts the built Worker under `wrangler dev` (workerd) on 127.0.0.1 with a fresh local KV directory, and
// stops it again. The Worker must already be built (`make test` does it once): the harness runs wrangler
// with a generated config that has no [build] step, so each test file starts in seconds.
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from "node:fs";
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

/** The project's wrangler.toml with the [build] step removed and `main` pointing at the built shim. */
function testConfig(dir) {
  const source = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const withoutBuild = source.replace(/\[build\][^\[]*/s, "");
  const config = withoutBuild
    .replace(/^main\s*=.*$/m, `main = ${JSON.stringify(join(ROOT, "build/index.js"))}`)
    .replace(/^directory\s*=.*$/m, `directory = ${JSON.stringify(join(ROOT, "public"))}`);
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, config);
  return path;
}

/**
 * Starts a Worker. `vars` become Worker vars (the shell reads secrets and vars alike).
 * Returns { url, persistDir, logs(), stop() }.
 */
export async function startWorker({ vars = {}, persistDir } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bouncewatch-e2e-"));
  const persist = persistDir ?? join(dir, "state");
  const port = await freePort();
  const args = [
    "dev", "--local", "--ip", "127.0.0.1", "--port", String(port),
    "--inspector-port", String(await freePort()),
    "--config", testConfig(dir), "--persist-to", persist,
    "--show-interactive-dev-session=false", "--log-level", "info",
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
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${output}`);
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

/** Runs the Worker's cron handler once, as the scheduler would. */
export async function triggerCron(worker, cron = "* * * * *") {
  const response = await fetch(`${worker.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(cron)}`);
  return response.status;
}
