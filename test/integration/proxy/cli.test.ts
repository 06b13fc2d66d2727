// `puppet-ha proxy -c FILE` as a real process: admin /health, SIGHUP reload (certs too) without
// dropping in-flight requests, a bad config refused on reload, SIGTERM draining in-flight requests.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:tls";
import { join } from "node:path";
import { execa } from "execa";
import { cliArgv, repoRoot } from "../../helpers/cli.js";
import { call, fakeBackend, pki, until, type FakeBackend } from "./harness.js";

interface Running {
  port: number;
  adminPort: number;
  logs: Record<string, unknown>[];
  proc: ReturnType<typeof start>;
  file: string;
  write(extra?: string): void;
}

/** The CLI from source as a long-running child (runCli's promise hides the process handle). */
function start(args: string[]) {
  const [cmd, pre] = cliArgv();
  return execa(cmd, [...pre, ...args], { cwd: repoRoot, reject: false });
}

async function startCli(t: TestContext, ca1: FakeBackend, m1: FakeBackend, certFile?: string): Promise<Running> {
  const p = pki();
  const dir = mkdtempSync(join(p.dir, "cli-"));
  const file = join(dir, "puppet-ha.yaml");
  const write = (extra = "") => writeFileSync(file, `proxy:
  listen: "127.0.0.1:0"
  tls: { cert: ${certFile ?? p.files.cert}, key: ${p.files.key}, ca: ${p.files.ca}, crl: ${p.files.crl} }
  ca:
    workers: [{ name: ca1, url: "${ca1.url}" }]
  masters:
    workers: [{ name: m1, url: "${m1.url}" }]
  health: { interval: 50ms, timeout: 2s, rise: 1, fall: 1 }
  timeouts: { shutdown: 5s }
  stateDir: ${join(dir, "state")}
${extra}
admin: { listen: "127.0.0.1:0" }
log: { level: info }
`);
  write();
  const proc = start(["proxy", "-c", file]);
  t.after(() => {
    proc.kill("SIGKILL");
  });
  const logs: Record<string, unknown>[] = [];
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split("\n");
    buf = lines.pop() ?? "";
    for (const l of lines) {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        logs.push({ msg: l });
      }
    }
  });
  const port = () => (logs.find((l) => l.msg === "proxy listening")?.listen as { port: number } | undefined)?.port;
  const adminPort = () => (logs.find((l) => l.msg === "admin listening")?.listen as { port: number } | undefined)?.port;
  await until(() => port() !== undefined && adminPort() !== undefined, 15_000, "proxy and admin listening");
  return { port: port()!, adminPort: adminPort()!, logs, proc, file, write };
}

function getJson(port: number, path: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(b) as Record<string, unknown> }));
    }).on("error", reject).end();
  });
}

function serverCertFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, servername: "localhost", ca: pki().ca.certPem }, () => {
      resolve(s.getPeerX509Certificate()?.fingerprint256 ?? "");
      s.end();
    });
    s.on("error", reject);
  });
}

test("admin /health: pools, backend states and the arbiter; 503 when no master is usable; /health/live", async (t) => {
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const run = await startCli(t, ca1, m1);
  let h = await getJson(run.adminPort, "/health");
  for (let i = 0; i < 50 && h.status !== 200; i++) h = await getJson(run.adminPort, "/health");
  assert.equal(h.status, 200);
  const pools = h.json.pools as { name: string; backends: { name: string; state: string }[] }[];
  assert.deepEqual(pools.map((p) => p.name), ["ca", "masters"]);
  assert.equal(pools[0]?.backends[0]?.name, "ca1");
  assert.deepEqual(h.json.arbiter && { active: (h.json.arbiter as { active: string }).active, epoch: (h.json.arbiter as { epoch: number }).epoch }, { active: "ca1", epoch: 1 });
  m1.healthy = false;
  for (let i = 0; i < 100 && h.status !== 503; i++) {
    await new Promise((r) => setTimeout(r, 20));
    h = await getJson(run.adminPort, "/health");
  }
  assert.equal(h.status, 503);
  assert.equal((h.json.pools as typeof pools)[1]?.backends[0]?.state, "down");
  assert.equal(h.json.status, "down");
  const live = await getJson(run.adminPort, "/health/live");
  assert.equal(live.status, 200);
  run.proc.kill("SIGTERM");
  assert.equal((await run.proc).exitCode, 0);
});

