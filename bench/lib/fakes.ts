// Fake servers that must be separate processes (so SIGKILL and SIGSTOP are real): a puppetserver
// CA worker and a fleet of twitch nodes. Written out as small plain .mjs files and started with
// `node` directly (no tsx: fast start, nothing to compile).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { get, waitUntil } from "./net.js";
import { start, type Proc } from "./procs.js";

/** A CA worker: /status/v1/simple(/ca) "running", /puppet-ca/v1/certificate/ca the CA PEM; X-Backend names it. */
const FAKE_CA = `import { createServer } from "node:http";
import { readFileSync } from "node:fs";
const [name, port, caFile] = process.argv.slice(2);
const ca = readFileSync(caFile);
const s = createServer((req, res) => {
  const path = (req.url ?? "").split("?")[0];
  res.setHeader("x-backend", name);
  if (path === "/status/v1/simple" || path === "/status/v1/simple/ca") {
    res.writeHead(200, { "content-type": "text/plain" }).end("running");
  } else if (path.startsWith("/puppet-ca/v1/certificate/")) {
    res.writeHead(200, { "content-type": "text/plain" }).end(ca);
  } else {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  }
});
s.keepAliveTimeout = 30000;
s.headersTimeout = 31000;
s.listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * Twitch nodes: one process listening on many loopback addresses/ports, each listener a node
 * that runs "puppet" for runMs on POST /puppet/twitch?async=false (409 while one runs).
 * argv: runMs addressesFile outFile; writes the listening host:port list to outFile.
 */
const FAKE_FLEET = `import { createServer } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
const [runMs, addrFile, outFile] = process.argv.slice(2);
const addrs = readFileSync(addrFile, "utf8").split("\\n").filter(Boolean);
const listening = [];
await Promise.all(addrs.map((host) => new Promise((resolve, reject) => {
  let running = false;
  const s = createServer((req, res) => {
    if (!req.url.startsWith("/puppet/twitch")) { res.writeHead(404).end(); return; }
    if (running) { res.writeHead(409, { "content-type": "application/json" }).end(JSON.stringify({ message: "Puppet already running" })); return; }
    running = true;
    const t0 = Date.now();
    setTimeout(() => {
      running = false;
      const run = { status: "success", exitCode: 0, durationMs: Date.now() - t0, changed: 0, failed: 0 };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ message: "Puppet run complete", run }));
    }, Number(runMs));
  });
  s.keepAliveTimeout = 5000;
  s.once("error", reject);
  s.listen(0, host, () => { listening.push(host + ":" + s.address().port); resolve(); });
})));
writeFileSync(outFile, listening.join("\\n") + "\\n");
process.on("SIGTERM", () => process.exit(0));
`;

export function writeFakes(dir: string): { ca: string; fleet: string } {
  const ca = join(dir, "fake-ca.mjs");
  const fleet = join(dir, "fake-fleet.mjs");
  writeFileSync(ca, FAKE_CA);
  writeFileSync(fleet, FAKE_FLEET);
  return { ca, fleet };
}

export async function startFakeCa(script: string, name: string, port: number, caFile: string, cpu: string | undefined, logDir: string): Promise<Proc> {
  const p = start(`fake-${name}`, process.execPath, [script, name, String(port), caFile], { cpu, logFile: join(logDir, `fake-${name}-${port}.log`) });
  await waitUntil(`fake ${name}`, async () => (await get(`http://127.0.0.1:${port}/status/v1/simple/ca`, { timeoutMs: 1000 })).status === 200, 20_000,
    () => (p.alive() ? undefined : "exited"));
  return p;
}
