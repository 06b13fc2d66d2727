// The module's Bolt tasks (puppet_ha::ca, puppet_ha::backend) run as Bolt runs them (parameters in
// PT_* environment variables) against the admin listener of a real running proxy, through the
// single-file puppet-ha; their metadata declares exactly the parameters the scripts read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "../../helpers/cli.js";
import { startHa } from "../proxy/ha-harness.js";
import { until } from "../proxy/harness.js";

const tasks = join(repoRoot, "puppet/modules/puppet_ha/tasks");

test("task metadata is valid JSON declaring every PT_ variable its script reads; shellcheck passes", async () => {
  for (const task of ["ca", "backend"]) {
    const meta = JSON.parse(readFileSync(join(tasks, `${task}.json`), "utf8")) as { input_method: string; parameters: Record<string, { type: string; description: string }> };
    assert.equal(meta.input_method, "environment");
    const script = readFileSync(join(tasks, `${task}.sh`), "utf8");
    const read = new Set([...script.matchAll(/PT_(\w+)/g)].map((m) => m[1]!));
    assert.deepEqual([...read].sort(), Object.keys(meta.parameters).sort(), `${task}: PT_ variables vs metadata`);
    for (const [name, p] of Object.entries(meta.parameters)) assert.ok(p.description && p.type, `${task}.${name} documented and typed`);
  }
  const sc = await execa("shellcheck", [join(tasks, "ca.sh"), join(tasks, "backend.sh")], { reject: false });
  assert.equal(sc.exitCode, 0, String(sc.stdout));
});

test("puppet_ha::ca and puppet_ha::backend act on a running proxy and answer JSON; a bad action exits 2", async (t) => {
  const ha = await startHa(t, { sync: false, masters: 2 });
  await until(() => [ha.rt.proxy.ca, ha.rt.proxy.masters].every((p) => p.backends.every((b) => b.state === "up")), 5000, "all up");
  const bin = join(ha.root, "puppet-ha");
  await execa(process.execPath, [join(repoRoot, "scripts/bundle.mjs"), bin]);
  const config = join(ha.root, "admin.yaml");
  writeFileSync(config, `admin:\n  listen: "127.0.0.1:${new URL(ha.adminUrl).port}"\n  tokenFile: ${ha.tokenFile}\n`);
  const run = (task: string, env: Record<string, string>) =>
    execa("/bin/sh", [join(tasks, `${task}.sh`)], { reject: false, env: { PT_config: config, PT_bin: bin, ...env } });

  let r = await run("ca", { PT_action: "status" });
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.equal((JSON.parse(String(r.stdout)) as { ca: { active: string } }).ca.active, "ca1");
  r = await run("backend", { PT_action: "drain", PT_backend: "m2" });
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.equal(ha.rt.proxy.masters.get("m2")!.drained, true);
  r = await run("backend", { PT_action: "enable", PT_backend: "m2" });
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.equal(ha.rt.proxy.masters.get("m2")!.drained, false);
  r = await run("ca", { PT_action: "failover" });
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.equal((JSON.parse(String(r.stdout)) as { ok: boolean }).ok, true);
  assert.equal(ha.rt.proxy.arbiter.active, "ca2");

  r = await run("ca", { PT_action: "rm -rf" });
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /action must be status, failover or failback/);
  r = await run("backend", { PT_action: "drain", PT_backend: "--help" });
  assert.equal(r.exitCode, 2);
});
