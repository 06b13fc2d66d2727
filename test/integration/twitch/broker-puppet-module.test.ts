// puppet_ha::twitch with the broker parameters, applied by the real Debian puppet into a scratch
// root: the config it writes is what our loader accepts (twitch.broker with the node's own Puppet
// cert paths), and the sudoers file allows `puppet facts show` only when twitch needs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { parseConfig } from "../../../src/config/load.js";
import { repoRoot } from "../../helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "broker-puppet-module-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, "hiera.yaml"), "---\nversion: 5\n");

function apply(manifest: string) {
  const file = join(dir, `site-${Math.random().toString(36).slice(2)}.pp`);
  writeFileSync(file, manifest);
  const iso = ["confdir", "vardir", "codedir", "logdir", "rundir", "ssldir", "publicdir"].flatMap((d) => [`--${d}`, join(dir, "puppet", d)]);
  return execa("/usr/bin/puppet", ["apply", "--detailed-exitcodes", "--modulepath", join(repoRoot, "puppet/modules"), ...iso, "--hiera_config", join(dir, "hiera.yaml"), "--color", "false", file], { reject: false, cwd: dir });
}

function scratch(name: string): string {
  const root = join(dir, name);
  mkdirSync(join(root, "etc/sudoers.d"), { recursive: true });
  mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
  return root;
}

const base = (root: string) => `root => '${root}', manage_user => false, manage_service => false, manage_package => false, validate_config => false, user => 'root', group => 'root', certname => 'web1.example', sudoers_validate_cmd => '/usr/sbin/visudo -c -f %'`;

test("broker_urls and broker_allow write twitch.broker with the node's Puppet files; sudoers gains exactly `facts show`", async () => {
  const root = scratch("a");
  const r = await apply(`class { 'puppet_ha::twitch': ${base(root)}, broker_urls => ['tls://nats1.example:4222', 'tls://nats2.example:4222'], broker_allow => ['admin.example'], broker_subject_prefix => 'ops.fleet' }\n`);
  assert.equal(r.exitCode, 2, String(r.stderr) + String(r.stdout));
  const cfg = parseConfig(readFileSync(join(root, "etc/puppet-ha/puppet-ha.yaml"), "utf8"));
  assert.deepEqual(cfg.twitch?.broker && { urls: cfg.twitch.broker.urls, tls: cfg.twitch.broker.tls, allow: cfg.twitch.broker.allow, prefix: cfg.twitch.broker.subjectPrefix, bucket: cfg.twitch.broker.statusBucket }, {
    urls: ["tls://nats1.example:4222", "tls://nats2.example:4222"],
    tls: { cert: "/var/lib/puppet/ssl/certs/web1.example.pem", key: "/var/lib/puppet/ssl/private_keys/web1.example.pem", ca: "/var/lib/puppet/ssl/certs/ca.pem", crl: "/var/lib/puppet/ssl/crl.pem" },
    allow: ["admin.example"], prefix: "ops.fleet", bucket: "puppet_ha_fleet",
  });
  const sudoers = readFileSync(join(root, "etc/sudoers.d/puppet-ha-twitch"), "utf8");
  assert.match(sudoers, /^root ALL=\(root\) NOPASSWD: \/usr\/bin\/puppet facts show --render-as json$/m);
});

test("without broker_urls there is no broker section and no facts line; broker_urls without broker_allow fails", async () => {
  const root = scratch("b");
  const r = await apply(`class { 'puppet_ha::twitch': ${base(root)} }\n`);
  assert.equal(r.exitCode, 2, String(r.stderr));
  assert.equal(parseConfig(readFileSync(join(root, "etc/puppet-ha/puppet-ha.yaml"), "utf8")).twitch?.broker, undefined);
  assert.doesNotMatch(readFileSync(join(root, "etc/sudoers.d/puppet-ha-twitch"), "utf8"), /facts show/);
  const bad = await apply(`class { 'puppet_ha::twitch': ${base(scratch("c"))}, broker_urls => ['tls://nats1.example:4222'] }\n`);
  assert.match(String(bad.stderr), /broker_urls needs broker_allow/);
});
