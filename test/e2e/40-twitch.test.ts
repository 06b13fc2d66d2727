// `puppet-ha twitch` in front of a real, isolated `puppet agent` that talks to the cluster
// through `puppet-ha proxy`: a synchronous trigger runs the agent to completion (its report
// reaches a master), a trigger during a slow run is refused 409, a disabled agent 423.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { stringify } from "yaml";
import { cliArgv, repoRoot } from "../helpers/cli.js";
import { loadCluster, type AgentRunResult } from "./cluster/client.js";
import { explain, httpRequest, poll, served } from "./support.js";

const cluster = loadCluster();
const CERTNAME = "e2e-twitch-node";
const PUPPET = "/usr/bin/puppet";

/** The agent's own dir arguments, exactly those of the harness's runs (so both share one agent). */
function agentArgs(dirs: AgentRunResult["dirs"]): string[] {
  const host = cluster.frontEnd.host;
  const port = String(cluster.frontEnd.port);
  return [
    "--confdir", dirs.confdir, "--vardir", dirs.vardir, "--ssldir", dirs.ssldir, "--publicdir", dirs.publicdir,
    "--rundir", dirs.rundir, "--logdir", dirs.logdir, "--certname", CERTNAME,
    "--server", host, "--serverport", port, "--ca_server", host, "--ca_port", port, "--waitforcert", "0",
  ];
}

/** twitch's bearer token: `?environment=` changes what runs, so it needs authentication. */
const TOKEN = "e2e-twitch-token";

/** Starts `puppet-ha twitch` on a port the OS picks; resolves to its URL (from its log line). */
async function startTwitch(t: TestContext, dirs: AgentRunResult["dirs"]): Promise<string> {
  const file = join(dirs.root, "twitch.yaml");
  const tokenFile = join(dirs.root, "twitch.token");
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  await writeFile(file, stringify({
    twitch: {
      listen: "127.0.0.1:0",
      auth: { tokenFile },
      puppet: {
        command: [PUPPET],
        args: agentArgs(dirs),
        runLockFile: join(dirs.vardir, "state", "agent_catalog_run.lock"),
        disabledLockFile: join(dirs.vardir, "state", "agent_disabled.lock"),
        lastRunSummary: join(dirs.publicdir, "last_run_summary.yaml"),
        timeout: "2m",
      },
      rateLimit: { max: 100, per: "1m" },
    },
    log: { level: "info", format: "json" },
  }));
  const [node, pre] = cliArgv();
  const child = execa(node, [...pre, "twitch", "-c", file], {
    cwd: repoRoot, reject: false, stdin: "ignore", env: { HOME: dirs.root, LANG: "C.UTF-8" },
  });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => { output += c.toString("utf8"); });
  child.stderr?.on("data", (c: Buffer) => { output += c.toString("utf8"); });
  let exited = false;
  void child.then(() => { exited = true; });
  t.after(async () => {
    child.kill("SIGTERM");
    await child;
  });
  return poll("twitch listening", () => {
    if (exited) throw new Error(`twitch exited:\n${output}`);
    const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*twitch listening/.exec(output);
    return m?.[1];
  }, 30_000);
}

const reports = () => served(cluster, "m1", "PUT", `/puppet/v3/report/${CERTNAME}`).length + served(cluster, "m2", "PUT", `/puppet/v3/report/${CERTNAME}`).length;

test("twitch triggers real agent runs through the proxy: 200 with a report, 409 during a run, 423 when disabled", async (t) => {
  // Enrol the node through the proxy with the harness's own agent run (same dirs as twitch uses).
  const enrol = await cluster.runAgent(CERTNAME);
  assert.equal(enrol.exitCode, 2, explain(enrol));
  const url = await startTwitch(t, enrol.dirs);
  const trigger = (query = "") => httpRequest(`${url}/puppet/twitch${query}`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` }, timeoutMs: 180_000 });

  // async=false: the response comes when the agent has exited, and its report reached a master.
  const before = reports();
  const done = await trigger("?async=false");
  assert.equal(done.status, 200, done.body);
  assert.match(done.body, /Puppet run complete/);
  assert.equal(reports(), before + 1, "one more PUT /puppet/v3/report/<certname> on a master");

  // A slow run (its catalog sleeps 5 s) is in flight: the next trigger is refused.
  const slow = await trigger("?environment=slow");
  assert.equal(slow.status, 202, slow.body);
  const busy = await trigger();
  assert.equal(busy.status, 409, busy.body);
  assert.match(busy.body, /already running/i);
  const status = async () => (await httpRequest(`${url}/puppet/status`, { headers: { Accept: "application/json", authorization: `Bearer ${TOKEN}` } })).json as { running: boolean; lastTriggered: { status: string; exitCode: number | null } | null };
  const last = await poll("the slow run to end", async () => {
    const s = await status();
    return s.running ? undefined : s.lastTriggered;
  }, 120_000, 250);
  assert.equal(last?.status, "success", JSON.stringify(last));
  assert.equal(reports(), before + 2, "the slow run filed its report too");

  // `puppet agent --disable` on the same agent: refused with the operator's message.
  const disable = await execa(PUPPET, ["agent", "--disable", "maintenance", ...agentArgs(enrol.dirs)], { reject: false, env: { HOME: enrol.dirs.root } });
  assert.equal(disable.exitCode, 0, disable.stderr);
  t.after(() => execa(PUPPET, ["agent", "--enable", ...agentArgs(enrol.dirs)], { reject: false, env: { HOME: enrol.dirs.root } }));
  const locked = await trigger("?async=false");
  assert.equal(locked.status, 423, locked.body);
  assert.match(locked.body, /maintenance/);
  assert.equal(reports(), before + 2, "no run while disabled");
});
