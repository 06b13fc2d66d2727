// The role classes of puppet/modules/puppet_ha (proxy, ca, master, agent), checked with the real
// Debian puppet (isolated confdir/vardir/... under a temp dir): parser and EPP validation,
// `puppet apply --noop` with the real paths, a real apply of each role into a scratch root whose
// files are read back (puppet-ha YAML through our own loader, puppetserver confs against the
// package's, puppet.conf through `puppet config print`, units against deploy/systemd), a second
// apply that changes nothing, and the refusals of bad parameters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { parseConfig } from "../../../src/config/load.js";
import { repoRoot } from "../../helpers/cli.js";
import { filesIn, isolatedPuppet, messages, moduleDir, PUPPET } from "./puppet.js";

const p = isolatedPuppet("puppet-ha-roles-");
test.after(() => p.cleanup());

const TOKEN = "s3cret-admin-token";
const WORKERS = "[{ name => 'ca1', url => 'http://10.0.0.11:8140' }, { name => 'ca2', url => 'http://10.0.0.12:8140' }]";
const MASTERS = "[{ name => 'm1', url => 'http://10.0.0.21:8140' }, { name => 'm2', url => 'http://10.0.0.22:8140/' }]";
// Every generated config is checked by the real single-file puppet-ha (validate_cmd), as the
// package installs it; the package itself is not installed in a scratch root.
const BUNDLE = join(p.dir, "puppet-ha");
await execa(process.execPath, [join(repoRoot, "scripts/bundle.mjs"), BUNDLE]);
const SCRATCH = `manage_user => false, manage_service => false, manage_package => false, config_validate_cmd => '${BUNDLE} config check -c %'`;

