// Footprint regression: `puppet-ha twitch` loads the NATS client only when twitch.broker is set,
// and even then only the core client (no @nats-io/jetstream or @nats-io/kv: a node's status put
// is a plain publish), and nothing of the proxy, sync or health parts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { createTestCa, writePkiFiles } from "../../helpers/pki.js";

test("twitch with a broker section loads @nats-io/transport-node but not jetstream or kv; building the CLI loads no NATS", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "broker-lazy-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = createTestCa("lazy");
  const { ca: caFile } = writePkiFiles(dir, ca, [ca.issue("node1.example")]);
  const file = join(dir, "puppet-ha.yaml");
  writeFileSync(file, `twitch:
  listen: "127.0.0.1:0"
  puppet: { command: ["/bin/false"], runLockFile: "${dir}/run.lock", disabledLockFile: "${dir}/disabled.lock", lastRunSummary: "${dir}/summary.yaml" }
  broker:
    urls: ["tls://127.0.0.1:1"]
    tls: { cert: "${dir}/node1.example.pem", key: "${dir}/node1.example.key", ca: "${caFile}" }
    allow: ["controller.example"]
    factsFile: "${dir}/facts.json"
log: { level: silent }
`);
  const child = execa(process.execPath, ["--import", "tsx", new URL("./broker-lazy-child.ts", import.meta.url).pathname, file], { reject: false, timeout: 60_000 });
  t.after(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL");
  });
  const r = await child;
  assert.equal(r.exitCode, 0, String(r.stderr));
  const { before, after } = JSON.parse(String(r.stdout)) as { before: string[]; after: string[] };
  assert.ok(!before.some((p) => p.startsWith("@nats-io/")), "building the CLI loads no NATS");
  assert.ok(after.includes("@nats-io/transport-node"), "the broker's client was loaded");
  for (const p of ["@nats-io/jetstream", "@nats-io/kv", "http-proxy-3", "undici", "prom-client", "chokidar"]) assert.ok(!after.includes(p), `${p} is not loaded by a broker node`);
});
