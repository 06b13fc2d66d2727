// deploy/systemd units: valid for systemd-analyze (ExecStart pointed at /bin/true, since
// puppet-ha is not installed here), and hardened as each part can bear.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "../../helpers/cli.js";

const units = ["puppet-ha-twitch.service", "puppet-ha-proxy.service", "puppet-ha-sync.service"];
const text = (u: string) => readFileSync(join(repoRoot, "deploy/systemd", u), "utf8");
const directives = (u: string) => new Set(text(u).split("\n").filter((l) => /^[A-Z]\w*=/.test(l)).map((l) => l.slice(0, l.indexOf("="))));

test("systemd-analyze verify accepts every unit", { skip: existsSync("/usr/bin/systemd-analyze") ? false : "no systemd-analyze" }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "puppet-ha-units-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = units.map((u) => {
    const f = join(dir, u);
    writeFileSync(f, text(u).replaceAll("/usr/bin/puppet-ha", "/bin/true"));
    return f;
  });
  // Documentation=man:puppet-ha(1) is checked against the man page the package ships (scripts/cli-docs.ts).
  const gen = await execa(process.execPath, ["--import", "tsx", join(repoRoot, "scripts/cli-docs.ts"), join(dir, "man", "man1")], { cwd: repoRoot });
  assert.equal(gen.exitCode, 0);
  const r = await execa("/usr/bin/systemd-analyze", ["verify", ...files], { reject: false, env: { MANPATH: join(dir, "man") } });
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.equal(String(r.stderr).trim(), "");
});

test("twitch runs as twitch without sandboxing its puppet child; proxy and sync are locked down", () => {
  const tw = directives("puppet-ha-twitch.service");
  assert.match(text("puppet-ha-twitch.service"), /^User=twitch$/m);
  assert.match(text("puppet-ha-twitch.service"), /^ExecStart=\/usr\/bin\/puppet-ha twitch -c \/etc\/puppet-ha\/puppet-ha\.yaml$/m);
  assert.match(text("puppet-ha-twitch.service"), /^KillMode=process$/m);
  for (const d of ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "CapabilityBoundingSet", "UMask"]) assert.ok(!tw.has(d), `twitch must not set ${d}`);
  for (const u of ["puppet-ha-proxy.service", "puppet-ha-sync.service"]) {
    const ds = directives(u);
    for (const d of ["NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "CapabilityBoundingSet", "SystemCallFilter", "RestartPreventExitStatus"]) assert.ok(ds.has(d), `${u}: ${d}`);
  }
  assert.match(text("puppet-ha-proxy.service"), /^AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
});
