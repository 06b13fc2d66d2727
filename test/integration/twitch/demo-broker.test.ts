// The demo's fleet broker (src/demo/broker.ts, `puppet-ha demo --broker`), the parts that need no
// puppetserver: nats-server started with the generated broker config and stopped by its PID, a node
// joining it with its Puppet cert, and the command lines the demo prints being ones the CLI takes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { buildProgram } from "../../../src/main.js";
import { brokerCommands, DEMO_CONTROLLER, startNats } from "../../../src/demo/broker.js";
import { connectBroker } from "../../../src/twitch/broker/connect.js";
import { renderServerConfig } from "../../../src/twitch/broker/server-config.js";
import { createTestCa } from "../../helpers/pki.js";
import { memoryLog } from "./broker-harness.js";

test("nats-server with the demo's broker config: a node joins with its Puppet cert; stopped by its PID", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "demo-broker-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = createTestCa("demo");
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text, { mode: 0o600 });
    return join(dir, name);
  };
  const caFile = file("ca.pem", ca.certPem);
  const broker = ca.issue("demo-broker", { sans: ["localhost", "127.0.0.1"] });
  const node = ca.issue("demo-node");
  const conf = file("nats.conf", renderServerConfig({
    listen: "127.0.0.1:-1", cert: file("b.pem", broker.certPem), key: file("b.key", broker.keyPem), ca: caFile, storeDir: join(dir, "js"),
    subjectPrefix: "puppet-ha.fleet", bucket: "puppet_ha_fleet", controllers: [DEMO_CONTROLLER], nodes: ["demo-node"], maxPayload: 1 << 20,
  }));
  const nats = await startNats(conf);
  t.after(() => nats.stop());
  assert.ok(nats.port > 0);
  const nc = await connectBroker({ urls: [`tls://127.0.0.1:${nats.port}`], cert: file("n.pem", node.certPem), key: file("n.key", node.keyPem), ca: caFile, name: "demo-node" }, memoryLog().log);
  await nc.flush();
  await nc.close();
  await nats.stop();
  assert.throws(() => process.kill(nats.pid, 0), /ESRCH/, "the process is gone");
  await nats.stop(); // idempotent
});

test("a nats-server that cannot start is an error naming why, not a hang", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "demo-broker-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, "bad.conf");
  writeFileSync(conf, "listen: 127.0.0.1:-1\ntls { cert_file: /nonexistent.pem }\n");
  await assert.rejects(startNats(conf), /nats-server exited/);
  await assert.rejects(startNats(conf, join(dir, "no-such-nats-server")), /cannot start .*no-such-nats-server/);
});

test("the broker commands the demo prints are `fleet run` and `fleet status` command lines the CLI takes", () => {
  const b = { url: "tls://127.0.0.1:4222", controller: { certname: DEMO_CONTROLLER, cert: "/s/a.pem", key: "/s/a.key" }, caFile: "/s/ca.pem", crlFile: "/s/crl.pem", nats: { pid: 1, port: 4222, stop: () => Promise.resolve() } };
  const fleet = buildProgram().commands.find((c) => c.name() === "fleet") as Command;
  for (const line of brokerCommands(b, "puppet-ha", "demo-node")) {
    const argv = line.trim().split(/\s+/);
    const at = argv.indexOf("puppet-ha");
    const [, sub, ...rest] = argv.slice(at + 1);
    assert.equal(argv[at + 1], "fleet");
    const cmd = fleet.commands.find((c) => c.name() === sub);
    assert.ok(cmd, `fleet ${sub} exists`);
    const flags = new Set(cmd.options.map((o) => o.long));
    for (const a of rest.filter((x) => x.startsWith("--"))) assert.ok(flags.has(a), `fleet ${sub} takes ${a}`);
  }
});
