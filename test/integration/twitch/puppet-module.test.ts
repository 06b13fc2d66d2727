// The Puppet module puppet/modules/puppet_ha, class puppet_ha::twitch, checked with the real
// Debian puppet (isolated confdir/vardir/... under a temp dir): parser and EPP validation,
// `puppet apply --noop` with the real paths, and a real apply into a scratch root whose files
// are then read back (config through our own loader, sudoers through visudo and against the
// argument vectors twitch really builds, the unit against deploy/systemd).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { parseConfig } from "../../../src/config/load.js";
import { agentArgv, configPrintArgv } from "../../../src/twitch/params.js";
import { repoRoot } from "../../helpers/cli.js";

const PUPPET = "/usr/bin/puppet";
const VISUDO = "/usr/sbin/visudo";
const moduleDir = join(repoRoot, "puppet/modules/puppet_ha");
const dir = mkdtempSync(join(tmpdir(), "twitch-puppet-module-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "hiera.yaml"), "---\nversion: 5\n");

/** puppet with every directory it writes isolated under the temp dir. */
function puppet(args: string[]) {
  const iso = ["confdir", "vardir", "codedir", "logdir", "rundir", "ssldir", "publicdir"].flatMap((d) => [`--${d}`, join(dir, "puppet", d)]);
  return execa(PUPPET, [...args, ...iso, "--hiera_config", join(dir, "hiera.yaml"), "--color", "false"], { reject: false, cwd: dir });
}

function apply(manifest: string, extra: string[] = []) {
  const file = join(dir, `site-${Math.random().toString(36).slice(2)}.pp`);
  writeFileSync(file, manifest);
  return puppet(["apply", "--detailed-exitcodes", "--modulepath", join(repoRoot, "puppet/modules"), ...extra, file]);
}

/** Puppet's messages without facter's container noise. */
const messages = (s: unknown) => String(s).split("\n").filter((l) => !/Facter: Permission denied/.test(l)).join("\n");

test("manifests, functions and EPP templates validate", async () => {
  const pp = [join(moduleDir, "manifests/twitch.pp"), ...readdirSync(join(moduleDir, "functions")).map((f) => join(moduleDir, "functions", f))];
  const parser = await puppet(["parser", "validate", ...pp]);
  assert.equal(parser.exitCode, 0, messages(parser.stderr));
  const epp = await puppet(["epp", "validate", ...readdirSync(join(moduleDir, "templates")).map((f) => join(moduleDir, "templates", f))]);
  assert.equal(epp.exitCode, 0, messages(epp.stderr));
});

test("puppet apply --noop of the class with the real paths changes nothing and fails nothing", async () => {
  const r = await apply("class { 'puppet_ha::twitch': token => Sensitive('abc'), allow => ['admin*.ops'] }\n", ["--noop"]);
  assert.equal(r.exitCode, 0, messages(r.stderr) + String(r.stdout));
  const out = String(r.stdout);
  for (const what of ["User[twitch]", "Group[twitch]", "File[/etc/sudoers.d/puppet-ha-twitch]", "File[/etc/puppet-ha/puppet-ha.yaml]", "Service[puppet-ha-twitch]"]) {
    assert.match(out, new RegExp(`${what.replace(/[[\]/.]/g, "\\$&")}.*\\(noop\\)`), what);
  }
});

test("a real apply into a scratch root writes config, token, sudoers and unit; a second apply changes nothing", async () => {
  const root = join(dir, "root");
  mkdirSync(join(root, "etc/sudoers.d"), { recursive: true });
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  const manifest = `class { 'puppet_ha::twitch':
  root => '${root}', manage_user => false, manage_service => false, manage_package => false, validate_config => false, user => 'root', group => 'root',
  token => Sensitive("it's-a-token"), allow => ['admin*.ops', 'bolt.example'], certname => 'node1.example',
  puppet_args => ['--server', 'puppet.example', '--serverport', '8140'], rate_limit_max => 3, splay_max => '30s',
  sudoers_validate_cmd => '${VISUDO} -c -f %',
}
`;
  const first = await apply(manifest);
  assert.equal(first.exitCode, 2, messages(first.stderr) + String(first.stdout));
  const second = await apply(manifest);
  assert.equal(second.exitCode, 0, `idempotent: ${String(second.stdout)}`);

  const mode = (p: string) => (statSync(join(root, p)).mode & 0o777).toString(8);
  assert.equal(mode("etc/puppet-ha"), "750");
  assert.equal(mode("etc/puppet-ha/puppet-ha.yaml"), "640");
  assert.equal(mode("etc/puppet-ha/twitch.token"), "640");
  assert.equal(mode("etc/sudoers.d/puppet-ha-twitch"), "440");
  assert.equal(readFileSync(join(root, "etc/puppet-ha/twitch.token"), "utf8"), "it's-a-token\n");

  // The config is what our own loader accepts, with the class's values.
  const cfg = parseConfig(readFileSync(join(root, "etc/puppet-ha/puppet-ha.yaml"), "utf8"), "puppet-ha.yaml");
  const tw = cfg.twitch;
  assert.ok(tw);
  assert.deepEqual(tw.listen, { host: "0.0.0.0", port: 2023 });
  assert.equal(tw.auth.tokenFile, "/etc/puppet-ha/twitch.token");
  assert.deepEqual(tw.auth.tls, {
    cert: "/var/lib/puppet/ssl/certs/node1.example.pem", key: "/var/lib/puppet/ssl/private_keys/node1.example.pem",
    ca: "/var/lib/puppet/ssl/certs/ca.pem", crl: "/var/lib/puppet/ssl/crl.pem",
  });
  assert.deepEqual(tw.auth.allow, ["admin*.ops", "bolt.example"]);
  assert.deepEqual(tw.puppet.command, ["/usr/bin/sudo", "-n", "/usr/bin/puppet"]);
  assert.deepEqual(tw.puppet.args, ["--server", "puppet.example", "--serverport", "8140"]);
  assert.deepEqual(tw.rateLimit, { max: 3, per: 60_000 });
  assert.equal(tw.splayMax, 30_000);

  // The sudoers file allows exactly the commands twitch builds from that config, nothing more.
  const sudoers = readFileSync(join(root, "etc/sudoers.d/puppet-ha-twitch"), "utf8");
  const v = await execa(VISUDO, ["-c", "-f", join(root, "etc/sudoers.d/puppet-ha-twitch")], { reject: false });
  assert.equal(v.exitCode, 0, String(v.stderr) + String(v.stdout));
  const allowed = sudoers.split("\n").filter((l) => l.startsWith("root ALL=(root) NOPASSWD: ")).map((l) => l.slice("root ALL=(root) NOPASSWD: ".length));
  assert.equal(allowed.length, 2);
  const permits = (argv: string[]) => {
    const [bin, ...args] = argv.slice(2); // drop "/usr/bin/sudo", "-n"
    const line = args.join(" ");
    return allowed.some((rule) => {
      const [cmd, ...rest] = rule.split(" ");
      if (cmd !== bin) return false;
      const spec = rest.join(" ");
      if (!spec.startsWith("^")) return spec === line;
      return new RegExp(spec.replace(/\\([,:=\\])/g, "$1")).test(line);
    });
  };
  const vec = (o: Partial<{ noop: boolean; tags: string[]; environment: string }>) => {
    const [file, args] = agentArgv(tw.puppet.command, tw.puppet.args, { noop: false, tags: [], environment: undefined, splay: false, ...o });
    return [file, ...args];
  };
  const [cpFile, cpArgs] = configPrintArgv(tw.puppet.command, tw.puppet.args);
  assert.ok(permits([cpFile, ...cpArgs]), "config print");
  assert.ok(permits(vec({})));
  assert.ok(permits(vec({ noop: true, tags: ["ntp", "apache::vhost", "role.web-1"], environment: "production" })));
  assert.ok(permits(vec({ environment: "dev_2" })));
  assert.ok(!permits(["/usr/bin/sudo", "-n", "/usr/bin/puppet", "agent", "--onetime", "--no-daemonize", "--detailed-exitcodes", "--server", "puppet.example", "--serverport", "8140", "--postrun_command", "id"]));
  assert.ok(!permits(["/usr/bin/sudo", "-n", "/usr/bin/puppet", "apply", "-e", "exec{'x':}"]));

  // The unit is the one shipped in deploy/systemd (same template, default paths; user root here).
  const unit = readFileSync(join(root, "etc/systemd/system/puppet-ha-twitch.service"), "utf8");
  assert.equal(unit.replace("User=root\nGroup=root\n", "User=twitch\nGroup=twitch\n"), readFileSync(join(repoRoot, "deploy/systemd/puppet-ha-twitch.service"), "utf8"));
});

test("the class refuses a non-loopback listen without token or mTLS", async () => {
  const r = await apply(`class { 'puppet_ha::twitch': root => '${join(dir, "root2")}', manage_user => false, manage_service => false, manage_package => false, validate_config => false, mtls => false }\n`);
  assert.equal(r.exitCode, 1);
  assert.match(messages(r.stderr), /without token or mtls twitch only binds loopback, not 0\.0\.0\.0:2023/);
});
