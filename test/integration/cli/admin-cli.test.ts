// `puppet-ha ca status|failover|failback`, `backend drain|enable NAME` and `ready` against the
// admin listener of a real running proxy (ProxyRuntime on loopback), with the URL and token file
// taken from a config file: what they print, what they change, and their exit codes for a wrong
// token (1), an unknown backend (2), a listener that is not there (1) and a bad config (2).
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { runCli } from "../../helpers/cli.js";
import { startHa, TOKEN } from "../proxy/ha-harness.js";
import { until } from "../proxy/harness.js";

function adminConfig(dir: string, port: number, tokenFile: string, name = "admin.yaml"): string {
  const file = join(dir, name);
  writeFileSync(file, `admin:\n  listen: "0.0.0.0:${port}"\n  tokenFile: ${tokenFile}\nlog: { level: silent }\n`);
  return file;
}

test("ca status, backend drain/enable and ca failover act on the running proxy through the config's URL and token", async (t) => {
  const ha = await startHa(t, { sync: false, masters: 2 });
  await until(() => [ha.rt.proxy.ca, ha.rt.proxy.masters].every((p) => p.backends.every((b) => b.state === "up")), 5000, "all up");
  const cfg = adminConfig(ha.root, Number(new URL(ha.adminUrl).port), ha.tokenFile);

  let r = await runCli(["ca", "status", "-c", cfg]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /^active CA: ca1 \(epoch 1\), the primary$/m);
  assert.match(String(r.stdout), /^failback: manual, idle$/m);
  assert.match(String(r.stdout), /^ {2}ca2: up$/m);

  r = await runCli(["backend", "drain", "m2", "-c", cfg]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /^drain m2: done/);
  assert.equal(ha.rt.proxy.masters.get("m2")!.drained, true);
  r = await runCli(["backend", "enable", "m2", "-c", cfg, "--json"]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.deepEqual((JSON.parse(String(r.stdout)) as { result: unknown }).result, { backend: "m2", drained: false });
  assert.equal(ha.rt.proxy.masters.get("m2")!.drained, false);

  r = await runCli(["ca", "failover", "-c", cfg]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /^failover: done/);
  assert.equal(ha.rt.proxy.arbiter.active, "ca2");
  r = await runCli(["ca", "status", "-c", cfg, "--json"]);
  const status = JSON.parse(String(r.stdout)) as { ca: { active: string; epoch: number; primary: string } };
  assert.deepEqual([status.ca.active, status.ca.epoch, status.ca.primary], ["ca2", 2, "ca1"]);
  r = await runCli(["ca", "status", "-c", cfg]);
  assert.match(String(r.stdout), /^active CA: ca2 \(epoch 2\), a standby: the primary ca1 is not active$/m);
});

test("refusals: unknown backend exits 2, a wrong token exits 1, a refused failback exits 1 with the proxy's reason", async (t) => {
  const ha = await startHa(t, { sync: false });
  const cfg = adminConfig(ha.root, Number(new URL(ha.adminUrl).port), ha.tokenFile);

  let r = await runCli(["backend", "drain", "nosuch", "-c", cfg]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /^puppet-ha: POST \/api\/backends\/nosuch\/drain: no backend named "nosuch" \(HTTP 404\)$/m);
  r = await runCli(["backend", "drain", "../x", "-c", cfg]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /backend name "\.\.\/x" is not valid/);

  const wrong = join(ha.root, "wrong.token");
  writeFileSync(wrong, `not-${TOKEN}\n`);
  r = await runCli(["ca", "failover", "-c", cfg, "--token-file", wrong]);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), /^puppet-ha: POST \/api\/ca\/failover refused: wrong admin token \(HTTP 403\)$/m);
  assert.equal(ha.rt.proxy.arbiter.active, "ca1", "nothing changed");

  r = await runCli(["ca", "failback", "-c", cfg]);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), /^puppet-ha: POST \/api\/ca\/failback refused: .+ \(HTTP (409|503)\)$/m);
});

test("ready waits for /health/live; no listener, no token file and a bad config are clear errors", async (t) => {
  const ha = await startHa(t, { sync: false });
  const cfg = adminConfig(ha.root, Number(new URL(ha.adminUrl).port), ha.tokenFile);
  let r = await runCli(["ready", "-c", cfg, "--timeout", "5s"]);
  assert.equal(r.exitCode, 0, String(r.stderr));
  assert.match(String(r.stdout), /^ready: http:\/\/127\.0\.0\.1:\d+\/health\/live answers$/m);

  // A port that was just free: nothing listens there.
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  const dead = adminConfig(ha.root, port, ha.tokenFile, "dead.yaml");
  r = await runCli(["ca", "status", "-c", dead]);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), new RegExp(`^puppet-ha: cannot reach the admin listener at http://127\\.0\\.0\\.1:${port}: ECONNREFUSED$`, "m"));
  r = await runCli(["ready", "-c", dead, "--timeout", "300ms"]);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), /not live within 300ms: cannot reach the admin listener/);

  r = await runCli(["ca", "status", "-c", cfg, "--token-file", join(ha.root, "missing.token")]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /^puppet-ha: cannot read admin token file .*missing\.token: /m);
  const noToken = join(ha.root, "notoken.yaml");
  writeFileSync(noToken, "admin: {}\n");
  r = await runCli(["ca", "status", "-c", noToken]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /set admin\.tokenFile in the config or pass --token-file/);
  const bad = join(ha.root, "bad.yaml");
  writeFileSync(bad, "admin:\n  listen: nowhere\n");
  r = await runCli(["ca", "status", "-c", bad]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /admin\.listen/);
  r = await runCli(["ca", "status", "-c", cfg, "--timeout", "soon"]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /--timeout: "soon" is not a duration/);
});
