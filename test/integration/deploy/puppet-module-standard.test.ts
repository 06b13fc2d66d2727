// puppet/modules/puppet_ha to the standard of Vox Pupuli modules: puppet-lint --fail-on-warnings
// clean, every parameter documented (puppet strings warns about nothing) and REFERENCE.md as
// `puppet strings generate` writes it now, real metadata.json; module data picking Debian-package
// or AIO/OpenVox paths by fact; manage_package; validate_cmd running `puppet-ha config check` on
// every generated config; manage_puppetserver_config => false checking instead of writing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "../../helpers/cli.js";
import { isolatedPuppet, messages, moduleDir, PUPPET } from "./puppet.js";

const p = isolatedPuppet("puppet-ha-standard-");
test.after(() => p.cleanup());
const BUNDLE = join(p.dir, "puppet-ha");
await execa(process.execPath, [join(repoRoot, "scripts/bundle.mjs"), BUNDLE]);

test("puppet-lint --fail-on-warnings passes on the module", async () => {
  // From the repository root: puppet-lint's autoloader check needs the module's own directory name.
  const r = await execa("/usr/bin/puppet-lint", ["--fail-on-warnings", "puppet/modules/puppet_ha"], { cwd: repoRoot, reject: false });
  assert.equal(r.exitCode, 0, String(r.stdout) + String(r.stderr));
});

test("puppet strings documents every parameter without a warning, and REFERENCE.md is current", async (t) => {
  // puppet strings writes a .yardoc cache into its working directory: run it on a copy.
  const copy = mkdtempSync(join(tmpdir(), "puppet-ha-strings-"));
  t.after(() => rmSync(copy, { recursive: true, force: true }));
  cpSync(moduleDir, copy, { recursive: true, filter: (src) => !src.includes(".yardoc") });
  const out = join(copy, "REFERENCE.generated.md");
  const r = await execa(PUPPET, ["strings", "generate", "--format", "markdown", "--out", out], { cwd: copy, reject: false });
  assert.equal(r.exitCode, 0, String(r.stderr));
  const warnings = `${String(r.stdout)}\n${String(r.stderr)}`.split("\n").filter((l) => l.startsWith("[warn]"));
  assert.deepEqual(warnings, [], "puppet strings warnings (missing @param, long summary, bad type)");
  assert.match(String(r.stdout), /100\.00% documented/);
  const committed = readFileSync(join(moduleDir, "REFERENCE.md"), "utf8");
  assert.ok(committed === readFileSync(out, "utf8"), "REFERENCE.md is stale: run `puppet strings generate --format markdown` in puppet/modules/puppet_ha");
  for (const cls of ["puppet_ha::proxy", "puppet_ha::ca", "puppet_ha::master", "puppet_ha::agent", "puppet_ha::twitch", "puppet_ha::install"]) {
    assert.ok(committed.includes(`### <a name="${cls.replace(/::/g, "")}"></a>\`${cls}\``), `REFERENCE.md documents ${cls}`);
  }
});

