// The package's bundle (scripts/bundle.mjs) as nodes run it (issue 16's footprint, issue 14's
// package): `puppet-ha twitch` started through the bundle's symlink joins a real nats-server over
// mTLS, a `fleet run` from the same bundle triggers it and gets its COMPLETE (the NATS client, a
// CommonJS package imported on demand, works from its own chunk), and twitch loaded only some of
// the chunks: none with express or the proxy's code (one file would hold them all).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { stringify } from "yaml";
import { repoRoot } from "../../helpers/cli.js";
import { startFleet } from "../twitch/broker-harness.js";
import { fakePuppet, summaryYaml } from "../twitch/fake-puppet.js";

/** A resolve hook (--import) appending every module URL the process resolves to $PUPPET_HA_TRACE. */
const TRACE_HOOK = `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.PUPPET_HA_TRACE, r.url + "\\n");
  return r;
}`;
const TRACE_IMPORT = `data:text/javascript,${encodeURIComponent(`import { register } from "node:module"; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(TRACE_HOOK)}`)});`)}`;

async function until(what: string, fn: () => boolean, ms: number, abort: () => string | undefined): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    const why = abort();
    if (why) throw new Error(`${what}: ${why}`);
    if (Date.now() > end) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("twitch from the bundle joins the broker, answers a fleet run from the bundle, and loads only its own chunks", { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-bundle-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bin = join(dir, "puppet-ha");
  await execa(process.execPath, [join(repoRoot, "scripts", "bundle.mjs"), bin], { cwd: repoRoot });
  const lib = `${bin}.lib`;

  const fleet = await startFleet(t, { nodes: ["node1.example"] });
  const node = fleet.files("node1.example");
  const puppet = fakePuppet(t);
  puppet.summary(summaryYaml({ changed: 1, failed: 0 }));
  const config = join(dir, "twitch.yaml");
  writeFileSync(config, stringify({
    twitch: {
      listen: "127.0.0.1:0",
      puppet: { command: [puppet.bin], runLockFile: puppet.runLockFile, disabledLockFile: puppet.disabledLockFile, lastRunSummary: puppet.lastRunSummary },
      broker: { urls: [fleet.url], tls: { cert: node.cert, key: node.key, ca: fleet.caFile, crl: fleet.crlFile }, allow: ["controller.example"], factsFile: join(dir, "facts.json") },
    },
    log: { level: "info" },
  }));
  writeFileSync(join(dir, "facts.json"), JSON.stringify({ os: { family: "Debian" } }));
  const trace = join(dir, "trace");
  const logFile = join(dir, "twitch.log");
  writeFileSync(logFile, "");
  const child = execa(process.execPath, ["--import", TRACE_IMPORT, bin, "twitch", "-c", config], {
    cwd: "/", env: { PUPPET_HA_TRACE: trace }, stdin: "ignore", stdout: { file: logFile }, stderr: { file: logFile }, reject: false,
  });
  let exited = false;
  void child.then(() => (exited = true));
  t.after(async () => {
    if (!exited && child.pid !== undefined) process.kill(child.pid, "SIGTERM");
    await child;
  });
  const log = () => readFileSync(logFile, "utf8");
  await until("the bundled twitch joined the broker", () => log().includes("joined the fleet broker"), 60_000,
    () => (exited ? `exited:\n${log()}` : log().includes("fleet broker connection failed") ? `could not connect:\n${log()}` : undefined));

  const run = await execa(process.execPath, [bin, "fleet", "run", "node1.example", "--broker", fleet.url, "--cert", fleet.controller.cert, "--key", fleet.controller.key,
    "--cacert", fleet.caFile, "--crl", fleet.crlFile, "--json", "--no-progress", "--start-timeout", "30s"], { cwd: "/", reject: false });
  assert.equal(run.exitCode, 0, `${run.stderr}\n${log()}`);
  const result = JSON.parse(run.stdout) as { counts: Record<string, number>; results: { node: string; outcome: string }[] };
  assert.equal(result.counts.ok, 1, run.stdout);
  assert.deepEqual(result.results.map((r) => [r.node, r.outcome]), [["node1.example", "changed"]], "its COMPLETE carried the run's outcome");
  assert.equal(puppet.calls(), 1, "the bundled twitch ran the agent once");

  // What the twitch process loaded: the entry and some chunks, none of them express or the proxy.
  const all = readdirSync(lib).filter((f) => f.endsWith(".mjs"));
  const libUrl = `file://${lib}/`;
  const loaded = [...new Set(readFileSync(trace, "utf8").split("\n").filter((u) => u.startsWith(libUrl)).map((u) => u.slice(libUrl.length)))];
  assert.ok(loaded.includes("puppet-ha.mjs") && loaded.length > 1, `twitch ran from the bundle's chunks: ${loaded.join(", ")}`);
  assert.ok(loaded.length < all.length / 2, `twitch loaded ${loaded.length} of ${all.length} chunks`);
  for (const f of loaded) {
    const text = readFileSync(fileURLToPath(`${libUrl}${f}`), "utf8");
    assert.doesNotMatch(text, /^\/\/ (node_modules\/express\/|src\/proxy\/|src\/sync\/)/m, `${f} holds no express, proxy or sync code`);
  }
  assert.ok(all.some((f) => /^\/\/ node_modules\/express\//m.test(readFileSync(join(lib, f), "utf8"))), "express is in the bundle, in a chunk twitch leaves alone");
  assert.ok(existsSync(join(lib, "NOTICES")), "the npm packages' notices beside the chunks");
  assert.deepEqual(all.filter((f) => readFileSync(join(lib, f)).some((b) => b > 0x7f)), [], "every chunk is pure ASCII (one byte per character in V8)");
});
