// The Vagrant cluster in vagrant/, checked without booting VMs: `vagrant validate`, shellcheck of
// the provisioning scripts, nodes.json's consistency (and site.pp's copy of its addresses), and
// site.pp itself: parsed, then applied with --noop for every role on the real Debian puppet with
// a fake exchange folder (what the primary CA hands out), exactly as provision/role.sh runs it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { repoRoot } from "../../helpers/cli.js";
import { isolatedPuppet, messages } from "./puppet.js";

const vagrantDir = join(repoRoot, "vagrant");
const sitePp = join(vagrantDir, "manifests/site.pp");
const ROLES = ["proxy", "ca", "master", "node"];

interface Node { name: string; ip: string; role: string; memory: number; ca_role?: string }
const cluster = JSON.parse(readFileSync(join(vagrantDir, "nodes.json"), "utf8")) as { box: string; domain: string; network: string; nodes: Node[] };

const p = isolatedPuppet("puppet-ha-vagrant-");
test.after(() => p.cleanup());

test("vagrant validate --ignore-provider accepts the Vagrantfile", async () => {
  const home = mkdtempSync(join(tmpdir(), "vagrant-home-"));
  try {
    const r = await execa("vagrant", ["validate", "--ignore-provider"], { cwd: vagrantDir, reject: false, env: { VAGRANT_HOME: home, VAGRANT_CHECKPOINT_DISABLE: "1" } });
    assert.equal(r.exitCode, 0, String(r.stderr) + String(r.stdout));
    assert.match(String(r.stdout), /Vagrantfile validated successfully/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("shellcheck passes on every provisioning script", async () => {
  const scripts = readdirSync(join(vagrantDir, "provision")).filter((f) => f.endsWith(".sh")).map((f) => join(vagrantDir, "provision", f));
  assert.ok(scripts.length >= 2, scripts.join(" "));
  const r = await execa("shellcheck", ["--shell=bash", ...scripts], { reject: false });
  assert.equal(r.exitCode, 0, String(r.stdout) + String(r.stderr));
});

test("nodes.json: unique names and addresses in its network, known roles, one primary CA first", () => {
  const names = cluster.nodes.map((n) => n.name);
  const ips = cluster.nodes.map((n) => n.ip);
  assert.equal(new Set(names).size, names.length, `duplicate names: ${names.join(" ")}`);
  assert.equal(new Set(ips).size, ips.length, `duplicate addresses: ${ips.join(" ")}`);
  const [net, bits] = cluster.network.split("/");
  assert.equal(bits, "24", "the check below assumes a /24");
  const prefix = (net as string).split(".").slice(0, 3).join(".");
  for (const n of cluster.nodes) {
    assert.ok(ROLES.includes(n.role), `${n.name}: unknown role ${n.role}`);
    assert.match(n.name, /^[a-z][a-z0-9-]*$/, `${n.name}: not a host name`);
    assert.ok(n.ip.startsWith(`${prefix}.`) && Number(n.ip.split(".")[3]) > 1 && Number(n.ip.split(".")[3]) < 255, `${n.name}: ${n.ip} outside ${cluster.network}`);
    assert.ok(Number.isInteger(n.memory) && n.memory >= 512, `${n.name}: memory ${n.memory}`);
    if (n.role === "ca") assert.ok(n.ca_role === "primary" || n.ca_role === "standby", `${n.name}: ca_role ${n.ca_role}`);
    else assert.equal(n.ca_role, undefined, `${n.name}: ca_role on a ${n.role}`);
  }
  const cas = cluster.nodes.filter((n) => n.role === "ca");
  assert.equal(cas.filter((n) => n.ca_role === "primary").length, 1, "exactly one primary CA");
  assert.ok(cas.length >= 2, "a primary and at least one standby");
  assert.equal(cluster.nodes.filter((n) => n.role === "proxy").length, 1, "one balancer");
  assert.ok(cluster.nodes.some((n) => n.role === "master"), "at least one compile master");
  // site.pp and role.sh name the balancer "balancer"; the primary is the first CA worker.
  assert.ok(cluster.nodes.some((n) => n.role === "proxy" && n.name === "balancer"));
});

/** The `$var = { 'name' => 'ip', ... }` hashes of site.pp. */
function siteHash(text: string, variable: string): Record<string, string> {
  const m = new RegExp(`^\\$${variable} = \\{([^}]*)\\}`, "m").exec(text);
  assert.ok(m, `site.pp has no $${variable} hash`);
  return Object.fromEntries([...(m[1] as string).matchAll(/'([^']+)' => '([^']+)'/g)].map((x): [string, string] => [x[1] as string, x[2] as string]));
}

test("site.pp holds nodes.json's domain and addresses, the primary CA first", () => {
  const text = readFileSync(sitePp, "utf8");
  assert.match(text, new RegExp(`^\\$domain = '${cluster.domain.replace(/\./g, "\\.")}'$`, "m"));
  const byRole = (role: string) => Object.fromEntries(cluster.nodes.filter((n) => n.role === role).map((n) => [n.name, n.ip]));
  const cas = siteHash(text, "cas");
  assert.deepEqual(cas, byRole("ca"));
  const primary = cluster.nodes.find((n) => n.ca_role === "primary");
  assert.equal(Object.keys(cas)[0], primary?.name, "the primary CA is the first CA worker");
  assert.deepEqual(siteHash(text, "masters"), byRole("master"));
  assert.deepEqual(siteHash(text, "nodes"), byRole("node"));
  const balancer = siteHash(text, "balancer");
  const proxy = cluster.nodes.find((n) => n.role === "proxy");
  assert.deepEqual(balancer, { name: proxy?.name, ip: proxy?.ip });
});

test("puppet parser validate vagrant/manifests/site.pp", async () => {
  const r = await p.run(["parser", "validate", sitePp]);
  assert.equal(r.exitCode, 0, messages(r.stderr));
});

// What provision/role.sh on the primary CA puts in the exchange folder.
const exchange = join(p.dir, "exchange");
mkdirSync(join(exchange, "sync"), { recursive: true });
writeFileSync(join(exchange, "admin.token"), "0123456789abcdef");
writeFileSync(join(exchange, "twitch.token"), "fedcba9876543210");
writeFileSync(join(exchange, "sync/id_ed25519"), "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
writeFileSync(join(exchange, "sync/id_ed25519.pub"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFake puppet-ha-sync\n");

for (const n of [...new Map(cluster.nodes.map((x) => [x.role, x])).values()]) {
  test(`site.pp compiles and applies with --noop for the ${n.role} role (${n.name}), as role.sh runs it`, async () => {
    const facts = { puppet_ha_role: n.role, puppet_ha_ca_role: n.ca_role ?? "", puppet_ha_exchange: exchange, puppet_ha_name: n.name };
    const r = await p.apply(readFileSync(sitePp, "utf8"), ["--noop"], facts);
    assert.equal(r.exitCode, 0, messages(r.stderr) + String(r.stdout));
    const expected: Record<string, string> = {
      proxy: "Service[puppet-ha-proxy]", ca: "Service[puppet-ha-sync]", master: "Service[puppetserver]", node: "Service[puppet-ha-twitch]",
    };
    assert.match(String(r.stdout), new RegExp(`${(expected[n.role] as string).replace(/[[\]]/g, "\\$&")}.*\\(noop\\)`));
  });
}
