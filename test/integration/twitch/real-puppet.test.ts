// Twitch against the real Debian puppet, isolated under a temp dir through twitch.puppet.args:
// the setting names `puppet config print` answers, and the disabled lock `puppet agent
// --disable` really writes (423 with its message). No agent run is started (no server here).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { silentLogger } from "../../../src/log.js";
import { twitchSection } from "../../../src/twitch/config.js";
import { resolvePuppetPaths, startTwitch } from "../../../src/twitch/server.js";

const PUPPET = "/usr/bin/puppet";
const skip = existsSync(PUPPET) ? false : "puppet is not installed";
const dir = mkdtempSync(join(tmpdir(), "twitch-real-puppet-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const isolate = ["confdir", "vardir", "codedir", "logdir", "rundir", "ssldir", "publicdir"].flatMap((d) => [`--${d}`, join(dir, d)]);
const cfg = twitchSection.parse({ listen: "127.0.0.1:0", puppet: { command: [PUPPET], args: isolate } });

test("puppet config print gives the three paths inside the isolated dirs", { skip }, async () => {
  const paths = await resolvePuppetPaths(cfg, silentLogger());
  assert.deepEqual(paths, {
    runLockFile: join(dir, "vardir", "state", "agent_catalog_run.lock"),
    disabledLockFile: join(dir, "vardir", "state", "agent_disabled.lock"),
    lastRunSummary: join(dir, "publicdir", "last_run_summary.yaml"),
  });
});

test("after `puppet agent --disable MSG` twitch answers 423 with MSG; after --enable it would run", { skip }, async (t) => {
  const twitch = await startTwitch(cfg, silentLogger());
  t.after(() => twitch.close());
  const disable = await execa(PUPPET, ["agent", "--disable", "kernel upgrade, back at 14:00", ...isolate], { reject: false });
  assert.equal(disable.exitCode, 0, String(disable.stderr));
  const r = await fetch(`${twitch.url}/puppet/twitch`, { headers: { accept: "application/json" } });
  assert.equal(r.status, 423);
  assert.equal(((await r.json()) as { disabled_message: string }).disabled_message, "kernel upgrade, back at 14:00");
  const status = await (await fetch(`${twitch.url}/puppet/status`)).text();
  assert.match(status, /^running: no\ndisabled: yes \(kernel upgrade, back at 14:00\)\nlast run: none\n$/);
  const enable = await execa(PUPPET, ["agent", "--enable", ...isolate], { reject: false });
  assert.equal(enable.exitCode, 0, String(enable.stderr));
  assert.match(await (await fetch(`${twitch.url}/puppet/status`)).text(), /disabled: no/);
});