test("metadata.json: source and issues URLs, the supported OS list, Puppet 7 and 8", () => {
  const meta = JSON.parse(readFileSync(join(moduleDir, "metadata.json"), "utf8")) as {
    source: string; issues_url: string; project_page: string; license: string;
    operatingsystem_support: { operatingsystem: string; operatingsystemrelease: string[] }[];
    requirements: { name: string; version_requirement: string }[];
  };
  assert.match(meta.source, /^https:\/\//);
  assert.equal(meta.issues_url, `${meta.source}/issues`);
  assert.equal(meta.license, "Apache-2.0");
  const os = Object.fromEntries(meta.operatingsystem_support.map((o) => [o.operatingsystem, o.operatingsystemrelease]));
  assert.ok(os.Debian?.includes("12"), "Debian 12");
  assert.ok(os.Ubuntu && os.RedHat, "Ubuntu and the RHEL family");
  assert.deepEqual(meta.requirements, [{ name: "puppet", version_requirement: ">= 7.0.0 < 9.0.0" }]);
});

/** A scratch root with the directories packages would have made, for both layouts. */
function scratch(name: string): string {
  const root = join(p.dir, name);
  for (const d of ["etc/puppet/puppetserver/conf.d", "etc/puppet/puppetserver/services.d", "etc/puppetlabs/puppetserver/conf.d",
    "etc/puppetlabs/puppetserver/services.d", "etc/puppetlabs/puppet", "etc/systemd/system", "etc/sudoers.d", "var/lib"]) mkdirSync(join(root, d), { recursive: true });
  return root;
}

test("module data: Debian package paths by default, Puppet AIO / OpenVox paths when puppet_ha_layout is aio", async () => {
  const fact = await p.apply("notice(\"layout=${facts['puppet_ha_layout']}\")\n");
  assert.equal(fact.exitCode, 0, messages(fact.stderr));
  assert.match(String(fact.stdout), /layout=debian/, "Debian's ruby is not under /opt/puppetlabs");

  const manifest = (root: string) => `class { 'puppet_ha::master': root => '${root}', manage_service => false, bind_host => '10.0.0.21' }
class { 'puppet_ha::agent': root => '${root}', server => 'puppet.example' }\n`;
  const deb = scratch("layout-debian");
  const r1 = await p.apply(manifest(deb));
  assert.equal(r1.exitCode, 2, messages(r1.stderr));
  assert.ok(existsSync(join(deb, "etc/puppet/puppetserver/conf.d/webserver.conf")));
  assert.ok(existsSync(join(deb, "etc/puppet/puppet.conf")));
  assert.ok(existsSync(join(deb, "etc/puppet/code/environments/production/manifests")));

  const aio = scratch("layout-aio");
  const r2 = await p.apply(manifest(aio), [], { puppet_ha_layout: "aio" });
  assert.equal(r2.exitCode, 2, messages(r2.stderr));
  assert.ok(existsSync(join(aio, "etc/puppetlabs/puppetserver/conf.d/webserver.conf")));
  assert.ok(existsSync(join(aio, "etc/puppetlabs/puppet/puppet.conf")));
  assert.ok(existsSync(join(aio, "etc/puppetlabs/code/environments/production/manifests")));
  assert.ok(!existsSync(join(aio, "etc/puppet/puppet.conf")), "no Debian path in the AIO layout");

  const twitch = await p.apply("class { 'puppet_ha::twitch': token => Sensitive('t'), mtls => true, certname => 'n1.example' }\n", ["--noop"], { puppet_ha_layout: "aio" });
  assert.equal(twitch.exitCode, 0, messages(twitch.stderr));
});

test("manage_package adds the puppet-ha package; validate_cmd refuses a config puppet-ha refuses and installs a good one", async () => {
  const noop = await p.apply("class { 'puppet_ha::twitch': token => Sensitive('t'), mtls => false }\n", ["--noop", "--debug"]);
  assert.equal(noop.exitCode, 0, messages(noop.stderr));
  assert.match(String(noop.stdout), /Package\[puppet-ha\]\/ensure: .*\(noop\)/);
  const without = await p.apply("class { 'puppet_ha::twitch': token => Sensitive('t'), mtls => false, manage_package => false }\n", ["--noop"]);
  assert.doesNotMatch(String(without.stdout), /Package\[puppet-ha\]/);

  const root = scratch("validate");
  const SCRATCH = `root => '${root}', manage_user => false, manage_service => false, manage_package => false, user => 'root', group => 'root'`;
  // Port 99999 passes the module's Listen type but not puppet-ha's own schema.
  const bad = await p.apply(`class { 'puppet_ha::twitch': ${SCRATCH}, listen => '127.0.0.1:99999', mtls => false,
  sudoers_validate_cmd => '/usr/sbin/visudo -c -f %', config_validate_cmd => '${BUNDLE} config check -c %' }\n`);
  assert.equal(bad.exitCode, 6, messages(bad.stderr) + String(bad.stdout));
  assert.match(messages(bad.stderr), /Execution of '.*puppet-ha config check -c .*' returned 2: .*twitch\.listen/s);
  assert.ok(!existsSync(join(root, "etc/puppet-ha/puppet-ha.yaml")), "the refused config was not installed");
  const good = await p.apply(`class { 'puppet_ha::twitch': ${SCRATCH}, listen => '127.0.0.1:2023', mtls => false,
  sudoers_validate_cmd => '/usr/sbin/visudo -c -f %', config_validate_cmd => '${BUNDLE} config check -c %' }\n`);
  assert.equal(good.exitCode, 2, messages(good.stderr));
  assert.ok(existsSync(join(root, "etc/puppet-ha/puppet-ha.yaml")));
});

test("manage_puppetserver_config => false leaves puppetserver's files alone and fails the run on a missing setting", async () => {
  const root = scratch("foreign-config");
  const conf = join(root, "etc/puppet/puppetserver");
  const files = {
    "conf.d/webserver.conf": "webserver: {\n    host: 10.0.0.21\n    port: 8140\n}\n",
    "conf.d/auth.conf": "authorization: {\n    version: 1\n    rules: []\n}\n",
    "services.d/ca.cfg": "puppetlabs.services.ca.certificate-authority-disabled-service/certificate-authority-disabled-service\n",
  };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(conf, f), text);
  const manifest = `class { 'puppet_ha::master': root => '${root}', manage_service => false, manage_codedir => false, bind_host => '10.0.0.21', manage_puppetserver_config => false }\n`;
  const r = await p.apply(manifest);
  assert.equal(r.exitCode, 4, messages(r.stderr) + String(r.stdout));
  assert.match(messages(r.stderr), /puppet_ha: .*conf\.d\/auth\.conf must set allow-header-cert-info: true/);
  assert.doesNotMatch(messages(r.stderr), /webserver\.conf must set|ca\.cfg must enable/, "the settings present pass");
  for (const [f, text] of Object.entries(files)) assert.equal(readFileSync(join(conf, f), "utf8"), text, `${f} untouched`);

  writeFileSync(join(conf, "conf.d/auth.conf"), "authorization: {\n    version: 1\n    allow-header-cert-info: true\n    rules: []\n}\n");
  const ok = await p.apply(manifest);
  assert.equal(ok.exitCode, 0, messages(ok.stderr) + String(ok.stdout));
  writeFileSync(join(conf, "conf.d/webserver.conf"), "webserver: {\n    host: 0.0.0.0\n    ssl-port: 8140\n}\n");
  const wrong = await p.apply(manifest);
  assert.equal(wrong.exitCode, 4);
  assert.match(messages(wrong.stderr), /webserver\.conf must set host: 10\.0\.0\.21/);
  assert.match(messages(wrong.stderr), /webserver\.conf must set port: 8140/);
});
