// The operator's pages that issue 14 asked for: the LICENSE the package.json names, the README's
// Node.js policy, install.md's three paths, upgrading.md's restart list (what SIGHUP applies and
// what it does not, as src/proxy/server.ts reload() and runtime.ts reload() decide), and the
// troubleshooting page's topics; the units' Documentation= and readiness.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../helpers/cli.js";

const read = (f: string) => readFileSync(join(repoRoot, f), "utf8");

test("LICENSE is the Apache License 2.0 that package.json and metadata.json name", () => {
  assert.equal((JSON.parse(read("package.json")) as { license: string }).license, "Apache-2.0");
  assert.equal((JSON.parse(read("puppet/modules/puppet_ha/metadata.json")) as { license: string }).license, "Apache-2.0");
  const text = read("LICENSE");
  assert.match(text, /Apache License\s+Version 2\.0, January 2004/);
  assert.match(text, /END OF TERMS AND CONDITIONS/);
});

test("README states the supported Node.js versions and the policy past Node 20", () => {
  const readme = read("README.md");
  const section = readme.slice(readme.indexOf("## Supported Node.js versions"));
  assert.ok(readme.includes("## Supported Node.js versions"));
  assert.match(section, /20\.19 or later/);
  assert.match(section, /22 and 24/);
  assert.match(section, /end of life in April 2026/);
  assert.match(section, /Depends: nodejs \(>= 20\.19\)/);
  const engines = (JSON.parse(read("package.json")) as { engines: { node: string } }).engines.node;
  assert.equal(engines, ">=20.19", "the README's floor is package.json's");
});

test("install.md covers the Debian package, the bundle by hand on RHEL, and the AIO/OpenVox paths", () => {
  const install = read("docs/install.md");
  for (const h of ["## Debian and Ubuntu: the package", "## RHEL family", "## Debian's Puppet packages, Puppet AIO and OpenVox"]) assert.ok(install.includes(h), h);
  assert.match(install, /NodeSource/);
  assert.match(install, /\/etc\/puppetlabs\/puppetserver\/ca/);
  assert.match(install, /\/opt\/puppetlabs\/bin\/puppet/);
});

test("upgrading.md: SIGHUP applies proxy.masters.workers; the admin and sync keys that need a restart are listed", () => {
  const up = read("docs/upgrading.md");
  const restart = up.slice(up.indexOf("These need a restart"), up.indexOf("`puppet-ha sync` (the sync agent"));
  assert.ok(restart.length > 100, "a restart list");
  for (const key of ["proxy.listen", "proxy.stateDir", "proxy.ca.workers", "admin.listen", "admin.tls", "admin.tokenFile", "`sync` section"]) {
    assert.ok(restart.includes(key), `restart list names ${key}`);
  }
  assert.ok(!restart.includes("masters.workers"), "masters.workers is applied by SIGHUP");
  const applied = up.slice(up.indexOf("`systemctl reload` sends SIGHUP"), up.indexOf("These need a restart"));
  assert.ok(applied.includes("`masters.workers`"));
});

test("troubleshooting.md covers 403s from header auth, EADDRINUSE, key permissions, divergence and agents that cannot reach the CA", () => {
  const t = read("docs/troubleshooting.md");
  for (const h of ["## Agents get 403 Forbidden", "## EADDRINUSE", "## Key permissions", "## /health reports a divergence", "## Agents cannot reach the CA"]) {
    assert.ok(t.includes(h), h);
  }
  assert.match(t, /allow-header-cert-info: true/);
  assert.match(t, /journalctl -u puppet-ha-proxy -p err/);
});

test("every unit's Documentation= is the man page and guides the package installs; the proxy unit waits for /health/live", () => {
  for (const unit of ["puppet-ha-proxy.service", "puppet-ha-sync.service", "puppet-ha-twitch.service"]) {
    const text = read(`deploy/systemd/${unit}`);
    const docs = /^Documentation=(.+)$/m.exec(text)?.[1]?.split(" ") ?? [];
    assert.equal(docs[0], "man:puppet-ha(1)", unit);
    assert.ok(docs.length > 1, `${unit}: a guide besides the man page`);
    for (const uri of docs.slice(1)) {
      const m = /^file:\/\/\/usr\/share\/doc\/puppet-ha\/docs\/([\w-]+\.md)$/.exec(uri);
      assert.ok(m, `${unit}: ${uri} is a guide the package installs`);
      assert.ok(existsSync(join(repoRoot, "docs", m[1]!)), `${unit}: docs/${m[1]} exists`);
    }
  }
  assert.match(read("deploy/systemd/puppet-ha-proxy.service"), /^ExecStartPost=\/usr\/bin\/puppet-ha ready -c \/etc\/puppet-ha\/puppet-ha\.yaml --timeout 60s$/m);
});
