// Who the backends believe a client is, through `puppet-ha proxy`: forged X-Client-* headers
// authenticate nobody, the CA CLI works with the pp_cli_auth cert, and a certificate revoked
// through the proxy is refused at the TLS handshake within 2 s.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { loadCluster } from "./cluster/client.js";
import { agentIdentity, explain, frontEndRaw, httpRequest, poll } from "./support.js";

const cluster = loadCluster();
const STATUSES = "/puppet-ca/v1/certificate_statuses/any?state=signed";

test("forged X-Client-* headers through the proxy do not authenticate", async () => {
  const adminCn = cluster.pki.adminCertname;
  const adminPem = encodeURIComponent(readFileSync(cluster.pki.adminCert, "utf8"));
  const forged = (verify: string, dn: string, certHeader: string) => [verify, "SUCCESS", dn, `CN=${adminCn}`, certHeader, adminPem];

  // The forgery is real: sent straight to the CA backend (header auth) it gets the admin's view.
  const direct = await httpRequest(`${cluster.instances.ca1.url}${STATUSES}`, { headers: forged("X-Client-Verify", "X-Client-DN", "X-Client-Cert") });
  assert.equal(direct.status, 200, `the backend trusts these headers from anyone: ${direct.body.slice(0, 200)}`);

  const variants: [string, string[]][] = [
    ["canonical names", forged("X-Client-Verify", "X-Client-DN", "X-Client-Cert")],
    ["lower case", forged("x-client-verify", "x-client-dn", "x-client-cert")],
    ["underscores", forged("X_Client_Verify", "X_Client_DN", "X_Client_Cert")],
    ["mixed case and underscores", forged("x_client_verify", "X-CLIENT-DN", "x_Client-cert")],
    ["repeated", [...forged("X-Client-Verify", "X-Client-DN", "X-Client-Cert"), ...forged("X-Client-Verify", "X-Client-DN", "X-Client-Cert")]],
  ];
  for (const [what, headers] of variants) {
    const r = await frontEndRaw(cluster, STATUSES, { headers });
    assert.equal(r.status, 403, `${what}, no client cert: ${r.status} ${r.body.slice(0, 200)}`);
  }

  // With a real agent cert, forged admin headers do not replace the agent's own identity.
  const agent = agentIdentity(await cluster.runAgent("e2e-forger"));
  const r = await frontEndRaw(cluster, STATUSES, { headers: forged("X-Client-Verify", "X-Client-DN", "X-Client-Cert"), ...agent });
  assert.equal(r.status, 403, `agent cert + forged admin headers: ${r.status} ${r.body.slice(0, 200)}`);
  // ... while the genuine admin cert through the proxy is allowed.
  const admin = await cluster.frontEndRequest(STATUSES, { asAdmin: true });
  assert.equal(admin.status, 200, admin.body.slice(0, 200));
});

test("puppetserver ca list and revoke through the proxy; the revoked agent is refused at the handshake", async () => {
  // Unique: a revoked certname cannot enrol again (the file stays re-runnable on a kept cluster).
  const certname = `e2e-revoked-${Date.now().toString(36)}`;
  const first = await cluster.runAgent(certname);
  assert.equal(first.exitCode, 2, explain(first));
  const identity = agentIdentity(first);
  /** An authenticated request with the agent's own cert: its status, or the connection error. */
  const probe = () => frontEndRaw(cluster, `/puppet/v3/node/${certname}?environment=production`, { ...identity, headers: ["Accept", "application/json"], timeoutMs: 5000 })
    .then((r) => `HTTP ${r.status}`, (err: NodeJS.ErrnoException) => `refused: ${err.code ?? err.message}`);
  assert.equal(await probe(), "HTTP 200", "before the revoke the agent's cert is accepted");

  const list = await cluster.runCaCli(["list", "--all"]);
  assert.equal(list.exitCode, 0, `puppetserver ca list: ${list.stdout}\n${list.stderr}`);
  assert.match(list.stdout, new RegExp(`${certname}\\b`));

  const revoke = await cluster.runCaCli(["revoke", "--certname", certname]);
  const revokedAt = Date.now();
  assert.equal(revoke.exitCode, 0, `puppetserver ca revoke: ${revoke.stdout}\n${revoke.stderr}`);
  const refused = await poll("the proxy refusing the revoked cert", async () => {
    const p = await probe();
    return p.startsWith("refused") ? p : undefined;
  }, 2000, 50);
  assert.ok(Date.now() - revokedAt <= 2500, `refused ${Date.now() - revokedAt} ms after the revoke`);
  assert.match(refused, /refused/);

  const catalogs = () => cluster.accessLog("m1").concat(cluster.accessLog("m2")).filter((l) => l.includes(`/puppet/v3/catalog/${certname}`)).length;
  const catalogsBefore = catalogs();
  const again = await cluster.runAgent(certname);
  assert.notEqual(again.exitCode, 0, explain(again));
  assert.notEqual(again.exitCode, 2, explain(again));
  assert.match(again.stdout + again.stderr, /SSL|certificate|reset|EOF|closed/i, explain(again));
  // The refused agent reached no master.
  assert.equal(catalogs(), catalogsBefore);
});
