// `npm run package` builds a Debian package that installs and removes cleanly on this machine:
// its control fields (nodejs >= 20.19 declared, no runtime bundled), its files, the postinst
// (puppet-ha user, /var/lib/puppet-ha, nothing started or enabled), /usr/bin/puppet-ha --version
// and `config check` run from an unrelated directory (no package.json next to the bundle), the man
// page and bash completion; then install.md's steps (config in /etc/puppet-ha, `config check`, the
// unit's command as user puppet-ha, its `ready`, `ca status`) bring up a proxy on loopback that
// answers /health/live and forwards an agent's request, and the installed `sync --once` copies a
// CA dir with that proxy as its arbiter; then dpkg -r and --purge leaving nothing
// behind. It installs into the real system, so it purges a leftover first and always purges (and
// drops a user it created) after.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { execa } from "execa";
import { stringify } from "yaml";
import { repoRoot } from "../../helpers/cli.js";
import { FakeCadir } from "../../helpers/cadir.js";
import { freePorts } from "../../helpers/etcd.js";
import { createTestCa } from "../../helpers/pki.js";
import { call, fakeBackend, pki } from "../proxy/harness.js";

const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
const DEB_VERSION = `${pkg.version}-1`;
const UNITS = ["puppet-ha-proxy.service", "puppet-ha-sync.service", "puppet-ha-twitch.service"];
const INSTALLED = [
  "/usr/bin/puppet-ha", "/usr/lib/puppet-ha/puppet-ha.mjs", "/usr/share/doc/puppet-ha/NOTICES", ...UNITS.map((u) => `/lib/systemd/system/${u}`), "/usr/share/man/man1/puppet-ha.1.gz",
  "/usr/share/bash-completion/completions/puppet-ha", "/usr/share/doc/puppet-ha/examples/puppet-ha.example.yaml",
  "/usr/share/doc/puppet-ha/docs/install.md", "/usr/share/doc/puppet-ha/monitoring/puppet-ha.rules.yml",
];

type Undo = (() => void | Promise<void>)[];
const sh = (cmd: string, args: string[]) => execa(cmd, args, { reject: false, cwd: "/" });
const installed = async () => (await sh("dpkg-query", ["-W", "-f=${Status}", "puppet-ha"])).stdout.includes("install ok installed");
const userExists = async (name: string) => (await sh("getent", ["passwd", name])).exitCode === 0;
const groupExists = async (name: string) => (await sh("getent", ["group", name])).exitCode === 0;