/** A fresh scratch root with the directories the packages would have created. */
function scratch(name: string): string {
  const root = join(p.dir, name);
  for (const d of ["etc/systemd/system", "etc/puppet/puppetserver/conf.d", "etc/puppet/puppetserver/services.d", "var/lib"]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  return root;
}

/** Applies twice: the first run changes something (exit 2), the second nothing (exit 0). */
async function applyTwice(manifest: string) {
  const first = await p.apply(manifest);
  assert.equal(first.exitCode, 2, messages(first.stderr) + String(first.stdout));
  const second = await p.apply(manifest);
  assert.equal(second.exitCode, 0, `a second apply changes nothing: ${messages(second.stderr)}${String(second.stdout)}`);
}

const read = (root: string, path: string) => readFileSync(join(root, path), "utf8");
const mode = (root: string, path: string) => (statSync(join(root, path)).mode & 0o777).toString(8);

/** The package's auth.conf with header auth switched on, as the e2e cluster builds it. */
function expectedAuthConf(): string {
  const pkg = readFileSync("/etc/puppet/puppetserver/conf.d/auth.conf", "utf8");
  return pkg.replace(/^(\s*)version:\s*1\s*$/m, "$1version: 1\n$1allow-header-cert-info: true");
}
const withoutHeaderComments = (s: string) => s.replace(/^(#.*\n)+/, "");

test("manifests, functions, types and EPP templates validate", async () => {
  const pp = ["manifests", "functions", "types"].flatMap((d) => filesIn(join(moduleDir, d), ".pp"));
  assert.ok(pp.some((f) => f.endsWith("manifests/ca.pp")) && pp.length >= 10, pp.join(" "));
  const parser = await p.run(["parser", "validate", ...pp]);
  assert.equal(parser.exitCode, 0, messages(parser.stderr));
  const epp = await p.run(["epp", "validate", ...filesIn(join(moduleDir, "templates"), ".epp")]);
  assert.equal(epp.exitCode, 0, messages(epp.stderr));
});

const noopCases: { role: string; manifest: string; expect: string[] }[] = [
  {
    role: "proxy",
    manifest: `class { 'puppet_ha::proxy': ca_workers => ${WORKERS}, masters => ${MASTERS}, admin_token => Sensitive('${TOKEN}'), certname => 'balancer.example' }`,
    expect: ["Package[puppet-ha]", "User[puppet-ha]", "File[/etc/puppet-ha/puppet-ha.yaml]", "File[/etc/puppet-ha/admin.token]", "File[/etc/systemd/system/puppet-ha-proxy.service]", "Service[puppet-ha-proxy]"],
  },
  {
    role: "ca",
    manifest: `class { 'puppet_ha::ca': worker_name => 'ca2', bind_host => '10.0.0.12', cadirs => { 'ca1' => 'root@ca1.example:/etc/puppet/puppetserver/ca' }, arbiter_url => 'http://10.0.0.10:8141', admin_token => Sensitive('${TOKEN}'), autosign => ['*.example'] }`,
    expect: ["File[/etc/puppet/puppetserver/conf.d/webserver.conf]", "File[/etc/puppet/puppetserver/conf.d/auth.conf]", "File[/etc/puppet/puppetserver/conf.d/ca.conf]", "File[/etc/puppet/autosign.conf]", "File[/etc/puppet-ha/puppet-ha.yaml]", "Service[puppet-ha-sync]", "Service[puppetserver]"],
  },
  {
    role: "master",
    manifest: "class { 'puppet_ha::master': bind_host => '10.0.0.21' }",
    expect: ["File[/etc/puppet/puppetserver/conf.d/webserver.conf]", "File[/etc/puppet/puppetserver/services.d/ca.cfg]", "Service[puppetserver]"],
  },
  {
    role: "agent",
    manifest: "class { 'puppet_ha::agent': server => 'balancer.example' }",
    expect: ["File[/etc/puppet/puppet.conf]"],
  },
];

for (const c of noopCases) {
  test(`puppet apply --noop of puppet_ha::${c.role} with the real paths fails nothing`, async () => {
    const r = await p.apply(`${c.manifest}\n`, ["--noop"]);
    assert.equal(r.exitCode, 0, messages(r.stderr) + String(r.stdout));
    for (const what of c.expect) {
      assert.match(String(r.stdout), new RegExp(`${what.replace(/[[\]/.*]/g, "\\$&")}.*\\(noop\\)`), what);
    }
  });
}

test("puppet_ha::proxy (several hosts): config, token, state dir and unit; our loader accepts the config", async () => {
  const root = scratch("proxy");
  await applyTwice(`class { 'puppet_ha::proxy':
  root => '${root}', ${SCRATCH}, user => 'root', group => 'root', user_groups => [],
  ca_workers => ${WORKERS}, masters => ${MASTERS}, certname => 'balancer.example',
  admin_listen => '10.0.0.10:8141', admin_token => Sensitive('${TOKEN}'), failback => 'auto', failback_after => '2m',
  balance => 'least-connections', serial_gap => 8192, health_fall => 3, tls_min_version => 'TLSv1.3',
}
`);
  assert.equal(read(root, "etc/puppet-ha/admin.token"), `${TOKEN}\n`);
  assert.equal(mode(root, "etc/puppet-ha/admin.token"), "640");
  assert.equal(mode(root, "etc/puppet-ha/puppet-ha.yaml"), "640");
  assert.equal(mode(root, "var/lib/puppet-ha"), "750");
  const cfg = parseConfig(read(root, "etc/puppet-ha/puppet-ha.yaml"), "puppet-ha.yaml");
  const px = cfg.proxy;
  assert.ok(px);
  assert.deepEqual(px.listen, { host: "0.0.0.0", port: 8140 });
  assert.deepEqual(px.tls, {
    cert: "/var/lib/puppet/ssl/certs/balancer.example.pem", key: "/var/lib/puppet/ssl/private_keys/balancer.example.pem",
    ca: "/var/lib/puppet/ssl/certs/ca.pem", crl: "/var/lib/puppet/ssl/crl.pem", minVersion: "TLSv1.3",
  });
  assert.deepEqual(px.ca.workers, [{ name: "ca1", url: "http://10.0.0.11:8140" }, { name: "ca2", url: "http://10.0.0.12:8140" }]);
  assert.deepEqual(px.masters.workers.map((w) => w.url), ["http://10.0.0.21:8140", "http://10.0.0.22:8140"]);
  assert.equal(px.masters.balance, "least-connections");
  assert.equal(px.ca.failback, "auto");
  assert.equal(px.ca.failbackAfter, 120_000);
  assert.equal(px.ca.serialGap, 8192);
  assert.equal(px.health.fall, 3);
  assert.equal(px.stateDir, "/var/lib/puppet-ha");
  assert.deepEqual(cfg.admin.listen, { host: "10.0.0.10", port: 8141 });
  assert.equal(cfg.admin.tokenFile, "/etc/puppet-ha/admin.token");
  assert.equal(cfg.sync, undefined);

  // The unit is deploy/systemd's (user root and no supplementary group here).
  const unit = read(root, "etc/systemd/system/puppet-ha-proxy.service");
  assert.equal(unit.replace("User=root\nGroup=root\n", "User=puppet-ha\nGroup=puppet-ha\nSupplementaryGroups=puppet\n"),
    readFileSync(join(repoRoot, "deploy/systemd/puppet-ha-proxy.service"), "utf8"));
});

test("puppet_ha::proxy (one host, in-process sync): the sync section is valid and the unit may write the standby cadirs", async () => {
  const root = scratch("proxy-single");
  await applyTwice(`class { 'puppet_ha::proxy':
  root => '${root}', ${SCRATCH}, user => 'puppet', group => 'puppet', user_groups => [],
  ca_workers => [{ name => 'ca1', url => 'http://127.0.0.1:18142' }, { name => 'ca2', url => 'http://127.0.0.1:18143' }],
  masters => [{ name => 'm1', url => 'http://127.0.0.1:18140' }], certname => 'puppet.example',
  sync_cadirs => { 'ca1' => '/etc/puppet/puppetserver/ca', 'ca2' => '/etc/puppet/puppetserver/ca.standby' },
  sync_write_into => ['ca1', 'ca2'], sync_schedule => '*/5 * * * *', sync_max_deletes => 10,
}
`);
  const cfg = parseConfig(read(root, "etc/puppet-ha/puppet-ha.yaml"), "puppet-ha.yaml");
  assert.ok(cfg.sync);
  assert.deepEqual(cfg.sync.cadirs, { ca1: "/etc/puppet/puppetserver/ca", ca2: "/etc/puppet/puppetserver/ca.standby" });
  assert.deepEqual(cfg.sync.writeInto, ["ca1", "ca2"]);
  assert.equal(cfg.sync.schedule, "*/5 * * * *");
  assert.equal(cfg.sync.maxDeletes, 10);
  assert.equal(cfg.sync.arbiter, undefined);
  assert.equal(cfg.admin.tokenFile, undefined, "no token given: no tokenFile");
  assert.equal(statSync(join(root, "etc/puppet-ha/admin.token"), { throwIfNoEntry: false }), undefined);
  const unit = read(root, "etc/systemd/system/puppet-ha-proxy.service");
  assert.match(unit, /^User=puppet$/m);
  assert.doesNotMatch(unit, /^SupplementaryGroups=/m);
  assert.match(unit, /^ReadWritePaths=\/etc\/puppet\/puppetserver\/ca\nReadWritePaths=\/etc\/puppet\/puppetserver\/ca\.standby$/m);
});

test("puppet_ha::ca: puppetserver on plain HTTP with header auth and the CA on, autosign, sync config, key and unit", async () => {
  const root = scratch("ca");
  await applyTwice(`class { 'puppet_ha::ca':
  root => '${root}', ${SCRATCH}, user => 'root', group => 'root',
  worker_name => 'ca2', bind_host => '10.0.0.12', port => 18140,
  cadirs => { 'ca1' => 'puppet-ha-sync@ca1.example:/etc/puppet/puppetserver/ca' },
  arbiter_url => 'http://10.0.0.10:8141/', admin_token => '${TOKEN}', autosign => ['*.example', 'node??.test'],
  ssh => ['ssh', '-oBatchMode=yes', '-oStrictHostKeyChecking=accept-new'],
  ssh_private_key => Sensitive("-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n-----END OPENSSH PRIVATE KEY-----\\n"),
  sync_login_user => 'root', sync_login_home => '/var/lib/puppet-ha-sync', sync_authorized_keys => ['ssh-ed25519 AAAAC3Nza sync@ca1'],
}
`);
  const conf = "etc/puppet/puppetserver/conf.d";
  const web = read(root, `${conf}/webserver.conf`);
  assert.match(web, /^\s*host: 10\.0\.0\.12$/m);
  assert.match(web, /^\s*port: 18140$/m);
  assert.match(web, /access-log-config: \/etc\/puppet\/puppetserver\/request-logging\.xml/);
  assert.doesNotMatch(web, /^\s*ssl-/m, "plain HTTP: no ssl-* keys");
  assert.equal(withoutHeaderComments(read(root, `${conf}/auth.conf`)), expectedAuthConf());
  assert.match(read(root, `${conf}/ca.conf`), /^\s*allow-subject-alt-names: true$/m);
  const cacfg = read(root, "etc/puppet/puppetserver/services.d/ca.cfg").split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(cacfg, [
    "puppetlabs.services.ca.certificate-authority-service/certificate-authority-service",
    "puppetlabs.trapperkeeper.services.watcher.filesystem-watch-service/filesystem-watch-service",
  ]);
  assert.deepEqual(read(root, "etc/puppet/autosign.conf").split("\n").filter((l) => l && !l.startsWith("#")), ["*.example", "node??.test"]);

  const cfg = parseConfig(read(root, "etc/puppet-ha/puppet-ha.yaml"), "puppet-ha.yaml");
  assert.equal(cfg.proxy, undefined);
  const s = cfg.sync;
  assert.ok(s);
  assert.deepEqual(s.cadirs, { ca1: "puppet-ha-sync@ca1.example:/etc/puppet/puppetserver/ca", ca2: "/etc/puppet/puppetserver/ca" });
  assert.deepEqual(s.writeInto, ["ca2"]);
  assert.deepEqual(s.arbiter, { url: "http://10.0.0.10:8141", tokenFile: "/etc/puppet-ha/admin.token" });
  assert.deepEqual(s.rsync.ssh, ["ssh", "-oBatchMode=yes", "-oStrictHostKeyChecking=accept-new", "-i", "/etc/puppet-ha/sync_ed25519"]);
  assert.deepEqual(s.listen, { host: "127.0.0.1", port: 8142 });
  assert.equal(read(root, "etc/puppet-ha/admin.token"), `${TOKEN}\n`);
  assert.equal(mode(root, "etc/puppet-ha/sync_ed25519"), "600");
  assert.match(read(root, "etc/puppet-ha/sync_ed25519"), /^-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n$/);
  assert.equal(read(root, "var/lib/puppet-ha-sync/.ssh/authorized_keys"), "restrict ssh-ed25519 AAAAC3Nza sync@ca1\n");

  // The unit is deploy/systemd's (user root here).
  const unit = read(root, "etc/systemd/system/puppet-ha-sync.service");
  assert.equal(unit.replace("User=root\nGroup=root\n", "User=puppet\nGroup=puppet\n"),
    readFileSync(join(repoRoot, "deploy/systemd/puppet-ha-sync.service"), "utf8"));
});

test("puppet_ha::ca with autosign true signs everything; false removes the whitelist", async () => {
  const root = scratch("ca-autosign");
  const manifest = (autosign: string) => `class { 'puppet_ha::ca':
  root => '${root}', ${SCRATCH}, user => 'root', group => 'root', worker_name => 'ca1', bind_host => 'ca1.internal',
  cadirs => { 'ca2' => 'ca2.internal:/etc/puppet/puppetserver/ca' }, arbiter_url => 'http://balancer:8141', admin_token => 't', autosign => ${autosign},
}
`;
  await applyTwice(manifest("true"));
  assert.deepEqual(read(root, "etc/puppet/autosign.conf").split("\n").filter((l) => l && !l.startsWith("#")), ["*"]);
  const cfg = parseConfig(read(root, "etc/puppet-ha/puppet-ha.yaml"), "puppet-ha.yaml");
  assert.deepEqual(cfg.sync?.arbiter, { url: "http://balancer:8141", tokenFile: "/etc/puppet-ha/admin.token" });
  const off = await p.apply(manifest("false"));
  assert.equal(off.exitCode, 2, messages(off.stderr));
  assert.equal(statSync(join(root, "etc/puppet/autosign.conf"), { throwIfNoEntry: false }), undefined);
});

test("puppet_ha::master: plain HTTP with header auth, the CA service off, a production environment", async () => {
  const root = scratch("master");
  await applyTwice(`class { 'puppet_ha::master': root => '${root}', manage_service => false, bind_host => '10.0.0.21' }\n`);
  const web = read(root, "etc/puppet/puppetserver/conf.d/webserver.conf");
  assert.match(web, /^\s*host: 10\.0\.0\.21$/m);
  assert.match(web, /^\s*port: 8140$/m);
  assert.doesNotMatch(web, /^\s*ssl-/m);
  assert.equal(withoutHeaderComments(read(root, "etc/puppet/puppetserver/conf.d/auth.conf")), expectedAuthConf());
  const cacfg = read(root, "etc/puppet/puppetserver/services.d/ca.cfg").split("\n").filter((l) => l && !l.startsWith("#"));
  assert.deepEqual(cacfg, [
    "puppetlabs.services.ca.certificate-authority-disabled-service/certificate-authority-disabled-service",
    "puppetlabs.trapperkeeper.services.watcher.filesystem-watch-service/filesystem-watch-service",
  ]);
  assert.ok(statSync(join(root, "etc/puppet/code/environments/production/manifests")).isDirectory());
});

test("puppet_ha::master with upstream paths (/etc/puppetlabs) by parameter", async () => {
  const root = scratch("master-upstream");
  for (const d of ["etc/puppetlabs/puppetserver/conf.d", "etc/puppetlabs/puppetserver/services.d"]) mkdirSync(join(root, d), { recursive: true });
  await applyTwice(`class { 'puppet_ha::master': root => '${root}', manage_service => false, bind_host => '10.0.0.22',
  confdir => '/etc/puppetlabs/puppetserver', codedir => '/etc/puppetlabs/code' }\n`);
  assert.match(read(root, "etc/puppetlabs/puppetserver/conf.d/webserver.conf"), /access-log-config: \/etc\/puppetlabs\/puppetserver\/request-logging\.xml/);
  assert.match(read(root, "etc/puppetlabs/puppetserver/services.d/ca.cfg"), /certificate-authority-disabled-service/);
  assert.ok(statSync(join(root, "etc/puppetlabs/code/environments/production/manifests")).isDirectory());
});

test("puppet_ha::agent: puppet.conf sends server and ca_server to the balancer, as puppet itself reads it", async () => {
  const root = scratch("agent");
  await applyTwice(`class { 'puppet_ha::agent': root => '${root}', server => 'puppet.example', certname => 'node1.example',
  agent_settings => { 'runinterval' => '30m', 'splay' => true }, server_settings => { 'autosign' => false } }\n`);
  const conf = join(root, "etc/puppet/puppet.conf");
  const print = async (section: string, ...names: string[]) => {
    const r = await execa(PUPPET, ["config", "print", ...names, "--section", section, "--config", conf], { reject: false });
    assert.equal(r.exitCode, 0, messages(r.stderr));
    // One name prints the bare value, several print `name = value` lines.
    if (names.length === 1) return { [names[0] as string]: String(r.stdout).trim() };
    return Object.fromEntries(String(r.stdout).trim().split("\n").map((l) => l.split(" = ") as [string, string]));
  };
  assert.deepEqual(await print("agent", "server", "ca_server", "serverport", "ca_port", "certname", "runinterval", "splay"), {
    server: "puppet.example", ca_server: "puppet.example", serverport: "8140", ca_port: "8140", certname: "node1.example", runinterval: "1800", splay: "true",
  });
  assert.deepEqual(await print("server", "autosign"), { autosign: "false" });
});

test("a CA host that also runs twitch: declared first with its own config file, both configs are valid", async () => {
  const root = scratch("ca-and-twitch");
  mkdirSync(join(root, "etc/sudoers.d"), { recursive: true });
  await applyTwice(`class { 'puppet_ha::twitch': root => '${root}', ${SCRATCH}, user => 'root', group => 'root',
  token => Sensitive('t'), mtls => false, config_file => '/etc/puppet-ha/twitch.yaml', sudoers_validate_cmd => undef }
class { 'puppet_ha::ca': root => '${root}', ${SCRATCH}, user => 'root', group => 'root', worker_name => 'ca1', bind_host => '10.0.0.11',
  cadirs => { 'ca2' => 'ca2.internal:/etc/puppet/puppetserver/ca' }, arbiter_url => 'http://10.0.0.10:8141', admin_token => 't' }
`);
  assert.ok(parseConfig(read(root, "etc/puppet-ha/twitch.yaml"), "twitch.yaml").twitch);
  assert.ok(parseConfig(read(root, "etc/puppet-ha/puppet-ha.yaml"), "puppet-ha.yaml").sync);
  assert.match(read(root, "etc/systemd/system/puppet-ha-twitch.service"), /^ExecStart=\/usr\/bin\/puppet-ha twitch -c \/etc\/puppet-ha\/twitch\.yaml$/m);
});

const refusals: { what: string; manifest: string; error: RegExp }[] = [
  {
    what: "a CA bound to every interface",
    manifest: `class { 'puppet_ha::ca': worker_name => 'ca1', bind_host => '0.0.0.0', cadirs => { 'ca2' => 'ca2:/ca' }, arbiter_url => 'http://b:8141', admin_token => 't' }`,
    error: /puppet_ha::ca: bind_host 0\.0\.0\.0 would expose a header-auth puppetserver to everyone/,
  },
  {
    what: "a master bound to ::",
    manifest: "class { 'puppet_ha::master': bind_host => '::' }",
    error: /puppet_ha::master: bind_host :: would expose/,
  },
  {
    what: "a CA whose only cadir is its own",
    manifest: `class { 'puppet_ha::ca': worker_name => 'ca1', bind_host => '10.0.0.11', cadirs => { 'ca1' => '/srv/ca' }, arbiter_url => 'http://b:8141', admin_token => 't' }`,
    error: /cadirs must name at least one other CA worker than ca1/,
  },
  {
    what: "a CA writing into a remote cadir",
    manifest: `class { 'puppet_ha::ca': worker_name => 'ca1', bind_host => '10.0.0.11', cadirs => { 'ca2' => 'ca2:/ca' }, write_into => ['ca2'], arbiter_url => 'http://b:8141', admin_token => 't' }`,
    error: /write_into has 'ca2', whose cadir is not local/,
  },
  {
    what: "duplicate CA worker names",
    manifest: `class { 'puppet_ha::proxy': ca_workers => [{ name => 'ca1', url => 'http://a:1' }, { name => 'ca1', url => 'http://b:1' }], masters => ${MASTERS} }`,
    error: /puppet_ha::proxy: ca_workers: duplicate name\(s\) ca1/,
  },
  {
    what: "an in-process cadir that is not a CA worker",
    manifest: `class { 'puppet_ha::proxy': ca_workers => ${WORKERS}, masters => ${MASTERS}, sync_cadirs => { 'ca1' => '/a', 'ca9' => '/b' } }`,
    error: /sync_cadirs has 'ca9', which is not one of ca_workers \(ca1, ca2\)/,
  },
  {
    what: "a proxy managing the puppet system user",
    manifest: `class { 'puppet_ha::proxy': ca_workers => ${WORKERS}, masters => ${MASTERS}, user => 'puppet', group => 'puppet' }`,
    error: /manage_user would redefine the system account puppet:puppet; set manage_user => false/,
  },
  {
    what: "a malformed duration",
    manifest: `class { 'puppet_ha::proxy': ca_workers => ${WORKERS}, masters => ${MASTERS}, hold_writes => '10 seconds' }`,
    error: /parameter 'hold_writes' expects a match for Puppet_ha::Duration/,
  },
  {
    what: "a backend URL that is not http(s)",
    manifest: `class { 'puppet_ha::proxy': ca_workers => [{ name => 'ca1', url => 'ftp://a:1' }], masters => ${MASTERS} }`,
    error: /ca_workers.*expects a match for Pattern/,
  },
  {
    what: "a puppet.conf value with an inline comment",
    manifest: "class { 'puppet_ha::agent': server => 'puppet', agent_settings => { 'environment' => 'prod # yes' } }",
    error: /the value of environment must not hold a newline or '#'/,
  },
  {
    what: "server set through agent_settings",
    manifest: "class { 'puppet_ha::agent': server => 'puppet', agent_settings => { 'ca_server' => 'ca1' } }",
    error: /set ca_server with its own parameter/,
  },
];

for (const r of refusals) {
  test(`the module refuses ${r.what}`, async () => {
    const out = await p.apply(`${r.manifest}\n`, ["--noop"]);
    assert.equal(out.exitCode, 1, String(out.stdout));
    assert.match(messages(out.stderr), r.error);
  });
}
