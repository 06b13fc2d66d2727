// `puppet-ha fleet run` over a real nats-server to a real, isolated `puppet agent` behind
// `puppet-ha twitch`, all with certificates of the cluster's Puppet CA: the broker config comes
// from `fleet broker-config`, the run reaches a master (its report), the node reports its real
// outcome, and `fleet status` shows it from the status bucket.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { cliArgv, repoRoot } from "../helpers/cli.js";
import { loadCluster, type AgentRunResult } from "./cluster/client.js";
import { explain, poll, served } from "./support.js";

const cluster = loadCluster();
const NODE = "e2e-fleet-node";
const ADMIN = "e2e-fleet-admin";
// nats clients check the broker's name: a cert whose certname is the host the clients dial.
const BROKER = "localhost";
const PUPPET = "/usr/bin/puppet";

function agentArgs(certname: string, dirs: AgentRunResult["dirs"]): string[] {
  const host = cluster.frontEnd.host;
  const port = String(cluster.frontEnd.port);
  return [
    "--confdir", dirs.confdir, "--vardir", dirs.vardir, "--ssldir", dirs.ssldir, "--publicdir", dirs.publicdir,
    "--rundir", dirs.rundir, "--logdir", dirs.logdir, "--certname", certname,
    "--server", host, "--serverport", port, "--ca_server", host, "--ca_port", port, "--waitforcert", "0",
  ];
}

const files = (r: AgentRunResult) => ({
  cert: join(r.dirs.ssldir, "certs", `${r.certname}.pem`), key: join(r.dirs.ssldir, "private_keys", `${r.certname}.pem`),
  ca: join(r.dirs.ssldir, "certs", "ca.pem"), crl: join(r.dirs.ssldir, "crl.pem"),
});

function cli(args: string[]) {
  const [node, pre] = cliArgv();
  return execa(node, [...pre, ...args], { cwd: repoRoot, reject: false, timeout: 300_000 });
}

async function startBroker(t: TestContext, dir: string, broker: AgentRunResult): Promise<string> {
  const f = files(broker);
  const nodes = join(dir, "nodes.txt");
  writeFileSync(nodes, `${NODE}\n`);
  mkdirSync(join(dir, "js"), { recursive: true });
  const conf = join(dir, "nats.conf");
  const gen = await cli(["fleet", "broker-config", "--cert", f.cert, "--key", f.key, "--cacert", f.ca, "--controller", ADMIN, "--nodes", nodes, "--listen", "127.0.0.1:-1", "--store-dir", join(dir, "js"), "--output", conf]);
  assert.equal(gen.exitCode, 0, gen.stderr);
  const child = spawn("nats-server", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  t.after(async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      const gone = new Promise((r) => child.once("exit", r));
      process.kill(child.pid, "SIGTERM");
      await gone;
    }
  });
  let log = "";
  child.stderr?.on("data", (c: Buffer) => { log += c.toString(); });
  const port = await poll("nats-server ready", () => (/Server is ready/.test(log) ? /client connections on [^\s]*:(\d+)/.exec(log)?.[1] : undefined), 20_000);
  return `tls://${BROKER}:${port}`;
}

async function startTwitch(t: TestContext, node: AgentRunResult, url: string): Promise<void> {
  const f = files(node);
  const file = join(node.dirs.root, "twitch-broker.yaml");
  writeFileSync(file, stringify({
    twitch: {
      listen: "127.0.0.1:0",
      puppet: {
        command: [PUPPET], args: agentArgs(NODE, node.dirs), timeout: "2m",
        runLockFile: join(node.dirs.vardir, "state", "agent_catalog_run.lock"),
        disabledLockFile: join(node.dirs.vardir, "state", "agent_disabled.lock"),
        lastRunSummary: join(node.dirs.publicdir, "last_run_summary.yaml"),
      },
      broker: { urls: [url], tls: f, allow: [ADMIN] },
    },
    log: { level: "info", format: "json" },
  }));
  const [cmd, pre] = cliArgv();
  const child = execa(cmd, [...pre, "twitch", "-c", file], { cwd: repoRoot, reject: false, stdin: "ignore", env: { HOME: node.dirs.root, LANG: "C.UTF-8" } });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => { output += c.toString("utf8"); });
  child.stderr?.on("data", (c: Buffer) => { output += c.toString("utf8"); });
  t.after(async () => {
    child.kill("SIGTERM");
    await child;
  });
  await poll("twitch joined the broker", () => (output.includes("joined the fleet broker") ? true : undefined), 60_000);
}

const reports = () => served(cluster, "m1", "PUT", `/puppet/v3/report/${NODE}`).length + served(cluster, "m2", "PUT", `/puppet/v3/report/${NODE}`).length;

test("fleet run over the broker triggers a real agent run and reports its real outcome; fleet status shows it", async (t) => {
  const node = await cluster.runAgent(NODE);
  assert.equal(node.exitCode, 2, explain(node));
  const admin = await cluster.runAgent(ADMIN);
  assert.ok([0, 2].includes(admin.exitCode ?? -1), explain(admin));
  const broker = await cluster.runAgent(BROKER);
  assert.ok([0, 2].includes(broker.exitCode ?? -1), explain(broker));
  const dir = join(admin.dirs.root, "fleet-broker");
  mkdirSync(dir, { recursive: true });
  const url = await startBroker(t, dir, broker);
  const a = files(admin);
  const identity = ["--broker", url, "--cert", a.cert, "--key", a.key, "--cacert", a.ca, "--crl", a.crl, "--json"];
  // The first status call creates the bucket (the node has not reported yet: exit 1).
  await cli(["fleet", "status", ...identity]);
  await startTwitch(t, node, url);

  const before = reports();
  const run = await cli(["fleet", "run", NODE, ...identity, "--timeout", "3m"]);
  assert.equal(run.exitCode, 0, run.stderr + run.stdout);
  const result = (JSON.parse(run.stdout) as { results: { node: string; result: string; exitCode: number; failed: number | null }[] }).results;
  assert.deepEqual(result.map((r) => [r.node, ["ok", "changed"].includes(r.result), r.failed]), [[NODE, true, 0]]);
  assert.equal(reports(), before + 1, "the run filed its report on a master");

  const nodesFile = join(dir, "expected.txt");
  writeFileSync(nodesFile, `${NODE}\n`);
  const status = await poll("the status record of the run", async () => {
    const s = await cli(["fleet", "status", ...identity, "--nodes", nodesFile]);
    const rows = (JSON.parse(s.stdout || "{}") as { nodes?: { node: string; state: string; outcome: string | null }[] }).nodes ?? [];
    return rows.find((r) => r.node === NODE && r.outcome !== null) ? { code: s.exitCode, rows } : undefined;
  }, 60_000, 1000);
  assert.equal(status.code, 0);
  assert.equal(status.rows[0]?.state, "ok");
});