test("npm run package: a .deb that installs /usr/bin/puppet-ha and the units, starts nothing, and purges cleanly", { timeout: 180_000 }, async (t) => {
  assert.equal(process.getuid?.(), 0, "this test installs a package: run it as root (as CI does)");
  const out = mkdtempSync(join(tmpdir(), "puppet-ha-deb-"));
  t.after(() => rmSync(out, { recursive: true, force: true }));

  // A leftover of an interrupted run goes first; whatever happens below, the package goes after.
  if (await installed()) assert.equal((await sh("dpkg", ["--purge", "puppet-ha"])).exitCode, 0);
  assert.ok(!existsSync("/var/lib/puppet-ha") && !existsSync("/etc/puppet-ha"),
    "/var/lib/puppet-ha or /etc/puppet-ha exist without the package: this machine runs puppet-ha, not a place for this test");
  const hadUser = await userExists("puppet-ha");
  const hadGroup = await groupExists("puppet-ha");
  // What runs on the installed package (its proxy, files in /etc/puppet-ha) is undone first: the
  // purge needs /etc/puppet-ha empty and deluser a user no process runs as.
  const undo: Undo = [];
  t.after(async () => {
    for (const u of undo.reverse()) await u();
  });
  t.after(async () => {
    if (await installed()) await sh("dpkg", ["--purge", "puppet-ha"]);
    if (!hadUser && (await userExists("puppet-ha"))) await sh("deluser", ["--quiet", "--system", "puppet-ha"]);
    if (!hadGroup && (await groupExists("puppet-ha"))) await sh("delgroup", ["--quiet", "--system", "puppet-ha"]);
    rmSync("/var/lib/puppet-ha", { recursive: true, force: true });
  });

  const build = await execa("npm", ["run", "--silent", "package", "--", out], { cwd: repoRoot, reject: false });
  assert.equal(build.exitCode, 0, String(build.stderr));
  const deb = join(out, `puppet-ha_${DEB_VERSION}_all.deb`);
  assert.ok(existsSync(deb), `${deb} built`);

  const field = async (f: string) => (await sh("dpkg-deb", ["-f", deb, f])).stdout.trim();
  assert.equal(await field("Package"), "puppet-ha");
  assert.equal(await field("Version"), DEB_VERSION);
  assert.equal(await field("Architecture"), "all", "no bundled runtime: the same package on every architecture");
  assert.match(await field("Depends"), /(^|, )nodejs \(>= 20\.19\)(,|$)/);
  const contents = `${(await sh("dpkg-deb", ["-c", deb])).stdout}\n`;
  for (const f of INSTALLED) assert.ok(contents.includes(` .${f}\n`) || contents.includes(` .${f} -> `), `package holds ${f}`);
  // The bundle's chunks in /usr/lib/puppet-ha (twitch loads only its own), the command a relative symlink to their entry.
  assert.match(contents, / \.\/usr\/bin\/puppet-ha -> \.\.\/lib\/puppet-ha\/puppet-ha\.mjs\n/);
  assert.doesNotMatch(contents, /node_modules|\/usr\/bin\/node\b/, "no node_modules, no node binary");

  // node here comes from a nodejs .deb (NodeSource) when dpkg knows it; otherwise only the
  // declared dependency is missing and --force-depends says so explicitly.
  const nodeDeb = (await sh("dpkg-query", ["-W", "-f=${Version}", "nodejs"])).stdout;
  const depOk = nodeDeb !== "" && (await sh("dpkg", ["--compare-versions", nodeDeb, "ge", "20.19"])).exitCode === 0;
  const install = await sh("dpkg", [...(depOk ? [] : ["--force-depends"]), "-i", deb]);
  assert.equal(install.exitCode, 0, String(install.stdout) + String(install.stderr));
  assert.ok(await installed());
  for (const f of INSTALLED) assert.ok(existsSync(f), `${f} installed`);

  assert.match((await sh("getent", ["passwd", "puppet-ha"])).stdout, /^puppet-ha:x:\d+:\d+:[^:]*:\/var\/lib\/puppet-ha:\/usr\/sbin\/nologin$/m);
  const state = statSync("/var/lib/puppet-ha");
  assert.equal(state.mode & 0o777, 0o750);
  assert.equal(state.uid, Number((await sh("id", ["-u", "puppet-ha"])).stdout));
  for (const u of UNITS) {
    assert.ok(!existsSync(`/etc/systemd/system/multi-user.target.wants/${u}`), `${u} is not enabled by the package`);
  }

  const version = await sh("/usr/bin/puppet-ha", ["--version"]);
  assert.equal(version.exitCode, 0, String(version.stderr));
  assert.equal(version.stdout.trim(), pkg.version);
  const check = await sh("/usr/bin/puppet-ha", ["config", "check", "-c", "/usr/share/doc/puppet-ha/examples/puppet-ha.example.yaml"]);
  assert.equal(check.exitCode, 0, String(check.stderr));
  assert.match(check.stdout, /^# \/usr\/share\/doc\/puppet-ha\/examples\/puppet-ha\.example\.yaml: OK/);
  const bad = await sh("/usr/bin/puppet-ha", ["config", "check", "-c", "/nonexistent.yaml"]);
  assert.equal(bad.exitCode, 2);

  await runInstalledProxy(t, undo);

  const man = gunzipSync(readFileSync("/usr/share/man/man1/puppet-ha.1.gz")).toString();
  assert.match(man, /^\.TH PUPPET-HA 1 /);
  for (const cmd of ["proxy", "sync", "twitch", "config check", "ca failover", "backend drain", "ready"]) {
    assert.ok(man.includes(`.B puppet\\-ha ${cmd.replace(/-/g, "\\-")}`), `man page documents ${cmd}`);
  }
  const comp = await sh("bash", ["-c", "source /usr/share/bash-completion/completions/puppet-ha && complete -p puppet-ha && COMP_WORDS=(puppet-ha ca f); COMP_CWORD=2; _puppet_ha; echo \"${COMPREPLY[*]}\""]);
  assert.equal(comp.exitCode, 0, String(comp.stderr));
  assert.match(comp.stdout, /^complete -F _puppet_ha puppet-ha$/m);
  assert.match(comp.stdout, /^failover failback$/m);

  const remove = await sh("dpkg", ["-r", "puppet-ha"]);
  assert.equal(remove.exitCode, 0, String(remove.stderr));
  for (const f of INSTALLED) assert.ok(!existsSync(f), `${f} removed`);
  assert.ok(existsSync("/var/lib/puppet-ha"), "remove keeps the state dir (the arbiter's epoch)");
  const purge = await sh("dpkg", ["--purge", "puppet-ha"]);
  assert.equal(purge.exitCode, 0, String(purge.stderr));
  assert.ok(!existsSync("/var/lib/puppet-ha"), "purge removes the state dir");
  assert.ok(!existsSync("/etc/puppet-ha"), "purge removes the empty /etc/puppet-ha");
  assert.ok(!existsSync("/usr/share/doc/puppet-ha"));
  assert.equal((await sh("dpkg-query", ["-W", "-f=${Status}", "puppet-ha"])).stdout.includes("installed"), false);
});

/**
 * install.md's steps after the package: a config in /etc/puppet-ha (0640 root:puppet-ha), checked,
 * then the proxy unit's ExecStart as user puppet-ha and its ExecStartPost (`puppet-ha ready`), and
 * `puppet-ha ca status`. Loopback only: fake CA worker and master, the test PKI, free ports. The
 * proxy is stopped by PID (SIGTERM: exit 0) and the files written here are removed, so the purge
 * below still finds /etc/puppet-ha empty.
 */
async function runInstalledProxy(t: TestContext, undo: Undo): Promise<void> {
  const p = pki();
  const ca1 = await fakeBackend(t, "ca1");
  const m1 = await fakeBackend(t, "m1");
  const [port, adminPort] = (await freePorts(2)) as [number, number];
  const uid = Number((await sh("id", ["-u", "puppet-ha"])).stdout);
  const gid = Number((await sh("id", ["-g", "puppet-ha"])).stdout);
  const etc = "/etc/puppet-ha";
  const tlsDir = join(etc, "tls");
  const owned: string[] = [tlsDir, join(etc, "puppet-ha.yaml"), join(etc, "admin.token")];
  undo.push(() => {
    for (const f of owned) rmSync(f, { recursive: true, force: true });
  });
  const secret = (path: string, content: string | Buffer) => {
    writeFileSync(path, content, { mode: 0o640 });
    chownSync(path, 0, gid);
  };
  mkdirSync(tlsDir, { mode: 0o750 });
  chownSync(tlsDir, 0, gid);
  const tls: Record<string, string> = {};
  for (const [k, f] of Object.entries(p.files)) {
    tls[k] = join(tlsDir, `${k}.pem`);
    copyFileSync(f, tls[k]);
    chownSync(tls[k], 0, gid);
  }
  secret(join(etc, "admin.token"), "installed-package-token\n");
  secret(join(etc, "puppet-ha.yaml"), stringify({
    proxy: {
      listen: `127.0.0.1:${port}`, tls,
      ca: { workers: [{ name: "ca1", url: ca1.url }] },
      masters: { workers: [{ name: "m1", url: m1.url }] },
    },
    admin: { listen: `127.0.0.1:${adminPort}`, tokenFile: join(etc, "admin.token") },
  }));
  const config = join(etc, "puppet-ha.yaml");
  const check = await sh("/usr/bin/puppet-ha", ["config", "check", "-c", config]);
  assert.equal(check.exitCode, 0, String(check.stderr));

  // The unit's ExecStart, as its User=/Group=; the state dir is the package's /var/lib/puppet-ha.
  const child = spawn("/usr/bin/puppet-ha", ["proxy", "-c", config], { cwd: "/", uid, gid, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  undo.push(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid, "SIGKILL");
      await exited;
    }
  });
  const ready = await sh("/usr/bin/puppet-ha", ["ready", "-c", config, "--timeout", "60s"]);
  assert.equal(ready.exitCode, 0, `${String(ready.stderr)}\nproxy stderr: ${stderr}`);
  const live = await fetch(`http://127.0.0.1:${adminPort}/health/live`);
  assert.equal(live.status, 200, await live.text());
  // The default proxy.workers (one per core): /metrics sums the workers' registries and still lints.
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const lint = await execa("/usr/bin/promtool", ["check", "metrics"], { input: metrics, reject: false });
  assert.equal(lint.exitCode, 0, String(lint.stdout) + String(lint.stderr));
  const status = await sh("/usr/bin/puppet-ha", ["ca", "status", "-c", config]);
  assert.equal(status.exitCode, 0, String(status.stderr));
  assert.match(status.stdout, /ca1/);
  const agent = await call(port, { path: "/puppet/v3/catalog/node1", client: p.node1 });
  assert.equal(agent.body, "m1 GET /puppet/v3/catalog/node1", "an agent's request went through the installed proxy");
  assert.ok(existsSync("/var/lib/puppet-ha") && statSync("/var/lib/puppet-ha").uid === uid);

  // The installed sync agent, with this proxy as its arbiter: its pass runs the scan worker thread,
  // which the bundle must provide itself (there is no scan-worker.js among its chunks).
  const cadirs = mkdtempSync(join(tmpdir(), "puppet-ha-deb-cadirs-"));
  undo.push(() => rmSync(cadirs, { recursive: true, force: true }));
  const source = new FakeCadir(createTestCa("deb-sync"));
  source.sign("agent1");
  source.writeTo(join(cadirs, "ca1"));
  const syncConfig = join(cadirs, "sync.yaml");
  writeFileSync(syncConfig, stringify({ sync: {
    cadirs: { ca1: join(cadirs, "ca1"), ca2: join(cadirs, "ca2") }, writeInto: ["ca2"],
    backupDir: join(cadirs, "backups"), workDir: join(cadirs, "work"),
    arbiter: { url: `http://127.0.0.1:${adminPort}`, tokenFile: join(etc, "admin.token") },
  } }));
  const once = await sh("/usr/bin/puppet-ha", ["sync", "-c", syncConfig, "--once"]);
  assert.equal(once.exitCode, 0, String(once.stderr));
  assert.ok(existsSync(join(cadirs, "ca2", "signed", "agent1.pem")), "the installed sync agent copied the active CA's dir");

  assert.ok(child.pid !== undefined);
  process.kill(child.pid, "SIGTERM");
  assert.equal(await exited, 0, `the proxy stops cleanly on SIGTERM: ${stderr}`);
  for (const f of owned) rmSync(f, { recursive: true, force: true });
}