test("SIGHUP reloads config and certs without dropping in-flight requests; a bad config is refused", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  m1.handler = (req, res) => {
    setTimeout(() => res.writeHead(200).end(`slow ${req.url}`), req.url?.includes("slow") ? 600 : 0);
  };
  const certFile = join(mkdtempSync(join(p.dir, "cert-")), "server.pem");
  writeFileSync(certFile, p.server.certPem);
  const run = await startCli(t, ca1, m1, certFile);
  const before = await serverCertFingerprint(run.port);
  assert.equal(before, new X509Certificate(p.server.certPem).fingerprint256);
  // A renewed server cert (with its own key) is written while a request is in flight.
  const renewed = p.ca.issue("puppet-ha.test", { sans: ["localhost", "127.0.0.1"] });
  const inflight = call(run.port, { path: "/puppet/v3/catalog/slow" });
  await until(() => m1.seen.length === 1, 10_000, "in flight");
  writeFileSync(certFile, renewed.certPem);
  const keyFile = join(mkdtempSync(join(p.dir, "key-")), "server.key");
  writeFileSync(keyFile, renewed.keyPem);
  run.write("  accessLog: false\n");
  writeFileSync(run.file, readFileSync(run.file, "utf8").replace(p.files.key, keyFile));
  run.proc.kill("SIGHUP");
  await until(() => run.logs.some((l) => l.msg === "config reloaded"), 10_000, "reload logged");
  assert.equal((await inflight).status, 200, "the in-flight request finished");
  assert.equal(await serverCertFingerprint(run.port), new X509Certificate(renewed.certPem).fingerprint256);
  // A key that does not match the cert is refused, and so is a broken config; the running one stays.
  writeFileSync(run.file, readFileSync(run.file, "utf8").replace(keyFile, p.files.key));
  run.proc.kill("SIGHUP");
  await until(() => run.logs.some((l) => l.msg === "config reload refused; keeping the running config"), 10_000, "mismatch refused");
  assert.equal(await serverCertFingerprint(run.port), new X509Certificate(renewed.certPem).fingerprint256);
  writeFileSync(run.file, "proxy: [\n");
  run.proc.kill("SIGHUP");
  await until(() => run.logs.filter((l) => l.msg === "config reload refused; keeping the running config").length === 2, 10_000, "refusal logged");
  assert.equal((await call(run.port, { path: "/puppet/v3/node/a" })).status, 200);
  // Every reload is counted by its result (puppet_ha_config_reloads_total, for the alert rules).
  const metrics = await new Promise<string>((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port: run.adminPort, path: "/metrics" }, (res) => {
      let b = "";
      res.on("data", (d: Buffer) => (b += d.toString()));
      res.on("end", () => resolve(b));
    }).on("error", reject).end();
  });
  assert.match(metrics, /^puppet_ha_config_reloads_total\{result="success"\} 1$/m);
  assert.match(metrics, /^puppet_ha_config_reloads_total\{result="failure"\} 2$/m);
  run.proc.kill("SIGTERM");
  const done = await run.proc;
  assert.equal(done.exitCode, 0, String(done.stderr));
});

test("SIGTERM: stops accepting, finishes in-flight requests, exits 0", async (t) => {
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  m1.handler = (req, res) => {
    setTimeout(() => res.writeHead(200).end("done"), 500);
  };
  const run = await startCli(t, ca1, m1);
  const inflight = call(run.port, { path: "/puppet/v3/catalog/slow" });
  await until(() => m1.seen.length === 1, 10_000, "in flight");
  run.proc.kill("SIGTERM");
  await until(() => run.logs.some((l) => l.msg === "stopping: draining in-flight requests"), 10_000, "draining");
  await assert.rejects(call(run.port, { path: "/puppet/v3/node/new" }), "no new connections");
  const r = await inflight;
  assert.equal(r.status, 200);
  assert.equal(r.body, "done");
  const done = await run.proc;
  assert.equal(done.exitCode, 0, String(done.stderr));
  assert.ok(run.logs.some((l) => l.msg === "proxy stopped"));
});

test("a saved arbiter state naming an unknown CA worker stops the start with one clear line", async (t) => {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const dir = mkdtempSync(join(p.dir, "bad-state-"));
  const file = join(dir, "puppet-ha.yaml");
  writeFileSync(file, `proxy:
  listen: "127.0.0.1:0"
  tls: { cert: ${p.files.cert}, key: ${p.files.key}, ca: ${p.files.ca}, crl: ${p.files.crl} }
  ca: { workers: [{ name: ca1, url: "${ca1.url}" }] }
  masters: { workers: [{ name: m1, url: "${m1.url}" }] }
  stateDir: ${dir}
admin: { listen: "127.0.0.1:0" }
`);
  writeFileSync(join(dir, "arbiter.json"), '{"epoch": 4, "active": "ca9"}');
  const r = await start(["proxy", "-c", file]);
  assert.equal(r.exitCode, 1);
  assert.equal(String(r.stderr).trim().split("\n").length, 1);
  assert.match(String(r.stderr), /arbiter\.json: names CA worker "ca9", which is not in proxy\.ca\.workers \(ca1\)/);
});

test("SIGHUP applies proxy.ca.failback and failbackAfter (shown in /health) without a restart", async (t) => {
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const run = await startCli(t, ca1, m1);
  const policy = async () => ((await getJson(run.adminPort, "/health")).json.arbiter as { failback: { policy: string } }).failback.policy;
  assert.equal(await policy(), "manual");
  writeFileSync(run.file, readFileSync(run.file, "utf8").replace("  ca:\n", "  ca:\n    failback: auto\n    failbackAfter: 5s\n"));
  run.proc.kill("SIGHUP");
  await until(() => run.logs.some((l) => l.msg === "config reloaded"), 10_000, "reload logged");
  assert.equal(await policy(), "auto");
  run.proc.kill("SIGTERM");
  assert.equal((await run.proc).exitCode, 0);
});
